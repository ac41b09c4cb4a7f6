"""django-import-export resources for regions, member units and memberships.

What an administrator gets (see docs/REGISTRY.md):

- Column headers in Chinese; kinds and roles written as their Chinese labels.
- Rows match existing records by a natural key, so importing the same file twice
  updates (or skips unchanged rows) and never duplicates:
  region: 行政区划代码, else 名称 + 上级区域; unit: 单位编码, else 名称 + 所在区域;
  membership: 联盟 + 单位.
- Every cell is trimmed; full-width letters, digits and spaces become ASCII
  (codes and phone numbers: every full-width ASCII character). Chinese
  punctuation in names (（）：，) is kept.
- Every bad row is reported with its spreadsheet row number (the header is row 1),
  the column and a Chinese message, and the whole file is checked so that every
  bad row is listed at once. An import with any bad row writes nothing.
- The shape of the file is checked too: cells outside the titled columns, short
  CSV rows, merged cells, unknown / translated / repeated / blank column titles,
  missing columns and empty sheets are each named by row and column.
- A text longer than its model field allows is reported in the portal's words
  (field name, limit, actual length), for every imported field.
- Exports escape spreadsheet formulae with ``members.privacy.spreadsheet_safe``
  (in the export formats below, for every cell) and mask mobile numbers as
  138****1234; a masked number in an import leaves the stored number as it is.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from decimal import Decimal

import tablib
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.formats.base_formats import CSV, XLSX
from import_export.results import InvalidRow, Result
from openpyxl.utils import get_column_letter, range_boundaries

from .models import Alliance, Membership, MemberUnit, Region
from .privacy import mask_phone as mask_personal_phone
from .privacy import spreadsheet_safe, spreadsheet_unescape
from .services import audit_log_record
from .spreadsheets import table_xlsx_bytes

IMPORT_MESSAGES = {
    "missing_name": _("名称不能为空。"),
    "missing_region": _("请填写所在区域（区域名称或行政区划代码）。"),
    "unknown_region": _("找不到区域“%(value)s”，请先导入该区域或检查名称。"),
    "ambiguous_region": _("有多个名为“%(value)s”的区域，请改填行政区划代码。"),
    "unknown_kind": _("未知的类型“%(value)s”，可填：%(choices)s。"),
    "missing_kind": _("请填写类型，可填：%(choices)s。"),
    "bad_phone": _(
        "电话号码“%(value)s”格式不正确：请填写11位手机号或带区号的固定电话，如 023-63851234。"
    ),
    "masked_phone": _("手机号码“%(value)s”已遮盖，请填写完整号码。"),
    "date_not_text": _(
        "此列应为文本，但单元格是日期格式（%(value)s）。请把该列设置为“文本”格式后重新填写。"
    ),
    "number_not_text": _(
        "此列应为文本，但单元格是数字格式（%(value)s）。请把该列设置为“文本”格式后重新填写，以免丢失开头的 0 或变成科学计数法。"
    ),
    "duplicate_code": _("与第 %(line)s 行的编码“%(value)s”重复。"),
    "duplicate_key": _("与第 %(line)s 行重复（名称和区域都相同）。"),
    "duplicate_membership": _("与第 %(line)s 行重复（同一联盟中的同一单位“%(value)s”）。"),
    "unknown_parent_unit": _("找不到上级单位“%(value)s”，请填写其单位编码或准确名称。"),
    "ambiguous_unit": _("有多个名为“%(value)s”的单位，请改填单位编码。"),
    "unknown_unit": _("找不到单位“%(value)s”。"),
    "missing_unit": _("请填写单位编码，或填写单位名称和单位所在区域。"),
    "unknown_alliance": _("找不到联盟“%(value)s”。"),
    "missing_alliance": _("请填写联盟名称。"),
    "unknown_role": _("未知的角色“%(value)s”，可填：%(choices)s。"),
    "bad_date": _("日期“%(value)s”无法识别，请写成 2024-05-11。"),
    "bad_boolean": _("“%(value)s”无法识别，请填写“是”或“否”。"),
    "missing_columns": _(
        "文件缺少以下列：%(columns)s。请使用导出的文件或 docs/samples 中的样例作为模板。"
    ),
    "left_before_joined": _("退出日期不能早于加入日期。"),
    "duplicate_in_db": _("所在区域已有同名单位，但单位编码不同；请检查单位编码。"),
    "too_long": _("%(field)s最多 %(limit)s 个字，这一行有 %(length)s 个字。"),
    # The shape of the file: column titles (row 1), stray cells, merged cells.
    "no_headers": _("第 1 行没有列标题。第 1 行应为列标题（%(columns)s），数据从第 2 行开始。"),
    "unknown_header": _(
        "列标题“%(value)s”不是可导入的列，这一列的内容不会被读取。可用的列：%(columns)s。"
    ),
    "foreign_header": _(
        "列标题“%(value)s”是“%(column)s”的%(language)s写法，请改为中文列标题“%(column)s”。"
    ),
    "duplicate_header": _("列标题“%(value)s”与 %(first)s重复，请删除其中一列。"),
    "blank_header": _("这一列没有列标题，但第 %(rows)s 行有内容。请补上列标题，或删除这一列。"),
    "cell_without_header": _(
        "这个单元格有内容“%(value)s”，但所在的列没有列标题，内容不会被读取。请删除它，或在第 1 行补上列标题。"
    ),
    "csv_extra_cells": _(
        "这一行比第 1 行的列标题多出单元格（内容“%(value)s”）。单元格里本来就有英文逗号时，要用英文双引号把整个单元格括起来；否则请删除多余的内容。"
    ),
    "csv_short_row": _(
        "这一行只有 %(cells)s 个单元格，第 1 行有 %(headers)s 个列标题，缺少“%(columns)s”。请检查是否少了逗号，以免内容错位。"
    ),
    "merged_cells": _("%(range)s 是合并单元格。请取消合并，并在每一行、每一列分别填写内容。"),
    # Files that cannot be read at all (shown above the upload field).
    "empty_file": _("文件是空的：第 1 行应为列标题，数据从第 2 行开始。"),
    "empty_sheet": _("工作表“%(sheet)s”是空的：第 1 行应为列标题，数据从第 2 行开始。"),
    "empty_sheet_others": _(
        "工作表“%(sheet)s”是空的。导入读取的是保存文件时选中的工作表；本文件还有：%(others)s。请选中有数据的工作表后保存，或删除其他工作表。"
    ),
    "not_xlsx": _(
        "无法按 XLSX 读取这个文件：它不是有效的 Excel 工作簿（.xlsx）。如果是 CSV 文件，请在“文件格式”中选择 csv；旧版 .xls 文件请先另存为 .xlsx。"
    ),
    "xlsx_as_csv": _("这是一个 XLSX（Excel）文件，请在“文件格式”中选择 xlsx。"),
    "utf16_csv": _(
        "这个文件是 Excel 的“Unicode 文本”格式，不是 CSV。请在 Excel 中“另存为 → CSV UTF-8（逗号分隔）”，或直接上传 XLSX。"
    ),
    "bad_encoding": _(
        "文件的编码无法识别。请把 CSV 保存为 UTF-8 或 GBK 编码（Excel：“另存为 → CSV UTF-8（逗号分隔）”），或直接上传 XLSX。"
    ),
    "csv_unreadable": _(
        "无法按 CSV 读取第 %(line)s 行（引号不成对或有不允许的字符）。请用 Excel 或 WPS 打开后重新另存为 CSV。"
    ),
}


def _msg(code: str, **params) -> str:
    message = str(IMPORT_MESSAGES[code])
    return message % params if params else message


class ImportFileError(ValueError):
    """The file cannot be read as the chosen format; ``message`` is for the user."""

    def __init__(self, code: str, **params):
        self.code = code
        self.message = _msg(code, **params)
        super().__init__(self.message)


def column_label(index: int) -> str:
    """'C 列' for the 0-based column ``index``, as a spreadsheet program names it."""
    return f"{get_column_letter(index + 1)} 列"


def _preview(value, limit: int = 20) -> str:
    text = str(value).strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _content_width(cells) -> int:
    """Cells up to and including the last one with content."""
    for index in range(len(cells) - 1, -1, -1):
        if not _is_empty(cells[index]):
            return index + 1
    return 0


def _spreadsheet_dataset(records: list, *, source: str, pad, problems: list) -> tablib.Dataset:
    """A rectangular Dataset from rows as read (the first one is the header row).

    Columns to the right of the last title are kept, with a blank title, so that
    the resource can name every stray cell by row and column instead of the
    cell being dropped. ``problems`` (spreadsheet row, column, message) are the
    ones only the reader can see (merged cells, short CSV rows).
    """
    width = max(_content_width(r) for r in records)
    header = list(records[0][:width])
    header += [None] * (width - len(header))
    rows = []
    for record in records[1:]:
        cells = list(record[:width])
        rows.append(cells + [pad] * (width - len(cells)))
    dataset = tablib.Dataset(*rows, headers=["" if _is_empty(h) else str(h) for h in header])
    dataset.shape_problems = problems
    dataset.source_format = source
    return dataset


class SpreadsheetSafeExport:
    """Every exported cell goes through ``spreadsheet_safe``, whatever the resource.

    The library's own rule (``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT``, which
    only strips a leading "=") is switched off in settings; this is the one rule.
    """

    def export_data(self, dataset, **kwargs):
        safe = tablib.Dataset(headers=[spreadsheet_safe(h) for h in dataset.headers or []])
        safe.title = dataset.title
        for row in dataset:
            safe.append([spreadsheet_safe(cell) for cell in row])
        return super().export_data(safe, **kwargs)


class ChineseCSV(SpreadsheetSafeExport, CSV):
    """CSV in UTF-8 (with or without BOM) or in GB18030/GBK, the encoding Excel and
    WPS use for “CSV” on Chinese Windows. Read as bytes, decoded and parsed here so
    that a row with too many or too few cells is reported, not refused whole.
    Written as UTF-8 with a BOM, so that Excel shows the Chinese text."""

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        text = self._decode(in_stream)
        reader = csv.reader(io.StringIO(text, newline=""))
        records = []
        try:
            for cells in reader:
                records.append(cells)
        except csv.Error as error:
            raise ImportFileError("csv_unreadable", line=reader.line_num) from error
        if not records or not any(_content_width(r) for r in records):
            raise ImportFileError("empty_file")
        return _spreadsheet_dataset(
            records, source="csv", pad="", problems=self._short_rows(records)
        )

    @staticmethod
    def _decode(in_stream) -> str:
        if isinstance(in_stream, str):
            return in_stream
        if in_stream.startswith(b"PK\x03\x04"):
            raise ImportFileError("xlsx_as_csv")
        if in_stream.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ImportFileError("utf16_csv")
        try:
            return in_stream.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        try:
            return in_stream.decode("gb18030")
        except UnicodeDecodeError as error:
            raise ImportFileError("bad_encoding") from error

    @staticmethod
    def _short_rows(records) -> list[tuple[int, str, str]]:
        # A row with fewer cells than titles has most likely lost a comma, and
        # every value after it has moved one column to the left.
        header = records[0]
        titled = _content_width(header)
        problems = []
        for number, cells in enumerate(records[1:], start=2):
            if _content_width(cells) == 0 or len(cells) >= titled:
                continue
            missing = [str(h).strip() for h in header[len(cells) : titled] if not _is_empty(h)]
            message = _msg(
                "csv_short_row", cells=len(cells), headers=titled, columns="、".join(missing)
            )
            problems.append((number, column_label(len(cells)), message))
        return problems

    def export_data(self, dataset, **kwargs):
        return "\ufeff" + super().export_data(dataset, **kwargs)


class TypedXLSX(XLSX):
    """XLSX written by members/spreadsheets.py, like the term workbook: a sheet
    named after the data (「成员单位」, the resource's ``Meta.name``), typed cells (a
    date is a date cell), widths fitted to the content, the header row frozen and
    printed on every page, A4 landscape one page wide. The header stays in row 1,
    so an exported file imports again unchanged."""

    #: The sheet name when the dataset has none (a resource without Meta.name).
    DEFAULT_SHEET_TITLE = _("导出数据")

    def export_data(self, dataset, **kwargs):
        return table_xlsx_bytes(
            title=dataset.title or str(self.DEFAULT_SHEET_TITLE),
            headers=list(dataset.headers or []),
            rows=list(dataset),
        )


class ChineseXLSX(SpreadsheetSafeExport, TypedXLSX):
    """XLSX, read from the sheet that was selected when the file was saved, and
    written as TypedXLSX with every text cell through the one escaping rule.

    Read-only mode (fast for big files) with the stored dimensions ignored, so a
    cell beyond what the file claims is still seen; merged cells are looked up in
    the sheet's XML, because read-only mode does not load them.
    """

    def create_dataset(self, in_stream, **kwargs):
        import openpyxl

        try:
            book = openpyxl.load_workbook(io.BytesIO(in_stream), read_only=True, data_only=True)
        except Exception as error:  # a zip that is not a workbook raises many kinds
            raise ImportFileError("not_xlsx") from error
        try:
            sheet = book.active
            if sheet is None or not hasattr(sheet, "iter_rows"):
                records, merged = [], []
            else:
                sheet.reset_dimensions()
                records = [list(row) for row in sheet.iter_rows(values_only=True)]
                merged = _merged_ranges(sheet)
            if not records or not any(_content_width(r) for r in records):
                title = getattr(sheet, "title", "")
                others = [name for name in book.sheetnames if name != title]
                if others:
                    raise ImportFileError(
                        "empty_sheet_others", sheet=title, others="、".join(others)
                    )
                raise ImportFileError("empty_sheet", sheet=title)
        finally:
            book.close()
        problems = []
        for ref in merged:
            min_col, min_row, max_col, max_row = range_boundaries(ref)
            columns = column_label(min_col - 1)
            if max_col > min_col:
                columns = f"{get_column_letter(min_col)}–{get_column_letter(max_col)} 列"
            for number in range(min_row, min(max_row, len(records)) + 1):
                problems.append((number, columns, _msg("merged_cells", range=ref)))
        return _spreadsheet_dataset(records, source="xlsx", pad=None, problems=problems)


def _merged_ranges(sheet) -> list[str]:
    """The merged ranges ('A2:A3') of a read-only sheet, from its XML."""
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    tag = f"{{{SHEET_MAIN_NS}}}mergeCell"
    ranges = []
    # ReadOnlyWorksheet keeps no merged cells; _get_source() opens the same
    # part of the archive it reads the rows from (openpyxl is pinned).
    with sheet._get_source() as source:
        for _event, element in iterparse(source):
            if element.tag == tag and element.get("ref"):
                ranges.append(element.get("ref"))
            element.clear()
    return ranges


# Full-width ASCII (U+FF01–U+FF5E) maps to U+0021–U+007E; U+3000 is the
# ideographic space. In names we keep the punctuation Chinese text uses.
_FULLWIDTH_ALL = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_CJK_PUNCTUATION_KEPT = "！（），：；？"
_FULLWIDTH_TEXT = {k: v for k, v in _FULLWIDTH_ALL.items() if chr(k) not in _CJK_PUNCTUATION_KEPT}


def normalise_cell(value, *, strict: bool = False):
    """Trim a text cell and turn full-width ASCII into ASCII; other types pass through."""
    if not isinstance(value, str):
        return value
    value = value.translate(_FULLWIDTH_ALL if strict else _FULLWIDTH_TEXT).strip()
    # Undo the exports' formula escaping so an exported file imports unchanged.
    return spreadsheet_unescape(value).strip()


def _reject_non_text(value) -> None:
    if isinstance(value, datetime.datetime) and value.time() == datetime.time(0):
        value = value.date()
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        raise ValueError(_msg("date_not_text", value=value.isoformat()))
    if isinstance(value, bool):
        raise ValueError(_msg("number_not_text", value=value))
    if isinstance(value, (int, float, Decimal)):
        raise ValueError(_msg("number_not_text", value=value))


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
MASKED_MOBILE_RE = re.compile(r"^1[3-9]\d\*{4}\d{4}$")
LANDLINE_RE = re.compile(r"^(0\d{2,3}-?)?\d{7,8}(-\d{1,6})?$|^[48]00-?\d{3}-?\d{4}$")


def mask_phone(value: str) -> str:
    """138****1234 for mobile numbers; landlines (switchboards) stay as they are."""
    if value and MOBILE_RE.match(value):
        return mask_personal_phone(value)
    return value or ""


class TextWidget(widgets.CharWidget):
    """Text only: a date or number cell from a spreadsheet is an error, not a guess."""

    def __init__(self, *, required_message: str | None = None, blank_as_none: bool = False):
        self.required_message = required_message
        self.blank_as_none = blank_as_none
        super().__init__(allow_blank=True)

    def clean(self, value, row=None, **kwargs):
        _reject_non_text(value)
        value = "" if value is None else value
        if self.required_message and value == "":
            raise ValueError(str(self.required_message))
        if self.blank_as_none and value == "":
            return None
        return value

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class PhoneWidget(TextWidget):
    def clean(self, value, row=None, **kwargs):
        value = super().clean(value, row, **kwargs)
        value = value.replace(" ", "")
        if value and not (
            MOBILE_RE.match(value) or LANDLINE_RE.match(value) or MASKED_MOBILE_RE.match(value)
        ):
            raise ValueError(_msg("bad_phone", value=value))
        return value

    # Not masked here: the import preview shows what will be written. Exports
    # mask in RegistryResource.export_field.


class PhoneField(fields.Field):
    """A masked mobile number (from our own export) keeps the stored number."""

    def save(self, instance, row, is_m2m=False, **kwargs):
        value = self.clean(row, **kwargs)
        if MASKED_MOBILE_RE.match(value or ""):
            current = getattr(instance, self.attribute, "") or ""
            if mask_phone(current) == value:
                return
            raise ValueError(_msg("masked_phone", value=value))
        setattr(instance, self.attribute, value)


class ChoiceLabelWidget(widgets.Widget):
    """Reads a choice by its Chinese label or its code; writes the label."""

    def __init__(self, choices, *, unknown: str, missing: str | None = None):
        self.choices = choices
        self.unknown = unknown
        self.missing = missing
        super().__init__()

    def _lookup(self) -> dict[str, str]:
        table = {}
        for code, label in self.choices.choices:
            table[normalise_cell(str(code), strict=True).lower()] = code
            table[normalise_cell(str(label), strict=True).lower()] = code
        return table

    def _choices_text(self) -> str:
        return "、".join(str(label) for _code, label in self.choices.choices)

    def clean(self, value, row=None, **kwargs):
        _reject_non_text(value)
        if _is_empty(value):
            if self.missing:
                raise ValueError(_msg(self.missing, choices=self._choices_text()))
            return None
        code = self._lookup().get(normalise_cell(value, strict=True).lower())
        if code is None:
            raise ValueError(_msg(self.unknown, value=value, choices=self._choices_text()))
        return code

    def render(self, value, obj=None, **kwargs):
        if value is None or value == "":
            return ""
        return str(self.choices(value).label)


class YesNoWidget(widgets.Widget):
    TRUE = {"是", "在用", "1", "true", "yes", "y", "有效"}
    FALSE = {"否", "停用", "0", "false", "no", "n", "无效"}

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            return value
        if _is_empty(value):
            return None
        text = normalise_cell(str(value), strict=True).lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValueError(_msg("bad_boolean", value=value))

    def render(self, value, obj=None, **kwargs):
        return "是" if value else "否"


class ChineseDateWidget(widgets.Widget):
    FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")

    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        text = normalise_cell(str(value), strict=True)
        for fmt in self.FORMATS:
            try:
                return datetime.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise ValueError(_msg("bad_date", value=value))

    def render(self, value, obj=None, **kwargs):
        # The date itself: a date cell in XLSX, 2024-05-11 in CSV (and in the
        # import preview, which shows it as text).
        return value or ""


class RegionWidget(widgets.Widget):
    """A region by its administrative code or its (unique) name."""

    def __init__(self, *, required: bool):
        self.required = required
        super().__init__()

    def clean(self, value, row=None, **kwargs):
        _reject_non_text(value)
        if _is_empty(value):
            if self.required:
                raise ValueError(_msg("missing_region"))
            return None
        return region_lookup(value)

    def render(self, value, obj=None, **kwargs):
        return value.name if value else ""


def region_lookup(value: str) -> Region:
    by_code = Region.objects.filter(code=value).first()
    if by_code:
        return by_code
    matches = list(Region.objects.filter(name=value)[:2])
    if len(matches) > 1:
        raise ValueError(_msg("ambiguous_region", value=value))
    if not matches:
        raise ValueError(_msg("unknown_region", value=value))
    return matches[0]


def unit_lookup(value: str, *, unknown: str = "unknown_unit") -> MemberUnit:
    by_code = MemberUnit.objects.filter(code=value).first()
    if by_code:
        return by_code
    matches = list(MemberUnit.objects.filter(name=value)[:2])
    if len(matches) > 1:
        raise ValueError(_msg("ambiguous_unit", value=value))
    if not matches:
        raise ValueError(_msg(unknown, value=value))
    return matches[0]


class ParentUnitWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        _reject_non_text(value)
        if _is_empty(value):
            return None
        return unit_lookup(value, unknown="unknown_parent_unit")

    def render(self, value, obj=None, **kwargs):
        return (value.code or value.name) if value else ""


def _rows_text(numbers: list[int], shown: int = 5) -> str:
    text = "、".join(str(n) for n in numbers[:shown])
    return text if len(numbers) <= shown else f"{text} 等 {len(numbers)}"


def _translated_columns(columns: list[str]) -> dict[str, tuple[str, str]]:
    """Column titles as the portal's other languages write them (lower case) →
    (the Chinese title, the language's name in Chinese)."""
    table = {}
    for code, _name in settings.LANGUAGES:
        if code.startswith("zh"):
            continue
        language = str(translation.get_language_info(code)["name_translated"])
        with translation.override(code):
            for column in columns:
                text = translation.gettext(column)
                if text != column:
                    table.setdefault(normalise_cell(text, strict=True).lower(), (column, language))
    return table


def add_shape_problems(result: Result, problems: list[tuple[int, str, str]]) -> None:
    """Put (spreadsheet row, column, message) problems into the result's invalid
    rows, merged with the row's own errors, so that one table lists them all."""
    if not problems:
        return
    by_number: dict[int, dict[str, list[str]]] = {}
    for line, column, message in problems:
        columns = by_number.setdefault(line - 1, {})
        columns.setdefault(column or NON_FIELD_ERRORS, []).append(message)
    rows = {row.number: row for row in result.invalid_rows}
    for number, columns in by_number.items():
        existing = rows.get(number)
        values = ()
        if existing is not None:
            values = existing.values
            for column, messages in existing.error_dict.items():
                columns.setdefault(column, []).extend(messages)
        rows[number] = InvalidRow(
            number=number, validation_error=ValidationError(columns), values=values
        )
    result.invalid_rows = [rows[n] for n in sorted(rows)]


def import_errors(result: Result) -> list[tuple[int, str, str]]:
    """(spreadsheet row, column, message) for every problem in an import result.

    Row numbers count the header as row 1, as a spreadsheet program shows them.
    """
    problems = []
    for error in result.base_errors:
        problems.append((1, "", str(error.error)))
    for number, errors in result.row_errors():
        for error in errors:
            problems.append((number + 1, "", str(error.error)))
    for row in result.invalid_rows:
        for column, messages in row.error_dict.items():
            column = "" if column == NON_FIELD_ERRORS else column
            for message in messages:
                problems.append((row.number + 1, column, str(message)))
    return problems


class RegistryResource(resources.ModelResource):
    """Shared behaviour: normalised cells, natural keys, duplicate and type checks,
    errors keyed by column, all-or-nothing imports and audit entries."""

    #: Columns that must be present in the file.
    required_columns: tuple[str, ...] = ()
    #: Columns whose full-width characters are all turned into ASCII.
    strict_columns: tuple[str, ...] = ()
    audit_thing = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._seen_keys: dict[tuple, int] = {}
        self._pending: dict[str, list[str]] = {}
        self._blank_row = False
        #: (spreadsheet row, column, message) for the file's shape; see check_shape.
        self._shape_problems: list[tuple[int, str, str]] = []
        self._columns_missing = False
        self._known_columns: list[str] = []

    # -- import ---------------------------------------------------------------
    def import_data(self, dataset, dry_run=False, raise_errors=False, **kwargs):
        # All-or-nothing: a row that fails validation rolls back the whole file.
        kwargs.setdefault("rollback_on_validation_errors", True)
        return super().import_data(dataset, dry_run=dry_run, raise_errors=raise_errors, **kwargs)

    def before_import(self, dataset, **kwargs):
        self._seen_keys = {}
        self._shape_problems = list(getattr(dataset, "shape_problems", []))
        self._columns_missing = False
        self._known_columns = [f.column_name for f in self.get_user_visible_fields()]
        dataset.headers = [
            "" if _is_empty(h) else normalise_cell(str(h), strict=True)
            for h in (dataset.headers or [])
        ]
        self.check_shape(dataset)
        if self._columns_missing:
            # Without its key columns no row can be checked: one clear message
            # (with the other shape problems) instead of the same error on every row.
            del dataset[0 : dataset.height]

    def check_shape(self, dataset) -> None:
        """Column titles (row 1) and cells outside the titled columns, each named
        by row and column; rows are still checked unless key columns are missing."""
        headers = dataset.headers
        known = self._known_columns
        columns_text = "、".join(known)
        problems = self._shape_problems
        if headers and not any(headers):
            problems.append((1, "", _msg("no_headers", columns=columns_text)))
            self._columns_missing = True
            return
        last_titled = max((i for i, h in enumerate(headers) if h), default=-1)
        from_csv = getattr(dataset, "source_format", "") == "csv"
        translated = _translated_columns(known)
        first_seen: dict[str, str] = {}
        for index, header in enumerate(headers):
            label = column_label(index)
            if not header:
                filled = [n for n, row in enumerate(dataset, start=2) if not _is_empty(row[index])]
                if not filled:
                    continue  # an empty column without a title is harmless
                if index < last_titled:
                    problems.append((1, label, _msg("blank_header", rows=_rows_text(filled))))
                code = (
                    "csv_extra_cells" if from_csv and index > last_titled else "cell_without_header"
                )
                for number in filled:
                    value = _preview(dataset[number - 2][index])
                    problems.append((number, label, _msg(code, value=value)))
            elif header in first_seen:
                problems.append(
                    (1, label, _msg("duplicate_header", value=header, first=first_seen[header]))
                )
            elif header not in known:
                match = translated.get(header.lower())
                if match:
                    message = _msg(
                        "foreign_header", value=header, column=match[0], language=match[1]
                    )
                else:
                    message = _msg("unknown_header", value=header, columns=columns_text)
                problems.append((1, label, message))
            else:
                first_seen[header] = label
        missing = [c for c in self.required_columns if c not in first_seen]
        if missing:
            problems.append((1, "", _msg("missing_columns", columns="、".join(missing))))
            self._columns_missing = True

    def _check_import_id_fields(self, headers):
        # Missing key columns were reported in Chinese (row 1) by check_shape;
        # the library's own check would add the same in English.
        if self._columns_missing:
            return
        super()._check_import_id_fields(headers)

    def before_import_row(self, row, **kwargs):
        self._pending = {}
        self._line = kwargs.get("row_number", 0) + 1
        for column in list(row.keys()):
            row[column] = normalise_cell(row[column], strict=column in self.strict_columns)
        # Blank means blank in the columns that are read: a stray cell elsewhere
        # is a shape problem (check_shape), not a row to import.
        self._blank_row = all(_is_empty(row.get(c)) for c in self._known_columns)
        if not self._blank_row:
            self.check_row(row)

    def check_row(self, row) -> None:
        """Row-level checks (duplicates in the file); add errors with ``add_error``."""

    def add_error(self, column: str, message: str) -> None:
        self._pending.setdefault(column, []).append(message)

    def note_key(self, key: tuple, column: str, message_code: str, value: str) -> None:
        first = self._seen_keys.get(key)
        if first is not None:
            self.add_error(column, _msg(message_code, line=first, value=value))
        else:
            self._seen_keys[key] = self._line

    def get_instance(self, instance_loader, row):
        if self._blank_row:
            return None
        try:
            return self.natural_key_instance(row)
        except ValueError:
            # An unknown region and the like: the field's own check reports it.
            return None

    def natural_key_instance(self, row):
        raise NotImplementedError

    def import_instance(self, instance, row, **kwargs):
        if self._blank_row:
            return
        super().import_instance(instance, row, **kwargs)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if self._blank_row:
            return True
        if self._pending:
            return False
        return super().skip_row(instance, original, row, import_validation_errors)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        # Lengths in the portal's words; a field reported here is left out of
        # full_clean, so Django's generic max_length message does not repeat it.
        errors.update({k: v for k, v in self.length_errors(instance).items() if k not in errors})
        try:
            super().validate_instance(instance, errors, validate_unique)
        except ValidationError as error:
            errors = error.error_dict
        else:
            errors = {}
        by_column = {}
        attribute_to_column = {
            f.attribute: f.column_name for f in self.fields.values() if f.attribute
        }
        for key, messages in errors.items():
            column = attribute_to_column.get(key, key)
            texts = [m for e in messages for m in ValidationError(e).messages]
            by_column.setdefault(column, []).extend(texts)
        for column, messages in self._pending.items():
            by_column.setdefault(column, []).extend(messages)
        if by_column:
            raise ValidationError(by_column)

    def length_errors(self, instance) -> dict[str, ValidationError]:
        """Every imported text longer than its model field's max_length."""
        errors = {}
        for field in self.get_import_fields():
            if field.readonly or not field.attribute or "__" in field.attribute:
                continue
            try:
                model_field = instance._meta.get_field(field.attribute)
            except FieldDoesNotExist:
                continue
            limit = getattr(model_field, "max_length", None)
            value = getattr(instance, model_field.attname, None)
            if limit and isinstance(value, str) and len(value) > limit:
                message = _msg(
                    "too_long",
                    field=str(model_field.verbose_name),
                    limit=limit,
                    length=len(value),
                )
                errors[field.attribute] = ValidationError(message, code="max_length")
        return errors

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        # Runs inside the import's transaction: shape problems added here make
        # import_data roll the whole file back, like any invalid row.
        add_shape_problems(result, self._shape_problems)
        if kwargs.get("dry_run") or result.has_errors() or result.has_validation_errors():
            return
        audit_log_record(
            actor=kwargs.get("user"),
            action=f"members.{self.audit_thing}.import",
            data={
                "file": str(kwargs.get("file_name") or ""),
                "rows": result.total_rows,
                "new": result.totals["new"],
                "update": result.totals["update"],
                "skip": result.totals["skip"],
            },
        )

    # -- export ---------------------------------------------------------------
    def export(self, queryset=None, **kwargs):
        dataset = super().export(queryset, **kwargs)
        # The XLSX sheet's name (「成员单位」) instead of tablib's 「Tablib Dataset」.
        dataset.title = str(self._meta.name or self._meta.model._meta.verbose_name_plural)
        return dataset

    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        if isinstance(field, PhoneField):
            value = mask_phone(value)
        # Formulae are escaped for every cell by the export formats (ChineseCSV/XLSX).
        return value


class RegionResource(RegistryResource):
    # An empty code cell keeps the stored code: a natural key is never erased by accident.
    code = fields.Field(
        attribute="code",
        column_name="行政区划代码",
        widget=TextWidget(blank_as_none=True),
        saves_null_values=False,
    )
    name = fields.Field(
        attribute="name",
        column_name="名称",
        widget=TextWidget(required_message=_msg("missing_name")),
    )
    kind = fields.Field(
        attribute="kind",
        column_name="类型",
        widget=ChoiceLabelWidget(Region.Kind, unknown="unknown_kind", missing="missing_kind"),
    )
    parent = fields.Field(
        attribute="parent", column_name="上级区域", widget=RegionWidget(required=False)
    )

    required_columns = ("名称", "类型")
    strict_columns = ("行政区划代码",)
    audit_thing = "region"

    class Meta:
        model = Region
        fields = ("code", "name", "kind", "parent")
        import_id_fields = ("name",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        name = _("区域")

    def get_queryset(self):
        return Region.objects.select_related("parent").order_by("parent__name", "name")

    def check_row(self, row):
        code = row.get("行政区划代码")
        if isinstance(code, str) and code:
            self.note_key(("code", code), "行政区划代码", "duplicate_code", code)
        else:
            name, parent = row.get("名称"), row.get("上级区域") or ""
            if isinstance(name, str) and name:
                self.note_key(("name", name, str(parent)), "名称", "duplicate_key", name)

    def natural_key_instance(self, row):
        code = row.get("行政区划代码")
        if isinstance(code, str) and code:
            return Region.objects.filter(code=code).first()
        name = row.get("名称")
        if not isinstance(name, str) or not name:
            return None
        parent_value = row.get("上级区域")
        parent = region_lookup(parent_value) if parent_value else None
        return Region.objects.filter(name=name, parent=parent).first()

    def before_save_instance(self, instance, row, **kwargs):
        if instance.code == "":
            instance.code = None


class MemberUnitResource(RegistryResource):
    code = fields.Field(
        attribute="code",
        column_name="单位编码",
        widget=TextWidget(blank_as_none=True),
        saves_null_values=False,
    )
    name = fields.Field(
        attribute="name",
        column_name="名称",
        widget=TextWidget(required_message=_msg("missing_name")),
    )
    kind = fields.Field(
        attribute="kind",
        column_name="类型",
        widget=ChoiceLabelWidget(MemberUnit.Kind, unknown="unknown_kind", missing="missing_kind"),
    )
    region = fields.Field(
        attribute="region", column_name="所在区域", widget=RegionWidget(required=True)
    )
    address = fields.Field(attribute="address", column_name="地址", widget=TextWidget())
    contact_name = fields.Field(attribute="contact_name", column_name="联系人", widget=TextWidget())
    contact_phone = PhoneField(
        attribute="contact_phone", column_name="联系电话", widget=PhoneWidget()
    )
    parent = fields.Field(attribute="parent", column_name="上级单位", widget=ParentUnitWidget())
    # Empty: new units are active, existing ones keep their state.
    is_active = fields.Field(
        attribute="is_active", column_name="在用", widget=YesNoWidget(), saves_null_values=False
    )
    note = fields.Field(attribute="note", column_name="备注", widget=TextWidget())

    required_columns = ("名称", "类型", "所在区域")
    strict_columns = ("单位编码", "联系电话", "在用")
    audit_thing = "unit"

    class Meta:
        model = MemberUnit
        fields = (
            "code",
            "name",
            "kind",
            "region",
            "address",
            "contact_name",
            "contact_phone",
            "parent",
            "is_active",
            "note",
        )
        import_id_fields = ("name",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        name = _("成员单位")

    def get_queryset(self):
        return MemberUnit.objects.select_related("region", "parent").order_by("pk")

    def check_row(self, row):
        code = row.get("单位编码")
        if isinstance(code, str) and code:
            self.note_key(("code", code), "单位编码", "duplicate_code", code)
        else:
            name, region = row.get("名称"), row.get("所在区域") or ""
            if isinstance(name, str) and name:
                self.note_key(("name", name, str(region)), "名称", "duplicate_key", name)

    def natural_key_instance(self, row):
        code = row.get("单位编码")
        if isinstance(code, str) and code:
            found = MemberUnit.objects.filter(code=code).first()
            if found:
                return found
        name, region_value = row.get("名称"), row.get("所在区域")
        if not (isinstance(name, str) and name and isinstance(region_value, str) and region_value):
            return None
        found = MemberUnit.objects.filter(name=name, region=region_lookup(region_value)).first()
        if found and isinstance(code, str) and code and found.code and found.code != code:
            # Same name and region but another code: report rather than overwrite.
            self.add_error("单位编码", _msg("duplicate_in_db"))
            return None
        return found

    def before_save_instance(self, instance, row, **kwargs):
        if instance.code == "":
            instance.code = None


class AllianceWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        _reject_non_text(value)
        if _is_empty(value):
            raise ValueError(_msg("missing_alliance"))
        alliance = Alliance.objects.filter(name=value).first() or (
            Alliance.objects.filter(short_name=value).first()
        )
        if alliance is None:
            raise ValueError(_msg("unknown_alliance", value=value))
        return alliance

    def render(self, value, obj=None, **kwargs):
        return value.name if value else ""


class MembershipUnitWidget(widgets.Widget):
    """The unit of a membership: by 单位编码, or by 单位名称 + 单位所在区域."""

    def clean(self, value, row=None, **kwargs):
        _reject_non_text(value)
        row = row or {}
        if not _is_empty(value):
            return unit_lookup(value)
        name, region_value = row.get("单位名称"), row.get("单位所在区域")
        _reject_non_text(name)
        if _is_empty(name):
            raise ValueError(_msg("missing_unit"))
        if _is_empty(region_value):
            return unit_lookup(name)
        region = region_lookup(region_value)
        unit = MemberUnit.objects.filter(name=name, region=region).first()
        if unit is None:
            raise ValueError(_msg("unknown_unit", value=f"{region_value} {name}"))
        return unit

    def render(self, value, obj=None, **kwargs):
        return (value.code or "") if value else ""


class MembershipResource(RegistryResource):
    alliance = fields.Field(attribute="alliance", column_name="联盟", widget=AllianceWidget())
    unit = fields.Field(attribute="unit", column_name="单位编码", widget=MembershipUnitWidget())
    unit_name = fields.Field(
        attribute="unit__name", column_name="单位名称", readonly=True, widget=TextWidget()
    )
    unit_region = fields.Field(
        attribute="unit__region__name",
        column_name="单位所在区域",
        readonly=True,
        widget=TextWidget(),
    )
    role = fields.Field(
        attribute="role",
        column_name="角色",
        widget=ChoiceLabelWidget(Membership.Role, unknown="unknown_role"),
        default=Membership.Role.MEMBER,
    )
    joined_on = fields.Field(
        attribute="joined_on", column_name="加入日期", widget=ChineseDateWidget()
    )
    left_on = fields.Field(attribute="left_on", column_name="退出日期", widget=ChineseDateWidget())

    required_columns = ("联盟",)
    strict_columns = ("单位编码", "加入日期", "退出日期")
    audit_thing = "membership"

    class Meta:
        model = Membership
        fields = ("alliance", "unit", "unit_name", "unit_region", "role", "joined_on", "left_on")
        import_id_fields = ("alliance",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        name = _("联盟成员关系")

    def get_queryset(self):
        return Membership.objects.select_related("alliance", "unit", "unit__region").order_by("pk")

    def _resolve(self, row):
        alliance = AllianceWidget().clean(row.get("联盟"))
        unit = MembershipUnitWidget().clean(row.get("单位编码"), row=row)
        return alliance, unit

    def check_row(self, row):
        try:
            alliance, unit = self._resolve(row)
        except ValueError:
            return
        self.note_key((alliance.pk, unit.pk), "单位编码", "duplicate_membership", unit.name)

    def natural_key_instance(self, row):
        alliance, unit = self._resolve(row)
        return Membership.objects.filter(alliance=alliance, unit=unit).first()
