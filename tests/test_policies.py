"""A community's own policy: deadlines and revisit windows that differ from the company's,
laid over the settings where the rules read them; everything it does not name stays."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.settings import Settings
from dialogs.registry import all_jobs, all_sweeps
from handlers.policies import PolicyError, checked, complaint_policy, overlaid
from handlers.rules.complaint import deadlines
from storage.models import Community, Ticket
from tests.commandline import frontdesk
from tests.conversations import file_repair, finish_repair, repair_group
from tests.harness import Chat, texts
from tests.test_binding import request_binding

TZ = ZoneInfo("Asia/Shanghai")


def test_a_community_changes_only_what_it_names():
    company = Settings()
    own = overlaid(company, {"revisit_leak_days": 2, "repair_targets_hours": {"water": 12}})
    assert own.revisit_leak_days == 2 and company.revisit_leak_days == 3
    # A table merges: the one category named changes, the others stay the company's.
    assert own.repair_targets_hours["water"] == 12
    assert own.repair_targets_hours["gas"] == company.repair_targets_hours["gas"] == 4
    assert own.revisit_other_days == company.revisit_other_days
    assert overlaid(company, {}) is company


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"revisit_leak_days": 0}, "revisit_leak_days"),  # the settings' own limit: > 0
        ({"revisit_leak_days": "soon"}, "revisit_leak_days"),
        ({"quiet_hours_start": "23:00"}, "quiet_hours_start"),  # the company's, not a policy
        ({"telegram_token": "x"}, "telegram_token"),
        ({"nonsense": 3}, "nonsense"),  # no such setting at all
    ],
)
def test_a_policy_is_checked_as_the_settings_are(overrides, name):
    with pytest.raises(PolicyError) as refused:
        checked(Settings(), overrides)
    assert refused.value.name == name


def test_checked_values_are_kept_as_json():
    kept = checked(Settings(), {"revisit_ask_time": "09:30", "complaint_minor_solve_days": "1"})
    assert kept == {"revisit_ask_time": "09:30:00", "complaint_minor_solve_days": 1.0}


def test_complaint_deadlines_follow_the_policy():
    made = datetime(2026, 11, 26, 9, tzinfo=TZ)
    own = overlaid(Settings(), {"complaint_important_solve_days": 2})
    due = deadlines("important", made, None, TZ, policy=complaint_policy(own))
    assert due.solve_by == made + timedelta(days=2)
    assert due.escalate_by == made + timedelta(hours=1)  # not named: the seed's hour
    assert deadlines("important", made, None, TZ).solve_by == made + timedelta(days=3)


async def set_policy(app, code: str, policy: dict) -> None:
    async with app.db.transaction() as s:
        community = (await s.exec(select(Community).where(Community.code == code))).one()
        community.policy = checked(app.settings, policy)
        s.add(community)


async def test_a_shorter_leak_revisit_window_of_one_community(demo_app, clock):
    await set_policy(demo_app, "XFL", {"revisit_leak_days": 2})
    await file_repair(Chat(demo_app, "resident"), "水管/漏水", "卫生间下水管接口漏水")
    await finish_repair(demo_app)
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=TZ))
    said = await repair_group(demo_app, "wang").send(option=f"act:t_leak:{ticket.id}")
    assert "2026-11-28 16:00" in texts(said)  # two days after the leak test, not three


async def test_repair_targets_of_one_community(demo_app):
    await set_policy(demo_app, "XFL", {"repair_targets_hours": {"electrical": 12}})
    await file_repair(Chat(demo_app, "resident"))  # 客厅插座没电, Thursday 09:00
    async with demo_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket))).one()
    assert ticket.due_at == datetime(2026, 11, 26, 21, 0, tzinfo=TZ)


async def test_a_binding_request_nobody_checks_goes_overdue(demo_app, clock):
    number = await request_binding(Chat(demo_app, "applicant"))
    desk = Chat(demo_app, "li", chat_id="group:XFL:service", kind="group")
    await desk.inbox()
    clock.advance(hours=24, minutes=1)  # the company's target: a day
    await demo_app.engine.run_jobs(all_jobs())
    for check in all_sweeps():
        await demo_app.engine.sweep(check)
    said = texts(await desk.inbox())
    assert "已超时" in said and number in said


def test_the_office_sets_and_resets_a_policy_at_the_command_line(tmp_path):
    assert frontdesk(tmp_path, "seed-demo", "--no-history").returncode == 0
    done = frontdesk(
        tmp_path, "policy", "XFL", "revisit_leak_days=2", "repair_targets_hours.water=12"
    )
    assert done.returncode == 0, done.stderr
    assert "revisit_leak_days = 2  (this community's own)" in done.stdout
    assert "water 12, electrical 24" in done.stdout  # the rest of the table is the company's
    assert "revisit_other_days = 2  (company setting)" in done.stdout
    assert "revisit_ask_time = 10:00  (company setting)" in done.stdout

    refused = frontdesk(tmp_path, "policy", "XFL", "revisit_leak_days=0", "revisit_other_days=1")
    assert refused.returncode == 2 and "greater than 0; nothing changed" in refused.stderr
    refused = frontdesk(tmp_path, "policy", "XFL", "quiet_hours_start=23:00")
    assert refused.returncode == 2 and "not a community policy" in refused.stderr
    refused = frontdesk(tmp_path, "policy", "XFL", "revisit_leek_days=2")  # a typo
    assert refused.returncode == 2 and "revisit_leek_days: not a community policy" in refused.stderr

    back = frontdesk(tmp_path, "policy", "XFL", "--reset", "revisit_leak_days")
    assert "revisit_leak_days = 3  (company setting)" in back.stdout
    with sqlite3.connect(tmp_path / "fd.db") as db:
        kept = db.execute("SELECT policy FROM community WHERE code = 'XFL'").fetchone()[0]
        audited = db.execute("SELECT count(*) FROM audit_log WHERE action = 'policy.changed'")
        assert json.loads(kept) == {"repair_targets_hours": {"water": 12}}
        assert audited.fetchone() == (2,)  # set, reset; the refusals changed nothing
