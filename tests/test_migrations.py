"""The single migration builds the schema the models describe, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.db import Database
from storage.migrate import MIGRATIONS, alembic_config, current_revision, upgrade
from storage.models import Ticket

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def _check_schema(db: Database) -> None:
    """Every model table exists, at head, with no drift between models and migration."""

    def inspect_schema(connection: object) -> tuple[set[str], list[object]]:
        tables = set(inspect(connection).get_table_names())
        drift = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)  # type: ignore[arg-type]
        return tables, drift

    async with db.engine.connect() as connection:
        tables, drift = await connection.run_sync(inspect_schema)
    assert set(SQLModel.metadata.tables) <= tables
    assert drift == []
    assert await current_revision(db.engine) == HEAD


async def _upgrade_twice(db: Database) -> None:
    await upgrade(db.engine)
    await _check_schema(db)
    await upgrade(db.engine)  # at head already: nothing to do, nothing breaks
    await _check_schema(db)


def test_one_linear_history() -> None:
    """One head, and walking down from it visits every migration file once."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    chain = [rev.revision for rev in script.walk_revisions()]
    files = list((MIGRATIONS / "versions").glob("*.py"))
    assert len(chain) == len(files) == len(set(chain))
    assert chain[-1] == "0001"


async def test_sqlite_upgrade_from_empty(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        await _upgrade_twice(db)
        async with db.engine.connect() as connection:
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await db.dispose()


async def test_sqlite_enforces_foreign_keys(sqlite_database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with sqlite_database.transaction() as session:
            session.add(
                Ticket(
                    community_id=999,
                    number="R-261126-0001",
                    kind="repair",
                    department="repair",
                    created_at=datetime.now(UTC),
                )
            )


async def test_postgresql_upgrade_from_empty(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        await _upgrade_twice(db)
    finally:
        await db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_codes_issued_before_are_kept_only_as_hashes(backend, tmp_path: Path, pg_url: str):
    """Invitation codes already in a store become hashes; audit rows lose the code."""
    import json

    from sqlalchemy import text

    from handlers.rules.binding import code_key

    if backend == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'codes.db'}")
    else:
        from tests.conftest import _create_database, _drop_database

        name, url = await _create_database()
        db = Database(url)
    try:
        await upgrade(db.engine, "0008")
        async with db.engine.begin() as c:
            await c.execute(
                text(
                    "INSERT INTO community (id, code, name, management_rate, office_hours, phone)"
                    " VALUES (1, 'XFL', '幸福里', 2.5, '', '')"
                )
            )
            await c.execute(
                text("INSERT INTO building (id, community_id, name) VALUES (1, 1, '3栋')")
            )
            await c.execute(
                text(
                    "INSERT INTO unit"
                    " (id, community_id, building_id, label, area_m2, extra_monthly)"
                    " VALUES (1, 1, 1, '3栋2单元1201', 89.5, 0)"
                )
            )
            await c.execute(
                text(
                    "INSERT INTO invite_code (code, unit_id, role, created_by, created_at)"
                    " VALUES ('ABCD2345', 1, 'owner', 'cli', CURRENT_TIMESTAMP)"
                )
            )
            await c.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, target, detail)"
                    " VALUES (CURRENT_TIMESTAMP, 'cli', 'invite', 'unit:1', :detail)"
                ),
                {"detail": json.dumps({"code": "ABCD2345", "role": "owner"})},
            )
        await upgrade(db.engine)
        async with db.engine.connect() as c:
            codes = (await c.execute(text("SELECT code FROM invite_code"))).scalars().all()
            detail = (await c.execute(text("SELECT detail FROM audit_log"))).scalar_one()
        assert codes == [code_key("ABCD2345")]
        found = json.loads(detail) if isinstance(detail, str) else detail
        assert found == {"role": "owner"}
    finally:
        await db.dispose()
        if backend == "postgresql":
            await _drop_database(name)
