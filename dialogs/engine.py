"""The dialog engine: one place that runs every flow, command and button.

`Engine.handle` takes a neutral `Incoming`, and inside one transaction stores it
(a redelivered message is recognised and ignored), works out the reply, saves the
dialog state and writes every reply to the outbox. Cancel, back, menu, help, "talk
to a person", language, idle expiry and changed flow definitions are handled here
once, for all flows.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.flow import Answer, Detour, DetourCheck, Flow, InputError, Step, chosen
from dialogs.sending import send
from handlers import handoff
from handlers.core.actions import Action, split
from handlers.core.clock import Clock
from handlers.core.context import Context
from handlers.core.i18n import LOCALES, Catalogs
from handlers.core.ids import number
from handlers.core.messages import Choice, Incoming, Recipient, Reply, Text
from storage import inbound, jobs
from storage.db import Database
from storage.jobs import JobHandler
from storage.models import (
    ChatIdentity,
    DialogState,
    Job,
    Outbox,
    Person,
    StaffGroup,
    StaffMember,
)

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[Context, str], Awaitable[list[Reply]]]
# What a button's typed action does (handlers/core/actions.py).
ActionHandler = Callable[[Context, Any], Awaitable[list[Reply]]]
# Free text at the menu: returns (flow name, initial text) or None for the menu.
Router = Callable[[Context, str], Awaitable[tuple[str, str] | None]]
# A scheduled job's use-case: what to say, and to whom, now that it is due.
JobWork = Callable[[Context, Job], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class ReadFirst:
    """A job with a long read (a month's report): `read` gets a context on a read-only
    snapshot and runs outside the write path, so nobody waits behind it; `finish` gets
    what it read, in the job's short transaction, and says what to say. A job whose
    payload has `answer` (channel, chat_id, locale) answers that chat: someone asked, so
    it goes out at once, whatever the hour."""

    read: Callable[[Context, Job], Awaitable[Any]]
    finish: Callable[[Context, Job, Any], Awaitable[list[Reply]]]


# A periodic check: looks at the store and says what is due (warnings, escalations).
Sweep = Callable[[Context], Awaitable[list[Reply]]]
# A line typed without a slash that a feature reads as its own (a staff verb: `接单 R-…` is
# the card's "accept"): the value of the choice it names (`act:…`, `flow:…`, `cmd:…`), the
# replies to it, or None when it is not the feature's. `busy`: a conversation is under way
# (a flow, a pause, a chat with a person), whose answer the line may be.
TypedReader = Callable[[Context, str, bool], Awaitable["str | list[Reply] | None"]]

CONTROLS = ("start", "cancel", "back", "menu", "help", "human", "lang")
# How stale `ChatIdentity.last_seen_at` may get: writing it on every message would cost
# a write per update for a time only read in hours (WeChat's 48-hour window).
SEEN_GRAIN = timedelta(minutes=1)
KEEP, SKIP, DONE = "=keep", "=skip", "=done"
CONFIRM, RESUME, RESTART = "=confirm", "=resume", "=restart"
SWITCH, STAY = "=switch", "=stay"  # the answers to "did you mean to start X instead?"


@dataclass(frozen=True)
class Command:
    """A slash command; `roles` limits it to staff with one of those roles."""

    name: str
    run: Handler
    roles: tuple[str, ...] = ()
    private_only: bool = False


@dataclass(frozen=True)
class StaffEntry:
    """What a feature offers staff of these roles: a line of their /help (a catalog key)
    and/or an entry of their menu. Staff menus and help are derived from these."""

    roles: tuple[str, ...]
    help: str | None = None
    menu: Choice | None = None


class Engine:
    """Runs conversations; holds no per-user state in memory."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        catalogs: Catalogs,
        clock: Clock,
        flows: Sequence[Flow] = (),
        commands: Sequence[Command] = (),
        actions: Mapping[type[Action], ActionHandler] | None = None,
        router: Router | None = None,
        on_start: Handler | None = None,
        menu_extras: Sequence[Choice] = (),
        detour: DetourCheck | None = None,
        staff_entries: Sequence[StaffEntry] = (),
        typed: TypedReader | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.catalogs = catalogs
        self.clock = clock
        self.flows = {flow.name: flow for flow in flows}
        self.commands = {command.name: command for command in commands}
        # By name, as packed in a button's value: the class unpacks it, the handler acts.
        self.actions = {cls.name: (cls, run) for cls, run in (actions or {}).items()}
        self.router = router
        self.on_start = on_start
        self.menu_extras = tuple(menu_extras)
        self.detour = detour
        self.staff_entries = tuple(staff_entries)
        self.typed = typed
        self.idle = timedelta(minutes=settings.dialog_idle_minutes)

    # ---- entry point -------------------------------------------------------------

    async def handle(self, msg: Incoming) -> list[Outbox]:
        """Handle one message exactly once; returns the outbox rows it wrote."""
        external_id = msg.message_id or uuid.uuid4().hex
        async with self.db.transaction() as session:
            accepted = await inbound.accept(
                session,
                channel=msg.channel,
                external_id=external_id,
                chat_id=msg.chat_id,
                payload=_payload_of(msg),
                now=self.clock.now(),
                # Handled in this same transaction, or not stored at all.
                handled=True,
            )
            if not accepted:
                log.info("duplicate %s message %s ignored", msg.channel, external_id)
                return []
            ctx, state = await self._context(session, msg)
            if state is None:
                state = DialogState(
                    channel=msg.channel,
                    chat_id=msg.chat_id,
                    user_id=msg.user_id,
                    updated_at=ctx.now,
                )
                session.add(state)
            replies = await self._route(ctx, state)
            state.updated_at = ctx.now
            return await self.deliver(ctx, [*replies, *ctx.also_send])

    async def _context(self, session: Any, msg: Incoming) -> tuple[Context, DialogState | None]:
        """The sender as the store knows them, and where their conversation stands.

        Every message needs the chat account, its person, the sender's staff records and
        the dialog state: one query for all four (a row per staff record), as each
        statement is a round trip to the database's thread or server."""
        rows = (
            await session.exec(
                select(ChatIdentity, Person, StaffMember, DialogState)
                .outerjoin(Person, col(Person.id) == col(ChatIdentity.person_id))
                .outerjoin(
                    StaffMember,
                    and_(
                        col(StaffMember.channel) == col(ChatIdentity.channel),
                        col(StaffMember.external_user_id) == col(ChatIdentity.external_user_id),
                        col(StaffMember.active).is_(True),
                    ),
                )
                .outerjoin(
                    DialogState,
                    and_(
                        col(DialogState.channel) == col(ChatIdentity.channel),
                        col(DialogState.chat_id) == msg.chat_id,
                        col(DialogState.user_id) == col(ChatIdentity.external_user_id),
                    ),
                )
                .where(
                    ChatIdentity.channel == msg.channel,
                    ChatIdentity.external_user_id == msg.user_id,
                )
            )
        ).all()
        if rows:
            identity, person, _, state = rows[0]
            staff = [member for _, _, member, _ in rows if member is not None]
        else:  # a first message: staff may have been added before they ever wrote
            person = None
            state = await session.get(DialogState, (msg.channel, msg.chat_id, msg.user_id))
            identity = ChatIdentity(
                channel=msg.channel, external_user_id=msg.user_id, display_name=msg.user_name[:100]
            )
            session.add(identity)
            staff = await self._staff_records(session, msg)
        now = self.clock.now()
        seen = identity.last_seen_at
        if msg.chat_kind == "private" and (seen is None or now - seen >= SEEN_GRAIN):
            identity.last_seen_at = now
        locale = identity.locale or self.catalogs.pick(msg.language)
        context = Context(
            session=session,
            settings=self.settings,
            catalogs=self.catalogs,
            clock=self.clock,
            msg=msg,
            identity=identity,
            locale=locale,
            person=person,
            staff=staff,
        )
        return context, state

    @staticmethod
    async def _staff_records(session: Any, msg: Incoming) -> list[StaffMember]:
        found = await session.exec(
            select(StaffMember).where(
                StaffMember.channel == msg.channel,
                StaffMember.external_user_id == msg.user_id,
                col(StaffMember.active).is_(True),
            )
        )
        return list(found.all())

    async def deliver(self, ctx: Context, replies: Sequence[Reply]) -> list[Outbox]:
        """Put the replies in the outbox (dialogs/sending.py), answering the sender."""
        return await send(
            ctx.session,
            replies,
            catalogs=self.catalogs,
            settings=self.settings,
            now=ctx.now,
            answering=Recipient(ctx.msg.channel, ctx.msg.chat_id, ctx.locale),
        )

    # ---- routing -------------------------------------------------------------------

    async def _route(self, ctx: Context, state: DialogState) -> list[Reply]:
        read = await self._typed(ctx, state)
        if isinstance(read, list):
            return read
        if read is not None:
            ctx.msg = read  # handled as the choice it names, with that choice's checks
        msg = ctx.msg
        if msg.chat_kind == "group":
            return await self._in_group(ctx, state)
        control = self._control(msg)
        if control is not None:
            return await self._control_reply(ctx, state, *control)
        command = msg.command
        if command is not None:
            return await self._command(ctx, state, *command)
        if msg.option and msg.option.startswith("act:"):
            return await self._action(ctx, msg.option)
        if msg.option and msg.option.startswith("cmd:"):
            # A staff menu entry: the command it names, with the same checks as typed.
            name, _, argument = msg.option[4:].partition(" ")
            return await self._command(ctx, state, name, argument)
        if state.mode == "human":
            return await handoff.relay(ctx)
        if state.mode == "paused":
            return await self._paused(ctx, state)
        if state.mode == "flow":
            if ctx.now - state.updated_at > self.idle:
                return self._pause(ctx, state)
            return await self._in_flow(ctx, state)
        return await self._at_menu(ctx, state)

    async def _typed(self, ctx: Context, state: DialogState) -> list[Reply] | Incoming | None:
        """A line typed without a slash that a feature reads as its own: its replies, or
        the message as the choice it names. Either replaces what was under way."""
        msg = ctx.msg
        if self.typed is None or msg.option is not None or msg.command or not msg.words:
            return None
        busy = state.mode != "menu"
        found = await self.typed(ctx, msg.words, busy)
        if found is None:
            return None
        if state.mode == "human":
            await handoff.close(ctx)
        _reset(state)
        if isinstance(found, list):
            return found
        return replace(msg, text=None, option=found)

    # ---- group chats ----------------------------------------------------------------

    async def _in_group(self, ctx: Context, state: DialogState) -> list[Reply]:
        """A group is no place for a resident's business: everyone there would see it.

        Staff commands, task buttons and the task flows work in any group; a resident's
        flow, `/my`, the menu or "talk to a person" get a pointer to a private chat in an
        ordinary group, and nothing at all in a department's own group. Chatter is ignored.
        """
        msg = ctx.msg
        pointer = [] if await self._staff_group(ctx) else [Reply("dialog.private_please")]
        control = self._control(msg)
        if control is not None:
            name, argument = control
            if name in ("cancel", "back") and state.mode == "flow" and self._group_flow(state.flow):
                return await self._control_reply(ctx, state, name, argument)
            if name == "help" and ctx.staff:
                return await self._help(ctx, state)
            if name == "lang":
                return self._language(ctx, argument)
            return pointer if name in ("start", "menu", "help", "human") else []
        if msg.option and msg.option.startswith("act:"):
            action = self.actions.get(split(msg.option)[0])
            if action is not None and action[0].private:
                return pointer  # a resident's own ticket is not opened where all can read
            return await self._action(ctx, msg.option)  # every action checks who may act
        command = msg.command
        if msg.option and msg.option.startswith("cmd:"):
            command = (msg.option[4:].partition(" ")[0], msg.option[4:].partition(" ")[2])
        if command is not None:
            name, argument = command
            known = self.commands.get(name)
            if known is not None and (known.roles or name == "whoami"):
                return await self._command(ctx, state, name, argument)
            if known is None and self._group_flow(name):
                return await self.start_flow(ctx, state, name, argument or None)
            if ctx.staff and name in self.flows:
                return [Reply("dialog.private_only")]  # e.g. /announce: staff, in private
            return pointer if known is not None or name in self.flows else []
        if msg.option and msg.option.startswith("flow:"):
            name, _, argument = msg.option[5:].partition(":")
            if self._group_flow(name):
                return await self.start_flow(ctx, state, name, argument or None)
            return pointer
        if state.mode == "flow":
            if not self._group_flow(state.flow):
                _reset(state)  # a resident's flow begun in a group before: not here
                return pointer
            if ctx.now - state.updated_at > self.idle:
                return self._pause(ctx, state)
            return await self._in_flow(ctx, state)
        return []  # chatter in a group is not for the bot

    def _group_flow(self, name: str | None) -> bool:
        flow = self.flows.get(name or "")
        return flow is not None and flow.in_groups

    async def _staff_group(self, ctx: Context) -> bool:
        found = await ctx.session.exec(
            select(StaffGroup.id).where(
                StaffGroup.channel == ctx.msg.channel, StaffGroup.chat_id == ctx.msg.chat_id
            )
        )
        return found.first() is not None

    def _control(self, msg: Incoming) -> tuple[str, str] | None:
        """A control word or command: `/cancel`, `取消`, `back`, `/lang en`, …"""
        if msg.option and msg.option.startswith("ctl:"):
            name, _, argument = msg.option[4:].partition(" ")
            return name, argument
        command = msg.command
        if command is not None and command[0] in CONTROLS:
            return command
        if msg.option is not None:
            return None
        words = msg.words.lower()
        for name in CONTROLS[1:]:
            if words and words in self.catalogs.words(f"words.{name}"):
                return name, ""
        for locale in LOCALES:  # "English" or "中文" typed alone: that language at once
            if words and words in self.catalogs.words(f"words.lang.{locale}"):
                return "lang", locale
        return None

    async def _control_reply(
        self, ctx: Context, state: DialogState, name: str, argument: str
    ) -> list[Reply]:
        if name == "start":
            if state.mode == "human":
                await handoff.close(ctx)
            _reset(state)
            if argument and self.on_start is not None:
                return await self.on_start(ctx, argument)
            greeting = Reply("dialog.greeting", {"company": self.settings.company_name})
            return [greeting, *self.menu(ctx)]
        if name == "cancel":
            had_flow = state.mode in ("flow", "paused", "human")
            if state.mode == "human":
                await handoff.close(ctx)
            _reset(state)
            return [
                Reply("dialog.cancelled" if had_flow else "dialog.nothing_to_cancel"),
                *self.menu(ctx),
            ]
        if name == "menu":
            if state.mode == "human":
                await handoff.close(ctx)
            _reset(state)
            return self.menu(ctx)
        if name == "back":
            return await self._back(ctx, state)
        if name == "help":
            return await self._help(ctx, state)
        if name == "human":
            _reset(state)
            state.mode = "human"
            return await handoff.open(ctx)
        return self._language(ctx, argument)

    def _language(self, ctx: Context, argument: str) -> list[Reply]:
        wanted = argument.strip().lower().replace("-", "_")
        chosen = next((loc for loc in LOCALES if loc.lower() == wanted), None)
        if chosen is None and wanted in ("zh", "cn", "中文"):
            chosen = "zh_CN"
        if chosen is None:
            return [
                Reply(
                    "dialog.lang.choose",
                    choices=(
                        Choice("ctl:lang zh_CN", "dialog.lang.zh_CN"),
                        Choice("ctl:lang en", "dialog.lang.en"),
                    ),
                )
            ]
        ctx.identity.locale = chosen
        ctx.locale = chosen
        return [Reply("dialog.lang.set")]

    def menu(self, ctx: Context) -> list[Reply]:
        if self._staff_here(ctx):
            return [Reply("dialog.menu.staff", choices=self._staff_choices(ctx))]
        choices = (
            tuple(
                Choice(f"flow:{flow.name}", flow.title)
                for flow in self.flows.values()
                if flow.in_menu
            )
            + self.menu_extras
        )
        return [Reply("dialog.menu", {"company": self.settings.company_name}, choices=choices)]

    async def _help(self, ctx: Context, state: DialogState) -> list[Reply]:
        flow = self.flows.get(state.flow or "")
        step = flow.step(state.step) if flow and state.mode == "flow" else None
        if step is not None and ctx.catalogs.has(ctx.locale, f"{step.prompt}.help"):
            # The step's own parameters too: examples computed from today, say.
            params = await step.prompt_params(ctx, state.answers) if step.prompt_params else {}
            return [Reply(f"{step.prompt}.help", params), Reply("dialog.help.controls")]
        if ctx.staff:
            # Staff get their own help: what their roles allow, declared by the features.
            lines = [Text(e.help) for e in self._staff_offers(ctx) if e.help]
            return [Reply("dialog.help.staff", {"commands": lines})]
        return [Reply("dialog.help"), Reply("dialog.help.controls")]

    def _staff_offers(self, ctx: Context) -> list[StaffEntry]:
        return [e for e in self.staff_entries if ctx.is_role(*e.roles)]

    def _staff_here(self, ctx: Context) -> bool:
        """A staff member in a private chat gets the staff menu, not the residents'."""
        return bool(ctx.staff) and ctx.msg.chat_kind == "private"

    def _staff_choices(self, ctx: Context) -> tuple[Choice, ...]:
        return tuple(e.menu for e in self._staff_offers(ctx) if e.menu is not None)

    async def _command(
        self, ctx: Context, state: DialogState, name: str, argument: str
    ) -> list[Reply]:
        command = self.commands.get(name)
        if command is None:
            if name in self.flows:
                return await self.start_flow(ctx, state, name, None)
            return [Reply("dialog.unknown_command", {"command": name})]
        if command.roles and not ctx.is_role(*command.roles):
            if name in self.flows and ctx.msg.chat_kind == "private":
                # `/bind` is a staff command in groups and the resident's binding flow.
                return await self.start_flow(ctx, state, name, argument or None)
            return [Reply("dialog.not_allowed")]
        if command.private_only and ctx.msg.chat_kind != "private":
            return [Reply("dialog.private_only")]
        return await command.run(ctx, argument)

    async def _action(self, ctx: Context, value: str) -> list[Reply]:
        name, argument = split(value)
        known = self.actions.get(name)
        action = known[0].unpack(argument) if known is not None else None
        if known is None or action is None:
            return [Reply("dialog.stale")]  # an old, forged or malformed button
        return await known[1](ctx, action)

    async def _at_menu(self, ctx: Context, state: DialogState) -> list[Reply]:
        msg = ctx.msg
        if msg.option and msg.option.startswith("flow:"):
            # `flow:<name>` or `flow:<name>:<argument>` (e.g. the ticket a note is for)
            name, _, argument = msg.option[5:].partition(":")
            return await self.start_flow(ctx, state, name, argument or None)
        if msg.option:
            return [Reply("dialog.stale"), *self.menu(ctx)]
        text = msg.words
        if text and self.router is not None:
            routed = await self.router(ctx, text)
            if routed is not None and routed[0] in self.flows:
                return await self.start_flow(ctx, state, routed[0], routed[1])
            if routed is not None and routed[0] in self.commands:
                return await self._command(ctx, state, routed[0], "")  # e.g. "我的工单"
        if text:
            chosen = self._match_choice(ctx, self.menu(ctx)[0].choices, text)
            if chosen is not None and chosen.startswith("cmd:"):
                return await self._command(ctx, state, chosen[4:], "")
            if chosen is not None and chosen.startswith("act:"):
                return await self._action(ctx, chosen)
            if chosen is not None:
                return await self.start_flow(ctx, state, chosen[5:], None)
        return self.menu(ctx)

    # ---- flows ---------------------------------------------------------------------

    async def start_flow(
        self,
        ctx: Context,
        state: DialogState,
        name: str,
        initial: str | None,
        carry: Mapping[str, Any] | None = None,
    ) -> list[Reply]:
        """Start a flow; `carry` keeps answers of the flow being left under the same step
        names (the unit, the phone), so nothing already said is asked again."""
        flow = self.flows.get(name)
        if flow is None:
            return [Reply("dialog.stale"), *self.menu(ctx)]
        answers: dict[str, Any] = {}
        if flow.start is not None:
            started = await flow.start(ctx, initial)
            if isinstance(started, list):
                return started
            answers = started
        for key, value in (carry or {}).items():
            if flow.step(key) is not None and key not in answers:
                answers[key] = value
        state.mode, state.flow, state.flow_version = "flow", flow.name, flow.version
        state.answers, state.trail = answers, []
        return await self._ask_next(ctx, state, flow, intro=True)

    async def _ask_next(
        self, ctx: Context, state: DialogState, flow: Flow, intro: bool = False
    ) -> list[Reply]:
        step = flow.next_step(state.answers)
        replies = (
            [Reply(f"{flow.title}.intro")] if intro and _has(ctx, f"{flow.title}.intro") else []
        )
        if step is None and not flow.confirm:
            answers = flow.kept(state.answers)
            _reset(state)
            return [*replies, *await flow.finish(ctx, answers)]
        if step is None:
            state.step = None
            return [*replies, await self._summary(ctx, state, flow)]
        state.step = step.name
        return [*replies, await self._prompt(ctx, state, step)]

    async def _prompt(self, ctx: Context, state: DialogState, step: Step) -> Reply:
        params = dict(await step.prompt_params(ctx, state.answers)) if step.prompt_params else {}
        choices = list(await self._choices(ctx, state, step))
        return Reply(
            step.prompt, params, choices=tuple(choices), request_contact=step.request_contact
        )

    async def _choices(self, ctx: Context, state: DialogState, step: Step) -> list[Choice]:
        if callable(step.choices):
            choices = list(await step.choices(ctx, state.answers))
        else:
            choices = list(step.choices)
        if step.prefill is not None:
            proposed = await step.prefill(ctx, state.answers)
            if proposed:
                choices.insert(0, Choice(KEEP, "dialog.keep", {"value": proposed}))
        if step.many and state.answers.get(f"_{step.name}"):
            choices.append(Choice(DONE, "dialog.done"))
        if step.optional:
            choices.append(Choice(SKIP, "dialog.skip"))
        if state.trail:
            choices.append(Choice("ctl:back", "dialog.back"))
        choices.append(Choice("ctl:cancel", "dialog.cancel"))
        return choices

    async def _in_flow(self, ctx: Context, state: DialogState) -> list[Reply]:
        flow = self.flows.get(state.flow or "")
        if flow is None:
            _reset(state)
            return [Reply("dialog.flow_gone"), *self.menu(ctx)]
        if state.flow_version != flow.version:
            state.flow_version = flow.version
            state.answers = {
                k: v
                for k, v in flow.kept(state.answers).items()
                if flow.step(k) is not None or k.startswith("_")
            }
            state.trail = [name for name in state.trail if flow.step(name) is not None]
            return [Reply("dialog.flow_changed"), *await self._ask_next(ctx, state, flow)]
        step = flow.step(state.step)
        if step is None:
            return await self._at_summary(ctx, state, flow)
        if "_detour" in state.answers:
            return await self._after_detour_question(ctx, state, flow, step)
        detour = await self._detour_of(ctx, state, flow, step)
        if detour is not None:
            return await self._take_detour(ctx, state, flow, detour)
        answer = await self._answer(ctx, state, step)
        if isinstance(answer, Answer) and answer.option and answer.option.startswith("ctl:"):
            # A typed number or label that picked "back" or "cancel".
            name, _, argument = answer.option[4:].partition(" ")
            return await self._control_reply(ctx, state, name, argument)
        if isinstance(answer, Answer) and answer.option and answer.option.startswith("flow:"):
            # A step may offer another flow instead (e.g. "bind your unit first").
            name, _, argument = answer.option[5:].partition(":")
            return await self.start_flow(ctx, state, name, argument or None)
        if isinstance(answer, Reply):
            return [answer, await self._prompt(ctx, state, step)]
        return await self._accept(ctx, state, flow, step, answer)

    # ---- detours: typed words that belong to another flow ------------------------------

    async def _detour_of(
        self, ctx: Context, state: DialogState, flow: Flow, step: Step
    ) -> Detour | None:
        """Where plain words typed at this step should go instead, if anywhere."""
        msg = ctx.msg
        if not (flow.detours and self.detour and msg.text) or msg.option or msg.photo:
            return None
        if msg.contact or self._match_choice(ctx, await self._choices(ctx, state, step), msg.words):
            return None
        detour = await self.detour(ctx, flow.name, msg.words)
        if detour is None or detour.flow == flow.name or detour.flow not in self.flows:
            return None
        return detour

    async def _take_detour(
        self, ctx: Context, state: DialogState, flow: Flow, detour: Detour
    ) -> list[Reply]:
        if not detour.ask:
            return await self.start_flow(ctx, state, detour.flow, detour.text, state.answers)
        state.answers = {**state.answers, "_detour": {"flow": detour.flow, "text": detour.text}}
        return [self._detour_question(detour.flow, detour.text)]

    def _detour_question(self, name: str, text: str) -> Reply:
        title = Text(self.flows[name].title)
        return Reply(
            "dialog.detour.ask",
            {"text": text[:60], "flow": title},
            choices=(
                Choice(SWITCH, "dialog.detour.switch", {"flow": title}),
                Choice(STAY, "dialog.detour.stay"),
                Choice("ctl:cancel", "dialog.cancel"),
            ),
        )

    async def _after_detour_question(
        self, ctx: Context, state: DialogState, flow: Flow, step: Step
    ) -> list[Reply]:
        """Switch, keep the words as this step's answer, or (anything else) go on as usual."""
        pending = state.answers["_detour"]
        state.answers = {k: v for k, v in state.answers.items() if k != "_detour"}
        question = self._detour_question(pending["flow"], pending["text"])
        option = ctx.msg.option or self._match_choice(ctx, question.choices, ctx.msg.words)
        if option == SWITCH:
            return await self.start_flow(
                ctx, state, pending["flow"], pending["text"], state.answers
            )
        if option == STAY:
            return await self._accept(ctx, state, flow, step, Answer(text=pending["text"]))
        return await self._in_flow(ctx, state)

    async def _answer(self, ctx: Context, state: DialogState, step: Step) -> Answer | Reply:
        """The user's input as an `Answer`, with choices resolved; a Reply if unusable."""
        msg = ctx.msg
        choices = await self._choices(ctx, state, step)
        option = msg.option
        if option is None and msg.text is not None and choices:
            # A number picks a choice only where the step offers some of its own: where it
            # offers nothing but back and cancel, "1" is an answer, not "back".
            own = any(not c.value.startswith("ctl:") for c in choices)
            by_number = own and not step.numeric
            option = self._match_choice(ctx, choices, msg.words, by_number=by_number)
        if option is not None and option not in {c.value for c in choices}:
            return Reply("dialog.stale")
        own_choices = [c for c in choices if not c.value.startswith(("=", "ctl:"))]
        if own_choices and option is None and step.parse is chosen:
            return Reply("dialog.error.choose")
        return Answer(text=msg.text, option=option, contact=msg.contact, photo=msg.photo)

    def _match_choice(
        self, ctx: Context, choices: Sequence[Choice], text: str, by_number: bool = True
    ) -> str | None:
        """A typed number (`2`) or label (in either language) picks a choice, as does a
        word of its `<label key>.words` list where the catalogs have one (people answer
        「是否拆改主体结构」 with 否 rather than with the label 都不涉及)."""
        text = text.strip()
        typed = number(text) if by_number else None
        if typed is not None and 1 <= typed <= len(choices):
            return choices[typed - 1].value
        low = text.lower()
        for choice in choices:
            for locale in LOCALES:
                if ctx.catalogs.label(locale, choice).strip().lower() == low:
                    return choice.value
        for choice in choices:
            if low in ctx.catalogs.words(f"{choice.key}.words"):
                return choice.value
        return None

    async def _accept(
        self, ctx: Context, state: DialogState, flow: Flow, step: Step, answer: Answer
    ) -> list[Reply]:
        answers = dict(state.answers)
        if answer.option == KEEP and step.prefill is not None:
            value: Any = await step.prefill(ctx, answers)
        elif answer.option == SKIP and step.optional:
            value = answers.pop(f"_{step.name}", None) if step.many else None
        elif answer.option == DONE and step.many:
            value = answers.pop(f"_{step.name}", [])
        else:
            try:
                value = step.parse(answer, ctx, answers)
                if inspect.isawaitable(value):
                    value = await value
            except InputError as error:
                return [Reply(error.key, error.params), await self._prompt(ctx, state, step)]
            if step.many:
                collected = [*answers.get(f"_{step.name}", []), value]
                answers[f"_{step.name}"] = collected
                state.answers = answers
                return [
                    Reply(step.collected, {"count": step.count(collected)}),
                    await self._prompt(ctx, state, step),
                ]
        answers[step.name] = value
        state.answers = answers
        state.trail = [*state.trail, step.name]
        return await self._ask_next(ctx, state, flow)

    async def _summary(self, ctx: Context, state: DialogState, flow: Flow) -> Reply:
        state.answers = flow.kept(state.answers)
        params = await flow.summarize(ctx, state.answers)
        choices = (
            Choice(CONFIRM, "dialog.confirm"),
            Choice("ctl:back", "dialog.back"),
            Choice("ctl:cancel", "dialog.cancel"),
        )
        return Reply(flow.summary, params, choices=choices)

    async def _at_summary(self, ctx: Context, state: DialogState, flow: Flow) -> list[Reply]:
        summary = await self._summary(ctx, state, flow)
        option = ctx.msg.option or self._match_choice(ctx, summary.choices, ctx.msg.words)
        if option != CONFIRM:
            return [Reply("dialog.error.confirm"), summary]
        answers = dict(state.answers)
        _reset(state)
        return await flow.finish(ctx, answers)

    async def _back(self, ctx: Context, state: DialogState) -> list[Reply]:
        flow = self.flows.get(state.flow or "")
        if state.mode != "flow" or flow is None:
            return [Reply("dialog.nothing_to_go_back"), *self.menu(ctx)]
        if not state.trail:
            return [Reply("dialog.at_first_step"), *await self._ask_next(ctx, state, flow)]
        *trail, previous = state.trail
        answers = dict(state.answers)
        answers.pop(previous, None)
        answers.pop("_detour", None)
        state.trail, state.answers = trail, answers
        step = flow.step(previous)
        if step is None:
            return await self._ask_next(ctx, state, flow)
        state.step = step.name
        return [await self._prompt(ctx, state, step)]

    # ---- scheduled work --------------------------------------------------------------

    def system_context(self, session: Any) -> Context:
        """A context for work nobody typed: scheduled jobs and sweeps."""
        now = self.clock.now()
        msg = Incoming(channel="system", chat_id="", user_id="scheduler", at=now)
        identity = ChatIdentity(channel="system", external_user_id="scheduler")
        return Context(
            session=session,
            settings=self.settings,
            catalogs=self.catalogs,
            clock=self.clock,
            msg=msg,
            identity=identity,
            locale=self.settings.default_locale,
        )

    def job_handler(self, work: JobWork) -> JobHandler:
        """Wrap a job's use-case so its replies land in the outbox in the job's transaction."""

        async def run(session: Any, job: Job) -> None:
            ctx = self.system_context(session)
            await self.deliver(ctx, await work(ctx, job))

        return run

    def read_first_handler(self, work: ReadFirst) -> jobs.PreparedHandler:
        async def read(job: Job) -> Any:
            async with self.db.reading() as session:
                return await work.read(self.system_context(session), job)

        async def finish(session: Any, job: Job, found: Any) -> None:
            ctx = self.system_context(session)
            asked = job.payload.get("answer")
            await send(
                session,
                await work.finish(ctx, job, found),
                catalogs=self.catalogs,
                settings=self.settings,
                now=ctx.now,
                answering=Recipient(**asked) if asked else None,
            )

        return jobs.PreparedHandler(read, finish)

    async def run_jobs(self, works: Mapping[str, JobWork | ReadFirst]) -> int:
        """Do every job that is due; each exactly once, with its pushes."""
        handlers = {
            kind: self.job_handler(work)
            for kind, work in works.items()
            if not isinstance(work, ReadFirst)
        }
        prepared = {
            kind: self.read_first_handler(work)
            for kind, work in works.items()
            if isinstance(work, ReadFirst)
        }
        return await jobs.run_due(self.db, self.clock.now(), handlers, prepared=prepared)

    async def sweep(self, work: Sweep) -> None:
        """Run a periodic check (deadlines, ladders) in one transaction with its pushes."""
        async with self.db.transaction() as session:
            ctx = self.system_context(session)
            await self.deliver(ctx, await work(ctx))

    # ---- idle expiry -----------------------------------------------------------------

    def _pause(self, ctx: Context, state: DialogState) -> list[Reply]:
        state.mode = "paused"
        return [self.paused_notice(ctx, state)]

    def paused_notice(self, ctx: Context | None, state: DialogState) -> Reply:
        flow = self.flows.get(state.flow or "")
        title = flow.title if flow else "dialog.menu.title"
        return Reply(
            "dialog.expired",
            {"flow": Text(title)},
            choices=(
                Choice(RESUME, "dialog.resume"),
                Choice(RESTART, "dialog.restart"),
                Choice("ctl:cancel", "dialog.cancel"),
            ),
        )

    async def _paused(self, ctx: Context, state: DialogState) -> list[Reply]:
        notice = self.paused_notice(ctx, state)
        option = ctx.msg.option or self._match_choice(ctx, notice.choices, ctx.msg.words)
        flow = self.flows.get(state.flow or "")
        if flow is None:
            _reset(state)
            return self.menu(ctx)
        if option == RESUME:
            state.mode = "flow"
            return [Reply("dialog.resumed"), *await self._ask_next(ctx, state, flow)]
        if option == RESTART:
            return await self.start_flow(ctx, state, flow.name, None)
        return [notice]

    async def expire_idle(self) -> int:
        """Tell residents whose flow went quiet that it is paused; returns how many."""
        now = self.clock.now()
        told = 0
        async with self.db.transaction() as session:
            stale = (
                await session.exec(
                    select(DialogState)
                    .where(
                        DialogState.mode == "flow", col(DialogState.updated_at) < now - self.idle
                    )
                    .limit(500)
                )
            ).all()
            for state in stale:
                state.mode = "paused"
                identity = await identity_of(session, state.channel, state.user_id)
                locale = (identity.locale if identity else None) or self.settings.default_locale
                await send(
                    session,
                    [self.paused_notice(None, state)],
                    catalogs=self.catalogs,
                    settings=self.settings,
                    now=now,
                    answering=Recipient(state.channel, state.chat_id, locale),
                )
                told += 1
            forget = now - timedelta(days=self.settings.dialog_forget_days)
            for state in (
                await session.exec(
                    select(DialogState).where(
                        DialogState.mode == "paused", col(DialogState.updated_at) < forget
                    )
                )
            ).all():
                _reset(state)
        return told


async def identity_of(session: AsyncSession, channel: str, user_id: str) -> ChatIdentity | None:
    found = await session.exec(
        select(ChatIdentity).where(
            ChatIdentity.channel == channel, ChatIdentity.external_user_id == user_id
        )
    )
    return found.first()


def _reset(state: DialogState) -> None:
    state.mode, state.flow, state.flow_version, state.step = "menu", None, "", None
    state.answers, state.trail = {}, []


def _has(ctx: Context, key: str) -> bool:
    return ctx.catalogs.has(ctx.locale, key) or ctx.catalogs.has(ctx.catalogs.default_locale, key)


def _payload_of(msg: Incoming) -> dict[str, Any]:
    data = asdict(msg)
    data["at"] = msg.at.isoformat()
    return {k: v for k, v in data.items() if v not in (None, "")}
