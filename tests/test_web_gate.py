"""Today at the gate on the desk's web workspace (`/desk/gate`), over HTTP on the demo store.

A slip asked for in chat shows on the day's list; a guard (a `web` staff member of the
security department) checks its code on the page as `/slip <code>` checks it in chat and
lets the goods out with chat's own "used" handler: the same verdicts, the same ticket event
and audit entry, the applicant told as from chat. A code nobody issued, a desk clerk who
does not check codes in chat, and another community's staff are refused as in chat.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from storage.models import AuditLog, InboundUpdate, Outbox, ReleaseSlip, StaffMember, Ticket
from tests.harness import Chat, texts
from tests.test_slip import ask_for_slip, audited, events, the_slip
from tests.test_web_units import web_staff_id as staff_id
from tests.webdesk import add_web_staff, csrf, serving, sign_in


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Any, monkeypatch: Any) -> None:
    """QR images go to data/slips/ under the working directory: keep them in tmp."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def client(demo_app: Any) -> AsyncIterator[TestClient]:
    await add_web_staff(demo_app, "guard", "赵强", "security", "XFL")
    async with serving(demo_app) as test_client:
        yield test_client


def verdict(page: str) -> str:
    found = re.search(r'<p class="headline">([^<]+)</p>', page)
    return found.group(1) if found else ""


def use_button(page: str) -> dict[str, str] | None:
    form = re.search(r'action="/desk/gate/use">(.*?)</form>', page, re.S)
    if form is None:
        return None
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(1)))


async def test_a_slip_asked_for_in_chat_is_checked_and_let_out_on_the_gate_page(
    client: TestClient, demo_app: Any
) -> None:
    resident = Chat(demo_app, "resident")
    await ask_for_slip(resident, day="今天")
    slip = await the_slip(demo_app)
    assert slip.status == "approved"
    await resident.inbox()

    page = await (await sign_in(client, "guard")).text()
    assert 'href="/desk/gate"' in page and 'href="/desk/figures"' in page  # in the nav
    answer = await client.get("/desk/gate")
    page = await answer.text()
    assert answer.status == 200 and "今天的放行条（1）" in page
    assert slip.code in page and "3栋2单元1201" in page and "沙发 1张、冰箱 1台" in page
    assert 'class="state valid">有效<' in page
    assert '<label for="code">放行码</label>' in page  # the field has its label

    # As scanned from the QR code, in small letters: read as chat reads it.
    answer = await client.post(
        "/desk/gate", data={"csrf": csrf(page), "code": f"fdslip:{slip.code.lower()}"}
    )
    page = await answer.text()
    assert answer.status == 200 and slip.code not in str(answer.url)  # never in a URL
    assert verdict(page) == "有效，可以放行"
    assert "有效：今日可放行" in page and "浙A12345" in page and "张伟" in page
    assert "13800000001" not in page  # the phone masked, as on the security group's card
    button = use_button(page)
    assert button is not None and button["slip"] == str(slip.id)

    answer = await client.post("/desk/gate/use", data=button)
    page = await answer.text()
    assert answer.status == 200 and verdict(page) == "已放行"
    assert f"放行条 {slip.code} 已标记为已使用" in page
    used = await the_slip(demo_app)
    async with demo_app.db.transaction() as s:
        guard = (
            await s.exec(select(StaffMember).where(StaffMember.external_user_id == "guard"))
        ).one()
        ticket = await s.get(Ticket, slip.ticket_id)
    assert used.status == "used" and used.used_at == demo_app.clock.now()
    assert used.checked_by == f"staff:{guard.id}"
    assert ticket is not None and ticket.status == "done"
    # The same record as the guard's button in chat, and the applicant told the same way.
    assert await events(demo_app, slip) == ["created", "auto_approved", "used"]
    assert await audited(demo_app, slip.code) == ["slip_auto_approved", "slip_used"]
    assert "已在门岗核验放行" in texts(await resident.inbox())
    assert 'class="state used">已放行<' in page

    # Checked again, or let out again (a second click): refused, as in chat.
    answer = await client.post("/desk/gate", data={"csrf": csrf(page), "code": slip.code})
    page = await answer.text()
    assert verdict(page) == "已使用，不能放行" and "不能重复使用" in page
    assert use_button(page) is None
    answer = await client.post("/desk/gate/use", data=button)  # the same form: one press
    page = await answer.text()
    assert verdict(page) == "已使用，不能放行" and "不能重复使用" in page
    answer = await client.post("/desk/gate/use", data={**button, "once": "later"})
    page = await answer.text()
    assert verdict(page) == "不能放行" and "不能重复使用" in page
    assert await audited(demo_app, slip.code) == ["slip_auto_approved", "slip_used"]


async def kept_messages(app: Any, channel: str, login: str) -> list[InboundUpdate]:
    """What the store kept of a chat's (or a web login's) messages, in order."""
    async with app.db.transaction() as s:
        found = await s.exec(
            select(InboundUpdate)
            .where(InboundUpdate.channel == channel, InboundUpdate.chat_id == login)
            .order_by(col(InboundUpdate.id))
        )
        return list(found.all())


