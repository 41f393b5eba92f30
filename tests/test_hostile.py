"""Hostile input: whatever arrives, the bot answers politely or refuses, and stores no half.

Property-based (hypothesis): arbitrary unicode (control characters, right-to-left text,
emoji, 10k–100k character messages) at every step of a repair, forged button values,
malformed Telegram updates fed to the real aiogram dispatcher, and malformed, oversize or
entity-laden XML posted to `/wechat` and `/wecom`. After each input the store must still
be whole: every ticket has its history, every stored inbound update was handled, and a
refused request left no row behind. The number of inputs tried is printed at the end.

Status codes: `/wechat` and `/wecom` answer 500 only when handling failed and nothing was
stored, deliberately, so that WeChat sends the message again; no input here may cause
one. An update that is not Telegram's shape is refused by aiogram's own validation before
our code runs (a 500 from its webhook handler); Telegram itself never sends one, and only
a sender holding the webhook secret could.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import col, select

import tests.test_telegram as tg
import tests.test_wecom as wc
from bot.app import App
from bot.channels import telegram, wechat, wecom
from bot.demo import seed_demo
from bot.http import MAX_BODY, make_web_app
from bot.settings import Settings
from dialogs.registry import all_actions, all_flows
from handlers.core.clock import ManualClock
from storage.models import AuditLog, InboundUpdate, Outbox, Ticket, TicketEvent
from tests.conversations import file_repair
from tests.harness import Chat, Said
from tests.telegram_emulator import BotAPIEmulator
from tests.wechat_emulator import CallbackRequest, WeChatEmulator, mp_request, wecom_request

TRIED: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()  # how the channels answered: "wechat 400", …

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    derandomize=True,  # the same examples on every run and machine: nothing flaky in CI
)

RTL = "مرحبا بالعالم שלום עולם \u202eevil\u202c"
EMOJI = "🔧💧🏠👨‍👩‍👧‍👦🇨🇳"
ODD = "\x00\x07\x1b[31m\r\n\t\u200b\u200d\ufeff\u2028\u2029\ufffd"

# Text as people (and scripts) really send it; no lone surrogates, which no channel delivers.
any_char = st.characters(exclude_categories=("Cs",))
hostile_text = st.one_of(
    st.text(any_char, max_size=200),
    st.sampled_from(["", " ", RTL, EMOJI, ODD, "/", "//", "/ ", "/start", "/lang", "0", "-1"]),
    st.builds(lambda a, b: a + b, st.sampled_from([RTL, EMOJI, ODD, "/"]), st.text(any_char)),
)
huge_text = st.builds(
    lambda piece, n: (piece * (n // max(len(piece), 1) + 1))[:n],
    st.text(any_char, min_size=1, max_size=20),
    st.integers(10_000, 100_000),
)

# Button values a forger might type into a crafted callback.
junk = st.text(any_char, max_size=40)
names = st.sampled_from(
    sorted(c.name for c in all_actions()) + [f.name for f in all_flows()] + ["", "x", "../", "act"]
)
forged_option = st.one_of(
    st.builds("act:{}:{}".format, names, junk),
    st.builds("act:t_accept:{}".format, st.integers(-(2**63), 2**63)),
    st.builds("flow:{}:{}".format, names, junk),
    st.builds("flow:{}".format, junk),
    st.builds("ctl:{} {}".format, st.sampled_from(["lang", "cancel", "x", ""]), junk),
    st.builds("unit:{}".format, st.one_of(junk, st.integers().map(str))),
    st.builds("={}".format, junk),
    junk,
)


@pytest.fixture(scope="module", autouse=True)
def report_total(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how many hostile inputs this module tried (the figure in the README)."""
    yield
    tried = ", ".join(f"{kind} {n}" for kind, n in sorted(TRIED.items()))
    answers = ", ".join(f"{kind}: {n}" for kind, n in sorted(OUTCOMES.items()))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nhostile inputs tried: {sum(TRIED.values())} ({tried})")
        print(f"channel answers: {answers}")


# ---- what must hold after every input --------------------------------------------------------


