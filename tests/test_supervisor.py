"""Supervisors ask for figures: `/stats`, `/overdue`, `/report` (chart + workbook), `/ticket`.

The month below is November 2026 in 幸福里 (XFL). Three repairs go through the real
conversations (filed, accepted, finished, reopened, revisited); six more tickets are
written straight to the store for volume, plus two that must not be counted (October,
and another community). Every figure is worked out by hand in `EXPECTED`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from dialogs.engine import ReadFirst
from dialogs.registry import all_jobs
from handlers import report
from handlers.rules.stats import (
    Period,
    PeriodError,
    median,
    middle_offset,
    parse_period,
)
from storage import tickets
from storage.models import AuditLog, Community, Job
from tests.conversations import ask_report
from tests.harness import Chat, Said, texts
from tests.test_tasks import accepted_and_started, finish, repair_group

TZ = ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> int:
    """The size of a PNG file; 0 when the file is not a PNG."""
    return path.stat().st_size if path.read_bytes()[:8] == PNG else 0


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


async def file_repair(resident: Chat, category: str, text: str) -> str:
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press(category)
    await resident.say(text)
    await resident.press("跳过")
    await resident.press("明天上午")
    await resident.press("张伟")
    await resident.press("13800000001")
    said = await resident.press("确认提交")
    return texts(said).split("单号 ")[1].split("（")[0]


async def add_ticket(
    app: Any, code: str, kind: str, department: str, created: datetime, **fields: Any
) -> str:
    """A ticket written straight to the store, as if its whole life had already happened."""
    async with app.db.transaction() as session:
        community = (await session.exec(select(Community).where(Community.code == code))).one()
        ticket = await tickets.create_ticket(
            session,
            community_id=community.id,
            kind=kind,
            department=department,
            actor="system",
            now=created,
            tz=TZ,
            category=fields.pop("category", ""),
            details=fields.pop("details", {}),
            description=fields.pop("description", "历史工单"),
        )
        for name, value in fields.items():
            setattr(ticket, name, value)
        session.add(ticket)
        return ticket.number


async def revisit(resident: Chat, prompt: Said, score: str, fixed: str) -> None:
    await resident.send(option=prompt.button("开始回访"))
    await resident.press(score)
    await resident.press(fixed)
    await resident.press("跳过")
    await resident.press("确认提交")


async def the_month(app: Any, clock: Any) -> dict[str, str]:
    """November's tickets; returns their numbers by letter. The clock ends at 28 Nov 16:01."""
    resident, wang = Chat(app, "resident"), repair_group(app, "wang")
    numbers = {"A": await file_repair(resident, "电路", "客厅插座没电")}  # 09:00
    clock.advance(minutes=30)
    await accepted_and_started(app, wang)  # accepted 09:30: 30 min
    clock.set(at(26, 11))
    await finish(wang, "更换插座面板", "60")  # done 11:00: 2 h

    numbers["B"] = await file_repair(resident, "门窗", "入户门锁打不开")  # 11:00
    clock.set(at(26, 12))
    await accepted_and_started(app, wang)
    clock.set(at(26, 15))
    await finish(wang, "更换锁芯", "80")  # done 15:00
    await resident.inbox()
    await resident.press("还没解决")  # reopened: back to accepted (re-stamped 15:00)
    await wang.inbox()
    await wang.press("开始处理")
    clock.set(at(26, 16))
    await finish(wang, "重新调整锁舌", "0")  # done again 16:00: 5 h after it was filed
    await resident.inbox()

    numbers["C"] = await file_repair(resident, "水管", "阳台地漏堵了")  # new, nobody took it

    numbers["D"] = await add_ticket(
        app, "XFL", "complaint", "service", at(10, 10),
        status="accepted", accepted_at=at(10, 10, 20), due_at=at(12, 10),
    )  # fmt: skip
    numbers["E"] = await add_ticket(
        app, "XFL", "complaint", "service", at(11, 8),
        status="closed", accepted_at=at(11, 8, 10), done_at=at(11, 12),
        closed_at=at(11, 12, 30), due_at=at(11, 9),
    )  # fmt: skip
    numbers["F"] = await add_ticket(
        app, "XFL", "repair", "repair", at(5, 9), category="lift",
        status="closed", accepted_at=at(5, 9, 40), done_at=at(5, 17), closed_at=at(7, 10),
        details={"revisit": {"satisfaction": 3, "fixed": True, "by": "phone"}},
    )  # fmt: skip
    numbers["G"] = await add_ticket(
        app, "XFL", "repair", "repair", at(3, 9), category="water",
        status="done", accepted_at=at(3, 10), done_at=at(4, 9),
    )  # fmt: skip
    numbers["H"] = await add_ticket(
        app, "XFL", "question", "service", at(20, 9), due_at=at(30, 12),
    )  # fmt: skip
    numbers["J"] = await add_ticket(
        app, "XFL", "repair", "repair", at(12, 8), category="doors",
        status="accepted", accepted_at=at(12, 8, 30), done_at=at(13, 8), reopen_count=1,
        details={"last_revisit": {"satisfaction": 1, "fixed": False, "by": "resident"}},
    )  # fmt: skip
    # Not November's, or not XFL's: never counted for zhou.
    await add_ticket(app, "XFL", "repair", "repair", at(31, 23, month=10), category="gas")
    await add_ticket(app, "HYY", "repair", "repair", at(15, 9), category="gas")

    # The next morning at ten the resident is asked about A and B, and answers at once:
    # inside their windows (A's ends 28 Nov 11:00, B's 28 Nov 16:00).
    clock.set(at(27, 10, 1))
    await app.engine.run_jobs(all_jobs())
    prompts = [s for s in await resident.inbox() if "开始回访" in str(s.buttons)]
    assert len(prompts) == 2
    await revisit(resident, prompts[0], "5 分", "解决了")
    await revisit(resident, prompts[1], "4 分", "解决了")
    clock.set(at(28, 16, 1))
    await app.engine.run_jobs(all_jobs())  # the desk's phone revisits: nothing left to do
    return numbers


