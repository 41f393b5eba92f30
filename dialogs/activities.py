"""Community life (社区文化): `/activity` plans an activity (supervisors, directors, the
service desk, in a private chat), a resident's sign-up from the notice's button, the
organiser's record afterwards, `/activities` (the staff's list with what to do next, a
resident's open activities and own sign-ups); the day-before reminder, and the notice
board's two-weekly renewal booked at start-up."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import activities, notice_board, tasks
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import MANAGERS, STAFF_ROLES
from handlers.rules.dates import examples

Parser = Callable[[Answer, Context, Answers], Any]


def _field(read: Callable[[str], Any], limit: int = 100) -> Parser:
    """A step's parser over one of the plan's readers (shared with the desk's form)."""

    def parse(answer: Answer, ctx: Context, answers: Answers) -> Any:
        try:
            return read(bounded_text(answer, limit))
        except activities.FieldError as error:
            raise InputError(error.key, **error.params) from None

    return parse


def _text(name: str) -> Parser:
    return _field(lambda text: activities.read_text(name, text), activities.TEXT_LIMITS[name])


def _cost(text: str) -> str:
    return str(activities.read_cost(text))


def _count(text: str) -> int:
    return activities.read_people(text)


# ---- planning ---------------------------------------------------------------------------


async def _plan_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    communities = await activities.communities_for(ctx)
    if not communities:
        return [Reply("dialog.not_allowed")]
    if ctx.msg.chat_kind != "private":
        return [Reply("dialog.private_only")]
    if len(communities) == 1:
        return {"community": communities[0].id}
    return {}


async def _community_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return [
        Choice(f"community:{c.id}", "announce.community.option", {"name": c.name, "code": c.code})
        for c in await activities.communities_for(ctx)
    ]


def _community(answer: Answer, ctx: Context, answers: Answers) -> int:
    chosen = row_id((answer.option or "").removeprefix("community:"))
    if chosen is None or not activities.may_plan(ctx, chosen):
        raise InputError("dialog.error.choose")
    return chosen


def _starts(answer: Answer, ctx: Context, answers: Answers) -> str:
    try:
        return activities.read_start(ctx, bounded_text(answer, 60)).isoformat()
    except activities.FieldError as error:
        raise InputError(error.key, **error.params) from None


def _ends(answer: Answer, ctx: Context, answers: Answers) -> str:
    starts = datetime.fromisoformat(answers["starts"])
    try:
        return activities.read_end(ctx, bounded_text(answer, 60), starts).isoformat()
    except activities.FieldError as error:
        raise InputError(error.key, **error.params) from None


async def _start_examples(ctx: Context, answers: Answers) -> Mapping[str, Any]:
    return examples(activities.local_today(ctx) + timedelta(days=7))


DEPARTMENT_CHOICES = tuple(Choice(f"dept:{d}", f"department.{d}") for d in activities.DEPARTMENTS)


def _department(answer: Answer, ctx: Context, answers: Answers) -> str:
    value = (answer.option or "").removeprefix("dept:")
    if value not in activities.DEPARTMENTS:
        raise InputError("dialog.error.choose")
    return value


def _plan_of(answers: Answers) -> activities.Plan:
    return activities.Plan(
        community_id=int(answers["community"]),
        theme=answers["theme"],
        items=answers.get("items") or "",
        cost=Decimal(answers.get("cost") or 0),
        place=answers["place"],
        starts_at=datetime.fromisoformat(answers["starts"]),
        ends_at=datetime.fromisoformat(answers["ends"]),
        audience=answers.get("audience") or "",
        capacity=answers.get("capacity"),
        per_household=answers.get("per_household"),
        schedule=answers.get("schedule") or "",
        departments=activities.read_departments(list(answers.get("departments") or [])),
        prizes=answers.get("prizes") or "",
    )


async def _plan_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return activities.plan_params(_plan_of(answers))


async def _plan_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await activities.plan(ctx, _plan_of(answers))


PLAN = Flow(
    name=activities.PLAN_FLOW,
    title="activities.plan.title",
    steps=(
        Step(
            "community",
            "activities.prompt.community",
            parse=_community,
            choices=_community_choices,
        ),
        Step("theme", "activities.prompt.theme", parse=_text("theme")),
        Step("items", "activities.prompt.items", parse=_text("items"), optional=True),
        Step(
            "cost",
            "activities.prompt.cost",
            parse=_field(_cost, 30),
            optional=True,
            numeric=True,
        ),
        Step("place", "activities.prompt.place", parse=_text("place")),
        Step(
            "starts",
            "activities.prompt.starts",
            parse=_starts,
            prompt_params=_start_examples,
        ),
        Step("ends", "activities.prompt.ends", parse=_ends),
        Step("audience", "activities.prompt.audience", parse=_text("audience"), optional=True),
        Step(
            "capacity",
            "activities.prompt.capacity",
            parse=_field(_count, 20),
            optional=True,
            numeric=True,
        ),
        Step(
            "per_household",
            "activities.prompt.per_household",
            parse=_field(_count, 20),
            optional=True,
            numeric=True,
        ),
        Step("schedule", "activities.prompt.schedule", parse=_text("schedule"), optional=True),
        Step(
            "departments",
            "activities.prompt.departments",
            parse=_department,
            choices=DEPARTMENT_CHOICES,
            many=True,
            optional=True,
            collected="activities.departments.collected",
        ),
        Step("prizes", "activities.prompt.prizes", parse=_text("prizes"), optional=True),
    ),
    summary="activities.plan.summary",
    summarize=_plan_summary,
    finish=_plan_finish,
    start=_plan_start,
    in_menu=False,
)

# ---- signing up -----------------------------------------------------------------------------

PEOPLE_CHOICES = tuple(Choice(str(n), "activities.people.option", {"n": n}) for n in (1, 2, 3, 4))


async def _people(answer: Answer, ctx: Context, answers: Answers) -> int:
    """How many come: a number that fits the places left (and the household's limit);
    one that does not is said politely and asked again."""
    try:
        people = activities.read_people(answer.option or bounded_text(answer, 20))
    except activities.FieldError as error:
        raise InputError(error.key, **error.params) from None
    refused = await activities.people_refused(ctx, int(answers["_activity"]), people)
    if refused is not None:
        raise InputError(refused.key, **refused.params)
    return people


async def _places(ctx: Context, answers: Answers) -> Mapping[str, Any]:
    return {"theme": answers["_theme"], "places": answers["_places"]}


async def _signup_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"theme": answers["_theme"], "people": answers["people"]}


