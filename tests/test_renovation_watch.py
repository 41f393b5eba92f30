"""The watched work of a renovation: checks and violations recorded by repair and
security, neighbours' complaints linked, the owner's extension or early finish.

The demo (today 2026-11-26 09:00): 张伟 ("resident") owns 3栋2单元1201; 王芳, who has
no chat, owns 3栋2单元1202 next door. Staff: 王师傅 ("wang", repair), 赵强 ("zhao",
security), 李敏 ("li", service desk). Renovations are inserted approved with their passes
(tests/test_renovation_passes.py `approved_renovation`).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import col, select

from handlers import renovation_watch
from handlers.people import add_staff
from storage.models import AuditLog, Community, RenovationCheck, Ticket, WorkerPass
from tests.harness import Chat, texts
from tests.test_complaint import file_noise_complaint
from tests.test_renovation_passes import ENDS, STARTS, UNIT, approved_renovation, at, pass_of

NEIGHBOUR = "3栋2单元1202"
SERVICE = "group:XFL:service"
SECURITY = "group:XFL:security"
REPAIR = "group:XFL:repair"


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


async def checks_of(app, renovation_id: int) -> list[RenovationCheck]:
    async with app.db.transaction() as s:
        rows = await s.exec(
            select(RenovationCheck)
            .where(RenovationCheck.renovation_id == renovation_id)
            .order_by(col(RenovationCheck.id))
        )
        return list(rows.all())


async def test_a_violation_with_photos_is_recorded_and_told_to_the_owner_and_desk(demo_app):
    renovation_id, _, _ = await approved_renovation(demo_app)
    resident, desk = Chat(demo_app, "resident"), Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    await resident.inbox()
    at(demo_app, STARTS, 20, 10)
    repair = Chat(demo_app, "wang", chat_id=REPAIR, kind="group")
    said = await repair.say(f"/renocheck {UNIT}")
    assert "匠心装饰" in texts(said) and "陈工" in texts(said)
    said = await repair.press("记录巡查")
    assert "本次巡查结果" in texts(said)
    await repair.press("非允许时间噪音施工")
    await repair.say("晚上八点还在用电钻")
    await repair.photo("photo-1")
    await repair.photo("photo-2")
    said = await repair.press("完成")
    assert "照片：2 张" in texts(said)
    said = await repair.press("确认提交")
    assert "已记录 3栋2单元1201 装修违规" in texts(said) and "已通知业主" in texts(said)

    [check] = await checks_of(demo_app, renovation_id)
    assert (check.violation, check.note, check.photos) == (
        "noise",
        "晚上八点还在用电钻",
        ["photo-1", "photo-2"],
    )
    assert check.department == "repair" and check.ticket_id is None
    owner = texts(await resident.inbox())
    assert "非允许时间噪音施工" in owner and "匠心装饰" in owner
    told = texts(await desk.inbox())
    assert "【装修违规】3栋2单元1201" in told and "13955556666" in told  # phone the foreman
    async with demo_app.db.transaction() as s:
        actions = [a.action for a in (await s.exec(select(AuditLog))).all()]
    assert "renovation_violation" in actions

    # A check that finds nothing is only recorded.
    security = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    await security.say(f"/renocheck {UNIT}")
    await security.press("记录巡查")
    await security.press("正常")
    await security.press("跳过")
    await security.press("跳过")
    said = await security.press("确认提交")
    assert "已记录 3栋2单元1201 装修巡查" in texts(said)
    assert [c.violation for c in await checks_of(demo_app, renovation_id)] == ["noise", ""]
    assert await resident.inbox() == [] and await desk.inbox() == []


async def test_who_may_record_checks(demo_app):
    await approved_renovation(demo_app)
    said = await Chat(demo_app, "resident").say(f"/renocheck {UNIT}")
    assert "没有权限" in texts(said)
    async with demo_app.db.transaction() as s:
        xfl = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        await add_staff(
            s,
            channel="console",
            user_id="cleaner",
            name="钱阿姨",
            department="cleaning",
            community_id=xfl.id,
        )
    said = await Chat(demo_app, "cleaner").say(f"/renocheck {UNIT}")
    assert "没有权限" in texts(said) and "匠心装饰" not in texts(said)
    said = await Chat(demo_app, "wang").say("/renocheck 3栋2单元1202")
    assert "没有在施工中的装修" in texts(said)


async def test_a_neighbours_noise_complaint_is_linked_and_the_watchers_told(demo_app):
    renovation_id, _, _ = await approved_renovation(demo_app, unit=NEIGHBOUR)
    await Chat(demo_app, "wang", chat_id=REPAIR, kind="group").inbox()
    resident = Chat(demo_app, "resident")
    said = await file_noise_complaint(resident)
    assert "投诉" in texts(said)
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).where(Ticket.kind == "complaint"))).one()
    assert ticket.details["renovation_id"] == renovation_id
    [linked] = await checks_of(demo_app, renovation_id)
    assert linked.ticket_id == ticket.id and linked.violation == ""
    for group in (REPAIR, SECURITY):
        told = texts(await Chat(demo_app, "x", chat_id=group, kind="group").inbox())
        assert f"【装修投诉】3栋2单元1201 投诉 {ticket.number}" in told and NEIGHBOUR in told
    view = await _view(demo_app, renovation_id)
    assert view["complaints"][0]["number"] == ticket.number and view["checks"] == []
    assert len(view["passes"]) == 2
    html = render_watch(demo_app, view)
    assert f'/desk/tickets/{ticket.id}">{ticket.number}</a>' in html
    assert "陈师傅" in html and "还没有巡查记录" in html and "违规 0 次" in html


async def _view(app, renovation_id: int) -> dict:
    async with app.db.transaction() as s:
        return await renovation_watch.watch_view(s, renovation_id)


async def test_an_extension_and_an_early_finish_move_the_passes(demo_app):
    _, (code, _), _ = await approved_renovation(demo_app)
    resident, desk = Chat(demo_app, "resident"), Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    guard = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    await resident.inbox()
    said = await resident.say("/renochange")
    assert "新的完工日期" in texts(said)
    said = await resident.say("11月20日")
    assert "不能早于今天" in texts(said)
    await resident.say("12月20日")
    said = await resident.press("跳过")
    assert "2026年12月20日" in texts(said) and "2026年12月10日" in texts(said)
    said = await resident.press("确认提交")
    assert "已提交延期申请" in texts(said)
    card = await desk.inbox()
    assert "【装修延期申请】3栋2单元1201" in texts(card)
    said = await desk.press("同意")
    assert "完工日期调整为 2026年12月20日：已同意" in texts(said)
    assert "已改为 2026年12月20日" in texts(await resident.inbox())
    assert (await pass_of(demo_app, code)).valid_to == date(2026, 12, 20)
    at(demo_app, date(2026, 12, 15), 10, 0)
    assert "有效，可以放行" in texts(await guard.say(f"/pass {code}"))
    assert "已处理过" in texts(await desk.press("同意"))  # the same card again

    # Finished early: the passes end with the new last day.
    await resident.say("/renochange")
    await resident.say("12月16日")
    await resident.press("跳过")
    said = await resident.press("确认提交")
    assert "已提交提前完工申请" in texts(said)
    await desk.inbox()
    await desk.press("同意")
    assert (await pass_of(demo_app, code)).valid_to == date(2026, 12, 16)
    at(demo_app, date(2026, 12, 17), 10, 0)
    assert "已过施工结束日期" in texts(await guard.say(f"/pass {code}"))
    async with demo_app.db.transaction() as s:
        changed = (
            await s.exec(select(AuditLog).where(AuditLog.action == "renovation_end_changed"))
        ).all()
    assert [a.detail["ends"] for a in changed] == ["2026-12-20", "2026-12-16"]
    assert ENDS == date(2026, 12, 10)


def render_watch(app, watch: dict) -> str:
    """The renovation page's watch section, rendered as the workspace renders pages."""
    import jinja2

    from bot.web import HERE

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    catalogs = app.catalogs
    return env.get_template("renovation_watch.html").render(
        watch=watch,
        prefix="/desk",
        t=lambda key, **params: catalogs.text("zh_CN", key, params),
        when=lambda value: catalogs.format("zh_CN", value) if value is not None else "",
    )