# By hand: accept times 10, 20, 30 (A), 30 (J), 40, 60, 240 (B, re-stamped) → median 30 min;
# finish times 120 (A), 240 (E), 300 (B), 480 (F), 1440 (G), 1440 (J) → median 390 min;
# finished 6 (A B E F G J), finished repairs 5, revisited 4 (A 5, B 4, F 3, J 1), all within
# their windows; G (a leak with no leak test yet) is not owed a revisit yet → 100 % (4/4),
# average 3.25 → 3.3; reopened B and J → 2/6 = 33.3 %; finished late E; overdue and open D
# (due 12 Nov) and C (a water repair is due within 24 h: 27 Nov 16:00).
EXPECTED = {
    "total": 9,
    "kinds": {"repair": 6, "complaint": 2, "question": 1},
    "statuses": {"closed": 4, "new": 2, "accepted": 2, "done": 1},
    "categories": {"doors": 2, "water": 2, "electrical": 1, "lift": 1},
    "median_accept": 30,
    "median_finish": 390,
    "overdue": 2,
    "late": 1,
    "finished": 6,
    "repairs_finished": 5,
    "revisited": 4,
    "revisit_rate": Decimal("100.0"),
    "satisfaction": Decimal("3.3"),
    "reopened": 2,
    "reopen_rate": Decimal("33.3"),
}


