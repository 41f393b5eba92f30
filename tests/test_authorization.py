"""Nobody gets in where they do not belong, and every privileged action is in the audit log.

Residents see only their own units' fees and their own tickets, cannot run staff or
supervisor commands and cannot press staff buttons, whatever callback data they craft:
every action in `dialogs.registry.all_actions()` is tried with crafted arguments, so a new
action is covered the day it is added. Staff act only for their own community and
department; only supervisors bind groups.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from bot.app import App
from dialogs.registry import all_actions, all_commands
from storage.models import (
    AuditLog,
    Binding,
    ChatIdentity,
    Community,
    Department,
    Job,
    Payment,
    Person,
    ReleaseSlip,
    StaffGroup,
    StaffMember,
    Ticket,
    TicketEvent,
    Unit,
)
from tests.conversations import file_repair, finish_repair, repair_group
from tests.harness import Chat, texts
from tests.test_slip import ask_for_slip, chat_as

# What the resident who filed a ticket may press on it; every other action is staff's.
RESIDENT_ACTIONS = {
    "my_list",
    "my_view",
    "my_urge",
    "my_cancel",
    "my_code",
    "r_fixed",
    "r_notyet",
    "slip_owner_ok",
    "slip_owner_no",
    "mi_read_ok",  # the owner (or their delegate) of the move-in, checked inside
    "mi_read_no",
    "mi_signoff",
    "reno_cancel",  # the renovation's applicant or an owner of its unit, checked inside
    "reno_done",
    "visit_mine",  # the resident's own visitors; cancel and code check the host inside
    "visit_cancel",
    "visit_code",
    "visit_yes",  # a walk-in's answer: a resident of the visit's unit, checked inside
    "visit_nope",
    "key_owner_ok",  # lending a flat's key: an owner of the key's unit, checked inside
    "key_owner_no",
    "act_unsign",  # an activity's sign-up: the sender's own, checked inside
    "act_wait",  # an activity's waiting list: the sender joins it, checked inside
    "sv_yes",  # a service's agreed details: the resident's own request, checked inside
    "sv_no",
}
# Commands anyone may run.
# custody and movein: the desk's, or an owner's own; parcels: a resident's own, the desk's list;
# visitors: a resident's own visitors; mykeys: an owner's own unit's keys the office keeps;
# activities: those open to the resident, the staff's own with their next step;
# rentals: what there is to let (anyone), adding checked inside (the desk and managers)
OPEN_COMMANDS = {
    *("my", "whoami", "units", "custody", "movein", "parcels", "visitors", "mykeys"),
    "activities",
    "rentals",
}
# A plausible argument for each privileged command, so refusal is not just a parse error.
ARGUMENTS = {
    "paid": "3栋2单元1201 100 R20261126",
    "services": "add 开锁换锁 安保 50 次",
    "servicepaid": "W-261126-0001 SJ0001 现金",
    "invite": "1栋1单元101",
    "answer": "Q-261126-0001 您好，已处理",
    "reply": "您好",
    "bind": "repair",
    "staff": "add u99 repair 某人",
    "stats": "",
    "overdue": "",
    "report": "",
    "ticket": "R-261126-0001",
    "mytasks": "",
    "tasks": "",
    "duty": "",
    "plan": "F-261126-0001",
    "agreements": "",
    "keys": "add 天台门钥匙 公共 柜A-12",
    "lend": "#1 某人 13900000011",
    "keyback": "#1",
    "cash": "收 300 押金 现金 收据号 SJ001 付款人 张伟 3-2-1201",
    "arrears": "1-1-302",
    "statement": "2026-11",
    "contract": "B1-12 张伟 13800000001 12月1日 6个月",
    "rentpaid": "B1-12 R20261126",
    "rentend": "B1-12",
    "venuepaid": "1 V001",
}
DESCRIPTION, PHONE = "客厅插座没电", "13800000001"


async def snapshot(app: App) -> dict[str, Any]:
    """Everything a privileged action could change."""
    async with app.db.transaction() as s:

        async def n(model: Any) -> int:
            return int((await s.exec(select(func.count()).select_from(model))).one())

        tickets = [
            (t.id, t.status, t.department, t.assignee_id, t.urgent, t.paid, str(t.details))
            for t in (await s.exec(select(Ticket).order_by(col(Ticket.id)))).all()
        ]
        slips = [(r.id, r.status) for r in (await s.exec(select(ReleaseSlip))).all()]
        counts = {
            m.__name__: await n(m)
            for m in (TicketEvent, AuditLog, Binding, StaffGroup, StaffMember, Payment, Job)
        }
    return {"tickets": tickets, "slips": slips, **counts}


async def audit_count(app: App) -> int:
    async with app.db.transaction() as s:
        return int((await s.exec(select(func.count()).select_from(AuditLog))).one())


async def ids(app: App, model: Any) -> list[int]:
    async with app.db.transaction() as s:
        return [int(r.id) for r in (await s.exec(select(model))).all()]


async def with_tickets(app: App) -> None:
    """张伟's repair, and 赵敏's release slip waiting for the service desk (she owes fees)."""
    await file_repair(Chat(app, "resident"))
    await ask_for_slip(await chat_as(app, "zhaomin", "赵敏"))


async def crafted_values(app: App) -> list[str]:
    """`act:<name>:<argument>` for every action, aimed at every ticket and slip there is."""
    staff = await ids(app, StaffMember)
    targets = [*await ids(app, Ticket), *await ids(app, ReleaseSlip)]
    suffixes = ["", ":service", ":major", f":{staff[0]}"]
    arguments = [f"{t}{s}" for t in targets for s in suffixes] + ["", "0", "x:1"]
    names = sorted(c.name for c in all_actions())
    return [f"act:{name}:{argument}" for name in names for argument in arguments]


# ---- residents -----------------------------------------------------------------------


async def test_residents_cannot_press_any_staff_button_with_crafted_data(demo_app):
    await with_tickets(demo_app)
    values = await crafted_values(demo_app)
    before = await snapshot(demo_app)
    people = {
        "resident": Chat(demo_app, "resident"),  # filed the repair
        "tenant": Chat(demo_app, "tenant"),
        "mallory": Chat(demo_app, "mallory"),  # bound to nothing
    }
    for who, chat in people.items():
        for name in sorted(c.name for c in all_actions()):
            if who == "resident" and name in RESIDENT_ACTIONS:
                continue  # his own ticket: his to view, urge or cancel
            for value in (v for v in values if v.split(":")[1] == name):
                shown = texts(await chat.send(option=value))
                assert DESCRIPTION not in shown or who == "resident", (who, value, shown)
                assert PHONE not in shown or who == "resident", (who, value, shown)
            assert await snapshot(demo_app) == before, (who, name)
    assert len(values) > 200  # every action, many arguments


async def test_residents_cannot_run_staff_or_supervisor_commands(demo_app):
    await with_tickets(demo_app)
    privileged = [c for c in all_commands() if c.roles]
    assert {c.name for c in privileged} >= {"paid", "invite", "answer", "reply", "mytasks"}
    assert {c.name for c in all_commands()} - {c.name for c in privileged} <= OPEN_COMMANDS
    before = await snapshot(demo_app)
    for user in ("resident", "tenant", "mallory"):
        for kind, chat_id in (("private", None), ("group", "group:XFL:repair")):
            chat = Chat(demo_app, user, chat_id=chat_id, kind=kind)
            for command in privileged:
                await chat.say("/cancel")
                said = await chat.say(f"/{command.name} {ARGUMENTS.get(command.name, '')}")
                keys = [s.payload["key"] for s in said]
                if command.name == "bind" and kind == "private":
                    assert keys and keys[0].startswith("binding."), keys  # the resident's flow
                else:
                    assert keys == ["dialog.not_allowed"], (user, kind, command.name, keys)
                assert await snapshot(demo_app) == before, (user, command.name)


async def test_staff_cannot_run_supervisor_commands(demo_app):
    before = await snapshot(demo_app)
    for user in ("wang", "li", "zhao"):
        for name in ("stats", "overdue", "report", "staff"):
            said = await Chat(demo_app, user).say(f"/{name} {ARGUMENTS[name]}")
            assert [s.payload["key"] for s in said] == ["dialog.not_allowed"], (user, name)
        said = await Chat(demo_app, user, chat_id="group:XFL:service", kind="group").say(
            "/bind service"
        )
        assert [s.payload["key"] for s in said] == ["dialog.not_allowed"], user
    assert await snapshot(demo_app) == before


async def test_a_resident_sees_no_other_units_fees(demo_app):
    async with demo_app.db.transaction() as s:
        others = (
            await s.exec(
                select(Unit).where(col(Unit.label) != "3栋2单元1201").order_by(col(Unit.id))
            )
        ).all()
    resident = Chat(demo_app, "resident")
    for unit in others:
        for value in (f"flow:fees:{unit.id}", f"flow:fee_request:{unit.id}", f"unit:{unit.id}"):
            await resident.say("/cancel")
            shown = texts(await resident.send(option=value))
            assert unit.label not in shown, (value, shown)
        await resident.say("/fees")
        shown = texts(await resident.send(option=f"unit:{unit.id}"))  # at the unit question
        assert unit.label not in shown, shown


async def test_a_resident_sees_no_one_elses_ticket(demo_app):
    await file_repair(Chat(demo_app, "resident"))
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
    tenant = Chat(demo_app, "tenant")
    for said in (
        await tenant.send(option=f"act:my_view:{ticket.id}"),
        await tenant.say("/my"),
        await tenant.say(f"/my {ticket.number}"),
        await tenant.say(f"/ticket {ticket.number}"),
    ):
        assert DESCRIPTION not in texts(said) and ticket.number not in texts(said)
    shown = texts(await Chat(demo_app, "resident").send(option=f"act:my_view:{ticket.id}"))
    assert DESCRIPTION in shown  # the owner does see it


# ---- staff ---------------------------------------------------------------------------


async def hyy_repair(app: App) -> Ticket:
    """A repair in 和悦园 (HYY), reported by 朱琳 on the console."""
    async with app.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.name == "朱琳"))).one()
        s.add(ChatIdentity(channel="console", external_user_id="zhulin", person_id=person.id))
    zhulin = Chat(app, "zhulin")
    await zhulin.say("/repair")
    for step in (
        "1栋1单元102",
        "水管",
        "卫生间漏水",
        "跳过",
        "明天上午",
        "朱琳",
        "13800000021",
        "确认提交",
    ):
        buttons = zhulin.keyboard.buttons if zhulin.keyboard else []
        if any(step in b["label"] for b in buttons):
            await zhulin.press(step)
        else:
            await zhulin.say(step)
    async with app.db.transaction() as s:
        hyy = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
        return (await s.exec(select(Ticket).where(Ticket.community_id == hyy.id))).one()


async def test_staff_act_only_for_their_community_and_department(demo_app):
    hyy = await hyy_repair(demo_app)
    await file_repair(Chat(demo_app, "resident"))
    async with demo_app.db.transaction() as s:
        xfl = (await s.exec(select(Ticket).where(Ticket.id != hyy.id))).one()
    before = await snapshot(demo_app)
    tries = [
        (user, f"act:{action}:{ticket.id}{suffix}")
        for user in ("wang", "liu", "zhou", "chen")  # XFL's technicians and managers
        for ticket in (hyy,)
        for action, suffix in (("t_accept", ""), ("t_transfer", ""), ("t_moveto", ":service"))
    ] + [
        (user, f"act:{action}:{xfl.id}{suffix}")
        for user in ("zhao", "li")  # security and service on a repair card
        for action, suffix in (("t_accept", ""), ("t_start", ""), ("t_moveto", ":security"))
    ]
    for user, value in tries:
        said = await Chat(demo_app, user).send(option=value)
        assert [s.payload["key"] for s in said] == ["dialog.not_allowed"], (user, value)
    for where in ("HYY 1栋1单元102", "1栋1单元102"):  # another community's unit
        said = await Chat(demo_app, "li").say(f"/paid {where} 100 R20261126")
        refusals = (["dialog.not_allowed"], ["fee.paid.no_unit"], ["fee.paid.near"])
        assert [s.payload["key"] for s in said] in refusals
        assert "和悦园" not in texts(said) and "HYY" not in texts(said).replace(where, "")
    assert await snapshot(demo_app) == before
    for user in ("wang", "zhou"):  # a look-up that finds nothing is still audited
        said = await Chat(demo_app, user).say(f"/ticket {hyy.number}")
        assert "卫生间漏水" not in texts(said)


async def test_only_supervisors_bind_groups(demo_app):
    group = "group:XFL:new"
    said = await Chat(demo_app, "wang", chat_id=group, kind="group").say("/bind repair")
    assert [s.payload["key"] for s in said] == ["dialog.not_allowed"]
    before = await audit_count(demo_app)
    said = await Chat(demo_app, "zhou", chat_id=group, kind="group").say("/bind repair")
    async with demo_app.db.transaction() as s:
        bound = (await s.exec(select(StaffGroup).where(StaffGroup.chat_id == group))).all()
        entry = (await s.exec(select(AuditLog).order_by(col(AuditLog.id).desc()))).first()
    assert [g.department for g in bound] == [Department.repair]
    assert await audit_count(demo_app) == before + 1 and entry is not None
    assert entry.action == "bind_group"


# ---- the audit log -------------------------------------------------------------------


async def audited(app: App, chat: Chat, what: str, **send: str) -> list[Any]:
    """Do one privileged thing; it must add exactly one audit row (returned with the reply)."""
    before = await audit_count(app)
    said = await chat.send(**send)
    assert await audit_count(app) == before + 1, (what, texts(said))
    return said


async def test_every_privileged_action_is_in_the_audit_log(demo_app, clock):
    await with_tickets(demo_app)
    await file_repair(Chat(demo_app, "resident"), text="阳台灯不亮")
    async with demo_app.db.transaction() as s:
        repair, other = (await s.exec(select(Ticket).where(Ticket.kind == "repair"))).all()
        slip = (await s.exec(select(ReleaseSlip))).one()
    wang = repair_group(demo_app, "wang")
    await wang.inbox()
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    zhou, li = Chat(demo_app, "zhou"), Chat(demo_app, "li")
    done: set[str] = set()

    async def act(chat: Chat, name: str, argument: str) -> None:
        await audited(demo_app, chat, name, option=f"act:{name}:{argument}")
        done.add(name)

    await act(wang, "t_accept", str(repair.id))
    await act(wang, "t_start", str(repair.id))
    async with demo_app.db.transaction() as s:
        liu = (await s.exec(select(StaffMember).where(StaffMember.external_user_id == "liu"))).one()
    await act(wang, "t_handto", f"{repair.id}:{liu.id}")
    await act(repair_group(demo_app, "liu"), "t_leak", str(repair.id))
    await act(zhou, "t_moveto", f"{other.id}:service")
    await act(desk, "slip_desk_ok", str(slip.id))
    clock.advance(days=1)  # the slip is for tomorrow
    await act(Chat(demo_app, "zhao"), "slip_use", str(slip.id))

    commands = {
        "paid": (li, "3栋2单元1201 100 R20261126"),
        "invite": (li, "3栋2单元1201"),
        "stats": (zhou, ""),
        "overdue": (zhou, ""),
        "ticket": (zhou, repair.number),
        "report": (zhou, ""),
        "staff": (zhou, "add u99 repair 某人"),
    }
    for name, (chat, argument) in commands.items():
        await audited(demo_app, chat, name, text=f"/{name} {argument}")
        done.add(name)
    await audited(
        demo_app,
        Chat(demo_app, "zhou", chat_id="group:new", kind="group"),
        "bind",
        text="/bind security",
    )
    done.add("bind")

    # A question for the desk, answered; a chat handed over to a person, replied to.
    asker = Chat(demo_app, "tenant")
    await asker.say("/question")
    await asker.press("其他问题")
    await asker.say("小区游泳池冬天开放吗？")
    await asker.press("确认提交")
    await asker.say("/human")
    async with demo_app.db.transaction() as s:
        question = (await s.exec(select(Ticket).where(Ticket.kind == "question"))).one()
        handoff = (await s.exec(select(Ticket).where(Ticket.kind == "handoff"))).one()
    await audited(demo_app, li, "answer", text=f"/answer {question.number} 冬天暂停开放")
    await audited(demo_app, li, "reply", text=f"/reply {handoff.number} 您好，请讲")
    done |= {"answer", "reply"}
    # Each privileged command and each staff button is exercised above or listed here
    # with the test that audits it (answers, handoff replies, complaints, bindings).
    elsewhere = {
        "t_handover": "offers colleagues only; t_handto is audited",
        "t_transfer": "offers departments only; t_moveto is audited",
        "rv_take": "test_finishing_and_taking_a_phone_revisit_are_audited",
        "bind_ok": "tests/test_binding.py",
        "bind_no": "tests/test_binding.py",
        "slip_desk_no": "same handler as slip_desk_ok",
        "cmp_kind": "tests/test_complaint.py",
        "cmp_sev": "tests/test_complaint.py",
        "mytasks": "reads the member's own tasks only",
        "tasks": "lists the open work of the member's own departments only",
        "t_open": "shows a card again; its buttons are checked again when pressed",
        "duty": "tests/test_emergency.py (duty_on / duty_off audited)",
        "plan": "tests/test_fee_agreements.py",
        "agreements": "reads the agreements of the member's communities only",
        "rain": "tests/test_custody.py (custody_rain audited)",
        "rain_over": "tests/test_custody.py (custody_rain_over audited)",
        "mi_tick": "tests/test_movein.py (movein_tick audited)",
        "mi_inspect": "tests/test_movein.py (movein_inspection audited)",
        "mi_inspected": "tests/test_movein.py (movein_inspected audited)",
        "mi_reinspected": "tests/test_movein.py (movein_reinspected audited)",
        "mi_complete": "tests/test_movein.py (movein_completed audited)",
        "pass": "tests/test_renovation_passes.py (renovation_pass_let_in / _refused audited)",
        "renopass_in": "tests/test_renovation_passes.py (renovation_pass_let_in audited)",
        "renopass_no": "same handler as renopass_in (renovation_pass_refused audited)",
        "renocheck": "shows a renovation at work; the record is audited in its flow",
        "reno_end_ok": "tests/test_renovation_watch.py (renovation_end_changed audited)",
        "reno_end_no": "same handler as reno_end_ok",
        "reno_ok": "tests/test_renovation.py (renovation_approved audited)",
        "reno_passed": "tests/test_renovation.py (renovation_passed audited)",
        "services": "tests/test_services.py (service_item audited; the list is a read)",
        "servicepaid": "tests/test_services.py (service_paid audited)",
        "pickup": "shows a parcel; handing it over is audited (tests/test_parcels.py)",
        "parcel_hand": "tests/test_parcels.py (parcel_collect audited)",
        "parcel_return": "tests/test_web_parcels.py (parcel_return audited)",
        "visitor": "tests/test_visitors.py (visit_checked audited)",
        "visit_in": "tests/test_visitors.py (visit_arrived audited)",
        "visit_out": "tests/test_visitors.py (visit_left audited)",
        "visit_no": "tests/test_visitors.py (visit_turned_away audited)",
        "visit_desk_ok": "tests/test_visitors.py (visit_desk_approved audited)",
        "visit_desk_no": "same handler as visit_desk_ok (visit_desk_refused audited)",
        "keys": "lists the register; /keys add is audited (tests/test_keys.py, key_added)",
        "lend": "tests/test_keys.py (key_lent audited; an owner's refusal key_loan_refused)",
        "keyback": "tests/test_keys.py (key_back audited)",
        "key_back": "same handler as /keyback (key_back audited)",
        "cash": "tests/test_ledger.py (ledger_entry, ledger_closed, ledger_reopened audited)",
        "ledger_lock": "tests/test_ledger.py (ledger_locked audited)",
        "inspect": "tests/test_inspections.py (inspection_started audited)",
        "checklist": "shows the checklist of the member's own community",
        "insp_ok": "records an item of the sender's own round (its start audited)",
        "insp_pause": "pauses the sender's own round",
        "insp_end": "finishes the sender's own round (its start audited)",
        "nc_ok": "tests/test_inspections.py (revisit_ok of the slip audited)",
        "visitplans": "lists the plans of the member's own communities only",
        "reviews": "shows the month-end reviews of the communities the manager runs only",
        "mr_fwd": "tests/test_month_review.py (month_review_forward audited)",
        "inc_take": "tests/test_incidents.py (incident_taken audited)",
        "inc_here": "tests/test_incidents.py (incident_arrived audited)",
        "inc_ctrl": "tests/test_incidents.py (incident_controlled audited)",
        "incidents": "shows the open emergencies of the member's own communities only",
        "act_announce": "tests/test_activities.py (activity_announce audited)",
        "survey": "shows this year's survey of the member's own communities only",
        "sv_new": "tests/test_survey.py (survey_create audited)",
        "sv_open": "tests/test_survey.py (survey_open audited)",
        "sv_close": "tests/test_survey.py (survey_close audited)",
        "sv_report": "tests/test_survey.py (survey_analysis_asked audited)",
        "arrears": "shows the cases of the member's own communities; a contact is audited "
        "(tests/test_arrears_work.py, arrears_contact)",
        "arw_legal": "tests/test_arrears_work.py (arrears_legal_chosen audited)",
        "arw_send": "tests/test_arrears_work.py (arrears_legal_sent audited)",
        "arw_hold": "same handler as arw_send (arrears_legal_hold audited)",
        "statement": "tests/test_statements.py (statement_made, _refreshed, _corrected audited)",
        "stmt_pub": "tests/test_statements.py (statement_publish audited)",
        "contract": "tests/test_rentals.py (rental_contract audited)",
        "rentpaid": "tests/test_rentals.py (ledger_entry audited)",
        "rentend": "tests/test_rentals.py (rental_contract_terminated audited)",
        "venuepaid": "tests/test_rentals.py (ledger_entry audited)",
        "venue_ok": "tests/test_rentals.py (venue_confirm audited)",
        "venue_no": "same handler as venue_ok (venue_refuse audited)",
    }
    staff_actions = {c.name for c in all_actions()} - RESIDENT_ACTIONS
    privileged = {c.name for c in all_commands() if c.roles}
    assert staff_actions | privileged <= done | set(elsewhere), (staff_actions | privileged) - (
        done | set(elsewhere)
    )


async def test_finishing_and_taking_a_phone_revisit_are_audited(demo_app):
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    await finish_repair(demo_app)
    await resident.inbox()
    await resident.press("已解决")
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
        actions = [a.action for a in (await s.exec(select(AuditLog).order_by(col(AuditLog.id))))]
    assert ticket.status == "revisit"
    assert actions == ["accept", "start", "done"]  # the technician's steps, the resident's not
    said = await audited(
        demo_app, Chat(demo_app, "li"), "rv_take", option=f"act:rv_take:{ticket.id}"
    )
    assert PHONE in texts(said)
