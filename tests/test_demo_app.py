"""The demo store is usable from the first message: a bound resident reaches their unit."""

from __future__ import annotations

from tests.harness import Chat, texts


async def test_demo_resident_sees_their_unit(demo_app):
    resident = Chat(demo_app, "resident")
    said = await resident.say("/repair")
    assert "3栋2单元1201" in texts(said) or any(
        "3栋2单元1201" in b["label"] for s in said for b in s.buttons
    )
