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


def sees_all_departments(member: StaffMember) -> bool:
    """Supervisors, directors and the service desk (which files and follows every kind of
    request) see every department's tickets of their community; other staff their own."""
    return member.role in MANAGERS or member.department == "service"


def may_see(staff: list[StaffMember], community_id: int, department: str) -> bool:
    """Whether these staff records may see a ticket of this community and department
    (the desk's web pages; acting on it is `acting_member`'s question, as in chat)."""
    return any(
        member.active
        and member.community_id in (None, community_id)
        and (sees_all_departments(member) or member.department == department)
        for member in staff
    )


def sees_contact(staff: list[StaffMember], community_id: int) -> bool:
    """Whether the resident's full phone number is shown (else masked, as on a group card):
    to managers and the desk of the community, who call residents back."""
    return any(
        member.active
        and member.community_id in (None, community_id)
        and sees_all_departments(member)
        for member in staff
    )