async def count(app: App, model: Any) -> int:
    async with app.db.transaction() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def assert_whole(app: App) -> None:
    """No ticket without its history; no stored update left unhandled."""
    async with app.db.transaction() as session:
        with_history = select(TicketEvent.ticket_id).distinct()
        orphans = (
            await session.exec(select(Ticket.number).where(col(Ticket.id).not_in(with_history)))
        ).all()
        assert orphans == [], f"tickets without history: {orphans}"
        unhandled = (
            await session.exec(
                select(InboundUpdate.external_id).where(col(InboundUpdate.handled_at).is_(None))
            )
        ).all()
        assert unhandled == [], f"updates stored but never handled: {unhandled}"


async def top(app: App) -> int:
    """The latest outbox id: what an input wrote comes after it."""
    async with app.db.transaction() as session:
        return int((await session.exec(select(func.max(Outbox.id)))).one() or 0)


def assert_polite(app: App, said: list[Said]) -> None:
    """An answer, and every message in it is one of ours from the catalogs."""
    assert said, "no answer at all"
    for message in said:
        key, locale = message.payload["key"], message.payload["locale"]
        assert app.catalogs.has(locale, key), key
        assert message.text.strip()


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite, and PostgreSQL, which enforces column lengths."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    db = request.getfixturevalue("pg_database")
    return str(db.engine.url.render_as_string(hide_password=False))


@pytest.fixture
async def any_demo_app(demo_url: str, clock: ManualClock, tmp_path: Path) -> AsyncIterator[App]:
    """The demo application (as `demo_app`) on each database."""
    app = await App.start(Settings(database_url=demo_url, data_dir=tmp_path), clock=clock)
    async with app.db.transaction() as session:
        await seed_demo(session, clock.now().astimezone(app.settings.tz).date(), app.settings.tz)
    try:
        yield app
    finally:
        await app.close()


# ---- the engine ------------------------------------------------------------------------------

# Where in a repair the input lands: the presses that lead there from the menu.
STEPS: list[list[tuple[str, str]]] = [
    [],
    [("say", "/repair")],
    [("say", "/repair"), ("press", "3栋2单元1201")],
    [("say", "/repair"), ("press", "3栋2单元1201"), ("press", "电路")],
    [("say", "/repair"), ("press", "3栋2单元1201"), ("press", "电路"), ("say", "插座没电")],
    [("say", "/fees")],
    [("say", "/my")],
]


async def walk_to(chat: Chat, step: int, english: bool = False) -> None:
    """From wherever the last example left the resident to `step` (then the language)."""
    await chat.say("/cancel")
    await chat.say("/lang zh_CN")
    for how, what in STEPS[step]:
        await (chat.say(what) if how == "say" else chat.press(what))
    if english:
        await chat.say("/lang en")


@BOUNDED
@given(text=hostile_text, step=st.integers(0, len(STEPS) - 1), english=st.booleans())
async def test_any_text_at_any_step_is_answered_politely(
    any_demo_app: App, text: str, step: int, english: bool
) -> None:
    demo_app = any_demo_app
    resident = Chat(demo_app, "resident")
    await walk_to(resident, step, english)
    assert_polite(demo_app, await resident.say(text))
    TRIED["engine text"] += 1
    await assert_whole(demo_app)


@settings(BOUNDED, max_examples=6)
@given(text=huge_text)
async def test_huge_messages_are_answered_and_a_huge_repair_is_kept_whole(
    any_demo_app: App, text: str
) -> None:
    demo_app = any_demo_app
    resident = Chat(demo_app, "resident")
    await walk_to(resident, 0)
    assert_polite(demo_app, await resident.say(text))
    await walk_to(resident, 3)
    assert_polite(demo_app, await resident.say(text))  # as a repair's description
    TRIED["engine huge"] += 2
    await assert_whole(demo_app)


