"""Spreadsheets fit to hand in: the one way the portal writes an XLSX sheet.

Used by the term workbook (reports/exports.py, streaming in openpyxl's write-only
mode at district scale) and by every admin export (members.resources.ChineseXLSX).

- Cells are typed. Counts are integers, amounts numbers, rates fractions shown
  with ``0.0%``; dates and times are real date cells shown as 2026年9月1日 13:00,
  in Shanghai time and naive in the cell (Excel has no time zones), so a sheet
  says 北京时间 where it matters. Text goes through the one formula-escaping rule,
  ``members.privacy.spreadsheet_safe``.
- Column widths fit the content, a CJK character counting double; a column is at
  most ``MAX_WIDTH`` wide, and text in a column that hit the limit wraps instead
  of being cut off.
- The header row is bold and frozen; printing is A4 landscape, one page wide, as
  many pages long as needed, the header row repeated on every page, the sheet
  name and page numbers in the footer.

Write-only mode streams rows to the file, so everything about a sheet (widths,
panes, print setup) is set before its first row: ``SheetWriter`` takes the widths
up front. ``measure_widths`` computes them from rows in memory; a streamed sheet
asks the database for the widest text of each column with ``DisplayWidth``
(the SQL twin of ``display_width``) and uses ``fit_widths``.
"""

from __future__ import annotations

import datetime
import io
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Func, IntegerField
from django.utils.translation import gettext as _

from .privacy import spreadsheet_safe

SHANGHAI = ZoneInfo("Asia/Shanghai")

TEXT = "text"
INTEGER = "integer"  # counts and ids
NUMBER = "number"  # amounts with one decimal (credits)
PERCENT = "percent"  # a fraction: 0.767 is shown as 76.7%
DATE = "date"
DATETIME = "datetime"

NUMBER_FORMATS = {
    INTEGER: "0",
    NUMBER: "0.0",
    PERCENT: "0.0%",
    DATE: 'yyyy"年"m"月"d"日"',
    DATETIME: 'yyyy"年"m"月"d"日" hh:mm',
}

#: How wide a typed cell reads at most (2026年12月31日 23:59, 100.0%, …), for
#: columns that are not measured value by value.
TYPED_WIDTHS = {INTEGER: 8, NUMBER: 10, PERCENT: 6, DATE: 15, DATETIME: 20}

#: Width units are the width of a digit in the default font; a CJK character is
#: about two of them. Wider content wraps instead of stretching the page: at 24
#: (twelve CJK characters) the eleven columns of the roster still print at about
#: 70% on A4 landscape, where wider columns would shrink the type unreadably.
MIN_WIDTH = 6
MAX_WIDTH = 24
#: An Excel sheet name has at most 31 characters and none of these.
_SHEET_TITLE_FORBIDDEN = str.maketrans({c: "－" for c in "\\/*?:[]"})


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = TEXT
    #: Summed in the totals row (numbers).
    total: bool = False
    #: Counted in the totals row: how many rows hold this text (「出席 5」).
    count_value: str | None = None


def display_width(text: str) -> int:
    """Columns the text takes in a spreadsheet: wide characters (CJK, full-width,
    and the ambiguous ones such as “” — which Chinese fonts draw wide) count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in text)


class DisplayWidth(Func):
    """SQL twin of :func:`display_width`, for the widest cell of a streamed column.

    In UTF-8 an ASCII character is one byte and a CJK or full-width one three, so
    (bytes + characters) / 2 is 1 and 2 for them: exact for the names, titles and
    places the portal holds (tested against Python), a little wide for accented
    Latin letters.
    """

    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        template = "((octet_length(%(expressions)s) + char_length(%(expressions)s) + 1) / 2)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "((length(CAST(%(expressions)s AS BLOB)) + length(%(expressions)s) + 1) / 2)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sql(self, compiler, connection, function=None, template=None, **extra):
        # The expression appears twice in the template: compile it once, repeat
        # its parameters.
        sql, params = compiler.compile(self.source_expressions[0])
        template = template or "char_length(%(expressions)s)"
        return template % {"expressions": sql}, tuple(params) * template.count("%(expressions)s")


def local_naive(value):
    """A datetime as Shanghai wall-clock time without a zone (what a cell can hold)."""
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(SHANGHAI).replace(tzinfo=None)
    return value


def kind_of(value) -> str:
    """The kind of a Python value, for tables whose columns are not declared."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return TEXT
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, (float, Decimal)):
        return NUMBER
    if isinstance(value, datetime.datetime):
        return DATETIME
    if isinstance(value, datetime.date):
        return DATE
    return TEXT


