"""The demo's history (`frontdesk seed-demo`): months of front-desk work in 幸福里, made by
the product itself, so a newcomer's `/stats`, `/report` and `/overdue` have figures to show.

Nothing here writes a ticket. Residents and staff of the demo talk to the real engine on
the console channel while a manual clock runs from the first day of the month three
months back up to now, and the workers' round (due jobs and sweeps) runs as the time
passes, every two hours and whenever a job falls due. Residents bind their chats by
sharing their phone number, report repairs, complain, ask, dispute fees and ask for
release slips; the repair group, the service desk and the guard press the buttons of
their cards; revisits, escalations and the arrears ladder happen when they fall due. So
the store holds just what the bot would have made: repairs finished, late, reopened and
revisited with scores, complaints of every tier, fee requests, answered questions, used
slips, arrears cases at several steps, and the last days' work still open.

Each story is an async generator that yields when it next wants to act (a moment or a
delay); `Timeline` runs the stories in time order, one at a time, so the history is the
same shape on every run. Prompts are answered by their catalog keys and buttons are found
by the start of their values, so labels can change freely; a step nobody foresaw is
answered with "keep", "skip", "done" or its first choice. The history is made once per
store (a `key_value` mark), never in a store that already has tickets, and its outbox
messages are marked delivered at the end so nobody's console is flooded.
"""

from __future__ import annotations

import heapq
import logging
import random
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import func, update
from sqlmodel import col, select

from bot.demo import COMMUNITIES, STAFF_COMMUNITY
from bot.workers import run_once
from handlers.core.clock import ManualClock
from handlers.core.messages import Incoming
from handlers.rules.warranty import add_months
from storage.models import (
    ChatIdentity,
    DialogState,
    Job,
    KeyValue,
    Outbox,
    Parcel,
    ReleaseSlip,
    Ticket,
    Unit,
    Visit,
)

if TYPE_CHECKING:
    from bot.app import App
    from bot.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

MARK = "demo.history"  # key_value: the history was made (its value says when)
MONTHS = 3  # whole months before this one, so the monthly reports all have something
SEED = 20261126  # the same history, relative to today, on every run
CHANNEL = "console"
STEP = timedelta(hours=2)  # workers run at least this often while the clock moves,
NIGHT_STEP = timedelta(hours=4)  # and this often at night, when little happens
POLL, POLLS = timedelta(hours=2), 48  # residents look at their chat every so often
RECENT = timedelta(days=10)  # work left open at the end started no earlier than this
MAX_PROMPTS = 25  # a flow needing more answers than this is stuck
# What to press at a prompt nobody gave an answer for, in this order.
PROGRESS = ("=confirm", "=keep", "=stay", "=skip", "=done")

# Residents who write to the desk in the history, by console user id: `frontdesk chat
# --user chenjing`. "resident" (张伟) and "tenant" (刘洋) are bound by the demo itself.
RESIDENTS = {
    "resident": "张伟",
    "tenant": "刘洋",
    "wangfang": "王芳",
    "chenjing": "陈静",
    "zhaomin": "赵敏",
    "huangqiang": "黄强",
    "zhoujie": "周杰",
    "wumin": "吴敏",
    "xuli": "徐丽",
    "suntao": "孙涛",
    "hujun": "胡军",
    "guofang": "郭芳",
}


# The office's key register, as `/keys add` takes it: label, kind, where it hangs, count.
OFFICE_KEYS = (
    "会所大门钥匙 公共 柜A-01 2把",
    "天台门钥匙 公共 柜A-02 2把",
    "配电房钥匙 设备 柜A-03",
    "水泵房钥匙 设备 柜A-04",
    "消防控制室钥匙 设备 柜A-05",
)
# Who parcels come for (console user, unit as the desk types it) and the courier's prefix.
PARCEL_FOR = (
    ("resident", "3-2-1201", "SF"),
    ("chenjing", "1栋1单元101", "JD"),
    ("wumin", "2号楼1单元802", "YT"),
    ("huangqiang", "1-2-1502", "SF"),
    ("guofang", "3栋1单元2301", "JT"),
)
VISITORS = (("王建国", "13912340001"), ("李秀英", "13912340002"), ("陈晓东", "13912340003"))


def _phones() -> dict[str, str]:
    """Each demo resident's phone, as on the roster (bot/demo.py)."""
    return {
        resident.name: resident.phone
        for community in COMMUNITIES
        if community.code == STAFF_COMMUNITY
        for unit in community.units
        for resident in unit.residents
    }


# ---- answers to prompts -------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """Type this."""

    text: str


@dataclass(frozen=True)
class Press:
    """Press the first button whose value starts with `prefix` (and ends with `suffix`)."""

    prefix: str
    suffix: str = ""


@dataclass(frozen=True)
class Share:
    """Share this phone number as a contact."""

    phone: str


Answer = Say | Press | Share


def _matches(value: str, prefix: str, ref: int | None = None, suffix: str = "") -> bool:
    """A button value for this action (and this ticket or slip id, wherever it stands):
    `act:t_accept` matches `act:t_accept:12`, not `act:t_acceptance:12`."""
    if not value.startswith(prefix) or not value.endswith(suffix):
        return False
    rest = value[len(prefix) :]
    if rest and not prefix.endswith(":") and not rest.startswith(":"):
        return False
    return ref is None or str(ref) in rest.split(":")


