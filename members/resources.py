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
  the column and a Chinese message. An import with any bad row writes nothing.
- Exports escape spreadsheet formulae (a leading ' before = + - @) and mask mobile
  numbers as 138****1234; a masked number in an import leaves the stored number
  as it is.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.formats.base_formats import CSV, TablibFormat
from import_export.results import Result

from .models import Alliance, Membership, MemberUnit, Region
from .privacy import mask_phone as mask_personal_phone
from .services import audit_log_record

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
}


class ChineseCSV(CSV):
    """CSV in UTF-8 (with or without BOM) or in GB18030/GBK, the encoding Excel and
    WPS use for “CSV” on Chinese Windows. Read as bytes, then decoded here."""

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            try:
                in_stream = in_stream.decode("utf-8-sig")
            except UnicodeDecodeError:
                in_stream = in_stream.decode("gb18030")
        return TablibFormat.create_dataset(self, in_stream, **kwargs)


def _msg(code: str, **params) -> str:
    message = str(IMPORT_MESSAGES[code])
    return message % params if params else message


# Full-width ASCII (U+FF01–U+FF5E) maps to U+0021–U+007E; U+3000 is the
# ideographic space. In names we keep the punctuation Chinese text uses.
_FULLWIDTH_ALL = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_CJK_PUNCTUATION_KEPT = "！（），：；？"
_FULLWIDTH_TEXT = {k: v for k, v in _FULLWIDTH_ALL.items() if chr(k) not in _CJK_PUNCTUATION_KEPT}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def normalise_cell(value, *, strict: bool = False):
    """Trim a text cell and turn full-width ASCII into ASCII; other types pass through."""
    if not isinstance(value, str):
        return value
    value = value.translate(_FULLWIDTH_ALL if strict else _FULLWIDTH_TEXT).strip()
    # Undo our own formula escaping so an exported file imports unchanged.
    if value.startswith("'") and value[1:2] in ("=", "+", "-", "@"):
        value = value[1:]
    return value


def escape_formula(value: str) -> str:
    """Prefix ' so that spreadsheet programs show the text instead of running it."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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
        return escape_formula("" if value is None else str(value))


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
        return value.isoformat() if value else ""


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
        return escape_formula(value.name) if value else ""


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
        return escape_formula(value.code or value.name) if value else ""


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

    # -- import ---------------------------------------------------------------
    def import_data(self, dataset, dry_run=False, raise_errors=False, **kwargs):
        # All-or-nothing: a row that fails validation rolls back the whole file.
        kwargs.setdefault("rollback_on_validation_errors", True)
        return super().import_data(dataset, dry_run=dry_run, raise_errors=raise_errors, **kwargs)

    def before_import(self, dataset, **kwargs):
        self._seen_keys = {}
        headers = [normalise_cell(h, strict=True) if h else "" for h in (dataset.headers or [])]
        dataset.headers = headers
        missing = [c for c in self.required_columns if c not in headers]
        if missing:
            # One clear message instead of one error per row.
            while dataset.height:
                dataset.lpop()
            raise ValueError(_msg("missing_columns", columns="、".join(missing)))

    def before_import_row(self, row, **kwargs):
        self._pending = {}
        self._line = kwargs.get("row_number", 0) + 1
        for column in list(row.keys()):
            row[column] = normalise_cell(row[column], strict=column in self.strict_columns)
        self._blank_row = all(_is_empty(v) for v in row.values())
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

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
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
    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        if isinstance(field, PhoneField):
            value = mask_phone(value)
        return escape_formula(value)


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
        return escape_formula(value.name) if value else ""


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
        return escape_formula(value.code or "") if value else ""


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
