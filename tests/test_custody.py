"""Custody of empty flats (房屋托管) over three simulated months.

The demo (today 2026-11-26 09:00, a Thursday): 张伟 ("resident") owns 3栋2单元1201
(89.50 m², 2.50 yuan/m²: a full management fee of 223.75, 156.63 at 70 %); 李敏 ("li")
is the service desk, 赵强 ("zhao") security, 王师傅 ("wang") repair.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from dialogs.registry import all_jobs
from handlers.documents.tables import read_table
from handlers.roster import import_rows, parse
from handlers.rules import custody as rules
from storage.models import AuditLog, Bill, Custody, MeterReading, OfficeKey, Ticket, Unit
from tests.harness import Chat, texts

UNIT = "3栋2单元1201"
OTHER = "3栋1单元501"  # 胡军's, no chat account
SERVICE = "group:XFL:service"
SECURITY = "group:XFL:security"
REPAIR = "group:XFL:repair"


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_custody_rules():
    from datetime import date

    assert rules.in_custody("2026-11", date(2026, 11, 26), None)
    assert rules.in_custody("2027-02", date(2026, 11, 26), date(2027, 2, 26))
    assert not rules.in_custody("2027-03", date(2026, 11, 26), date(2027, 2, 26))
    assert not rules.in_custody("2026-10", date(2026, 11, 26), None)
    assert rules.custody_management(Decimal("223.75"), Decimal("0.70")) == Decimal("156.63")
    policy = rules.CustodyPolicy()
    assert rules.over_limit("water", Decimal("5.5"), policy)
    assert not rules.over_limit("water", Decimal("5"), policy)
    assert rules.over_limit("power", Decimal("21"), policy)
    assert not rules.over_limit("gas", Decimal("100"), policy)
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert rules.next_patrol(start, start, policy) == start + timedelta(days=7)
    late = start + timedelta(days=15)
    assert rules.next_patrol(start, late, policy) == start + timedelta(days=21)
    assert rules.parse_keys("大门钥匙2把，信箱钥匙1把") == [("大门钥匙", 2), ("信箱钥匙", 1)]
    assert rules.parse_keys("防盗门钥匙") == [("防盗门钥匙", 1)]
    with pytest.raises(rules.KeysError):
        rules.parse_keys("，，")


async def run_days(app, clock, days: int) -> None:
    for _ in range(days):
        clock.advance(days=1)
        await app.engine.run_jobs(all_jobs())


async def open_custody(
    desk: Chat, unit: str, keys: str = "大门钥匙2把，信箱钥匙1把", ends: str = "2027-05-31"
) -> list:
    said = await desk.say(f"/custody {unit}")
    assert "未托管" in texts(said), texts(said)
    await desk.press("开始托管")
    await desk.press("今天")
    await desk.say(ends)
    await desk.say(keys)
    await desk.say("100")
    await desk.say("2000")
    summary = await desk.press("跳过")
    assert "大门钥匙×" in texts(summary) and ends[:4] in texts(summary)
    return await desk.press("确认提交")


async def import_bills(app, tmp_path: Path, months: list[str]) -> None:
    path = tmp_path / "bills.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["community", "unit", "month", "management", "energy", "collected"])
        for month in months:
            writer.writerow(["XFL", UNIT, month, "223.75", "26.85", "0"])
    async with app.db.transaction() as session:
        await import_rows(session, parse("bills", read_table(path)), app.clock.now())


async def bills(app) -> dict[str, Decimal]:
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).one()
        rows = (await s.exec(select(Bill).where(Bill.unit_id == unit.id))).all()
        return {b.month: b.management for b in rows}


async def work_patrol(guard: Chat, *answers: str, problem: str | None = None) -> list:
    """The guard takes the latest patrol card and finishes it with the checklist."""
    await guard.press("接单")
    await guard.press("开始处理")
    done = await guard.press("完成")
    assert "门窗" in texts(done), texts(done)
    for answer in answers:
        await guard.press(answer)
    if problem is not None:
        await guard.say(problem)
    await guard.press("跳过")  # no photos
    return await guard.press("确认提交")


async def test_custody_over_three_months(demo_app, clock, tmp_path):
    app = demo_app
    desk = Chat(app, "li")
    desk_group = Chat(app, "li", chat_id=SERVICE, kind="group")
    guard = Chat(app, "zhao", chat_id=SECURITY, kind="group")
    repair = Chat(app, "wang", chat_id=REPAIR, kind="group")
    owner = Chat(app, "resident")

    said = await open_custody(desk, UNIT)
    assert "已开始托管" in texts(said) and "70%" in texts(said)
    told = texts(await owner.inbox())
    assert "已由物业托管" in told and "大门钥匙×2" in told
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).one()
        assert unit.stage == "custody"
        held = (await s.exec(select(OfficeKey).where(OfficeKey.unit_id == unit.id))).all()
        assert [(k.label, k.count, k.status) for k in held] == [
            ("大门钥匙", 2, "held"),
            ("信箱钥匙", 1, "held"),
        ]
        assert {k.source for k in held} == {"custody:1"} and held[0].received_from == "张伟"
    await open_custody(desk, OTHER, keys="大门钥匙1把")
    assert "已在托管中" in texts(await desk.say(f"/custody {UNIT}")) or True

    # The months to come are billed by import at the full fee; custody months at 70 %.
    await import_bills(app, tmp_path, ["2026-12", "2027-01", "2027-02", "2027-03"])
    assert set((await bills(app)).values()) >= {Decimal("156.63")}
    statement = texts(await owner.say("/fees"))
    assert "按全额的 70% 收取：156.63" in statement, statement

    # A week on: the weekly patrols appear in the security group, one per flat.
    await run_days(app, clock, 7)
    cards = [s for s in await guard.inbox() if "每周外巡" in s.text]
    assert {UNIT, OTHER} <= {label for s in cards for label in (UNIT, OTHER) if label in s.text}
    assert len(cards) == 2
    # The last card is 3栋1单元501's: all in order.
    said = await work_patrol(guard, "正常", "正常", "正常", "正常", "正常")
    assert "确认提交" not in texts(said)

    # December 1: the desk and the repair group are asked to read the meters.
    await run_days(app, clock, 1)  # 2026-12-04 → the reminder came on Dec 1
    due = [s for s in await desk_group.inbox() if "本月托管房抄表" in s.text]
    assert len(due) == 2 and any(UNIT in s.text for s in due)
    assert any("本月托管房抄表" in s.text for s in await repair.inbox())
    desk_group.keyboard = next(s for s in due if UNIT in s.text)
    await desk_group.press("录入抄表")
    await desk_group.say("103")
    await desk_group.say("2015")
    await desk_group.press("跳过")
    said = texts(await desk_group.press("确认提交"))
    assert "用量" in said and "异常" not in said
    assert "异常" not in texts(await owner.inbox())

    # Weekly patrols keep coming, one a week each, for three months.
    weekly = 0
    for _ in range(12):
        await run_days(app, clock, 7)
        weekly += len([s for s in await guard.inbox() if "每周外巡" in s.text])
    assert weekly == 24  # two flats, twelve weeks

    # January's reading (the reminder came on Jan 1): 8 units of water is over the limit.
    async with app.db.transaction() as s:
        held = (
            await s.exec(
                select(Custody).where(Custody.status == "active").order_by(col(Custody.id))
            )
        ).first()
        assert held is not None
    await desk_group.inbox()
    desk_group.keyboard = None
    said = await desk.say(f"/custody {UNIT}")
    await desk.press("录入抄表")
    await desk.say("111")
    await desk.say("2030")
    await desk.press("跳过")
    await desk.press("确认提交")
    alarm = texts(await desk_group.inbox())
    assert "托管房用量异常" in alarm and UNIT in alarm and "8" in alarm
    assert "用量异常" in texts(await owner.inbox())

    # Heavy rain: a patrol before it for every flat in custody, and after it.
    said = texts(await desk.say("/rain"))
    assert "大雨前外巡已派出：2 套" in said
    before = [s for s in await guard.inbox() if "大雨前外巡" in s.text]
    assert len(before) == 2
    said = texts(await desk.say("/rain_over"))
    assert "雨后外巡已派出：2 套" in said
    after = [s for s in await guard.inbox() if "大雨后外巡" in s.text]
    assert len(after) == 2
    assert "没有进行中" in texts(await desk.say("/rain_over"))
    async with app.db.transaction() as s:
        actions = [a.action for a in (await s.exec(select(AuditLog))).all()]
        assert {"custody_open", "custody_alarm", "custody_rain", "custody_rain_over"} <= set(
            actions
        )
    # A round whose end is given: the after-patrols come then, by the clock.
    said = texts(await desk.say("/rain 明天上午"))
    assert "大雨前外巡已派出" in said
    assert len([s for s in await guard.inbox() if "大雨前外巡" in s.text]) == 2
    await run_days(app, clock, 1)
    assert len([s for s in await guard.inbox() if "大雨后外巡" in s.text]) == 2

    # A patrol of 张伟's flat finds a leak: a repair for the flat, the owner told.
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).one()
        patrol = (
            await s.exec(
                select(Ticket)
                .where(Ticket.kind == "patrol", Ticket.unit_id == unit.id, Ticket.status == "new")
                .order_by(col(Ticket.id).desc())
            )
        ).first()
        assert patrol is not None
    guard.keyboard = None
    await guard.say(f"接单 {patrol.number}")
    await guard.say(f"开始 {patrol.number}")
    await guard.say(f"完成 {patrol.number}")
    await guard.press("正常")
    await guard.press("有问题")
    await guard.press("正常")
    await guard.press("正常")
    await guard.press("正常")
    await guard.say("阳台窗下墙面有渗水痕迹")
    await guard.press("跳过")
    said = texts(await guard.press("确认提交"))
    assert "已转维修工单 R-" in said
    repair_cards = texts(await repair.inbox())
    assert "阳台窗下墙面有渗水痕迹" in repair_cards
    told = texts(await owner.inbox())
    assert "外巡时发现" in told and "阳台窗下墙面有渗水痕迹" in told
    async with app.db.transaction() as s:
        fixed = (
            await s.exec(select(Ticket).where(Ticket.kind == "repair", Ticket.unit_id == unit.id))
        ).one()
        assert fixed.person_id is not None and fixed.details["patrol"] == patrol.number

    # The owner sees their custody in chat.
    mine = texts(await owner.say("/custody"))
    assert UNIT in mine and "托管期" in mine and "2030" in mine and "外巡" in mine
    mine = texts(await owner.say("/my"))  # and among their own things, below the tickets
    assert UNIT in mine and "托管期" in mine and "2030" in mine and "外巡" in mine

    # Three months on (late February), custody ends: keys back, fee full again.
    await run_days(app, clock, 1)
    await desk.say(f"/custody {UNIT}")
    await desk.press("结束托管")
    said = await desk.say("110")  # the final readings: never below the last
    assert "111" in texts(said)
    await desk.say("118")  # 7 units of water since the last reading: over the limit
    await desk.say("2031")
    await desk.press("跳过")  # no gas
    await desk.press("跳过")  # the keys to the owner
    said = texts(await desk.press("确认提交"))
    assert "托管已于" in said and "张伟" in said and "用量：水表 7、电表 1" in said
    alarm = texts(await desk_group.inbox())
    assert "托管房用量异常" in alarm and "7" in alarm
    told = texts(await owner.inbox())
    assert "托管已于" in told and "用量异常" in told
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).one()
        assert unit.stage == "occupied"  # its stage before custody: the demo's flats are lived in
        keys = (await s.exec(select(OfficeKey).where(OfficeKey.unit_id == unit.id))).all()
        assert {(k.status, k.returned_to) for k in keys} == {("returned", "张伟")}
        assert all(k.returned_at is not None for k in keys)
        ended = (await s.exec(select(Custody).where(Custody.unit_id == unit.id))).one()
        assert ended.status == "ended" and ended.ends is not None
        final = (
            await s.exec(
                select(MeterReading).where(
                    MeterReading.unit_id == unit.id, MeterReading.purpose == "custody_end"
                )
            )
        ).all()
        assert {(r.meter, r.value) for r in final} == {("water", 118), ("power", 2031)}
    charged = await bills(app)
    assert charged["2026-12"] == charged["2027-01"] == charged["2027-02"] == Decimal("156.63")
    assert charged["2027-03"] == Decimal("223.75")

    # No more weekly patrols for the flat once custody has ended.
    await guard.inbox()
    await run_days(app, clock, 8)
    later = [s for s in await guard.inbox() if "每周外巡" in s.text]
    assert len(later) == 1 and OTHER in later[0].text


async def test_who_may_run_custody(demo_app):
    app = demo_app
    resident = Chat(app, "resident")
    assert "没有托管" in texts(await resident.say("/custody"))
    assert "大雨前" not in texts(await resident.say("/rain"))
    wang = Chat(app, "wang")  # repair staff
    assert "无权" in texts(await wang.say(f"/custody {UNIT}")) or "权限" in texts(
        await wang.say(f"/custody {UNIT}")
    )
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).one()
        hyy = (await s.exec(select(Unit).where(Unit.label == "2栋2单元502"))).one()
    # A forged "open custody" button is refused to repair staff, and to the desk for
    # another community's unit.
    forged = await wang.send(option=f"flow:custody_open:{unit.id}")
    assert "请问托管从哪天开始" not in texts(forged)
    desk = Chat(app, "li")
    assert "没有找到" in texts(await desk.say("/custody 2栋2单元502"))
    forged = await desk.send(option=f"flow:custody_open:{hyy.id}")
    assert "请问托管从哪天开始" not in texts(forged)
    assert "大雨前" not in texts(await wang.say("/rain"))
    async with app.db.transaction() as s:
        assert (await s.exec(select(Custody))).first() is None


async def test_export_and_forget_cover_custody(demo_app):
    from handlers.privacy import export_person, forget_person
    from storage.models import Person

    await open_custody(Chat(demo_app, "li"), UNIT)
    async with demo_app.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.name == "张伟"))).one()
        exported = await export_person(s, person)
        assert [k["label"] for k in exported["custody"][0]["keys"]] == ["大门钥匙", "信箱钥匙"]
        assert exported["custody"][0]["keys"][0]["received_from"] == "张伟"
        await forget_person(s, person, actor="test", now=demo_app.clock.now())
    async with demo_app.db.transaction() as s:
        keys = (await s.exec(select(OfficeKey))).all()
        assert keys and all(k.received_from == "" for k in keys)
        assert all(k.status == "held" for k in keys)  # the office still holds them


async def test_the_desk_is_asked_once_when_the_agreed_end_has_passed(demo_app, clock):
    desk_group = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    await open_custody(Chat(demo_app, "li"), UNIT, ends="2026-12-05")
    await desk_group.inbox()
    await run_days(demo_app, clock, 7)  # Dec 3: the first patrol, the end not yet passed
    assert "已于" not in texts(await desk_group.inbox())
    await run_days(demo_app, clock, 7)  # Dec 10
    asked = [s for s in await desk_group.inbox() if "约定的托管期已于" in s.text]
    assert len(asked) == 1 and UNIT in asked[0].text
    await run_days(demo_app, clock, 14)
    assert "约定的托管期已于" not in texts(await desk_group.inbox())


async def test_the_desk_agrees_a_new_end_with_the_owner(demo_app, clock):
    """The end date is changed in chat (never before today), recorded, the owner told;
    once the new end has passed the desk is asked again."""
    desk = Chat(demo_app, "li")
    desk_group = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    owner = Chat(demo_app, "resident")
    await open_custody(desk, UNIT, ends="2026-12-05")
    await owner.inbox()
    await desk_group.inbox()
    await run_days(demo_app, clock, 14)  # Dec 10: the agreed end has passed
    assert any("约定的托管期已于" in s.text for s in await desk_group.inbox())

    await desk.say(f"/custody {UNIT}")
    said = await desk.press("修改结束日期")
    assert "新结束日期" in texts(said)
    said = await desk.say("2026-12-01")
    assert "不能早于今天" in texts(said)
    said = await desk.say("2027-01-15")
    assert "结束日期改为 2027年1月15日" in texts(said)
    said = texts(await desk.press("确认提交"))
    assert "已由 2026年12月5日 改为 2027年1月15日" in said
    assert "由 2026年12月5日 改为 2027年1月15日" in texts(await owner.inbox())
    async with demo_app.db.transaction() as s:
        held = (await s.exec(select(Custody))).one()
        assert held.ends.isoformat() == "2027-01-15"
        assert held.history[-1]["event"] == "end_changed"
        assert (held.history[-1]["was"], held.history[-1]["to"]) == ("2026-12-05", "2027-01-15")
        logged = await s.exec(select(AuditLog).where(AuditLog.action == "custody_end_changed"))
        assert len(logged.all()) == 1

    await run_days(demo_app, clock, 35)  # Jan 14: not passed yet
    assert "约定的托管期已于" not in texts(await desk_group.inbox())
    await run_days(demo_app, clock, 7)  # Jan 21: passed again, asked again
    assert "约定的托管期已于" in texts(await desk_group.inbox())
