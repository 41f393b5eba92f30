"""SQLModel tables of the front desk.

One company runs many communities; almost every row carries its `community_id`
so several communities share one store. Times are stored in UTC (timezone-aware) and
always given by the caller from its clock (no column reads the wall clock, so a test's or
the console's moved clock holds everywhere); money is `Decimal` in fixed-point columns.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Numeric, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _money() -> Any:
    return Field(sa_column=Column(Numeric(12, 2), nullable=False))


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Role(StrEnum):
    """How a resident is tied to a unit."""

    owner = "owner"
    member = "member"
    tenant = "tenant"
    delegate = "delegate"


class StaffRole(StrEnum):
    staff = "staff"
    supervisor = "supervisor"
    director = "director"


class Department(StrEnum):
    repair = "repair"
    security = "security"
    cleaning = "cleaning"
    greening = "greening"
    service = "service"


class TicketKind(StrEnum):
    repair = "repair"
    complaint = "complaint"
    fee = "fee"
    question = "question"
    slip = "slip"
    binding = "binding"
    handoff = "handoff"
    inspection = "inspection"  # a move-in inspection with the repair department
    patrol = "patrol"  # an outside patrol of a flat in custody
    renovation = "renovation"  # a renovation application under review (装修申请)
    task = "task"  # a follow-up for a department: call a resident, chase a parcel or a key
    nonconformity = "nonconformity"  # a failed inspection item for a department (不合格单)
    visit = "visit"  # a planned revisit or visit of the supervisor's plan (走访)
    service = "service"  # a paid convenience or commissioned service (便民/委托服务)
    rental = "rental"  # an enquiry about renting a space, a storeroom or a venue (招租)


class TicketStatus(StrEnum):
    new = "new"
    accepted = "accepted"
    in_progress = "in_progress"
    done = "done"
    revisit = "revisit"
    closed = "closed"
    cancelled = "cancelled"
    cannot_do = "cannot_do"


class Community(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    management_rate: Decimal = _money()  # yuan per m² per month
    office_hours: str = Field(default="08:30-18:00", max_length=50)
    phone: str = Field(default="", max_length=30)
    # The community's own deadlines and windows where they differ from the company's
    # settings, by setting name: {"revisit_leak_days": 2} (handlers/policies.py).
    policy: dict[str, Any] = _json()


class Building(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    name: str = Field(max_length=50)


class Unit(SQLModel, table=True):
    """A flat or shop, e.g. `3栋2单元1201`, with its floor area."""

    __table_args__ = (UniqueConstraint("community_id", "label"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    label: str = Field(max_length=50)
    area_m2: Decimal = Field(sa_column=Column(Numeric(10, 2), nullable=False))
    handover_date: date | None = None
    stage: str = Field(default="not_handed_over", max_length=20)  # UnitStage
    extra_monthly: Decimal = Field(
        default=Decimal("0"), sa_column=Column(Numeric(12, 2), nullable=False)
    )  # collected-on-behalf items (代收代付) per month


class UnitStage(StrEnum):
    """A unit's life: handed over by the move-in, then renovated and lived in, or looked
    after empty (custody)."""

    not_handed_over = "not_handed_over"
    handing_over = "handing_over"
    handed_over = "handed_over"
    renovating = "renovating"
    occupied = "occupied"
    custody = "custody"


class UnitEvent(SQLModel, table=True):
    """Append-only history of a unit's life: each change of stage, who made it and when."""

    __tablename__ = "unit_event"
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    actor: str = Field(max_length=100)
    from_stage: str = Field(max_length=20)
    to_stage: str = Field(max_length=20)
    note: str = Field(default="", max_length=500)