@settings(BOUNDED, max_examples=100)
@given(option=forged_option, step=st.integers(0, len(STEPS) - 1))
async def test_forged_button_values_change_nothing_for_a_resident(
    any_demo_app: App, option: str, step: int
) -> None:
    demo_app = any_demo_app
    resident = Chat(demo_app, "resident")
    if await count(demo_app, Ticket) == 0:
        await file_repair(resident)
    await walk_to(resident, step)
    async with demo_app.db.transaction() as session:
        before = [(t.id, t.status, t.assignee_id) for t in (await session.exec(select(Ticket)))]
    audited = await count(demo_app, AuditLog)
    said = await resident.send(option=option)
    TRIED["forged button"] += 1
    if said:  # a stale value may be ignored quietly inside a flow's own step
        assert_polite(demo_app, said)
    async with demo_app.db.transaction() as session:
        after = [(t.id, t.status, t.assignee_id) for t in (await session.exec(select(Ticket)))]
    # A forged value may at most start one of the resident's own flows, never act as staff.
    assert [t for t in after if t in before or t[1] == "new"] == after
    assert after[: len(before)] == before
    assert await count(demo_app, AuditLog) == audited
    await assert_whole(demo_app)


# ---- Telegram: raw updates through the real aiogram dispatcher --------------------------------

_update_ids = itertools.count(1)


def tg_user(user_id: int = tg.RESIDENT) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "张伟", "language_code": "zh-hans"}


def tg_message(text: Any, chat: int = tg.RESIDENT, kind: str = "private") -> dict[str, Any]:
    return {
        "message_id": next(_update_ids),
        "date": 1_795_000_000,
        "chat": {"id": chat, "type": kind},
        "from": tg_user(),
        "text": text,
    }


def tg_callback(data: Any) -> dict[str, Any]:
    return {
        "id": str(next(_update_ids)),
        "from": tg_user(),
        "chat_instance": "ci",
        "data": data,
        "message": tg_message("菜单"),
    }


# Values of the wrong type, or of the right type and absurd.
odd_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(any_char, max_size=50),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def mangled(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`base` with one field, at any depth, dropped or replaced by an odd value."""
    paths = list(_paths(base))

    def apply(path: tuple[str, ...], drop: bool, value: Any) -> dict[str, Any]:
        update = json.loads(json.dumps(base))
        *parents, last = path
        node = update
        for key in parents:
            node = node[key]
        if drop:
            node.pop(last, None)
        else:
            node[last] = value
        return update

    return st.builds(apply, st.sampled_from(paths), st.booleans(), odd_value)


def _paths(node: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in node.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


def raw_update() -> st.SearchStrategy[dict[str, Any]]:
    message = st.builds(
        lambda text: {"message": tg_message(text)}, st.one_of(hostile_text, huge_text)
    )
    group = st.builds(
        lambda text: {"message": tg_message(text, tg.REPAIR_GROUP, "supergroup")}, hostile_text
    )
    button = st.builds(
        lambda data: {"callback_query": tg_callback(data)},
        st.one_of(forged_option, st.text(any_char, min_size=65, max_size=5000)),
    )
    broken = st.one_of(
        mangled({"message": tg_message("报修")}),
        mangled({"callback_query": tg_callback("x")}),
        st.dictionaries(
            st.sampled_from(["message", "callback_query", "edited_message", "x"]), odd_value
        ),
    )
    return st.one_of(message, group, button, broken)


@pytest.fixture
async def telegram_app(tmp_path: Path, clock: ManualClock) -> AsyncIterator[tuple[App, Any, Any]]:
    """The app with Telegram's update handling and a real Bot against the emulator."""
    emulator = BotAPIEmulator(tg.TOKEN)
    await emulator.start()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'tg.db'}",
        telegram_token=tg.TOKEN,
        telegram_api_url=emulator.base_url,
    )
    app = await App.start(settings, clock=clock)
    await tg.seed_telegram(app)
    bot = telegram.make_bot(settings)
    updates = telegram.Updates(app, bot, lambda: None, patient=False)
    try:
        yield app, bot, updates.dispatcher()
    finally:
        await bot.session.close()
        await app.close()
        await emulator.stop()


