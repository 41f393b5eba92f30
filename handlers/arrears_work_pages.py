"""What the desk's arrears pages show (`/desk/arrears`): the open cases of the communities
the signed-in staff work, each with its step, what is owed, the last contact and the promise
due (marked when its day has passed); one case with its history, contacts and legal file.
The same checks as `/arrears` in chat: the community's service desk and its managers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from handlers.arrears_work import CaseFile, case_file, communities_worked, open_cases, worker
from handlers.core.context import Context
from handlers.fees import local_today
from storage.models import ArrearsCase, Community, Unit


@dataclass(frozen=True)
class Row:
    found: CaseFile
    promise_late: bool  # the promised day has passed and the money is not in yet


@dataclass(frozen=True)
class Group:
    community: Community
    rows: list[Row]


async def page_cases(ctx: Context) -> list[Group] | None:
    """The open cases by community; None when the sender works no community's arrears."""
    communities = await communities_worked(ctx)
    if not communities:
        return None
    today = local_today(ctx)
    groups = []
    for community in communities:
        rows = []
        for case, _ in await open_cases(ctx, [community.id or 0]):
            found = await case_file(ctx, case, today)
            rows.append(Row(found, _late(found, today)))
        groups.append(Group(community, rows))
    return groups


def _late(found: CaseFile, today: date) -> bool:
    promise = found.promise
    return promise is not None and promise.promised_on is not None and promise.promised_on < today


async def case_page(ctx: Context, case_id: int) -> CaseFile | None:
    """One case, if the sender works its community's arrears."""
    case = await ctx.session.get(ArrearsCase, case_id)
    unit = await ctx.session.get(Unit, case.unit_id) if case is not None else None
    if case is None or unit is None or worker(ctx, unit.community_id) is None:
        return None
    return await case_file(ctx, case)
