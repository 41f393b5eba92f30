"""Residents' personal data (PIPL): `frontdesk resident export` and `frontdesk resident forget`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli.common import fail, opened, read_settings, run_work

resident_cli = typer.Typer(help="Residents' personal data: export, forget.", no_args_is_help=True)

PhoneOption = Annotated[str | None, typer.Option("--phone", help="The person's phone number.")]
PersonOption = Annotated[int | None, typer.Option("--person-id", help="The person's id.")]


def _person_wanted(phone: str | None, person_id: int | None) -> None:
    if (phone is None) == (person_id is None):
        raise fail("name the person with exactly one of --phone or --person-id")


@resident_cli.command("export")
def resident_export(
    phone: PhoneOption = None,
    person_id: PersonOption = None,
    out: Annotated[str | None, typer.Option(help="Write the JSON here, not to stdout.")] = None,
) -> None:
    """Everything held about one person, as JSON (PIPL access request)."""
    import json
    from pathlib import Path

    _person_wanted(phone, person_id)
    settings = read_settings()

    async def work() -> dict[str, Any]:
        from handlers import privacy
        from storage import audit

        async with opened(settings) as app:
            async with app.db.transaction() as session:
                person = await _person(session, phone, person_id)
                data = await privacy.export_person(session, person)
                await audit.record(
                    session,
                    actor="cli",
                    action="person_export",
                    target=f"person:{person.id}",
                    now=app.clock.now(),
                )
                return data

    text = json.dumps(run_work(work), ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
    else:
        Path(out).write_text(text + "\n", encoding="utf-8")
        typer.echo(f"written to {out}")


@resident_cli.command("forget")
def resident_forget(phone: PhoneOption = None, person_id: PersonOption = None) -> None:
    """Erase a person's personal data; their tickets stay, anonymised, in the figures."""
    from pathlib import Path

    _person_wanted(phone, person_id)
    settings = read_settings()

    async def work() -> Any:
        from handlers import privacy

        async with opened(settings) as app:
            async with app.db.transaction() as session:
                person = await _person(session, phone, person_id)
                return await privacy.forget_person(
                    session, person, actor="cli", now=app.clock.now()
                )

    done = run_work(work)
    for stored in done.files:  # photos kept on disk, only after the commit
        Path(stored).unlink(missing_ok=True)
    typer.echo(
        f"person {done.person_id} forgotten: {done.tickets} tickets anonymised, "
        f"{done.identities} chat accounts unlinked, {len(done.files)} stored photos deleted"
    )


async def _person(session: Any, phone: str | None, person_id: int | None) -> Any:
    """The person the options name; exit status 1 when nobody matches."""
    from handlers import privacy

    try:
        return await privacy.find_person(session, phone=phone, person_id=person_id)
    except privacy.PersonNotFound as exc:
        raise fail(str(exc), code=1) from None
