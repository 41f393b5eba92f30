"""Dependencies point inward: dialogs, handlers and storage never import a chat library
or the application layer (`bot`), except for type hints."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("aiogram", "wechatpy", "aiohttp", "bot")


def runtime_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(child) for child in ast.walk(node))
    names = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_inner_layers_import_no_chat_library():
    offenders = []
    for package in ("dialogs", "handlers", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            for name in runtime_imports(path):
                if name.split(".")[0] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_rules_touch_neither_storage_nor_clock():
    """Rules are plain functions over data: no database, no wall clock."""
    offenders = []
    for path in (ROOT / "handlers" / "rules").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for name in runtime_imports(path):
            if name.split(".")[0] in ("storage", "sqlmodel", "sqlalchemy"):
                offenders.append(f"{path.name} imports {name}")
        if "datetime.now(" in source or "date.today(" in source:
            offenders.append(f"{path.name} reads the wall clock")
    assert offenders == []


def test_the_check_sees_imports():
    assert "storage.models" in runtime_imports(ROOT / "handlers" / "repair.py")


# What builds or runs a query. A channel adapter translates and does I/O; what it needs
# to know about the store it asks `storage/` or `handlers/` for.
QUERYING = ("sqlmodel", "sqlalchemy", "storage.models", "storage.upsert")
STATEMENTS = frozenset({"select", "insert", "update", "delete", "exec", "execute"})


def queries_in(path: Path) -> list[str]:
    """What in a module queries the store itself: a runtime import of the query libraries
    or of the tables (a type-only import is fine), or a statement built or run."""
    found = [
        f"imports {name}"
        for name in runtime_imports(path)
        if any(name == q or name.startswith(f"{q}.") for q in QUERYING)
    ]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in STATEMENTS:
                found.append(f"calls {name}() on line {node.lineno}")
    return found


def test_channels_query_nothing_themselves():
    """An adapter turns platform messages into neutral ones and back and does the I/O;
    no module of bot/channels/ imports the tables or a query library at run time, or
    builds or runs a statement (no `select(`)."""
    offenders = [
        f"{path.relative_to(ROOT)} {what}"
        for path in sorted((ROOT / "bot" / "channels").glob("*.py"))
        for what in queries_in(path)
    ]
    assert offenders == []


def test_the_query_check_sees_queries():
    found = queries_in(ROOT / "storage" / "outbox.py")
    assert "imports sqlmodel" in found and any(f.startswith("calls select()") for f in found)


def test_only_the_clock_reads_the_wall_clock():
    """Times come from the app's clock (handlers/core/clock.py), so a moved clock (tests,
    the console's /clock) holds everywhere: in rules, use-cases, rows and channels alike."""
    offenders = []
    for package in ("bot", "dialogs", "handlers", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "handlers" / "core" / "clock.py":
                continue
            source = path.read_text(encoding="utf-8")
            for reading in ("datetime.now(", "date.today(", "utcnow"):
                if reading in source:
                    offenders.append(f"{path.relative_to(ROOT)}: {reading}")
    assert offenders == []