async def test_the_watch_section_lists_checks_violations_and_gate_checks(demo_app):
    renovation_id, (code, _), _ = await approved_renovation(demo_app)
    at(demo_app, STARTS, 20, 0)
    await Chat(demo_app, "zhao", chat_id=SECURITY, kind="group").say(f"/pass {code}")
    repair = Chat(demo_app, "wang", chat_id=REPAIR, kind="group")
    await repair.say(f"/renocheck {UNIT}")
    await repair.press("记录巡查")
    await repair.press("装修垃圾堆放楼道")
    await repair.say("楼道堆了水泥袋")
    await repair.press("跳过")
    await repair.press("确认提交")
    html = render_watch(demo_app, await _view(demo_app, renovation_id))
    assert "违规 1 次" in html and "装修垃圾堆放楼道" in html and "楼道堆了水泥袋" in html
    assert "维修" in html or "工程" in html
    assert code in html and "最近一次：未放行" in html and "没有相关投诉" in html


def test_every_word_of_the_watch_section_is_in_both_catalogs() -> None:
    import re
    from pathlib import Path

    from handlers.core.i18n import LOCALES, load_po_dir

    root = Path(__file__).resolve().parent.parent
    text = (root / "bot" / "web" / "templates" / "renovation_watch.html").read_text("utf-8")
    words = set(re.findall(r"""(?<![\w.])t\(["']([a-z_.]+)["']\s*[,)]""", text))
    assert "renowatch.web.checks" in words
    for locale in LOCALES:
        catalog = load_po_dir(root / "locales", locale)
        assert not {w for w in words if w not in catalog}, locale


