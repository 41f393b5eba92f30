"""Move-in (入住), as conversations: the desk works through the checklist with a company
owner's delegate, the repair group inspects (readings, two defects), a re-inspection is
agreed and reminded, the owner signs off, the desk completes it, and the warranty of a
repair filed afterwards follows the handover date it set.

The demo (today 2026-11-26 09:00): 李敏 ("li") is the service desk, 王师傅 ("wang")
repairs, 周主管 ("zhou") supervises XFL. The unit here, 1栋2单元602, is a new one that
杭州新居科技有限公司 bought; 孙立 acts for it.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import col, select

from dialogs.registry import all_jobs
from handlers import movein_actions, movein_papers, movein_record, privacy
from handlers.cards import Accept, Start
from handlers.rules import movein as rules
from storage.models import (
    AuditLog,
    Binding,
    Community,
    Document,
    MeterReading,
    MoveIn,
    Outbox,
    Payment,
    Person,
    Role,
    StaffMember,
    Ticket,
    Unit,
    UnitEvent,
)
from tests.conversations import repair_group
from tests.factories import make_unit
from tests.harness import Chat, texts

UNIT = "1栋2单元602"


async def new_unit(app) -> int:
    """A unit not handed over yet, bought by a company with a delegate on the roster, and
    the water meter's reading the developer left (12.5)."""
    async with app.db.transaction() as s:
        xfl = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        unit = await make_unit(s, xfl, building="1栋", label=UNIT, area=Decimal("132.60"))
        now = app.clock.now()
        company = Person(
            name="杭州新居科技有限公司", phone="13800000040", is_company=True, created_at=now
        )
        delegate = Person(name="孙立", phone="13800000041", created_at=now)
        s.add(company)
        s.add(delegate)
        await s.flush()
        for person, role in ((company, Role.owner), (delegate, Role.delegate)):
            s.add(Binding(person_id=person.id, unit_id=unit.id, role=role, created_at=now))
        s.add(
            MeterReading(
                unit_id=unit.id,
                meter="water",
                value=Decimal("12.5"),
                purpose="developer",
                read_by="developer",
                at=now,
            )
        )
        assert unit.id is not None
        return unit.id


async def the_move_in(app) -> MoveIn:
    async with app.db.transaction() as s:
        return (await s.exec(select(MoveIn).order_by(col(MoveIn.id).desc()))).first()


async def finish_rework(app, group: Chat, ticket_id: int, note: str) -> None:
    """王师傅 takes a rework order, does it and says so (it is free: no amount asked)."""
    await group.send(option=Accept(ticket_id).value())
    await group.send(option=Start(ticket_id).value())
    await group.send(option=f"flow:task_done:{ticket_id}")
    await group.say(note)
    await group.press("跳过")
    await group.press("确认提交")


async def desk_papers_forms_fees_items(desk: Chat) -> None:
    for paper in ("单位证明", "购房合同", "委托书", "受托人身份证"):
        await desk.press("登记证件")
        await desk.press(paper)
        said = await desk.photo(f"photo-{paper}")
        assert "已存档" in texts(said)
    await desk.press("住户登记表")
    said = await desk.say("孙小明 13900000031；孙小红")
    assert "2 位家庭成员已绑定房屋" in texts(said)
    for form in ("物业服务协议", "装修管理协议", "临时管理规约"):
        await desk.press(form)
    await desk.press("收取费用")
    await desk.say("2680")
    said = await desk.say("SJ20261126001")
    assert "SJ20261126001" in texts(said)
    await desk.press("交付钥匙")
    await desk.say("4")
    await desk.say("入户门3把、信箱1把")
    for item in ("业主手册", "装修须知", "水电图"):
        said = await desk.press(item)
    assert "还差：验房" in texts(said)


