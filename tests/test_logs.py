"""Logs hold no personal data: numbers are masked however they are written, and the
database driver's SQL parameters never reach a log line, even at DEBUG."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from bot import logs
from storage.db import Database
from storage.models import Person
from tests.commandline import ROOT, ok

NOW = datetime(2026, 11, 26, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("logged", "kept"),
    [
        ("call 13800000001", "call 138****0001"),
        ("call 138-0000-0001", "call 138****0001"),
        ("call 138 0000 0001", "call 138****0001"),
        ("call 138－0000－0001", "call 138****0001"),
        ("call +86 138 0000 0001", "call 138****0001"),
        ("call +86-138-0000-0001", "call 138****0001"),
        ("call +8613800000001", "call 138****0001"),
        ("call 0086 13800000001", "call 138****0001"),
        ("call (+86)138-0000-0001", "call 138****0001"),
        ("电话：13912345678。", "电话：139****5678。"),
        ("desk 0571-88880000", "desk 057*****0000"),
        ("desk 0571 8888 0000", "desk 057*****0000"),
        ("desk (0571)88880000", "desk 057*****0000"),
        ("desk （0571）8888-0000", "desk 057*****0000"),
        ("desk 057188880000", "desk 057*****0000"),
        ("desk 010-12345678", "desk 010****5678"),
        ("desk +86 571 8888 0000", "desk 057*****0000"),
        ("身份证 110101199003071234", "身份证 110***********1234"),
        ("身份证 11010119900307123X", "身份证 110***********123X"),
        ("身份证 11010119900307123x", "身份证 110***********123X"),
        ("id 110101 19900307 123X", "id 110***********123X"),
        ("both 13800000001/0571-88880000", "both 138****0001/057*****0000"),
        # Not personal numbers: left as they are.
        ("ticket R-261126-0001", "ticket R-261126-0001"),
        ("at 2026-11-26 09:30:00", "at 2026-11-26 09:30:00"),
        ("telegram user 6123456789", "telegram user 6123456789"),
        ("update 1732590000123", "update 1732590000123"),
        ("msgid 12345678901234567890", "msgid 12345678901234567890"),
        ("took 1380 ms for 10000 rows", "took 1380 ms for 10000 rows"),
    ],
)
def test_numbers_are_masked_however_they_are_written(logged: str, kept: str):
    assert logs.Redactor()(logged) == kept


TEXT = (
    "厨房水槽漏水甲乙丙 请打 138 0000 0009 或 0571-8888 0000，"
    "身份证 11010119900307123X，邮箱 zhang.wei@example.com"
)
RAW = [
    "厨房水槽漏水甲乙丙",  # what the resident wrote, word for word
    "138 0000 0009",
    "13800000009",
    "0571-8888 0000",
    "11010119900307123X",
    "19900307",
    "zhang.wei@example.com",
    "13800000001",  # the phone on the roster, chosen in the conversation
]
REPAIR = f"/start\n报修\n1\n水管/漏水\n{TEXT}\n跳过\n明天上午\n1\n1\n确认提交\n/my\n1\n"


def debug_run(
    url: str, workdir: Path, *args: str, script: str = ""
) -> subprocess.CompletedProcess[str]:
    """`frontdesk ARGS` at FRONTDESK_LOG_LEVEL=DEBUG on the database at `url`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    environ.update(
        FRONTDESK_DATABASE_URL=url,
        FRONTDESK_LOG_LEVEL="DEBUG",
        PYTHONPATH=str(ROOT),
        PYTHONIOENCODING="utf-8",
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=script, capture_output=True, text=True, encoding="utf-8",
        cwd=workdir, env=environ, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_debug_run_logs_no_personal_data(backend: str, tmp_path: Path, request):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}"
    if backend == "postgresql":
        db: Database = request.getfixturevalue("pg_database")
        url = db.url
    seeded = debug_run(url, tmp_path, "seed-demo", "--no-history")
    chat = debug_run(url, tmp_path, "chat", script=REPAIR)

    ok(seeded)
    assert "内容：" + TEXT in ok(chat)  # written, then read back from the store
    lines = [json.loads(line) for line in (seeded.stderr + chat.stderr).splitlines()]
    assert any(entry["level"] == "DEBUG" for entry in lines)  # DEBUG was on
    logged = [json.dumps(entry, ensure_ascii=False) for entry in lines]
    assert [(raw, line) for line in logged for raw in RAW if raw in line] == []


async def test_sql_parameters_stay_out_of_sql_logs_and_errors(database: Database, caplog):
    """Someone turns SQL logging on to debug, and a statement fails: the statements are
    there, what residents wrote is not."""
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with pytest.raises(IntegrityError) as failed:
        async with database.transaction() as session:
            session.add(Person(id=999, name="张伟甲乙丙", phone="13800000009", created_at=NOW))
            await session.flush()
            session.add(Person(id=999, name="李娜丁戊己", phone="13800000010", created_at=NOW))
            await session.flush()

    assert any("INSERT INTO person" in r.getMessage() for r in caplog.records)
    logged = "\n".join(r.getMessage() for r in caplog.records) + str(failed.value)
    for raw in ("张伟甲乙丙", "李娜丁戊己", "13800000009", "13800000010"):
        assert raw not in logged
