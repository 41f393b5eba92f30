"""`/my`: a resident's tickets, with buttons to open, urge, cancel, or add a note or photo;
an approved release slip's code and QR image can be shown again; below, their move-in while
it is open and their flat's custody while it lasts."""

from __future__ import annotations

from dialogs.engine import Command
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import my
from handlers.core.context import Context


def note_content(answer: Answer, ctx: Context, answers: Answers) -> dict[str, str]:
    """A note is words or a photo (with its caption, if any)."""
    if answer.photo:
        return {"photo": answer.photo, "text": (answer.text or "").strip()[:500]}
    if answer.option:
        raise InputError("dialog.error.text_expected")
    return {"text": bounded_text(answer, 500)}


NOTE = Flow(
    name="note",
    title="my.note.title",
    steps=(Step("content", "my.note.prompt", parse=note_content),),
    summary="my.note.summary",
    summarize=my.note_summary,
    finish=my.note_finish,
    start=my.note_start,
    in_menu=False,
)

FEATURE = Feature(
    name="my",
    flows=[NOTE],
    commands=[Command("my", my.list_command)],
    actions={
        my.MyList: my.list_command,
        my.MyView: my.view,
        my.MyUrge: my.urge,
        my.MyCancel: my.cancel,
        my.MyCode: my.show_code,
    },
    menu=[my.MyList().choice("my.title")],
)