async def test_a_company_owners_delegate_moves_in_and_the_warranty_follows(demo_app, clock):
    unit_id = await new_unit(demo_app)
    desk = Chat(demo_app, "li")
    group = repair_group(demo_app, "wang")
    await group.inbox()

    # The desk opens the move-in: the unit is being handed over, a code for the delegate.
    said = await desk.say(f"/movein {UNIT}")
    assert "业主邀请码" in texts(said)
    code = re.search(r"业主邀请码：(\S+?)（", texts(said)).group(1)
    assert "还差：单位证明、购房合同或入住通知书、委托书、受托人身份证" in texts(said)
    sunli = Chat(demo_app, "sunli")
    said = await sunli.send(text=f"/start {code}", user_name="孙立")
    assert "绑定成功" in texts(said)

    await desk_papers_forms_fees_items(desk)

    # The inspection goes to the repair group; the delegate is told.
    said = await desk.press("派工验房")
    assert "验房工单 I-" in texts(said)
    [card] = await group.inbox()
    assert "客厅、卧室、厨房、卫生间、阳台" in card.text and "给排水" in card.text
    assert "入住验房已安排" in texts(await sunli.inbox())

    # Readings, together: one below the meter's last is refused politely.
    await group.press("录入水电气底数")
    said = await group.say("10")
    assert "比上次的 12.5 还小" in texts(said)
    await group.say("15.5")
    await group.say("320")
    said = await group.say("8")
    assert "底数已录入" in texts(said)
    said = await sunli.inbox()
    assert "水表 15.5" in texts(said) and "电表 320" in texts(said)
    await sunli.press("底数无误")

    # Two defects: each a repair order for the developer's rework.
    for room, check, what in (("卫生间", "给排水", "地漏反水"), ("卧室", "门窗", "窗户关不严")):
        await group.press("登记问题")
        await group.press(room)
        await group.press(check)
        said = await group.say(what)
        assert "整改工单 R-" in texts(said)
    said = await group.press("验房完毕")
    told = texts(await sunli.inbox())
    assert "整改工单" in told and "共发现 2 项问题" in told
    move_in = await the_move_in(demo_app)
    async with demo_app.db.transaction() as s:
        found = await movein_record.view(s, move_in)
        assert [t.details["rework"] for t in found.defects] == ["developer", "developer"]
        assert [t.paid for t in found.defects] == [False, False]
        assert found.inspection is not None and found.inspection.status == "done"
        assert {r.meter: r.confirmed_at is not None for r in found.readings} == {
            "water": True,
            "power": True,
            "gas": True,
        }
        defect_ids = [t.id for t in found.defects]

    # Too early to complete; the rework is done like any repair.
    said = await desk.say(f"/movein {UNIT}")
    assert "还差：问题整改、复验、业主签收" in texts(said)
    for ticket_id in defect_ids:
        await finish_rework(demo_app, group, ticket_id, "已整改")

    # A re-inspection agreed with the owner; the reminder comes an hour before.
    await desk.say(f"/movein {UNIT}")
    await desk.press("约定复验时间")
    said = await desk.say("明天上午10点")
    assert "2026-11-27 10:00" in texts(said)
    assert "复验时间已约定" in texts(await sunli.inbox())
    said = await sunli.say("/movein")  # the owner's own view of it
    assert "还差：复验、业主签收" in texts(said) and "复验时间：2026-11-27 10:00" in texts(said)
    said = await sunli.say("/my")  # and among their own things
    assert "还差：复验、业主签收" in texts(said) and "复验时间：2026-11-27 10:00" in texts(said)
    await group.inbox()
    clock.advance(hours=23, minutes=30)  # 2026-11-27 08:30: not yet
    await demo_app.engine.run_jobs(all_jobs())
    assert await group.inbox() == []
    clock.advance(minutes=31)
    await demo_app.engine.run_jobs(all_jobs())
    [reminder] = await group.inbox()
    assert "提醒" in reminder.text
    assert "请准时到场" in texts(await sunli.inbox())
    said = await group.press("复验通过")
    assert "复验通过" in texts(said)

    # The owner's delegate signs off in chat; the desk completes it.
    said = await sunli.inbox()
    assert "确认签收" in texts(said)
    said = await sunli.press("确认签收")
    assert "您已签收" in texts(said)
    await desk.say(f"/movein {UNIT}")
    said = await desk.press("完成入住")
    assert "交付日期 2026年11月27日" in texts(said)
    assert "尚未" not in texts(said)  # the delegate bound their chat with the code
    assert "欢迎入住" in texts(await sunli.inbox())
    assert "还差" not in texts(await sunli.say("/my"))  # completed: no longer under way

    async with demo_app.db.transaction() as s:
        unit = await s.get(Unit, unit_id)
        assert unit.stage == "handed_over" and unit.handover_date == date(2026, 11, 27)
        stages = (
            await s.exec(select(UnitEvent.to_stage).where(UnitEvent.unit_id == unit_id))
        ).all()
        assert list(stages) == ["handing_over", "handed_over"]
        move_in = await s.get(MoveIn, move_in.id)
        assert move_in.status == "completed" and move_in.signed_off_at is not None
        kinds = (await s.exec(select(Document.kind).where(Document.unit_id == unit_id))).all()
        assert sorted(kinds) == ["attorney", "company_cert", "contract", "delegate_id"]
        [paid] = (await s.exec(select(Payment).where(Payment.unit_id == unit_id))).all()
        assert paid.receipt == "SJ20261126001" and paid.amount == Decimal("2680")
        members = (
            await s.exec(
                select(Person.name)
                .join(Binding, col(Binding.person_id) == col(Person.id))
                .where(Binding.unit_id == unit_id, Binding.role == Role.member)
            )
        ).all()
        assert sorted(members) == ["孙小明", "孙小红"]
        assert move_in.checklist["item.keys"]["count"] == 4
        logged = await s.exec(
            select(AuditLog.action)
            .where(AuditLog.target == f"unit:{unit_id}")
            .order_by(AuditLog.id)
        )
        steps = [a for a in logged.all() if a.startswith("movein_")]
        assert steps == [
            "movein_opened",
            *["movein_tick"] * 6,
            "movein_inspection",
            "movein_inspected",
            "movein_reinspected",
            "movein_signed_off",
            "movein_completed",
        ]

    # Thirteen months on: electrical work is still under warranty (24 months), "other"
    # (12 months) is paid.
    clock.advance(days=400)
    for category in ("电路", "其他"):
        await sunli.say("/repair")
        await sunli.press(UNIT)
        await sunli.press(category)
        await sunli.say("需要维修一下")
        await sunli.press("跳过")
        await sunli.press("明天上午")
        await sunli.press("孙立")
        await sunli.press("13800000041")
        await sunli.press("确认提交")
    async with demo_app.db.transaction() as s:
        rows = (
            await s.exec(
                select(Ticket)
                .where(Ticket.unit_id == unit_id, Ticket.kind == "repair")
                .order_by(col(Ticket.id))
            )
        ).all()
        assert [(t.category, t.paid) for t in rows[-2:]] == [("electrical", False), ("other", True)]


