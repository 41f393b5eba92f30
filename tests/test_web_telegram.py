"""The desk's web workspace beside the running Telegram channel (the real aiogram against the
Bot API emulator, polling as `frontdesk run` does; the pages through aiohttp's client).

A resident's photo sent in Telegram shows on the ticket's page: fetched through the
running bot on its first view and kept, read from our copy after, refused to another
community's desk. A binding request made in Telegram and decided on the desk's page
changes the service group's card as its button in the group does, and the resident is
told. Where the channel of a photo does not run (the pages alone), the page says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from storage.models import AuditLog, Person, Photo, Ticket
from tests.conversations import file_repair as file_repair_in_console
from tests.harness import Chat
from tests.telegram_emulator import BotAPIEmulator
from tests.test_telegram import (
    RESIDENT,
    SERVICE_GROUP,
    STRANGER,
    Scene,
    emulator,
    file_repair,
    running,
    texts,
    until,
)
from tests.webdesk import add_other_desk, csrf, serving, sign_in

__all__ = ["emulator"]  # the emulator's fixture, from tests/test_telegram.py

PHOTO = "AgACAgUAAxkBAAIBq2-kitchen-sink"


@pytest.fixture
async def scene(
    tmp_path: Path, emulator: BotAPIEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Scene]:
    monkeypatch.chdir(tmp_path)  # the data folder (photos kept for the pages) is ./data
    async for ready in running(tmp_path, emulator, webhook=False, real_pace=False):
        yield ready


def file_fetches(emulator: BotAPIEmulator) -> int:
    return sum(1 for method, _ in emulator.calls if method == "getFile")


async def test_a_telegram_photo_shows_on_the_ticket_page_and_is_kept(scene: Scene) -> None:
    ticket = await file_repair(scene.person(RESIDENT, name="张伟"), photo=PHOTO)
    (photo,) = await scene.rows(Photo, Photo.ticket_id == ticket.id)
    assert (photo.channel, photo.file_ref, photo.stored_path) == ("telegram", PHOTO, None)
    async with serving(scene.app) as client:
        await sign_in(client, "desk")
        page = await (await client.get(f"/desk/tickets/{ticket.id}")).text()
        assert "照片</dt><dd>1 张" in page
        link = f'<a href="/desk/photos/{photo.id}"><img src="/desk/photos/{photo.id}" alt="照片 1"'
        assert link in page and PHOTO not in page  # the row's id, not Telegram's file id

        answer = await client.get(f"/desk/photos/{photo.id}")
        assert answer.status == 200 and answer.content_type == "image/jpeg"
        assert await answer.read() == scene.emulator.files[PHOTO]  # through the running bot
        assert file_fetches(scene.emulator) == 1
        (kept,) = await scene.rows(Photo, Photo.id == photo.id)
        assert kept.stored_path == str(Path("data") / "photos" / "telegram" / f"{photo.id}.jpg")
        copy = await asyncio.to_thread(Path(kept.stored_path).read_bytes)
        assert copy == scene.emulator.files[PHOTO]

        answer = await client.get(f"/desk/photos/{photo.id}")  # the next view: our copy
        assert await answer.read() == scene.emulator.files[PHOTO]
        assert file_fetches(scene.emulator) == 1

        await add_other_desk(scene.app)  # 和悦园's desk: not their community's ticket
        client.session.cookie_jar.clear()
        await sign_in(client, "hyy-desk")
        answer = await client.get(f"/desk/photos/{photo.id}")
        body = await answer.read()
        assert answer.status == 404 and answer.content_type == "text/html"
        assert scene.emulator.files[PHOTO] not in body and "不属于您负责的小区" in body.decode()


async def test_a_binding_decided_on_the_page_changes_the_groups_card(scene: Scene) -> None:
    applicant = scene.person(STRANGER, name="王五")
    await applicant.say("/bind")
    await applicant.press("提交资料")
    await applicant.say("王五")
    await applicant.press("幸福里")
    await applicant.say("3栋2单元1202")
    await applicant.say("13900000001")
    await applicant.press("租户")
    said = await applicant.press("确认提交")
    (request,) = await scene.rows(Ticket, Ticket.kind == "binding")
    assert request.number in texts(said)
    cards = await until(
        lambda: [
            m for m in scene.emulator.messages(SERVICE_GROUP) if request.number in (m.text or "")
        ],
        "the request's card in the service group",
    )
    card = cards[-1]
    assert "待核实" in (card.text or "") and any("核实通过" in label for label in card.labels)

    async with serving(scene.app) as client:
        await sign_in(client, "desk")
        page = await (await client.get("/desk/bindings")).text()
        assert request.number in page
        approve = f"act:bind_ok:{request.id}"
        assert f'name="option" value="{approve}"' in page
        answer = await client.post(
            "/desk/say",
            data={"csrf": csrf(page), "option": approve, "once": "b1", "back": "/desk/bindings"},
        )
        assert "已通过（李敏）" in await answer.text()  # the desk's own answer on the page

    def edited() -> Any:
        shown = next(
            m for m in scene.emulator.messages(SERVICE_GROUP) if m.message_id == card.message_id
        )
        return shown if shown.edited and "已通过（李敏）" in (shown.text or "") else None

    shown = await until(edited, "the group's card to change")
    assert not shown.labels  # decided: no buttons left, as after the group's own button
    assert (
        len([m for m in scene.emulator.messages(SERVICE_GROUP) if request.number in (m.text or "")])
        == 1
    )
    told = await until(
        lambda: "3栋2单元1202（租户）" in texts(applicant.shown()), "the resident to be told"
    )
    assert told and "已通过" in texts(applicant.shown())
    async with scene.app.db.transaction() as s:
        audit = (await s.exec(select(AuditLog).where(AuditLog.target == request.number))).all()
        bound = (await s.exec(select(Person).where(Person.name == "王五"))).all()
    assert [a.action for a in audit] == ["bind_approve"] and len(bound) == 1


async def test_a_photo_whose_channel_does_not_run_here_is_said_so(
    demo_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await file_repair_in_console(Chat(demo_app, "resident"))
    wechat = Path("data") / "wechat" / "media-1.jpg"  # downloaded when it arrived
    wechat.parent.mkdir(parents=True)
    wechat.write_bytes(b"\xff\xd8\xff\xe0 wechat photo")
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(b"not ours to serve")
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
        now = demo_app.clock.now()
        rows = [
            Photo(ticket_id=ticket.id, channel="telegram", file_ref=PHOTO, at=now),
            Photo(ticket_id=ticket.id, channel="wechat", file_ref=str(wechat), at=now),
            Photo(ticket_id=ticket.id, channel="console", file_ref=str(outside), at=now),
        ]
        s.add_all(rows)
        await s.flush()
        ids = [row.id for row in rows]
    async with serving(demo_app) as client:  # no Telegram channel runs in this process
        await sign_in(client, "desk")
        page = await (await client.get(f"/desk/tickets/{ticket.id}")).text()
        assert page.count("照片在此无法显示") == 2  # Telegram's and the file outside
        assert f'src="/desk/photos/{ids[1]}"' in page
        assert f'src="/desk/photos/{ids[0]}"' not in page
        answer = await client.get(f"/desk/photos/{ids[1]}")
        assert answer.status == 200 and await answer.read() == wechat.read_bytes()
        for refused in (ids[0], ids[2]):
            answer = await client.get(f"/desk/photos/{refused}")
            assert answer.status == 404 and answer.content_type == "image/svg+xml"
            assert "照片在此无法显示" in await answer.text()
