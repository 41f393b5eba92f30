"""The month-end analysis (月度回访小结与问题分析): November's requests seeded with recurring
problems (the same flat's water repairs twice, one building's lift three times, a reopened
repair, two complaints about noise); the clock moves to 1 December 08:00 and the job makes
the review; 周主管 ("zhou") gets it in chat with its workbook, comments and forwards it, and
陈主任 ("chen") gets it with the comment and the file. A second run makes no second review;
staff and residents cannot see or forward it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from dialogs.registry import all_jobs
from handlers import month_review
from handlers.rules import month_review as rules
from storage import jobs, tickets
from storage.models import AuditLog, Community, Job, MonthReview, Unit
from tests.harness import Chat, texts

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_the_rule_finds_recurring_problems():
    cases = [
        rules.Case("R-1", "repair", "3栋2单元1201", "3栋", "water"),
        rules.Case("R-2", "repair", "3栋2单元1201", "3栋", "water"),
        rules.Case("R-3", "repair", "3栋2单元1202", "3栋", "electrical"),
        *(rules.Case(f"R-L{n}", "repair", f"2栋{n}", "2栋", "lift") for n in range(3)),
        rules.Case("R-9", "repair", "1栋1单元101", "1栋", "lift"),
        rules.Case("C-1", "complaint", "", "", "", "楼上噪音太大", "valid"),
        rules.Case("C-2", "complaint", "", "", "", "晚上装修太吵扰民", "venting"),
        rules.Case("C-3", "complaint", "", "", "", "保安态度不好", "valid"),
    ]
    themes = {"noise": {"噪音", "太吵"}, "attitude": {"态度"}}
    found = rules.recurring(cases, {"R-3": 1}, themes, rules.ReviewPolicy())
    assert [(f["kind"], f["where"], f["what"], f["count"]) for f in found] == [
        ("building", "2栋", "lift", 3),
        ("unit", "3栋2单元1201", "water", 2),
        ("theme", "", "noise", 2),
        ("complaint_kind", "", "valid", 2),
        ("reopened", "", "", 1),
    ]
    assert found[0]["tickets"] == ["R-L0", "R-L1", "R-L2"]
    revisits = [
        rules.Revisit("R-1", "phone", 5, True, False),
        rules.Revisit("R-2", "resident", 2, False, True),
    ]
    visits = [rules.Visit("V-1", True, False, "satisfied"), rules.Visit("V-2", False, True)]
    summary = rules.revisit_summary(revisits, 1, visits, rules.ReviewPolicy())
    assert summary["revisits"] == 2 and summary["on_time"] == 1 and summary["satisfied"] == 1
    assert summary["by_phone"] == 1 and summary["unanswered"] == 1
    assert (summary["visits"], summary["visits_done"], summary["visits_late"]) == (2, 1, 1)
    now = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)
    assert rules.next_review(now, TZ) == datetime(2026, 12, 1, 8, 0, tzinfo=TZ)
    assert rules.next_review(datetime(2026, 12, 1, 7, 0, tzinfo=TZ), TZ) == datetime(
        2026, 12, 1, 8, 0, tzinfo=TZ
    )
    assert rules.next_review(datetime(2026, 12, 31, 9, 0, tzinfo=TZ), TZ) == datetime(
        2027, 1, 1, 8, 0, tzinfo=TZ
    )
    assert rules.previous_month(datetime(2027, 1, 1, 8, 0, tzinfo=TZ), TZ) == "2026-12"
    assert rules.month_bounds("2026-12", TZ) == (
        datetime(2026, 12, 1, tzinfo=TZ),
        datetime(2027, 1, 1, tzinfo=TZ),
    )


async def seed_november(app) -> dict[str, str]:
    """November's requests in 幸福里, as staff and residents left them; their numbers."""
    numbers: dict[str, str] = {}
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        units = {u.label: u for u in (await s.exec(select(Unit))).all()}

        async def make(
            name: str, day: int, kind: str, label: str, category: str, text: str, month: int = 11
        ):
            ticket = await tickets.create_ticket(
                s,
                community_id=community.id,
                kind=kind,
                department="repair" if kind == "repair" else "service",
                actor="person:1",
                now=datetime(2026, month, day, 10, 0, tzinfo=TZ),
                tz=TZ,
                unit_id=units[label].id if label else None,
                category=category,
                description=text,
                details={"kind": "valid"} if kind == "complaint" else {},
            )
            numbers[name] = ticket.number
            return ticket

        await make("water1", 3, "repair", "3栋2单元1201", "water", "厨房水管漏水")
        await make("water2", 17, "repair", "3栋2单元1201", "water", "厨房水管又漏水了")
        await make("lift1", 5, "repair", "2栋1单元201", "lift", "电梯异响")
        await make("lift2", 12, "repair", "2栋1单元802", "lift", "电梯门关不上")
        await make("lift3", 20, "repair", "2栋2单元1101", "lift", "电梯停在半层")
        await make("noise1", 8, "complaint", "", "", "楼上装修噪音太大")
        await make("noise2", 21, "complaint", "", "", "晚上广场舞太吵")
        reopened = await make("socket", 10, "repair", "1栋1单元101", "electrical", "插座没电")
        await tickets.record_change(
            s,
            reopened,
            actor="person:5",
            action="not_fixed",
            now=datetime(2026, 11, 14, 9, 0, tzinfo=TZ),
            to_status="accepted",
        )
        reopened.reopen_count = 1
        await tickets.record_change(
            s,
            reopened,
            actor="staff:3",
            action="revisit_ok",
            now=datetime(2026, 11, 16, 9, 0, tzinfo=TZ),
            data={"satisfaction": 5, "fixed": True, "by": "phone", "late": 0},
        )
        # October's repair of the same kind is not November's problem.
        await make("october", 31, "repair", "3栋1单元501", "water", "十月底报修", month=10)
    return numbers


