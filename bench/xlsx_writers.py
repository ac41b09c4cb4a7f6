"""The workbook writers compared on the same rows (run by bench/exports.py, one child
process per writer so that each one's peak memory is its own).

    python -m bench.xlsx_writers WRITER ROWS OUT.xlsx

Every writer gets the first ROWS rows of the district's roster sheet as the
portal's workbook reads them (``reports.exports.roster_rows``: the database
formats every cell, times as date serials), 5,000 at a time from a server-side
cursor, and writes them with the portal's formatting: the columns' widths, the
date format on the time columns, wrapping in the columns at the width limit, a
bold header row, frozen, A4 landscape one page wide with the header repeated.
``portal`` is members/spreadsheets.py itself (rust_xlsxwriter through
rvgsrust-xlsxwriter); the others are the fastest way each library offers:
openpyxl's write-only mode with one styled cell per typed column (the portal's
writer until issue 12), XlsxWriter's constant-memory mode with column formats,
and rustpy-xlsxwriter's records API (a dict per row) in its constant-memory mode.
Prints ``ROWS rows in SECONDS s`` of writing (the fetching, the same for every
writer, is timed apart and printed after it).
"""

from __future__ import annotations

import os
import sys
import time

WRITERS = ["openpyxl", "xlsxwriter", "rustpy", "portal"]
LABELS = {
    "openpyxl": "openpyxl write-only (the writer before issue 12)",
    "xlsxwriter": "XlsxWriter constant_memory (pure Python)",
    "rustpy": "rustpy-xlsxwriter (Rust, records API)",
    "portal": "rvgsrust-xlsxwriter via members/spreadsheets.py (Rust, the portal's)",
}


#: Seconds spent fetching the rows (the same for every writer), not counted.
fetching = [0.0]


def _rows(limit: int):
    from parent_school.models import Term
    from reports.exports import export_session, roster_rows

    term = Term.objects.get(is_current=True)
    left = limit
    with export_session():
        started = time.perf_counter()
        batches = roster_rows(term=term, unit_ids=None, widest={})
        for batch in batches:
            batch = batch[:left]
            left -= len(batch)
            fetching[0] += time.perf_counter() - started
            yield batch
            started = time.perf_counter()
            if not left:
                batches.close()
                return


def _layout():
    from members import spreadsheets as sheets
    from reports.exports import roster_columns

    columns = roster_columns()
    widths = sheets.fit_widths(columns, [30, 40, 40, None, None, 30, 11, None, None, 4, None])
    return sheets, columns, widths


def write_portal(limit: int, out: str) -> int:
    sheets, columns, widths = _layout()
    book = sheets.Workbook()
    writer = sheets.SheetWriter(book, title="出勤名单", columns=columns, widths=widths)
    count = 0
    for batch in _rows(limit):
        writer.append_cells(batch)
        count += len(batch)
    book.save(out)
    return count


def write_openpyxl(limit: int, out: str) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheets, columns, widths = _layout()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("出勤名单")
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.print_title_rows = "1:1"
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.title)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    templates = []
    for column, width in zip(columns, widths, strict=True):
        cell = None
        if column.kind == sheets.DATETIME:
            cell = WriteOnlyCell(sheet)
            cell.number_format = sheets.NUMBER_FORMATS[sheets.DATETIME]
        elif column.kind == sheets.TEXT and width >= sheets.MAX_WIDTH:
            cell = WriteOnlyCell(sheet)
            cell.alignment = Alignment(wrap_text=True)
        templates.append(cell)
    count = 0
    for batch in _rows(limit):
        for row in batch:
            values = []
            for template, value in zip(templates, row, strict=True):
                if template is None or value is None:
                    values.append(value)
                else:
                    template.value = value
                    values.append(template)
            sheet.append(values)
        count += len(batch)
    book.save(out)
    return count


def write_xlsxwriter(limit: int, out: str) -> int:
    import xlsxwriter

    sheets, columns, widths = _layout()
    book = xlsxwriter.Workbook(out, {"constant_memory": True})
    sheet = book.add_worksheet("出勤名单")
    date = book.add_format({"num_format": sheets.NUMBER_FORMATS[sheets.DATETIME]})
    wrap = book.add_format({"text_wrap": True})
    bold = book.add_format({"bold": True})
    for index, (column, width) in enumerate(zip(columns, widths, strict=True)):
        fmt = None
        if column.kind == sheets.DATETIME:
            fmt = date
        elif column.kind == sheets.TEXT and width >= sheets.MAX_WIDTH:
            fmt = wrap
        sheet.set_column_pixels(index, index, round(width * 7), fmt)
    sheet.freeze_panes(1, 0)
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.write_row(0, 0, [c.title for c in columns], bold)
    count = 0
    for batch in _rows(limit):
        for row in batch:
            count += 1
            sheet.write_row(count, 0, row)
    book.close()
    return count


def write_rustpy(limit: int, out: str) -> int:
    from rustpy_xlsxwriter import Format, write_worksheet

    sheets, columns, widths = _layout()
    titles = [c.title for c in columns]
    formats = []
    for column, width in zip(columns, widths, strict=True):
        fmt = Format()
        if column.kind == sheets.DATETIME:
            fmt.set_num_format(sheets.NUMBER_FORMATS[sheets.DATETIME])
        elif column.kind == sheets.TEXT and width >= sheets.MAX_WIDTH:
            fmt.set_text_wrap()
        formats.append(fmt)
    counted = [0]

    def records():
        for batch in _rows(limit):
            counted[0] += len(batch)
            for row in batch:
                yield dict(zip(titles, row, strict=True))

    write_worksheet(
        records(),
        out,
        sheet_name="出勤名单",
        freeze_row=1,
        bold_headers=True,
        column_widths=widths,
        column_formats=formats,
        page_setup={"landscape": True, "paper_size": 9, "fit_to_pages": (1, 0), "repeat_rows": 0},
    )
    return counted[0]


def main() -> None:
    writer, limit, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    started = time.perf_counter()
    count = globals()[f"write_{writer}"](limit, out)
    elapsed = time.perf_counter() - started
    print(f"{count} rows in {elapsed - fetching[0]:.2f} s (fetching them {fetching[0]:.2f} s more)")


if __name__ == "__main__":
    main()
