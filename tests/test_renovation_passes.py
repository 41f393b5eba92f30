"""Workers' temporary passes (临时出入证) of an approved renovation, checked at the gate.

The demo (today 2026-11-26 09:00, Thursday, Asia/Shanghai): 张伟 ("resident") owns
3栋2单元1201; 赵强 ("zhao") is security, 李敏 ("li") the service desk. The permitted
hours are the company's `08:00-12:00,14:00-18:00`. A renovation approved for
11-27..12-10 is inserted with its passes issued (`renovation_passes.issue`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from handlers import renovation_passes
from handlers.core.context import Context
from handlers.core.messages import Incoming, Reply
from handlers.people import add_staff
from storage.models import (
    AuditLog,
    ChatIdentity,
    Community,
    Person,
    Renovation,
    StaffMember,
    Unit,
    WorkerPass,
)
from tests.harness import Chat, texts

UNIT = "3栋2单元1201"
SECURITY = "group:XFL:security"
STARTS, ENDS = date(2026, 11, 27), date(2026, 12, 10)
WORKERS = [("陈师傅", "13911112222"), ("刘师傅", "13933334444")]


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    """QR images go to data/passes/ under the working directory: keep them in tmp."""
    monkeypatch.chdir(tmp_path)


async def staff_context(s: Any, app: Any, user_id: str) -> Context:
    staff = list(
        (await s.exec(select(StaffMember).where(StaffMember.external_user_id == user_id))).all()
    )
    msg = Incoming(channel="console", chat_id=user_id, user_id=user_id, at=app.clock.now())
    return Context(
        session=s,
        settings=app.settings,
        catalogs=app.catalogs,
        clock=app.clock,
        msg=msg,
        identity=ChatIdentity(channel="console", external_user_id=user_id),
        locale="zh_CN",
        staff=staff,
    )


async def approved_renovation(
    app: Any,
    unit: str = UNIT,
    workers: list[tuple[str, str]] | None = None,
    starts: date = STARTS,
    ends: date = ENDS,
) -> tuple[int, list[str], list[Reply]]:
    """An approved renovation of `unit` (applied for by the unit's owner) and its passes,
    issued by the desk; returns its id, the codes and what the applicant is sent."""
    async with app.db.transaction() as s:
        found = (await s.exec(select(Unit).where(Unit.label == unit))).first()
        assert found is not None
        owner = (await s.exec(select(Person).where(Person.name == "张伟"))).one()
        renovation = Renovation(
            community_id=found.community_id,
            unit_id=found.id,
            applicant_id=owner.id if unit == UNIT else None,
            status="approved",
            starts=starts,
            ends=ends,
            contractor="匠心装饰",
            foreman="陈工",
            foreman_phone="13955556666",
            workers=2,
            permit_number="SG-XFL-0001",
            fee=Decimal("300"),
            submitted_at=app.clock.now(),
            decided_at=app.clock.now(),
        )
        s.add(renovation)
        await s.flush()
        ctx = await staff_context(s, app, "li")
        passes, replies = await renovation_passes.issue(ctx, renovation, workers or WORKERS)
        assert renovation.id is not None
        return renovation.id, [p.code for p in passes], replies


async def pass_of(app: Any, code: str) -> WorkerPass:
    async with app.db.transaction() as s:
        return (await s.exec(select(WorkerPass).where(WorkerPass.code == code))).one()


async def audited(app: Any, code: str) -> list[str]:
    async with app.db.transaction() as s:
        rows = await s.exec(
            select(AuditLog).where(AuditLog.target == code).order_by(col(AuditLog.id))
        )
        return [a.action for a in rows.all()]


def at(app: Any, day: date, hour: int, minute: int = 0) -> None:
    app.clock.set(datetime(day.year, day.month, day.day, hour, minute, tzinfo=app.settings.tz))


def is_png(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89PNG\r\n\x1a\n"


async def test_issued_passes_reach_the_applicant_with_codes_and_qr_images(demo_app):
    renovation_id, codes, replies = await approved_renovation(demo_app)
    assert len(codes) == 2 and len(set(codes)) == 2
    assert all(len(c) == 8 and c.isalnum() and c.isupper() for c in codes)
    passes = [await pass_of(demo_app, c) for c in codes]
    assert [(p.name, p.valid_from, p.valid_to, p.status) for p in passes] == [
        ("陈师傅", STARTS, ENDS, "active"),
        ("刘师傅", STARTS, ENDS, "active"),
    ]
    # The applicant is not the desk writing: the codes go to 张伟's own chats.
    assert {r.to.chat_id for r in replies if r.to} == {"resident"}
    assert replies[0].key == "renopass.issued" and replies[0].params["count"] == 2
    images = [r.photo for r in replies if r.photo]
    assert len(images) == 2
    for image, code in zip(images, codes, strict=True):
        assert Path(image).name == f"{code}.png"
        assert is_png(image)
    async with demo_app.db.transaction() as s:
        issued = (
            await s.exec(select(AuditLog).where(AuditLog.action == "renovation_passes_issued"))
        ).one()
    assert issued.detail["codes"] == codes and issued.detail["renovation_id"] == renovation_id


async def test_the_guard_lets_a_worker_in_only_on_the_days_and_in_the_hours(demo_app):
    _, (code, _other), _ = await approved_renovation(demo_app)
    guard = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")

    # Today is the day before the work starts.
    said = await guard.say(f"/pass {code}")
    assert "陈师傅" in texts(said) and UNIT in texts(said) and "匠心装饰" in texts(said)
    assert "未到施工开始日期" in texts(said) and not said[-1].buttons
    assert "13911112222" not in texts(said)  # the worker's phone masked

    # The first day, 09:30: let in, with who and when.
    at(demo_app, STARTS, 9, 30)
    said = await guard.say(f"/pass fdpass:{code.lower()}")  # as scanned, small letters
    assert "有效，可以放行" in texts(said) and "08:00-12:00,14:00-18:00" in texts(said)
    said = await guard.press("放行")
    assert "已放行 陈师傅" in texts(said)

    # Lunch time and the evening are outside the permitted hours.
    at(demo_app, STARTS, 12, 30)
    assert "不在允许施工时间内" in texts(await guard.say(f"/pass {code}"))
    at(demo_app, STARTS, 19, 0)
    assert "不在允许施工时间内" in texts(await guard.say(f"/pass {code}"))
    # A button pressed later is checked again.
    at(demo_app, STARTS, 11, 55)
    await guard.say(f"/pass {code}")
    at(demo_app, STARTS, 12, 5)
    assert "不在允许施工时间内" in texts(await guard.press("放行"))
    # After the last day.
    at(demo_app, date(2026, 12, 11), 9, 0)
    assert "已过施工结束日期" in texts(await guard.say(f"/pass {code}"))

    found = await pass_of(demo_app, code)
    async with demo_app.db.transaction() as s:
        zhao = (
            await s.exec(select(StaffMember).where(StaffMember.external_user_id == "zhao"))
        ).one()
    assert [(c["outcome"], c["reason"]) for c in found.checks] == [
        ("refused", "not_yet"),
        ("let_in", ""),
        ("refused", "out_of_hours"),
        ("refused", "out_of_hours"),
        ("refused", "out_of_hours"),
        ("refused", "expired"),
    ]
    assert found.checks[1]["by"] == f"staff:{zhao.id}"
    assert datetime.fromisoformat(found.checks[1]["at"]) == datetime(
        2026, 11, 27, 1, 30, tzinfo=UTC
    )
    assert (await audited(demo_app, code)).count("renovation_pass_let_in") == 1
    assert (await audited(demo_app, code)).count("renovation_pass_refused") == 5


async def test_a_pass_is_void_once_expired_or_the_renovation_is_no_longer_approved(demo_app):
    renovation_id, (first, second), _ = await approved_renovation(demo_app)
    guard = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    at(demo_app, STARTS, 10, 0)
    async with demo_app.db.transaction() as s:
        renovation = await s.get(Renovation, renovation_id)
        assert renovation is not None
        renovation.status = "cancelled"
        s.add(renovation)
    assert "装修已不在批准状态" in texts(await guard.say(f"/pass {first}"))
    async with demo_app.db.transaction() as s:
        renovation = await s.get(Renovation, renovation_id)
        assert renovation is not None
        renovation.status = "approved"
        s.add(renovation)
        ctx = await staff_context(s, demo_app, "li")
        await renovation_passes.expire(ctx, renovation)
    assert (await pass_of(demo_app, second)).status == "expired"
    said = await guard.say(f"/pass {second}")
    assert "已过期" in texts(said) and "出入证已失效" in texts(said)
    assert await audited(demo_app, "SG-XFL-0001") == [
        "renovation_passes_issued",
        "renovation_passes_expired",
    ]


async def test_who_may_check_a_pass(demo_app):
    _, (code, _other), _ = await approved_renovation(demo_app)
    at(demo_app, STARTS, 10, 0)
    # No such pass: said politely.
    guard = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    assert "没有找到出入证 ZZZZ2222" in texts(await guard.say("/pass ZZZZ2222"))
    assert "门岗核验装修临时出入证" in texts(await guard.say("/pass"))
    # A resident cannot check passes.
    said = await Chat(demo_app, "resident").say(f"/pass {code}")
    assert "没有权限" in texts(said) and "陈师傅" not in texts(said)
    # The desk may (it stands in at the gate).
    assert "有效，可以放行" in texts(await Chat(demo_app, "li").say(f"/pass {code}"))
    # Another community's guard and a cleaner of this one may not.
    async with demo_app.db.transaction() as s:
        other = (await s.exec(select(Community).where(Community.code == "HYY"))).one()
        xfl = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        await add_staff(
            s,
            channel="console",
            user_id="hyyguard",
            name="孙保安",
            department="security",
            community_id=other.id,
        )
        await add_staff(
            s,
            channel="console",
            user_id="cleaner",
            name="钱阿姨",
            department="cleaning",
            community_id=xfl.id,
        )
    said = await Chat(demo_app, "hyyguard").say(f"/pass {code}")
    assert "没有找到出入证" in texts(said) and "陈师傅" not in texts(said)
    said = await Chat(demo_app, "cleaner").say(f"/pass {code}")
    assert "没有权限" in texts(said) and "陈师傅" not in texts(said)
    assert (await pass_of(demo_app, code)).checks == []  # only the guard's checks count


# ---- on the desk's gate page ---------------------------------------------------------------


def _headline(page: str) -> str:
    import re

    found = re.search(r'<p class="headline">([^<]+)</p>', page)
    return found.group(1) if found else ""


def _let_in_button(page: str) -> dict[str, str] | None:
    import re

    form = re.search(r'action="/desk/gate/letin">(.*?)</form>', page, re.S)
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(1))) if form else None


async def test_a_pass_is_checked_and_its_holder_let_in_on_the_gate_page(demo_app):
    from tests.webdesk import add_web_staff, csrf, serving, sign_in

    _, (code, _other), _ = await approved_renovation(demo_app)
    await add_web_staff(demo_app, "guard", "赵强", "security", "XFL")
    await add_web_staff(demo_app, "hyyguard", "孙保安", "security", "HYY")
    async with serving(demo_app) as client:
        page = await (await sign_in(client, "guard")).text()
        page = await (await client.get("/desk/gate")).text()
        assert "装修施工人员" not in page  # none expected the day before
        # The day before the work: refused with the reason, and kept as refused once.
        answer = await client.post("/desk/gate", data={"csrf": csrf(page), "code": code})
        page = await answer.text()
        assert answer.status == 200 and _headline(page) == "不予放行"
        assert "未到施工开始日期" in page and "匠心装饰" in page and UNIT in page
        assert _let_in_button(page) is None
        assert [c["reason"] for c in (await pass_of(demo_app, code)).checks] == ["not_yet"]

        at(demo_app, STARTS, 13, 0)  # the lunch break (signed in again: a day later)
        await sign_in(client, "guard")
        page = await (await client.get("/desk/gate")).text()
        page = await (
            await client.post("/desk/gate", data={"csrf": csrf(page), "code": code})
        ).text()
        assert "不在允许施工时间内" in page and _let_in_button(page) is None

        at(demo_app, STARTS, 14, 30)
        await sign_in(client, "guard")
        page = await (await client.get("/desk/gate")).text()
        assert "今天可进场的装修施工人员（2）" in page and "刘师傅" in page and code in page
        page = await (
            await client.post("/desk/gate", data={"csrf": csrf(page), "code": f"FDPASS:{code}"})
        ).text()
        assert _headline(page) == "临时出入证有效" and "陈师傅" in page
        button = _let_in_button(page)
        assert button is not None
        page = await (await client.post("/desk/gate/letin", data=button)).text()
        assert _headline(page) == "已放行" and "已放行 陈师傅" in page
        await client.post("/desk/gate/letin", data=button)  # a double click: one entry
        found = await pass_of(demo_app, code)
        async with demo_app.db.transaction() as s:
            guard = (
                await s.exec(
                    select(StaffMember).where(
                        StaffMember.external_user_id == "guard", StaffMember.channel == "web"
                    )
                )
            ).one()
        assert [(c["outcome"], c["reason"]) for c in found.checks] == [
            ("refused", "not_yet"),
            ("refused", "out_of_hours"),
            ("let_in", ""),
        ]
        assert found.checks[-1]["by"] == f"staff:{guard.id}"

    async with serving(demo_app) as client:
        page = await (await sign_in(client, "hyyguard")).text()
        at(demo_app, STARTS, 15, 0)
        await sign_in(client, "hyyguard")
        page = await (await client.get("/desk/gate")).text()
        assert code not in page  # another community's workers are not listed
        answer = await client.post("/desk/gate", data={"csrf": csrf(page), "code": code})
        assert answer.status == 404 and "没有找到出入证" in await answer.text()


async def test_the_desk_takes_a_workers_pass_back(demo_app):
    _, (first, second), _ = await approved_renovation(demo_app)
    at(demo_app, STARTS, 10, 0)
    resident = Chat(demo_app, "resident")
    await resident.inbox()
    guard = Chat(demo_app, "zhao", chat_id=SECURITY, kind="group")
    assert "没有权限" in texts(await Chat(demo_app, "zhao").say(f"/pass 收回 {first}"))
    said = await Chat(demo_app, "li").say(f"/pass 收回 {first.lower()}")
    assert f"已收回 陈师傅 的临时出入证 {first}" in texts(said)
    assert "已被物业收回" in texts(await resident.inbox())
    assert "已被物业收回" in texts(await guard.inbox())
    said = await guard.say(f"/pass {first}")
    assert "已收回" in texts(said) and "出入证已失效" in texts(said)
    assert "无需收回" in texts(await Chat(demo_app, "li").say(f"/pass revoke {first}"))
    assert "有效，可以放行" in texts(await guard.say(f"/pass {second}"))
    assert "renovation_pass_revoked" in await audited(demo_app, first)
