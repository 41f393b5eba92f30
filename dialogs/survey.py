"""The annual owners' opinion survey (业主意见征询表).

Owners answer it in chat: the flow below asks, for the unit chosen, a score and an
optional comment for each area the survey asks about (the steps of the areas it leaves
out do not apply), then shows the answers to confirm; it starts from the invitation's
button. Managers run it with `/survey` (the service desk sees its state). The jobs send reminders,
close it at its end and make the analysis. See handlers/survey*.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialogs.engine import Command, ReadFirst, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import survey, survey_analysis, survey_answer, survey_office, survey_send
from handlers.core.context import Context
from handlers.core.messages import Choice
from handlers.core.roles import MANAGERS, STAFF_ROLES
from handlers.rules import survey as rules


async def chosen_unit(answer: Answer, ctx: Context, answers: Answers) -> dict[str, Any]:
    found = await survey_answer.chosen_invite(ctx, answer.option or "")
    if found is None:
        raise InputError("dialog.error.choose")
    return found


def score(answer: Answer, ctx: Context, answers: Answers) -> int:
    found = rules.valid_score(answer.option or answer.text or "")
    if found is None:
        raise InputError("opinion.error.score")
    return found


def comment(answer: Answer, ctx: Context, answers: Answers) -> str:
    return bounded_text(answer, rules.COMMENT_LIMIT)


def _params(area: str) -> Any:
    async def params(ctx: Context, answers: Answers) -> Mapping[str, Any]:
        return survey_answer.question_params(area, answers)

    return params


def _steps() -> tuple[Step, ...]:
    steps = [
        Step(
            "invite",
            "opinion.unit.prompt",
            parse=chosen_unit,
            choices=survey_answer.unit_choices,
        )
    ]
    for area in rules.AREAS:
        steps.append(
            Step(
                f"rate_{area}",
                "opinion.rate.prompt",
                parse=score,
                choices=survey_answer.SCORE_CHOICES,
                when=survey_answer.asks(area),
                prompt_params=_params(area),
            )
        )
        steps.append(
            Step(
                f"note_{area}",
                "opinion.note.prompt",
                parse=comment,
                when=survey_answer.asks(area),
                prompt_params=_params(area),
                optional=True,
            )
        )
    return tuple(steps)


ANSWER = Flow(
    name=survey.FLOW,
    title="opinion.flow.title",
    steps=_steps(),
    summary="opinion.summary",
    summarize=survey_answer.summarize,
    finish=survey_answer.submit,
    start=survey_answer.begin,
    in_menu=False,
)

FEATURE = Feature(
    name="survey",
    flows=[ANSWER],
    commands=[Command("survey", survey_office.survey_command, roles=STAFF_ROLES)],
    actions={
        survey_office.CreateSurvey: survey_office.create,
        survey_office.OpenSurvey: survey_office.open_survey,
        survey_office.CloseSurvey: survey_office.close,
        survey_office.SendAnalysis: survey_office.send_analysis,
    },
    jobs={
        survey.REMIND_JOB: survey_send.remind_job,
        survey.CLOSE_JOB: survey_office.close_job,
        survey.ANALYSIS_JOB: ReadFirst(survey_analysis.read_job, survey_analysis.send_job),
    },
    for_staff=[
        StaffEntry(
            MANAGERS, help="opinion.help.managers", menu=Choice("cmd:survey", "opinion.menu")
        ),
    ],
)
