"""Reading what members/spreadsheets.py wrote, as a spreadsheet program reads it.

openpyxl shows a file's XML as it is, so a test asks through these helpers where
the file format leaves something implicit: an attribute left out has its default
(``fitToWidth`` is 1 unless the file says otherwise), adjacent columns of one
width and style are stored as one ``<col min max>`` range, and every number is a
double (a count may be stored as ``30.0``: the same number as ``30``).
"""

from __future__ import annotations

from openpyxl.utils import column_index_from_string
from openpyxl.worksheet.worksheet import Worksheet


def fit_to_pages(sheet: Worksheet) -> tuple[int, int]:
    """The pages wide and long a sheet is fitted to (OOXML's default is 1 for each)."""
    setup = sheet.page_setup
    width = 1 if setup.fitToWidth is None else int(setup.fitToWidth)
    height = 1 if setup.fitToHeight is None else int(setup.fitToHeight)
    return width, height


def column_width(sheet: Worksheet, letter: str) -> float | None:
    """The width of a column, also when the file stores it in a range of columns."""
    index = column_index_from_string(letter)
    for dimension in sheet.column_dimensions.values():
        if dimension.min and dimension.max and dimension.min <= index <= dimension.max:
            return dimension.width
    return None


def column_widths(sheet: Worksheet) -> list[float]:
    """The width of every column that has one, a range counting once per column."""
    widths = []
    for dimension in sheet.column_dimensions.values():
        if dimension.width and dimension.min and dimension.max:
            widths.extend([dimension.width] * (dimension.max - dimension.min + 1))
    return widths


def is_count(cell) -> bool:
    """A number cell holding a whole number, shown as it is ("General")."""
    value = cell.value
    return (
        cell.data_type == "n"
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and float(value).is_integer()
        and cell.number_format == "General"
    )
