"""Conversations several tests need: a resident files a repair, staff finish it."""

from __future__ import annotations

from sqlmodel import select

from bot.app import App
from dialogs.registry import all_jobs
from storage.models import ChatIdentity, Person
from tests.harness import Chat, Said


async def file_repair(
    resident: Chat, category: str = "电路", text: str = "客厅插座没电", unit: str = "3栋2单元1201"
) -> None:
    """The demo resident 张伟 reports a repair, keeping the name and phone on record."""
    await resident.say("/repair")
    await resident.press(unit)
    await resident.press(category)
    await resident.say(text)
    await resident.press("跳过")
    await resident.press("明天上午")
    await resident.press("张伟")
    await resident.press("13800000001")
    await resident.press("确认提交")


def repair_group(app: App, user: str) -> Chat:
    return Chat(app, user, chat_id="group:XFL:repair", kind="group")


async def finish_repair(app: App, amount: str | None = "30", note: str = "更换了插座") -> None:
    """王师傅 accepts, starts and finishes the latest repair card (paid work asks an amount)."""
    group = repair_group(app, "wang")
    await group.inbox()
    await group.press("接单")
    await group.press("开始处理")
    await group.press("完成")
    await group.say(note)
    await group.press("跳过")
    if amount is not None:
        await group.say(amount)
    await group.press("确认提交")


async def chat_as(app: App, user_id: str, name: str, locale: str | None = None) -> Chat:
    """A console chat bound to the demo resident called `name`."""
    async with app.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.name == name))).one()
        s.add(
            ChatIdentity(
                channel="console",
                external_user_id=user_id,
                person_id=person.id,
                display_name=name,
                locale=locale,
            )
        )
    return Chat(app, user_id)


async def ask_report(app: App, chat: Chat, text: str) -> list[Said]:
    """A supervisor's `/report …`: answered at once that it is coming, then the figures,
    the chart and the workbook arrive from its job (run here as the worker would)."""
    said = await chat.say(text)
    if [s.payload.get("key") for s in said] != ["supervisor.report.coming"]:
        return said  # refused: a bad month, no permission
    await app.engine.run_jobs(all_jobs())
    return await chat.inbox()