async def test_the_month_end_review_reaches_the_supervisor_then_the_director(demo_app, clock):
    app = demo_app
    numbers = await seed_november(app)
    supervisor, director = Chat(app, "zhou"), Chat(app, "chen")
    await supervisor.inbox()
    await director.inbox()

    # Nothing before the month is over.
    clock.advance(days=4, hours=22)  # 1 December, 07:00
    await app.engine.run_jobs(all_jobs())
    assert not [s for s in await supervisor.inbox() if "月度" in s.text]

    clock.advance(hours=1)  # 08:00: the month just ended is reviewed
    await app.engine.run_jobs(all_jobs())
    said = await supervisor.inbox()
    review_said = [s for s in said if s.payload.get("key") == "month_review.made"]
    assert len(review_said) == 1, texts(said)
    text = review_said[0].text
    assert "幸福里 2026-11" in text, text
    assert "3栋2单元1201 本月水管/漏水报修 2 次" in text, text
    assert numbers["water1"] in text and numbers["water2"] in text, text
    assert "2栋" in text and numbers["lift3"] in text and "报修 3 次" in text, text
    assert f"{numbers['socket']} 返工 1 次" in text, text
    assert "噪音扰民" in text and numbers["noise2"] in text, text
    assert "回访 1 次" in text and "电话回访 1" in text, text
    assert numbers["october"] not in text  # not a recurring problem
    [chart] = [s for s in said if s.payload.get("photo")]
    png = await asyncio.to_thread(Path(chart.payload["photo"]).read_bytes)
    assert png.startswith(b"\x89PNG") and "图表" in chart.text
    [file] = [s for s in said if s.payload.get("document")]
    workbook = load_workbook(file.payload["document"])
    problems = [[c.value for c in row] for row in workbook.worksheets[1].iter_rows(min_row=2)]
    assert ["同一楼栋重复报修", "2栋", "电梯", 3] == problems[0][:4], problems

    async with app.db.transaction() as s:
        [review, other] = (await s.exec(select(MonthReview).order_by(col(MonthReview.id)))).all()
    assert other.findings["problems"] == []  # 和悦园 had nothing of the kind
    assert review.month == "2026-11" and review.status == "made"
    assert review.findings["summary"]["revisits"] == 1

    # Forwarding asks for the supervisor's comment first.
    supervisor.keyboard = review_said[0]
    first = await supervisor.press("转呈主任")
    assert "请先写点评" in texts(first), texts(first)
    await supervisor.press("写点评")
    summary = await supervisor.say("=请维修部排查2栋电梯，3栋2单元1201水管整体更换")
    assert "2栋电梯" in texts(summary), texts(summary)
    kept = await supervisor.press("确认提交")
    assert "点评已保存" in texts(kept), texts(kept)
    forwarded = await supervisor.press("转呈主任")
    assert "已转呈主任" in texts(forwarded), texts(forwarded)

    got = await director.inbox()
    assert "周主管 转呈" in texts(got) and "请维修部排查2栋电梯" in texts(got), texts(got)
    [sent] = [s for s in got if s.payload.get("document")]
    sheet = load_workbook(sent.payload["document"]).worksheets[0]
    cells = [c.value for row in sheet.iter_rows() for c in row]
    assert "'=请维修部排查2栋电梯，3栋2单元1201水管整体更换" in cells  # text, never a formula
    assert "周主管" in cells

    async with app.db.transaction() as s:
        review = (await s.exec(select(MonthReview).order_by(col(MonthReview.id)))).first()
        assert review is not None
        audited = [a.action for a in (await s.exec(select(AuditLog))).all()]
        booked = (
            await s.exec(select(Job).where(Job.dedupe_key == "month_review:2027-01-01"))
        ).all()
    assert review.status == "forwarded" and review.comment.startswith("=请维修部")
    assert "month_review_forward" in audited and "month_review_comment" in audited
    assert len(booked) == 1 and booked[0].due_at == datetime(2027, 1, 1, 8, 0, tzinfo=TZ)

    # Forwarded once only.
    again = await supervisor.send(option=month_review.Forward(review.id or 0).value())
    assert "已经转呈" in texts(again), texts(again)

    # Running the job again (a restart, a second worker) makes no second review.
    async with app.db.transaction() as s:
        await jobs.schedule(
            s, kind=month_review.JOB, due_at=clock.now(), payload={}, dedupe_key="again"
        )
    await app.engine.run_jobs(all_jobs())
    async with app.db.transaction() as s:
        assert len((await s.exec(select(MonthReview))).all()) == 2  # one per community
    assert not [s for s in await supervisor.inbox() if "月度" in s.text]

    # The supervisor sees it again with /reviews; staff and residents cannot.
    shown = await supervisor.say("/reviews")
    assert "幸福里 2026-11" in texts(shown) and "请维修部排查" in texts(shown), texts(shown)
    for who in ("li", "resident"):
        refused = await Chat(app, who).say("/reviews")
        assert "权限" in texts(refused) and "2026-11" not in texts(refused), texts(refused)
    refused = await Chat(app, "li").send(option=f"flow:{month_review.COMMENT_FLOW}:{review.id}")
    assert "权限" in texts(refused), texts(refused)


