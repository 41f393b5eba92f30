"""What the desk's month-end analysis pages read (`/desk/reviews`): the reviews of the
communities the signed-in manager runs, one review in words, and its workbook to
download. Who sees a review is chat's rule (`month_review.review_for`): its community's
supervisors and directors."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handlers import month_review
from handlers.core.context import Context
from handlers.core.messages import Text
from handlers.month_review_files import write_review
from storage.models import Community, MonthReview


@dataclass
class ReviewView:
    review: MonthReview
    community: Community
    summary: Text
    problems: list[Text]
    reviewer: str
    repairs: int
    complaints: int


async def review_view(ctx: Context, review_id: int) -> ReviewView | None:
    found = await month_review.review_for(ctx, review_id)
    if found is None:
        return None
    review, community = found
    names = await month_review.staff_names(ctx, [review.reviewed_by])
    findings = review.findings
    return ReviewView(
        review=review,
        community=community,
        summary=month_review.summary_text(findings.get("summary", {})),
        problems=[month_review.problem_text(p) for p in findings.get("problems", [])],
        reviewer=names.get(review.reviewed_by, ""),
        repairs=int(findings.get("repairs", 0)),
        complaints=int(findings.get("complaints", 0)),
    )


def review_xlsx(view: ReviewView, ctx: Context) -> bytes:
    """The review's workbook as bytes, drawn for the page and kept nowhere (blocking: run
    it in a worker thread)."""
    locale = ctx.locale

    def label(key: str, **params: Any) -> str:
        return ctx.catalogs.text(locale, key, params)

    with tempfile.TemporaryDirectory(prefix="frontdesk-review-") as folder:
        path = Path(folder) / "review.xlsx"
        write_review(view.review, view.community.name, view.reviewer, label, ctx.settings.tz, path)
        return path.read_bytes()
