"""`frontdesk announce`: a notice to every bound resident of a community or one building."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import select

from bot.cli.common import community_by_code, fail, opened, read_settings, run_work

commands = typer.Typer()


@commands.command("announce")
def announce(
    community: Annotated[str, typer.Argument(help="Community code, e.g. XFL.")],
    text: Annotated[str, typer.Argument(help="What to tell the residents, e.g. 明天9-15点停水.")],
    building: Annotated[
        str | None, typer.Option(help="Only this building's residents, e.g. 3栋; default: all.")
    ] = None,
) -> None:
    """Queue an announcement to every bound resident of a community (or one building)."""
    from handlers.announce import TEXT_LIMIT

    words = text.strip()
    if not 2 <= len(words) <= TEXT_LIMIT:
        raise fail(f"TEXT must be 2 to {TEXT_LIMIT} characters")
    settings = read_settings()

    async def work() -> str:
        from handlers import announce as announcements
        from storage.models import Building

        async with opened(settings) as app:
            async with app.db.transaction() as session:
                found = await community_by_code(session, community, "COMMUNITY")
                block = None
                if building is not None:
                    block = (
                        await session.exec(
                            select(Building).where(
                                Building.community_id == found.id,
                                Building.name == "".join(building.split()),
                            )
                        )
                    ).first()
                    if block is None:
                        raise fail(f"--building: no building {building!r} in {community}")
                now = app.clock.now()
                done = await announcements.announce(
                    session,
                    catalogs=app.catalogs,
                    settings=settings,
                    community=found,
                    building=block,
                    text=words,
                    ref=announcements.new_ref(),
                    actor="cli",
                    now=now,
                )
                if done.audience.chats == 0:
                    raise fail("no resident there has bound a chat account; nothing sent", 1)
                when = ""
                if done.not_before is not None:  # quiet hours now
                    local = done.not_before.astimezone(settings.tz)
                    when = f"; quiet hours: sent from {local:%Y-%m-%d %H:%M}"
                scope = found.code if block is None else f"{found.code} {block.name}"
                return (
                    f"announcement queued for {done.audience.residents} residents "
                    f"({done.audience.chats} chats) in {scope}{when}"
                )

    typer.echo(run_work(work))