async def test_stats_for_the_month_in_both_languages(demo_app, clock):
    await the_month(demo_app, clock)
    zhou = Chat(demo_app, "zhou")
    said = texts(await zhou.say("/stats"))
    assert "幸福里 工单统计（2026年11月1日 至 2026年11月30日）" in said
    assert "新建工单：9 单" in said
    for line in ("报修：6", "投诉：2", "咨询：1"):
        assert line in said, said
    for line in ("已关闭：4", "待接单：2", "已接单：2", "已完成：1"):
        assert line in said
    assert "门窗/门锁：2" in said and "水管/漏水：2" in said and "电梯：1" in said
    assert "接单时长（中位数）：30分钟" in said
    assert "完成时长（中位数）：6小时30分" in said
    assert "逾期未完成：2 单；超时完成：1 单" in said
    assert "回访率（期限内完成）：100%（4/4）" in said
    assert "逾期回访：0 单" in said and "未到回访期限：1 单" in said
    assert "平均满意度：3.3" in said
    assert "返修率：33.3%（2/6）" in said

    await zhou.say("/lang en")
    said = texts(await zhou.say("/stats 2026-11"))
    assert "Tickets for 幸福里 (Nov 1, 2026 to Nov 30, 2026)" in said
    assert "New tickets: 9" in said and "Repair: 6" in said
    assert "Time to accept (median): 30 min" in said
    assert "Time to finish (median): 6 h 30 min" in said
    assert "Revisited within the window: 100% (4/4)" in said
    assert "Reopen rate: 33.3% (2/6)" in said

    # A day of its own: only the three repairs filed in chat on 26 November.
    said = texts(await zhou.say("/stats 2026-11-26..2026-11-26"))
    assert "New tickets: 3" in said and "Time to finish (median): 3 h 30 min" in said
    said = texts(await zhou.say("/stats 2026-13"))
    assert "could not read that period" in said

    async with demo_app.db.transaction() as s:
        logged = (await s.exec(select(AuditLog).where(AuditLog.action == "stats"))).all()
    assert [entry.target for entry in logged] == ["2026-11", "2026-11", "2026-11-26"]


async def test_company_wide_supervisor_sees_every_community_or_one(demo_app, clock):
    from handlers.people import add_staff

    await the_month(demo_app, clock)
    async with demo_app.db.transaction() as session:
        await add_staff(session, channel="console", user_id="boss", name="总经理", role="director")
    boss = Chat(demo_app, "boss")
    assert "全部小区 工单统计" in texts(said := await boss.say("/stats")), texts(said)
    assert "新建工单：10 单" in texts(said)
    assert "新建工单：1 单" in texts(await boss.say("/stats month HYY"))
    assert "没有找到编码为 ABC 的小区" in texts(await boss.say("/stats month ABC"))
    # zhou supervises XFL only
    assert "没有权限" in texts(await Chat(demo_app, "zhou").say("/stats month HYY"))


async def test_who_may_ask(demo_app):
    assert "没有权限" in texts(await Chat(demo_app, "resident").say("/stats"))
    assert "没有权限" in texts(await Chat(demo_app, "wang").say("/stats"))
    assert "没有权限" in texts(await Chat(demo_app, "wang").say("/report"))
    group = Chat(demo_app, "zhou", chat_id="group:XFL:service", kind="group")
    assert "私聊" in texts(await group.say("/stats"))
    assert "没有权限" in texts(await Chat(demo_app, "resident").say("/ticket R-261126-0001"))


async def test_overdue_list_grows_as_the_clock_moves(demo_app, clock):
    numbers = await the_month(demo_app, clock)
    zhou = Chat(demo_app, "zhou")
    said = texts(await zhou.say("/overdue"))
    assert "幸福里 逾期未完成的工单共 2 单" in said
    assert f"{numbers['D']} · 投诉 · 客服中心 · 处理人：暂无 · 已逾期 16天6小时" in said, said
    assert f"{numbers['C']} · 报修 · 维修部 · 处理人：暂无 · 已逾期 1天0小时" in said
    assert said.index(numbers["D"]) < said.index(numbers["C"])  # the most overdue first

    clock.set(at(1, 15, month=12))  # H's answer was due 30 Nov 12:00
    said = texts(await zhou.say("/overdue"))
    assert "共 3 单" in said
    assert said.index(numbers["D"]) < said.index(numbers["C"]) < said.index(numbers["H"])
    assert "已逾期 19天5小时" in said and "已逾期 1天3小时" in said

    await zhou.say("/lang en")
    said = texts(await zhou.say("/overdue"))
    assert "3 open tickets past due in 幸福里" in said and "19 d 5 h late" in said
    async with demo_app.db.transaction() as s:
        assert len((await s.exec(select(AuditLog).where(AuditLog.action == "overdue"))).all()) == 3


