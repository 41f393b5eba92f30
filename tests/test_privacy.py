"""Personal data (PIPL): export everything about a resident, forget them, and keep logs clean."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from bot import logs
from bot.settings import Settings
from handlers import privacy
from storage.models import (
    AuditLog,
    Binding,
    ChatIdentity,
    DialogState,
    InboundUpdate,
    KeyValue,
    Outbox,
    Person,
    Photo,
    Ticket,
    TicketEvent,
)
from tests.commandline import frontdesk
from tests.conversations import file_repair, repair_group
from tests.harness import Chat, texts
from tests.test_supervisor import the_month

ROOT = Path(__file__).resolve().parent.parent
ZHANG_PHONE, LIU_PHONE = "13800000001", "13800000004"


async def person(app: Any, phone: str) -> Person:
    async with app.db.transaction() as session:
        return await privacy.find_person(session, phone=phone)


async def export(app: Any, phone: str) -> dict[str, Any]:
    async with app.db.transaction() as session:
        found = await privacy.find_person(session, phone=phone)
        return await privacy.export_person(session, found)


async def forget(app: Any, phone: str) -> privacy.Forgotten:
    async with app.db.transaction() as session:
        found = await privacy.find_person(session, phone=phone)
        return await privacy.forget_person(session, found, actor="cli", now=app.clock.now())


async def tenant_repair(tenant: Chat, text: str) -> None:
    """刘洋, the tenant of 3栋2单元1202, reports a repair with his own name and phone."""
    await tenant.say("/repair")
    await tenant.press("3栋2单元1202")
    await tenant.press("电路")
    await tenant.say(text)
    await tenant.press("跳过")
    await tenant.press("明天上午")
    await tenant.press("刘洋")
    await tenant.press(LIU_PHONE)
    await tenant.press("确认提交")


# ---- export -----------------------------------------------------------------------------


async def test_export_holds_the_persons_data_and_nobody_elses(demo_app):
    resident, tenant = Chat(demo_app, "resident"), Chat(demo_app, "tenant")
    await file_repair(resident, text="厨房水槽下水管漏水")
    await tenant_repair(tenant, "卧室灯不亮")

    data = await export(demo_app, ZHANG_PHONE)
    assert data["person"]["name"] == "张伟" and data["person"]["phone"] == ZHANG_PHONE
    assert [(b["unit"], b["role"]) for b in data["bindings"]] == [("3栋2单元1201", "owner")]
    assert [i["external_user_id"] for i in data["chat_identities"]] == ["resident"]
    [ticket] = data["tickets"]
    assert ticket["description"] == "厨房水槽下水管漏水" and ticket["contact_phone"] == ZHANG_PHONE
    assert ticket["history"][0]["action"] == "created"
    assert data["bills"] and {b["unit_id"] for b in data["bills"]} == {
        data["bindings"][0]["unit_id"]
    }
    whole = json.dumps(data, ensure_ascii=False)
    assert "卧室灯不亮" not in whole and LIU_PHONE not in whole and "刘洋" not in whole

    liu = await export(demo_app, LIU_PHONE)
    assert [t["description"] for t in liu["tickets"]] == ["卧室灯不亮"]
    # A tenant sees their own binding, not the owner's bills.
    assert liu["bindings"][0]["role"] == "tenant" and liu["bills"] == []
    assert ZHANG_PHONE not in json.dumps(liu, ensure_ascii=False)


async def test_a_phone_that_matches_nobody_is_refused(demo_app):
    with pytest.raises(privacy.PersonNotFound, match="no person"):
        await person(demo_app, "13999999999")
    with pytest.raises(privacy.PersonNotFound, match="not a phone"):
        await person(demo_app, "hello")


# ---- forget -----------------------------------------------------------------------------


async def test_forget_anonymises_and_the_figures_stay_the_same(demo_app, clock):
    await the_month(demo_app, clock)
    zhou = Chat(demo_app, "zhou")
    before = texts(await zhou.say("/stats")), texts(await zhou.say("/overdue"))
    zhang = await person(demo_app, ZHANG_PHONE)

    done = await forget(demo_app, ZHANG_PHONE)
    assert done.tickets == 3 and done.identities == 1

    after = texts(await zhou.say("/stats")), texts(await zhou.say("/overdue"))
    assert after == before
    async with demo_app.db.transaction() as s:
        forgotten = await s.get(Person, zhang.id)
        assert forgotten is not None
        assert forgotten.name == f"已注销住户#{zhang.id}" and forgotten.phone is None
        assert (await s.exec(select(Binding).where(Binding.person_id == zhang.id))).all() == []
        own = (await s.exec(select(Ticket).where(Ticket.person_id == zhang.id))).all()
        assert len(own) == 3
        for ticket in own:
            assert (ticket.contact_name, ticket.contact_phone, ticket.description) == ("", "", "")
            assert ticket.chat_id == "" and ticket.details.get("time") == ""
        revisited = [t.details["revisit"] for t in own if "revisit" in t.details]
        assert sorted(r["satisfaction"] for r in revisited) == [4, 5]  # kept for the figures
        identity = (
            await s.exec(select(ChatIdentity).where(ChatIdentity.display_name == "张伟"))
        ).first()
        assert identity is None
        ids = [i.external_user_id for i in (await s.exec(select(ChatIdentity))).all()]
        assert "resident" not in ids and privacy.pseudonym("console", "resident") in ids
        states = select(DialogState).where(DialogState.user_id == "resident")
        assert (await s.exec(states)).all() == []
        [entry] = (await s.exec(select(AuditLog).where(AuditLog.action == "person_forget"))).all()
        assert entry.target == f"person:{zhang.id}" and entry.detail["tickets"] == 3
    whole = json.dumps(await export_all_tickets(demo_app), ensure_ascii=False)
    assert ZHANG_PHONE not in whole and "张伟" not in whole


async def export_all_tickets(app: Any) -> list[dict[str, Any]]:
    async with app.db.transaction() as s:
        return [t.model_dump(mode="json") for t in (await s.exec(select(Ticket))).all()]


async def test_the_forgotten_chat_no_longer_sees_its_tickets(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    await resident.say("/my")
    await resident.press("R-261126-0001")
    await resident.press("补充")
    await resident.say("家里白天没人，钥匙在隔壁王阿姨家")
    assert "已补充到 R-261126-0001" in texts(await resident.press("确认提交"))
    assert "王阿姨" in texts(await repair_group(demo_app, "wang").inbox())  # delivered
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
        s.add(
            Photo(
                ticket_id=ticket.id, channel="console", file_ref="leak-1.jpg", at=ticket.created_at
            )
        )

    await forget(demo_app, ZHANG_PHONE)

    said = texts(await resident.say("/my"))
    assert "R-261126-0001" not in said and "没有工单" in said
    async with demo_app.db.transaction() as s:
        assert [p.file_ref for p in (await s.exec(select(Photo))).all()] == [""]
        identity = (
            await s.exec(select(ChatIdentity).where(ChatIdentity.external_user_id == "resident"))
        ).one()
        assert identity.person_id is None  # a stranger now: binding starts again
        notes = [e.note for e in (await s.exec(select(TicketEvent))).all()]
        assert notes and not any("王阿姨" in note for note in notes)
        kept = [u.payload for u in (await s.exec(select(InboundUpdate))).all()]
        kept += [o.payload for o in (await s.exec(select(Outbox))).all()]
        assert not any("王阿姨" in json.dumps(p, ensure_ascii=False) for p in kept)


def test_the_resident_commands(tmp_path: Path):
    assert frontdesk(tmp_path, "seed-demo", "--no-history").returncode == 0
    out = tmp_path / "zhang.json"
    done = frontdesk(tmp_path, "resident", "export", "--phone", ZHANG_PHONE, "--out", str(out))
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["person"]["name"] == "张伟" and data["bindings"][0]["unit"] == "3栋2单元1201"
    pid = str(data["person"]["id"])

    both = frontdesk(tmp_path, "resident", "forget", "--phone", ZHANG_PHONE, "--person-id", pid)
    assert both.returncode == 2 and "exactly one" in both.stderr
    done = frontdesk(tmp_path, "resident", "forget", "--person-id", pid)
    assert done.returncode == 0, done.stderr
    assert f"person {pid} forgotten" in done.stdout
    again = frontdesk(tmp_path, "resident", "export", "--phone", ZHANG_PHONE)
    assert again.returncode == 1 and "no person" in again.stderr
    shown = json.loads(frontdesk(tmp_path, "resident", "export", "--person-id", pid).stdout)
    assert shown["person"]["name"] == f"已注销住户#{pid}" and shown["bindings"] == []
    about_the_person = [a["action"] for a in shown["audit"] if a["action"].startswith("person_")]
    assert about_the_person == ["person_export", "person_forget"]


# ---- logs -------------------------------------------------------------------------------

TOKEN = "123456789:AAH-very-secret-telegram-token"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged during the test, through the production handler (JSON, redacted)."""
    settings = Settings(
        telegram_token=SecretStr(TOKEN),
        wechat_secret=SecretStr("wechat-app-secret-0042"),
        database_url="postgresql+asyncpg://fd:db-password-77@127.0.0.1/fd",
    )
    stream = io.StringIO()
    handler = logs.make_handler(settings, stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_phone_numbers_are_masked_in_logs(demo_app, log_lines):
    # SQL echo at INFO logs every bound parameter: the resident's phone among them.
    sql = logging.getLogger("sqlalchemy.engine")
    sql.setLevel(logging.INFO)
    try:
        await file_repair(Chat(demo_app, "resident"))
    finally:
        sql.setLevel(logging.WARNING)
    logging.getLogger("test").info(
        "call back %s or +86 13800000004, desk 0571-88880000", ZHANG_PHONE
    )

    output = log_lines.getvalue()
    assert "138****0001" in output  # the number did reach the log, masked
    assert ZHANG_PHONE not in output and LIU_PHONE not in output and "88880000" not in output
    for line in output.splitlines():
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(entry)


def test_secrets_never_reach_the_log(log_lines):
    log = logging.getLogger("bot.channels.telegram")
    log.warning("calling https://api.telegram.org/bot%s/getUpdates", TOKEN)  # a mistake
    log.info("login", extra={"secret": "wechat-app-secret-0042"})
    try:
        raise RuntimeError(f"connect to postgresql://fd:db-password-77@db failed, token {TOKEN}")
    except RuntimeError:
        log.exception("start-up failed")

    output = log_lines.getvalue()
    for secret in (TOKEN, "AAH-very-secret", "wechat-app-secret-0042", "db-password-77"):
        assert secret not in output
    assert output.count(logs.SECRET_MARK) >= 4
    entries = [json.loads(line) for line in output.splitlines()]
    assert "RuntimeError" in entries[-1]["exception"]


async def test_export_and_forget_on_postgresql(pg_database, clock):
    from bot.app import App
    from bot.demo import seed_demo

    settings = Settings(database_url=pg_database.url)
    app = await App.start(settings, clock=clock, migrate_schema=False)
    try:
        async with app.db.transaction() as session:
            await seed_demo(session, clock.now().astimezone(settings.tz).date(), settings.tz)
        resident = Chat(app, "resident")
        await file_repair(resident, text="厨房水槽下水管漏水")
        assert "水槽" in texts(await repair_group(app, "wang").inbox())  # the card
        assert "水槽" in texts(await Chat(app, "zhou").inbox())  # a leak is urgent: on duty
        # and on his web workspace's pages, where he has seen it too (undelivered messages
        # are still staff's work, and stay)
        assert "水槽" in texts(await Chat(app, "zhou", channel="web").inbox())
        assert (await export(app, ZHANG_PHONE))["tickets"][0]["contact_phone"] == ZHANG_PHONE

        await forget(app, ZHANG_PHONE)

        assert "没有工单" in texts(await resident.say("/my"))
        async with app.db.transaction() as s:
            kept = [o.payload for o in (await s.exec(select(Outbox))).all()]
            ticket = (await s.exec(select(Ticket))).one()
        assert ticket.description == "" and ticket.kind == "repair"
        assert not any("水槽" in json.dumps(p, ensure_ascii=False) for p in kept)
    finally:
        await app.close()


async def test_forget_and_export_cover_whatever_is_kept_for_the_persons_chats(demo_both):
    demo_app = demo_both  # on SQLite and PostgreSQL
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    await resident.say("/my")
    await resident.press("R-261126-0001")
    await resident.press("补充")
    await resident.photo("kitchen-wall.jpg")
    await resident.press("确认")
    await resident.say("/start GUESS2A2")  # a wrong code: a counter kept for this chat
    await resident.say("/human")
    await resident.say("我的手机是 13800000001，请回电")  # kept as a message received

    shown = await export(demo_app, ZHANG_PHONE)
    texts_received = json.dumps(shown["messages_received"], ensure_ascii=False)
    assert "请回电" in texts_received
    assert any(k["key"].endswith(":resident") for k in shown["kept_for_their_chats"])

    await forget(demo_app, ZHANG_PHONE)
    async with demo_app.db.transaction() as s:
        events = (await s.exec(select(TicketEvent))).all()
        kept = (await s.exec(select(KeyValue))).all()
        received = (await s.exec(select(InboundUpdate))).all()
    assert not any("kitchen-wall" in json.dumps(e.data) for e in events)
    assert not any(k.key.endswith(":resident") for k in kept)
    assert not any("请回电" in json.dumps(u.payload, ensure_ascii=False) for u in received)


async def test_retention_purges_old_messages_and_blanks_old_audit_details(demo_both, clock):
    demo_app = demo_both  # on SQLite and PostgreSQL
    from datetime import timedelta

    from bot.ops import collect
    from dialogs.registry import all_jobs

    resident = Chat(demo_app, "resident")
    await file_repair(resident)  # messages received and sent, audit rows
    await repair_group(demo_app, "wang").inbox()
    async with demo_app.db.transaction() as s:
        received = len((await s.exec(select(InboundUpdate))).all())
        sent = len((await s.exec(select(Outbox).where(col(Outbox.sent_at).is_not(None)))).all())
    assert received and sent
    clock.advance(days=89)
    await demo_app.engine.run_jobs(all_jobs())
    async with demo_app.db.transaction() as s:
        assert len((await s.exec(select(InboundUpdate))).all()) == received  # not yet
    clock.advance(days=2)
    await demo_app.engine.run_jobs(all_jobs())
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(InboundUpdate))).all() == []
        assert (await s.exec(select(Outbox).where(col(Outbox.sent_at).is_not(None)))).all() == []
    figures = await collect(demo_app.db, clock.now())
    assert figures.updates_handled >= received  # a counter never falls after a purge
    async with demo_app.db.transaction() as s:
        long_ago = clock.now() - timedelta(days=400)
        s.add(AuditLog(actor="cli", action="fee_paid", target="x", detail={"n": 1}, at=long_ago))
    clock.advance(days=1)
    await demo_app.engine.run_jobs(all_jobs())
    async with demo_app.db.transaction() as s:
        old = (await s.exec(select(AuditLog).where(AuditLog.target == "x"))).one()
    assert old.detail == {} and old.action == "fee_paid"
