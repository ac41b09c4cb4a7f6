"""Reading the portal's workbooks back in tests: a sheet's title block, header,
rows and totals; converting a workbook to PDF with LibreOffice and counting pages."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from openpyxl.worksheet.worksheet import Worksheet

from members.tests.sheets import column_widths


@dataclass
class Table:
    heading: list[str]
    header: list[str]
    rows: list[tuple]
    totals: list[tuple]
    header_row: int


def header_row(sheet: Worksheet) -> int:
    """The row printed on every page ('$4:$4' → 4): the header row."""
    return int(re.match(r"\$?(\d+):", sheet.print_title_rows).group(1))


def table(sheet: Worksheet, *, totals: int = 1) -> Table:
    """Split a sheet (opened in normal mode) into its parts; ``totals`` is how many
    totals rows end it."""
    number = header_row(sheet)
    values = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    return Table(
        heading=[row[0] for row in values[: number - 1]],
        header=list(values[number - 1]),
        rows=values[number : len(values) - totals],
        totals=values[len(values) - totals :],
        header_row=number,
    )


def cells(sheet: Worksheet, column_title: str) -> list:
    """The data cells (openpyxl Cell objects) of one column, without header and totals."""
    found = table(sheet)
    index = found.header.index(column_title) + 1
    first, last = found.header_row + 1, found.header_row + len(found.rows)
    return [sheet.cell(row=r, column=index) for r in range(first, last + 1)]


def soffice() -> str:
    # .ci/run installs Debian's libreoffice-calc when it is missing.
    path = shutil.which("soffice") or "/usr/bin/soffice"
    assert Path(path).exists(), "install libreoffice-calc to run this test"
    return path


def to_pdf(path: Path, out_dir: Path) -> Path:
    """Convert with LibreOffice headless, in a profile of its own so that tests
    running in parallel do not share (and lock) one."""
    profile = Path(f"/tmp/lo-{uuid.uuid4().hex}")
    try:
        result = subprocess.run(
            [
                soffice(),
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out_dir),
                str(path),
            ],
            capture_output=True,
            timeout=180,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    pdf = out_dir / (path.stem + ".pdf")
    assert pdf.exists(), result.stdout + result.stderr
    return pdf


def pdf_pages(pdf: Path) -> int:
    """Pages of a PDF: its /Type /Page objects (LibreOffice writes them as plain
    objects, not in compressed object streams); /Pages is the tree node."""
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    counts = [int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data)]
    # The root of the page tree counts every page: the two readings agree.
    assert not counts or max(counts) == pages, (counts, pages)
    return pages


def pdf_media_boxes(pdf: Path) -> set[tuple[int, int]]:
    """The page sizes of a PDF in points, rounded (A4 landscape: 842 × 595)."""
    data = pdf.read_bytes()
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    return {(round(float(w)), round(float(h))) for w, h in boxes}


def print_scale(sheet: Worksheet) -> float:
    """The scale a sheet fitted to one A4 landscape page width prints at, from its
    column widths: a width w is 7w + 5 pixels at 96 dpi in the default font, and
    the page is 11.69 inches wide less the margins."""
    margins = sheet.page_margins.left + sheet.page_margins.right
    page = (11.69 - margins) * 96
    total = sum(7 * width + 5 for width in column_widths(sheet))
    return min(1.0, page / total)
