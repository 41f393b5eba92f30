"""The monthly report's chart is Chinese on any machine, and an empty month says so.

The font is Noto Sans SC from the `pylopdf-fonts-zh-cn` package the project depends on,
so a fresh machine with no Chinese font installed (this one, CI's) draws the same chart.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from matplotlib import font_manager
from matplotlib.text import Text

from handlers import report, stats
from handlers.core.i18n import Catalogs
from handlers.documents.chart import cjk_font, draw_chart
from handlers.rules.stats import parse_period
from storage import tickets
from storage.db import Database
from tests.conversations import ask_report
from tests.factories import make_community
from tests.harness import Chat, texts

TZ = ZoneInfo("Asia/Shanghai")
HAN = re.compile(r"[\u4e00-\u9fff]")


def at(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ)


async def month_data(db: Database, tmp_path: Path, month: str, tickets_on: list[int]) -> tuple:
    """幸福里's figures for `month` with a repair on each of the days listed."""
    async with db.transaction() as session:
        community = await make_community(session)
        for day in tickets_on:
            await tickets.create_ticket(
                session, community_id=community.id, kind="repair", department="repair",
                actor="system", now=at(day, 10), tz=TZ, category="water",
            )  # fmt: skip
    catalogs = Catalogs.load("zh_CN", TZ)
    period = parse_period(month, at(28, 12).date(), TZ)
    async with db.transaction() as session:
        data, files = await report.build_report(
            session,
            catalogs=catalogs,
            locale="zh_CN",
            found=stats.Audience((community.id,), "幸福里", "XFL"),
            period=period,
            now=at(28, 12),
            tz=TZ,
            out_dir=tmp_path,
        )
    return data, files, lambda key, **params: catalogs.text("zh_CN", key, params)


def is_png(path: str | Path) -> bool:
    return Path(path).read_bytes()[:4] == b"\x89PNG"


def drawn(figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


def family(path: str | Path) -> str:
    return str(font_manager.FontProperties(fname=str(path)).get_name())


def test_the_chinese_font_comes_from_the_package_not_the_machine():
    from pylopdf_fonts_zh_cn import sans_path

    assert cjk_font() == "Noto Sans SC"
    registered = {Path(f.fname) for f in font_manager.fontManager.ttflist}
    assert sans_path() in registered  # the dependency's file, added in memory
    assert not any(Path.home() in p.parents for p in registered if p == sans_path())


async def test_the_chart_is_drawn_in_chinese_with_no_missing_glyphs(sqlite_database, tmp_path):
    data, files, label = await month_data(sqlite_database, tmp_path, "2026-11", [3, 3, 17])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = draw_chart(data, label, tmp_path / "chart.png", cjk_font())
    # matplotlib warns "Glyph … missing from font(s) …" for every character it draws as a box
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []
    words = [t.get_text() for t in drawn(figure)]
    assert "幸福里 2026-11 工单月报" in words and "每日新建工单" in words
    assert "报修按类别" in words and "水管/漏水" in words and "新建工单" in words
    chinese = [t for t in drawn(figure) if HAN.search(t.get_text())]
    assert len(chinese) >= 10
    for text in chinese:
        assert family(font_manager.findfont(text.get_fontproperties())) == "Noto Sans SC"
    assert is_png(tmp_path / "chart.png") and is_png(files.chart)


async def test_an_empty_month_says_so_in_words(sqlite_database, tmp_path):
    data, _, label = await month_data(sqlite_database, tmp_path, "2026-09", [3])
    assert data.figures.total == 0
    figure = draw_chart(data, label, tmp_path / "empty.png", cjk_font())
    assert figure.axes == []  # no empty axes running from -0.04 to 0.04
    words = [t.get_text() for t in drawn(figure)]
    assert "2026-09 暂无工单" in words and "幸福里 2026-09 工单月报" in words


async def test_the_report_of_an_empty_month_in_chat(demo_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    zhou = Chat(demo_app, "zhou")
    said = await ask_report(demo_app, zhou, "/report 2026-10")
    assert "幸福里 在 2026年10月1日 至 2026年10月31日 期间没有新建工单" in said[0].text
    assert "新建工单：0 单" not in texts(said)
    assert is_png(said[1].payload["photo"])  # the chart, saying so
    await zhou.say("/lang en")
    said = await ask_report(demo_app, zhou, "/report 2026-10")
    assert "No tickets were created in 幸福里 from Oct 1, 2026 to Oct 31, 2026" in said[0].text
