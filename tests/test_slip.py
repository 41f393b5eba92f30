"""Release slips: the request, the owner's consent, the desk's decision, the gate.

The demo (today 2026-11-26 09:00): 张伟 ("resident") owns 3栋2单元1201 with no arrears and
李娜 is a household member there; 赵敏 owns 1栋1单元302, three months unpaid; 刘洋
("tenant") rents 3栋2单元1202 (one month unpaid) from 王芳, who has no chat yet. Staff:
李敏 ("li", service desk), 赵强 ("zhao", security), 王师傅 ("wang", repair).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from handlers.rules import slip as rules
from storage.models import (
    AuditLog,
    Bill,
    ReleaseSlip,
    Ticket,
    TicketEvent,
    Unit,
)
from tests.conversations import chat_as
from tests.harness import Chat, texts

SERVICE = "group:XFL:service"
SECURITY = "group:XFL:security"


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    """QR images go to data/slips/ under the working directory: keep them in tmp."""
    monkeypatch.chdir(tmp_path)


# ---- helpers -------------------------------------------------------------------------


LABELS = {
    "zh": {"done": "完成", "skip": "跳过", "morning": "上午", "submit": "确认提交"},
    "en": {"done": "Done", "skip": "Skip", "morning": "Morning", "submit": "Submit"},
}


async def ask_for_slip(
    chat: Chat,
    items: str = "沙发1张，冰箱1台",
    plate: str | None = "浙A12345",
    day: str = "明天",
    lang: str = "zh",
) -> list:
    """The whole request, answered as a resident would; returns what submitting said."""
    label = LABELS[lang]
    await chat.say("/slip")
    await chat.say(items)
    await chat.press(label["done"])
    await (chat.say(plate) if plate else chat.press(label["skip"]))
    await chat.say(day)
    said = await chat.press(label["morning"])
    assert (plate or "") in texts(said)
    return await chat.press(label["submit"])


async def the_slip(app) -> ReleaseSlip:
    async with app.db.transaction() as s:
        return (await s.exec(select(ReleaseSlip).order_by(ReleaseSlip.id.desc()))).first()


async def events(app, slip: ReleaseSlip) -> list[str]:
    async with app.db.transaction() as s:
        rows = await s.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == slip.ticket_id)
            .order_by(TicketEvent.id)
        )
        return [e.action for e in rows.all()]


async def audited(app, code: str) -> list[str]:
    async with app.db.transaction() as s:
        rows = await s.exec(select(AuditLog).where(AuditLog.target == code).order_by(AuditLog.id))
        return [e.action for e in rows.all()]


async def ticket_of(app, slip: ReleaseSlip) -> Ticket:
    async with app.db.transaction() as s:
        return await s.get(Ticket, slip.ticket_id)


def is_png(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89PNG\r\n\x1a\n"


# ---- rules ---------------------------------------------------------------------------


def test_items_are_read_with_their_quantities():
    assert rules.parse_items("沙发1张，冰箱1台") == [
        {"name": "沙发", "qty": 1, "measure": "张"},
        {"name": "冰箱", "qty": 1, "measure": "台"},
    ]
    assert rules.parse_items("两个纸箱、床垫一张") == [
        {"name": "纸箱", "qty": 2, "measure": "个"},
        {"name": "床垫", "qty": 1, "measure": "张"},
    ]
    assert [i["qty"] for i in rules.parse_items("2 chairs, fridge x1 and 12 boxes")] == [2, 1, 12]
    # a numeral that belongs to the name stays in it
    assert rules.parse_items("三人沙发") == [{"name": "三人沙发", "qty": 1, "measure": ""}]
    with pytest.raises(rules.Invalid) as error:
        rules.parse_items("纸箱0个")
    assert error.value.key == "slip.error.quantity"
    with pytest.raises(rules.Invalid):
        rules.parse_items("椅子", already=rules.MAX_ITEMS)


def test_plates_days_codes_and_verdicts():
    assert rules.parse_plate("浙A 12345") == "浙A12345"
    assert rules.parse_plate("浙ad12345") == "浙AD12345"  # new energy, 8 characters
    assert rules.parse_plate("浙A12345F") == "浙A12345F"
    for bad in ("浙A1234", "浙AI2345", "ZA12345", "浙A123456", "浙AX12345"):
        assert rules.parse_plate(bad) is None, bad
    today = date(2026, 11, 26)
    assert rules.slip_day("后天", today).day == date(2026, 11, 28)
    assert rules.slip_day("Tomorrow", today).day == date(2026, 11, 27)
    assert rules.slip_day("12/1", today).day == date(2026, 12, 1)
    assert rules.slip_day("2026年11月30日", today).day == date(2026, 11, 30)
    assert rules.slip_day("1/2", date(2026, 12, 30)).day == date(2027, 1, 2)
    assert rules.slip_day("周六下午", today) == (date(2026, 11, 28), "afternoon")
    for past in ("昨天", "2026-11-25", "11/1"):
        with pytest.raises(rules.Invalid) as error:
            rules.slip_day(past, today)
        assert error.value.key == "slip.error.past_date", past
    with pytest.raises(rules.Invalid) as error:
        rules.slip_day("下周", date(2026, 12, 31))
    # the example in the apology is tomorrow, as the resident would type it
    assert error.value.params == {"value": "下周", "example": "2027-01-01", "example_short": "1/1"}
    with pytest.raises(rules.Invalid) as error:
        rules.slip_day("2027-01-05", today)
    assert error.value.key == "slip.error.too_far"
    code = rules.new_code(lambda n: n - 1)
    assert code == "999999" and all(c in rules.ALPHABET for c in code)
    assert not set("0O1IL") & set(rules.ALPHABET)
    assert rules.normalise_code(" fdslip:k7qw2m ") == "K7QW2M"
    assert rules.verdict("approved", today, today) == "valid"
    assert rules.verdict("approved", date(2026, 11, 27), today) == "not_yet"
    assert rules.verdict("approved", date(2026, 11, 25), today) == "expired"
    assert rules.verdict("used", today, today) == "used"
    assert rules.verdict("cancelled", today, today) == "cancelled"
    assert rules.verdict("desk_pending", today, today) == "pending"
    yesterday = date(2026, 11, 25)
    assert rules.state("approved", yesterday, today) == "expired"
    assert [s for s in rules.STATES if rules.cancellable(s, today, today)] == [
        "owner_pending",
        "desk_pending",
        "approved",
    ]
    assert not rules.cancellable("approved", yesterday, today)


def test_every_state_and_event_a_resident_sees_has_its_words(demo_app):
    for locale in ("zh_CN", "en"):
        for state in rules.STATES:
            assert demo_app.catalogs.has(locale, f"slip.state.{state}"), (locale, state)
        for status in (*rules.PENDING, "approved", "denied", "used", "cancelled"):
            assert demo_app.catalogs.has(locale, f"slip.status.{status}"), (locale, status)
            verdict = rules.verdict(status, date(2026, 11, 26), date(2026, 11, 26))
            assert demo_app.catalogs.has(locale, f"slip.verdict.{verdict}"), (locale, verdict)
        for event in rules.EVENTS:
            assert demo_app.catalogs.has(locale, f"slip.event.{event}"), (locale, event)


def test_who_decides():
    assert rules.first_status("owner", owner_reachable=False, arrears=False) == "approved"
    assert rules.first_status("owner", owner_reachable=False, arrears=True) == "desk_pending"
    for role in ("tenant", "member", "delegate"):
        assert rules.first_status(role, True, False) == "owner_pending"
        assert rules.first_status(role, False, False) == "desk_pending"
    assert rules.after_owner_consent(arrears=True) == "desk_pending"
    assert rules.after_owner_consent(arrears=False) == "approved"


# ---- an owner without arrears --------------------------------------------------------


async def test_an_owner_without_arrears_gets_the_slip_at_once(demo_app):
    resident = Chat(demo_app, "resident")
    said = await ask_for_slip(resident)
    [approved] = said
    slip = await the_slip(demo_app)
    assert slip.status == "approved" and len(slip.code) == 6
    assert f"放行码 {slip.code}" in approved.text and "沙发 1张、冰箱 1台" in approved.text
    assert "2026年11月27日" in approved.text and "仅限当天使用一次" in approved.text
    assert is_png(approved.payload["photo"])
    assert slip.items == [
        {"name": "沙发", "qty": 1, "measure": "张"},
        {"name": "冰箱", "qty": 1, "measure": "台"},
    ]
    assert slip.plate == "浙A12345" and slip.day == date(2026, 11, 27)
    assert (await ticket_of(demo_app, slip)).status == "accepted"
    assert await events(demo_app, slip) == ["created", "auto_approved"]
    assert await audited(demo_app, slip.code) == ["slip_auto_approved"]

    guards = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    [card] = await guards.inbox()
    assert slip.code in card.text and "3栋2单元1201" in card.text and "浙A12345" in card.text
    assert await Chat(demo_app, "li", chat_id=SERVICE, kind="group").inbox() == []


async def test_an_owner_gets_the_slip_in_english(demo_app):
    resident = Chat(demo_app, "resident")
    await resident.say("/lang en")
    said = await ask_for_slip(
        resident, items="sofa x1, 3 boxes", plate=None, day="tomorrow", lang="en"
    )
    slip = await the_slip(demo_app)
    text = texts(said)
    assert f"Your release slip is approved. Code: {slip.code}" in text
    assert "sofa × 1, boxes × 3" in text and "no vehicle" in text and "Nov 27, 2026" in text
    assert is_png(said[0].payload["photo"])


# ---- arrears: the service desk decides -----------------------------------------------


async def test_with_arrears_the_service_desk_decides(demo_app):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    said = await ask_for_slip(owner)
    assert "未缴物业费" in texts(said) and "放行码" not in texts(said)
    slip = await the_slip(demo_app)
    assert slip.status == "desk_pending"

    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    [card] = await desk.inbox()
    assert "放行条待审核" in card.text and slip.code in card.text
    assert "欠费 2026年08月、2026年09月、2026年10月，合计 ¥852.60" in card.text
    assert "业主未在线绑定" not in card.text
    assert [b["label"] for b in card.buttons] == ["批准", "不批准"]

    # a resident or a guard pressing the desk's button changes nothing
    said = await owner.send(option=f"act:slip_desk_ok:{slip.id}")
    assert "没有权限" in texts(said)
    said = await Chat(demo_app, "zhao").send(option=f"act:slip_desk_ok:{slip.id}")
    assert "没有权限" in texts(said)
    assert (await the_slip(demo_app)).status == "desk_pending"

    said = await desk.press("批准")
    assert "处理人：李敏" in texts(said) and "已批准" in texts(said)
    [approved] = await owner.inbox()
    assert f"放行码 {slip.code}" in approved.text and is_png(approved.payload["photo"])
    [gate] = await Chat(demo_app, "zhao", chat_id=SECURITY, kind="group").inbox()
    assert slip.code in gate.text
    assert await events(demo_app, slip) == ["created", "sent_to_desk", "desk_approved"]
    assert await audited(demo_app, slip.code) == ["slip_desk_approved"]

    said = await desk.send(option=f"act:slip_desk_no:{slip.id}")
    assert "已经处理过了" in texts(said) and "已批准" in texts(said)


async def test_the_desk_may_refuse(demo_app):
    owner = await chat_as(demo_app, "zhaomin", "赵敏", locale="en")
    await ask_for_slip(owner, lang="en", day="today")
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    await desk.inbox()
    await desk.press("不批准")
    said = await owner.inbox()
    assert "was not approved" in texts(said)
    slip = await the_slip(demo_app)
    assert slip.status == "denied" and (await ticket_of(demo_app, slip)).status == "cannot_do"
    assert await Chat(demo_app, "zhao", chat_id=SECURITY, kind="group").inbox() == []


# ---- a household member or tenant: the owner confirms --------------------------------


async def test_a_household_members_slip_waits_for_the_owner(demo_app):
    member = await chat_as(demo_app, "lina", "李娜")
    said = await ask_for_slip(member)
    assert "需要业主确认" in texts(said)
    slip = await the_slip(demo_app)
    assert slip.status == "owner_pending"

    owner = Chat(demo_app, "resident")
    [ask] = await owner.inbox()
    assert "李娜（家庭成员）" in ask.text and "沙发 1张、冰箱 1台" in ask.text
    assert [b["label"] for b in ask.buttons] == ["同意", "不同意"]

    # the tenant of the next door flat, and the service desk, cannot answer for the owner
    for someone in (Chat(demo_app, "tenant"), Chat(demo_app, "li")):
        said = await someone.send(option=f"act:slip_owner_ok:{slip.id}")
        assert "没有权限" in texts(said)
    assert (await the_slip(demo_app)).status == "owner_pending"

    said = await owner.press("同意")
    assert "您已同意" in texts(said)
    [approved] = await member.inbox()
    assert f"放行码 {slip.code}" in approved.text and is_png(approved.payload["photo"])
    [gate] = await Chat(demo_app, "zhao", chat_id=SECURITY, kind="group").inbox()
    assert slip.code in gate.text and "李娜" in gate.text
    assert await events(demo_app, slip) == ["created", "sent_to_owner", "owner_approved"]
    assert await audited(demo_app, slip.code) == ["slip_owner_approved"]
    said = await owner.send(option=f"act:slip_owner_no:{slip.id}")
    assert "已经处理过了" in texts(said)


async def test_the_owner_may_decline(demo_app):
    member = await chat_as(demo_app, "lina", "李娜")
    await ask_for_slip(member)
    owner = Chat(demo_app, "resident")
    await owner.inbox()
    said = await owner.press("不同意")
    assert "已记录您不同意" in texts(said)
    assert "业主未同意" in texts(await member.inbox())
    slip = await the_slip(demo_app)
    assert slip.status == "denied"
    assert await events(demo_app, slip) == ["created", "sent_to_owner", "owner_denied"]


async def test_a_tenant_with_no_owner_in_chat_goes_to_the_desk(demo_app):
    tenant = Chat(demo_app, "tenant")
    said = await ask_for_slip(tenant)
    assert "无法在线联系到业主" in texts(said)
    assert "物业费" not in texts(said)  # the owner's arrears are not the tenant's to hear
    [card] = await Chat(demo_app, "li", chat_id=SERVICE, kind="group").inbox()
    assert "刘洋（租户）" in card.text
    assert "业主未在线绑定" in card.text and "欠费 2026年10月，合计 ¥265.60" in card.text


async def test_a_tenant_in_arrears_needs_the_owner_and_then_the_desk(demo_app):
    owner = await chat_as(demo_app, "wangfang", "王芳")
    tenant = Chat(demo_app, "tenant")
    await ask_for_slip(tenant)
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    assert await desk.inbox() == []
    await owner.inbox()
    said = await owner.press("同意")
    assert "您已同意" in texts(said) and "未缴物业费" in texts(said)  # the owner may be told
    said = await tenant.inbox()
    assert "还需要客服中心确认" in texts(said)
    assert "物业费" not in texts(said) and "欠费" not in texts(said)
    [card] = await desk.inbox()
    assert "欠费 2026年10月" in card.text and "业主未在线绑定" not in card.text
    await desk.press("批准")
    slip = await the_slip(demo_app)
    assert f"放行码 {slip.code}" in texts(await tenant.inbox())
    assert await events(demo_app, slip) == [
        "created",
        "sent_to_owner",
        "owner_approved",
        "sent_to_desk",
        "desk_approved",
    ]


# ---- at the gate -----------------------------------------------------------------------


async def test_the_guard_checks_the_slip_on_its_day_and_lets_it_out_once(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await ask_for_slip(resident, day="明天")
    slip = await the_slip(demo_app)
    guard = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    await guard.inbox()

    said = await guard.say(f"/slip {slip.code}")
    text = texts(said)
    assert "3栋2单元1201" in text and "沙发 1张、冰箱 1台" in text and "浙A12345" in text
    assert "还没到日期" in text and said[-1].buttons == []

    clock.advance(days=1)
    said = await guard.say(f"/slip fdslip:{slip.code.lower()}")  # as scanned from the QR
    assert "有效" in texts(said)
    said = await guard.press("确认放行")
    assert "已放行" in texts(said)
    assert "已在门岗核验放行" in texts(await resident.inbox())
    used = await the_slip(demo_app)
    assert used.status == "used" and used.used_at == clock.now()
    assert (await ticket_of(demo_app, used)).status == "done"
    assert await audited(demo_app, slip.code) == ["slip_auto_approved", "slip_used"]

    said = await guard.send(option=f"act:slip_use:{slip.id}")  # pressed again
    assert "不能使用" in texts(said) and "不能重复使用" in texts(said)
    said = await guard.say(f"/slip {slip.code}")
    assert "已使用" in texts(said) and said[-1].buttons == []


async def test_a_slip_is_refused_on_another_day(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await ask_for_slip(resident, day="今天")
    slip = await the_slip(demo_app)
    clock.advance(days=1)
    guard = Chat(demo_app, "zhao")
    said = await guard.say(f"/slip {slip.code}")
    assert "已过期" in texts(said) and said[-1].buttons == []
    said = await guard.send(option=f"act:slip_use:{slip.id}")
    assert "已过期" in texts(said)
    assert (await the_slip(demo_app)).status == "approved"


async def test_only_security_and_supervisors_check_slips(demo_app):
    resident = Chat(demo_app, "resident")
    await ask_for_slip(resident, day="今天")
    slip = await the_slip(demo_app)
    for who in ("resident", "wang", "li"):
        said = await Chat(demo_app, who).say(f"/slip {slip.code}")
        assert "没有权限" in texts(said), who
    said = await resident.send(option=f"act:slip_use:{slip.id}")
    assert "没有权限" in texts(said)
    assert (await the_slip(demo_app)).status == "approved"
    said = await Chat(demo_app, "zhou").say(f"/slip {slip.code}")
    assert "有效" in texts(said)
    said = await Chat(demo_app, "zhao").say("/slip ZZZZZZ")
    assert "没有找到放行码 ZZZZZZ" in texts(said)
    said = await Chat(demo_app, "zhao", chat_id=SECURITY, kind="group").say("/slip")
    assert "/slip 放行码" in texts(said)


# ---- bad answers -------------------------------------------------------------------------


async def test_a_bad_plate_and_a_past_date_are_refused_politely(demo_app):
    resident = Chat(demo_app, "resident")
    await resident.say("/slip")
    said = await resident.say("   ")
    assert "不能为空" in texts(said)
    said = await resident.say("书桌1张")
    assert "已添加 1 件物品" in texts(said)
    said = await resident.say("衣柜两个，纸箱10个")
    assert "已添加 3 件物品" in texts(said) and "张" not in said[0].text  # items, not photos
    assert "目前已登记：书桌 1张、衣柜 2个、纸箱 10个" in texts(said)
    await resident.press("完成")
    said = await resident.say("浙A1234")
    assert "「浙A1234」不像是有效的车牌号" in texts(said) and "车牌号" in said[-1].text
    said = await resident.say("浙AD12345")
    assert "哪天搬出" in texts(said)
    assert "「2026-11-27」或「11/27」" in texts(said)  # tomorrow, written as one would type it
    said = await resident.say("2026-11-20")
    assert "已经过去了" in texts(said) and "哪天搬出" in said[-1].text
    said = await resident.say("下周")
    assert "没看懂「下周」是哪一天" in texts(said) and "2026-11-27、11/27" in texts(said)
    await resident.say("11/28")
    said = await resident.press("上午")
    summary = texts(said)
    assert "书桌 1张、衣柜 2个、纸箱 10个" in summary and "浙AD12345" in summary
    assert "2026年11月28日" in summary

    await resident.say("/lang en")
    await resident.say("/cancel")
    await resident.say("/slip")
    await resident.say("sofa x1")
    await resident.press("Done")
    said = await resident.say("ABC-123")
    assert "does not look like a valid plate" in texts(said)
    await resident.press("Skip")
    said = await resident.say("yesterday")
    assert "has already passed" in texts(said)
    said = await resident.say("someday")
    assert "a date like 2026-11-27 or 11/27" in texts(said)


async def test_a_date_with_a_time_of_day_answers_the_time_too(demo_app):
    resident = Chat(demo_app, "resident")
    await resident.say("/slip")
    await resident.say("沙发1张")
    await resident.press("完成")
    await resident.press("跳过")
    said = await resident.say("周六下午")
    summary = texts(said)
    assert "请核对放行条申请" in summary and "大概什么时间段" not in summary
    assert "2026年11月28日" in summary and "下午（13:00–17:00）" in summary
    said = await resident.press("确认提交")
    assert "下午（13:00–17:00）" in texts(said)
    slip = await the_slip(demo_app)
    assert slip.day == date(2026, 11, 28) and slip.window == "window:afternoon"


async def test_tomorrow_is_the_office_s_tomorrow(demo_app, clock):
    """00:30 in Shanghai is still the day before in UTC: "明天" is the office's tomorrow."""
    clock.set(datetime(2026, 11, 26, 16, 30, tzinfo=UTC))
    resident = Chat(demo_app, "resident")
    await resident.say("/slip")
    await resident.say("沙发1张")
    await resident.press("完成")
    said = await resident.press("跳过")
    assert "「2026-11-28」或「11/28」" in texts(said)
    await resident.say("明天")
    said = await resident.press("上午")
    assert "2026年11月28日" in texts(said)


