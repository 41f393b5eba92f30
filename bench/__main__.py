"""Run the benchmarks and write bench/RESULTS.md: `python -m bench [--quick] [parts…]`.

Parts: inbound, workers, wechat, delivery, history, scale, memory (all by default, in that
order).
`--quick` runs each on a smaller load to check the benchmark itself works; its figures are
not results.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import time
from datetime import datetime
from pathlib import Path

from bench.common import Section, machine

PARTS = ("inbound", "workers", "wechat", "delivery", "history", "scale", "memory")
RESULTS = Path(__file__).with_name("RESULTS.md")


async def run(parts: list[str], quick: bool) -> list[Section]:
    sections: list[Section] = []
    for part in parts:
        module = importlib.import_module(f"bench.{part}")
        started = time.monotonic()
        print(f"== {part}", flush=True)
        found = await module.run(quick=quick)
        sections.extend(found if isinstance(found, list) else [found])
        print(f"== {part}: {time.monotonic() - started:.0f} s", flush=True)
    return sections


def write(sections: list[Section], quick: bool, seconds: float, path: Path) -> None:
    met = [t for s in sections for t in s.targets]
    head = [
        "# Front Desk benchmarks",
        "",
        f"Measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} on {machine()}.",
        f"Command: `.venv/bin/python -m bench{' --quick' if quick else ''}` "
        f"({seconds / 60:.0f} min). Ratios compare runs made side by side in this one run.",
        "",
        f"Targets met: {sum(ok for _, ok in met)} of {len(met)}.",
        "",
    ]
    if quick:
        head += ["**Quick run: small loads, not results.**", ""]
    path.write_text("\n".join(head) + "\n".join(s.markdown() for s in sections), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("parts", nargs="*", help=f"any of {', '.join(PARTS)} (all)")
    parser.add_argument("--quick", action="store_true", help="small loads, to check the bench")
    parser.add_argument("--out", type=Path, default=None, help="where to write (RESULTS.md)")
    args = parser.parse_args()
    parts = args.parts or list(PARTS)
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}; choose from {PARTS}")
    started = time.monotonic()
    sections = asyncio.run(run(parts, args.quick))
    out = args.out or (RESULTS if not args.quick and parts == list(PARTS) else None)
    if out is None:
        out = Path("/tmp") / f"frontdesk-bench-{'-'.join(parts)}.md"
    write(sections, args.quick, time.monotonic() - started, out)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