async def test_the_desk_cannot_complete_early_and_others_cannot_work_it(demo_app):
    await new_unit(demo_app)
    said = await Chat(demo_app, "wang").say(f"/movein {UNIT}")
    assert "没有找到" in texts(said)  # the repair staff do not open move-ins
    desk = Chat(demo_app, "li")
    await desk.say(f"/movein {UNIT}")
    move_in = await the_move_in(demo_app)
    said = await desk.send(option=movein_actions.Complete(move_in.id).value())
    assert "还不能完成入住" in texts(said)
    said = await Chat(demo_app, "wang").send(
        option=movein_actions.Tick(move_in.id, "form_rules").value()
    )
    assert "form.rules" not in (await the_move_in(demo_app)).checklist
    # A handed-over unit is not opened again.
    said = await desk.say("/movein 3栋2单元1201")
    assert "不能开始入住" in texts(said)


def test_papers_needed_depend_on_the_owner():
    assert rules.papers_missing(set(), company=False, delegate=False) == ["owner_id", "contract"]
    assert rules.papers_missing({"notice"}, company=True, delegate=True) == [
        "company_cert",
        "attorney",
        "delegate_id",
    ]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("明天上午10点", (date(2026, 11, 27), 10, 0)),
        ("12月3日 14:30", (date(2026, 12, 3), 14, 30)),
        ("明天下午3点半", (date(2026, 11, 27), 15, 30)),
        ("2026-12-05 9:00", (date(2026, 12, 5), 9, 0)),
        ("明天", None),
        ("昨天10点", None),
    ],
)
def test_a_reinspection_time_as_people_type_it(typed, expected):
    found = rules.parse_appointment(typed, date(2026, 11, 26))
    if expected is None:
        assert found is None
    else:
        assert (found.day, found.at.hour, found.at.minute) == expected


# ---- the private papers ------------------------------------------------------------------


async def papers_in_chat(app) -> MoveIn:
    """The desk opens the move-in and keeps the four papers, photographed in chat."""
    await new_unit(app)
    desk = Chat(app, "li")
    await desk.say(f"/movein {UNIT}")
    for paper in ("单位证明", "购房合同", "委托书", "受托人身份证"):
        await desk.press("登记证件")
        await desk.press(paper)
        await desk.photo(f"photo-{paper}")
    return await the_move_in(app)


async def test_only_the_desk_and_managers_of_the_community_see_papers(demo_app):
    move_in = await papers_in_chat(demo_app)
    async with demo_app.db.transaction() as s:
        found = await s.exec(select(StaffMember).where(StaffMember.channel == "console"))
        members = {m.external_user_id: m for m in found.all()}
        hyy = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
        rows = (await s.exec(select(Outbox))).all()
    other_desk = StaffMember(
        name="和悦园前台",
        community_id=hyy.id,
        channel="console",
        external_user_id="hyy",
        role="staff",
        department="service",
    )
    seen = {
        who: movein_papers.sees_papers(staff, move_in.community_id)
        for who, staff in (
            ("desk", [members["li"]]),
            ("supervisor", [members["zhou"]]),
            ("director", [members["chen"]]),
            ("repair", [members["wang"]]),
            ("security", [members["zhao"]]),
            ("another community's desk", [other_desk]),
            ("resident", []),
        )
    }
    assert seen == {
        "desk": True,
        "supervisor": True,
        "director": True,
        "repair": False,
        "security": False,
        "another community's desk": False,
        "resident": False,
    }
    # No photo of a paper was ever sent anywhere, least of all into a group.
    assert not [r for r in rows if "photo-" in str(r.payload)]


