"""The term report: an XLSX workbook and a CSV of raw rows.

Both are scoped to a set of units (the caller asks members/access.py which), mask
phone numbers as 138****1234 and escape spreadsheet formulae with the portal's one
rule, ``members.privacy.spreadsheet_safe`` (a text cell that starts with = + - @,
a tab, a carriage return or full-width ＝＋－＠ gets a leading apostrophe); cells
built in SQL use its twin ``SpreadsheetSafe``.

The CSV is built for size: the database formats every cell (local time, masked
phone, escaped text) and Python only copies tuples from a server-side cursor
(``values_list(...).iterator(chunk_size=...)``) to the csv writer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from decimal import Decimal
from typing import IO

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    F,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils.translation import gettext as _
from import_export import fields, resources

from bookings.models import Booking, Offering
from courses.models import CourseSession
from members.privacy import MaskPhone, SpreadsheetSafe, spreadsheet_safe
from parent_school.models import Term

from .models import TERM_PERIOD, ParticipationSnapshot
from .rollup import term_window

CSV_CHUNK = 5000  # rows per fetch from the server-side cursor
XLSX_SHEET_MAX_ROWS = 1_000_000  # Excel's limit is 1,048,576 rows per sheet


class LocalTimeText(Func):
    """A UTC timestamp as 'YYYY-MM-DD HH:MM' in Shanghai time, formatted by the database."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="to_char(%(expressions)s AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="substr(datetime(%(expressions)s, '+8 hours'), 1, 16)",
            **extra,
        )


# --- scoping ---------------------------------------------------------------------


def offering_scope_q(*, term: Term, unit_ids: Iterable[int] | None, prefix: str = "") -> Q:
    """Offerings of the term (course sessions of its courses, events in its dates),
    limited to ``unit_ids`` (None = all units) with the roll-up's unit rule."""
    start, end = term_window(term)
    p = prefix
    session_q = Q(**{f"{p}kind": Offering.Kind.COURSE_SESSION}) & Q(
        **{f"{p}course_session__course__term": term}
    )
    event_q = Q(**{f"{p}kind": Offering.Kind.EVENT}) & Q(
        **{f"{p}starts_at__gte": start, f"{p}starts_at__lt": end}
    )
    if unit_ids is not None:
        unit_ids = list(unit_ids)
        session_q &= Q(**{f"{p}course_session__course__parent_school__host_unit_id__in": unit_ids})
        event_q &= Q(**{f"{p}unit_id__in": unit_ids})
    return session_q | event_q


def _labels(field: str, choices) -> Case:
    return Case(
        *[When(**{field: value}, then=Value(str(label))) for value, label in choices],
        default=Value(""),
        output_field=CharField(),
    )


# --- CSV of raw rows ------------------------------------------------------------------


def csv_headers() -> list[str]:
    return [
        _("类型"),
        _("单位"),
        _("家长学校"),
        _("课程/活动"),
        _("开始时间"),
        _("报名编号"),
        _("家庭编号"),
        _("报名人"),
        _("手机"),
        _("状态"),
        _("人数"),
        _("其中孩子"),
        _("出勤"),
        _("签到时间"),
        _("报名时间"),
    ]


def raw_rows_queryset(*, term: Term, unit_ids: Iterable[int] | None) -> QuerySet:
    """Every booking of the term (enrolments, their attendance, event registrations),
    formatted cell by cell in SQL, in a stable order."""
    ps = "offering__course_session__course__parent_school"
    return (
        Booking.objects.filter(offering_scope_q(term=term, unit_ids=unit_ids, prefix="offering__"))
        .annotate(
            x_kind=_labels("offering__kind", Offering.Kind.choices),
            x_unit=SpreadsheetSafe(
                Coalesce(F(f"{ps}__host_unit__name"), F("offering__unit__name"))
            ),
            x_school=SpreadsheetSafe(Coalesce(F(f"{ps}__name"), Value(""))),
            x_title=SpreadsheetSafe(F("offering__title")),
            x_start=LocalTimeText(F("offering__starts_at")),
            x_person=SpreadsheetSafe(
                Coalesce(NullIf(F("booked_by__display_name"), Value("")), F("booked_by__username"))
            ),
            x_phone=MaskPhone(F("booked_by__phone")),
            x_status=_labels("status", Booking.Status.choices),
            x_attendance=_labels("attendance", Booking.Attendance.choices),
            x_checked=LocalTimeText(F("checked_in_at")),
            x_created=LocalTimeText(F("created_at")),
        )
        .order_by("offering__starts_at", "offering_id", "pk")
        .values_list(
            "x_kind",
            "x_unit",
            "x_school",
            "x_title",
            "x_start",
            "pk",
            "family_id",
            "x_person",
            "x_phone",
            "x_status",
            "party_size",
            "children_count",
            "x_attendance",
            "x_checked",
            "x_created",
        )
    )


def raw_rows_count(*, term: Term, unit_ids: Iterable[int] | None) -> int:
    return Booking.objects.filter(
        offering_scope_q(term=term, unit_ids=unit_ids, prefix="offering__")
    ).count()


