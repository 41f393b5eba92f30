"""The key register and key loans (钥匙借用) through the real engine, on the demo store.

The demo (today 2026-11-26 09:00, a Thursday): 李敏 ("li") is 幸福里's service desk, 王师傅
("wang") a repair technician, 赵强 ("zhao") security, 周主管 ("zhou") the supervisor; 张伟
("resident") owns 3栋2单元1201, 刘洋 ("tenant") rents 3栋2单元1202.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from dialogs.registry import all_sweeps
from handlers.rules import keys as rules
from storage.models import AuditLog, KeyLoan, OfficeKey
from tests.harness import Chat, texts

TZ = ZoneInfo("Asia/Shanghai")
SERVICE = "group:XFL:service"


async def sweep(app) -> None:
    for check in all_sweeps():
        await app.engine.sweep(check)


async def test_a_common_key_lent_to_a_technician_and_given_back(demo_app):
    app = demo_app
    desk = Chat(app, "li")
    said = texts(await desk.say("/keys add 天台门钥匙 公共 柜A-12"))
    assert "已登记钥匙 #1" in said and "柜A-12" in said, said
    said = texts(await desk.say("/lend 柜A-12 王师傅 until 18:00"))
    assert "已借出 #1 天台门钥匙" in said and "王师傅" in said and "18:00" in said, said
    listing = texts(await desk.say("/keys"))
    assert "借出 1" in listing and "借出：王师傅" in listing, listing
    said = texts(await desk.press("已归还"))
    assert "已归还 #1 天台门钥匙：王师傅" in said and "李敏 接收" in said, said
    assert "在库" in texts(await desk.say("/keys"))
