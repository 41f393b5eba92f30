"""Text bound for a spreadsheet cell: what people typed stays text, never a formula.

A ticket description such as `=HYPERLINK("http://x","click")` or `=cmd|' /C calc'!A0`
would otherwise open as a live formula (openpyxl itself stores any string that starts
with `=` as one), and a spreadsheet program also reads `+ - @` and a leading tab or
carriage return as the start of a formula when the text is edited or saved as CSV. As
OWASP ("CSV injection") and ASVS 1.2.10 advise, such text is written with a leading
apostrophe, so it shows as typed and is never evaluated.
"""

from __future__ import annotations

import re

# The first character that makes a spreadsheet read a formula (also after spaces, which
# Excel skips when a cell is edited), or a leading tab or line break.
_FORMULA_START = re.compile(r"^(?:[\t\r\n]|[ \u3000]*[=+\-@])")
# What an XLSX file cannot hold (XML 1.0): openpyxl refuses these, which would let one
# hostile message stop the whole report from being written.
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def as_text(text: str) -> str:
    """`text` as a cell shows it: never read as a formula, and always writable."""
    text = _UNWRITABLE.sub("", text)
    return "'" + text if _FORMULA_START.match(text) else text