@pytest.mark.filterwarnings("ignore:Detected unknown update type")
@settings(BOUNDED, max_examples=150)
@given(body=raw_update())
async def test_malformed_and_hostile_telegram_updates(
    telegram_app: tuple[App, Any, Any], body: dict[str, Any]
) -> None:
    app, bot, dispatcher = telegram_app
    update_id = next(_update_ids)
    stored, sent, last = await count(app, InboundUpdate), await count(app, Outbox), await top(app)
    try:
        await dispatcher.feed_raw_update(bot, {"update_id": update_id, **body})
        refused = False
    except pydantic.ValidationError:
        # aiogram refuses an update that is not Telegram's shape before our code sees it.
        refused = True
    TRIED["telegram update"] += 1
    OUTCOMES["telegram refused by aiogram" if refused else "telegram handled"] += 1
    if refused:
        assert (await count(app, InboundUpdate), await count(app, Outbox)) == (stored, sent)
    async with app.db.transaction() as session:
        new = (await session.exec(select(Outbox).where(col(Outbox.id) > last))).all()
    for row in new:
        assert app.catalogs.has(row.payload["locale"], row.payload["key"]), row.payload
    await assert_whole(app)


# ---- WeChat `/wechat` and WeCom `/wecom`: XML from anyone -------------------------------------

DOCTYPES = [
    "<!DOCTYPE xml>",
    "<!doctype xml [<!ENTITY a 'b'>]>",
    "<! DOCTYPE xml SYSTEM 'http://example.com/x.dtd'>",
    "<!ENTITY % p SYSTEM 'file:///etc/passwd'>",
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
]
MSG_TYPES = ["text", "image", "voice", "video", "location", "link", "event", "", "<b>", "TEXT"]
EVENTS = ["subscribe", "unsubscribe", "SCAN", "CLICK", "VIEW", "LOCATION", "", "enter_agent"]


def message_xml(sender: str, msg_type: str, fields: dict[str, Any]) -> str:
    """A message as WeChat and WeCom write it, the values unescaped in CDATA (`]]>` breaks it)."""
    values = {"ToUserName": "gh_frontdesk", "FromUserName": sender, "CreateTime": 1795000000}
    values.update(MsgType=msg_type, **fields)
    parts = [f"<{name}><![CDATA[{value}]]></{name}>" for name, value in values.items()]
    return "<xml>" + "".join(parts) + "</xml>"


field_value = st.one_of(hostile_text, st.integers(-(2**70), 2**70).map(str), huge_text)
xml_fields = st.fixed_dictionaries(
    {},
    optional={
        "Content": field_value,
        "MsgId": st.one_of(st.integers(0, 2**70).map(str), field_value),
        "Event": st.one_of(st.sampled_from(EVENTS), field_value),
        "EventKey": field_value,
        "MediaId": field_value,
        "Recognition": field_value,
        "Location_X": field_value,
        "Label": field_value,
        "AgentID": st.one_of(st.just("1000002"), field_value),
    },
)


def xml_texts(sender: str) -> st.SearchStrategy[str]:
    """Messages well formed or not, with an entity or a DOCTYPE hidden somewhere in some."""
    message = st.builds(
        message_xml,
        st.one_of(st.just(sender), field_value),
        st.one_of(st.sampled_from(MSG_TYPES), field_value),
        xml_fields,
    )

    def hide(xml: str, markup: str, at: int) -> str:
        at = at % (len(xml) + 1)
        return xml[:at] + markup + xml[at:]

    # Well formed, signed, from a real sender: only the text is hostile (reaches the engine).
    plain = st.builds(
        message_xml,
        st.just(sender),
        st.just("text"),
        st.fixed_dictionaries(
            {"Content": st.one_of(hostile_text, huge_text), "MsgId": st.integers(1, 2**63 - 1)}
        ),
    )
    return st.one_of(
        plain,
        message,
        st.builds(hide, message, st.sampled_from(DOCTYPES), st.integers(0, 10_000)),
        st.builds(lambda xml, cut: xml[: cut % (len(xml) + 1)], message, st.integers()),
        st.builds(lambda xml: xml.replace("<Content>", "<Content><a>b</a><Content>", 1), message),
        st.builds(lambda xml: xml.replace("</xml>", "<Content>x</Content></xml>"), message),
        st.text(any_char, max_size=300),
    )


