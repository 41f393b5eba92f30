"""Custody as the desk's web pages ask for it (bot/web/custody.py): the flats in custody of
the communities the desk runs, one custody's page, custody opened from a form read field by
field with the same use-case and checks as the chat's flow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import col, select

from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.custody import (
    Overview,
    custodies_of,
    desk_member,
    desk_unit,
    local_today,
    open_custody,
    overview,
)
from handlers.custody_patrols import rain_open
from handlers.rules import custody as rules
from handlers.rules.dates import read_day
from handlers.rules.readings import METERS, ReadingError, parse_reading
from storage.models import (
    Community,
    Custody,
)

# ---- the desk's web pages -----------------------------------------------------------------


@dataclass(frozen=True)
class CommunityFlats:
    """A community's flats in custody as the desk's page lists them."""

    community: Community
    flats: list[Overview]
    rain: bool  # a heavy-rain round is waiting for its after-patrols


async def desk_communities(ctx: Context) -> list[Community]:
    """The communities whose custody the sender runs (a company-wide manager: every one)."""
    rows = (await ctx.session.exec(select(Community).order_by(col(Community.id)))).all()
    return [c for c in rows if c.id is not None and desk_member(ctx, c.id) is not None]


async def desk_page(ctx: Context) -> list[CommunityFlats]:
    found = []
    for community in await desk_communities(ctx):
        assert community.id is not None
        flats = [
            await overview(ctx.session, held)
            for held, _ in await custodies_of(ctx.session, community.id)
        ]
        found.append(CommunityFlats(community, flats, await rain_open(ctx.session, community.id)))
    return found


async def custody_page(ctx: Context, custody_id: int) -> Overview | None:
    """One custody, for the desk of its community only (None: none, or not theirs)."""
    held = await ctx.session.get(Custody, custody_id)
    if held is None or desk_member(ctx, held.community_id) is None:
        return None
    return await overview(ctx.session, held)


def read_meters(fields: Mapping[str, str], problems: dict[str, str]) -> dict[str, Decimal]:
    """The meters' figures typed in a form (gas may be left empty); problems by field."""
    found: dict[str, Decimal] = {}
    for meter in METERS:
        text = fields.get(meter, "").strip()
        if not text:
            if meter != "gas":
                problems[meter] = "custody.web.required"
            continue
        try:
            found[meter] = parse_reading(text)
        except ReadingError as error:
            problems[meter] = f"custody.error.reading.{error.reason}"
    return found


async def open_from_form(
    ctx: Context, fields: Mapping[str, str]
) -> tuple[dict[str, str], list[Reply]]:
    """Custody opened from the desk's page: the same use-case as the chat's flow, the form
    read field by field; (problems by field, the replies) — problems mean nothing done."""
    problems: dict[str, str] = {}
    today = local_today(ctx)
    unit = await desk_unit(ctx, fields.get("unit", "").strip()[:50])
    if unit is None or desk_member(ctx, unit.community_id) is None:
        problems["unit"] = "custody.web.unit_unknown"
    starts = (
        read_day(fields.get("starts", "").strip()[:30], today) if fields.get("starts") else today
    )
    if starts is None:
        problems["starts"] = "custody.error.day"
    ends = None
    if fields.get("ends", "").strip():
        ends = read_day(fields["ends"].strip()[:30], today)
        if ends is None:
            problems["ends"] = "custody.error.day"
        elif starts is not None and ends <= starts:
            problems["ends"] = "custody.web.ends_before"
    try:
        keys = rules.parse_keys(fields.get("keys", "")[:300])
    except rules.KeysError as error:
        keys, problems["keys"] = [], f"custody.error.keys.{error.reason}"
    meters = read_meters(fields, problems)
    if problems or unit is None or unit.id is None or starts is None:
        return problems, []
    replies = await open_custody(
        ctx, unit_id=unit.id, starts=starts, ends=ends, keys=keys, meters=meters
    )
    if replies and replies[0].key != "custody.opened":
        return {"unit": "custody.web.refused"}, replies
    return {}, replies
