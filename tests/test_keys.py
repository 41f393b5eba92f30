"""The key register and key loans (钥匙借用) through the real engine, on the demo store.

The demo (today 2026-11-26 09:00, a Thursday): 李敏 ("li") is 幸福里's service desk, 王师傅
("wang") a repair technician, 赵强 ("zhao") security, 周主管 ("zhou") the supervisor; 张伟
("resident") owns 3栋2单元1201, 刘洋 ("tenant") rents 3栋2单元1202.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from dialogs.registry import all_sweeps
from handlers.rules import keys as rules
from storage.models import AuditLog, KeyLoan, OfficeKey
from tests.harness import Chat, texts

TZ = ZoneInfo("Asia/Shanghai")
SERVICE = "group:XFL:service"


async def sweep(app) -> None:
    for check in all_sweeps():
        await app.engine.sweep(check)


async def test_a_common_key_lent_to_a_technician_and_given_back(demo_app):
    app = demo_app
    desk = Chat(app, "li")
    said = texts(await desk.say("/keys add 天台门钥匙 公共 柜A-12"))
    assert "已登记钥匙 #1" in said and "柜A-12" in said, said
    said = texts(await desk.say("/lend 柜A-12 王师傅 until 18:00"))
    assert "已借出 #1 天台门钥匙" in said and "王师傅" in said and "18:00" in said, said
    listing = await desk.say("/keys")
    assert "借出 1" in texts(listing) and "借出：王师傅" in texts(listing), texts(listing)
    assert [b["label"] for b in listing[-1].buttons] == ["#1 天台门钥匙 已归还"]
    said = texts(await desk.press("已归还"))  # the register's own button
    assert "已归还 #1 天台门钥匙：王师傅" in said and "李敏 接收" in said, said
    assert "在库" in texts(await desk.say("/keys"))


# ---- the rules ---------------------------------------------------------------------------

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)  # a Thursday


@pytest.mark.parametrize(
    ("typed", "due"),
    [
        ("", datetime(2026, 11, 26, 17, 0, tzinfo=TZ)),  # the default 8 hours
        ("18:00", datetime(2026, 11, 26, 18, 0, tzinfo=TZ)),
        ("until 18:00", datetime(2026, 11, 26, 18, 0, tzinfo=TZ)),
        ("到今天下午5点", datetime(2026, 11, 26, 17, 0, tzinfo=TZ)),
        ("明天上午", datetime(2026, 11, 27, 12, 0, tzinfo=TZ)),
        ("明天", datetime(2026, 11, 27, 18, 0, tzinfo=TZ)),
        ("明天下午3点", datetime(2026, 11, 27, 15, 0, tzinfo=TZ)),
        ("3小时", datetime(2026, 11, 26, 12, 0, tzinfo=TZ)),
        ("两个半小时", datetime(2026, 11, 26, 11, 30, tzinfo=TZ)),
        ("2h", datetime(2026, 11, 26, 11, 0, tzinfo=TZ)),
        ("tomorrow 9:00", datetime(2026, 11, 27, 9, 0, tzinfo=TZ)),
        ("下周一", datetime(2026, 11, 30, 18, 0, tzinfo=TZ)),
    ],
)
def test_when_a_key_is_due_back(typed: str, due: datetime) -> None:
    assert rules.due_at(typed, NOW, TZ, rules.KeyPolicy()) == due


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("8:00", "due_past"), ("whenever", "due_unclear"), ("2027-06-01", "due_far")],
)
def test_due_times_refused(typed: str, reason: str) -> None:
    with pytest.raises(rules.KeyRuleError) as refused:
        rules.due_at(typed, NOW, TZ, rules.KeyPolicy())
    assert refused.value.reason == reason


def test_the_overdue_steps() -> None:
    policy = rules.KeyPolicy(loan_hours=8, escalate_hours=24)
    due = NOW + timedelta(hours=8)
    step = rules.overdue_step
    assert step(due, due - timedelta(minutes=1), 0, False, policy) is None
    assert step(due, due, 0, False, policy) == rules.REMIND
    assert step(due, due + timedelta(hours=23), 1, False, policy) is None  # reminded once
    assert step(due, due + timedelta(hours=24), 1, False, policy) == rules.SUPERVISOR
    assert step(due, due + timedelta(hours=30), 1, True, policy) is None  # told once
    # A sweep that missed a day takes both, in order.
    late = due + timedelta(days=2)
    assert rules.overdue_steps(due, late, 0, False, policy) == [rules.REMIND, rules.SUPERVISOR]
    assert rules.overdue_steps(due, due, 0, False, rules.KeyPolicy(escalate_hours=0)) == [
        rules.REMIND,
        rules.SUPERVISOR,
    ]


def test_whose_consent_and_what_was_typed() -> None:
    assert rules.needs_consent("unit")
    assert not rules.needs_consent("common") and not rules.needs_consent("equipment")
    assert rules.parse_new_key("天台门钥匙 公共 柜A-12 2把") == rules.NewKey(
        "天台门钥匙", "common", "", "柜A-12", 2
    )
    assert rules.parse_new_key("2-1-802 备用钥匙 柜B-3") == rules.NewKey(
        "备用钥匙", "unit", "2-1-802", "柜B-3", 1
    )
    assert rules.parse_new_key("配电柜钥匙 设备 A-3 x3") == rules.NewKey(
        "配电柜钥匙", "equipment", "", "A-3", 3
    )
    for bad, reason in (("公共 柜A-1", "add_label"), ("大门钥匙 房屋", "add_unit")):
        with pytest.raises(rules.KeyRuleError) as refused:
            rules.parse_new_key(bad)
        assert refused.value.reason == reason
    assert rules.parse_lend_line("柜A-12 王师傅 until 18:00") == rules.LendLine(
        "柜A-12", "王师傅", "", "until 18:00"
    )
    assert rules.parse_lend_line("2-1-802 张三 13900000009 明天上午") == rules.LendLine(
        "2-1-802", "张三", "13900000009", "明天上午"
    )
    assert rules.key_number("#12") == 12 and rules.key_number("柜A-12") is None


# ---- a unit's key: only with its owner's consent ---------------------------------------------

UNIT = "3栋2单元1201"  # 张伟's


async def loans(app) -> list[KeyLoan]:
    async with app.db.transaction() as s:
        return list((await s.exec(select(KeyLoan).order_by(col(KeyLoan.id)))).all())


async def test_a_flats_key_lent_only_with_its_owners_consent(demo_app):
    app = demo_app
    desk = Chat(app, "li")
    owner = Chat(app, "resident")
    said = texts(await desk.say("/keys add 3-2-1201 备用钥匙 柜B-3"))
    assert "已登记钥匙 #1：备用钥匙×1（房屋）3栋2单元1201" in said, said

    # Asked in chat, agreed: the key goes out then, the desk gets the loan card.
    said = texts(await desk.say("/lend 柜B-3 王师傅 until 18:00"))
    assert "已在聊天中询问 3栋2单元1201 的业主" in said, said
    assert await loans(app) == []
    asked = await owner.inbox()
    assert "您是否同意" in texts(asked) and "王师傅" in texts(asked)
    assert "正在等答复" in texts(await desk.say("/lend 柜B-3 王师傅"))  # asked once
    said = texts(await owner.press("同意"))
    assert "已记录您同意" in said and "已借出" in said and "18:00" in said, said
    lent = texts(await desk.inbox())
    assert "已借出 #1 备用钥匙" in lent and "业主在聊天中同意（张伟）" in lent, lent
    [loan] = await loans(app)
    assert loan.consent == "chat: 张伟" and loan.lent_by.startswith("staff:")  # the desk
    # Pressed again, the old question does nothing.
    assert owner.keyboard is not None
    assert "已处理过" in texts(await owner.send(option=owner.keyboard.button("同意")))

    said = texts(await desk.say("/keyback 柜B-3"))
    assert "已归还 #1 备用钥匙：王师傅" in said, said
    assert "归还物业保管" in texts(await owner.inbox())

    # Asked again, refused: nothing lent, the desk told.
    await desk.say("/lend #1 王师傅")
    await owner.inbox()
    said = texts(await owner.press("不同意"))
    assert "您不同意借出" in said, said
    assert "不同意把“备用钥匙”借给 王师傅" in texts(await desk.inbox())
    assert len(await loans(app)) == 1

    # Recorded by the desk as given by phone, step by step, to an outsider with a phone.
    await desk.say("/lend")
    await desk.press("登记借出")
    await desk.say("柜B-3")
    await desk.say("张三")
    await desk.say("13900000009")
    await desk.say("查看漏水")
    await desk.press("默认")
    await desk.press("电话")
    summary = texts(await desk.say("11:05 张伟电话同意"))
    assert "张三（电话 13900000009）" in summary and "业主已电话同意" in summary, summary
    said = texts(await desk.press("确认提交"))
    assert "已借出 #1 备用钥匙" in said and "电话同意：11:05 张伟电话同意" in said, said
    assert "已借出" in texts(await owner.inbox())
    last = (await loans(app))[-1]
    assert (last.borrower, last.phone, last.consent) == (
        "张三",
        "13900000009",
        "phone: 11:05 张伟电话同意",
    )
    assert last.due_at == app.clock.now() + timedelta(hours=8)
    async with app.db.transaction() as s:
        key = (await s.exec(select(OfficeKey))).one()
        events = [e["event"] for e in key.history]
        assert events == ["added", "asked", "agreed", "lent", "back", "asked", "refused", "lent"]
        audited = (await s.exec(select(AuditLog.action))).all()
        assert {"key_added", "key_lent", "key_back", "key_loan_refused"} <= set(audited)


async def test_without_a_way_to_ask_the_owner_the_desk_records_consent(demo_app):
    desk = Chat(demo_app, "li")
    await desk.say("/keys add 3-1-501 大门钥匙 柜B-4")  # 胡军 has no chat account
    said = await desk.say("/lend 柜B-4 王师傅")
    assert "没有绑定聊天账号" in texts(said) and said[-1].buttons, texts(said)
    assert await loans(demo_app) == []
    await desk.press("登记借出")
    await desk.say("柜B-4")
    await desk.press("王师傅")
    await desk.press("跳过")
    said = await desk.press("默认")
    labels = [b["label"] for b in said[-1].buttons]
    assert "在聊天中询问业主" not in labels and "业主已书面同意" in labels, labels


# ---- overdue -------------------------------------------------------------------------------


async def test_an_overdue_key_reminds_the_borrower_then_the_supervisor_once_each(demo_both, clock):
    app = demo_both  # on SQLite and PostgreSQL: the sweep locks the loans it chases there
    desk = Chat(app, "li")
    desk_group = Chat(app, "li", chat_id=SERVICE, kind="group")
    wang = Chat(app, "wang")
    zhou = Chat(app, "zhou")
    await desk.say("/keys add 水泵房钥匙 设备 柜C-1")
    await desk.say("/keys add 会所钥匙 公共 柜C-2")
    await desk.say("/lend 柜C-1 王师傅")  # due at 17:00, the default 8 hours
    await desk.say("/lend 柜C-2 访客赵六 13900000010 until 12:00")  # no chat: phoned
    await desk_group.inbox()

    clock.advance(hours=3, minutes=1)  # 12:01: the outsider's key is overdue
    await sweep(app)
    said = texts(await desk_group.inbox())
    assert "请电话联系：13900000010" in said and "会所钥匙" in said, said
    assert texts(await wang.inbox()) == ""

    clock.set(datetime(2026, 11, 26, 17, 1, tzinfo=TZ))
    await sweep(app)
    reminded = await wang.inbox()
    assert len(reminded) == 1 and "水泵房钥匙" in reminded[0].text and "已逾期" in reminded[0].text
    said = texts(await desk_group.inbox())
    assert "钥匙逾期未还：#1 水泵房钥匙" in said and "已提醒借用人" in said, said
    await sweep(app)
    assert await wang.inbox() == [] and await desk_group.inbox() == []
    assert texts(await zhou.inbox()) == ""

    clock.advance(hours=23, minutes=58)  # 16:59 the next day: not yet
    await sweep(app)
    assert "水泵房钥匙" not in texts(await zhou.inbox())
    clock.advance(minutes=2)
    await sweep(app)
    told = [s.text for s in await zhou.inbox()]
    assert any("钥匙逾期 24 小时未还：#1 水泵房钥匙" in t for t in told), told
    await sweep(app)
    assert await zhou.inbox() == [] and await wang.inbox() == []
    [pump, hall] = await loans(app)
    assert (pump.reminders, pump.escalated_at) == (1, clock.now())
    assert hall.reminders == 1 and hall.escalated_at is not None  # 12:00 + 24 h passed too

    await desk.say("/keys add 消防通道钥匙 公共 柜C-3")
    listing = texts(await desk.say("/keys"))
    assert "在库 1，借出 0，逾期 2" in listing, listing
    assert listing.index("逾期未还：王师傅") < listing.index("消防通道钥匙")  # overdue first
    overdue = texts(await desk.say("/keys 逾期"))
    assert "水泵房钥匙" in overdue and "会所钥匙" in overdue and "消防通道钥匙" not in overdue


# ---- who may -------------------------------------------------------------------------------


async def test_who_may_see_and_lend_keys(demo_app):
    from handlers.people import add_staff
    from storage.models import Community

    app = demo_app
    desk = Chat(app, "li")
    await desk.say("/keys add 天台门钥匙 公共 柜A-12")
    await desk.say("/keys add 3-2-1201 备用钥匙 柜B-3")
    await desk.say("/keys add 3-2-1202 大门钥匙 柜B-5")

    resident, tenant = Chat(app, "resident"), Chat(app, "tenant")
    assert "没有权限" in texts(await resident.say("/keys"))
    assert "没有权限" in texts(await resident.say("/lend 柜A-12 张伟"))
    assert "没有权限" in texts(await resident.say("/keyback 柜A-12"))
    mine = texts(await resident.say("/mykeys"))
    assert "3栋2单元1201 备用钥匙×1：在物业保管" in mine and "1202" not in mine, mine
    assert "天台门钥匙" not in mine
    assert "物业为您保管的钥匙" in texts(await resident.say("/my"))  # under their tickets
    assert "没有保管您家的钥匙" in texts(await tenant.say("/mykeys"))  # a tenant, not the owner

    guard = Chat(app, "zhao")
    assert "天台门钥匙" in texts(await guard.say("/keys"))
    assert "没有权限" in texts(await guard.say("/lend 柜A-12 赵强"))
    assert "没有权限" in texts(await guard.say("/keyback 柜A-12"))
    assert "没有权限" in texts(await guard.say("/keys add 门禁卡 设备"))
    fixer = Chat(app, "wang")
    assert "没有权限" in texts(await fixer.say("/keys"))

    async with app.db.transaction() as s:
        other = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
        await add_staff(
            s,
            channel="console",
            user_id="hyy",
            name="和悦园前台",
            department="service",
            community_id=other.id,
        )
    other_desk = Chat(app, "hyy")
    listing = texts(await other_desk.say("/keys"))
    assert "和悦园 的钥匙登记里还没有钥匙" in listing and "幸福里" not in listing, listing
    assert "没有找到钥匙" in texts(await other_desk.say("/lend 柜A-12 某人 13900000011"))
    assert "没有找到钥匙" in texts(await other_desk.say("/lend #1 某人 13900000011"))
    assert "没有找到钥匙" in texts(await other_desk.say("/keys 柜A-12"))

    # A loan's "given back" button, forged by another community's desk: refused.
    await desk.say("/lend 柜A-12 王师傅")
    assert desk.keyboard is not None
    button = desk.keyboard.button("已归还")
    assert "已归还 #" not in texts(await other_desk.send(option=button))
    assert "已归还 #" not in texts(await guard.send(option=button))
    assert (await loans(app))[0].returned_at is None
    # The owner sees their key out only when it is theirs.
    assert "天台门钥匙" not in texts(await resident.say("/mykeys"))


def test_every_key_built_from_a_value_is_in_both_catalogs() -> None:
    from pathlib import Path

    from handlers.core.i18n import LOCALES, load_po_dir

    events = ("added", "received", "returned", "lent", "back", "asked", "agreed", "refused")
    events += ("withdrawn",)
    built = {f"keys.kind.{k}" for k in rules.KINDS}
    built |= {f"keys.event.{e}" for e in events}
    built |= {f"keys.event.overdue_{s}" for s in (rules.REMIND, rules.SUPERVISOR)}
    built |= {f"keys.line.{s}" for s in ("held", "out", "overdue", "returned")}
    built |= {f"keys.mine.{s}" for s in ("held", "out")}
    ways = (rules.CONSENT_CHAT, *rules.RECORDED_CONSENT)
    built |= {f"keys.consent.{w}" for w in ways} | {f"keys.lend.consent.{w}" for w in ways}
    reasons = ("due_unclear", "due_past", "due_far", "add_label", "add_kind", "add_unit")
    built |= {f"keys.error.{r}" for r in (*reasons, "lend_usage")}
    root = Path(__file__).resolve().parent.parent / "locales"
    for locale in LOCALES:
        assert not built - set(load_po_dir(root, locale)), locale


async def test_custodys_keys_are_in_the_register_and_lent_like_any_flats_key(demo_app):
    from tests.test_custody import open_custody

    app = demo_app
    desk = Chat(app, "li")
    owner = Chat(app, "resident")
    await open_custody(desk, UNIT, keys="大门钥匙2把，信箱钥匙1把")
    await owner.inbox()
    listing = texts(await desk.say("/keys"))
    assert "#1 大门钥匙×2（房屋）3栋2单元1201 · 未定位置 · 在库" in listing, listing
    assert "信箱钥匙×1" in listing
    assert "3栋2单元1201 大门钥匙×2：在物业保管" in texts(await owner.say("/mykeys"))

    # The technician going into the flat in custody: the owner agrees in chat.
    said = texts(await desk.say("/lend #1 王师傅 明天上午"))
    assert "已在聊天中询问" in said, said
    await owner.inbox()
    await owner.press("同意")
    assert "已借出 #1 大门钥匙×2" in texts(await desk.inbox())
    mine = texts(await owner.say("/mykeys"))
    assert "大门钥匙×2：已借给 王师傅" in mine and "2026-11-27 12:00" in mine, mine
    card = texts(await desk.say("/keys 1"))
    assert "收到（托管）" in card and "业主同意 张伟" in card and "借出 王师傅" in card, card

    # Custody cannot end while one of its keys is out: the owner gets every key back.
    await desk.say(f"/custody {UNIT}")
    said = texts(await desk.press("结束托管"))
    assert "还有借出未还的：大门钥匙（王师傅）" in said, said
    await desk.say("/keyback #1")
    await desk.say(f"/custody {UNIT}")
    said = texts(await desk.press("结束托管"))
    assert "借出未还" not in said and "读数" in said, said


async def test_an_owner_silent_in_chat_the_desk_records_consent_got_by_phone(demo_app):
    desk = Chat(demo_app, "li")
    owner = Chat(demo_app, "resident")
    await desk.say("/keys add 3-2-1201 备用钥匙 柜B-3")
    await desk.say("/lend 柜B-3 王师傅")
    await owner.inbox()  # asked; no answer
    assert "正在等答复" in texts(await desk.say("/lend 柜B-3 王师傅"))  # not asked twice
    await desk.say("/lend")
    await desk.press("登记借出")
    await desk.say("柜B-3")
    await desk.press("王师傅")
    await desk.press("跳过")
    await desk.press("默认")
    await desk.press("书面")
    await desk.say("业主签字的委托书，存档")
    said = texts(await desk.press("确认提交"))
    assert "书面同意：业主签字的委托书，存档" in said, said
    assert "已借出" in texts(await owner.inbox())
    assert "已处理过" in texts(await owner.press("同意"))  # the old question is void
    [loan] = await loans(demo_app)
    assert loan.consent.startswith("written:") and loan.borrower == "王师傅"
