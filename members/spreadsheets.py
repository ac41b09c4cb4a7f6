"""Spreadsheets fit to hand in: the one way the portal writes an XLSX sheet.

Used by the term workbook (reports/exports.py, a million roster rows at district
scale) and by every admin export (members.resources.ChineseXLSX). The writer is
rust_xlsxwriter in constant-memory mode, through the ``rvgsrust_xlsxwriter``
binding (openpyxl stays for reading XLSX: imports and tests); bench/exports.py
compares it with openpyxl and XlsxWriter on the same rows.

- Cells are typed. Counts are integers, amounts numbers, rates fractions shown
  with ``0.0%``; dates and times are real date cells shown as 2026年9月1日 13:00,
  in Shanghai time (Excel has no time zones: a date cell holds the serial number
  of the wall-clock time), so a sheet says 北京时间 where it matters. Text goes
  through the one formula-escaping rule, ``members.privacy.spreadsheet_safe``.
- Column widths fit the content, a CJK character counting double; a column is at
  most ``MAX_WIDTH`` wide, and text in a column that hit the limit wraps instead
  of being cut off.
- The header row is bold and frozen; printing is A4 landscape, one page wide, as
  many pages long as needed, the header row repeated on every page, the sheet
  name and page numbers in the footer.

A sheet streams its rows to the file, so its column formats, panes and print
setup are set before its first row; only the widths may come later, until the
file is saved. ``measure_widths`` computes them from rows in memory; a streamed
sheet has the database measure each text cell with ``DisplayWidth`` (the SQL
twin of ``display_width``) in the query of its rows and uses ``fit_widths``.
A streamed sheet's rows come from the database as cells already (text escaped by
``SpreadsheetSafe``, times as date serials by ``ExcelSerial``, the SQL twin of
``excel_serial``) and go to the writer a batch at a time.
"""

from __future__ import annotations

import datetime
import io
import math
import operator
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO
from zoneinfo import ZoneInfo

from django.db.models import CharField, FloatField, Func, IntegerField
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


def cell_text(value: str) -> str:
    """What a text cell holds: the one escaping rule, then line breaks as a cell
    has them (LF; XML would turn a CR into LF anyway, and a writer that keeps it
    as ``_x000D_`` leaves readers such as openpyxl's with the escape)."""
    return spreadsheet_safe(value).replace("\r\n", "\n").replace("\r", "\n")


class CellText(Func):
    """SQL twin of :func:`cell_text`'s line breaks, over text already escaped by
    ``members.privacy.SpreadsheetSafe`` (which the CSV shares)."""

    output_field = CharField()
    template = "replace(replace(%(expressions)s, E'\\r\\n', E'\\n'), E'\\r', E'\\n')"

    def as_sqlite(self, compiler, connection, **extra):
        template = "replace(replace(%(expressions)s, char(13, 10), char(10)), char(13), char(10))"
        return self.as_sql(compiler, connection, template=template, **extra)


#: Day 0 of Excel's date serials (as every date after 1 March 1900 counts them).
_EXCEL_EPOCH = datetime.datetime(1899, 12, 30)


def excel_serial(value):
    """A date or datetime as the number a date cell holds: days since Excel's
    epoch, the time of day as the fraction, in Shanghai wall-clock time."""
    if isinstance(value, datetime.datetime):
        delta = local_naive(value) - _EXCEL_EPOCH
        return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    if isinstance(value, datetime.date):
        return (value - _EXCEL_EPOCH.date()).days
    return value


