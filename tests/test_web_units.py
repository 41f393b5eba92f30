"""Units and people on the desk's web workspace (aiohttp's client against the real pages, on
the demo store): the roster search as people type a unit, a unit's page with its bills and
tickets, a binding request approved on the page (the resident told as from chat), an
invitation code issued and its slip printed, a payment recorded (a receipt number used
twice refused next to its field), a roster file imported with the command line's
line-by-line errors, and another community's desk seeing none of it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from handlers.core.i18n import LOCALES, load_po_dir
from handlers.people import add_staff
from handlers.rules.binding import code_key
from storage.models import (
    ArrearsCase,
    AuditLog,
    Binding,
    Community,
    InviteCode,
    Payment,
    Person,
    StaffMember,
    Unit,
)
from tests.conversations import file_repair
from tests.harness import Chat, texts
from tests.test_binding import CODE, bindings_of, request_binding
from tests.webdesk import add_other_desk, client, csrf, latest_ticket, passwords, sign_in

__all__ = ["client"]  # the fixture, from tests/webdesk.py

ROOT = Path(__file__).resolve().parent.parent


async def unit_id(app: Any, label: str, community: str = "XFL") -> int:
    async with app.db.transaction() as s:
        found = (
            await s.exec(
                select(Unit.id)
                .join(Community, col(Community.id) == col(Unit.community_id))
                .where(Unit.label == label, Community.code == community)
            )
        ).one()
    assert found is not None
    return found


async def web_staff_id(app: Any, login: str) -> int:
    async with app.db.transaction() as s:
        member = (
            await s.exec(
                select(StaffMember).where(
                    StaffMember.channel == "web", StaffMember.external_user_id == login
                )
            )
        ).one()
    assert member.id is not None
    return member.id


def results(page: str) -> str:
    """The units a search page lists (the form and the notes above repeat what was typed)."""
    table = page.split('<table class="units-found">', 1)
    return table[1].split("</table>", 1)[0] if len(table) > 1 else ""


async def search(client: TestClient, page: str, typed: str) -> aiohttp.ClientResponse:
    return await client.post("/desk/units", data={"csrf": csrf(page), "q": typed})


async def test_search_as_people_type_a_unit(client: TestClient, demo_app: Any) -> None:
    page = await (await sign_in(client, "desk")).text()
    assert 'href="/desk/units"' in page  # in the navigation
    page = await (await client.get("/desk/units")).text()
    assert "房号、住户姓名或电话" in page and 'for="q"' in page

    answer = await search(client, page, "3号楼2单元1201")  # as people say it: one unit
    unit = await unit_id(demo_app, "3栋2单元1201")
    assert str(answer.url).endswith(f"/desk/units/{unit}")
    assert "1201" not in str(answer.url) and "号楼" not in str(answer.url)
    found = await answer.text()
    assert "3栋2单元1201" in found and "张伟" in found and "李娜" in found

    answer = await search(client, page, "3-2-12O1")  # a near miss: did you mean
    listing = await answer.text()
    assert str(answer.url).endswith("/desk/units") and "您是不是要找" in listing
    assert f'href="/desk/units/{unit}"' in listing

    listing = await (await search(client, page, "王芳")).text()  # a resident's name
    assert "3栋2单元1202" in listing and "3栋2单元1201" not in listing
    listing = await (await search(client, page, "0000 0003")).text()  # part of a phone
    assert "3栋2单元1202" in listing
    listing = await (await search(client, page, "+86 138-0000-0003")).text()
    assert "3栋2单元1202" in listing
    listing = await (await search(client, page, "3栋2单元")).text()  # part of a label
    assert "3栋2单元1201" in listing and "3栋2单元1202" in listing
    listing = await (await search(client, page, "不存在的人")).text()
    assert "没有找到与「不存在的人」相符的房屋或住户" in listing
    # What was typed stays in the form (from the session, not the URL).
    assert 'value="不存在的人"' in await (await client.get("/desk/units")).text()


async def test_a_units_page_with_its_bills_tickets_and_arrears(
    client: TestClient, demo_app: Any
) -> None:
    resident = Chat(demo_app, "resident")
    await file_repair(resident)
    ticket = await latest_ticket(demo_app)
    assert ticket is not None
    await sign_in(client, "desk")
    page = await (await client.get(f"/desk/units/{ticket.unit_id}")).text()
    assert "3栋2单元1201" in page and "幸福里" in page
    assert "张伟" in page and "业主" in page and "家庭成员" in page and "花名册导入" in page
    assert "13800000001" in page  # the desk calls residents back
    assert f'href="/desk/tickets/{ticket.id}"' in page and ticket.number in page
    assert "2026年10月" in page and "已缴至" in page  # the bill statement
    assert "登记收款" in page and "发放邀请码" in page  # the desk acts for the unit

    arrears = await unit_id(demo_app, "2栋2单元1101")  # five months unpaid
    async with demo_app.db.transaction() as s:
        now = demo_app.clock.now()
        s.add(ArrearsCase(unit_id=arrears, step="letter", opened_at=now, step_at=now))
    page = await (await client.get(f"/desk/units/{arrears}")).text()
    assert "催缴进度：催缴函" in page and page.count("未缴") >= 5

    # A repair worker of the community sees the unit, its repairs only, phones masked,
    # and no forms to act with.
    async with demo_app.db.transaction() as s:
        await add_staff(
            s,
            channel="web",
            user_id="fixer",
            name="王师傅",
            department="repair",
            community_id=(await s.get(Unit, ticket.unit_id)).community_id,  # type: ignore[union-attr]
        )
    await passwords(demo_app, "fixer")
    client.session.cookie_jar.clear()
    await sign_in(client, "fixer")
    page = await (await client.get(f"/desk/units/{ticket.unit_id}")).text()
    assert "138****0001" in page and "13800000001" not in page
    assert ticket.number in page and "登记收款" not in page and "发放邀请码" not in page


async def test_a_binding_request_approved_on_the_page(client: TestClient, demo_app: Any) -> None:
    applicant = Chat(demo_app, "applicant")
    number = await request_binding(applicant)  # 王五, tenant of 3栋2单元1202
    await applicant.inbox()
    page = await (await sign_in(client, "desk")).text()
    assert "绑定申请" in (await (await client.get("/desk/units")).text())
    page = await (await client.get("/desk/bindings")).text()
    assert number in page and "王五" in page and "租户" in page
    assert "王芳（业主）、刘洋（租户）" in page  # who is on record already
    value = re.search(r'name="option" value="(act:bind_ok:\d+)"[^>]*>核实通过<', page)
    assert value, "the card's approve button"
    answer = await client.post(
        "/desk/say",
        data={"csrf": csrf(page), "option": value.group(1), "once": "b1", "back": "/desk/bindings"},
    )
    page = await answer.text()
    assert str(answer.url).endswith("/desk/bindings")
    assert "已通过（李敏）" in page  # the bot's answer: the card, decided
    assert "暂无待处理的绑定申请" in page
    told = texts(await applicant.inbox())
    assert "已通过" in told and "3栋2单元1202（租户）" in told  # as from the group's button
    desk_id = await web_staff_id(demo_app, "desk")
    assert await bindings_of(demo_app, "applicant") == [
        ("3栋2单元1202", "tenant", f"staff:{desk_id}")
    ]
    async with demo_app.db.transaction() as s:
        audit = (await s.exec(select(AuditLog).where(AuditLog.target == number))).all()
    assert [(a.action, a.actor) for a in audit] == [("bind_approve", f"staff:{desk_id}")]
    unit = await (await client.get(f"/desk/units/{await unit_id(demo_app, '3栋2单元1202')}")).text()
    assert "王五" in unit and "李敏 核实" in unit


async def test_an_invitation_code_issued_and_its_slip_printed(
    client: TestClient, demo_app: Any
) -> None:
    page = await (await sign_in(client, "desk")).text()
    unit = await unit_id(demo_app, "1栋2单元1502")
    page = await (await client.get(f"/desk/units/{unit}")).text()
    answer = await client.post(f"/desk/units/{unit}/invite", data={"csrf": csrf(page)})
    refused = await answer.text()
    assert answer.status == 400 and "请选择与房屋的关系" in refused  # next to its field
    assert 'aria-describedby="role-error"' in refused

    answer = await client.post(
        f"/desk/units/{unit}/invite", data={"csrf": csrf(page), "role": "member"}
    )
    slip = await answer.text()
    assert answer.status == 200 and "住户绑定邀请函" in slip
    assert "1栋2单元1502" in slip and "家庭成员" in slip and "有效期至" in slip
    assert '<img class="qr" src="data:image/png;base64,' in slip  # inline: no code in a URL
    assert "units_slip.css" in slip and "只显示这一次" in slip
    shown = re.search(r'<p class="code">([A-Z0-9]{4}) ([A-Z0-9]{4})</p>', slip)
    assert shown, "the code on the slip"
    code = shown.group(1) + shown.group(2)
    assert CODE.fullmatch(code) and code not in str(answer.url)
    async with demo_app.db.transaction() as s:
        invite = await s.get(InviteCode, code_key(code))
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "invite"))).all()
    assert invite is not None and invite.unit_id == unit and invite.role == "member"
    assert [a.actor for a in audit] == [f"staff:{await web_staff_id(demo_app, 'desk')}"]
    assert code not in str(audit[0].detail)
    page = await (await client.get(f"/desk/units/{unit}")).text()
    assert code not in page and code[:4] + " " + code[4:] not in page  # shown once only

    newcomer = Chat(demo_app, "newcomer")
    said = await newcomer.send(text=f"/start {code}", user_name="黄小强")  # from the slip
    assert "绑定成功" in texts(said) and "1栋2单元1502（家庭成员）" in texts(said)
    assert await bindings_of(demo_app, "newcomer") == [("1栋2单元1502", "member", "invite")]


async def test_a_payment_recorded_and_a_receipt_used_twice_refused(
    client: TestClient, demo_app: Any
) -> None:
    resident = Chat(demo_app, "resident")  # 张伟, owner of 3栋2单元1201, in chat
    await resident.say("你好")
    await resident.inbox()
    page = await (await sign_in(client, "desk")).text()
    unit = await unit_id(demo_app, "3栋2单元1201")
    page = await (await client.get(f"/desk/units/{unit}")).text()
    assert 'for="amount"' in page and 'for="receipt"' in page  # labels on every field

    answer = await client.post(
        f"/desk/units/{unit}/pay",
        data={"csrf": csrf(page), "amount": "五百", "receipt": "SJ20261126001"},
    )
    refused = await answer.text()
    assert answer.status == 400 and "金额「五百」无效" in refused
    assert 'value="SJ20261126001"' in refused  # nothing typed lost

    answer = await client.post(
        f"/desk/units/{unit}/pay",
        data={"csrf": csrf(page), "amount": "500", "receipt": "sj20261126001"},
    )
    page = await answer.text()
    assert str(answer.url).endswith(f"/desk/units/{unit}")
    assert "已登记" in page and "SJ20261126001" in page
    told = texts(await resident.inbox())
    assert "SJ20261126001" in told and "500" in told  # as after chat's /paid
    async with demo_app.db.transaction() as s:
        payment = (await s.exec(select(Payment).where(Payment.receipt == "SJ20261126001"))).one()
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "fee_paid"))).all()
    assert payment.unit_id == unit and str(payment.amount) == "500.00"
    assert len(audit) == 1

    answer = await client.post(
        f"/desk/units/{unit}/pay",
        data={"csrf": csrf(page), "amount": "320.50", "receipt": "SJ20261126001"},
    )
    refused = await answer.text()
    assert answer.status == 400
    error = re.search(r'<p class="field-error" id="receipt-error"[^>]*>([^<]+)</p>', refused)
    assert error and "票据号 SJ20261126001 已经登记过了" in error.group(1)  # next to its field
    assert 'value="320.50"' in refused and 'value="SJ20261126001"' in refused
    assert "已登记：" not in refused
    async with demo_app.db.transaction() as s:
        payments = (await s.exec(select(Payment).where(Payment.unit_id == unit))).all()
    assert len(payments) == 1
    assert await resident.inbox() == []


def roster_file(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8-sig")


async def upload(client: TestClient, page: str, kind: str, name: str, data: bytes) -> Any:
    form = aiohttp.FormData()
    form.add_field("csrf", csrf(page))
    form.add_field("kind", kind)
    form.add_field("file", io.BytesIO(data), filename=name, content_type="text/csv")
    return await client.post("/desk/units/import", data=form)


async def test_a_roster_file_imported_with_its_errors_listed_then_a_good_one(
    client: TestClient, demo_app: Any
) -> None:
    await sign_in(client, "desk")
    page = await (await client.get("/desk/units/import")).text()
    assert 'enctype="multipart/form-data"' in page and 'for="file"' in page
    bad = roster_file(
        [
            "小区代码,房号,姓名,手机号,关系",
            "XFL,3栋2单元1201,赵六,13900000061,家庭成员",
            "XFL,3栋2单元1201,钱七,12345,业主",
            "XFL,9栋9单元909,孙八,13900000063,租户",
            "HYY,1栋1单元102,李九,13900000064,租户",
        ]
    )
    answer = await upload(client, page, "residents", "住户.csv", bad)
    refused = await answer.text()
    assert answer.status == 400 and "未导入任何内容" in refused
    lines = re.findall(r"<li><code>([^<]+)</code></li>", refused)
    assert len(lines) == 3, lines
    assert lines[0].startswith("line 3, column 手机号:")  # as the command line says it
    assert lines[1].startswith("line 4, column 房号:") and "9栋9单元909" in lines[1]
    assert lines[2].startswith("line 5, column 小区代码:") and "among yours" in lines[2]
    assert 'value="residents" checked' in refused  # the choice kept
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Person).where(Person.name == "赵六"))).first() is None

    answer = await upload(client, page, "", "住户.txt", b"x")
    refused = await answer.text()
    assert answer.status == 400
    assert 'id="kind-error"' in refused and "只能导入 .csv 或 .xlsx 文件" in refused

    good = roster_file(
        ["小区代码,房号,姓名,手机号,关系", "XFL,3栋2单元1201,赵六,13900000061,家庭成员"]
    )
    answer = await upload(client, page, "residents", "住户.csv", good)
    done = await answer.text()
    assert answer.status == 200 and "已导入住户：新增 1" in done
    async with demo_app.db.transaction() as s:
        added = (
            await s.exec(
                select(Binding.role, Binding.verified_by)
                .join(Person, col(Person.id) == col(Binding.person_id))
                .where(Person.name == "赵六")
            )
        ).all()
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "roster_import"))).all()
    assert [tuple(row) for row in added] == [("member", "roster")]
    assert len(audit) == 1 and audit[0].detail["added"] == 1
    answer = await upload(client, page, "residents", "住户.csv", good)
    assert "新增 0" in await answer.text()  # the same file again adds nothing


async def test_another_communitys_desk_sees_none_of_xfls_units(
    client: TestClient, demo_app: Any
) -> None:
    applicant = Chat(demo_app, "applicant")
    number = await request_binding(applicant)
    await add_other_desk(demo_app)
    page = await (await sign_in(client, "hyy-desk")).text()
    xfl = await unit_id(demo_app, "3栋2单元1201")
    for typed in ("3栋2单元1201", "张伟", "13800000001", "幸福里"):
        answer = await search(client, page, typed)
        found = results(await answer.text())
        assert f'href="/desk/units/{xfl}"' not in found and "张伟" not in found, typed
        assert "3栋2单元1201" not in found and "幸福里" not in found, typed
    listing = await (await search(client, page, "1201")).text()
    assert "1栋2单元1201" in listing and "3栋2单元1201" not in listing  # HYY's own only
    answer = await client.get(f"/desk/units/{xfl}")
    assert answer.status == 404 and "张伟" not in await answer.text()
    for action, data in (("pay", {"amount": "100", "receipt": "SJ9999"}), ("invite", {})):
        answer = await client.post(
            f"/desk/units/{xfl}/{action}", data={"csrf": csrf(page), "role": "owner", **data}
        )
        assert answer.status == 404
    bindings = await (await client.get("/desk/bindings")).text()
    assert number not in bindings
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Payment).where(Payment.receipt == "SJ9999"))).first() is None
        assert (await s.exec(select(InviteCode).where(InviteCode.unit_id == xfl))).first() is None


def test_every_word_of_the_unit_pages_is_in_both_catalogs() -> None:
    used: set[str] = set()
    for path in (ROOT / "bot" / "web" / "templates").glob("units_*.html"):
        used |= set(re.findall(r"""\bt\(["']([a-z_]+(?:\.[a-z_0-9]+)+)["']""", path.read_text()))
    used |= {f"units.arrears.step.{s}" for s in ("reminder", "letter", "visit", "legal")}
    used |= {f"units.agreement.{k}" for k in ("dispute", "instalment")}
    used |= {f"units.import.kind.{k}" for k in ("units", "residents", "bills")}
    used |= {f"units.verified.{v}" for v in ("roster", "invite", "phone")}
    assert "units.search.label" in used
    for locale in LOCALES:
        messages = load_po_dir(ROOT / "locales", locale)
        assert sorted(key for key in used if key not in messages) == [], locale
