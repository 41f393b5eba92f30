"""Settings: defaults, environment, the TOML file, and bad values stopping start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("FRONTDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults():
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./frontdesk.db"
    assert settings.default_locale == "zh_CN"
    assert settings.timezone == "Asia/Shanghai"


def test_environment_and_toml(monkeypatch, tmp_path):
    (tmp_path / "frontdesk.toml").write_text(
        'timezone = "UTC"\ndefault_locale = "en"\n'
        '[[staff]]\nuser_id = "42"\nname = "王师傅"\ndepartment = "repair"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("FRONTDESK_DEFAULT_LOCALE", "zh_CN")
    settings = load_settings()
    assert settings.timezone == "UTC"  # from the file
    assert settings.default_locale == "zh_CN"  # the environment wins
    assert settings.staff[0].name == "王师傅"


def test_config_path_from_environment(monkeypatch, tmp_path):
    path = tmp_path / "other.toml"
    path.write_text('company_name = "和悦物业"\n', encoding="utf-8")
    monkeypatch.setenv("FRONTDESK_CONFIG", str(path))
    assert load_settings().company_name == "和悦物业"
    monkeypatch.setenv("FRONTDESK_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="FRONTDESK_CONFIG"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FRONTDESK_TIMEZONE", "Mars/Base"),
        ("FRONTDESK_DEFAULT_LOCALE", "fr"),
        ("FRONTDESK_DATABASE_URL", "mysql://localhost/x"),
        ("FRONTDESK_HTTP_PORT", "eighty"),
        ("FRONTDESK_DIALOG_IDLE_MINUTES", "0"),
    ],
)
def test_bad_setting_is_one_line_naming_it(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert name in message and "\n" not in message


def test_bad_toml_is_reported(tmp_path):
    (tmp_path / "frontdesk.toml").write_text("timezone = \n", encoding="utf-8")
    with pytest.raises(SettingsError, match="settings file"):
        load_settings()


def test_secrets_never_print(monkeypatch):
    monkeypatch.setenv("FRONTDESK_TELEGRAM_TOKEN", "123:SECRET-TOKEN")
    settings = load_settings()
    assert "SECRET-TOKEN" not in repr(settings) and "SECRET-TOKEN" not in str(settings)
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == "123:SECRET-TOKEN"


def test_cli_stops_with_the_line(monkeypatch):
    monkeypatch.setenv("FRONTDESK_TIMEZONE", "Mars/Base")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"], capture_output=True, text=True
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "FRONTDESK_TIMEZONE" in lines[0]
