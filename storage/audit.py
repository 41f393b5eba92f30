"""The audit log: who did which privileged action to what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditLog


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> AuditLog:
    entry = AuditLog(at=now, actor=actor, action=action, target=target, detail=detail or {})
    session.add(entry)
    await session.flush()
    return entry
