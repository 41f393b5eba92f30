"""Questions (咨询): pick a common topic for an answer at once, or ask anything else, which
the service desk answers by a promised time (`/answer <number> <text>`)."""

from __future__ import annotations

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import question
from handlers.core.context import Context
from handlers.core.messages import Choice
from handlers.core.roles import STAFF_ROLES


async def topic(answer: Answer, ctx: Context, answers: Answers) -> str:
    """`other`, or a question typed instead of a topic; a common topic is answered.

    The answer to a common topic comes back the way a step is asked again (an
    `InputError` carrying the answer's key), so the topics are offered once more for
    the next question, and nothing is submitted.
    """
    if answer.option:
        chosen = answer.option.removeprefix("topic:")
    else:
        text = bounded_text(answer, 1000, minimum=2)
        chosen = question.topic_in(ctx, text) or text
    if chosen in question.ANSWERS:
        reply = await question.faq(ctx, chosen)
        raise InputError(reply.key, **reply.params)
    return chosen


def _asks_other(answers: Answers) -> bool:
    return answers.get("topic") == question.OTHER


QUESTION = Flow(
    name="question",
    title="question.title",
    steps=(
        Step(
            "topic",
            "question.topic.prompt",
            parse=topic,
            choices=tuple(Choice(f"topic:{t}", key) for t, key in question.TOPIC_LABELS.items()),
        ),
        Step("question", "question.text.prompt", parse=parsers.description, when=_asks_other),
    ),
    summary="question.summary",
    summarize=question.summarize,
    finish=question.submit,
    detours=True,
    start=question.begin,
)

FEATURE = Feature(
    name="question",
    flows=[QUESTION],
    commands=[Command("answer", question.answer_command, roles=STAFF_ROLES)],
    for_staff=[StaffEntry(STAFF_ROLES, "question.help.answer")],
)
