"""The desk's web workspace in a real browser: the distribution's headless Chromium, driven
by Selenium through chromium-driver (both from Debian; `.ci/run` installs them when missing,
nothing is downloaded at run time), against the bot as `frontdesk run` serves it, with the
Telegram channel polling the Bot API emulator.

The desk signs in, filters the board, files a walk-in repair and sees its card reach the
Telegram repair group; the supervisor sees a Telegram photo of it as a thumbnail, accepts it
on the ticket's page and the card in the group changes; the work order prints; another
community's desk and a resident without a login get nothing. With FRONTDESK_SCREENSHOTS=DIR
the main pages are saved there as PNGs (docs/ holds the ones in the README).
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from bot import web
from bot.app import App
from bot.channels import telegram
from bot.channels.telegram_send import Pacer
from bot.http import serve_http
from bot.settings import Settings
from storage.models import Photo
from tests.telegram_emulator import BotAPIEmulator
from tests.test_telegram import (
    REPAIR_GROUP,
    TOKEN,
    TickingClock,
    free_port,
    seed_telegram,
    until,
)
from tests.webdesk import add_other_desk, latest_ticket, passwords

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
PASSWORD = "browser-password-7"
PHOTO = "AgACAgUAAxkBAAIC-dripping-tap"
START = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
T = TypeVar("T")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs chromium and chromedriver from the distribution (.ci/run installs them)",
)


class Browser:
    """Selenium's blocking calls, each run off the event loop that serves the pages."""

    def __init__(self, base: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1280,900",
            "--lang=zh-CN",
        ):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(options=options, service=Service(str(DRIVER)))
        self.base = base
        self.shots = os.environ.get("FRONTDESK_SCREENSHOTS")

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(call, *args)

    async def open(self, path: str) -> None:
        def opening() -> None:
            self.driver.get(self.base + path)
            self._loaded()

        await self.run(opening)

    def _loaded(self) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 15).until(
            lambda d: (
                d.execute_script("return document.readyState") == "complete"
                and d.find_elements("tag name", "body")
            )
        )

    async def text(self) -> str:
        def reading() -> str:
            self._loaded()
            return str(self.driver.find_element("tag name", "body").text)

        return await self.run(reading)

    async def url(self) -> str:
        return await self.run(lambda: self.driver.current_url)

    async def fill(self, fields: dict[str, str]) -> None:
        def typing() -> None:
            from selenium.webdriver.support.ui import Select

            self._loaded()
            for name, value in fields.items():
                element = self.driver.find_element("name", name)
                if element.tag_name == "select":
                    Select(element).select_by_value(value)
                elif element.get_attribute("type") == "radio":
                    self.driver.find_element(
                        "css selector", f'input[name="{name}"][value="{value}"]'
                    ).click()
                else:
                    element.clear()
                    element.send_keys(value)

        await self.run(typing)

    async def press(self, label: str) -> None:
        """Click the button whose text is `label` (the first such)."""

        def clicking() -> None:
            from selenium.common.exceptions import (
                StaleElementReferenceException,
                WebDriverException,
            )
            from selenium.webdriver.support.ui import WebDriverWait

            self._loaded()
            page = self.driver.find_element("tag name", "html")
            buttons = self.driver.find_elements("tag name", "button")
            found = [b for b in buttons if b.text.strip() == label]
            assert found, f"no button {label!r} among {[b.text for b in buttons]}"
            found[0].click()

            def gone(_: Any) -> bool:
                try:
                    page.is_enabled()
                except StaleElementReferenceException:
                    return True
                except WebDriverException as exc:  # Chromium may say so this way instead
                    if "does not belong to the document" in str(exc):
                        return True
                    raise
                return False

            # A form's answer is a new page: wait until the old one is gone and it is in.
            WebDriverWait(self.driver, 15).until(gone)
            self._loaded()

        await self.run(clicking)

    async def sign_in(self, login: str, password: str = PASSWORD) -> str:
        await self.open("/desk/signin")
        await self.fill({"login": login, "password": password})
        await self.press("登录")
        return await self.text()

    async def sign_out(self) -> None:
        await self.press("退出")

    async def shot(self, name: str) -> None:
        folder = self.shots
        if folder:

            def saving() -> None:
                Path(folder).mkdir(parents=True, exist_ok=True)
                self.driver.save_screenshot(str(Path(folder) / f"{name}.png"))

            await self.run(saving)

    def close(self) -> None:
        self.driver.quit()