# ---- people at the keyboard -------------------------------------------------------------------


@dataclass
class Actor:
    """Someone typing in one chat of the console channel; `said` is the bot's answer."""

    app: App
    user_id: str
    chat_id: str = ""
    kind: str = "private"
    name: str = ""
    cursor: int = 0  # the last outbox row of this chat already read

    def __post_init__(self) -> None:
        self.chat_id = self.chat_id or self.user_id

    async def send(self, **fields: Any) -> list[dict[str, Any]]:
        """Say or press something; returns what the bot wrote to this chat since."""
        await self.app.engine.handle(
            Incoming(
                channel=CHANNEL,
                chat_id=self.chat_id,
                user_id=self.user_id,
                at=self.app.clock.now(),
                message_id=f"demo:{uuid.uuid4().hex}",
                chat_kind=self.kind,
                user_name=self.name,
                **fields,
            )
        )
        return await self.read()

    async def read(self) -> list[dict[str, Any]]:
        async with self.app.db.transaction() as session:
            rows = (
                await session.exec(
                    select(Outbox)
                    .where(
                        Outbox.channel == CHANNEL,
                        Outbox.chat_id == self.chat_id,
                        col(Outbox.id) > self.cursor,
                    )
                    .order_by(col(Outbox.id))
                )
            ).all()
        if rows:
            self.cursor = rows[-1].id or self.cursor
        return [row.payload for row in rows]

    async def button(self, prefix: str, ref: int | None = None, after: int = 0) -> str | None:
        """The value of a button shown in this chat after row `after` (the newest first)."""
        async with self.app.db.transaction() as session:
            rows = (
                await session.exec(
                    select(Outbox)
                    .where(
                        Outbox.channel == CHANNEL,
                        Outbox.chat_id == self.chat_id,
                        col(Outbox.id) > after,
                    )
                    .order_by(col(Outbox.id).desc())
                    .limit(200)
                )
            ).all()
        for row in rows:
            for shown in row.payload.get("buttons") or []:
                if _matches(str(shown.get("value", "")), prefix, ref):
                    return str(shown["value"])
        return None

    async def in_flow(self) -> bool:
        async with self.app.db.transaction() as session:
            state = await session.get(DialogState, (CHANNEL, self.chat_id, self.user_id))
        return state is not None and state.mode == "flow"

    async def fill(
        self, said: list[dict[str, Any]], answers: Mapping[str, Answer], fallback: str = "好的"
    ) -> bool:
        """Answer the flow's prompts (by catalog key) until it is over; False if stuck."""
        todo = dict(answers)
        asked: Counter[str] = Counter()
        for _ in range(MAX_PROMPTS):
            if not await self.in_flow():
                return True
            prompt: dict[str, Any] = next((p for p in reversed(said) if p.get("key")), {})
            key = str(prompt.get("key", ""))
            asked[key] += 1
            if asked[key] > 3:
                break
            values = [str(b.get("value", "")) for b in prompt.get("buttons") or []]
            said = await self._answer(todo.pop(key, None), values, fallback)
        log.warning("demo history: %s stuck in a flow; cancelled", self.user_id)
        await self.send(text="/cancel")
        return False

    async def _answer(
        self, given: Answer | None, values: list[str], fallback: str
    ) -> list[dict[str, Any]]:
        if isinstance(given, Say):
            return await self.send(text=given.text)
        if isinstance(given, Share):
            return await self.send(contact=given.phone)
        if isinstance(given, Press):
            found = next((v for v in values if _matches(v, given.prefix, None, given.suffix)), None)
            if found is not None:
                return await self.send(option=found)
        for value in PROGRESS:
            if value in values:
                return await self.send(option=value)
        own = [v for v in values if not v.startswith(("=", "ctl:"))]
        if own:
            return await self.send(option=own[0])
        return await self.send(text=fallback)


# ---- time -------------------------------------------------------------------------------------

Story = AsyncGenerator[datetime | timedelta, None]


class Timeline:
    """Runs stories in time order while the clock moves and the workers do their rounds."""

    def __init__(self, app: App, clock: ManualClock, end: datetime) -> None:
        self.app, self.clock, self.end = app, clock, end
        self.tz = app.settings.tz
        self._last_round = clock.now()

    async def run(self, stories: list[Story]) -> None:
        queue: list[tuple[datetime, int, Story]] = []
        for number, story in enumerate(stories):
            await self._queue(queue, number, story)
        while queue:
            when, number, story = heapq.heappop(queue)
            if when > self.end:
                await story.aclose()  # its next step is in the future: left as it is now
                continue
            await self.pass_until(when)
            await self._queue(queue, number, story)
        await self.pass_until(self.end)

    async def _queue(
        self, queue: list[tuple[datetime, int, Story]], number: int, story: Story
    ) -> None:
        """Run the story to its next wish and queue it for then; nothing when it is over."""
        try:
            wish = await anext(story)
        except StopAsyncIteration:
            return
        when = self.clock.now() + wish if isinstance(wish, timedelta) else wish
        heapq.heappush(queue, (max(when, self.clock.now()), number, story))

    async def pass_until(self, when: datetime) -> None:
        """Move the clock to `when`. The workers' round runs every `STEP` (every
        `NIGHT_STEP` at night) and at each job's due time on the way, so a revisit is asked
        when it is due; a story's own moments need no round of their own."""
        while self.clock.now() < when:
            now, due = self.clock.now(), await self._next_job()
            tick = self._last_round + self._step()
            stop = min(when, tick)
            falls_due = due is not None and now < due <= stop
            if falls_due and due is not None:
                stop = due
            self.clock.set(max(stop, now))
            if stop == tick or falls_due:
                self._last_round = self.clock.now()
                await run_once(self.app)

    def _step(self) -> timedelta:
        hour = self._last_round.astimezone(self.tz).hour
        return STEP if 7 <= hour < 22 else NIGHT_STEP

    async def _next_job(self) -> datetime | None:
        async with self.app.db.transaction() as session:
            return (
                await session.exec(
                    select(Job.due_at)
                    .where(col(Job.done_at).is_(None))
                    .order_by(col(Job.due_at))
                    .limit(1)
                )
            ).first()


