"""The benchmarks keep working: a small load through the inbound and WeChat benchmarks.

Not timed (figures depend on the machine and belong in bench/RESULTS.md): this checks
that the pipeline the benchmark drives still files every repair, that the emulator in its
own process sees every update acknowledged and answered, and that the floors run.
"""

from __future__ import annotations

from bench import inbound, wechat
from bench.common import sqlite_database

RESIDENTS = 4


async def test_the_inbound_benchmark_runs_on_a_small_load() -> None:
    async with sqlite_database() as db:
        script = await inbound.seed(db, RESIDENTS)
        assert len(script) == RESIDENTS * len(inbound.repair_script(1))
        plain = await inbound.plain_loop(db, script)
    assert plain > 0
    floor = await inbound.echo_floor(script)
    assert len(floor.acked) == len(script) and floor.rate > 0

    async with sqlite_database() as db:
        found = await inbound.pipeline(db, RESIDENTS, 0)  # checks every repair was filed
    assert len(found.acked) == len(found.replied) == len(script)
    # Every update was answered in its chat after it was released, and acknowledged.
    assert all(r <= a for r, a in zip(found.released, found.acked, strict=True))
    assert all(r <= a for r, a in zip(found.released, found.replied, strict=True))
    assert found.reply_latency(99) >= found.reply_latency(50) > 0


async def test_the_wechat_burst_benchmark_runs_on_a_small_load() -> None:
    async with sqlite_database() as db:
        url = db.engine.url.render_as_string(hide_password=False)
        seconds, stored, passive = await wechat.burst(url, 10)
    assert len(seconds) == 10 and stored == 10 and passive == 10
    assert max(seconds) < wechat.LIMIT
