"""The month-end analysis (月度回访小结与问题分析): the job that makes it on the 1st of each
month (and books the next), the supervisor's comment (a short flow), the forward to the
director (a button), and `/reviews` to see a month's review again."""

from __future__ import annotations

from typing import Any

from dialogs.engine import Command, ReadFirst, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, Step, bounded_text
from handlers import month_review
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Reply
from handlers.core.roles import MANAGERS


async def _comment_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    review_id = row_id(initial or "")
    found = await month_review.review_for(ctx, review_id) if review_id else None
    if found is None:
        return [Reply("dialog.not_allowed")]
    review, community = found
    return {"_review": review.id, "_month": review.month, "_community": community.name}


def _comment(answer: Answer, ctx: Context, answers: Answers) -> str:
    return bounded_text(answer, 2000)


async def _comment_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "community": answers["_community"],
        "month": answers["_month"],
        "comment": answers["comment"],
    }


async def _comment_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await month_review.comment(ctx, answers["_review"], answers["comment"])


COMMENT = Flow(
    name=month_review.COMMENT_FLOW,
    title="month_review.comment.title",
    steps=(Step("comment", "month_review.prompt.comment", parse=_comment),),
    summary="month_review.comment.summary",
    summarize=_comment_summary,
    finish=_comment_finish,
    start=_comment_start,
    in_menu=False,
)

FEATURE = Feature(
    name="month_review",
    flows=[COMMENT],
    commands=[Command("reviews", month_review.reviews_command, roles=MANAGERS)],
    actions={month_review.Forward: month_review.forward},
    # Drawn on a read-only snapshot first, then stored and pushed in a short transaction.
    jobs={month_review.JOB: ReadFirst(month_review.read_month, month_review.send_month)},
    startup=[month_review.schedule_monthly],
    for_staff=[StaffEntry(MANAGERS, "month_review.help")],
)