async def test_ticket_history_for_managers_and_its_department(demo_app, clock):
    numbers = await the_month(demo_app, clock)
    zhou = Chat(demo_app, "zhou")
    said = texts(await zhou.say(f"/ticket {numbers['B'].lower()}"))
    assert f"工单 {numbers['B']}（幸福里）" in said
    assert "状态：已关闭 · 部门：维修部 · 处理人：王师傅" in said
    assert "2026-11-26 11:00 张伟：创建工单（— → 待接单）" in said, said
    assert "2026-11-26 12:00 王师傅：接单（待接单 → 已接单）" in said
    assert "类型：报修 · 门窗/门锁 · 有偿服务" in said
    assert (
        "2026-11-26 15:00 王师傅：处理完成，收费 ¥80.00（处理中 → 已完成），备注：更换锁芯" in said
    )
    assert "2026-11-26 15:00 张伟：住户反馈未解决（已完成 → 已接单）" in said
    assert "2026-11-27 10:01 系统：发出回访" in said
    assert "回访满意：4 分，解决了（已完成 → 已关闭）" in said
    # the repair department's own staff may read it; the service desk may not
    assert numbers["B"] in texts(await Chat(demo_app, "wang").say(f"/ticket {numbers['B']}"))
    assert "没有权限" in texts(await Chat(demo_app, "li").say(f"/ticket {numbers['B']}"))
    assert "没有找到单号" in texts(await zhou.say("/ticket R-000000-0000"))

    await zhou.say("/lang en")
    said = texts(await zhou.say(f"/ticket {numbers['A']}"))
    assert "2026-11-26 09:30 王师傅: accepted (new → accepted)" in said
    assert "revisit: satisfied: 5/5, Yes, solved (done → closed)" in said


