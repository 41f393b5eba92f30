"""Files at the edge: what the office reads in and what it is handed back.

The use-cases (`handlers/report.py`, `handlers/roster.py`) gather figures and check
rows; the modules here only turn data into files and files into data, and know
nothing of chats, the store or the bot:

- `tables.py`: a roster file (CSV or Excel) read, within limits, into header cells and
  rows of cells;
- `month.py`: what the monthly report shows (`MonthData`), gathered before drawing;
- `chart.py`: the report's chart (PNG, in Chinese on any machine);
- `workbook.py`: the report's workbook (XLSX), people's text kept as text;
- `files.py`: writing a file so that a reader never sees half of it.
"""