async def test_a_check_on_the_page_is_kept_as_a_guards_check_in_chat_is(
    client: TestClient, demo_app: Any
) -> None:
    await ask_for_slip(Chat(demo_app, "resident"), day="今天")
    slip = await the_slip(demo_app)
    said = await Chat(demo_app, "zhao").say(f"/slip {slip.code}")  # the guard in chat
    assert "有效" in texts(said)
    in_chat = await kept_messages(demo_app, "console", "zhao")

    page = await (await sign_in(client, "guard")).text()
    page = await (await client.get("/desk/gate")).text()
    page = await (
        await client.post("/desk/gate", data={"csrf": csrf(page), "code": slip.code})
    ).text()
    button = use_button(page)
    assert button is not None
    demo_app.clock.advance(minutes=2)  # the goods are looked over
    await client.post("/desk/gate/use", data=button)
    await client.post("/desk/gate/use", data=button)  # a double click: one press

    on_page = await kept_messages(demo_app, "web", "guard")
    assert [m.payload.get("text") for m in on_page] == [in_chat[-1].payload["text"], None]
    assert on_page[1].payload["option"] == said[-1].button("确认放行")  # chat's "used" button
    checked_at = demo_app.clock.now() - timedelta(minutes=2)
    assert [m.received_at for m in on_page] == [checked_at, demo_app.clock.now()]
    assert all(m.handled_at is not None for m in on_page)
    assert set(in_chat[-1].payload) <= set(on_page[0].payload)  # kept alike, and who it was
    assert on_page[0].payload["user_name"] == "赵强"
    used = await the_slip(demo_app)
    guard = await staff_id(demo_app, "guard")
    assert (used.status, used.used_at, used.checked_by) == (
        "used",
        demo_app.clock.now(),
        f"staff:{guard}",
    )
    async with demo_app.db.transaction() as s:
        entry = (await s.exec(select(AuditLog).where(AuditLog.action == "slip_used"))).one()
        answers = (
            await s.exec(select(Outbox).where(Outbox.channel == "web", Outbox.chat_id == "guard"))
        ).all()
    assert (entry.actor, entry.target, entry.at) == (f"staff:{guard}", slip.code, used.used_at)
    # The bot's answers to the guard are kept as in chat, shown on the page already.
    assert [a.payload["key"] for a in answers] == ["slip.check", "slip.use.done"]
    assert all(a.sent_at is not None for a in answers)


async def test_an_unknown_code_is_refused_next_to_the_field_and_kept(
    client: TestClient, demo_app: Any
) -> None:
    page = await (await sign_in(client, "guard")).text()
    answer = await client.post("/desk/gate", data={"csrf": csrf(page), "code": " zzzzzz "})
    page = await answer.text()
    assert answer.status == 404
    assert re.search(r'id="code-error" role="alert">没有找到放行码 ZZZZZZ', page)
    assert 'value="zzzzzz"' in page and 'aria-invalid="true"' in page  # nothing lost
    assert verdict(page) == ""
    answer = await client.post("/desk/gate", data={"csrf": csrf(page), "code": "  "})
    assert answer.status == 400 and "请输入放行码" in await answer.text()
    # Without the form's token: refused before anything is looked up.
    assert (await client.post("/desk/gate", data={"code": "ZZZZZZ"})).status == 403


async def test_a_slip_of_another_day_is_not_on_today_s_list_and_not_yet_valid(
    client: TestClient, demo_app: Any
) -> None:
    await ask_for_slip(Chat(demo_app, "resident"), day="明天")
    slip = await the_slip(demo_app)
    page = await (await sign_in(client, "zhou")).text()  # a supervisor checks too, as in chat
    page = await (await client.get("/desk/gate")).text()
    assert "今天没有放行条" in page and slip.code not in page
    answer = await client.post("/desk/gate", data={"csrf": csrf(page), "code": slip.code})
    page = await answer.text()
    assert verdict(page) == "未到日期，不能放行" and "还没到日期" in page
    assert use_button(page) is None


async def test_the_service_desk_sees_the_day_but_does_not_check_codes(
    client: TestClient, demo_app: Any
) -> None:
    await ask_for_slip(Chat(demo_app, "resident"), day="今天")
    slip = await the_slip(demo_app)
    page = await (await sign_in(client, "desk")).text()
    page = await (await client.get("/desk/gate")).text()
    assert "3栋2单元1201" in page and slip.code in page  # the desk decides slips
    assert 'name="code"' not in page and "秩序维护部" in page  # but checks none, as in chat
    answer = await client.post("/desk/gate", data={"csrf": csrf(page), "code": slip.code})
    assert answer.status == 403 and "没有权限" in await answer.text()
    # A forged "used" form goes through chat's own check.
    answer = await client.post("/desk/gate/use", data={"csrf": csrf(page), "slip": str(slip.id)})
    assert "没有权限" in await answer.text()
    assert (await the_slip(demo_app)).status == "approved"


async def test_another_community_sees_none_of_xfl_s_slips(
    client: TestClient, demo_app: Any
) -> None:
    await ask_for_slip(Chat(demo_app, "resident"), day="今天")
    slip = await the_slip(demo_app)
    await add_web_staff(demo_app, "hyy-desk", "和悦园前台", "service", "HYY")
    await add_web_staff(demo_app, "hyy-guard", "和悦园保安", "security", "HYY")
    for login in ("hyy-desk", "hyy-guard"):
        client.session.cookie_jar.clear()
        await sign_in(client, login)
        page = await (await client.get("/desk/gate")).text()
        assert "今天没有放行条" in page, login
        assert slip.code not in page and "3栋2单元1201" not in page, login
    # HYY's guard is told there is no such code, as chat tells them: another community's.
    answer = await client.post("/desk/gate", data={"csrf": csrf(page), "code": slip.code})
    page = await answer.text()
    assert answer.status == 404 and f"没有找到放行码 {slip.code}" in page
    assert "3栋2单元1201" not in page
    answer = await client.post("/desk/gate/use", data={"csrf": csrf(page), "slip": str(slip.id)})
    assert "没有权限" in await answer.text()
    async with demo_app.db.transaction() as s:
        kept = await s.get(ReleaseSlip, slip.id)
    assert kept is not None and kept.status == "approved"
