"""The annual owners' opinion survey (业主意见征询表) over a month of the demo.

The demo (today 2026-11-26 09:00, a Thursday), 幸福里 (XFL). Owners with a chat account
here: 张伟 ("resident", 3栋2单元1201), his wife 李娜 (made a co-owner of 1201 below),
王芳 (3栋2单元1202), 陈静 (1栋1单元101), 周杰 (2栋1单元201), 徐丽 (2栋2单元1101). 刘洋
("tenant") rents 1202 and 徐明 lives in 1101 as a family member: neither is asked. 周主管
("zhou") runs the survey, 陈主任 ("chen") is the director, 李敏 ("li") the service desk.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import col, select

from dialogs.registry import all_jobs
from handlers.rules import survey as rules
from handlers.survey_office import OpenSurvey
from storage.models import (
    AuditLog,
    Binding,
    Checklist,
    Job,
    Outbox,
    Person,
    Role,
    Survey,
    SurveyInvite,
    SurveyResponse,
    Ticket,
    Unit,
)
from tests.conversations import chat_as
from tests.harness import Chat, texts
from tests.webdesk import _pg_demo_template, desk_app, pg_demo_app

__all__ = [
    "_pg_demo_template",
    "desk_app",
    "pg_demo_app",
]  # fixtures: the demo on SQLite and on PostgreSQL

SERVICE = "group:XFL:service"
INJECTED = '=HYPERLINK("http://x","楼道灯坏了一个月")'


# ---- the rules, by hand ------------------------------------------------------------------


def test_survey_rules():
    policy = rules.SurveyPolicy(days=30, remind_days=7, low_score=2)
    sent = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    closes = rules.closes_at(sent, policy)
    assert closes == sent + timedelta(days=30)
    assert rules.reminder_slot(sent, sent + timedelta(days=6, hours=23), policy) == 0
    assert rules.reminder_due(sent, 0, False, sent + timedelta(days=7), closes, policy) == 1
    assert rules.reminder_due(sent, 1, False, sent + timedelta(days=8), closes, policy) is None
    assert rules.reminder_due(sent, 1, False, sent + timedelta(days=14), closes, policy) == 2
    assert rules.reminder_due(sent, 0, True, sent + timedelta(days=7), closes, policy) is None
    assert rules.reminder_due(sent, 0, False, closes, closes, policy) is None
    assert rules.next_reminder(sent, sent + timedelta(days=8), policy) == sent + timedelta(days=14)
    assert rules.low_areas({"repairs": 2, "fees": 3, "desk": 1}, policy) == ["repairs", "desk"]
    assert rules.valid_score("score:4") == 4 and rules.valid_score("6") is None
    assert rules.rate(2, 3) == Decimal("66.7") and rules.rate(0, 0) is None
    assert rules.mean([4, 4, 5]) == Decimal("4.33") and rules.mean([1, 2]) == Decimal("1.50")
    assert rules.clean_questions([{"area": "fees", "text": "  收费 合理吗 "}, {"area": "x"}]) == [
        {"area": "fees", "text": "收费 合理吗"}
    ]
    found = rules.analyse(
        ("repairs", "fees"),
        4,
        [
            rules.Answered("1栋101", "1栋", {"repairs": 5, "fees": 2}, {"fees": "贵"}),
            rules.Answered("2栋201", "2栋", {"repairs": 4, "fees": 4}),
        ],
        policy,
    )
    assert found.rate == Decimal("50.0") and found.overall == Decimal("3.75")
    assert found.means == {"repairs": Decimal("4.50"), "fees": Decimal("3.00")}
    assert found.by_building["1栋"]["fees"] == Decimal("2.00")
    assert found.distribution["fees"] == {1: 0, 2: 1, 3: 0, 4: 1, 5: 0}
    assert found.comments == {"repairs": [], "fees": [("1栋101", "贵")]} and found.low == 1


def test_every_area_and_score_has_its_words():
    from tests.test_catalogs import catalogs

    keys = {f"opinion.area.{a}" for a in rules.AREAS} | {f"opinion.score.{n}" for n in rules.SCORES}
    keys |= {f"opinion.state.{s}" for s in ("draft", "open", "closed")}
    keys |= {f"opinion.status.{s}" for s in ("none", "draft", "open", "closed")}
    for locale, messages in catalogs().items():
        assert sorted(keys - set(messages)) == [], locale


# ---- the conversation -------------------------------------------------------------------


async def answer(owner: Chat, scores: list[int], notes: dict[int, str] | None = None) -> list:
    """Answer the six areas by their buttons (a comment where `notes` has one), confirm."""
    notes = notes or {}
    for n, score in enumerate(scores):
        assert WORDS[score] in str(owner.keyboard.buttons if owner.keyboard else "")
        said = await owner.send(option=f"score:{score}")
        assert "意见或建议" in texts(said), texts(said)
        said = await (owner.say(notes[n]) if n in notes else owner.press("跳过"))
    assert "请确认房屋" in texts(said), texts(said)
    return await owner.press("确认提交")


WORDS = {1: "很不满意", 2: "不满意", 3: "一般", 4: "满意", 5: "非常满意"}


def is_png(path: str) -> bool:
    return Path(path).read_bytes()[:4] == b"\x89PNG"


async def run_jobs(app) -> None:
    await app.engine.run_jobs(all_jobs())


async def survey_rows(app) -> list[Outbox]:
    async with app.db.transaction() as s:
        rows = (await s.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    return [r for r in rows if (r.dedupe_key or "").startswith("survey:")]


async def make_co_owner(app, name: str, unit: str) -> None:
    async with app.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.name == name))).one()
        found = (await s.exec(select(Unit).where(Unit.label == unit))).one()
        binding = (
            await s.exec(
                select(Binding).where(Binding.person_id == person.id, Binding.unit_id == found.id)
            )
        ).one()
        binding.role = Role.owner.value
        s.add(binding)


async def test_a_survey_sent_answered_reminded_closed_and_analysed(desk_app, clock, tmp_path):
    """On SQLite and on PostgreSQL."""
    app = desk_app
    app.settings.data_dir = tmp_path / "data"
    zhou, chen = Chat(app, "zhou"), Chat(app, "chen")
    desk_group = Chat(app, "li", chat_id=SERVICE, kind="group")
    zhang, tenant = Chat(app, "resident"), Chat(app, "tenant")
    await make_co_owner(app, "李娜", "3栋2单元1201")
    lina = await chat_as(app, "lina", "李娜")
    wang = await chat_as(app, "wangfang", "王芳")
    chenjing = await chat_as(app, "chenjing", "陈静")
    zhoujie = await chat_as(app, "zhoujie", "周杰")
    xuli = await chat_as(app, "xuli", "徐丽")
    await chat_as(app, "xuming", "徐明")  # a family member of 1101: not asked

    # A resident cannot start the office's survey, nor open one with a forged button.
    said = await zhang.say("/survey")
    assert [x.payload["key"] for x in said] == ["dialog.not_allowed"], texts(said)

    # The supervisor sees this year's state and creates it.
    said = await zhou.say("/survey")
    assert "幸福里今年（2026年）的业主意见征询表还未发起" in texts(said), texts(said)
    said = await zhou.press("发起今年的征询")
    text = texts(said)
    assert "幸福里2026年度业主意见征询表" in text and "维修服务" in text and "收费服务" in text
    assert "6 位已绑定的业主（5 套房屋）" in text, text
    async with app.db.transaction() as s:
        [made] = (await s.exec(select(Survey))).all()
    assert made.status == "draft" and len(made.questions) == 6
    refused = await zhang.send(option=OpenSurvey(made.id or 0).value())
    assert "没有权限" in texts(refused) or "not allowed" in texts(refused).lower(), texts(refused)
    async with app.db.transaction() as s:
        assert (await s.get(Survey, made.id)).status == "draft"

    said = await zhou.press("发给业主")
    assert "6 位业主，5 套房屋" in texts(said), texts(said)

    # Each owner is invited once per unit, in bulk; the tenant and the family member are not.
    async with app.db.transaction() as s:
        invites = (await s.exec(select(SurveyInvite))).all()
    assert len(invites) == 6 and len({i.unit_id for i in invites}) == 5
    rows = await survey_rows(app)
    assert len(rows) == 6 and all(r.bulk for r in rows)
    assert {r.chat_id for r in rows} == {
        "resident",
        "lina",
        "wangfang",
        "chenjing",
        "zhoujie",
        "xuli",
    }
    assert texts(await tenant.inbox()) == ""
    # Pressing "send" again sends nothing more.
    said = await zhou.send(option=OpenSurvey(made.id or 0).value())
    assert "已经发出过了" in texts(said) and len(await survey_rows(app)) == 6

    # 张伟 answers for 1201, with a comment on repairs.
    said = await zhang.inbox()
    assert "3栋2单元1201" in texts(said) and "2026年度业主意见征询表" in texts(said)
    said = await zhang.press("填写意见征询表")
    assert "（3栋2单元1201 · 1/6）" in texts(said) and "维修服务" in texts(said), texts(said)
    said = await answer(zhang, [5, 4, 4, 5, 4, 3], {0: "维修师傅很准时"})
    assert "已收到房屋 3栋2单元1201 的意见" in texts(said), texts(said)

    # 王芳 scores low: the service desk gets one follow-up task.
    await wang.inbox()
    await wang.press("填写意见征询表")
    said = await answer(wang, [2, 1, 3, 3, 4, 2], {0: INJECTED, 5: "物业费有点贵"})
    assert "已收到房屋 3栋2单元1202" in texts(said)
    card = texts(await desk_group.inbox())
    assert "3栋2单元1202" in card and "王芳" in card and "维修服务 2分" in card, card

    # 陈静 answers with a comment on cleaning.
    await chenjing.inbox()
    await chenjing.press("填写意见征询表")
    await answer(chenjing, [4, 4, 4, 5, 4, 4], {2: "垃圾桶周边有异味"})

    # 李娜's unit is answered already: she is told so, not by whom.
    await lina.inbox()
    said = await lina.press("填写意见征询表")
    assert "已经有业主填写过了" in texts(said) and "张伟" not in texts(said), texts(said)

    # 周杰 begins, types his first score and stops.
    await zhoujie.inbox()
    await zhoujie.press("填写意见征询表")
    said = await zhoujie.say("3")
    assert "意见或建议" in texts(said), texts(said)

    # A week later, only the owners whose unit has not answered are reminded, once.
    clock.advance(days=7)
    await run_jobs(app)
    reminded = [r for r in await survey_rows(app) if ":remind:" in (r.dedupe_key or "")]
    assert sorted(r.chat_id for r in reminded) == ["xuli", "zhoujie"]
    assert "温馨提醒" in texts(await xuli.inbox())
    await run_jobs(app)
    clock.advance(days=1)
    await run_jobs(app)
    assert len([r for r in await survey_rows(app) if ":remind:" in (r.dedupe_key or "")]) == 2
    async with app.db.transaction() as s:
        invite = (
            await s.exec(
                select(SurveyInvite)
                .join(Person, col(Person.id) == col(SurveyInvite.person_id))
                .where(Person.name == "徐丽")
            )
        ).one()
    assert invite.reminders == 1 and invite.reminded_at is not None

    # 周杰 comes back: his flow was kept through the pause; he types his scores.
    said = await zhoujie.say("继续")
    if "接着填写" in texts(said):
        said = await zhoujie.press("接着填写")
    assert "意见或建议" in texts(said), texts(said)
    await zhoujie.press("跳过")
    for _ in range(5):
        await zhoujie.say("3")
        said = await zhoujie.press("跳过")
    assert "请确认房屋 2栋1单元201" in texts(said), texts(said)
    said = await zhoujie.press("确认提交")
    assert "已收到房屋 2栋1单元201" in texts(said)

    # The supervisor closes it; the director and the supervisor get the analysis.
    said = await zhou.say("/survey")
    assert "已回收 4 套，回收率 80.0%" in texts(said), texts(said)
    said = await zhou.press("结束征询")
    assert "已结束征询" in texts(said)
    await run_jobs(app)
    for manager in (chen, zhou):
        got = await manager.inbox()
        text = texts(got)
        assert "回收 4 套，回收率 80.0%" in text, text
        # By hand: repairs (5+2+4+3)/4, security (4+1+4+3)/4, cleaning (4+3+4+3)/4,
        # greening (5+3+5+3)/4, desk (4+4+4+3)/4, fees (3+2+4+3)/4; overall 83/24.
        for line in (
            "维修服务：3.50",
            "安全秩序：3.00",
            "环境卫生：3.50",
            "绿化养护：4.00",
            "前台服务：3.75",
            "收费服务：3.00",
        ):
            assert line in text, (line, text)
        assert "总体平均分：3.46" in text and "有低分项的答卷：1 份" in text
        photo = next(s.payload["photo"] for s in got if s.payload.get("photo"))
        book = next(s.payload["document"] for s in got if s.payload.get("document"))
        assert is_png(photo)
    workbook = load_workbook(book)
    comments = [list(r) for r in workbook["意见汇总"].iter_rows(min_row=2, values_only=True)]
    assert ["维修服务", "3栋2单元1201", "维修师傅很准时"] in comments
    assert ["维修服务", "3栋2单元1202", "'" + INJECTED] in comments
    assert ["环境卫生", "1栋1单元101", "垃圾桶周边有异味"] in comments
    cells = [c for row in workbook["意见汇总"].iter_rows(min_row=2) for c in row]
    assert all(c.data_type == "s" for c in cells), [(c.value, c.data_type) for c in cells]
    buildings = {r[0]: r for r in workbook["各楼栋"].iter_rows(min_row=2, values_only=True)}
    assert buildings["3栋"][1:4] == (2, 3.5, 2.5), buildings  # (5+2)/2, (4+1)/2
    summary = dict(workbook["汇总"].iter_rows(min_row=2, values_only=True))
    assert summary["回收率（%）"] == 80.0 and summary["发出（套）"] == 5

    # One follow-up task, for the low scorer, with the areas and the comment.
    async with app.db.transaction() as s:
        actions = [a.action for a in (await s.exec(select(AuditLog))).all()]
        tasks = (await s.exec(select(Ticket).where(Ticket.kind == "task"))).all()
        responses = (await s.exec(select(SurveyResponse))).all()
        analysis_jobs = (await s.exec(select(Job).where(Job.kind == "survey_analysis"))).all()
    assert len(tasks) == 1 and tasks[0].number.startswith("T-"), [t.number for t in tasks]
    assert "收费服务 2分" in tasks[0].description and "物业费有点贵" in tasks[0].description
    assert [r.ticket_id for r in responses if r.ticket_id] == [tasks[0].id]
    assert all(j.done_at is not None and j.error is None for j in analysis_jobs)
    for action in ("survey_create", "survey_open", "survey_close"):
        assert actions.count(action) == 1, (action, actions)
    assert actions.count("survey_answer") == 4

    # Closed: 徐丽 is thanked, not asked; nothing more is reminded.
    said = await xuli.press("填写意见征询表")
    assert "已经结束" in texts(said), texts(said)
    clock.advance(days=7)
    await run_jobs(app)
    assert len([r for r in await survey_rows(app) if ":remind:" in (r.dedupe_key or "")]) == 2


async def test_the_close_job_ends_it_and_the_questions_are_the_communitys(
    demo_app, clock, tmp_path
):
    app = demo_app
    app.settings.data_dir = tmp_path / "data"
    zhou, chen = Chat(app, "zhou"), Chat(app, "chen")
    async with app.db.transaction() as s:
        community_id = (
            await s.exec(select(Unit.community_id).where(Unit.label == "1栋1单元101"))
        ).one()
        s.add(
            Checklist(
                community_id=community_id,
                name="survey",
                items=[{"area": "desk", "text": "前台接待热情吗？"}, {"area": "fees"}],
                updated_by="test",
                updated_at=clock.now(),
            )
        )
    await zhou.say("/survey")
    said = await zhou.press("发起")
    assert "1. 前台服务：前台接待热情吗？" in texts(said) and "维修服务" not in texts(said)
    await zhou.press("发给业主")
    said = await Chat(app, "resident").inbox()
    assert "共2个方面" in texts(said)
    zhang = Chat(app, "resident")
    zhang.keyboard = said[-1]
    said = await zhang.press("填写")
    assert "（3栋2单元1201 · 1/2）前台接待热情吗？" in texts(said), texts(said)
    await zhang.send(option="score:4")
    await zhang.press("跳过")
    await zhang.say("5")
    said = await zhang.press("跳过")
    await zhang.press("确认提交")
    # Thirty days on, the job closes it and the director gets the analysis.
    clock.advance(days=30)
    await run_jobs(app)
    await run_jobs(app)
    async with app.db.transaction() as s:
        [found] = (await s.exec(select(Survey))).all()
    assert found.status == "closed"
    text = texts(await chen.inbox())
    assert "回收 1 套" in text and "前台服务：4.00" in text and "收费服务：5.00" in text, text

    # The supervisor has the analysis sent to himself again, in his chat.
    said = await zhou.say("/survey")
    assert "已于 2026-12-26 09:00 结束" in texts(said), texts(said)
    await zhou.inbox()
    said = await zhou.press("发送分析报告")
    assert "正在生成" in texts(said)
    await run_jobs(app)
    got = await zhou.inbox()
    assert "回收率 100.0%" in texts(got) and any(s.payload.get("document") for s in got)


async def test_sent_at_night_the_invitations_wait_for_the_morning_in_each_owners_language(
    demo_app, clock
):
    app = demo_app
    zhou, zhang = Chat(app, "zhou"), Chat(app, "resident")
    english = await chat_as(app, "wangfang", "王芳", locale="en")
    await zhou.say("/survey")
    await zhou.press("发起")
    clock.advance(hours=13, minutes=30)  # 22:30, in the quiet hours
    said = await zhou.press("发给业主")
    assert "已发出" in texts(said)  # the supervisor is answered at once
    morning = datetime(2026, 11, 27, 7, 0, tzinfo=clock.now().tzinfo)
    assert {r.not_before for r in await survey_rows(app)} == {morning}
    assert texts(await zhang.inbox()) == "" and texts(await english.inbox()) == ""
    clock.advance(hours=8, minutes=30)
    assert "业主意见征询表" in texts(await zhang.inbox())
    said = await english.inbox()
    assert "Dear owner" in texts(said) and "3栋2单元1202" in texts(said), texts(said)
    said = await english.press("Answer the survey")
    assert "(3栋2单元1202, 1/6) How satisfied are you with Repairs" in texts(said), texts(said)

    # An owner who binds a chat account while it is open is invited with the next reminders.
    late = await chat_as(app, "chenjing", "陈静")
    clock.advance(days=7)
    await run_jobs(app)
    said = await late.inbox()
    assert "诚邀您填写" in texts(said) and "1栋1单元101" in texts(said), texts(said)
    assert "温馨提醒" in texts(await zhang.inbox())


async def test_an_owner_of_two_flats_answers_for_each_in_turn(demo_app, clock):
    app = demo_app
    zhou, zhang = Chat(app, "zhou"), Chat(app, "resident")
    async with app.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.name == "张伟"))).one()
        other = (await s.exec(select(Unit).where(Unit.label == "3栋2单元1202"))).one()
        s.add(Binding(person_id=person.id or 0, unit_id=other.id or 0, created_at=clock.now()))
    await zhou.say("/survey")
    await zhou.press("发起")
    await zhou.press("发给业主")
    invitations = await zhang.inbox()
    assert [s.text.count("3栋2单元120") for s in invitations] == [1, 1]  # one per flat
    zhang.keyboard = invitations[0]
    await zhang.press("填写")
    said = await answer(zhang, [4, 4, 4, 4, 4, 4])
    assert "还有1套房屋未填写，下一套是 3栋2单元1202" in texts(said), texts(said)
    # He stops for a day; starting again asks nothing he has answered for.
    await zhang.press("填写")
    clock.advance(days=1)
    said = await zhang.say("5")
    assert "接着填写" in texts(said), texts(said)
    said = await zhang.press("重新开始")
    assert "（3栋2单元1202 · 1/6）" in texts(said), texts(said)  # the flat left to answer
    said = await answer(zhang, [5, 5, 5, 5, 5, 4])
    assert "已收到房屋 3栋2单元1202" in texts(said) and "还有" not in texts(said), texts(said)
    async with app.db.transaction() as s:
        assert len((await s.exec(select(SurveyResponse))).all()) == 2
