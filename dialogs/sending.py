"""The one way out: a handler's replies become outbox rows here, and only here.

Every reply is rendered in its reader's locale; one to the chat being answered goes out
at once, whatever the hour (someone is waiting for it); a push nobody asked for just now
waits out the quiet hours unless it is urgent; a reply's dedupe key keeps it from being
queued twice. The engine, scheduled work, the command line and the channels' own notices
all send through `send`, so these rules hold everywhere alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.i18n import Catalogs
from handlers.core.messages import Recipient, Reply
from handlers.rules.quiet import release_time
from storage import outbox
from storage.models import Outbox

if TYPE_CHECKING:
    from bot.settings import Settings


async def send(
    session: AsyncSession,
    replies: Sequence[Reply],
    *,
    catalogs: Catalogs,
    settings: Settings,
    now: datetime,
    answering: Recipient | None = None,
) -> list[Outbox]:
    """Queue `replies`; those without a recipient answer `answering` (in its locale)."""
    rows: list[Outbox] = []
    for reply in replies:
        to = reply.to or answering
        if to is None:
            raise ValueError(f"reply {reply.key!r} has nobody to go to")
        answer = answering is not None and (to.channel, to.chat_id) == (
            answering.channel,
            answering.chat_id,
        )
        locale = to.locale or (answering.locale if answer and answering else None)
        not_before = reply.not_before
        if not answer and not reply.urgent and not_before is None:
            not_before = release_time(
                now, settings.tz, settings.quiet_hours_start, settings.quiet_hours_end
            )
        row = await outbox.enqueue(
            session,
            channel=to.channel,
            chat_id=to.chat_id,
            payload=catalogs.render(reply, locale or settings.default_locale),
            now=now,
            not_before=not_before,
            urgent=reply.urgent,
            dedupe_key=reply.dedupe_key,
        )
        if row is not None:
            rows.append(row)
    return rows
