"""It installs like a Python package: the wheel alone gives a bot that speaks Chinese.

The wheel is built from a copy of the source tree (nothing is written into the
repository), installed into a fresh virtual environment without the repository on the
path, and run from an empty folder as a newcomer would: `frontdesk seed-demo`, then a
conversation piped into `frontdesk chat`. A wheel without the catalogs answers with raw
keys (`dialog.menu`); one without the migrations cannot even create its store.

The fresh environment gets its dependencies from the test environment through a `.pth`
line, which adds that folder to the path without running its `.pth` files, so the
editable install of this repository is not picked up there: `bot` comes from the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RAW_KEY = re.compile(r"\b[a-z][a-z_]*\.[a-z_]+(\.[a-z_]+)*\b")


def packages() -> list[str]:
    """The top-level folders the wheel is built from, as pyproject.toml names them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").split(".")[0] for pattern in patterns})


def run(*args: str | Path, cwd: Path, script: str = "", **env: str) -> str:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FRONTDESK_") and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    environ.update(PYTHONNOUSERSITE="1", PYTHONIOENCODING="utf-8", **env)
    done = subprocess.run(
        [str(a) for a in args],
        input=script,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=environ,
        timeout=600,
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python, site-packages) of a fresh environment with only the wheel installed."""
    base = tmp_path_factory.mktemp("install")
    source = base / "src"
    for name in packages():
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", source,
        cwd=base)  # fmt: skip
    (wheel,) = (base / "dist").glob("frontdesk-*.whl")

    venv = base / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=base).strip())  # fmt: skip
    run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, wheel,
        cwd=base)  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "test-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python, site


def test_the_wheel_holds_the_catalogs_and_the_migrations(installed: tuple[Path, Path]):
    _, site = installed
    for locale in ("zh_CN", "en"):
        shipped = {p.name for p in (site / "locales" / locale / "LC_MESSAGES").glob("*.po")}
        assert shipped == {p.name for p in (ROOT / "locales" / locale / "LC_MESSAGES").glob("*.po")}
    versions = {p.name for p in (site / "storage" / "migrations" / "versions").glob("*.py")}
    assert versions == {p.name for p in (ROOT / "storage" / "migrations" / "versions").glob("*.py")}
    assert (site / "storage" / "migrations" / "env.py").is_file()


def test_a_newcomer_gets_a_chinese_conversation_from_the_installed_bot(
    installed: tuple[Path, Path], tmp_path: Path
):
    python, site = installed
    frontdesk = site / "bin" / "frontdesk"  # the console script the wheel installed
    where = run(
        python, "-c",
        "import bot, handlers.core.i18n as i, handlers.documents.chart as r; "
        "print(bot.__file__); print(i.locales_dir()); print(r.cjk_font())",
        cwd=tmp_path,
    ).splitlines()  # fmt: skip
    assert Path(where[0]).is_relative_to(site) and Path(where[1]) == site / "locales"
    assert where[2] == "Noto Sans SC"  # the report's chart font, from a dependency

    seeded = run(python, frontdesk, "seed-demo", "--no-history", cwd=tmp_path)
    assert "demo data ready: 2 communities, 26 units" in seeded
    assert (tmp_path / "frontdesk.db").is_file()  # the default store, in the newcomer's folder

    out = run(python, frontdesk, "chat", cwd=tmp_path, script="/start\n报修\n1\n")
    lines = out.splitlines()
    assert "bot> 您好，这里是幸福里物业客服中心，很高兴为您服务。" in lines
    assert "报修" in out and "bot> 请问需要维修的是哪里？" in out
    assert "3栋2单元1201" in out
    bot_lines = [line for line in lines if not line.startswith("you> ")]
    assert not [line for line in bot_lines if RAW_KEY.search(line)], out