async def test_a_month_with_nothing_recurring_says_so(demo_app, clock):
    app = demo_app
    clock.advance(days=5, hours=-1)  # 1 December, 08:00
    await app.engine.run_jobs(all_jobs())
    said = texts(await Chat(app, "zhou").inbox())
    assert "本月未发现反复出现的问题" in said, said
    async with app.db.transaction() as s:
        made = (await s.exec(select(MonthReview).order_by(col(MonthReview.id)))).all()
        codes = {(await s.get(Community, r.community_id)).code for r in made}  # type: ignore[union-attr]
    assert codes == {"XFL", "HYY"}  # one per community
    assert await asyncio.to_thread(Path("data/reports/month-review-XFL-2026-11.xlsx").is_file)
    assert "月度" not in texts(await Chat(app, "li").inbox())  # for managers only


async def test_made_once_on_both_stores_even_with_a_second_job(demo_both, clock):
    """A restart books the run again, or two workers take two runs: the review of a
    community and month is one row, pushed once; a visit plan's progress reads the same
    on PostgreSQL as on SQLite."""
    app = demo_both
    supervisor = Chat(app, "zhou")
    await supervisor.say("/visitplan")
    await supervisor.say("门窗保温回访")
    await supervisor.press("跳过")
    await supervisor.say("2-1-802 3栋2单元1201")
    await supervisor.press("明天")
    await supervisor.press("电话访问")
    await supervisor.press("我本人")
    await supervisor.press("确认提交")
    await supervisor.inbox()
    async with app.db.transaction() as s:
        await jobs.schedule(
            s,
            kind=month_review.JOB,
            due_at=datetime(2026, 12, 1, 8, 0, tzinfo=TZ),
            payload={},
            dedupe_key="month_review:again",
        )
    clock.advance(days=5, hours=-1)  # 1 December, 08:00
    await app.engine.run_jobs(all_jobs())
    said = [s for s in await supervisor.inbox() if s.payload.get("key") == "month_review.made"]
    assert len(said) == 1, [s.text for s in said]
    assert "计划走访 2 户：已完成 0，逾期 2" in said[0].text, said[0].text
    async with app.db.transaction() as s:
        made = (await s.exec(select(MonthReview))).all()
        done = (await s.exec(select(Job).where(Job.kind == month_review.JOB))).all()
    assert len(made) == 2  # 幸福里 and 和悦园, once each
    assert sorted(j.done_at is not None for j in done) == [False, True, True]  # January's waits
    progress = await supervisor.say("/visitplans")
    assert "已完成 0/2" in texts(progress) and "逾期 2" in texts(progress), texts(progress)