class Person(SQLModel, table=True):
    """A resident or a staff member; a company owner has `is_company`."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    phone: str | None = Field(default=None, max_length=30, index=True)
    is_company: bool = False
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Binding(SQLModel, table=True):
    """A person's tie to a unit; several per unit, several per person."""

    __table_args__ = (UniqueConstraint("person_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    role: str = Field(default=Role.owner, max_length=16)
    verified_by: str = Field(default="", max_length=50)  # roster, invite, phone, staff:<id>
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class ChatIdentity(SQLModel, table=True):
    """A chat account (channel + external user id), mapped to a person once bound."""

    __table_args__ = (UniqueConstraint("channel", "external_user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    external_user_id: str = Field(max_length=100)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    locale: str | None = Field(default=None, max_length=10)
    display_name: str = Field(default="", max_length=100)
    last_seen_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class DialogState(SQLModel, table=True):
    """Where one user stands in one chat; survives restarts, shared by workers."""

    __tablename__ = "dialog_state"
    channel: str = Field(primary_key=True, max_length=20)
    chat_id: str = Field(primary_key=True, max_length=100)
    user_id: str = Field(primary_key=True, max_length=100)
    flow: str | None = Field(default=None, max_length=40)
    flow_version: str = Field(default="", max_length=40)
    step: str | None = Field(default=None, max_length=40)
    answers: dict[str, Any] = _json()
    trail: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    mode: str = Field(default="menu", max_length=20)  # menu, flow, paused, human
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Ticket(SQLModel, table=True):
    """Any request that staff act on: repair, complaint, question, slip, …"""

    __table_args__ = (
        UniqueConstraint("community_id", "number"),
        Index("ix_ticket_community_created", "community_id", "created_at"),
        Index("ix_ticket_created", "created_at"),  # company-wide figures
        Index("ix_ticket_status", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    number: str = Field(max_length=20)
    kind: str = Field(max_length=16)
    status: str = Field(default=TicketStatus.new, max_length=16)
    department: str = Field(max_length=16)
    category: str = Field(default="", max_length=30)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    channel: str = Field(default="", max_length=20)
    chat_id: str = Field(default="", max_length=100)
    contact_name: str = Field(default="", max_length=100)
    contact_phone: str = Field(default="", max_length=30)
    description: str = Field(default="", max_length=2000)
    details: dict[str, Any] = _json()
    urgent: bool = False
    paid: bool = False
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    assignee_id: int | None = Field(default=None, foreign_key="staffmember.id")
    reopen_count: int = 0
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    accepted_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    done_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    due_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


class TicketCounter(SQLModel, table=True):
    """The last sequence number handed out per community, prefix and day."""

    __tablename__ = "ticket_counter"
    community_id: int = Field(primary_key=True, foreign_key="community.id")
    prefix: str = Field(primary_key=True, max_length=4)
    day: str = Field(primary_key=True, max_length=6)
    last: int = 0


class TicketEvent(SQLModel, table=True):
    """Append-only history of a ticket: who changed what, when, from, to."""

    __tablename__ = "ticket_event"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    actor: str = Field(max_length=100)
    action: str = Field(max_length=30)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    note: str = Field(default="", max_length=2000)
    data: dict[str, Any] = _json()


class Photo(SQLModel, table=True):
    """A photo a resident or staff member sent, kept by the channel's file reference."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    channel: str = Field(max_length=20)
    file_ref: str = Field(max_length=300)
    stored_path: str | None = Field(default=None, max_length=300)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Bill(SQLModel, table=True):
    """One month's charges for a unit; `paid_at` set when a receipt is recorded."""

    __table_args__ = (UniqueConstraint("unit_id", "month"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    month: str = Field(max_length=7)  # 2026-11
    management: Decimal = _money()
    energy: Decimal = _money()
    collected: Decimal = Field(
        default=Decimal("0"), sa_column=Column(Numeric(12, 2), nullable=False)
    )
    paid_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    receipt: str | None = Field(default=None, max_length=50)


class StaffGroup(SQLModel, table=True):
    """A group chat bound to one department of one community."""

    __tablename__ = "staff_group"
    __table_args__ = (UniqueConstraint("community_id", "department", "channel"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    department: str = Field(max_length=16)
    channel: str = Field(max_length=20)
    chat_id: str = Field(max_length=100)


class StaffMember(SQLModel, table=True):
    """A staff member, supervisor or director of a community, reached on one channel."""

    __table_args__ = (UniqueConstraint("channel", "external_user_id", "community_id"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, foreign_key="community.id")
    channel: str = Field(max_length=20)
    external_user_id: str = Field(max_length=100)
    name: str = Field(max_length=100)
    role: str = Field(default=StaffRole.staff, max_length=16)
    department: str | None = Field(default=None, max_length=16)
    active: bool = True


class Outbox(SQLModel, table=True):
    """A message waiting to be delivered; a row is never sent twice."""

    __table_args__ = (
        Index("ix_outbox_pending", "channel", "sent_at", "not_before"),
        # A chat's last delivered message, looked up for every send (see migration 0007).
        Index("ix_outbox_chat", "channel", "chat_id", "sent_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    chat_id: str = Field(max_length=100)
    payload: dict[str, Any] = _json()
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True)
    # payload["card"], copied out so a card's last sent message can be found and edited
    card: str | None = Field(default=None, max_length=120, index=True)
    urgent: bool = False
    # An announcement to many residents: sent after the replies people are waiting for.
    bulk: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    not_before: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    attempts: int = 0
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    failed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    error: str | None = Field(default=None, max_length=500)
    external_message_id: str | None = Field(default=None, max_length=100)


class Job(SQLModel, table=True):
    """Work due at a time (a revisit, a warning, a reminder); done exactly once."""

    __table_args__ = (Index("ix_job_due", "done_at", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    due_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    payload: dict[str, Any] = _json()
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True)
    attempts: int = 0
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    done_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    error: str | None = Field(default=None, max_length=500)


class InboundUpdate(SQLModel, table=True):
    """Every accepted message, stored before it is acknowledged; dedupes redelivery."""

    __tablename__ = "inbound_update"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    external_id: str = Field(max_length=120)
    chat_id: str = Field(default="", max_length=100)
    payload: dict[str, Any] = _json()
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    handled_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class QueuedUpdate(SQLModel, table=True):
    """An update received for the worker processes to handle (PostgreSQL with
    `FRONTDESK_WORKERS`): stored by the process that receives it before it is acknowledged,
    taken chat by chat by a worker, and deleted in the transaction that handles it."""

    __tablename__ = "inbound_queue"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_inbound_queue_chat", "channel", "chat_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    external_id: str = Field(max_length=120)
    chat_id: str = Field(default="", max_length=100)
    payload: dict[str, Any] = _json()
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class WebAccount(SQLModel, table=True):
    """A password for the desk's web workspace. The login is a staff member's user id on the
    `web` channel (`frontdesk staff add --channel web`): their rows there, one per community,
    say what they may see and do, as a chat account's do in chat."""

    __tablename__ = "web_account"
    login: str = Field(primary_key=True, max_length=100)
    password_hash: str = Field(max_length=200)
    password_set_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # Wrong passwords in a row, and until when signing in is refused after them.
    failures: int = 0
    locked_until: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class ButtonToken(SQLModel, table=True):
    """A short opaque id standing for a button's action, so chat payloads carry no data."""

    __tablename__ = "button_token"
    __table_args__ = (Index("ix_button_token_value", "channel", "chat_id", "value"),)
    token: str = Field(primary_key=True, max_length=16)
    channel: str = Field(max_length=20)
    chat_id: str = Field(max_length=100)
    value: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class AuditLog(SQLModel, table=True):
    """Every privileged action: who did what to which target."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    actor: str = Field(max_length=100)
    action: str = Field(max_length=40)
    target: str = Field(default="", max_length=100)
    detail: dict[str, Any] = _json()


class KeyValue(SQLModel, table=True):
    """Small shared values for all workers (e.g. cached access tokens)."""

    __tablename__ = "key_value"
    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(max_length=4000)
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class InviteCode(SQLModel, table=True):
    """A one-time code that binds whoever sends it to a unit (printed in the move-in pack)."""

    __tablename__ = "invite_code"
    code: str = Field(primary_key=True, max_length=16)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    role: str = Field(default=Role.owner, max_length=16)
    person_id: int | None = Field(default=None, foreign_key="person.id")  # who it is for
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    used_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    used_by: int | None = Field(default=None, foreign_key="person.id")


class Payment(SQLModel, table=True):
    """Money received for a unit's bills, with its receipt number (收费票据)."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    amount: Decimal = _money()
    receipt: str = Field(max_length=50, unique=True)
    months: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    recorded_by: str = Field(max_length=100)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class SlipStatus(StrEnum):
    owner_pending = "owner_pending"  # a tenant's or member's slip waits for the owner
    desk_pending = "desk_pending"  # arrears: the service desk decides
    approved = "approved"
    denied = "denied"
    used = "used"
    cancelled = "cancelled"  # the applicant cancelled it; its code is void


class ReleaseSlip(SQLModel, table=True):
    """A release slip (放行条) for goods leaving the community: valid once, on its date."""

    __tablename__ = "release_slip"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    plate: str = Field(default="", max_length=20)
    day: date
    window: str = Field(default="", max_length=50)
    status: str = Field(default=SlipStatus.owner_pending, max_length=16)
    decided_by: str = Field(default="", max_length=100)
    used_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    checked_by: str = Field(default="", max_length=100)


class ArrearsCase(SQLModel, table=True):
    """A unit on the arrears ladder (催缴): which step it reached and when; closed on payment."""

    __tablename__ = "arrears_case"
    __table_args__ = (Index("ix_arrears_open", "unit_id", "closed_at"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    step: str = Field(max_length=16)  # reminder, letter, visit, legal
    opened_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    step_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # The casework of the ladder's later steps: why the unit does not pay (找出原因), and the
    # legal step's prepared file for the director.
    reason: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    legal_file: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})
    legal_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


class FeeAgreement(SQLModel, table=True):
    """What the desk agreed about a unit's fees, with its dates: a dispute of the amount
    (the arrears ladder waits while it is open) or an instalment plan (分期) that reshapes
    the reminders. `history` keeps the reminders sent and any reopening."""

    __tablename__ = "fee_agreement"
    __table_args__ = (Index("ix_fee_agreement_open", "unit_id", "closed_at"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=16)  # dispute, instalment
    status: str = Field(max_length=16)  # dispute: open, resolved; plan: active, kept, broken
    total: Decimal = _money()  # the amount due (net of credit) when it was agreed
    months: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # [{"number": 1, "due": "2026-12-03", "amount": "284.20"}, …]; empty for a dispute
    instalments: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    recorded_by: str = Field(max_length=100)
    opened_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    resolution: str = Field(default="", max_length=2000)
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class Document(SQLModel, table=True):
    """A private paper kept for the office (an ID, a contract, a power of attorney, an
    approval): seen by the desk and supervisors only, never sent into a group, covered by
    `resident export` and `forget`. `subject` says what it belongs to (`movein:12`)."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    subject: str = Field(max_length=40, index=True)
    kind: str = Field(max_length=30)  # owner_id, purchase_contract, attorney, …
    channel: str = Field(max_length=20)
    file_ref: str = Field(default="", max_length=300)
    stored_path: str | None = Field(default=None, max_length=300)
    added_by: str = Field(max_length=100)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class MoveIn(SQLModel, table=True):
    """A unit's move-in (入住), the checklist the desk works through with the owner over
    days: papers, forms, fees, items, the inspection and its defects, the sign-off.
    `checklist` holds what is done, item by item, with who and when."""

    __tablename__ = "move_in"
    __table_args__ = (Index("ix_move_in_open", "unit_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    delegate_id: int | None = Field(default=None, foreign_key="person.id")
    status: str = Field(default="open", max_length=16)  # open, completed, cancelled
    checklist: dict[str, Any] = _json()
    inspection_ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    reinspect_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    signed_off_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    signed_off_by: str = Field(default="", max_length=100)
    invite_code: str = Field(default="", max_length=16)  # the invitation's key, never the code
    opened_by: str = Field(max_length=100)
    opened_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    completed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class MeterReading(SQLModel, table=True):
    """A water, electricity or gas meter read for a unit (at the move-in, the start and
    end of custody, each custody month). A reading is never below the one before it."""

    __tablename__ = "meter_reading"
    __table_args__ = (Index("ix_meter_reading_unit", "unit_id", "meter", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    meter: str = Field(max_length=10)  # water, power, gas
    value: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    purpose: str = Field(max_length=20)  # movein, custody_start, monthly, custody_end
    read_by: str = Field(max_length=100)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )  # the owner agreed the figure


class Custody(SQLModel, table=True):
    """An empty flat looked after by the office (房屋托管) from `starts` to `ends`."""

    __table_args__ = (Index("ix_custody_open", "unit_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    starts: date
    ends: date | None = None
    status: str = Field(default="active", max_length=16)  # active, ended
    opened_by: str = Field(max_length=100)
    opened_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class OfficeKey(SQLModel, table=True):
    """A key the office holds (the key register): a custody flat's, a common room's.
    Taken in and given back with who and when; `history` keeps each movement."""

    __tablename__ = "office_key"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    label: str = Field(max_length=100)  # 大门钥匙, 信箱钥匙, …
    # unit (a flat's, kept for its owner), common (a common room, the roof, a plant room),
    # equipment (a cabinet, a barrier, a lift's machine room)
    kind: str = Field(default="unit", max_length=16, sa_column_kwargs={"server_default": "unit"})
    place: str = Field(default="", max_length=60, sa_column_kwargs={"server_default": ""})  # 柜A-12
    count: int = 1
    status: str = Field(default="held", max_length=16)  # held, lent, returned
    source: str = Field(default="", max_length=40)  # custody:7, movein:3, office
    received_from: str = Field(default="", max_length=100)
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    returned_to: str = Field(default="", max_length=100)
    returned_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class RenovationStatus(StrEnum):
    submitted = "submitted"  # waiting for the desk's and the repair department's review
    changes = "changes"  # the reviewers asked for changes; the owner resubmits
    approved = "approved"  # permit and passes issued; work may go on in its dates
    refused = "refused"
    finished = "finished"  # the owner reported the work done (and it passed, if checked)
    inspecting = "inspecting"  # waiting for the completion check (where the community has one)
    failed = "failed"  # the completion check found rework to do
    cancelled = "cancelled"


class Renovation(SQLModel, table=True):
    """A unit's renovation (装修): the application, its review, the permit (施工许可证),
    the waste-removal fee and the work watched until its end. One open per unit.
    `reviews` and `history` keep each decision and change with who and when."""

    __table_args__ = (Index("ix_renovation_open", "unit_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    applicant_id: int | None = Field(default=None, foreign_key="person.id")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    status: str = Field(default=RenovationStatus.submitted, max_length=16)
    starts: date
    ends: date
    contractor: str = Field(max_length=100)
    foreman: str = Field(max_length=100)  # the person in charge on site
    foreman_phone: str = Field(max_length=30)
    workers: int = 1
    plan: str = Field(default="", max_length=2000)
    structural: bool = False  # the main structure is changed (拆改主体结构)
    load_increase: bool = False  # a marked increase in load (明显加大荷载)
    agreement_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )  # the renovation agreement confirmed by the applicant
    permit_number: str = Field(default="", max_length=30)
    fee: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    fee_receipt: str = Field(default="", max_length=50)
    submitted_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    reviews: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class WorkerPass(SQLModel, table=True):
    """A worker's temporary pass (临时出入证) for an approved renovation: a code the guard
    checks at the gate, valid on the renovation's days within the permitted hours."""

    __tablename__ = "worker_pass"
    id: int | None = Field(default=None, primary_key=True)
    renovation_id: int = Field(foreign_key="renovation.id", index=True)
    code: str = Field(max_length=12, unique=True)
    name: str = Field(max_length=100)
    phone: str = Field(default="", max_length=30)
    valid_from: date
    valid_to: date
    status: str = Field(default="active", max_length=16)  # active, revoked, expired
    checks: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )  # each gate check: when, which guard, let in or refused and why


class RenovationCheck(SQLModel, table=True):
    """A visit to a renovation by repair or security: a check, or a violation found
    (noise out of hours, structural work, waste in the corridor) with its photos."""

    __tablename__ = "renovation_check"
    id: int | None = Field(default=None, primary_key=True)
    renovation_id: int = Field(foreign_key="renovation.id", index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    by: str = Field(max_length=100)
    department: str = Field(max_length=16)
    violation: str = Field(default="", max_length=20)  # "" for a check that found nothing
    note: str = Field(default="", max_length=2000)
    photos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")  # a complaint linked


class VisitStatus(StrEnum):
    pending = "pending"  # a resident's pre-registration waits for the desk's approval
    expected = "expected"  # the code lets the visitor in within the visit's window
    asking = "asking"  # a walk-in: the resident is asked whether to let them in
    arrived = "arrived"
    left = "left"
    refused = "refused"  # the desk or the resident said no
    cancelled = "cancelled"  # the resident called it off; the code is void
    expired = "expired"  # the window passed and nobody came


class Visit(SQLModel, table=True):
    """A visitor (访客): pre-registered by a resident (a code and QR to forward, valid for
    that visit), or a walk-in registered by the guard, whom the resident confirms.
    `history` keeps each check, decision and passage with who and when."""

    __table_args__ = (Index("ix_visit_community_expected", "community_id", "expected_at"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    unit_id: int = Field(foreign_key="unit.id", index=True)
    host_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    source: str = Field(default="resident", max_length=16)  # resident, walk_in, desk
    code: str = Field(max_length=12, unique=True)
    name: str = Field(max_length=100)
    phone: str = Field(default="", max_length=30)
    plate: str = Field(default="", max_length=20)
    purpose: str = Field(default="", max_length=200)
    companions: int = 0
    expected_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    leaves_by: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    status: str = Field(default=VisitStatus.expected, max_length=16)
    registered_by: str = Field(max_length=100)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    arrived_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    left_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")  # the phone-call task
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class ParcelStatus(StrEnum):
    waiting = "waiting"  # at the desk, the recipient told
    collected = "collected"
    returned = "returned"  # sent back to the courier (refused, or never collected)


class Parcel(SQLModel, table=True):
    """A parcel (快递) received at the desk for a resident: registered with its waybill,
    the recipient told with a pick-up code, reminded while it waits, and handed over
    against the code or an identity checked and noted."""

    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        Index("ix_parcel_community_status", "community_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    recipient: str = Field(max_length=100)  # the name on the label
    phone: str = Field(default="", max_length=30)
    waybill: str = Field(default="", max_length=40)
    courier: str = Field(default="", max_length=30)
    note: str = Field(default="", max_length=500)
    valuable: bool = False
    damaged: bool = False  # damaged on arrival, noted before it was accepted
    photo: str | None = Field(default=None, max_length=500)
    code: str = Field(max_length=8)  # the pick-up code the recipient is sent
    status: str = Field(default=ParcelStatus.waiting, max_length=16)
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    registered_by: str = Field(max_length=100)
    reminders: int = 0
    reminded_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")  # the desk's task
    collected_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    collected_by: str = Field(default="", max_length=100)  # who took it away
    identity: str = Field(default="", max_length=200)  # the ID checked, when not the code
    handed_by: str = Field(default="", max_length=100)


class KeyLoan(SQLModel, table=True):
    """A key of the register (`OfficeKey`) lent and given back (钥匙借用): who took it,
    why, when it is due; a unit's key only with the owner's consent recorded."""

    __tablename__ = "key_loan"
    __table_args__ = (Index("ix_key_loan_open", "community_id", "returned_at"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    key_id: int = Field(foreign_key="office_key.id", index=True)
    borrower: str = Field(max_length=100)
    phone: str = Field(default="", max_length=30)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    staff_id: int | None = Field(default=None, foreign_key="staffmember.id")
    purpose: str = Field(default="", max_length=200)
    consent: str = Field(default="", max_length=200)  # how the owner agreed, for a unit's key
    lent_by: str = Field(max_length=100)
    lent_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    returned_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    returned_to: str = Field(default="", max_length=100)
    reminders: int = 0
    escalated_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class Checklist(SQLModel, table=True):
    """A community's own list the office works through, editable by its managers: the daily
    inspection round's items by area (`name` "inspection"), the annual survey's questions
    ("survey"). `items` is a list of `{"area": …, "item": …}` (or a survey's questions)."""

    __table_args__ = (UniqueConstraint("community_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    name: str = Field(max_length=30)
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class InspectionRound(SQLModel, table=True):
    """A daily inspection round (日常巡查) of the desk or a supervisor: hygiene, facilities,
    the notice board, the patrol logs. `items` is the checklist as it was when the round
    began; `results` each item's outcome (passed, or failed with a note, photos and the
    nonconformity slip it became)."""

    __tablename__ = "inspection_round"
    __table_args__ = (Index("ix_inspection_round_started", "community_id", "started_at"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    by: str = Field(max_length=100)  # the actor (`staff:7`)
    by_name: str = Field(default="", max_length=100)
    status: str = Field(default="open", max_length=16)  # open, finished
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    results: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    started_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class VisitPlan(SQLModel, table=True):
    """The supervisor's plan of revisits and visits (走访计划): a title and topic; each
    planned visit is a `visit` ticket (unit, topic, date, by phone or in person) whose
    result (the owner's opinions, what was done, the outcome) is kept on the ticket."""

    __tablename__ = "visit_plan"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    title: str = Field(max_length=200)
    topic: str = Field(default="", max_length=500)
    made_by: str = Field(max_length=100)
    made_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    status: str = Field(default="open", max_length=16)  # open, done


class Survey(SQLModel, table=True):
    """The annual owners' opinion survey (业主意见征询表) of a community: its questions
    (ratings and free text per service area), sent to every bound owner, one answer per
    unit, closed and analysed for the director."""

    __table_args__ = (UniqueConstraint("community_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    year: int
    title: str = Field(max_length=200)
    questions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    status: str = Field(default="draft", max_length=16)  # draft, open, closed
    made_by: str = Field(max_length=100)
    made_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    opened_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    closes_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


class SurveyInvite(SQLModel, table=True):
    """A survey sent to one owner of one unit, and its reminders."""

    __tablename__ = "survey_invite"
    __table_args__ = (UniqueConstraint("survey_id", "unit_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    person_id: int = Field(foreign_key="person.id")
    sent_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    reminders: int = 0
    reminded_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class SurveyResponse(SQLModel, table=True):
    """A unit's answer to the survey (one per unit: the first owner to answer)."""

    __tablename__ = "survey_response"
    __table_args__ = (UniqueConstraint("survey_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id")
    unit_id: int = Field(foreign_key="unit.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    answers: dict[str, Any] = _json()
    answered_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")  # a low score's follow-up


class MonthReview(SQLModel, table=True):
    """The month-end analysis (月度回访小结与问题分析) of a community: the month's revisit
    summary and the recurring problems found, made at the month's end for the supervisor,
    who reviews and comments on it and forwards it to the director."""

    __tablename__ = "month_review"
    __table_args__ = (UniqueConstraint("community_id", "month"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    month: str = Field(max_length=7)  # 2026-11
    findings: dict[str, Any] = _json()
    status: str = Field(default="made", max_length=16)  # made, reviewed, forwarded
    comment: str = Field(default="", max_length=4000)
    made_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    reviewed_by: str = Field(default="", max_length=100)
    reviewed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    forwarded_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class Activity(SQLModel, table=True):
    """A community activity (社区文化活动) and its plan: theme, items, cost, place, time,
    who and how many take part, schedule, departments, prizes; announced to residents, who
    sign up in chat up to `capacity`; records and photos archived afterwards."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    theme: str = Field(max_length=200)
    items: str = Field(default="", max_length=2000)
    cost: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(12, 2), nullable=False))
    place: str = Field(default="", max_length=200)
    starts_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    audience: str = Field(default="", max_length=200)  # who takes part
    capacity: int | None = None  # how many may sign up; None: no limit
    schedule: str = Field(default="", max_length=2000)
    departments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    prizes: str = Field(default="", max_length=1000)
    status: str = Field(default="planned", max_length=16)  # planned, announced, done, cancelled
    made_by: str = Field(max_length=100)
    made_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    announced_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    record: str = Field(default="", max_length=4000)  # what happened, written afterwards
    photos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ActivitySignup(SQLModel, table=True):
    """A resident signed up for an activity, with how many people come."""

    __tablename__ = "activity_signup"
    __table_args__ = (UniqueConstraint("activity_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    people: int = 1
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class Incident(SQLModel, table=True):
    """An emergency (突发事件) raised by staff: fire, flood, lift entrapment, gas, power,
    security, injury. It reaches the duty supervisor and the director at once, whatever
    the hour; `timeline` keeps who did what and when; it closes with a short report."""

    __table_args__ = (UniqueConstraint("community_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    number: str = Field(max_length=20)  # E-261206-0001
    kind: str = Field(max_length=16)  # fire, flood, lift, gas, power, security, injury
    building_id: int | None = Field(default=None, foreign_key="building.id")
    place: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    raised_by: str = Field(max_length=100)
    raised_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    status: str = Field(default="open", max_length=16)  # open, closed
    timeline: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    report: str = Field(default="", max_length=4000)
    closed_by: str = Field(default="", max_length=100)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    residents_told_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class ArrearsContact(SQLModel, table=True):
    """One call, visit or letter of an arrears case (催缴记录): whether the payer was reached,
    the reason they gave, what was agreed, and a promised pay date that is followed up."""

    __tablename__ = "arrears_contact"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="arrears_case.id", index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    by: str = Field(max_length=100)
    method: str = Field(max_length=16)  # call, visit, letter, message
    reached: bool = True
    reason: str = Field(default="", max_length=40)  # forgot, hardship, dispute, service, …
    outcome: str = Field(default="", max_length=1000)
    promised_on: date | None = None
    promised_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    followed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    kept: bool | None = None  # the promise: kept, broken, or not yet due


class ServiceItem(SQLModel, table=True):
    """A convenience or commissioned service the office offers (便民服务 / 委托服务) with its
    price: cleaning, appliance repair, moving help, … Each request for one is a `service`
    ticket whose agreed details, fee and acceptance are kept on the ticket."""

    __tablename__ = "service_item"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    name: str = Field(max_length=100)
    department: str = Field(max_length=16)  # who sends someone
    price: Decimal = _money()
    per: str = Field(default="", max_length=20)  # 次, 小时, 平方米: what the price is for
    description: str = Field(default="", max_length=500)
    active: bool = True
    sort: int = 0


class LedgerEntry(SQLModel, table=True):
    """One amount that passed the desk (钱款录入): money in (fees, paid repairs, services,
    waste-removal fees, deposits, rent, venues) or out (an expense paid from the takings).
    Never edited: a correction is a new entry that `corrects` the first, with its own
    receipt number; receipt numbers are unique in a community."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("community_id", "receipt"),
        Index("ix_ledger_entry_day", "community_id", "day"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    day: date  # the business day it belongs to, in the community's time
    receipt: str = Field(max_length=50)
    direction: str = Field(default="in", max_length=8)  # in, out
    purpose: str = Field(max_length=20)  # fee, repair, service, waste, deposit, rent, venue, …
    method: str = Field(max_length=16)  # cash, wechat, alipay, card, transfer
    amount: Decimal = _money()  # positive; a correction's sign is its direction's opposite
    payer: str = Field(default="", max_length=100)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    clerk: str = Field(max_length=100)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    source: str = Field(default="", max_length=40)  # payment:12, ticket:9, renovation:3, …
    corrects_id: int | None = Field(default=None, foreign_key="ledger_entry.id")
    note: str = Field(default="", max_length=500)


class LedgerDay(SQLModel, table=True):
    """A day of the desk's takings closed (日结): the summary by method and purpose, the cash
    counted against the cash expected, the bank deposit made (银行解款) and any difference;
    reviewed and locked by a supervisor, after which the day takes no more entries."""

    __tablename__ = "ledger_day"
    __table_args__ = (UniqueConstraint("community_id", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    day: date
    status: str = Field(default="open", max_length=16)  # open, closed, locked
    totals: dict[str, Any] = _json()
    cash_expected: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    cash_counted: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    deposited: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    deposit_ref: str = Field(default="", max_length=100)  # the bank's slip number
    difference: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    closed_by: str = Field(default="", max_length=100)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    locked_by: str = Field(default="", max_length=100)
    locked_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    note: str = Field(default="", max_length=500)


class Rentable(SQLModel, table=True):
    """Something the office lets (招租): an advertising space, a storeroom, a venue; its
    terms and rent (per month, or per hour for a venue's booking)."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    kind: str = Field(max_length=16)  # ad_space, storeroom, venue
    name: str = Field(max_length=100)
    place: str = Field(default="", max_length=200)
    size: str = Field(default="", max_length=40)  # 12㎡, 2m×1m
    terms: str = Field(default="", max_length=1000)
    rent: Decimal = _money()
    period: str = Field(default="month", max_length=8)  # month, hour (a venue)
    deposit: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(12, 2), nullable=False))
    status: str = Field(default="available", max_length=16)  # available, let, closed


class RentalContract(SQLModel, table=True):
    """A letting of a `Rentable` for a period at a rent, paid every `every_months`."""

    __tablename__ = "rental_contract"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    rentable_id: int = Field(foreign_key="rentable.id", index=True)
    tenant: str = Field(max_length=100)
    phone: str = Field(default="", max_length=30)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    starts: date
    ends: date
    rent: Decimal = _money()  # per month
    every_months: int = 1
    deposit: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(12, 2), nullable=False))
    status: str = Field(default="active", max_length=16)  # active, ended, terminated
    made_by: str = Field(max_length=100)
    made_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    note: str = Field(default="", max_length=500)


class RentDue(SQLModel, table=True):
    """One rent payment a contract falls due for: reminded before, escalated when late,
    settled with a receipt (a ledger entry)."""

    __tablename__ = "rent_due"
    __table_args__ = (UniqueConstraint("contract_id", "due"),)
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="rental_contract.id", index=True)
    due: date
    amount: Decimal = _money()
    paid_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    receipt: str = Field(default="", max_length=50)
    reminded_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    step: str = Field(default="", max_length=16)  # "", reminded, overdue, supervisor


class VenueBooking(SQLModel, table=True):
    """A venue booked for a time (场地预订), with the venue management fee."""

    __tablename__ = "venue_booking"
    __table_args__ = (Index("ix_venue_booking_time", "rentable_id", "starts_at"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    rentable_id: int = Field(foreign_key="rentable.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    name: str = Field(max_length=100)
    phone: str = Field(default="", max_length=30)
    purpose: str = Field(default="", max_length=200)
    starts_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    fee: Decimal = _money()
    status: str = Field(default="requested", max_length=16)  # requested, confirmed, refused, …
    receipt: str = Field(default="", max_length=50)
    decided_by: str = Field(default="", max_length=100)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class AccountStatement(SQLModel, table=True):
    """A community's income and expenses for a period (收支情况), made from the ledger and
    published to the owners as an announcement with its file."""

    __tablename__ = "account_statement"
    __table_args__ = (UniqueConstraint("community_id", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    period: str = Field(max_length=10)  # 2026-11, 2026-Q4, 2026
    starts: date
    ends: date
    income: dict[str, Any] = _json()  # by purpose
    expenses: dict[str, Any] = _json()  # by purpose
    totals: dict[str, Any] = _json()
    status: str = Field(default="draft", max_length=16)  # draft, published
    made_by: str = Field(max_length=100)
    made_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    published_by: str = Field(default="", max_length=100)
    published_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    file: str = Field(default="", max_length=300)
