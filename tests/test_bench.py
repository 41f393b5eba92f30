"""The benchmarks keep working: a small load through the inbound and WeChat benchmarks.

Not timed (figures depend on the machine and belong in bench/RESULTS.md): this checks
that the pipeline the benchmark drives still files every repair, that the emulator in its
own process sees every update acknowledged and answered, and that the floors run.
"""

from __future__ import annotations

from bench import inbound, memory, wechat
from bench.common import Section, sqlite_database

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


async def test_the_memory_benchmark_runs_frontdesk_itself_on_a_small_load() -> None:
    # `frontdesk run` in its own process, polling the emulator; `measure` fails unless
    # every conversation, the copied ones too, stands exactly where its answers put it.
    residents, wave = 400, 10
    found = await memory.measure(residents, wave, settle=0.5, at_rest=False)
    assert found.steps == memory.expected(residents, wave)
    assert sum(found.steps.values()) == residents
    assert [phase.updates for phase in found.phases] == [0, wave, wave, wave, 2 * wave]
    assert found.calls["sendMessage"] >= 5 * wave  # every answer was answered
    assert 0 < found.baseline <= found.peak
    assert all(phase.after <= found.peak for phase in found.phases)
    section = Section("memory")
    memory.describe(section, found)
    assert len(section.targets) == 1