# ---- what residents and staff do ----------------------------------------------------------------


class Desk:
    """The demo's people and the things they do through the bot, each one conversation."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.phones = _phones()
        self.receipts = 0
        self.residents = {user: Actor(app, user, name=name) for user, name in RESIDENTS.items()}
        self.wang = Actor(app, "wang", f"group:{STAFF_COMMUNITY}:repair", "group", "王师傅")
        self.liu = Actor(app, "liu", f"group:{STAFF_COMMUNITY}:repair", "group", "刘师傅")
        self.desk = Actor(app, "li", f"group:{STAFF_COMMUNITY}:service", "group", "李敏")
        self.li = Actor(app, "li", name="李敏")  # her private chat
        self.guard = Actor(app, "zhao", name="赵强")
        self.zhou = Actor(app, "zhou", name="周主管")

    async def bound(self, who: Actor) -> None:
        """Link the chat to the roster by sharing the phone number, the first time."""
        async with self.app.db.transaction() as session:
            identity = (
                await session.exec(
                    select(ChatIdentity).where(
                        ChatIdentity.channel == CHANNEL,
                        ChatIdentity.external_user_id == who.user_id,
                    )
                )
            ).first()
        if identity is not None and identity.person_id is not None:
            return
        said = await who.send(text="/bind")
        phone = self.phones[who.name]
        await who.fill(
            said, {"binding.way.prompt": Press("contact"), "binding.contact.prompt": Share(phone)}
        )

    async def mark(self) -> int:
        """The newest outbox row: buttons shown after it are new."""
        async with self.app.db.transaction() as session:
            return int((await session.exec(select(func.max(Outbox.id)))).one() or 0)

    async def _last_ticket(self) -> int:
        async with self.app.db.transaction() as session:
            return int((await session.exec(select(func.max(Ticket.id)))).one() or 0)

    async def _new_ticket(self, who: Actor, after: int) -> Ticket | None:
        async with self.app.db.transaction() as session:
            return (
                await session.exec(
                    select(Ticket)
                    .where(Ticket.chat_id == who.chat_id, col(Ticket.id) > after)
                    .order_by(col(Ticket.id).desc())
                )
            ).first()

    async def ticket(self, ref: int) -> Ticket | None:
        async with self.app.db.transaction() as session:
            return await session.get(Ticket, ref)

    async def start(
        self, who: Actor, opening: str | tuple[str, str], answers: Mapping[str, Answer]
    ) -> int | None:
        """A resident starts a flow (a command, or a button shown to them) and fills it in;
        the id of the ticket it made, or None."""
        await self.bound(who)
        before = await self._last_ticket()
        if isinstance(opening, tuple):  # (a button's prefix, the command that shows it)
            shown = who.cursor
            await who.send(text=opening[1])
            value = await who.button(opening[0], after=shown)
            if value is None:
                return None
            said = await who.send(option=value)
        else:
            said = await who.send(text=opening)
        fallback = next((a.text for a in answers.values() if isinstance(a, Say)), "好的")
        await who.fill(said, answers, fallback)
        made = await self._new_ticket(who, before)
        return made.id if made else None

    # ---- staff at the cards

    def staff_for(self, ticket: Ticket, repair: Actor) -> Actor:
        return {"repair": repair, "service": self.desk, "security": self.guard}.get(
            ticket.department, self.zhou
        )

    async def card(self, staff: Actor, ref: int, prefix: str, suffix: str = "") -> list[Any] | None:
        """Press a button of a ticket's card, as shown lately in any chat."""
        async with self.app.db.transaction() as session:
            rows = (
                await session.exec(
                    select(Outbox)
                    .where(Outbox.card == f"ticket:{ref}")
                    .order_by(col(Outbox.id).desc())
                    .limit(30)
                )
            ).all()
        for row in rows:
            for shown in row.payload.get("buttons") or []:
                value = str(shown.get("value", ""))
                if _matches(value, prefix, ref, suffix):
                    return await staff.send(option=value)
        return None

    async def work(self, staff: Actor, ref: int, step: str) -> None:
        """accept or start, by the card's button."""
        await self.card(staff, ref, f"act:t_{step}")

    async def finish(self, staff: Actor, ref: int, note: str, amount: str = "0") -> None:
        said = await self.card(staff, ref, "flow:task_done")
        if said is not None:
            answers = {"task.done.note": Say(note), "task.done.amount": Say(amount)}
            await staff.fill(said, answers, amount)

    async def give_up(self, staff: Actor, ref: int, reason: str) -> None:
        said = await self.card(staff, ref, "flow:task_cannot")
        if said is not None:
            await staff.fill(said, {"task.cannot.reason": Say(reason)}, reason)

    async def leak_test(self, staff: Actor, ref: int) -> None:
        await self.card(staff, ref, "act:t_leak")

    async def classify(self, ref: int, severity: str) -> None:
        """The service desk confirms (or changes) a complaint's severity on its card."""
        await self.card(self.desk, ref, "act:cmp_sev", f":{severity}")

    # ---- residents answering

    async def press(self, who: Actor, prefix: str, ref: int, after: int = 0) -> list[Any] | None:
        value = await who.button(prefix, ref, after)
        return None if value is None else await who.send(option=value)

    async def revisit(
        self, who: Actor, ref: int, score: int, fixed: bool, comment: str | None = None
    ) -> bool:
        """The resident answers the revisit question they were sent; False if none came."""
        said = await self.press(who, "flow:revisit", ref)
        if said is None:
            return False
        answers: dict[str, Answer] = {
            "revisit.satisfaction": Press(str(score)),
            "revisit.fixed": Press("yes" if fixed else "no"),
        }
        if comment:
            answers["revisit.comment"] = Say(comment)
        await who.fill(said, answers)
        return True

    async def phone_revisit(self, ref: int, score: int) -> bool:
        """The desk takes the "revisit by phone" task and records what the resident said."""
        if await self.press(self.desk, "act:rv_take", ref) is None:
            return False
        said = await self.press(self.li, "flow:revisit_staff", ref)
        if said is None:
            return False
        await self.li.fill(
            said, {"revisit.satisfaction": Press(str(score)), "revisit.fixed": Press("yes")}
        )
        return True


