"""The desk's web workspace over HTTP (aiohttp's client against the real pages, mounted on
the listener's application as `frontdesk run` mounts them), on the demo store, on SQLite and
on PostgreSQL.

Signing in (wrong passwords slowed and audited), the board with its filters, a ticket's
page, a button pressed there going through the same handler as in chat (the group's card
edited, the resident told), CSRF, and the limits: another community's ticket, a department
that is not the viewer's. The same in a real browser: tests/test_web_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot import web
from storage.models import AuditLog, FeeAgreement, Outbox, StaffMember, Ticket, WebAccount
from tests.conversations import file_repair
from tests.harness import Chat
from tests.webdesk import (
    PASSWORD,
    _pg_demo_template,
    add_other_desk,
    add_web_staff,
    csrf,
    desk_app,
    latest_ticket,
    pg_demo_app,
    serving,
    sign_in,
)

# The fixtures from tests/webdesk.py: each test runs on SQLite and on PostgreSQL.
__all__ = ["_pg_demo_template", "desk_app", "pg_demo_app"]


@pytest.fixture
async def client(desk_app: Any) -> AsyncIterator[TestClient]:
    async with serving(desk_app) as test_client:
        yield test_client


async def test_signing_in_and_out(client: TestClient, desk_app: Any) -> None:
    answer = await client.get("/desk/board", allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == "/desk/signin"

    answer = await sign_in(client, "desk", "not-the-password")
    assert answer.status == 400
    assert "账号或密码不对" in await answer.text()
    answer = await sign_in(client, "desk")
    assert answer.status == 200 and str(answer.url).endswith("/desk/board")
    page = await answer.text()
    assert "工单看板" in page and "李敏" in page
    assert answer.headers["Cache-Control"] == "no-store"

    answer = await client.post("/desk/signout", data={"csrf": csrf(page)})
    assert str(answer.url).endswith("/desk/signin")
    assert (await client.get("/desk/board", allow_redirects=False)).status == 302

    async with desk_app.db.transaction() as s:
        actions = (await s.exec(select(AuditLog.action).where(AuditLog.actor == "web:desk"))).all()
    assert sorted(actions) == ["web_signin", "web_signin_failed"]  # no password in either


async def test_wrong_passwords_in_a_row_lock_the_login_a_while(
    client: TestClient, desk_app: Any
) -> None:
    for _ in range(3):
        assert (await sign_in(client, "zhou", "guess-guess-1")).status == 400
    answer = await sign_in(client, "zhou")  # the right one, but too soon
    assert answer.status == 400 and "错误次数太多" in await answer.text()
    async with desk_app.db.transaction() as s:
        account = await s.get(WebAccount, "zhou")
        assert account is not None and account.failures == 3
        account.locked_until = desk_app.clock.now()  # the wait is over
    assert (await sign_in(client, "zhou")).status == 200


async def test_a_form_without_its_token_is_refused(client: TestClient) -> None:
    await sign_in(client, "zhou")
    answer = await client.post("/desk/board", data={"status": "open"})
    assert answer.status == 403
    answer = await client.post("/desk/signin", data={"login": "zhou", "password": PASSWORD})
    assert answer.status == 403


async def test_the_board_filters_and_a_button_on_the_page_works_as_in_chat(
    client: TestClient, desk_app: Any
) -> None:
    resident = Chat(desk_app, "resident")
    await file_repair(resident)
    ticket = await latest_ticket(desk_app)
    assert ticket is not None and ticket.status == "new"

    page = await (await sign_in(client, "zhou")).text()
    assert ticket.number in page
    answer = await client.post(
        "/desk/board", data={"csrf": csrf(page), "unit": "3栋2单元1201", "status": "open"}
    )
    page = await answer.text()
    assert ticket.number in page and "3栋2单元1201" not in str(answer.url)  # not in a URL
    answer = await client.post("/desk/board", data={"csrf": csrf(page), "unit": "9栋"})
    assert ticket.number not in await answer.text()
    await client.post("/desk/board", data={"csrf": csrf(page), "clear": "1"})

    page = await (await client.get(f"/desk/tickets/{ticket.id}")).text()
    assert "客厅插座没电" in page and "13800000001" in page  # a supervisor calls back
    token = csrf(page)
    value = re.search(r'name="option" value="(act:[^"]+)">接单<', page)
    assert value, "the card's accept button"
    group = Chat(desk_app, "wang", chat_id="group:XFL:repair", kind="group")
    await group.inbox()
    await resident.inbox()
    answer = await client.post(
        "/desk/say",
        data={
            "csrf": token,
            "option": value.group(1),
            "once": "x1",
            "back": f"/desk/tickets/{ticket.id}",
        },
    )
    page = await answer.text()
    assert str(answer.url).endswith(f"/desk/tickets/{ticket.id}")
    async with desk_app.db.transaction() as s:
        accepted = await s.get(Ticket, ticket.id)
    assert accepted is not None and accepted.status == "accepted"
    assert "周主管" in page  # the history and the assignee
    card = [said for said in await group.inbox() if ticket.number in said.text]
    assert card and "已接单" in card[-1].text  # the group's card, edited as by a button
    told = "\n".join(said.text for said in await resident.inbox())
    assert f"您的工单 {ticket.number} 已由 周主管 接单" in told  # as from a group's button
    # The same form sent twice (a double click) is one press.
    await client.post(
        "/desk/say",
        data={"csrf": token, "option": value.group(1), "once": "x1", "back": "/desk/board"},
    )
    async with desk_app.db.transaction() as s:
        accepts = (
            await s.exec(
                select(AuditLog).where(
                    AuditLog.action == "accept", AuditLog.target == ticket.number
                )
            )
        ).all()
    assert len(accepts) == 1


async def test_other_communities_and_departments_stay_out_of_sight(
    client: TestClient, desk_app: Any
) -> None:
    resident = Chat(desk_app, "resident")
    await file_repair(resident)
    ticket = await latest_ticket(desk_app)
    assert ticket is not None
    await add_other_desk(desk_app)
    await add_web_staff(desk_app, "guard", "赵强", "security", "XFL")
    for login in ("hyy-desk", "guard"):
        client.session.cookie_jar.clear()
        page = await (await sign_in(client, login)).text()
        assert ticket.number not in page, login
        answer = await client.get(f"/desk/tickets/{ticket.id}")
        assert answer.status == 404 and ticket.description not in await answer.text()
    # Pressing the card's button anyway (a forged form) goes through chat's own check.
    page = await (await client.get("/desk/board")).text()
    await client.post(
        "/desk/say",
        data={"csrf": csrf(page), "option": f"act:t_accept:{ticket.id}", "once": "forged"},
    )
    async with desk_app.db.transaction() as s:
        still = await s.get(Ticket, ticket.id)
        said = (
            await s.exec(select(Outbox).where(Outbox.channel == "web", Outbox.chat_id == "guard"))
        ).all()
    assert still is not None and still.status == "new"
    assert said and "您没有权限" in said[-1].payload["text"]


async def test_a_walk_in_repair_filed_at_the_desk(client: TestClient, desk_app: Any) -> None:
    page = await (await sign_in(client, "desk")).text()
    form = await (await client.get("/desk/intake")).text()
    assert "登记来电、来访、来信" in form
    typed = {
        "csrf": csrf(page),
        "via": "counter",
        "kind": "repair",
        "unit": "3号楼2单元1201",  # as people say it
        "category": "",
        "description": "卫生间天花板渗水",
        "name": "张伟",
        "phone": "138-0000-0001",
    }
    answer = await client.post("/desk/intake", data=typed)
    refused = await answer.text()
    assert answer.status == 400
    assert "报修请选择类别" in refused  # next to its field
    assert "卫生间天花板渗水" in refused and "3号楼2单元1201" in refused  # nothing lost
    answer = await client.post("/desk/intake", data={**typed, "unit": "3栋2单元12O1"})
    assert "您是不是要找：3栋2单元1201" in await answer.text()

    resident = Chat(desk_app, "resident")
    group = Chat(desk_app, "wang", chat_id="group:XFL:repair", kind="group")
    await group.inbox()
    answer = await client.post("/desk/intake", data={**typed, "category": "water"})
    page = await answer.text()
    assert answer.status == 200 and "/desk/tickets/" in str(answer.url)
    ticket = await latest_ticket(desk_app)
    assert ticket is not None and ticket.description == "卫生间天花板渗水"
    assert ticket.channel == "counter" and ticket.details["via"] == "counter"
    assert ticket.contact_phone == "13800000001" and ticket.person_id is not None
    assert ticket.number.startswith("R-") and ticket.number in page
    cards = [said.text for said in await group.inbox()]
    assert any(ticket.number in text and "卫生间天花板渗水" in text for text in cards)
    told = "\n".join(said.text for said in await resident.inbox())
    assert f"客服中心已根据您的来访登记了报修，编号 {ticket.number}" in told

    sheet = await (await client.get(f"/desk/tickets/{ticket.id}/print?size=a5")).text()
    assert "维修工作单" in sheet and ticket.number in sheet and "住户签字" in sheet
    assert 'class="sheet a5"' in sheet


async def test_a_question_by_phone_from_a_caller_the_store_does_not_know(
    client: TestClient, desk_app: Any
) -> None:
    page = await (await sign_in(client, "desk")).text()
    answer = await client.post(
        "/desk/intake",
        data={
            "csrf": csrf(page),
            "via": "phone",
            "kind": "question",
            "unit": "",
            "description": "小区周末能不能办理停车证？",
            "name": "王先生",
            "phone": "13912345678",
        },
    )
    assert answer.status == 200
    async with desk_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).order_by(col(Ticket.id).desc()))).first()
        sent = (await s.exec(select(Outbox).where(col(Outbox.channel).in_(["phone"])))).all()
    assert ticket is not None and ticket.kind == "question" and ticket.channel == "phone"
    assert ticket.person_id is None and sent == []  # nothing to a chat that does not exist


async def test_a_disputed_bill_by_letter_pauses_the_reminders_and_tells_the_resident(
    client: TestClient, desk_app: Any
) -> None:
    page = await (await sign_in(client, "desk")).text()
    typed = {
        "csrf": csrf(page),
        "via": "letter",
        "kind": "fee",
        "unit": "",
        "description": "10月物业费按120平米收取，实际面积98.5平米",
        "name": "张伟",
        "phone": "13800000001",
    }
    assert "物业费异议" in await (await client.get("/desk/intake")).text()
    refused = await client.post("/desk/intake", data=typed)
    assert refused.status == 400 and "实际面积98.5平米" in await refused.text()  # unit needed
    resident = Chat(desk_app, "resident")
    await resident.inbox()
    answer = await client.post("/desk/intake", data={**typed, "unit": "3-2-1201"})
    assert answer.status == 200
    async with desk_app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).order_by(col(Ticket.id).desc()))).first()
        dispute = (await s.exec(select(FeeAgreement))).first()
    assert ticket is not None and ticket.kind == "fee" and ticket.number.startswith("F-")
    assert ticket.channel == "letter" and ticket.details["via"] == "letter"
    assert ticket.person_id is not None and ticket.unit_id is not None
    assert dispute is not None and dispute.ticket_id == ticket.id and dispute.kind == "dispute"
    assert ticket.number in "\n".join(said.text for said in await resident.inbox())


async def test_the_desk_answers_a_question_and_records_a_phone_revisit_on_the_page(
    client: TestClient, desk_app: Any
) -> None:
    resident = Chat(desk_app, "resident")
    await resident.say("/question")
    await resident.press("其他问题")
    await resident.say("请问小区什么时候统一清洗外墙？")
    await resident.press("确认提交")
    await resident.inbox()
    async with desk_app.db.transaction() as s:
        asked = (await s.exec(select(Ticket).where(Ticket.kind == "question"))).first()
    assert asked is not None and asked.status == "new"

    page = await (await sign_in(client, "desk")).text()
    page = await (await client.get(f"/desk/tickets/{asked.id}")).text()
    assert "答复住户" in page
    answer = await client.post(
        "/desk/say",
        data={
            "csrf": csrf(page),
            "command": f"/answer {asked.number}",
            "text": "下周一开始，为期三天，请关好窗户。",
            "once": "reply-1",
            "back": f"/desk/tickets/{asked.id}",
        },
    )
    page = await answer.text()
    told = "\n".join(said.text for said in await resident.inbox())
    assert "下周一开始，为期三天，请关好窗户。" in told and asked.number in told
    async with desk_app.db.transaction() as s:
        closed = await s.get(Ticket, asked.id)
    assert closed is not None and closed.status == "closed" and "答复住户" not in page

    # A finished repair whose resident never answered the revisit: the desk phones.
    await file_repair(resident)
    async with desk_app.db.transaction() as s:
        repair = (await s.exec(select(Ticket).where(Ticket.kind == "repair"))).first()
        assert repair is not None
        repair.status = "done"
    page = await (await client.get(f"/desk/tickets/{repair.id}")).text()
    take = re.search(r'name="option" value="(act:[^"]+)">我来回访<', page)
    assert take, "the phone revisit button"
    page = await (
        await client.post(
            "/desk/say",
            data={
                "csrf": csrf(page),
                "option": take.group(1),
                "once": "take-1",
                "back": f"/desk/tickets/{repair.id}",
            },
        )
    ).text()
    assert "13800000001" in page  # the number to call, in the desk's conversation
    assert "记录回访结果" in page


async def test_a_session_ends_after_a_working_day(client: TestClient, desk_app: Any) -> None:
    await sign_in(client, "zhou")
    assert (await client.get("/desk/board", allow_redirects=False)).status == 200
    desk_app.clock.advance(hours=web.desk.SESSION_HOURS + 1)
    answer = await client.get("/desk/board", allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == "/desk/signin"


async def test_a_staff_member_made_inactive_is_signed_out_at_the_next_click(
    client: TestClient, desk_app: Any
) -> None:
    await sign_in(client, "desk")
    async with desk_app.db.transaction() as s:
        for member in (await s.exec(select(StaffMember).where(StaffMember.channel == "web"))).all():
            if member.external_user_id == "desk":
                member.active = False
    answer = await client.get("/desk/board", allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == "/desk/signin"
    assert (await sign_in(client, "desk")).status == 400  # and cannot sign in again
