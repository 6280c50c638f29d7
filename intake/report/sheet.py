"""Spreadsheets the tool writes (report CSV, report.xlsx, 汇总表.xlsx): every cell passes ``textsafe.cell``
(in CSV with a ``'`` before a formula prefix; in xlsx as a string cell, kept as written, and marked
``quotePrefix`` when it looks like a formula).

Names, subjects and units come from senders; a reviewer opens these files in Excel or WPS, so a value
such as ``=HYPERLINK(...)`` must be shown as text, never run, and a stray control character must not
make the whole file unwritable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from core.textsafe import cell, looks_like_formula


def csv_text(header: Sequence[str], rows: Iterable[Sequence], text_columns: Collection[int] = ()) -> str:
    """A CSV table in UTF-8 with BOM (so that Chinese Excel opens it correctly): empty for None, formula prefixes
    neutralised, ``text_columns`` (phones) kept as text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in (header, *rows):
        writer.writerow(["" if value is None else cell(value, text=index in text_columns)
                         for index, value in enumerate(values)])
    return "\ufeff" + buffer.getvalue()


def write_sheet(path: Path, title: str, header: Sequence[str], rows: Iterable[Sequence], *, widths: Sequence[int],
                text_columns: Collection[int] = (), wrap_columns: Collection[int] = (),
                number_formats: Mapping[int, str] | None = None, freeze: str | None = None,
                title_row: str | None = None) -> Path:
    """Write one sheet: an optional ``title_row``, a bold header, then ``rows``. Strings are string cells, never
    formulas; ``text_columns`` get Excel's text format ``@`` (a phone keeps its leading zero, never 1.38E+10)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.cell_range import CellRange

    book = Workbook(write_only=True)   # streams rows: a contest's worth of submissions stays small in memory
    ws = book.create_sheet(title)
    for index, width in enumerate(widths):
        ws.column_dimensions[get_column_letter(index + 1)].width = width
    if freeze:
        ws.freeze_panes = freeze
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")

    def make(value, index: int | None):
        as_text = index in text_columns
        made = WriteOnlyCell(ws, value=cell(value, text=as_text, quote_formulas=False))
        if isinstance(made.value, str):
            made.data_type = "s"   # written as an inline string: a value starting with = is text, not a formula
            if looks_like_formula(made.value):
                # A string cell is text only until someone edits it (the bureau edits 汇总表 before sending it
                # on): Excel and WPS then read =… as a formula, unless the cell carries the quote prefix.
                made.quotePrefix = True
        if as_text:
            made.number_format = "@"
        elif number_formats and index in number_formats:
            made.number_format = number_formats[index]
        return made

    if title_row is not None:
        ws.merged_cells.add(CellRange(min_col=1, min_row=1, max_col=len(header), max_row=1))
        made = make(title_row, None)
        made.font = Font(bold=True, size=14)
        ws.append([made])
    header_cells = [make(label, None) for label in header]
    for made in header_cells:
        made.font = bold
    ws.append(header_cells)
    for row in rows:
        cells = [make(value, index) for index, value in enumerate(row)]
        for index in wrap_columns:
            cells[index].alignment = wrap
        ws.append(cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
