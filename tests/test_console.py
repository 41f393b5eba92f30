"""The `frontdesk` command and the console channel, run for real on a SQLite file.

Most tests run the command with a script on stdin, as a person would replay a
conversation (`frontdesk chat < script`), then read what was printed: in this process
through Typer's runner (tests/commandline.py), and once as a child process with a real pipe.
"""

from __future__ import annotations

import io
import re
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import App
from bot.channels.console import (
    ConsoleChat,
    LineSource,
    resident,
    staff_member,
    stored_offset,
)
from bot.delivery import SendResult, deliver_pending
from bot.settings import Settings
from handlers.core.clock import ManualClock, OffsetClock, parse_shift
from storage import outbox
from storage.models import Outbox
from tests.commandline import frontdesk, frontdesk_process, ok, table_counts
from tests.conversations import file_repair, finish_repair
from tests.harness import Chat, texts

GROUP = "group:XFL:repair"


def today_numbers() -> set[str]:
    day = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%y%m%d")
    return {f"R-{day}-0001"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with the demo data and no tickets yet (the demo's history is
    tested in test_demo.py), copied for each test that needs one."""
    workdir = tmp_path_factory.mktemp("seeded")
    ok(frontdesk(workdir, "seed-demo", "--no-history"))
    return workdir / "fd.db"


@pytest.fixture
def workdir(tmp_path: Path, seeded: Path) -> Iterator[Path]:
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{seeded}{suffix}")
        if source.exists():
            shutil.copy(source, tmp_path / f"fd.db{suffix}")
    yield tmp_path


# ---- commands --------------------------------------------------------------------------


def test_upgrade_then_seed_twice_changes_nothing(tmp_path: Path):
    out = ok(frontdesk(tmp_path, "db", "upgrade"))
    assert out.startswith("database at revision ") and "None" not in out
    first = ok(frontdesk(tmp_path, "seed-demo", "--no-history"))
    assert "2 communities, 26 units" in first and "144 bills" in first
    assert "demo history" not in first
    # The web workspace's logins, with passwords printed once, that sign in.
    assert "http://127.0.0.1:8080/desk/" in first
    logins = dict(re.findall(r"^  (desk|zhou) / (\S+)  \(", first, re.M))
    assert set(logins) == {"desk", "zhou"}
    before = table_counts(tmp_path / "fd.db")
    second = ok(frontdesk(tmp_path, "seed-demo", "--no-history"))
    assert "(0 rows added)" in second
    assert logins["desk"] not in second and "printed when first set" in second
    assert table_counts(tmp_path / "fd.db") == before
    assert ok(frontdesk(tmp_path, "db", "upgrade")) == out  # already there: same revision


@pytest.mark.parametrize("command", [["db", "upgrade"], ["seed-demo"], ["chat"], ["run"]])
def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path, command: list[str]):
    result = frontdesk(tmp_path, *command, FRONTDESK_TIMEZONE="Mars/Base")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "FRONTDESK_TIMEZONE" in lines[0] and "Mars/Base" in lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "fd.db").exists()


def test_secrets_are_not_printed(tmp_path: Path):
    result = frontdesk(
        tmp_path, "chat", FRONTDESK_TELEGRAM_TOKEN="123:sekrit", FRONTDESK_TIMEZONE="Mars/Base"
    )
    assert result.returncode == 2 and "sekrit" not in result.stderr + result.stdout


def test_staff_add_and_chat_as_them(workdir: Path):
    out = ok(
        frontdesk(
            workdir,
            *("staff", "add", "--channel", "console", "--user", "sun", "--name", "孙师傅"),
            *("--role", "staff", "--department", "cleaning", "--community", "XFL"),
        )
    )
    assert "孙师傅" in out and "cleaning" in out
    out = ok(frontdesk(workdir, "chat", "--as", "孙师傅", script="> /whoami\n"))
    assert "bot> [cleaning group] 渠道：console" in out and "group:XFL:cleaning" in out

    bad = frontdesk(workdir, "staff", "add", "--user", "x", "--name", "X", "--role", "boss")
    assert bad.returncode == 2 and "--role" in bad.stderr
    bad = frontdesk(workdir, "staff", "add", "--user", "x", "--name", "X", "--community", "NOPE")
    assert bad.returncode == 2 and "NOPE" in bad.stderr
    bad = frontdesk(workdir, "chat", "--as", "nobody")
    assert bad.returncode == 2 and "nobody" in bad.stderr and "Traceback" not in bad.stderr


# ---- conversations -------------------------------------------------------------------

REPAIR = """\
# a whole repair request, by button numbers and by labels
/start
报修
1

水管/漏水
厨房水槽下水管漏水
跳过
明天上午
1
1
确认提交
"""


def test_resident_reports_a_repair_and_the_repair_group_sees_the_card(workdir: Path):
    expected = today_numbers()
    # A child process reading a real pipe, as `frontdesk chat < script` does.
    out = ok(frontdesk_process(workdir, "chat", script=REPAIR))
    expected |= today_numbers()  # the day may have turned while it ran
    lines = out.splitlines()
    assert lines[:3] == [
        "you> /start",
        "bot> 您好，这里是幸福里物业客服中心，很高兴为您服务。",
        "bot> 请问有什么可以帮您？请选择一项，或直接说说您的情况：",
    ]
    assert lines[3].startswith("     [1] 报修  [2] ")
    assert "you> # a whole repair request" not in out and "you> \n" not in out
    assert "bot> 请问需要维修的是哪里？\n     [1] 3栋2单元1201  [2] 小区公共区域  [3] 取消" in out
    assert "bot> 请核对报修信息：\n     位置：3栋2单元1201\n     类别：水管/漏水" in out
    assert "     上门时间：明天上午\n     联系人：张伟，13800000001" in out
    assert any(f"单号 {number}（3栋2单元1201，有偿服务）" in lines[-1] for number in expected)

    staff = ok(frontdesk(workdir, "chat", "--as", "wang"))
    # (a leak is urgent: its card may open with an urgency line)
    assert staff.startswith("bot> [repair group] ") and "【报修】R-" in staff
    assert any(number in staff for number in expected)
    assert "厨房水槽下水管漏水" in staff and "138****0001" in staff
    assert "13800000001" not in staff
    # Delivered once: the next session has nothing new to show.
    assert ok(frontdesk(workdir, "chat", "--as", "wang")) == ""
    with sqlite3.connect(workdir / "fd.db") as conn:
        assert conn.execute("SELECT count(*) FROM ticket").fetchone()[0] == 1


def test_cancelling_half_way_submits_nothing(workdir: Path):
    script = "报修\n1\n2\n取消\n1\n"
    out = ok(frontdesk(workdir, "chat", script=script))
    assert "you> 取消\nbot> 好的，已取消。已填写的内容不会提交。" in out
    # After cancelling, the menu's first button is a fresh repair request.
    assert out.rstrip().endswith(
        "you> 1\nbot> 请问需要维修的是哪里？\n     [1] 3栋2单元1201  [2] 小区公共区域  [3] 取消"
    )
    with sqlite3.connect(workdir / "fd.db") as conn:
        assert conn.execute("SELECT count(*) FROM ticket").fetchone()[0] == 0


def test_switching_to_english_is_remembered(workdir: Path):
    out = ok(frontdesk(workdir, "chat", "--user", "tenant", script="/lang en\n/start\n1\n"))
    assert "bot> Hello, this is the 幸福里物业 service desk." in out
    assert "bot> Where is the repair needed?\n     [1] 3栋2单元1202" in out
    again = ok(frontdesk(workdir, "chat", "--user", "tenant", script="/cancel\n"))
    assert "cancelled" in again and "取消" not in again


def test_photo_and_contact_lines(workdir: Path):
    script = """\
报修
1
1
卫生间地漏返水
:photo /tmp/leak.jpg
完成
随时都可以
1
:contact 13912345678
"""
    out = ok(frontdesk(workdir, "chat", script=script))
    assert "you> :photo /tmp/leak.jpg\nbot> 收到，已添加（共 1 张）" in out
    assert "     照片：1 张" in out and "联系人：张伟，13912345678" in out


# ---- the console session inside the process -------------------------------------------


@pytest.fixture
async def app(tmp_path: Path, seeded: Path):
    shutil.copy(seeded, tmp_path / "fd.db")
    application = await App.start(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db"))
    yield application
    await application.close()


async def push(app: App, chat_id: str, text: str, *buttons: tuple[str, str]) -> None:
    async with app.db.transaction() as session:
        await outbox.enqueue(
            session,
            channel="console",
            chat_id=chat_id,
            payload={"text": text, "buttons": [{"label": lb, "value": v} for lb, v in buttons]},
            now=app.clock.now(),
        )


async def test_staff_press_a_group_card_button_by_number(app: App):
    out = io.StringIO()
    console = ConsoleChat(app, await staff_member(app, "王师傅"), out)
    await push(
        app, "group:XFL:repair", "【报修】R-1\n位置：3栋", ("接单", "act:a:1"), ("转交", "b")
    )
    await push(app, "group:XFL:security", "not for the repair staff")
    await console.deliver()
    assert out.getvalue() == (
        "bot> [repair group] 【报修】R-1\n     位置：3栋\n     [1] 接单  [2] 转交\n"
    )
    pressed = console.incoming("2")
    assert pressed is not None
    assert (pressed.option, pressed.chat_id, pressed.chat_kind) == (
        "b",
        "group:XFL:repair",
        "group",
    )
    assert pressed.user_id == "wang" and pressed.text is None
    said = console.incoming("> /bind repair")
    assert said is not None
    assert (said.text, said.chat_id, said.chat_kind) == (
        "/bind repair",
        "group:XFL:repair",
        "group",
    )
    unknown = console.incoming("7")  # no such button: sent as text
    assert unknown is not None and unknown.text == "7" and unknown.chat_id == "wang"

    supervisor = await staff_member(app, "zhou")
    assert supervisor.groups == () and supervisor.private.chat_id == "zhou"


async def test_a_residents_number_is_a_button_only_under_a_message_with_buttons(app: App):
    console = ConsoleChat(app, await resident(app, "resident"), io.StringIO())
    await push(app, "resident", "menu", ("报修", "flow:repair"))
    await console.deliver()
    msg = console.incoming("1")
    assert msg is not None and msg.option == "flow:repair" and msg.chat_kind == "private"
    await push(app, "resident", "no buttons here")
    await console.deliver()
    msg = console.incoming("1")
    assert msg is not None and msg.option is None and msg.text == "1"
    photo = console.incoming(":photo a.jpg")
    contact = console.incoming(":contact 13800000001")
    assert photo is not None and photo.photo == "a.jpg"
    assert contact is not None and contact.contact == "13800000001"


class FlakyNetwork:
    """A channel at the edge of the network: fails the way a platform does."""

    channel = "console"

    def __init__(self, *results: SendResult) -> None:
        self.results = list(results)
        self.seen: list[int | None] = []

    async def send(self, row: Outbox) -> SendResult:
        self.seen.append(row.id)
        return self.results.pop(0)


async def test_delivery_retries_temporary_failures_and_gives_up_permanent_ones(app: App):
    await push(app, "a", "one")
    await push(app, "b", "two")
    network = FlakyNetwork(SendResult.retry("429", after=30), SendResult.permanent("blocked"))
    assert await deliver_pending(app.db, network, app.clock) == 0
    async with app.db.transaction() as session:
        rows = {r.chat_id: r for r in (await session.exec(select(Outbox))).all()}
    assert rows["a"].sent_at is None and rows["a"].failed_at is None and rows["a"].attempts == 1
    assert rows["a"].not_before >= app.clock.now().replace(microsecond=0)
    assert rows["b"].failed_at is not None and rows["b"].error == "blocked"
    # Nothing is due now: the retry waits, the permanent failure is never tried again.
    assert await deliver_pending(app.db, FlakyNetwork(), app.clock) == 0


# ---- the console's clock (demos and trials) ---------------------------------------------


@pytest.mark.parametrize(
    ("typed", "shift"),
    [
        ("+2d", timedelta(days=2)),
        ("3h", timedelta(hours=3)),
        ("+1d12h", timedelta(days=1, hours=12)),
        ("+1w", timedelta(weeks=1)),
        ("90m", timedelta(minutes=90)),
        ("-1d", None),
        ("+0h", None),
        ("+2", None),
        ("soon", None),
        ("+400d", None),
    ],
)
def test_clock_shifts(typed: str, shift: timedelta | None):
    assert parse_shift(typed) == shift


async def test_moving_the_console_clock_runs_the_revisit_that_fell_due(tmp_path: Path, seeded):
    shutil.copy(seeded, tmp_path / "fd.db")
    start = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    clock = OffsetClock(ManualClock(start))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    app = await App.start(settings, clock=clock)
    try:
        # 张伟 reports a repair, 王师傅 finishes it and 张伟 says it is fixed.
        zhang = Chat(app, "resident")
        await file_repair(zhang)
        await finish_repair(app)
        await zhang.inbox()
        await zhang.press("已解决")

        out = io.StringIO()
        console = ConsoleChat(app, await resident(app, "resident"), out, echo=True)
        await console.run(LineSource(io.StringIO("/clock\n/clock +2d\n/clock\n")))
        shown, moved, again = out.getvalue().split("you> /clock")[1:]
        assert "（时钟）现在是 2026-11-26 09:00。" in shown and "回访" not in shown
        assert "（时钟）已前移 2天0小时，现在是 2026-11-28 09:00" in moved
        # The revisit question the rules set for the next morning, printed at once.
        assert "R-261126-0001（客厅插座没电）" in moved and "回访" in moved
        assert "[1] " in moved.split("R-261126-0001")[1]  # with its button to start
        assert "比实际时间快 2天0小时" in again and "回访" not in again
        assert clock.now() == start + timedelta(days=2)
        assert await stored_offset(app) == timedelta(days=2)  # the next session's clock

        # Elsewhere /clock is just an unknown command: the time stays where it is.
        other = Chat(app, "4242", channel="telegram")
        said = texts(await other.say("/clock +2d"))
        assert "/clock" in said and "时钟" not in said
        assert clock.now() == start + timedelta(days=2)
    finally:
        await app.close()


def test_a_moved_clock_is_kept_for_the_next_console_session(workdir: Path):
    out = ok(frontdesk(workdir, "chat", "--clock", "+2d", script="/clock\n"))
    assert out.startswith("（时钟）现在是 ") and "比实际时间快 2天0小时" in out
    out = ok(frontdesk(workdir, "chat", "--as", "zhou", script="/clock +3h\n"))
    assert "比实际时间快 2天0小时" in out.splitlines()[0]  # the supervisor's world moved too
    assert "已前移 3小时0分" in out
    assert "比实际时间快 2天3小时" in ok(frontdesk(workdir, "chat", script="/clock\n"))
    assert frontdesk(workdir, "chat", "--clock", "soon").returncode == 2

    # With a live channel configured, nothing falling due may go out early.
    live = {"FRONTDESK_TELEGRAM_TOKEN": "123:abc"}
    refused = frontdesk(workdir, "chat", "--clock", "+1d", **live)
    assert refused.returncode == 2 and "telegram" in refused.stderr
    out = ok(frontdesk(workdir, "chat", script="/clock +1d\n/clock\n", **live))
    assert "不能拨动" in out and "比实际时间快" not in out


async def test_an_older_card_is_reached_again_with_tasks(app: App):
    """A binding request and a repair card arrive; the repair card is the latest one, yet
    the binding request stays reachable: /tasks lists it and opens it again."""
    out = io.StringIO()
    stranger = ConsoleChat(app, await resident(app, "newcomer"), io.StringIO())
    for line in ("/bind", "3", "李四", "1", "2栋1单元802", "13912345678", "1", "1"):
        await stranger.handle_line(line)  # a request for the desk to check
    neighbour = ConsoleChat(app, await resident(app, "resident"), io.StringIO())
    for line in ("/question", "8", "小区游泳池冬天开放吗？", "1"):
        await neighbour.handle_line(line)  # the desk's latest card: a question
    li = ConsoleChat(app, await staff_member(app, "li"), out)
    await li.tick()

    async def said(line: str) -> str:
        before = len(out.getvalue())
        await li.handle_line(line)
        return out.getvalue()[before:]

    listing = await said("/tasks")
    assert "身份绑定" in listing and "咨询" in listing
    choices = listing.splitlines()[-1].split("[")[1:]  # "1] 打开 B-…  ", "2] 打开 Q-…"
    card = await said(next(c.split("]")[0] for c in choices if "打开 B-" in c))
    assert "2栋1单元802" in card and "李四" in card
    approve = next(c.split("]")[0] for c in card.split("[")[1:] if "核实通过" in c)
    assert "已通过" in await said(approve)  # the older card's own choice, by number