# ---- stories ------------------------------------------------------------------------------------


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@dataclass(frozen=True)
class RepairCase:
    category: str
    text: str
    place: str | None = None  # a common area (else the resident's own unit)
    note: str = "已处理"


REPAIRS = (
    RepairCase("water", "厨房水槽下水管漏水", note="更换了下水管和密封圈"),
    RepairCase("water", "卫生间地漏返水，有异味", note="疏通地漏，加装防臭芯"),
    RepairCase("water", "阳台洗衣机龙头一直滴水", note="更换了龙头阀芯"),
    RepairCase("electrical", "客厅插座没电", note="更换了插座面板"),
    RepairCase("electrical", "卫生间浴霸一开就跳闸", note="浴霸线路受潮，已处理并更换开关"),
    RepairCase("electrical", "卧室吸顶灯不亮，换了灯泡也不行", note="更换了镇流器"),
    RepairCase("doors", "入户门锁芯卡住，钥匙拧不动", note="更换了锁芯"),
    RepairCase("doors", "阳台推拉门轨道坏了，推不动", note="更换了滑轮并校正轨道"),
    RepairCase("doors", "卧室窗户关不严，晚上漏风", note="调整了窗扇并更换密封条"),
    RepairCase("gas", "燃气表显示异常，灶台火很小", note="燃气公司上门更换了减压阀"),
    RepairCase("other", "厨房吊柜门铰链松了", note="更换了铰链"),
    RepairCase("lift", "电梯门关不上，反复开合", "2栋1单元电梯", "调整了门机光幕"),
    RepairCase("public", "5楼楼道灯不亮", "3栋楼道", "更换了声控灯"),
    RepairCase("public", "东门道闸抬杆失灵，车进不来", "小区东门", "更换了道闸控制板"),
    RepairCase("safety", "消防栓箱门锁坏了，门关不上", "1栋2单元一楼", "更换了箱门锁"),
    RepairCase("safety", "地下车库的灭火器压力不足", "地下车库B区", "更换了4具灭火器"),
)
# How a repair goes, and how often: revisited by the resident, by the desk's phone call,
# reopened by the resident, sent back by a bad revisit, finished late, given up, cancelled
# by the resident, not taken up (only lately). The last days also have a job "accepted"
# and one "started", left there.
OUTCOMES = (
    ("revisited", 9),
    ("phone", 3),
    ("reopened", 2),
    ("rework", 1),
    ("late", 3),
    ("cannot", 1),
    ("cancelled", 1),
    ("ignored", 1),
)
SCORES = (5, 5, 5, 4, 4, 4, 3)


@dataclass(frozen=True)
class ComplaintCase:
    what: str
    who: str
    want: str
    severity: str
    note: str


COMPLAINTS = (
    ComplaintCase(
        "楼上装修太吵了，中午也在打电钻", "other", "fix", "minor", "已联系装修户，午休时段停工"
    ),
    ComplaintCase("电梯里的广告屏声音太大了", "service", "fix", "minor", "已调低广告屏音量"),
    ComplaintCase(
        "快递柜旁边的纸箱堆了两天没人清理", "service", "fix", "minor", "已清理并加派保洁巡查"
    ),
    ComplaintCase(
        "东门保安态度很差，不让外卖进来还骂人",
        "security",
        "apology",
        "important",
        "已约谈当班保安，向业主当面致歉",
    ),
    ComplaintCase(
        "停车费比公示的多收了50元",
        "service",
        "answer",
        "important",
        "核实为系统错误，已退还多收费用",
    ),
    ComplaintCase(
        "维修师傅约好上午来，等了一天都没人",
        "repair",
        "answer",
        "important",
        "已向业主致歉并重新安排上门",
    ),
    ComplaintCase(
        "地下车库消防通道被长期占用，消防车根本进不来，反映多次没人管",
        "security",
        "fix",
        "major",
        "已清空消防通道并加装隔离桩，每日巡查",
    ),
)


