"""Every catalog key the code uses exists in Chinese and in English."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers.core.i18n import LOCALES, Catalogs, load_po_dir
from handlers.rules import slip as slip_rules
from handlers.rules.stats import HISTORY_ACTIONS
from handlers.rules.urgency import EMERGENCIES, IGNORE, NOT_NOW, URGENT
from handlers.rules.warranty import CATEGORIES
from storage.models import Department, StaffRole, TicketKind, TicketStatus

ROOT = Path(__file__).resolve().parent.parent
KEY = re.compile(r"^[a-z][a-z_0-9]*(\.[a-z_0-9A-Z]+)+$")
PACKAGES = ("bot", "dialogs", "handlers", "storage")


def catalogs() -> dict[str, dict[str, str]]:
    return {loc: load_po_dir(ROOT / "locales", loc) for loc in LOCALES}


def namespaces() -> set[str]:
    return {key.split(".")[0] for messages in catalogs().values() for key in messages}


def keys_in_code() -> set[tuple[str, str]]:
    """String constants shaped like catalog keys, in a namespace the catalogs use."""
    spaces = namespaces() | {"repair", "complaint", "fee", "slip", "staff", "dialog"}
    found: set[tuple[str, str]] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    value = node.value
                    if KEY.match(value) and value.split(".")[0] in spaces:
                        if not value.endswith((".py", ".po", ".db", ".toml", ".xlsx", ".png")):
                            found.add((str(path.relative_to(ROOT)), value))
    return found


def dynamic_keys() -> set[str]:
    """Keys built from enumerations: every value must have its label."""
    keys = {f"repair.category.{c}" for c in CATEGORIES}
    keys |= {f"kind.{k.value}" for k in TicketKind}
    keys |= {f"status.{s.value}" for s in TicketStatus}
    keys |= {f"words.{w}" for w in ("cancel", "back", "menu", "help", "human", "lang")}
    keys |= {f"department.{d.value}" for d in Department}
    keys |= {f"people.role.{r.value}" for r in StaffRole}
    keys |= {f"revisit.score.{n}" for n in range(1, 6)} | {"revisit.fixed.yes", "revisit.fixed.no"}
    steps = ("warning", "overdue", "supervisor", "director")
    keys |= {f"escalation.{w}{r}" for w in ("", "revisit.", "leak.") for r in steps}
    keys |= {f"binding.role.{r}" for r in ("owner", "member", "tenant", "delegate")}
    keys |= {f"binding.way.{w}" for w in ("code", "contact", "request")}
    keys |= {f"fee.type.{t}" for t in ("dispute", "instalment", "collection")}
    keys |= {f"fee.time.{w}" for w in ("weekday_am", "weekday_pm", "weekend")}
    keys |= {f"slip.day.{n}" for n in range(3)}
    keys |= {f"slip.window.{w}" for w in ("morning", "afternoon", "evening")}
    keys |= {f"slip.status.{s}" for s in ("owner_pending", "desk_pending", "approved")}
    keys |= {f"supervisor.action.{a}" for a in HISTORY_ACTIONS}
    keys |= {f"slip.status.{s}" for s in ("denied", "used", "cancelled")}
    keys |= {f"slip.verdict.{v}" for v in ("valid", "used", "not_yet", "expired")}
    keys |= {f"slip.verdict.{v}" for v in ("pending", "denied", "cancelled")}
    keys |= {f"slip.state.{s}" for s in slip_rules.STATES}
    keys |= {f"slip.event.{e}" for e in slip_rules.EVENTS}
    keys |= {f"emergency.{part}.{k}" for part in ("kind", "advice") for k in EMERGENCIES}
    keys |= {f"emergency.words.{k}" for k in (*EMERGENCIES, NOT_NOW, URGENT, IGNORE)}
    states = ("open", "resolved", "active", "kept", "broken")
    keys |= {f"fee.agreement.status.{s}" for s in states}
    keys |= {f"arrears.instalment.{w}" for w in ("before", "overdue")}
    keys |= {f"wechat.link.{n}" for n in ("photo", "document")}
    return keys


@pytest.mark.parametrize("locale", LOCALES)
def test_every_key_used_in_code_is_translated(locale):
    messages = catalogs()[locale]
    missing = sorted(f"{path}: {key}" for path, key in keys_in_code() if key not in messages)
    missing += sorted(key for key in dynamic_keys() if key not in messages)
    assert not missing, f"missing in {locale}:\n" + "\n".join(missing)


def test_both_catalogs_have_the_same_keys():
    zh, en = catalogs()["zh_CN"], catalogs()["en"]
    assert sorted(set(zh) - set(en)) == []
    assert sorted(set(en) - set(zh)) == []


def test_placeholders_match_between_languages():
    zh, en = catalogs()["zh_CN"], catalogs()["en"]
    field = re.compile(r"\{(\w+)\}")
    differ = [k for k in zh if k in en and set(field.findall(zh[k])) != set(field.findall(en[k]))]
    assert differ == []


def test_the_scan_finds_keys():
    # Guards the test above against silently scanning nothing.
    used = {key for _, key in keys_in_code()}
    assert {"dialog.menu", "repair.summary", "card.ticket"} <= used


def test_money_and_dates_follow_the_locale():
    from datetime import UTC, datetime
    from decimal import Decimal

    from handlers.core.messages import Money

    cat = Catalogs.load("zh_CN", ZoneInfo("Asia/Shanghai"))
    assert cat.format("zh_CN", Money(Decimal("1234.5"))) == "¥1,234.50"
    assert cat.format("en", Money(Decimal("1234.5"))) == "CN¥1,234.50"
    moment = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
    assert cat.format("zh_CN", moment) == "2026-11-26 09:30"  # shown in Asia/Shanghai
    assert cat.format("en", moment.date()) == "Nov 26, 2026"
    assert cat.format("zh_CN", moment.date()) == "2026年11月26日"


def test_text_speaks_of_choices_every_channel_has_not_buttons():
    """WeChat shows choices as numbered lines and the console as numbers: no text outside
    a channel's own catalog may tell people to press or click a button."""
    from babel.messages.pofile import read_po

    own_channel = {"telegram.po", "wecom.po", "web.po"}  # texts only that channel shows
    physical = {"emergency.advice.trapped"}  # the alarm button in a lift car
    found = []
    for locale, pattern in (
        ("zh_CN", r"按钮|点击|点[「“]|点下面"),
        ("en", r"(?i)\b(press|click)\b|\btap (on|the)\b|button"),
    ):
        for path in sorted((ROOT / "locales" / locale / "LC_MESSAGES").glob("*.po")):
            if path.name in own_channel:
                continue
            with path.open("rb") as handle:
                for message in read_po(handle, locale=locale):
                    key = str(message.id)
                    if not message.id or key in physical or ".words." in key:
                        continue
                    if re.search(pattern, str(message.string)):
                        found.append(f"{locale} {path.name} {key}: {message.string}")
    assert found == []