async def test_report_writes_a_chart_and_a_workbook_with_the_stats_numbers(
    demo_app, clock, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    numbers = await the_month(demo_app, clock)
    zhou = Chat(demo_app, "zhou")
    said = await ask_report(demo_app, zhou, "/report 2026-11")
    assert "新建工单：9 单" in said[0].text  # the same message as /stats
    chart = Path(said[1].payload["photo"])
    book = Path(said[2].payload["document"])
    assert chart.parent == tmp_path / "data" / "reports" == book.parent
    assert png_size(chart) > 20_000
    assert book.suffix == ".xlsx"

    workbook = load_workbook(book)
    assert workbook.sheetnames == ["汇总", "报修按类别", "按部门", "按日", "工单明细"]
    summary = {row[0]: row[1] for row in workbook["汇总"].iter_rows(min_row=5, values_only=True)}
    assert summary["新建工单"] == EXPECTED["total"]
    assert summary["接单时长中位数（分钟）"] == EXPECTED["median_accept"]
    assert summary["完成时长中位数（分钟）"] == EXPECTED["median_finish"]
    assert summary["逾期未完成"] == EXPECTED["overdue"]
    assert summary["超时完成"] == EXPECTED["late"]
    assert summary["已完成工单"] == EXPECTED["finished"]
    assert summary["已完成报修"] == EXPECTED["repairs_finished"]
    assert summary["已回访"] == EXPECTED["revisited"]
    assert summary["回访率（%）"] == float(EXPECTED["revisit_rate"])
    assert summary["满意度"] == float(EXPECTED["satisfaction"])
    assert summary["返修单数"] == EXPECTED["reopened"]
    assert summary["返修率（%）"] == float(EXPECTED["reopen_rate"])
    assert summary["报修"] == 6 and summary["投诉"] == 2 and summary["咨询"] == 1

    categories = {r[0]: r for r in workbook["报修按类别"].iter_rows(min_row=2, values_only=True)}
    assert {name: row[1] for name, row in categories.items()} == {
        "门窗/门锁": 2, "水管/漏水": 2, "电路": 1, "电梯": 1,
    }  # fmt: skip
    # doors: B finished in 300 min, J in 1440 → median 870; two revisited (4 and 1)
    assert categories["门窗/门锁"][8] == 870 and categories["门窗/门锁"][9] == 2
    assert categories["门窗/门锁"][11] == 2.5

    departments = {r[0]: r for r in workbook["按部门"].iter_rows(min_row=2, values_only=True)}
    assert departments["维修部"][1] == 6 and departments["客服中心"][1] == 3
    assert departments["客服中心"][4] == 1 and departments["客服中心"][5] == 1  # D late, E late
    assert departments["维修部"][4] == 1  # C

    days = {r[0].day: r[1] for r in workbook["按日"].iter_rows(min_row=2, values_only=True)}
    assert len(days) == 30 and days[26] == 3 and days[5] == 1 and sum(days.values()) == 9

    listed = list(workbook["工单明细"].iter_rows(min_row=2, values_only=True))
    assert sorted(row[1] for row in listed) == sorted(numbers.values())
    b_row = next(row for row in listed if row[1] == numbers["B"])
    assert b_row[:6] == ("XFL", numbers["B"], "报修", "门窗/门锁", "维修部", "已关闭")
    assert b_row[6] == datetime(2026, 11, 26, 11, 0)  # office time, as Excel has no zones
    assert b_row[12:15] == (1, 4, "住户自评")

    await zhou.say("/lang en")
    said = await ask_report(demo_app, zhou, "/report")  # this month, in English
    assert Path(said[2].payload["document"]).name == "report-XFL-2026-11-en.xlsx"
    assert load_workbook(said[2].payload["document"]).sheetnames[0] == "Summary"
    assert "the monthly report needs a month" in texts(await zhou.say("/report week"))


async def test_a_report_is_read_and_drawn_while_a_message_holds_the_write_lock(
    demo_app, clock, tmp_path, monkeypatch
):
    """A month's report takes seconds; nobody may wait behind it (the resident whose
    message is being handled holds the write lock meanwhile, here for the whole time)."""
    monkeypatch.chdir(tmp_path)
    await the_month(demo_app, clock)
    zhou = Chat(demo_app, "zhou")
    said = await zhou.say("/report 2026-11")
    assert texts(said) == "正在生成 幸福里 2026-11 的工单月报（图表和 Excel），稍后发给您。"

    work = all_jobs()[report.JOB]
    assert isinstance(work, ReadFirst)
    async with demo_app.db.transaction() as writing:  # someone else's message, mid-way
        writing.add(AuditLog(actor="test", action="busy", at=clock.now()))
        await writing.flush()  # the write lock is taken
        job = (await writing.exec(select(Job).where(Job.kind == report.JOB))).one()
        data, files = await asyncio.wait_for(
            demo_app.engine.read_first_handler(work).read(job), timeout=20
        )
    assert data.figures.total == 9 and files.chart.exists() and files.workbook.exists()

    # The worker's run sends what was asked for, to whoever asked, once.
    assert await demo_app.engine.run_jobs(all_jobs()) == 1
    sent = await zhou.inbox()
    assert [s.payload["key"] for s in sent] == [
        "supervisor.stats",
        "supervisor.report.chart",
        "supervisor.report.workbook",
    ]
    assert await demo_app.engine.run_jobs(all_jobs()) == 0 and await zhou.inbox() == []


async def test_the_figures_agree_on_sqlite_and_postgresql(database, tmp_path):
    """The SQL behind /stats and /report: percentile_cont on PostgreSQL, OFFSET on SQLite."""
    from handlers import report, stats
    from handlers.core.i18n import Catalogs
    from tests.factories import make_community

    async with database.transaction() as session:
        community = await make_community(session)
        for minutes, done in ((10, 60), (20, None), (40, 180), (70, 90)):
            score = {"revisit": {"satisfaction": 4, "fixed": True, "by": "phone"}}
            created = at(2, 23, 30)
            ticket = await tickets.create_ticket(
                session, community_id=community.id, kind="repair", department="repair",
                actor="system", now=created, tz=TZ, category="water",
                details=score if done == 60 else {},
            )  # fmt: skip
            ticket.accepted_at = created + timedelta(minutes=minutes)
            ticket.due_at = created + timedelta(hours=2)  # the 180-minute one finished late
            if done is not None:
                ticket.done_at = created + timedelta(minutes=done)
                ticket.status = "done"
            session.add(ticket)
        await tickets.create_ticket(  # 07:00 on 3 Nov in Shanghai is still 2 Nov in UTC
            session, community_id=community.id, kind="question", department="service",
            actor="system", now=at(3, 7), tz=TZ,
        )  # fmt: skip

    period = parse_period("2026-11", at(28, 12).date(), TZ)
    async with database.transaction() as session:
        numbers = await stats.figures(session, (community.id,), period, at(28, 12))
        assert numbers.total == 5 and numbers.by_kind == {"repair": 4, "question": 1}
        assert numbers.median_accept == 30  # 10, 20, 40, 70
        assert numbers.median_finish == 90  # 60, 90, 180
        assert numbers.satisfaction == Decimal("4.0")
        assert (numbers.overdue_open, numbers.finished_late) == (1, 1)
        count, late = await stats.overdue(session, (community.id,), at(28, 12))
        assert count == 1 and late[0][0].done_at is None and late[0][1] is None
        per_day = await report.per_day(session, (community.id,), period, TZ)
        assert per_day[at(2, 0).date()] == {"repair": 4}
        assert per_day[at(3, 0).date()] == {"question": 1}
        found = stats.Audience((community.id,), "幸福里", "XFL")
        data, files = await report.build_report(
            session,
            catalogs=Catalogs.load("zh_CN", TZ),
            locale="zh_CN",
            found=found,
            period=period,
            now=at(28, 12),
            tz=TZ,
            out_dir=tmp_path,
            listed=3,
        )
    assert png_size(files.chart) > 0
    assert data.finish_by_category == {"water": 5400.0}
    listed = list(load_workbook(files.workbook)["工单明细"].iter_rows(min_row=2, values_only=True))
    assert len(listed) == 4 and "另有 2 单未列出" in listed[-1][0]  # 3 listed, then a note


def test_periods():
    today = at(26, 9).date()
    month = parse_period("", today, TZ)
    assert (month.first.day, month.last.day, month.label) == (1, 30, "2026-11")
    assert month.start == at(1, 0) and month.end == at(1, 0, month=12)
    assert parse_period("today", today, TZ).label == "2026-11-26"
    week = parse_period("本周", today, TZ)
    assert (week.first.isoformat(), week.last.isoformat()) == ("2026-11-23", "2026-11-26")
    assert parse_period("上月", today, TZ).label == "2026-10"
    assert parse_period("2026-2", today, TZ).last.isoformat() == "2026-02-28"
    span = parse_period("2026-11-01 .. 2026-11-15", today, TZ)
    assert isinstance(span, Period) and span.label == "2026-11-01..2026-11-15"
    for bad in ("2026-13", "2026-11-15..2026-11-01", "yesterday", "2026-02-30", "2020-01..x"):
        with pytest.raises(PeriodError):
            parse_period(bad, today, TZ)


def test_median_and_its_offset():
    assert median([]) is None and median([5]) == 5 and median([1, 2, 9, 10]) == 5.5
    assert middle_offset(1) == (0, 1) and middle_offset(4) == (1, 2) and middle_offset(7) == (3, 1)


async def seeded_file(tmp_path: Path) -> None:
    """A SQLite file with the demo data and four November tickets (three in XFL)."""
    from bot.app import App
    from bot.demo import seed_demo
    from bot.settings import Settings

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}")
    app = await App.start(settings)
    try:
        async with app.db.transaction() as session:
            await seed_demo(session, at(26, 9).date(), TZ)
        for day in (3, 3, 17):
            await add_ticket(app, "XFL", "repair", "repair", at(day, 10), category="water")
        await add_ticket(app, "HYY", "repair", "repair", at(4, 10), category="gas")
    finally:
        await app.close()


def test_cli_report_writes_both_files(tmp_path):
    import asyncio

    from tests.commandline import frontdesk, ok

    asyncio.run(seeded_file(tmp_path))
    out = tmp_path / "out"
    printed = ok(frontdesk(tmp_path, "report", "--month", "2026-11", "--out", str(out),
                           "--community", "XFL"))  # fmt: skip
    lines = printed.strip().splitlines()
    assert lines[0] == "2026-11 XFL: 3 tickets"
    chart, book = Path(lines[1]), Path(lines[2])
    assert chart.parent == out and png_size(chart) > 20_000
    rows = list(load_workbook(book)["工单明细"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 3 and {r[0] for r in rows} == {"XFL"}

    printed = ok(frontdesk(tmp_path, "report", "--month", "2026-11", "--out", str(out)))
    assert printed.splitlines()[0] == "2026-11 all: 4 tickets"
    bad = frontdesk(tmp_path, "report", "--month", "11/2026", "--out", str(out))
    assert bad.returncode == 2 and "--month" in bad.stderr
