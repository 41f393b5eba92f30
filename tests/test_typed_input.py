"""Input people actually type: another request typed mid-flow, an unbound resident's own
flat, and messages that were routed wrong."""

from __future__ import annotations

from sqlmodel import select

from storage.models import DialogState, Ticket
from tests.harness import Chat, texts


async def state_of(app, user: str) -> DialogState:
    async with app.db.transaction() as s:
        found = await s.get(DialogState, ("console", user, user))
        assert found is not None
        return found


async def to_the_time_step(resident: Chat) -> None:
    await resident.say("/repair")
    await resident.press("3栋2单元1201")
    await resident.press("电路")
    await resident.say("客厅插座没电")
    said = await resident.press("跳过")
    assert "什么时间方便" in texts(said)


async def test_another_request_typed_at_a_step_is_offered_as_a_switch(demo_app):
    resident = Chat(demo_app, "resident")
    await to_the_time_step(resident)
    said = await resident.say("我要投诉：上周来修水管的师傅把地板划坏了")
    assert "是要投诉吗" in texts(said)
    said = await resident.press("是，改为投诉")
    assert "什么时候发生的" in texts(said)  # the complaint, with what happened filled in
    state = await state_of(demo_app, "resident")
    assert state.flow == "complaint" and "地板划坏" in state.answers["what"]


async def test_keeping_the_words_answers_the_step_and_nothing_is_lost(demo_app):
    resident = Chat(demo_app, "resident")
    await to_the_time_step(resident)
    await resident.say("投诉：先别管这个，周六上午来")
    said = await resident.press("不是")
    assert "怎么称呼" in texts(said)  # the next step
    state = await state_of(demo_app, "resident")
    assert state.flow == "repair" and state.answers["time"] == "投诉：先别管这个，周六上午来"
    assert state.answers["description"] == "客厅插座没电"


async def test_an_unbound_resident_is_told_how_to_bind_and_can_report_a_common_area(demo_app):
    stranger = Chat(demo_app, "stranger")
    said = await stranger.say("/repair")
    assert "还没有绑定房屋" in texts(said)
    labels = [b["label"] for b in said[-1].buttons]
    assert "先绑定我家" in labels and "小区公共区域" in labels
    said = await stranger.press("先绑定我家")
    assert (await state_of(demo_app, "stranger")).flow == "bind"

    await stranger.say("/repair")
    await stranger.press("小区公共区域")
    said = await stranger.say("3栋大堂")
    assert "哪一类问题" in texts(said)


async def test_messages_that_were_routed_wrong(demo_app):
    resident = Chat(demo_app, "resident")
    said = await resident.say("小区的电动车充电桩在哪里？怎么收费？")
    assert "停车" not in texts(said)  # not the parking answer: recorded for the desk
    await resident.press("确认提交")
    async with demo_app.db.transaction() as s:
        assert (await s.exec(select(Ticket.kind))).all() == ["question"]

    await resident.say("/cancel")
    said = await resident.say("the elevator in building 3 is making a grinding noise")
    assert (await state_of(demo_app, "resident")).flow == "repair"
    await resident.say("/cancel")
    await resident.say("我要投诉维修师傅，修了三次都没修好")
    assert (await state_of(demo_app, "resident")).flow == "complaint"
    await resident.say("/cancel")
    said = await resident.say("我的工单")  # the menu's own words: the /my list
    assert "您最近的 1 张工单" in texts(said)  # the question recorded above
    assert "失效" not in texts(said)
