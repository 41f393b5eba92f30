"""Who may act on what: staff act only for their community and department."""

from __future__ import annotations

from handlers.core.context import Context
from handlers.core.roles import MANAGERS
from storage.models import StaffMember


def acting_member(
    ctx: Context, community_id: int, department: str | None = None
) -> StaffMember | None:
    """The sender's staff record that may act in this community (and department).

    Supervisors and directors act for every department of their community; one with
    no community acts company-wide. Staff act only for their own department.
    """
    for member in ctx.staff:
        if not member.active or member.community_id not in (None, community_id):
            continue
        if member.role in MANAGERS:
            return member
        if department is None or member.department == department:
            return member
    return None


def is_manager(ctx: Context, community_id: int | None = None) -> bool:
    return (
        any(
            m.active and m.role in MANAGERS and m.community_id in (None, community_id)
            for m in ctx.staff
        )
        if community_id is not None
        else ctx.is_role(*MANAGERS)
    )
