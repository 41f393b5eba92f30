"""Renovation (装修): the owner's application in chat, the desk's and the repair
department's review, the permit, passes and waste fee, and the end.

The demo (today 2026-11-26 09:00, a Thursday): 张伟 ("resident") owns 3栋2单元1201, lived
in; 刘洋 ("tenant") rents 3栋2单元1202; 李敏 ("li") is the service desk, 王师傅 ("wang")
repair, 赵强 ("zhao") security.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import select

from handlers import privacy
from handlers import renovation_apply as use_case
from handlers.core.context import Context
from handlers.core.messages import Incoming
from storage.models import (
    AuditLog,
    ChatIdentity,
    Community,
    Document,
    LedgerEntry,
    Person,
    Renovation,
    Ticket,
    Unit,
    UnitStage,
    WorkerPass,
)
from tests.conversations import chat_as
from tests.harness import Chat, texts

UNIT = "3栋2单元1201"
SERVICE = "group:XFL:service"
SECURITY = "group:XFL:security"
REPAIR = "group:XFL:repair"


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


async def apply(
    owner: Chat,
    *,
    changes: str = "都不涉及",
    authority: str | None = None,
    starts: str = "2026-12-01",
) -> list:
    said = await owner.say("/renovation")
    assert "开工日期" in texts(said), texts(said)
    said = await owner.say(starts)
    assert "完工日期" in texts(said), texts(said)
    await owner.say("2026-12-31")
    await owner.say("安居装饰")
    await owner.say("陈工")
    await owner.say("13900000009")
    await owner.say("厨房卫生间翻新，客厅铺木地板")
    await owner.photo("plan-drawing-1")
    await owner.press("完成")
    # 否 typed, as people answer the question, is the same as pressing 都不涉及.
    said = await (owner.say(changes) if changes == "否" else owner.press(changes))
    if changes not in ("都不涉及", "否"):
        assert "批准书" in texts(said), texts(said)
        if authority:
            await owner.photo(authority)
        else:
            await owner.press("跳过")
    await owner.say("2")
    said = await owner.say("赵一 13900000011；钱二 13900000012")
    assert "装修管理协议" in texts(said), texts(said)
    summary = await owner.press("同意")
    assert "安居装饰" in texts(summary) and "2026年12月1日" in texts(summary), texts(summary)
    return await owner.press("确认提交")


def labels(said: list) -> str:
    return " ".join(b["label"] for s in said for b in s.buttons)


async def renovation_of(app) -> Renovation:
    async with app.db.transaction() as s:
        return (await s.exec(select(Renovation).order_by(Renovation.id.desc()))).first()  # type: ignore[union-attr]


async def unit_stage(app) -> str:
    async with app.db.transaction() as s:
        return (await s.exec(select(Unit).where(Unit.label == UNIT))).one().stage


async def test_approved_after_one_resubmission(demo_app):
    app = demo_app
    owner = Chat(app, "resident")
    desk = Chat(app, "li", chat_id=SERVICE, kind="group")
    repair = Chat(app, "wang", chat_id=REPAIR, kind="group")
    guards = Chat(app, "zhao", chat_id=SECURITY, kind="group")
    await desk.inbox(), await repair.inbox(), await guards.inbox()

    said = await apply(owner)
    assert "已提交" in texts(said), texts(said)
    card = await desk.inbox()
    assert "安居装饰" in texts(card) and "陈工 13900000009" in texts(card)
    assert "plan-drawing-1" not in texts(card)  # the papers stay at the desk
    assert "厨房卫生间翻新" in texts(await repair.inbox())

    # The repair department asks for changes; the owner is told what.
    await repair.press("要求修改")
    await repair.say("请补充水电改造的走线图")
    told = await owner.inbox()
    assert "水电改造的走线图" in texts(told), texts(told)
    renovation = await renovation_of(app)
    assert renovation.status == "changes"
    assert renovation.reviews[-1]["by"] and renovation.reviews[-1]["decision"] == "changes"

    # The owner resubmits through the same flow, keeping the earlier answers.
    said = await owner.press("重新提交")
    assert "就用：2026-12-01" in labels(said), labels(said)
    await owner.press("就用")  # starts
    await owner.press("就用")  # ends
    await owner.press("就用")  # contractor
    await owner.press("就用")  # foreman
    said = await owner.press("就用")  # phone
    assert "上次填写：厨房卫生间翻新" in texts(said) and "保留上次的方案" in labels(said)
    await owner.say("厨房卫生间翻新，客厅铺木地板，附水电走线图")
    await owner.photo("wiring-plan")
    await owner.press("完成")
    await owner.press("都不涉及")
    await owner.press("就用")  # count
    said = await owner.press("保留上次的名单")  # workers
    assert "装修管理协议" in texts(said), texts(said)
    await owner.press("同意")
    said = await owner.press("确认提交")
    assert "已提交" in texts(said), texts(said)
    renovation = await renovation_of(app)
    assert renovation.status == "submitted" and "走线图" in renovation.plan
    assert renovation.contractor == "安居装饰"

    # The repair staff cannot approve; the desk does.
    await repair.inbox()
    said = await repair.press("批准")
    assert "客服前台或主管" in texts(said), texts(said)
    said = await repair.press("不予批准")
    assert "客服前台或主管" in texts(said), texts(said)
    await desk.inbox()
    said = await desk.press("批准")
    renovation = await renovation_of(app)
    assert renovation.status == "approved"
    assert renovation.permit_number == "XFL-ZX-2026-0001"
    assert renovation.fee == Decimal("300")
    assert "清运费" in texts(said) and "XFL-ZX-2026-0001" in texts(said), texts(said)

    told = await owner.inbox()
    assert "XFL-ZX-2026-0001" in texts(told), texts(told)
    assert "08:00-12:00,14:00-18:00" in texts(told)
    assert any(s.payload.get("photo") for s in told), "the passes' QR images"
    async with app.db.transaction() as s:
        passes = (
            await s.exec(select(WorkerPass).where(WorkerPass.renovation_id == renovation.id))
        ).all()
    assert sorted(p.name for p in passes) == ["赵一", "钱二"]
    assert all(p.code in texts(told) for p in passes)
    assert "陈工 13900000009" in texts(await guards.inbox())
    assert "超时施工噪音" in texts(await repair.inbox())
    assert await unit_stage(app) == UnitStage.renovating

    # The waste fee, recorded with its receipt.
    await desk.press("清运费")
    said = await desk.say("ZX-2026-001")
    assert "ZX-2026-001" in texts(said), texts(said)
    renovation = await renovation_of(app)
    assert renovation.fee_receipt == "ZX-2026-001"
    async with app.db.transaction() as s:  # and it is an entry of the desk's cash ledger
        taken = (
            await s.exec(select(LedgerEntry).where(LedgerEntry.receipt == "ZX-2026-001"))
        ).one()
    assert (taken.purpose, taken.method, taken.amount) == ("waste", "cash", Decimal("300"))
    assert taken.unit_id == renovation.unit_id and taken.source == f"renovation:{renovation.id}"
    assert "ZX-2026-001" in texts(await owner.inbox())

    async with app.db.transaction() as s:
        kept = (
            await s.exec(select(Document).where(Document.subject == f"renovation:{renovation.id}"))
        ).all()
        actions = {a.action for a in (await s.exec(select(AuditLog))).all()}
    assert {d.file_ref for d in kept} == {"plan-drawing-1", "wiring-plan"}
    assert {
        "renovation_submitted",
        "renovation_changes",
        "renovation_resubmitted",
        "renovation_approved",
        "renovation_fee",
    } <= actions

    # The owner reports completion: no completion check here, so it is finished.
    said = await owner.say("/renovation")
    assert "施工中" in texts(said), texts(said)
    said = await owner.press("报告完工")
    assert "已完工" in texts(said), texts(said)
    renovation = await renovation_of(app)
    assert renovation.status == "finished"
    async with app.db.transaction() as s:
        passes = (
            await s.exec(select(WorkerPass).where(WorkerPass.renovation_id == renovation.id))
        ).all()
    assert {p.status for p in passes} == {"expired"}
    assert await unit_stage(app) == UnitStage.occupied


async def test_structural_change_needs_the_authoritys_approval(demo_app):
    app = demo_app
    owner = Chat(app, "resident")
    desk = Chat(app, "li", chat_id=SERVICE, kind="group")
    await desk.inbox()
    await apply(owner, changes="拆改主体结构")
    card = await desk.inbox()
    assert "未附（不能批准）" in texts(card), texts(card)
    said = await desk.press("批准")
    assert "房地产行政主管部门的批准书" in texts(said), texts(said)
    assert (await renovation_of(app)).status == "submitted"

    said = await owner.say("/renovation")
    await owner.press("补交批准书")
    said = await owner.photo("authority-approval")
    assert "已存档" in texts(said), texts(said)
    card = await desk.inbox()
    assert "已附" in texts(card), texts(card)
    said = await desk.press("批准")
    renovation = await renovation_of(app)
    assert renovation.status == "approved", texts(said)
    assert "须按批准方案施工" in texts(
        await Chat(app, "zhao", chat_id=SECURITY, kind="group").inbox()
    )


async def test_one_open_per_unit_and_who_may_apply(demo_app):
    app = demo_app
    owner = Chat(app, "resident")
    await apply(owner, changes="否")
    said = await owner.say("/renovation")
    assert "待审核" in texts(said) and "撤销申请" in labels(said), texts(said)
    said = await owner.say("/my")  # among their own things, with its buttons
    assert "安居装饰" in texts(said) and "撤销申请" in labels(said), texts(said)
    # A second application for the same unit, filed at the counter, is refused too.
    first = await renovation_of(app)
    async with app.db.transaction() as s:
        unit = (await s.exec(select(Unit).where(Unit.label == UNIT))).one()
        person = (await s.exec(select(Person).where(Person.name == "张伟"))).one()
        msg = Incoming(channel="counter", chat_id="li", user_id="li", at=app.clock.now())
        ctx = Context(
            session=s,
            settings=app.settings,
            catalogs=app.catalogs,
            clock=app.clock,
            msg=msg,
            identity=ChatIdentity(channel="counter", external_user_id="li"),
            locale="zh_CN",
            person=person,
        )
        application = use_case.Application(
            starts=first.starts,
            ends=first.ends,
            contractor="另一家",
            foreman="孙工",
            foreman_phone="13900000008",
            plan="刷墙",
            structural=False,
            load_increase=False,
            workers=[("周三", "13900000013")],
            files=[],
        )
        refused = await use_case.apply(ctx, unit, person, application)
    assert [r.key for r in refused] == ["reno.already_open"]
    async with app.db.transaction() as s:
        assert len((await s.exec(select(Renovation))).all()) == 1


async def test_tenant_refused_and_cancel(demo_app):
    app = demo_app
    tenant = Chat(app, "tenant")
    said = await tenant.say("/renovation")
    assert "业主本人或业主委托" in texts(said), texts(said)
    owner = Chat(app, "resident")
    await apply(owner)
    said = await owner.say("/renovation")
    said = await owner.press("撤销申请")
    assert "已撤销" in texts(said), texts(said)
    assert (await renovation_of(app)).status == "cancelled"
    said = await owner.say("/renovation")
    assert "开工日期" in texts(said), texts(said)  # a new one may be started


async def test_past_start_refused(demo_app):
    owner = Chat(demo_app, "resident")
    await owner.say("/renovation")
    said = await owner.say("2026-11-20")
    assert "已经过去" in texts(said), texts(said)


async def test_completion_check(demo_app):
    app = demo_app
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        community.policy = {**community.policy, "renovation_completion_check": True}
        s.add(community)
    owner = Chat(app, "resident")
    desk = Chat(app, "li", chat_id=SERVICE, kind="group")
    repair = Chat(app, "wang", chat_id=REPAIR, kind="group")
    await desk.inbox()
    await apply(owner)
    await desk.inbox()
    await desk.press("批准")
    await owner.inbox()
    await owner.say("/renovation")
    said = await owner.press("报告完工")
    assert "验收" in texts(said), texts(said)
    assert (await renovation_of(app)).status == "inspecting"
    await repair.inbox()
    await repair.press("验收不通过")
    await repair.say("卫生间闭水试验未做")
    told = await owner.inbox()
    assert "闭水试验" in texts(told), texts(told)
    assert (await renovation_of(app)).status == "failed"
    await owner.press("报告完工")
    await repair.inbox()
    said = await repair.press("验收通过")
    renovation = await renovation_of(app)
    assert renovation.status == "finished", texts(said)
    assert "已完工" in texts(await owner.inbox())
    assert await unit_stage(app) == UnitStage.occupied


async def test_another_communitys_desk_cannot_decide(demo_app):
    app = demo_app
    owner = Chat(app, "resident")
    await apply(owner)
    async with app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).where(Ticket.kind == "renovation"))).one()
    assert ticket.number.startswith("Z")


async def test_a_delegate_applies_with_the_papers_kept_private(demo_app):
    app = demo_app
    delegate = await chat_as(app, "yang", "杨磊")
    said = await delegate.say("/renovation")
    assert "委托书" in texts(said), texts(said)
    await delegate.photo("attorney-photo")
    said = await delegate.photo("delegate-id-photo")
    assert "开工日期" in texts(said), texts(said)
    await delegate.say("2026-12-01")
    await delegate.say("2026-12-20")
    await delegate.say("安居装饰")
    await delegate.say("陈工")
    await delegate.say("13900000009")
    await delegate.say("刷墙")
    await delegate.press("跳过")
    await delegate.press("都不涉及")
    await delegate.say("1")
    await delegate.say("赵一 13900000011")
    await delegate.press("同意")
    said = await delegate.press("确认提交")
    assert "已提交" in texts(said), texts(said)
    renovation = await renovation_of(app)
    async with app.db.transaction() as s:
        kept = (
            await s.exec(select(Document).where(Document.subject == f"renovation:{renovation.id}"))
        ).all()
        person = (await s.exec(select(Person).where(Person.name == "杨磊"))).one()
        exported = await privacy.export_person(s, person)
    assert {d.kind for d in kept} == {"attorney", "delegate_id"}
    assert [r["id"] for r in exported["renovations"]] == [renovation.id]
    assert {d["kind"] for d in exported["documents"]} >= {"attorney", "delegate_id"}


async def test_the_desk_finds_the_application_among_its_tasks(demo_app):
    app = demo_app
    await apply(Chat(app, "resident"))
    async with app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).where(Ticket.kind == "renovation"))).one()
    desk = Chat(app, "li")
    said = await desk.say("/tasks")
    assert ticket.number in texts(said) + labels(said), texts(said)
    said = await desk.press(ticket.number)
    assert "安居装饰" in texts(said) and "批准" in labels(said), texts(said)
    said = await desk.press("批准")
    assert "XFL-ZX-2026-0001" in texts(said), texts(said)