class _Echo:
    """A file-like object whose write returns the line (for streaming responses)."""

    def write(self, value):
        return value


def csv_stream(*, term: Term, unit_ids: Iterable[int] | None) -> Iterable[str]:
    """Lines of the CSV, for a StreamingHttpResponse (small exports only)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(csv_headers())
    for row in raw_rows_queryset(term=term, unit_ids=unit_ids).iterator(chunk_size=CSV_CHUNK):
        yield writer.writerow(row)


def csv_write(
    *,
    term: Term,
    unit_ids: Iterable[int] | None,
    out: IO[str],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the CSV to a text file; returns the number of data rows."""
    out.write("\ufeff")  # so that Excel opens UTF-8 Chinese correctly
    writer = csv.writer(out)
    writer.writerow(csv_headers())
    count = 0
    batch: list = []
    with export_session():
        rows = raw_rows_queryset(term=term, unit_ids=unit_ids).iterator(chunk_size=CSV_CHUNK)
        for row in rows:
            batch.append(row)
            if len(batch) == CSV_CHUNK:
                writer.writerows(batch)
                count += len(batch)
                batch.clear()
                if progress:
                    progress(count)
    writer.writerows(batch)
    count += len(batch)
    if progress:
        progress(count)
    return count


@contextmanager
def export_session():
    """Planner settings for a whole-file export through a server-side cursor.

    ``cursor_tuple_fraction = 1`` tells PostgreSQL we want every row, not the first
    10% fast, so it picks the same hash-join plan as ``psql \\copy`` instead of a
    nested loop. Session-level (reset afterwards) rather than in a transaction, so
    that a background job's progress, written between chunks, is seen at once.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET cursor_tuple_fraction = 1.0")
        cursor.execute("SET work_mem = '64MB'")
        cursor.execute("SET jit = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET cursor_tuple_fraction")
            cursor.execute("RESET work_mem")
            cursor.execute("RESET jit")


# --- XLSX workbook ------------------------------------------------------------------


class TermSummaryResource(resources.ModelResource):
    """The summary sheet, in the column order the district asks for."""

    unit = fields.Field(attribute="unit__name", column_name="单位")
    parent_school = fields.Field(column_name="家长学校")
    sessions_held = fields.Field(column_name="开课次数")
    target_sessions = fields.Field(column_name="目标")
    target_met = fields.Field(column_name="达标")
    person_times = fields.Field(column_name="参与人次")
    families = fields.Field(column_name="覆盖家庭数")
    attendance_rate = fields.Field(column_name="出勤率")
    credits_posted = fields.Field(column_name="学分")

    class Meta:
        model = ParticipationSnapshot
        fields = (
            "unit",
            "parent_school",
            "sessions_held",
            "target_sessions",
            "target_met",
            "person_times",
            "families",
            "attendance_rate",
            "credits_posted",
        )
        export_order = fields

    # Numbers stay numbers in the workbook (the default widgets render text).
    def dehydrate_sessions_held(self, row):
        return row.sessions_held

    def dehydrate_person_times(self, row):
        return row.person_times

    def dehydrate_families(self, row):
        return row.families

    def dehydrate_parent_school(self, row):
        return row.parent_school.name if row.parent_school_id else _("（联盟/单位活动）")

    def dehydrate_target_sessions(self, row):
        return row.target_sessions if row.target_sessions is not None else ""

    def dehydrate_target_met(self, row):
        if row.target_met is None:
            return ""
        return _("是") if row.target_met else _("否")

    def dehydrate_attendance_rate(self, row):
        return "" if row.attendance_rate is None else f"{row.attendance_rate}%"

    def dehydrate_credits_posted(self, row):
        return float(row.credits_posted)


def summary_queryset(*, term: Term, unit_ids: Iterable[int] | None) -> QuerySet:
    qs = ParticipationSnapshot.objects.filter(term=term, period=TERM_PERIOD)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=list(unit_ids))
    return qs.select_related("unit", "parent_school").order_by(
        "unit__name", "parent_school_key", "parent_school__name"
    )


def sessions_queryset(*, term: Term, unit_ids: Iterable[int] | None) -> QuerySet:
    qs = CourseSession.objects.filter(course__term=term)
    if unit_ids is not None:
        qs = qs.filter(course__parent_school__host_unit_id__in=list(unit_ids))
    return (
        qs.annotate(
            x_unit=SpreadsheetSafe(F("course__parent_school__host_unit__name")),
            x_school=SpreadsheetSafe(F("course__parent_school__name")),
            x_title=SpreadsheetSafe(F("course__title")),
            x_start=LocalTimeText(F("offering__starts_at")),
            x_end=LocalTimeText(F("offering__ends_at")),
            x_venue=SpreadsheetSafe(F("venue")),
            x_status=_labels("offering__status", Offering.Status.choices),
        )
        .order_by("offering__starts_at", "pk")
        .values_list(
            "x_unit",
            "x_school",
            "x_title",
            "x_start",
            "x_end",
            "x_venue",
            "x_status",
            "offering__capacity",
            "offering__places_taken",
            "offering__waiting_families",
        )
    )


def roster_queryset(*, term: Term, unit_ids: Iterable[int] | None) -> QuerySet:
    """Confirmed enrolments of the term's course sessions, one row per booking."""
    qs = Booking.objects.filter(
        status=Booking.Status.CONFIRMED,
        offering__kind=Offering.Kind.COURSE_SESSION,
        offering__course_session__course__term=term,
    )
    if unit_ids is not None:
        qs = qs.filter(
            offering__course_session__course__parent_school__host_unit_id__in=list(unit_ids)
        )
    ps = "offering__course_session__course__parent_school"
    return (
        qs.annotate(
            x_unit=SpreadsheetSafe(F(f"{ps}__host_unit__name")),
            x_school=SpreadsheetSafe(F(f"{ps}__name")),
            x_title=SpreadsheetSafe(F("offering__title")),
            x_start=LocalTimeText(F("offering__starts_at")),
            x_person=SpreadsheetSafe(
                Coalesce(NullIf(F("booked_by__display_name"), Value("")), F("booked_by__username"))
            ),
            x_phone=MaskPhone(F("booked_by__phone")),
            x_attendance=_labels("attendance", Booking.Attendance.choices),
            x_checked=LocalTimeText(F("checked_in_at")),
        )
        .order_by("offering__starts_at", "offering_id", "pk")
        .values_list(
            "x_unit",
            "x_school",
            "x_title",
            "x_start",
            "family_id",
            "x_person",
            "x_phone",
            "party_size",
            "children_count",
            "x_attendance",
            "x_checked",
        )
    )