async def test_an_unbound_chat_is_asked_to_bind_first(demo_app):
    said = await Chat(demo_app, "stranger").say("/slip")
    assert "绑定房屋" in texts(said)
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(ReleaseSlip))).all() == []
        assert (await s.exec(select(Bill).where(Bill.id == -1))).all() == []
        assert (await s.exec(select(Unit).where(Unit.id == -1))).all() == []


# ---- the applicant cancels ---------------------------------------------------------------


async def open_in_my(chat: Chat, slip: ReleaseSlip) -> list:
    await chat.say("/my")
    return await chat.send(option=f"act:my_view:{slip.ticket_id}")


async def test_a_cancelled_slip_is_void_at_the_gate_at_once(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await ask_for_slip(resident, day="今天")
    slip = await the_slip(demo_app)
    guards = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    await guards.inbox()

    await open_in_my(resident, slip)
    said = await resident.press("取消放行条")
    assert f"放行码 {slip.code} 已作废" in texts(said)
    cancelled = await the_slip(demo_app)
    assert cancelled.status == "cancelled"
    assert (await ticket_of(demo_app, slip)).status == "cancelled"
    assert await events(demo_app, slip) == ["created", "auto_approved", "cancelled"]
    assert await audited(demo_app, slip.code) == ["slip_auto_approved", "slip_cancelled"]

    [void] = await guards.inbox()
    assert "放行条作废" in void.text and slip.code in void.text and "3栋2单元1201" in void.text
    said = await guards.say(f"/slip {slip.code}")
    assert "已由申请人取消" in texts(said) and "已取消" in texts(said)
    assert said[-1].buttons == []
    said = await guards.send(option=f"act:slip_use:{slip.id}")  # the old card's way
    assert "不能使用" in texts(said)
    assert (await the_slip(demo_app)).status == "cancelled"

    # once is enough: the cancel button is gone and a crafted one changes nothing
    said = await open_in_my(resident, slip)
    assert "已取消，放行码已作废" in texts(said) and f"{slip.code}（已作废）" in texts(said)
    assert said[-1].buttons == []
    said = await resident.send(option=f"act:my_cancel:{slip.ticket_id}")
    assert "不能再取消" in texts(said)
    assert await guards.inbox() == []


async def test_the_void_notice_for_today_reaches_the_gate_even_at_night(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await ask_for_slip(resident, day="今天")
    slip = await the_slip(demo_app)
    guards = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    await guards.inbox()
    clock.advance(hours=14)  # 23:00, quiet hours
    await open_in_my(resident, slip)
    await resident.press("取消放行条")
    [void] = await guards.inbox()
    assert "放行条作废" in void.text and slip.code in void.text


async def test_the_void_notice_for_a_later_day_waits_out_the_night(demo_app, clock):
    resident = Chat(demo_app, "resident")
    await ask_for_slip(resident, day="明天")
    slip = await the_slip(demo_app)
    guards = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    await guards.inbox()
    clock.advance(hours=14)  # 23:00
    await open_in_my(resident, slip)
    await resident.press("取消放行条")
    assert await guards.inbox() == []  # quiet hours: tomorrow's slip can wait for 07:00
    said = await guards.say(f"/slip {slip.code}")
    assert "已由申请人取消" in texts(said)  # the gate knows at once all the same
    clock.advance(hours=8)
    assert "放行条作废" in texts(await guards.inbox())


async def test_a_request_withdrawn_before_the_owner_answers(demo_app):
    member = await chat_as(demo_app, "lina", "李娜")
    await ask_for_slip(member)
    slip = await the_slip(demo_app)
    owner = Chat(demo_app, "resident")
    [ask] = await owner.inbox()
    await open_in_my(member, slip)
    said = await member.press("取消放行条")
    assert "已为您取消" in texts(said)
    [withdrawn] = await owner.inbox()
    assert "李娜（家庭成员）已撤回" in withdrawn.text and withdrawn.buttons == []
    assert withdrawn.payload["card"] == ask.payload["card"]  # the question is edited away
    said = await owner.send(option=ask.button("同意"))
    assert "已经处理过了" in texts(said) and "已取消" in texts(said)
    assert (await the_slip(demo_app)).status == "cancelled"
    assert await Chat(demo_app, "zhao", chat_id=SECURITY, kind="group").inbox() == []
    assert await events(demo_app, slip) == ["created", "sent_to_owner", "cancelled"]


async def test_a_request_withdrawn_before_the_desk_decides(demo_app):
    owner = await chat_as(demo_app, "zhaomin", "赵敏")
    await ask_for_slip(owner)
    slip = await the_slip(demo_app)
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    [card] = await desk.inbox()
    await open_in_my(owner, slip)
    await owner.press("取消放行条")
    [withdrawn] = await desk.inbox()
    assert "放行条已撤回" in withdrawn.text and withdrawn.buttons == []
    assert withdrawn.payload["card"] == card.payload["card"]
    said = await desk.send(option=card.button("批准"))
    assert "已经处理过了" in texts(said)
    assert (await the_slip(demo_app)).status == "cancelled"
    assert await Chat(demo_app, "zhao", chat_id=SECURITY, kind="group").inbox() == []


async def test_a_used_slip_cannot_be_cancelled(demo_app):
    resident = Chat(demo_app, "resident")
    await ask_for_slip(resident, day="今天")
    slip = await the_slip(demo_app)
    guard = Chat(demo_app, "zhao")
    await guard.say(f"/slip {slip.code}")
    await guard.press("确认放行")
    said = await open_in_my(resident, slip)
    assert "已使用" in texts(said) and said[-1].buttons == []
    said = await resident.send(option=f"act:my_cancel:{slip.ticket_id}")
    assert "目前已使用，不能再取消" in texts(said)
    assert (await the_slip(demo_app)).status == "used"