@dataclass(frozen=True)
class FeeCase:
    button: str  # the statement's button: a dispute, instalments, a collection visit
    answers: Mapping[str, Answer]
    note: str


FEES = (
    FeeCase(
        "flow:fee_request:dispute",
        {
            "fee.dispute.prompt": Say("上个月的公共能耗费比平时多了二十元"),
            "fee.reason.prompt": Say("家里整月没人住，想核对一下"),
        },
        "已核对读数，按实际用量重新计算并说明",
    ),
    FeeCase(
        "flow:fee_request:instalment",
        {
            "fee.instalment.prompt": Say("欠费想分三个月还清"),
            "fee.reason.prompt": Say("最近家里有人住院，手头比较紧"),
        },
        "已同意分三期缴纳，首期下月5日前",
    ),
    FeeCase("flow:fee_visit", {"fee.time.prompt": Press("time:weekday_pm")}, "已上门收取物业费"),
)
QUESTIONS = (
    (
        "小区可以装充电桩吗？需要什么手续？",
        "可以，请带车位产权证明到前台登记，电力公司上门勘察后安装。",
    ),
    ("快递柜满了，包裹可以放物业前台吗？", "可以，前台代收时间为8:30-18:00，请凭取件码领取。"),
    ("家里想换窗户，需要提前报备吗？", "需要，请到前台填写装修申请，审核后即可施工。"),
    ("小区周末有没有亲子活动？", "本月第二个周六上午在中心广场有亲子手工活动，欢迎报名。"),
    ("垃圾分类的厨余垃圾几点收？", "每天7:00-9:00和18:00-20:00在各楼栋垃圾亭收集。"),
)
SLIP_ITEMS = ("冰箱1台，纸箱3个", "旧沙发1张", "书桌1张，椅子2把", "洗衣机1台")


class Deck(Generic[T]):
    """Cards dealt in a shuffled order; reshuffled when all have been dealt."""

    def __init__(self, cards: list[T], shuffle: random.Random) -> None:
        self.cards, self.shuffle, self.left = cards, shuffle, list[T]()

    def deal(self) -> T:
        if not self.left:
            self.left = list(self.cards)
            self.shuffle.shuffle(self.left)
        return self.left.pop()


