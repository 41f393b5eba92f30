"""Settings from `FRONTDESK_*` environment variables and an optional TOML file.

Precedence: explicit arguments, then the environment, then the TOML file
(`frontdesk.toml` in the working directory, or the path in `FRONTDESK_CONFIG`),
then the defaults below. Secrets are `SecretStr` so they never print.
"""

from __future__ import annotations

import os
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

LOCALES = ("zh_CN", "en")


class StaffEntry(BaseSettings):
    """A staff member listed in the TOML file (`[[staff]]`)."""

    model_config = SettingsConfigDict(extra="forbid")
    channel: str = "console"
    user_id: str
    name: str
    role: str = "staff"
    department: str | None = None
    community: str | None = None


class Settings(BaseSettings):
    """Everything the front desk can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="FRONTDESK_", extra="ignore", env_nested_delimiter="__"
    )

    database_url: str = "sqlite+aiosqlite:///./frontdesk.db"
    default_locale: str = "zh_CN"
    timezone: str = "Asia/Shanghai"
    company_name: str = "幸福里物业"
    dialog_idle_minutes: int = Field(30, ge=1)
    dialog_forget_days: int = Field(7, ge=1)
    urge_interval_minutes: int = Field(120, ge=1)
    quiet_hours_start: time = time(22, 0)
    quiet_hours_end: time = time(7, 0)
    public_energy_rate: Decimal = Decimal("0.30")
    warranty_months: dict[str, int] = Field(
        default_factory=lambda: {
            "water": 24,
            "electrical": 24,
            "gas": 24,
            "doors": 24,
            "public": 0,
            "lift": 0,
            "safety": 0,
            "other": 12,
        }
    )
    # Revisits (回访): the seed's windows (safety 2 days, leaks 3 days after the leak test,
    # others 2 days); the resident is asked at the ask time once the fix has settled, the
    # desk phones after the answer hours, with at least the call hours of the window left.
    revisit_safety_days: float = Field(2, gt=0)
    revisit_leak_days: float = Field(3, gt=0)
    revisit_other_days: float = Field(2, gt=0)
    revisit_ask_time: time = time(10, 0)
    revisit_settle_hours: float = Field(12, ge=0)
    revisit_answer_hours: float = Field(6, gt=0)
    revisit_call_hours: float = Field(8, ge=0)
    # A leak repair's leak test (试漏) is due this long after the work is done.
    leak_test_hours: float = Field(24, gt=0)
    # Damage still happening (a complaint about a flood now): the department calls back within.
    urgent_contact_minutes: int = Field(30, ge=1)
    # Complaints (投诉), the seed's numbers: a major one is answered within 2 days and
    # solved within 10; an important one reaches the supervisor within an hour and is
    # solved within 3 days; a minor one within 2 days (or by the resident's own date).
    complaint_major_answer_days: float = Field(2, gt=0)
    complaint_major_solve_days: float = Field(10, gt=0)
    complaint_important_escalate_hours: float = Field(1, gt=0)
    complaint_important_solve_days: float = Field(3, gt=0)
    complaint_minor_solve_days: float = Field(2, gt=0)
    # Hours from creation to "done" per repair category; other kinds per kind.
    repair_targets_hours: dict[str, int] = Field(
        default_factory=lambda: {
            "water": 24,
            "electrical": 24,
            "gas": 4,
            "doors": 48,
            "public": 72,
            "lift": 4,
            "safety": 24,
            "other": 72,
        }
    )
    kind_targets_hours: dict[str, int] = Field(
        default_factory=lambda: {"binding": 24, "handoff": 2}
    )
    # Custody of an empty flat (房屋托管): the management fee at this share of the full
    # fee for the custody months; a month using more than these units of water or
    # electricity raises an alarm; an outside patrol every this many days.
    custody_fee_rate: Decimal = Field(Decimal("0.70"), gt=0, le=1)
    custody_water_limit: Decimal = Field(Decimal("5"), ge=0)
    custody_power_limit: Decimal = Field(Decimal("20"), ge=0)
    custody_patrol_days: int = Field(7, ge=1)
    # Renovation (装修): the hours workers may work and enter, every day of the permit
    # ("08:00-12:00,14:00-18:00"); the waste-removal fee (装修垃圾清运费) per application;
    # whether a completion check follows the owner's report of the end (the seed has none).
    renovation_hours: str = "08:00-12:00,14:00-18:00"
    renovation_waste_fee: Decimal = Field(Decimal("300"), ge=0)
    renovation_completion_check: bool = False
    # Visitors (访客): whether a resident's pre-registration waits for the desk's approval;
    # how many visits a unit may register a day; a visitor's car parks free this long;
    # a walk-in's resident who has not answered in chat this long is phoned by the gate;
    # a code opens the gate from this long before the expected arrival.
    visitor_approval: bool = False
    visitor_daily_limit: int = Field(5, ge=1)
    visitor_free_parking_minutes: int = Field(120, ge=0)
    visitor_confirm_minutes: int = Field(5, ge=1)
    visitor_early_minutes: int = Field(120, ge=0)
    # Parcels (快递) waiting at the desk: the recipient is reminded this many hours after
    # it came, then every this many hours; after this many days the desk gets a task.
    parcel_remind_hours: int = Field(24, ge=1)
    parcel_remind_every_hours: int = Field(24, ge=1)
    parcel_task_days: int = Field(5, ge=1)
    # Keys lent (钥匙借用): due back after this many hours unless told otherwise; an overdue
    # key reminds its borrower at once, and the supervisor this many hours later.
    key_loan_hours: int = Field(8, ge=1)
    key_escalate_hours: int = Field(24, ge=0)
    # The office's own checks: a nonconformity slip (不合格单) from an inspection round is
    # answered within this many hours; the notice board (宣传栏) is renewed every this many
    # days; the annual survey stays open this many days, reminds owners who have not
    # answered every this many days, and a rating at or below this (of 5) gets a follow-up.
    inspection_slip_hours: int = Field(48, ge=1)
    notice_board_days: int = Field(14, ge=1)
    survey_days: int = Field(30, ge=1)
    survey_remind_days: int = Field(7, ge=1)
    survey_low_score: int = Field(2, ge=1, le=5)
    # The back office: rent is reminded this many days before it falls due, and a rent
    # this many days late goes to the supervisor; a payer's promised date passed this many
    # days ago without the money gives the desk a follow-up; a finished commissioned
    # service is revisited within this many days.
    rent_remind_days: int = Field(7, ge=0)
    rent_escalate_days: int = Field(15, ge=1)
    arrears_promise_grace_days: int = Field(1, ge=0)
    service_revisit_days: int = Field(2, ge=1)
    # A warning this many hours before a deadline; after a breach, the supervisor is told
    # this many hours later, then the director this many hours after that.
    deadline_warning_hours: float = Field(2, ge=0)
    escalate_supervisor_hours: float = Field(4, ge=0)
    escalate_director_hours: float = Field(20, ge=0)
    # Retention: messages received and delivered are kept this many days, audit details
    # (the particulars of who did what) this many; a daily job purges or blanks the rest.
    retain_inbound_days: int = Field(90, ge=1)
    retain_outbox_days: int = Field(90, ge=1)
    retain_audit_detail_days: int = Field(365, ge=30)
    log_level: str = "INFO"
    # Files the bot makes: QR images of release slips, reports, dunning letters.
    data_dir: Path = Path("data")

    # Channels. A channel is on when its token or id is set.
    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_supervisors: str = ""
    console_supervisors: str = ""
    wechat_appid: str | None = None
    wechat_secret: SecretStr | None = None
    wechat_token: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None
    wechat_api_url: str | None = None
    wechat_supervisors: str = ""
    # Template messages for residents outside the 48-hour window: catalog-key prefix -> id.
    wechat_templates: dict[str, str] = Field(default_factory=dict)
    wecom_corp_id: str | None = None
    wecom_secret: SecretStr | None = None
    wecom_agent_id: str | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_api_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    # Slow clients must not hold the listener: a request's headers must arrive within the
    # header timeout (after the connection opens, or after its previous answer), its body
    # within the body timeout; past the connection cap the oldest connection without a
    # request being handled is closed, and when every one is busy a newcomer gets 503.
    http_header_timeout: float = Field(10, gt=0)
    http_body_timeout: float = Field(10, gt=0)
    http_max_connections: int = Field(256, ge=1)
    # WeChat and WeCom callbacks whose timestamp is further than this from this host's
    # clock are refused, and a timestamp with its nonce is accepted for one message only.
    callback_replay_window_seconds: int = Field(300, ge=30)

    # Worker processes that handle inbound updates (PostgreSQL only). 0: `frontdesk run`
    # handles what it receives itself. N: it stores each update in the inbound queue and
    # starts N `frontdesk worker` processes that take them chat by chat.
    workers: int = Field(0, ge=0, le=32)

    staff: list[StaffEntry] = Field(default_factory=list)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @model_validator(mode="after")
    def _workers_share_a_server(self) -> Settings:
        if self.workers and not self.database_url.startswith("postgresql"):
            raise ValueError(
                "FRONTDESK_WORKERS needs PostgreSQL (FRONTDESK_DATABASE_URL=postgresql+asyncpg://…):"
                " SQLite has one writer, so more processes would only wait for each other"
            )
        return self

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown level {value!r}")
        return value.upper()

    @field_validator("renovation_hours")
    @classmethod
    def _renovation_hours(cls, value: str) -> str:
        from handlers.rules.renovation import parse_hours

        parse_hours(value)  # raises ValueError with what is wrong
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def supervisors(self, channel: str) -> list[str]:
        """The user ids named as first supervisors for a channel."""
        raw = getattr(self, f"{channel}_supervisors", "") or ""
        return [part.strip() for part in raw.split(",") if part.strip()]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("FRONTDESK_CONFIG", "frontdesk.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


class SettingsError(Exception):
    """A setting that stops start-up; the message is one line naming it."""


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation errors into one clear line."""
    config = os.environ.get("FRONTDESK_CONFIG")
    if config and not Path(config).is_file():
        raise SettingsError(f"FRONTDESK_CONFIG: no such file {config!r}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_error(exc)) from None
    except ValueError as exc:  # a TOML file that does not parse
        raise SettingsError(f"settings file: {exc}") from None


def describe_error(exc: ValidationError) -> str:
    """One line naming each bad setting by its environment variable."""
    parts = []
    for error in exc.errors():
        name = "_".join(str(p) for p in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        # A rule over several settings (a model validator) names them in its message.
        parts.append(f"FRONTDESK_{name}: {message}" if name else message)
    return "bad setting: " + "; ".join(parts)