def cell_value(value, kind: str):
    """What goes into the cell: typed values as they are, text through the one rule."""
    if value is None or value == "":
        return None
    if kind in (DATE, DATETIME):
        return local_naive(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return value


def _number(value):
    return float(value) if isinstance(value, Decimal) else value


#: How SheetWriter.append converts a value of each kind (as cell_value does).
_CONVERT = {
    TEXT: spreadsheet_safe,
    NUMBER: _number,
    PERCENT: _number,
    DATE: local_naive,
    DATETIME: local_naive,
}


def shown_text(value, kind: str) -> str:
    """How a cell reads on screen, to measure it."""
    if value is None:
        return ""
    if kind in (DATE, DATETIME) and isinstance(value, datetime.date):
        text = f"{value.year}年{value.month}月{value.day}日"
        return text + " 00:00" if kind == DATETIME else text
    if kind == PERCENT and isinstance(value, (int, float)):
        return f"{value * 100:.1f}%"
    if kind == NUMBER and isinstance(value, (int, float)):
        return f"{value:.1f}"
    return str(value)


def _fit(width: int) -> int:
    # A CJK glyph is a little more than two digits wide, and a cell has padding.
    return min(MAX_WIDTH, max(MIN_WIDTH, math.ceil(width * 1.05) + 1))


def fit_widths(columns: Sequence[Column], content: Sequence[int | None]) -> list[int]:
    """Widths from the widest content of each column (None: the kind's usual width)."""
    widths = []
    for column, width in zip(columns, content, strict=True):
        if width is None:
            width = TYPED_WIDTHS.get(column.kind, 0)
        if column.count_value is not None:
            # the totals row's 「出席 12345」
            width = max(width, display_width(column.count_value) + 8)
        widths.append(_fit(max(display_width(column.title), width)))
    return widths


def measure_widths(columns: Sequence[Column], rows: Iterable[Sequence]) -> list[int]:
    """Widths that fit the titles and every value of ``rows`` (totals rows included)."""
    content = [0] * len(columns)
    for row in rows:
        for index, (column, value) in enumerate(zip(columns, row, strict=False)):
            text = shown_text(cell_value(value, column.kind), column.kind)
            # A multi-line cell is as wide as its longest line.
            width = max((display_width(line) for line in text.splitlines()), default=0)
            if width > content[index]:
                content[index] = width
    return fit_widths(columns, content)


def sheet_title(title: str) -> str:
    return str(title).translate(_SHEET_TITLE_FORBIDDEN)[:31]


class SheetWriter:
    """One sheet of a write-only workbook: heading lines, a header row, typed rows
    and a totals row, set up completely before the first row (write-only mode
    writes the sheet's top, panes and column widths included, with it)."""

    def __init__(
        self,
        workbook,
        *,
        title: str,
        columns: Sequence[Column],
        widths: Sequence[int],
        heading: Sequence[str] = (),
    ):
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet.properties import PageSetupProperties
        from openpyxl.worksheet.worksheet import Worksheet

        self._new_cell = WriteOnlyCell
        self.columns = list(columns)
        self.sheet = sheet = workbook.create_sheet(sheet_title(title))
        self.header_row = len(heading) + 1

        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = f"A{self.header_row + 1}"
        # A4 landscape, one page wide and as many long as it takes
        # (fitToHeight=0), the header row on top of every page.
        sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.print_title_rows = f"{self.header_row}:{self.header_row}"
        sheet.print_options.horizontalCentered = True
        sheet.page_margins.left = sheet.page_margins.right = 0.4
        sheet.page_margins.top = sheet.page_margins.bottom = 0.6
        sheet.oddFooter.left.text = "&A"
        sheet.oddFooter.right.text = _("第 &P 页，共 &N 页")

        for number, line in enumerate(heading):
            cell = WriteOnlyCell(sheet, value=spreadsheet_safe(line))
            cell.font = Font(bold=True, size=14) if number == 0 else Font(size=10)
            sheet.append([cell])

        thin = Side(style="thin", color="808080")
        header = []
        for column in self.columns:
            cell = WriteOnlyCell(sheet, value=spreadsheet_safe(column.title))
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDEBF7")
            cell.border = Border(top=thin, bottom=thin)
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            header.append(cell)
        sheet.append(header)

        # One styled cell per typed or wrapped column, reused for every row:
        # write-only mode writes a row out as soon as it is appended, so the
        # cell is free again at once. Plain text that fits needs no style, and
        # leaving it unstyled keeps a million-row sheet fast.
        wrap = Alignment(wrap_text=True)
        #: Per column: the reused styled cell (None: a plain value) and the
        #: conversion of the value (None: as it is).
        self._plan = []
        for column, width in zip(self.columns, widths, strict=True):
            cell = None
            if column.kind == INTEGER:
                pass  # "General" shows an integer as it is: no style, faster
            elif column.kind in NUMBER_FORMATS:
                cell = WriteOnlyCell(sheet)
                cell.number_format = NUMBER_FORMATS[column.kind]
            elif width >= MAX_WIDTH:
                cell = WriteOnlyCell(sheet)
                cell.alignment = wrap
            self._plan.append((cell, _CONVERT.get(column.kind)))
        self._total_font = Font(bold=True)
        self._total_border = Border(top=thin)

    def append(self, row: Sequence) -> None:
        values = []
        for (template, convert), value in zip(self._plan, row, strict=False):
            if value is None or value == "":
                values.append(None)
                continue
            if convert is not None:
                value = convert(value)
            if template is None:
                values.append(value)
            else:
                template.value = value
                values.append(template)
        self.sheet.append(values)

    def append_totals(self, row: Sequence) -> None:
        """The totals row: bold, a line above, the columns' number formats."""
        values = []
        for column, value in zip(self.columns, row, strict=False):
            cell = self._new_cell(self.sheet, value=cell_value(value, column.kind))
            cell.font = self._total_font
            cell.border = self._total_border
            if column.kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[column.kind]
            values.append(cell)
        self.sheet.append(values)


class Totals:
    """The totals of a sheet's ``total`` and ``count_value`` columns, added up from
    the rows as they are written: the totals row is exactly the sum of the rows
    above it, with no second query over a million rows."""

    def __init__(self, columns: Sequence[Column]):
        self.columns = list(columns)
        self.sums = {i: 0 for i, c in enumerate(columns) if c.total or c.count_value}
        self.rows = 0

    def add(self, row: Sequence) -> None:
        self.rows += 1
        for index in self.sums:
            value, column = row[index], self.columns[index]
            if column.count_value is not None:
                self.sums[index] += value == column.count_value
            elif value is not None and value != "":
                self.sums[index] += value

    def cells(self, label: str) -> list:
        """The totals row: ``label`` in the first column, then the totals."""
        cells: list = [None] * len(self.columns)
        cells[0] = label
        for index, value in self.sums.items():
            column = self.columns[index]
            if column.count_value is not None:
                cells[index] = f"{column.count_value} {value}"
            else:
                cells[index] = value
        return cells


def table_xlsx_bytes(*, title: str, headers: Sequence[str], rows: Sequence[Sequence]) -> bytes:
    """A one-sheet workbook of a small table in memory (the admin's exports): the
    header in row 1 (so the file imports again), each column's kind taken from its
    values, widths fitted to every row."""
    from openpyxl import Workbook

    kinds = []
    for index in range(len(headers)):
        found = {kind_of(row[index]) for row in rows if row[index] not in (None, "")}
        kinds.append(found.pop() if len(found) == 1 else TEXT)
    columns = [Column(str(h), kind) for h, kind in zip(headers, kinds, strict=True)]
    workbook = Workbook(write_only=True)
    writer = SheetWriter(
        workbook, title=title, columns=columns, widths=measure_widths(columns, rows)
    )
    for row in rows:
        writer.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