class ExcelSerial(Func):
    """SQL twin of :func:`excel_serial` for a timestamp column: the database
    turns it into the date cell's number (Shanghai wall-clock time), so a
    streamed row needs no conversion in Python. NULL stays NULL (an empty cell)."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        template = (
            "(EXTRACT(EPOCH FROM (%(expressions)s AT TIME ZONE 'Asia/Shanghai')) / 86400"
            " + 25569)::double precision"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "(julianday(%(expressions)s, '+8 hours') - 2415018.5)"
        return self.as_sql(compiler, connection, template=template, **extra)


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
        return cell_text(value)
    return value


def _number(value):
    return float(value) if isinstance(value, Decimal) else value


def _date(value):
    return excel_serial(value) if isinstance(value, datetime.date) else _text(value)


def _text(value):
    # A column of mixed values (an admin export's) may hold any of them.
    if isinstance(value, str):
        return cell_text(value)
    if isinstance(value, Decimal):
        return float(value)
    return local_naive(value)


#: How SheetWriter.append converts a value of each kind (as cell_value does,
#: dates and times on to the date cell's number).
_CONVERT = {
    TEXT: _text,
    NUMBER: _number,
    PERCENT: _number,
    DATE: _date,
    DATETIME: _date,
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


class Workbook:
    """An XLSX file being written, with the formats its sheets share.

    The writer is rust_xlsxwriter (through the ``rvgsrust_xlsxwriter`` binding):
    every sheet is in constant-memory mode, so a row goes to a temporary file as
    soon as the next one starts, and ``save`` zips them. A cell written without
    a format takes its column's (the number format of a typed column, wrapping
    in a column at ``MAX_WIDTH``), so a data row is one call with plain values.
    """

    def __init__(self):
        from rvgsrust_xlsxwriter import Workbook as RustWorkbook

        self._book = RustWorkbook()
        self._formats: dict[tuple, object] = {}

    def format(self, **props):
        """The one format of the workbook with these properties (bold, size,
        num_format, wrap, align, valign, fill, top, bottom: a border colour)."""
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            fmt = self._book.add_format()
            if props.get("bold"):
                fmt.set_bold()
            if "size" in props:
                fmt.set_font_size(props["size"])
            if "num_format" in props:
                fmt.set_num_format(props["num_format"])
            if props.get("wrap"):
                fmt.set_text_wrap()
            if "align" in props:
                fmt.set_align(props["align"])
            if "valign" in props:
                fmt.set_vertical_align(props["valign"])
            if "fill" in props:
                fmt.set_pattern("solid")
                fmt.set_background_color(props["fill"])
            if "top" in props:
                fmt.set_top_border("thin")
                fmt.set_border_top_color(props["top"])
            if "bottom" in props:
                fmt.set_bottom_border("thin")
                fmt.set_border_bottom_color(props["bottom"])
            self._formats[key] = fmt
        return self._formats[key]

    def add_sheet(self, title: str):
        return self._book.add_worksheet(sheet_title(title), constant_memory=True)

    def save(self, out: IO[bytes] | str | os.PathLike) -> None:
        """Write the file to a path (streamed from the sheets' temporary files)
        or, for small workbooks, into a binary file object."""
        if isinstance(out, (str, os.PathLike)):
            self._book.close(str(out))
        else:
            out.write(self._book.save_to_buffer())


#: The header row's grey lines.
_LINE = "#808080"


class SheetWriter:
    """One sheet: heading lines, a header row, typed rows and a totals row, set up
    completely before the first row (a constant-memory sheet writes each row out
    when the next one starts, so nothing above it can change later)."""

    def __init__(
        self,
        workbook: Workbook,
        *,
        title: str,
        columns: Sequence[Column],
        widths: Sequence[int] | None,
        heading: Sequence[str] = (),
    ):
        """``widths=None``: a streamed sheet's, known after its last row and set
        with ``set_widths``; every text column wraps then."""
        self.columns = list(columns)
        self.book = workbook
        self.sheet = sheet = workbook.add_sheet(title)
        #: The header row's number (1-based, as people count rows).
        self.header_row = len(heading) + 1
        #: The next row to write (0-based, as the writer counts them).
        self.row = 0

        if widths is not None:
            self.set_widths(widths)
        for index, column in enumerate(self.columns):
            width = MAX_WIDTH if widths is None else widths[index]
            # The format of every data cell of the column (they are written
            # without one). "General" shows an integer as it is, so counts and
            # ids stay unstyled; plain text that fits needs no style either.
            if column.kind in NUMBER_FORMATS and column.kind != INTEGER:
                sheet.set_column_format(
                    index, workbook.format(num_format=NUMBER_FORMATS[column.kind])
                )
            elif column.kind == TEXT and width >= MAX_WIDTH:
                sheet.set_column_format(index, workbook.format(wrap=True))
        sheet.freeze_panes(self.header_row, 0)
        # A4 landscape, one page wide and as many long as it takes
        # (fit to 1 × 0 pages), the header row on top of every page.
        sheet.set_landscape()
        sheet.set_paper_size(9)  # A4
        sheet.set_print_fit_to_pages(1, 0)
        sheet.set_repeat_rows(self.header_row - 1, self.header_row - 1)
        sheet.set_print_center_horizontally(True)
        sheet.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3)  # left right top bottom header footer
        sheet.set_footer("&L&A&R" + _("第 &P 页，共 &N 页"))

        for number, line in enumerate(heading):
            style = workbook.format(bold=True, size=14) if number == 0 else workbook.format(size=10)
            sheet.write(self.row, 0, cell_text(line), style)
            self.row += 1
        header = workbook.format(
            bold=True,
            fill="#DDEBF7",
            top=_LINE,
            bottom=_LINE,
            align="center",
            valign="vcenter",
            wrap=True,
        )
        for index, column in enumerate(self.columns):
            sheet.write(self.row, index, cell_text(column.title), header)
        self.row += 1
        self._convert = [_CONVERT.get(column.kind) for column in self.columns]

    def set_widths(self, widths: Sequence[int]) -> None:
        """Column widths in digits of the default font (7 pixels each): set in
        pixels, the file stores exactly this width (a width in characters would
        gain the writer's padding of 5 pixels). Until the file is saved."""
        for index, width in enumerate(widths):
            self.sheet.set_column_width_pixels(index, round(width * 7))

    def append(self, row: Sequence) -> None:
        """A row of Python values (numbers, dates, text), typed by the columns."""
        values = []
        for convert, value in zip(self._convert, row, strict=False):
            if value is None or value == "":
                values.append(None)
            else:
                values.append(value if convert is None else convert(value))
        self.sheet.write_row(self.row, 0, values)
        self.row += 1

    def append_cells(self, rows: list[list]) -> None:
        """Rows (lists) whose values are cells already, as the database formats
        them: text escaped, numbers as they are, times as date serials
        (``ExcelSerial``). One call for the whole batch, which the writer takes
        without Python."""
        if rows:
            self.sheet.write_rows(self.row, 0, rows)
            self.row += len(rows)

    def append_totals(self, row: Sequence) -> None:
        """The totals row: bold, a line above, the columns' number formats."""
        for index, (column, value) in enumerate(zip(self.columns, row, strict=False)):
            props = {"bold": True, "top": _LINE}
            if column.kind in NUMBER_FORMATS:
                props["num_format"] = NUMBER_FORMATS[column.kind]
            value = cell_value(value, column.kind)
            if column.kind in (DATE, DATETIME):
                value = excel_serial(value)
            self.sheet.write(self.row, index, value, self.book.format(**props))
        self.row += 1


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

    def add_rows(self, rows: Sequence[Sequence]) -> None:
        """``add`` for a batch of rows, a column at a time, in C (``countOf``,
        ``filter``): no Python frame per row (the workbook's writer calls it for
        every roster batch, twice)."""
        self.rows += len(rows)
        for index in self.sums:
            column = map(operator.itemgetter(index), rows)
            wanted = self.columns[index].count_value
            if wanted is not None:
                self.sums[index] += operator.countOf(column, wanted)
            else:
                # filter(None) drops None and "" (empty cells), and zeros, which
                # add nothing.
                self.sums[index] += sum(filter(None, column))

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
    kinds = []
    for index in range(len(headers)):
        found = {kind_of(row[index]) for row in rows if row[index] not in (None, "")}
        kinds.append(found.pop() if len(found) == 1 else TEXT)
    columns = [Column(str(h), kind) for h, kind in zip(headers, kinds, strict=True)]
    workbook = Workbook()
    writer = SheetWriter(
        workbook, title=title, columns=columns, widths=measure_widths(columns, rows)
    )
    for row in rows:
        writer.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
