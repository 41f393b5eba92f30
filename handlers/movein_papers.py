"""The papers of a move-in (IDs, contract, power of attorney, company certificate, the
owner's signature): kept as private `Document`s that only the desk and the community's
supervisors and directors see.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.movein_record import (
    subject,
)
from handlers.staffauth import sees_all_departments
from storage.models import (
    Document,
    MoveIn,
    StaffMember,
)


def sees_papers(staff: list[StaffMember], community_id: int) -> bool:
    """Private papers are the desk's (the service department) and the managers' of the
    community: never another department's, another community's or a resident's."""
    return any(
        member.active
        and member.community_id in (None, community_id)
        and sees_all_departments(member)
        for member in staff
    )


async def add_paper(
    ctx: Context,
    move_in: MoveIn,
    kind: str,
    *,
    file_ref: str = "",
    stored_path: str | None = None,
) -> Document:
    """Keep a photo of a paper as a private document of the move-in."""
    by_delegate = kind in ("attorney", "delegate_id", "signature") and move_in.delegate_id
    person = move_in.delegate_id if by_delegate else move_in.owner_id
    paper = Document(
        community_id=move_in.community_id,
        unit_id=move_in.unit_id,
        person_id=person,
        subject=subject(move_in),
        kind=kind,
        channel=ctx.msg.channel,
        file_ref=file_ref,
        stored_path=stored_path,
        added_by=ctx.actor,
        at=ctx.now,
    )
    ctx.session.add(paper)
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": f"paper.{kind}"},
    ]
    ctx.session.add(move_in)
    await ctx.session.flush()
    return paper


async def paper_for(ctx: Context, document_id: int) -> Document | None:
    """A private paper, for those who may see it only (none else learns it exists)."""
    paper = await ctx.session.get(Document, document_id)
    if paper is None or not sees_papers(ctx.staff, paper.community_id):
        return None
    return paper


async def keep_paper(session: AsyncSession, document_id: int, stored_path: str) -> bool:
    """Our own copy of a paper photographed in chat, fetched through its channel for the
    page; False when the paper was forgotten meanwhile (the copy is then not kept)."""
    paper = await session.get(Document, document_id)
    if paper is None or not paper.file_ref:
        return False
    paper.stored_path = stored_path
    session.add(paper)
    return True
