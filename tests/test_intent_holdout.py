"""Free text at the menu, scored on messages that were never used to tune anything.

These 59 resident messages were written before this round of keyword changes (emergencies,
request phrases, routing fixes) and are kept apart from tests/test_intent.py's tuning table:
they measure, they are not tuned on. The score is printed; the test holds the floor measured
when they were added, and that no message starts a flow it does not belong to except an
emergency that went to the (urgent) repair flow instead of the short path.
"""

from __future__ import annotations

from sqlmodel import col, select

from storage.models import DialogState, Outbox
from tests.harness import Chat

# (message, where it should go: a flow, "my", "bind", "emergency", or "none" for the menu)
HELD_OUT = [
    ("卫生间马桶一直在响，水箱好像关不住", "repair"),
    ("我家阳台的晾衣架摇不下来了，能派人看看吗", "repair"),
    ("厨房灯闪个不停", "repair"),
    ("the kitchen tap won't stop dripping", "repair"),
    ("bedroom window handle broke off", "repair"),
    ("防盗门的锁芯好像坏了，钥匙拧不动", "repair"),
    ("楼道的声控灯不亮好几天了", "repair"),
    ("Building 5 hallway light is out", "repair"),
    ("空调外机支架有点松，怕掉下去", "repair"),
    ("家里网线插口没反应", "repair"),
    ("楼下商铺天天放音乐到半夜，能不能管一管", "complaint"),
    ("保安晚上在岗亭睡觉，外人随便进", "complaint"),
    ("I want to complain about the cleaner leaving rubbish in the stairwell", "complaint"),
    ("物业收停车费也不给发票，太不合理了", "complaint"),
    ("隔壁装修早上七点就开始电钻", "complaint"),
    ("我要投诉：上周报修的师傅到现在都没来", "complaint"),
    ("the security guard was rude to my mother", "complaint"),
    ("小区里有人遛狗不拴绳，孩子被吓哭了", "complaint"),
    ("我家物业费交到哪个月了", "fee"),
    ("how much do I owe for management fees", "fee"),
    ("上个月的物业费我交了没有", "fee"),
    ("能不能帮我算一下这个季度要交多少钱", "fee"),
    ("物业费能分期交吗", "fee"),
    ("周六要搬家，需要开个放行条", "slip"),
    ("I need a pass to move a sofa out this weekend", "slip"),
    ("要把旧冰箱拉出小区，怎么办手续", "slip"),
    ("明天有货车来拉家具", "slip"),
    ("客服中心周末上班吗", "question"),
    ("小区可以养大型犬吗", "question"),
    ("装修需要办什么手续", "question"),
    ("what are the office hours", "question"),
    ("快递一般放在哪里", "question"),
    ("外来车辆停车怎么收费", "question"),
    ("小区的游泳池什么时候开放", "question"),
    ("我上次报的维修怎么样了", "my"),
    ("check my tickets", "my"),
    ("我的投诉有人处理吗", "my"),
    ("我刚买的房子，怎么绑定", "bind"),
    ("how do I link my flat", "bind"),
    ("救命，电梯卡在5楼了，我们三个人出不来", "emergency"),
    ("楼道里有很浓的烟味，好像哪里着火了", "emergency"),
    ("厨房一股煤气味，很重", "emergency"),
    ("水管爆了，家里都淹了", "emergency"),
    ("someone is stuck in the lift in building 2", "emergency"),
    ("there's smoke coming from the basement", "emergency"),
    ("整栋楼突然停电了，电梯也停了", "emergency"),
    ("有个陌生人在撬隔壁的门", "emergency"),
    ("卫生间天花板一直往下滴水，地上全是水", "emergency"),
    ("my ceiling is leaking badly and water is everywhere", "emergency"),
    ("插座冒火花了，吓死了", "emergency"),
    ("你好", "none"),
    ("谢谢", "none"),
    ("在吗", "none"),
    ("ok", "none"),
    ("？？？", "none"),
    ("停车场几点关门", "question"),
    ("电梯按钮按了没反应", "repair"),
    ("你们物业电话一直打不通，什么态度", "complaint"),
    ("明天小区停水吗", "question"),
]
PREFIXES = {
    "repair": "repair",
    "complaint": "complaint",
    "fee": "fee",
    "slip": "slip",
    "question": "question",
    "my": "my",
    "binding": "bind",
    "emergency": "emergency",
}
FLOOR = 0.85  # 52 of 59 when the set was added (40 of 59 before this round's changes)


async def where_it_went(app, text: str) -> str | None:
    async with app.db.transaction() as s:
        state = await s.get(DialogState, ("console", "resident", "resident"))
        if state is not None:
            await s.delete(state)
        last = (await s.exec(select(Outbox.id).order_by(col(Outbox.id).desc()))).first() or 0
    await Chat(app, "resident").say(text)
    async with app.db.transaction() as s:
        rows = (await s.exec(select(Outbox).where(col(Outbox.id) > last))).all()
    for row in rows:
        head = str(row.payload.get("key", "")).split(".")[0]
        if row.chat_id == "resident" and head in PREFIXES:
            return PREFIXES[head]
    return None


async def test_messages_never_tuned_on_reach_the_right_flow(demo_app):
    right, wrong = 0, []
    for text, wanted in HELD_OUT:
        got = await where_it_went(demo_app, text)
        if got == wanted or (wanted == "none" and got is None):
            right += 1
        elif got is not None and not (wanted == "emergency" and got == "repair"):
            wrong.append((text, wanted, got))
    score = right / len(HELD_OUT)
    print(f"\nheld-out routing: {right}/{len(HELD_OUT)} = {score:.0%}")
    assert score >= FLOOR
    assert wrong == []  # a miss goes to the menu, never to another flow