async def test_passes_of_an_application_approved_in_chat_are_checked_at_the_gate(demo_app):
    """The whole way: applied for and approved in chat (tests/test_renovation.py), the
    workers' passes checked at the gate, a violation recorded, an extension approved."""
    from tests.test_renovation import apply, renovation_of

    owner = Chat(demo_app, "resident")
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    guard = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    await apply(owner)
    await desk.inbox()
    await desk.press("批准")
    renovation = await renovation_of(demo_app)
    assert renovation.status == "approved"
    async with demo_app.db.transaction() as s:
        passes = (
            await s.exec(
                select(WorkerPass)
                .where(WorkerPass.renovation_id == renovation.id)
                .order_by(col(WorkerPass.id))
            )
        ).all()
    code = passes[0].code
    assert code in texts(await owner.inbox())

    assert "未到施工开始日期" in texts(await guard.say(f"/pass {code}"))
    at(demo_app, date(2026, 12, 1), 8, 30)
    said = await guard.say(f"/pass {code}")
    assert "赵一" in texts(said) and "安居装饰" in texts(said) and "有效，可以放行" in texts(said)
    assert "已放行 赵一" in texts(await guard.press("放行"))
    at(demo_app, date(2026, 12, 1), 7, 30)
    assert "不在允许施工时间内" in texts(await guard.say(f"/pass {code}"))

    await guard.say(f"/renocheck {UNIT}")
    await guard.press("记录巡查")
    await guard.press("拆改主体结构")
    await guard.say("承重墙开洞")
    await guard.photo("wall-1")
    await guard.press("完成")
    assert "已通知业主" in texts(await guard.press("确认提交"))
    assert "拆改主体结构" in texts(await owner.inbox())
    assert "陈工：13900000009" in texts(await desk.inbox())

    await owner.say("/renochange")
    await owner.say("2027-01-15")
    await owner.say("工期延误")
    await owner.press("确认提交")
    await desk.inbox()
    await desk.press("同意")
    async with demo_app.db.transaction() as s:
        moved = (
            await s.exec(select(WorkerPass).where(WorkerPass.renovation_id == renovation.id))
        ).all()
    assert {p.valid_to for p in moved} == {date(2027, 1, 15)}
    assert (await renovation_of(demo_app)).ends == date(2027, 1, 15)


async def test_a_violation_where_the_owner_has_no_chat_is_phoned_by_the_desk(demo_app):
    renovation_id, _, _ = await approved_renovation(demo_app, unit=NEIGHBOUR)
    desk = Chat(demo_app, "li", chat_id=SERVICE, kind="group")
    await desk.inbox()
    security = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    await security.say(f"/renocheck {NEIGHBOUR}")
    await security.press("记录巡查")
    await security.press("装修垃圾堆放楼道")
    await security.press("跳过")
    await security.press("跳过")
    said = await security.press("确认提交")
    assert "业主暂无聊天账号" in texts(said)
    told = texts(await desk.inbox())
    assert "业主没有聊天账号" in told and "陈工：13955556666" in told
    [check] = await checks_of(demo_app, renovation_id)
    assert (check.violation, check.department, check.photos) == ("waste", "security", [])
