"""Announcements (通知): the office tells a community, or one building, about an outage.

A supervisor or the service desk writes it once; every chat of every bound resident there
gets it once, in the resident's language, after the replies people are waiting for, and
not in the quiet hours. Residents and other departments cannot send one.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.app import App
from bot.channels.telegram_send import due_chats
from bot.settings import Settings
from handlers import announce
from handlers.core.clock import ManualClock
from handlers.core.i18n import Catalogs
from handlers.people import add_staff
from storage import outbox
from storage.db import Database
from storage.models import (
    AuditLog,
    Binding,
    ChatIdentity,
    Community,
    Outbox,
    Person,
    StaffMember,
    Unit,
)
from tests.commandline import frontdesk
from tests.factories import make_community, make_unit
from tests.harness import Chat, Said, texts

JOINED = datetime(2026, 11, 1, tzinfo=UTC)  # when the test residents were recorded

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICE = "11月28日 9:00-15:00 二次供水检修，期间停水，请提前储水。"
TG_ZHANG = "7001"  # 张伟's Telegram chat, besides his console one


def keys(said: list[Said]) -> list[str]:
    return [s.payload["key"] for s in said]


async def more_chats(app: App) -> None:
    """张伟 on Telegram too and bound to a second unit (1栋1单元101); a 和悦园 resident
    with a chat; 刘洋 (the tenant) reads English; a stranger, mallory, bound to nothing."""
    async with app.db.transaction() as s:

        async def person(name: str) -> int:
            found = (await s.exec(select(Person).where(Person.name == name))).first()
            assert found is not None and found.id is not None
            return found.id

        zhang, zhu = await person("张伟"), await person("朱琳")
        unit = (await s.exec(select(Unit).where(Unit.label == "1栋1单元101"))).first()
        assert unit is not None and unit.id is not None
        s.add(Binding(person_id=zhang, unit_id=unit.id, role="member", created_at=JOINED))
        s.add(ChatIdentity(channel="telegram", external_user_id=TG_ZHANG, person_id=zhang))
        s.add(ChatIdentity(channel="console", external_user_id="zhulin", person_id=zhu))
    await Chat(app, "tenant").say("/lang en")
    await Chat(app, "mallory").say("/start")


async def announcement_rows(app: App) -> list[Outbox]:
    async with app.db.transaction() as s:
        found = await s.exec(
            select(Outbox).where(col(Outbox.bulk).is_(True)).order_by(col(Outbox.id))
        )
        return list(found.all())


async def audit_rows(app: App) -> list[AuditLog]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(AuditLog).where(AuditLog.action == "announce"))).all())


async def staff_member(app: App, user: str) -> StaffMember:
    async with app.db.transaction() as s:
        found = await s.exec(
            select(StaffMember).where(
                StaffMember.channel == "console", StaffMember.external_user_id == user
            )
        )
        return found.one()


# ---- sending one --------------------------------------------------------------------------


async def test_a_supervisor_tells_the_whole_community(demo_app):
    await more_chats(demo_app)
    zhou = Chat(demo_app, "zhou")
    said = await zhou.say("/announce")
    assert "请写下通知内容" in texts(said)  # one community: no need to ask which
    said = await zhou.say(NOTICE)
    assert "发给整个小区，还是某一栋楼" in texts(said)
    labels = [b["label"] for b in said[-1].buttons]
    assert labels[:4] == ["幸福里全体住户", "1栋住户", "2栋住户", "3栋住户"]
    said = await zhou.press("幸福里全体住户")
    preview = texts(said)
    assert NOTICE in preview and "发送范围：幸福里全体住户" in preview
    assert "将发送给 2 位住户（3 个聊天账号）" in preview  # 张伟 twice, 刘洋 once
    said = await zhou.press("确认提交")
    assert "通知已排队发送给 2 位住户（3 个聊天账号）" in texts(said)

    rows = await announcement_rows(demo_app)
    # Each chat once, on every channel, though 张伟 has two units here; not 朱琳 (和悦园),
    # not mallory (bound to nothing), not the staff.
    assert sorted((r.channel, r.chat_id) for r in rows) == [
        ("console", "resident"),
        ("console", "tenant"),
        ("telegram", TG_ZHANG),
    ]
    assert all(r.bulk and not r.urgent and r.dedupe_key for r in rows)
    assert len({r.dedupe_key for r in rows}) == 3

    mine = texts(await Chat(demo_app, "resident").inbox())
    assert mine == f"【幸福里通知】\n{NOTICE}\n—— 幸福里物业"
    assert texts(await Chat(demo_app, "tenant").inbox()).startswith("[幸福里 notice]\n")
    assert await Chat(demo_app, "zhulin").inbox() == []
    assert await Chat(demo_app, "mallory").inbox() == []

    [entry] = await audit_rows(demo_app)
    assert entry.actor == f"staff:{(await staff_member(demo_app, 'zhou')).id}"
    assert entry.target == "XFL"
    assert entry.detail["residents"] == 2 and entry.detail["chats"] == 3
    assert entry.detail["building"] is None and entry.detail["text"] == NOTICE


async def test_the_service_desk_tells_one_building(demo_app):
    await more_chats(demo_app)
    li = Chat(demo_app, "li")
    await li.say("/announce")
    await li.say("明天上午9点起1栋电梯维保，请走楼梯。")
    said = await li.press("1栋住户")
    assert "将发送给 1 位住户（2 个聊天账号）" in texts(said)  # 张伟, of 1栋1单元101
    said = await li.press("确认提交")
    assert "通知已排队发送给 1 位住户" in texts(said)
    rows = await announcement_rows(demo_app)
    assert sorted((r.channel, r.chat_id) for r in rows) == [
        ("console", "resident"),
        ("telegram", TG_ZHANG),
    ]
    [entry] = await audit_rows(demo_app)
    assert entry.target == "XFL/1栋" and entry.detail["building"] == "1栋"


async def test_a_building_where_nobody_has_a_chat_is_refused_and_asked_again(demo_app):
    li = Chat(demo_app, "li")
    await li.say("/announce")
    await li.say("2栋今晚消杀，请关好门窗。")
    said = await li.press("2栋住户")
    assert "还没有住户绑定聊天账号" in texts(said)
    assert "发给整个小区" in said[-1].text  # the same question again
    said = await li.press("3栋住户")
    assert "将发送给 2 位住户（2 个聊天账号）" in texts(said)


async def test_an_announcement_waits_out_the_quiet_hours(demo_app, clock):
    clock.advance(hours=14)  # 23:00 in Shanghai
    zhou = Chat(demo_app, "zhou")
    await zhou.say("/announce")
    await zhou.say("明早8点停电检修，约两小时。")
    said = await zhou.press("幸福里全体住户")
    assert "现在是免打扰时段，通知将于 2026-11-27 07:00 开始发出" in texts(said)
    said = await zhou.press("确认提交")
    assert "2026-11-27 07:00" in texts(said)
    resident = Chat(demo_app, "resident")
    assert await resident.inbox() == []
    [row, _] = await announcement_rows(demo_app)
    assert row.not_before == datetime(2026, 11, 27, 7, 0, tzinfo=SHANGHAI)
    clock.advance(hours=8)
    assert "明早8点停电检修" in texts(await resident.inbox())


async def test_a_company_wide_director_picks_the_community(demo_app):
    async with demo_app.db.transaction() as s:
        await add_staff(s, channel="console", user_id="boss", name="总经理", role="director")
    boss = Chat(demo_app, "boss")
    said = await boss.say("/announce")
    assert [b["label"] for b in said[-1].buttons][:2] == ["和悦园（HYY）", "幸福里（XFL）"]
    await boss.press("和悦园")
    said = await boss.say("本周六上午小区消杀。")
    assert "和悦园全体住户" in [b["label"] for b in said[-1].buttons]
    said = await boss.press("和悦园全体住户")
    assert "还没有住户绑定聊天账号" in texts(said)  # nobody in 和悦园 chats yet
    said = await boss.say("返回")
    said = await boss.say("返回")
    assert "要向哪个小区" in texts(said)


# ---- who may not ----------------------------------------------------------------------------


async def test_residents_and_other_departments_cannot_announce(demo_app):
    await more_chats(demo_app)
    for user in ("resident", "tenant", "mallory", "wang", "zhao"):
        said = await Chat(demo_app, user).say("/announce")
        assert keys(said) == ["dialog.not_allowed"], user
    in_group = Chat(demo_app, "resident", chat_id="group:XFL:repair", kind="group")
    assert keys(await in_group.say("/announce")) == []  # a department's group answers staff only
    staff_group = Chat(demo_app, "zhou", chat_id="group:XFL:service", kind="group")
    assert keys(await staff_group.say("/announce")) == ["dialog.private_only"]
    assert await announcement_rows(demo_app) == [] and await audit_rows(demo_app) == []


async def test_another_communitys_supervisor_cannot_reach_this_one(demo_app):
    await more_chats(demo_app)
    async with demo_app.db.transaction() as s:
        hyy = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
        xfl_unit = (await s.exec(select(Unit).where(Unit.label == "3栋2单元1201"))).one()
        await add_staff(
            s,
            channel="console",
            user_id="he",
            name="何主管",
            role="supervisor",
            community_id=hyy.id,
        )
    he = Chat(demo_app, "he")
    await he.say("/announce")
    await he.say("本周六上午小区消杀。")
    # Forged choices: 幸福里's building, 幸福里 itself, from 和悦园's scope question.
    for forged in (f"scope:{xfl_unit.building_id}", f"community:{xfl_unit.community_id}"):
        said = await he.send(option=forged)
        assert keys(said)[0] == "dialog.stale", forged
    said = await he.press("和悦园全体住户")
    assert "将发送给 1 位住户（1 个聊天账号）" in texts(said)  # 朱琳 only
    await he.press("确认提交")
    assert [r.chat_id for r in await announcement_rows(demo_app)] == ["zhulin"]


async def test_staff_who_lose_the_right_mid_way_cannot_confirm(demo_app):
    li = Chat(demo_app, "li")
    await li.say("/announce")
    await li.say("今晚小区消杀。")
    await li.press("幸福里全体住户")
    member = await staff_member(demo_app, "li")
    member.department = "repair"  # moved to the repair group
    async with demo_app.db.transaction() as s:
        s.add(member)
    said = await li.press("确认提交")
    assert keys(said) == ["dialog.not_allowed"]
    assert await announcement_rows(demo_app) == [] and await audit_rows(demo_app) == []


# ---- the store: never twice, and after the replies --------------------------------------


async def small_community(db: Database) -> Community:
    """One building, two residents: one on Telegram and the console, one on Telegram."""
    async with db.transaction() as s:
        community = await make_community(s)
        units = [await make_unit(s, community, label=f"3栋2单元120{n}") for n in (1, 2)]
        people = [Person(name=name, created_at=JOINED) for name in ("张伟", "王芳")]
        s.add_all(people)
        await s.flush()
        for person, unit in zip(people, units, strict=True):
            assert person.id is not None and unit.id is not None
            s.add(Binding(person_id=person.id, unit_id=unit.id, created_at=JOINED))
        s.add(ChatIdentity(channel="telegram", external_user_id="11", person_id=people[0].id))
        s.add(ChatIdentity(channel="console", external_user_id="zw", person_id=people[0].id))
        s.add(ChatIdentity(channel="telegram", external_user_id="12", person_id=people[1].id))
        return community


async def test_the_same_announcement_queued_again_adds_nothing(database, clock: ManualClock):
    community = await small_community(database)
    settings = Settings(database_url=database.url)
    catalogs = Catalogs.load("zh_CN", SHANGHAI)

    async def send(ref: str) -> Any:
        async with database.transaction() as s:
            return await announce.announce(
                s,
                catalogs=catalogs,
                settings=settings,
                community=community,
                building=None,
                text=NOTICE,
                ref=ref,
                actor="cli",
                now=clock.now(),
            )

    first = await send("a1")
    assert (first.audience.residents, first.audience.chats, first.queued) == (2, 3, 3)
    again = await send("a1")  # a retry of the same announcement
    assert again.queued == 0
    assert (await send("a2")).queued == 3  # a new one is new
    async with database.transaction() as s:
        assert await outbox.pending_count(s) == 6


async def test_replies_go_before_announcements(database, clock: ManualClock):
    """Claimed urgent first, then what a conversation waits for, then announcements."""

    async def queue(chat: str, text: str, **flags: bool) -> None:
        async with database.transaction() as s:
            await outbox.enqueue(
                s,
                channel="telegram",
                chat_id=chat,
                payload={"text": text},
                now=clock.now(),
                **flags,
            )
        clock.advance(seconds=1)

    await queue("21", "通知", bulk=True)
    await queue("22", "通知", bulk=True)
    await queue("21", "您的报修已受理")
    await queue("23", "燃气泄漏", urgent=True)

    chats = await due_chats(database, clock.now())
    assert [(c.chat_id, c.rows, c.bulk) for c in chats] == [
        ("23", 1, False),
        ("21", 2, False),
        ("22", 1, True),
    ]
    claimed = await outbox.claim(database, "telegram", clock.now())
    assert [(r.chat_id, r.payload["text"]) for r in claimed] == [
        ("23", "燃气泄漏"),
        ("21", "您的报修已受理"),
        ("21", "通知"),
        ("22", "通知"),
    ]


# ---- the command line -----------------------------------------------------------------------


def test_the_announce_command_line(tmp_path: Path):
    assert frontdesk(tmp_path, "seed-demo", "--no-history").returncode == 0
    result = frontdesk(
        tmp_path, "announce", "XFL", "今晚8点3栋消杀，请关好门窗。", "--building", "3栋"
    )
    assert result.returncode == 0, result.stderr
    # 张伟 and 刘洋 have console chats in the demo (quiet hours may add when it goes out)
    assert "announcement queued for 2 residents (2 chats) in XFL 3栋" in result.stdout
    nobody = frontdesk(tmp_path, "announce", "XFL", "1栋电梯维保。", "--building", "1栋")
    assert nobody.returncode == 1 and "nothing sent" in nobody.stderr
    unknown = frontdesk(tmp_path, "announce", "XFL", "消杀。", "--building", "9栋")
    assert unknown.returncode == 2 and "no building" in unknown.stderr
    with sqlite3.connect(tmp_path / "fd.db") as db:
        rows = db.execute("SELECT chat_id, bulk, payload FROM outbox ORDER BY chat_id").fetchall()
        audits = db.execute("SELECT actor, target FROM audit_log WHERE action = 'announce'")
        assert audits.fetchall() == [("cli", "XFL/3栋")]
    assert [(chat, bulk) for chat, bulk, _ in rows] == [("resident", 1), ("tenant", 1)]
    assert "今晚8点3栋消杀" in json.loads(rows[0][2])["text"]