def _a_jpeg() -> bytes:
    """A small real JPEG, as a phone's photo would be, only smaller."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


async def _staff_with_passwords(app: App) -> None:
    await passwords(app, "desk", "zhou", password=PASSWORD)
    await add_other_desk(app, password=PASSWORD)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[App, BotAPIEmulator, Browser]]:
    emulator = BotAPIEmulator(TOKEN, enforce_limits=False)
    await emulator.start()
    port = free_port()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'web.db'}",
        telegram_token=TOKEN,
        telegram_api_url=emulator.base_url,
        http_port=port,
        data_dir=tmp_path / "data",
    )
    app = await App.start(settings, clock=TickingClock(START))
    await seed_telegram(app)  # the demo, with the Telegram repair group
    await _staff_with_passwords(app)
    stop = asyncio.Event()
    fast = Pacer(0.0, 10_000, 60.0, 10_000, margin=0.0)
    mounted = {web.PREFIX: await web.desk_app(app)}
    tasks = [
        asyncio.create_task(telegram.serve(app, stop, pacer=fast)),
        asyncio.create_task(serve_http(app, [], stop, mounted)),
    ]
    browser: Browser | None = None
    try:
        await until(lambda: "getUpdates" in dict(emulator.calls), "the bot to start polling")
        browser = await asyncio.to_thread(Browser, f"http://127.0.0.1:{port}")
        yield app, emulator, browser
    finally:
        if browser is not None:
            await asyncio.to_thread(browser.close)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)
        await app.close()
        await emulator.stop()


async def test_the_desk_and_the_supervisor_at_work_in_a_browser(served) -> None:
    app, emulator, browser = served
    page = await browser.sign_in("desk", "not the password")
    assert "账号或密码不对" in page
    page = await browser.sign_in("desk")
    assert "工单看板" in page and "李敏" in page
    await browser.shot("signed-in-board")

    # A walk-in: the desk files the repair for a resident at the counter.
    await browser.open("/desk/intake")
    await browser.fill(
        {
            "via": "counter",
            "kind": "repair",
            "unit": "3号楼2单元1201",
            "description": "厨房水龙头一直滴水",
            "name": "张伟",
            "phone": "13800000001",
        }
    )
    await browser.press("登记")
    page = await browser.text()
    assert "报修请选择类别" in page  # refused, next to its field, nothing lost
    assert "厨房水龙头一直滴水" in await browser.run(
        lambda: browser.driver.find_element("name", "description").get_attribute("value")
    )
    await browser.shot("intake-refused")
    await browser.fill({"category": "water"})
    await browser.press("登记")
    assert "/desk/tickets/" in await browser.url()
    ticket = await latest_ticket(app)
    assert ticket is not None and ticket.channel == "counter"
    card = await until(
        lambda: [m for m in emulator.messages(REPAIR_GROUP) if ticket.number in (m.text or "")],
        "the card in the Telegram repair group",
    )
    assert "厨房水龙头一直滴水" in (card[-1].text or "") and "待接单" in (card[-1].text or "")

    # The board, filtered by the unit as people type it.
    await browser.open("/desk/board")
    await browser.fill({"unit": "3栋2单元1201", "status": "open"})
    await browser.press("筛选")
    page = await browser.text()
    assert ticket.number in page
    await browser.shot("board-filtered")
    await browser.fill({"unit": "9栋1单元101"})
    await browser.press("筛选")
    assert ticket.number not in await browser.text()
    await browser.press("清除")
    await browser.sign_out()

    # The resident's photo of it, kept by Telegram's file id: its thumbnail on the page,
    # fetched through the running bot.
    emulator.files[PHOTO] = await asyncio.to_thread(_a_jpeg)
    async with app.db.transaction() as s:
        s.add(Photo(ticket_id=ticket.id, channel="telegram", file_ref=PHOTO, at=app.clock.now()))

    # The supervisor accepts it on the page; the chat card changes.
    page = await browser.sign_in("zhou")
    await browser.open(f"/desk/tickets/{ticket.id}")
    page = await browser.text()
    assert "13800000001" in page and "厨房水龙头一直滴水" in page
    width = await until(
        lambda: browser.run(
            browser.driver.execute_script,
            "const i = document.querySelector('.photos img');"
            "return i && i.complete ? i.naturalWidth : 0",
        ),
        "the photo's thumbnail to show",
    )
    assert width == 64
    await browser.press("接单")
    page = await browser.text()
    assert "已接单" in page or "周主管" in page
    shown = await until(
        lambda: [
            m
            for m in emulator.messages(REPAIR_GROUP)
            if m.message_id == card[-1].message_id and "已接单" in (m.text or "")
        ],
        "the group's card edited",
    )
    assert shown[0].edited >= 1 and "周主管" in (shown[0].text or "")
    await browser.shot("ticket-accepted")

    await browser.open(f"/desk/tickets/{ticket.id}/print")
    page = await browser.text()
    assert "维修工作单" in page and ticket.number in page and "住户签字" in page
    await browser.shot("work-order")

    # The supervisor's other rooms: a unit found as people type it, the month's figures.
    await browser.open("/desk/units")
    await browser.fill({"q": "3号楼2单元1201"})
    await browser.press("查找")
    page = await browser.text()
    assert "3栋2单元1201" in page and ticket.number in page  # its page, with its tickets
    await browser.shot("unit")
    await browser.open("/desk/figures")
    page = await browser.text()
    assert "月度统计" in page
    await browser.shot("figures")
    await browser.open("/desk/gate")
    assert "今日门岗放行" in await browser.text()
    await browser.shot("gate")
    await browser.open("/desk/board")
    await browser.sign_out()

    # Another community's desk sees nothing of it; a resident has no login at all.
    page = await browser.sign_in("hyy-desk")
    assert "和悦园前台" in page and ticket.number not in page
    await browser.open(f"/desk/tickets/{ticket.id}")
    page = await browser.text()
    assert "看不到这张工单" in page and "厨房水龙头一直滴水" not in page
    await browser.sign_out()
    assert "账号或密码不对" in await browser.sign_in("resident")