async def _signup_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await activities.sign_up(ctx, int(answers["_activity"]), int(answers["people"]))


async def _signup_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await activities.signup_begin(ctx, initial)
    if isinstance(found, dict) and isinstance(found.get("_places"), Text):
        places = found["_places"]
        found["_places"] = ctx.catalogs.text(ctx.locale, places.key, places.params)
    return found


SIGNUP = Flow(
    name=activities.SIGNUP_FLOW,
    title="activities.signup.title",
    steps=(
        Step(
            "people",
            "activities.prompt.people",
            parse=_people,
            choices=PEOPLE_CHOICES,
            prompt_params=_places,
            numeric=True,
        ),
    ),
    summary="activities.signup.summary",
    summarize=_signup_summary,
    finish=_signup_finish,
    start=_signup_start,
    in_menu=False,
    confirm=False,
)

# ---- the record afterwards ----------------------------------------------------------------


async def _record_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "theme": answers["_theme"],
        "record": answers["record"],
        "photos": len(answers.get("photos") or []),
    }


async def _record_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await activities.record(
        ctx, int(answers["_activity"]), answers["record"], list(answers.get("photos") or [])
    )


async def _record_theme(ctx: Context, answers: Answers) -> Mapping[str, Any]:
    return {"theme": answers["_theme"]}


RECORD = Flow(
    name=activities.RECORD_FLOW,
    title="activities.record.title",
    steps=(
        Step(
            "record",
            "activities.prompt.record",
            parse=_text("record"),
            prompt_params=_record_theme,
        ),
        Step(
            "photos",
            "activities.prompt.photos",
            parse=parsers.photo,
            many=True,
            optional=True,
        ),
    ),
    summary="activities.record.summary",
    summarize=_record_summary,
    finish=_record_finish,
    start=activities.record_begin,
    in_menu=False,
    in_groups=True,
)

# ---- the notice board renewed ---------------------------------------------------------


async def _board_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """The renewal card's "done" (`<ticket id>`): the photo is asked first."""
    ticket_id = row_id(initial or "")
    found = await tasks.may_finish(ctx, ticket_id) if ticket_id else [Reply("dialog.stale")]
    if isinstance(found, list):
        return found
    if not notice_board.is_renewal(found[0]):
        return [Reply("dialog.stale")]
    return {"_ticket": found[0].id, "_number": found[0].number}


async def _board_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "number": answers["_number"],
        "photos": len(answers.get("photos") or []),
        "note": answers.get("note") or Text("notice_board.renewed"),
    }


async def _board_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await notice_board.finish_renewal(
        ctx, int(answers["_ticket"]), list(answers.get("photos") or []), answers.get("note")
    )


BOARD_DONE = Flow(
    name=notice_board.DONE_FLOW,
    title="notice_board.done.title",
    steps=(
        Step("photos", "notice_board.prompt.photos", parse=parsers.photo, many=True),
        Step("note", "notice_board.prompt.note", parse=parsers.description, optional=True),
    ),
    summary="notice_board.done.summary",
    summarize=_board_summary,
    finish=_board_finish,
    start=_board_start,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="activities",
    flows=[PLAN, SIGNUP, RECORD, BOARD_DONE],
    commands=[Command("activities", activities.activities_command)],
    actions={
        activities.AnnounceActivity: activities.announce_activity,
        activities.CancelSignup: activities.cancel_signup,
        activities.JoinWaitlist: activities.join_waitlist,
    },
    jobs={
        activities.REMINDER_JOB: activities.reminder_job,
        notice_board.JOB: notice_board.board_job,
    },
    startup=[notice_board.book_all],
    for_staff=[
        StaffEntry(STAFF_ROLES, "activities.help"),
        StaffEntry(MANAGERS, menu=Choice(f"flow:{activities.PLAN_FLOW}", "activities.menu")),
    ],
)