async def test_export_and_forget_cover_the_papers(demo_app):
    await papers_in_chat(demo_app)
    async with demo_app.db.transaction() as s:
        delegate = await privacy.find_person(s, phone="13800000041")
        data = await privacy.export_person(s, delegate)
        assert sorted(d["kind"] for d in data["documents"]) == ["attorney", "delegate_id"]
        assert {d["file_ref"] for d in data["documents"]} == {"photo-委托书", "photo-受托人身份证"}
        company = await privacy.find_person(s, phone="13800000040")
        assert sorted(
            d["kind"] for d in (await privacy.export_person(s, company))["documents"]
        ) == ["company_cert", "contract"]
        await privacy.forget_person(s, delegate, actor="cli", now=demo_app.clock.now())
    async with demo_app.db.transaction() as s:
        kinds = (await s.exec(select(Document.kind))).all()
    assert sorted(kinds) == ["company_cert", "contract"]


async def test_disputed_readings_are_withdrawn_and_read_again(demo_app):
    await new_unit(demo_app)
    desk, group = Chat(demo_app, "li"), repair_group(demo_app, "wang")
    said = await desk.say(f"/movein {UNIT}")
    code = re.search(r"业主邀请码：(\S+?)（", texts(said)).group(1)
    sunli = Chat(demo_app, "sunli")
    await sunli.send(text=f"/start {code}", user_name="孙立")
    await desk.press("派工验房")
    await group.inbox()
    await group.press("录入水电气底数")
    for figure in ("20", "300"):
        await group.say(figure)
    await group.press("跳过")  # no gas
    await sunli.inbox()
    said = await sunli.press("底数有误")
    assert "重新抄表" in texts(said)
    assert "有异议" in texts(await group.inbox())
    await group.press("录入水电气底数")
    said = await group.say("14")  # below the disputed 20, above the developer's 12.5
    assert "水表" not in texts(said) and "电表读数" in texts(said)
    async with demo_app.db.transaction() as s:
        values = (await s.exec(select(MeterReading.value).order_by(MeterReading.id))).all()
    assert values == [Decimal("12.5")]  # the disputed ones are gone, the new ones to come


async def test_the_desk_cancels_a_move_in(demo_app):
    """The sale fell through: the desk cancels in chat with why. The unit is back to not
    handed over, the code is void, the inspection ticket cancelled, the delegate told."""
    unit_id = await new_unit(demo_app)
    desk = Chat(demo_app, "li")
    group = repair_group(demo_app, "wang")
    said = await desk.say(f"/movein {UNIT}")
    code = re.search(r"业主邀请码：(\S+?)（", texts(said)).group(1)
    await desk.press("派工验房")
    await group.inbox()
    said = await desk.press("取消入住")
    assert "取消原因" in texts(said)
    said = await desk.say("购房合同解除")
    assert "确认取消 1栋2单元602 的入住办理？原因：购房合同解除" in texts(said)
    said = await desk.press("确认提交")
    assert "入住办理已取消" in texts(said)
    [card] = await group.inbox()  # the inspection's card: cancelled, no buttons left
    assert "已取消" in card.text and not card.buttons
    async with demo_app.db.transaction() as s:
        unit = await s.get(Unit, unit_id)
        move_in = (await s.exec(select(MoveIn).where(MoveIn.unit_id == unit_id))).one()
        inspection = await s.get(Ticket, move_in.inspection_ticket_id)
        assert unit.stage == "not_handed_over" and unit.handover_date is None
        assert move_in.status == "cancelled" and move_in.history[-1]["reason"] == "购房合同解除"
        assert inspection.status == "cancelled"
        logged = (
            await s.exec(select(AuditLog.action).where(AuditLog.action == "movein_cancelled"))
        ).all()
        assert len(logged) == 1
    # The code handed out at opening no longer binds anyone.
    said = await Chat(demo_app, "sunli").send(text=f"/start {code}", user_name="孙立")
    assert "绑定成功" not in texts(said)
    # Opened again later, it starts afresh.
    said = await desk.say(f"/movein {UNIT}")
    assert "业主邀请码" in texts(said)


async def test_the_bound_owner_is_told_of_the_cancellation(demo_app):
    await new_unit(demo_app)
    desk = Chat(demo_app, "li")
    said = await desk.say(f"/movein {UNIT}")
    code = re.search(r"业主邀请码：(\S+?)（", texts(said)).group(1)
    sunli = Chat(demo_app, "sunli")
    await sunli.send(text=f"/start {code}", user_name="孙立")
    await sunli.inbox()
    await desk.press("取消入住")
    await desk.say("开错房号")
    await desk.press("确认提交")
    assert "入住办理已由物业前台取消" in texts(await sunli.inbox())