bodies = st.one_of(
    st.binary(max_size=2000),
    st.builds(lambda n: b"<xml>" + b"a" * n + b"</xml>", st.integers(MAX_BODY, MAX_BODY + 5000)),
)


@dataclass
class Callbacks:
    app: App
    client: TestClient
    wechat: wechat.WeChatCallback
    wecom: wecom.Callback

    async def post(self, path: str, request: CallbackRequest) -> tuple[int, str]:
        response = await self.client.post(path, params=request.params, data=request.body)
        await self.wecom.settle()
        await self.wechat.idle()
        return response.status, await response.text()


@pytest.fixture
async def callbacks(demo_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Callbacks]:
    """`/wechat` and `/wecom` on one test server, the APIs on the emulator."""
    emulator = WeChatEmulator()
    await emulator.start()
    app = await App.start(wc.settings_for(demo_url, emulator, tmp_path / "data"), clock=clock)
    await wc.seed_wecom(app)
    mp, desk = wechat.WeChatCallback(app), wecom.Callback(app)
    client = TestClient(TestServer(make_web_app([*mp.routes(), *desk.routes()])))
    await client.start_server()
    try:
        yield Callbacks(app, client, mp, desk)
    finally:
        await mp.idle()
        await client.close()
        await app.close()
        await emulator.stop()


async def assert_refused_or_answered(
    app: App, status: int, stored: int, sent: int, last: int
) -> None:
    """4xx and nothing stored, or 200 and everything written is one of our messages."""
    assert status in (200, 400, 403, 413), status
    if status != 200:
        assert (await count(app, InboundUpdate), await count(app, Outbox)) == (stored, sent)
    async with app.db.transaction() as session:
        new = (await session.exec(select(Outbox).where(col(Outbox.id) > last))).all()
    for row in new:
        assert app.catalogs.has(row.payload["locale"], row.payload["key"]), row.payload
    await assert_whole(app)


@settings(BOUNDED, max_examples=120)
@given(
    xml=xml_texts(wc.OPENID),
    raw=st.one_of(st.none(), bodies),
    forged=st.sampled_from([False, False, False, True]),
)
async def test_hostile_xml_to_wechat_is_refused_or_answered_politely(
    callbacks: Callbacks, xml: str, raw: bytes | None, forged: bool
) -> None:
    app = callbacks.app
    request = mp_request(xml, wc.MP_TOKEN, sign_token="guessed" if forged else None)
    if raw is not None:
        request = CallbackRequest(request.params, raw)
    before = (await count(app, InboundUpdate), await count(app, Outbox), await top(app))
    status, _ = await callbacks.post("/wechat", request)
    TRIED["wechat xml"] += 1
    OUTCOMES[f"wechat {status}"] += 1
    if forged:
        assert status == 403
    await assert_refused_or_answered(app, status, *before)


@settings(BOUNDED, max_examples=120)
@given(
    xml=xml_texts("WangShiFu"),
    envelope=st.one_of(st.none(), xml_texts("WangShiFu").map(str.encode), bodies),
    forged=st.sampled_from([False, False, False, True]),
)
async def test_hostile_xml_to_wecom_is_refused_or_answered_politely(
    callbacks: Callbacks, xml: str, envelope: bytes | None, forged: bool
) -> None:
    """The message inside the encryption is hostile, or the envelope around it is."""
    app = callbacks.app
    corp = app.settings.wecom_corp_id or ""
    request = wecom_request(xml, wc.TOKEN, wc.AES_KEY, corp, sign_token="x" if forged else None)
    if envelope is not None:
        request = CallbackRequest(request.params, envelope)
    before = (await count(app, InboundUpdate), await count(app, Outbox), await top(app))
    status, _ = await callbacks.post("/wecom", request)
    TRIED["wecom xml"] += 1
    OUTCOMES[f"wecom {status}"] += 1
    if forged:
        assert status in (400, 403, 413)  # a body too large is refused before it is read
    await assert_refused_or_answered(app, status, *before)