class Stories:
    """The history's stories; `random` fixes who, what and when, the same on every run."""

    def __init__(self, desk: Desk, start: datetime, end: datetime, tz: Any) -> None:
        self.desk, self.start, self.end, self.tz = desk, start, end, tz
        self.random = random.Random(SEED)

    def all(self) -> list[Story]:
        stories: list[Story] = []
        day = self.start.astimezone(self.tz).date()
        last = self.end.astimezone(self.tz).date()
        pick = self.random
        # Dealt from shuffled decks, not drawn at random: every outcome and every kind of
        # complaint comes up, in about the proportions of the deck.
        outcomes = Deck([name for name, times in OUTCOMES for _ in range(times)], pick)
        repairs, complaints = Deck(list(REPAIRS), pick), Deck(list(COMPLAINTS), pick)
        questions = Deck(list(QUESTIONS), pick)
        while day <= last:
            for _ in range(pick.choice((0, 0, 0, 1, 1, 2))):
                at, outcome = self._moment(day), outcomes.deal()
                if outcome == "ignored" and not self._recent(at):
                    outcome = "late"  # left alone for long, but done in the end
                stories.append(self.repair(at, repairs.deal(), outcome))
            if pick.random() < 0.18:
                stories.append(self.complaint(self._moment(day), complaints.deal()))
            if pick.random() < 0.15:
                stories.append(self.question(self._moment(day), *questions.deal()))
            if pick.random() < 0.08:
                stories.append(self.slip(self._moment(day)))
            day += timedelta(days=1)
        stories += self.fees()
        stories += self.registers()
        # For a newcomer to find: 张伟's repair, finished just now and confirmed by him
        # (its revisit is asked the next morning: `/clock +2d`); and from the last office
        # hours, a lift repair accepted but not started and long overdue, a job in
        # progress, and a water leak nobody took yet.
        closing = self._closing()
        finale = (
            (self.end - hours(3), "electrical", "confirmed", "resident"),
            (closing - hours(30), "lift", "accepted", "hujun"),
            (closing - hours(2), "doors", "started", "zhoujie"),
            (closing - hours(1), "water", "ignored", "tenant"),
        )
        for at, category, outcome, user in finale:
            case = next(c for c in REPAIRS if c.category == category)
            stories.append(self.repair(at, case, outcome, user))
        return stories

    def _closing(self) -> datetime:
        """The end if it is the afternoon, else the last evening's office hours before it."""
        local = self.end.astimezone(self.tz)
        if 14 <= local.hour < 20:
            return local
        evening = local.replace(hour=19, minute=30, second=0, microsecond=0)
        return evening if local.hour >= 20 else evening - timedelta(days=1)

    def _recent(self, at: datetime) -> bool:
        """Within the last days: what is still open at the end may have started then."""
        return at > self.end - RECENT

    def _moment(self, day: Any) -> datetime:
        at = time(self.random.randint(8, 19), self.random.choice((0, 10, 20, 30, 40, 50)))
        return datetime.combine(day, at, tzinfo=self.tz)

    def _resident(self) -> Actor:
        return self.desk.residents[self.random.choice(list(RESIDENTS))]

    async def repair(
        self, at: datetime, case: RepairCase, outcome: str, user: str | None = None
    ) -> Story:
        desk, pick = self.desk, random.Random(self.random.random())
        who = desk.residents[user] if user else self._resident()
        staff = pick.choice((desk.wang, desk.liu))
        yield at
        answers: dict[str, Answer] = {
            "repair.unit.prompt": Press("common" if case.place else "unit:"),
            "repair.category.prompt": Press(case.category),
            "repair.description.prompt": Say(case.text),
            "repair.time.prompt": Press("time:"),
        }
        if case.place:
            answers["repair.location.prompt"] = Say(case.place)
        ref = await desk.start(who, "/repair", answers)
        if ref is None or outcome == "ignored":
            return
        if outcome == "cancelled":
            yield minutes(pick.randint(10, 90))
            await who.send(text="/my")
            await desk.press(who, "act:my_view", ref)
            await desk.press(who, "act:my_cancel", ref)
            return
        # The last jobs go quickly, so that they are where they should be at the end.
        late, quick = outcome == "late", 3 if outcome in ("confirmed", "started") else 1
        yield hours(pick.uniform(5, 9)) if late else minutes(pick.randint(5, 50) // quick)
        await desk.work(staff, ref, "accept")
        if outcome == "accepted":
            return
        if outcome == "cannot":
            yield hours(2)
            await desk.give_up(staff, ref, "需要更换整套管线，须业主自行联系厂家")
            return
        yield hours(pick.uniform(20, 40)) if late else minutes(pick.randint(30, 180) // quick)
        await desk.work(staff, ref, "start")
        if outcome == "started":
            return
        yield minutes(pick.randint(30, 150) // quick)
        paid = str(pick.choice((30, 50, 80, 120)))
        await desk.finish(staff, ref, case.note, paid)
        if outcome == "reopened":
            yield hours(pick.uniform(2, 6))
            await desk.press(who, "act:r_notyet", ref)
            yield hours(pick.uniform(3, 20))
            await desk.work(staff, ref, "start")
            yield minutes(60)
            await desk.finish(staff, ref, f"返修：{case.note}", "0")
        if case.category == "water":
            yield hours(pick.uniform(20, 30))
            await desk.leak_test(staff, ref)
        yield minutes(30) if quick > 1 else hours(pick.uniform(1, 8))
        await desk.press(who, "act:r_fixed", ref)
        if outcome == "confirmed":
            return
        rounds = 2 if outcome == "rework" else 1
        for round_ in range(rounds):
            shown, asked = await desk.mark(), False
            for _ in range(POLLS):
                yield POLL
                if await who.button("flow:revisit", ref, shown):
                    asked = True
                    break
            if not asked:
                return
            if outcome == "phone":  # no answer: the desk gets the task to phone instead
                for _ in range(POLLS):
                    yield POLL
                    if await desk.desk.button("act:rv_take", ref, shown):
                        yield hours(pick.uniform(0.5, 3))
                        await desk.phone_revisit(ref, pick.choice(SCORES))
                        return
                return
            yield hours(pick.uniform(0.5, 4))
            if outcome == "rework" and round_ == 0:
                await desk.revisit(who, ref, 2, False, "还是有问题，没修好")
                yield hours(pick.uniform(4, 20))
                await desk.work(staff, ref, "start")
                yield minutes(90)
                await desk.finish(staff, ref, f"返工：{case.note}", "0")
                yield hours(3)
                await desk.press(who, "act:r_fixed", ref)
                continue
            await desk.revisit(who, ref, pick.choice(SCORES), True)

    async def complaint(self, at: datetime, case: ComplaintCase) -> Story:
        desk, pick = self.desk, random.Random(self.random.random())
        who = self._resident()
        yield at
        answers: dict[str, Answer] = {
            "complaint.what.prompt": Say(case.what),
            "complaint.when.prompt": Press("when:"),
            "complaint.where.prompt": Press("unit:"),
            "complaint.who.prompt": Press(f"dept:{case.who}"),
            "complaint.want.prompt": Press(f"want:{case.want}"),
        }
        ref = await desk.start(who, "/complaint", answers)
        if ref is None:
            return
        yield minutes(pick.randint(10, 40))
        await desk.classify(ref, case.severity)
        ticket = await desk.ticket(ref)
        if ticket is None:
            return
        neglected = pick.random() < 0.15
        if neglected and self._recent(at):
            return  # nobody takes it up: it climbs the escalation ladder
        staff = desk.staff_for(ticket, pick.choice((desk.wang, desk.liu)))
        yield hours(pick.uniform(30, 80)) if neglected else minutes(pick.randint(20, 90))
        await desk.work(staff, ref, "accept")
        yield hours(pick.uniform(2, 30))
        await desk.work(staff, ref, "start")
        yield hours(pick.uniform(1, 20))
        await desk.finish(staff, ref, case.note)
        yield hours(pick.uniform(1, 6))
        await desk.press(who, "act:r_fixed", ref)
        shown = await desk.mark()
        for _ in range(POLLS):
            yield POLL
            if await who.button("flow:revisit", ref, shown):
                yield hours(pick.uniform(0.5, 3))
                await desk.revisit(who, ref, pick.choice((5, 4, 4, 3)), True)
                return

    async def question(self, at: datetime, asked: str, answer: str) -> Story:
        desk, pick = self.desk, random.Random(self.random.random())
        who = self._resident()
        yield at
        answers: dict[str, Answer] = {
            "question.topic.prompt": Press("topic:other"),
            "question.text.prompt": Say(asked),
        }
        ref = await desk.start(who, "/question", answers)
        neglected = pick.random() < 0.2
        if ref is None or (neglected and self._recent(at)):
            return  # not answered yet
        yield hours(pick.uniform(50, 90)) if neglected else hours(pick.uniform(1, 20))
        ticket = await desk.ticket(ref)
        if ticket is not None:
            await desk.desk.send(text=f"/answer {ticket.number} {answer}")

    async def slip(self, at: datetime) -> Story:
        """The owner 张伟 (at once), the tenant 刘洋 (the owner 王芳 agrees) or 赵敏, whose
        fees are overdue (the desk decides); the guard lets the goods out."""
        desk, pick = self.desk, random.Random(self.random.random())
        who = desk.residents[pick.choice(("resident", "tenant", "zhaomin"))]
        yield at
        if who.user_id == "tenant":
            await desk.bound(desk.residents["wangfang"])  # the owner is on the chat first
        answers: dict[str, Answer] = {
            "slip.unit.prompt": Press("unit:"),
            "slip.items.prompt": Say(pick.choice(SLIP_ITEMS)),
            "slip.plate.prompt": Say("浙A" + str(pick.randint(10000, 99999))),
            "slip.day.prompt": Press("day:0"),
            "slip.window.prompt": Press("window:afternoon"),
        }
        ref = await desk.start(who, "/slip", answers)
        if ref is None:
            return
        async with desk.app.db.transaction() as session:
            slip = (
                await session.exec(select(ReleaseSlip).where(ReleaseSlip.ticket_id == ref))
            ).first()
        if slip is None or slip.id is None:
            return
        yield minutes(pick.randint(10, 60))
        await desk.press(desk.residents["wangfang"], "act:slip_owner_ok", slip.id)
        await desk.press(desk.desk, "act:slip_desk_ok", slip.id)
        yield hours(pick.uniform(1, 3))
        said = await desk.guard.send(text=f"/slip {slip.code}")
        if said:
            await desk.press(desk.guard, "act:slip_use", slip.id)

    # ---- the desk's registers: keys, parcels, visitors

    def registers(self) -> list[Story]:
        """The office's keys registered on the first day and lent now and then; parcels of
        the last week (those of the last day still waiting); visitors of the last week.
        Drawn from their own `Random`, so the tickets' stories stay as they were."""
        pick = random.Random(SEED + 19)
        stories: list[Story] = [self.keys(self.start + hours(1), pick.random())]
        day = (self.end - timedelta(days=7)).astimezone(self.tz).date()
        last = self.end.astimezone(self.tz).date()
        while day <= last:
            for _ in range(pick.choice((0, 1, 1, 2))):
                at = datetime.combine(day, time(pick.randint(9, 17), 15), tzinfo=self.tz)
                if at < self.end:
                    stories.append(self.parcel(at, pick.random()))
            if pick.random() < 0.4:
                at = datetime.combine(day, time(9, 30), tzinfo=self.tz)
                if at < self.end - hours(6):
                    stories.append(self.visitor(at, pick.random()))
            day += timedelta(days=1)
        return stories

    async def keys(self, at: datetime, seed: float) -> Story:
        """李敏 registers the office's keys, then 王师傅 borrows the pump room's key for the
        monthly check and brings it back in the afternoon."""
        pick = random.Random(seed)
        yield at
        for line in OFFICE_KEYS:
            await self.desk.li.send(text=f"/keys add {line}")
        day = at
        while day + timedelta(days=30) < self.end - RECENT:
            day += timedelta(days=30)
            yield day
            await self.desk.li.send(text="/lend 柜A-04 王师傅 3小时")
            yield hours(pick.uniform(1.5, 2.5))
            await self.desk.li.send(text="/keyback 柜A-04")

    async def parcel(self, at: datetime, seed: float) -> Story:
        """A courier leaves a parcel for a resident; they collect it with the code within a
        day or two, except what came in the last day."""
        pick = random.Random(seed)
        user, unit, courier = pick.choice(PARCEL_FOR)
        yield at
        waybill = f"{courier}{pick.randint(10**9, 10**10 - 1)}"
        await self.desk.li.send(text=f"/parcel {unit} {RESIDENTS[user]} {waybill}")
        async with self.desk.app.db.transaction() as session:
            parcel = (await session.exec(select(Parcel).where(Parcel.waybill == waybill))).first()
        later = hours(pick.uniform(2, 40))
        if parcel is None or at + later > self.end - hours(20):
            return
        yield later
        said = await self.desk.li.send(text=f"/pickup {parcel.code}")
        if said:
            await self.desk.press(self.desk.li, "act:parcel_hand", parcel.id or 0)

    async def visitor(self, at: datetime, seed: float) -> Story:
        """张伟 registers a friend's visit for the afternoon; the guard lets them in with the
        code and records when they leave."""
        pick = random.Random(seed)
        name, phone = pick.choice(VISITORS)
        answers: dict[str, Answer] = {
            "visitor.unit.prompt": Press("unit:"),
            "visitor.name.prompt": Say(name),
            "visitor.phone.prompt": Say(phone),
            "visitor.plate.prompt": Say("浙A" + str(pick.randint(10000, 99999))),
            "visitor.purpose.prompt": Say(pick.choice(("探亲", "朋友聚会", "送东西"))),
            "visitor.arrival.prompt": Say("今天下午3点"),
            "visitor.departure.prompt": Say("3小时"),
            "visitor.companions.prompt": Say("无"),
        }
        yield at
        who = self.desk.residents["resident"]
        await self.desk.bound(who)
        said = await who.send(text="/visit")
        await who.fill(said, answers, "好的")
        async with self.desk.app.db.transaction() as session:
            visit = (
                await session.exec(
                    select(Visit).where(Visit.name == name).order_by(col(Visit.id).desc())
                )
            ).first()
        if visit is None or visit.id is None:
            return
        yield max(at.replace(hour=15, minute=5) - at, minutes(1))
        await self.desk.guard.send(text=f"/visitor {visit.code}")
        await self.desk.press(self.desk.guard, "act:visit_in", visit.id)
        yield hours(pick.uniform(1, 4))
        await self.desk.guard.send(text=f"/visitor 离开 {visit.code}")

    def fees(self) -> list[Story]:
        """A dispute, instalments and a collection visit that ends in a payment."""
        span = (self.end - self.start).days
        return [
            self.fee(self.start + timedelta(days=span * 0.2), "chenjing", FEES[0]),
            self.fee(self.start + timedelta(days=span * 0.45), "xuli", FEES[1]),
            self.fee(self.start + timedelta(days=span * 0.6), "zhaomin", FEES[2], pay=True),
            self.fee(self.start + timedelta(days=span * 0.8), "huangqiang", FEES[0]),
        ]

    async def fee(self, at: datetime, user: str, case: FeeCase, pay: bool = False) -> Story:
        desk = self.desk
        who = desk.residents[user]
        yield at.replace(hour=10, minute=15)
        ref = await desk.start(who, (case.button, "/fees"), case.answers)
        if ref is None:
            return
        yield minutes(40)
        await desk.work(desk.desk, ref, "accept")
        yield hours(20)
        await desk.work(desk.desk, ref, "start")
        yield hours(2)
        await desk.finish(desk.desk, ref, case.note)
        ticket = await desk.ticket(ref)
        if pay and ticket is not None and ticket.amount and ticket.unit_id:
            await self.paid(ticket)

    async def paid(self, ticket: Ticket) -> None:
        """The desk records the payment collected, with its receipt number."""
        async with self.desk.app.db.transaction() as session:
            unit = await session.get(Unit, ticket.unit_id)
        if unit is None:
            return
        self.desk.receipts += 1
        day = self.desk.app.clock.now().astimezone(self.tz)
        receipt = f"SJ{day:%Y%m%d}{self.desk.receipts:03d}"
        await self.desk.desk.send(text=f"/paid {unit.label} {ticket.amount} {receipt}")


# ---- the whole history ------------------------------------------------------------------------


@dataclass(frozen=True)
class Made:
    """What `make_history` did: tickets added and the span they cover (None: skipped, why)."""

    tickets: int
    start: datetime | None = None
    end: datetime | None = None
    skipped: str | None = None


async def make_history(settings: Settings, end: datetime, months: int = MONTHS) -> Made:
    """Make the demo's history from the first day `months` months back up to `end`, once
    per store; see the module's docstring."""
    from bot.app import App

    tz = settings.tz
    first = add_months(end.astimezone(tz).date().replace(day=1), -months)
    start = datetime.combine(first, time(8, 0), tzinfo=tz)
    clock = ManualClock(start)
    app = await App.start(settings, clock=clock)
    try:
        async with app.db.transaction() as session:
            if await session.get(KeyValue, MARK) is not None:
                return Made(0, skipped="already made")
            if (await session.exec(select(func.count()).select_from(Ticket))).one():
                return Made(0, skipped="the store already has tickets")
            first_message = int((await session.exec(select(func.max(Outbox.id)))).one() or 0)
        desk = Desk(app)
        stories = Stories(desk, start, end, tz)
        await Timeline(app, clock, end).run(stories.all())
        async with app.db.transaction() as session:
            # Everything the history said was read at the time (a push held for the quiet
            # hours: now), so nobody's console is flooded with months of messages.
            unsent = [
                col(Outbox.id) > first_message,
                col(Outbox.sent_at).is_(None),
                col(Outbox.failed_at).is_(None),
            ]
            await session.exec(
                update(Outbox)
                .where(*unsent, col(Outbox.not_before) <= end)
                .values(sent_at=Outbox.not_before)
            )
            await session.exec(update(Outbox).where(*unsent).values(sent_at=end))
            made = (await session.exec(select(func.count()).select_from(Ticket))).one()
            session.add(KeyValue(key=MARK, value=f"{start.isoformat()}..{end.isoformat()}"))
        return Made(int(made), start, end)
    finally:
        await app.close()