def xlsx_row_count(*, term: Term, unit_ids: Iterable[int] | None) -> int:
    return (
        roster_queryset(term=term, unit_ids=unit_ids).count()
        + sessions_queryset(term=term, unit_ids=unit_ids).count()
    )


def _bold_header(sheet, headers: list[str]):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = Font(bold=True)
        cells.append(cell)
    sheet.append(cells)


def xlsx_write(
    *,
    term: Term,
    unit_ids: Iterable[int] | None,
    out: IO[bytes] | str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the workbook (openpyxl write-only mode); returns the number of rows."""
    from openpyxl import Workbook

    unit_ids = None if unit_ids is None else list(unit_ids)
    workbook = Workbook(write_only=True)
    written = 0

    summary = workbook.create_sheet(_("汇总"))
    summary.freeze_panes = "A2"
    dataset = TermSummaryResource().export(summary_queryset(term=term, unit_ids=unit_ids))
    _bold_header(summary, list(dataset.headers))
    for row in dataset:
        summary.append([_cell(value) for value in row])
        written += 1

    session_headers = [
        _("单位"),
        _("家长学校"),
        _("课程"),
        _("开始时间"),
        _("结束时间"),
        _("地点"),
        _("状态"),
        _("名额（人）"),
        _("已确认人数"),
        _("候补家庭数"),
    ]
    written = _write_rows(
        workbook,
        _("开课场次"),
        session_headers,
        sessions_queryset(term=term, unit_ids=unit_ids),
        written,
        progress,
    )
    roster_headers = [
        _("单位"),
        _("家长学校"),
        _("课程"),
        _("场次时间"),
        _("家庭编号"),
        _("报名人"),
        _("手机"),
        _("人数"),
        _("其中孩子"),
        _("出勤"),
        _("签到时间"),
    ]
    written = _write_rows(
        workbook,
        _("出勤名单"),
        roster_headers,
        roster_queryset(term=term, unit_ids=unit_ids),
        written,
        progress,
    )
    workbook.save(out)
    return written


def _cell(value):
    if isinstance(value, Decimal):
        return float(value)
    return spreadsheet_safe(value)


def _write_rows(workbook, title, headers, queryset, written, progress) -> int:
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    _bold_header(sheet, headers)
    with export_session():
        written = _append_rows(workbook, sheet, title, headers, queryset, written, progress)
    if progress:
        progress(written)
    return written


def _append_rows(workbook, sheet, title, headers, queryset, written, progress) -> int:
    in_sheet = 0
    part = 1
    for row in queryset.iterator(chunk_size=CSV_CHUNK):
        if in_sheet == XLSX_SHEET_MAX_ROWS:
            part += 1
            sheet = workbook.create_sheet(f"{title} ({part})")
            _bold_header(sheet, headers)
            in_sheet = 0
        # Cells were formatted and escaped by the database.
        sheet.append(row)
        in_sheet += 1
        written += 1
        if progress and written % CSV_CHUNK == 0:
            progress(written)
    return written


def xlsx_bytes(*, term: Term, unit_ids: Iterable[int] | None) -> bytes:
    buffer = io.BytesIO()
    xlsx_write(term=term, unit_ids=unit_ids, out=buffer)
    return buffer.getvalue()
