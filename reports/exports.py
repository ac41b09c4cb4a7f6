"""The term report: an XLSX workbook and a CSV of raw rows.

Both are scoped to a set of units (the caller asks members/access.py which), mask
phone numbers as 138****1234 and escape spreadsheet formulae with the portal's one
rule, ``members.privacy.spreadsheet_safe`` (a text cell that starts with = + - @,
a tab, a carriage return or full-width ＝＋－＠ gets a leading apostrophe); cells
built in SQL use its twin ``SpreadsheetSafe``.

The CSV is built for size: the database formats every cell (local time, masked
phone, escaped text) and Python only copies tuples from a server-side cursor
(``values_list(...).iterator(chunk_size=...)``) to the csv writer.

The workbook is built to be handed in (members/spreadsheets.py): a title block on
every sheet, typed cells (times as Shanghai date cells, rates as percentages),
widths fitted to the content, a frozen header printed on every page, A4 landscape
one page wide, and a totals row. It streams too, from the same kind of cursor: the
database formats its cells as well (escaped text, masked phone, times as the date
cells' numbers in Shanghai time), and the writer (rust_xlsxwriter, constant memory)
takes them 5,000 rows at a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import (
    Case,
    CharField,
    F,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources

from bookings.models import Booking, Offering
from courses.models import CourseSession
from members import spreadsheets as sheets
from members.formatting import when_label
from members.models import MemberUnit
from members.privacy import MaskPhone, SpreadsheetSafe, mask_phone
from parent_school.models import Term
from parent_school.selectors import term_window

from .models import (
    TERM_PERIOD,
    HandbookSnapshot,
    ParticipationSnapshot,
    SurveySnapshot,
    UnitAttainment,
)
from .rollup import HANDBOOK_METRICS, _rate, mean_of, small_group_hides
from .selectors import attainment_suppressed, attainment_with_sample, key_figures

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
#
# The workbook people hand in. members/spreadsheets.py types the cells, fits the
# widths and sets up printing; here each sheet gets its title block (term, scope,
# when and by whom), its columns and its totals row.

TITLE_LINES = 3  # the title block above each sheet's header row


@dataclass(frozen=True)
class WorkbookHeading:
    """The title block of every sheet."""

    term: str
    scope: str
    generated_at: dt.datetime
    generated_by: str

    def lines(self, sheet: str) -> list[str]:
        return [
            _("%(term)s 学期报表 · %(sheet)s") % {"term": self.term, "sheet": sheet},
            _("范围：%(scope)s") % {"scope": self.scope},
            _("生成时间：%(when)s（北京时间，表中时间均为北京时间）　生成人：%(who)s")
            % {"when": when_label(self.generated_at, with_year=True), "who": self.generated_by},
        ]


def scope_label(unit_ids: list[int] | None) -> str:
    """「全部单位」, the units' names, or the first three and how many there are."""
    if unit_ids is None:
        return _("全部单位")
    count = len(set(unit_ids))
    if not count:
        return _("（没有可查看的单位）")
    names = list(
        MemberUnit.objects.filter(pk__in=unit_ids)
        .order_by("name")
        .values_list("name", flat=True)[:3]
    )
    if count <= 3:
        return "、".join(names)
    return _("%(names)s 等 %(count)s 个单位") % {"names": "、".join(names), "count": count}


def person_label(user) -> str:
    """Who asked, as colleagues know them: the name, else the masked phone or the email."""
    if user is None:
        return _("服务器管理员（export_term_report 命令）")
    return user.display_name or mask_phone(user.phone) or user.email or user.get_username()


def workbook_heading(
    *, term: Term, unit_ids: list[int] | None, actor=None, now: dt.datetime | None = None
) -> WorkbookHeading:
    return WorkbookHeading(
        term=str(term),
        scope=scope_label(unit_ids),
        generated_at=now or timezone.now(),
        generated_by=person_label(actor),
    )


class TermSummaryResource(resources.ModelResource):
    """The summary sheet, in the column order the district asks for; typed values
    (a rate is a fraction, shown as 76.7% by the cell's format)."""

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
        return row.target_sessions

    def dehydrate_target_met(self, row):
        if row.target_met is None:
            return None
        return _("是") if row.target_met else _("否")

    def dehydrate_attendance_rate(self, row):
        return None if row.attendance_rate is None else float(row.attendance_rate / 100)

    def dehydrate_credits_posted(self, row):
        return float(row.credits_posted)


SUMMARY_KINDS = {
    "unit": sheets.TEXT,
    "parent_school": sheets.TEXT,
    "sessions_held": sheets.INTEGER,
    "target_sessions": sheets.INTEGER,
    "target_met": sheets.TEXT,
    "person_times": sheets.INTEGER,
    "families": sheets.INTEGER,
    "attendance_rate": sheets.PERCENT,
    "credits_posted": sheets.NUMBER,
}


def summary_queryset(*, term: Term, unit_ids: Iterable[int] | None) -> QuerySet:
    qs = ParticipationSnapshot.objects.filter(term=term, period=TERM_PERIOD)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=list(unit_ids))
    return qs.select_related("unit", "parent_school").order_by(
        "unit__name", "parent_school_key", "parent_school__name"
    )


def summary_totals(qs: QuerySet) -> list:
    """The summary's totals row, by the dashboard's own definitions
    (reports.selectors.key_figures: sums, the rate of the sums, schools that met
    their target), in one aggregate query plus one for the targets."""
    figures = key_figures(qs)
    targets = qs.aggregate(total=Sum("target_sessions"))["total"] or 0
    rate = figures["attendance_rate"]
    return [
        _("合计"),
        None,
        figures["sessions_held"],
        targets,
        _("%(met)s / %(schools)s 所达标")
        % {"met": figures["schools_met"], "schools": figures["schools"]},
        figures["person_times"],
        figures["families"],
        None if rate is None else float(rate / 100),
        float(figures["credits_posted"]),
    ]


def handbook_columns() -> list[sheets.Column]:
    """The growth handbook sheet: one row per unit (the verifying unit of the
    claims; learning families by the family's unit), summed in the totals row."""
    return [
        sheets.Column(_("单位")),
        sheets.Column(_("手册申报"), sheets.INTEGER, total=True),
        sheets.Column(_("通过的申报"), sheets.INTEGER, total=True),
        sheets.Column(_("待审核的申报"), sheets.INTEGER, total=True),
        sheets.Column(_("在家陪伴积分"), sheets.INTEGER, total=True),
        sheets.Column(_("在校陪伴积分"), sheets.INTEGER, total=True),
        sheets.Column(_("陪伴好行为积分"), sheets.INTEGER, total=True),
        sheets.Column(_("参与手册的家庭"), sheets.INTEGER, total=True),
        sheets.Column(_("学习型家庭"), sheets.INTEGER, total=True),
    ]


HANDBOOK_FIELDS = ("unit__name", *HANDBOOK_METRICS)


def handbook_rows(*, term: Term, unit_ids: Iterable[int] | None) -> list[tuple]:
    """The term's handbook snapshot rows (reports.HandbookSnapshot) of the units,
    by unit name: at most one per unit, so a list (one query)."""
    qs = HandbookSnapshot.objects.filter(term=term)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=list(unit_ids))
    return list(qs.order_by("unit__name", "unit_id").values_list(*HANDBOOK_FIELDS))


def survey_columns() -> list[sheets.Column]:
    """The questionnaires sheet: one row per unit (reports.SurveySnapshot); the
    totals row sums the counts, and its rate and mean are those of the sums."""
    return [
        sheets.Column(_("单位")),
        sheets.Column(_("问卷数"), sheets.INTEGER),
        sheets.Column(_("邀请家庭"), sheets.INTEGER),
        sheets.Column(_("作答家庭"), sheets.INTEGER),
        sheets.Column(_("回收率"), sheets.PERCENT),
        sheets.Column(_("满意度答案数"), sheets.INTEGER),
        sheets.Column(_("满意度（5分制）"), sheets.NUMBER),
    ]


def survey_rows(*, term: Term, unit_ids: Iterable[int] | None) -> tuple[list[list], list]:
    """The questionnaire rows of the units by unit name (one query; at most one
    row per unit) and the totals row."""
    qs = SurveySnapshot.objects.filter(term=term)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=list(unit_ids))
    rows, sums, hidden = [], [0, 0, 0, 0, 0], 0
    for name, surveys, invited, answered, rate, n, total, mean in qs.order_by(
        "unit__name", "unit_id"
    ).values_list(
        "unit__name",
        "surveys",
        "invited",
        "answered",
        "response_rate",
        "satisfaction_answers",
        "satisfaction_sum",
        "satisfaction",
    ):
        rows.append(
            [
                name,
                surveys,
                invited,
                answered,
                None if rate is None else float(rate / 100),
                n,
                _satisfaction_cell(mean, n),
            ]
        )
        for index, value in enumerate((surveys, invited, answered, n, total)):
            sums[index] += value
        if mean is None:
            hidden += n
    rate = _rate(sums[2], sums[1])
    # The totals row follows the rule of the dashboard's totals
    # (reports.selectors.survey_key_figures): withheld below the minimum, and
    # when the units withheld would be the difference to the units shown.
    mean = None if small_group_hides(sums[3], hidden) else mean_of(sums[4], sums[3])
    totals = [
        _("合计"),
        sums[0],
        sums[1],
        sums[2],
        None if rate is None else float(rate / 100),
        sums[3],
        _satisfaction_cell(mean, sums[3]),
    ]
    return rows, totals


def _satisfaction_cell(mean, answers: int):
    """The mean, or 「样本不足，不显示」 when answers are there but the small-group
    rule withholds it (reports.rollup.small_group_hides); empty with no answer."""
    if mean is not None:
        return float(mean)
    return _("样本不足，不显示") if answers else None


def attainment_columns() -> list[sheets.Column]:
    """考核: one row per unit and target (reports.UnitAttainment)."""
    return [
        sheets.Column(_("单位")),
        sheets.Column(_("工作职责")),
        sheets.Column(_("目标值"), sheets.NUMBER),
        sheets.Column(_("完成值"), sheets.NUMBER),
        sheets.Column(_("达标")),
    ]


def attainment_rows(*, term: Term, unit_ids: Iterable[int] | None) -> tuple[list[list], list]:
    """The attainment rows by unit name and the district's order of
    responsibilities (one query), and the totals row (targets met of all)."""
    qs = attainment_with_sample(UnitAttainment.objects.filter(term=term))
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=list(unit_ids))
    rows, met = [], 0
    for name, responsibility, metric, target, achieved, is_met, sample in qs.order_by(
        "unit__name", "unit_id", "responsibility__position", "responsibility_id"
    ).values_list(
        "unit__name",
        "responsibility__name",
        "responsibility__metric",
        "target",
        "achieved",
        "met",
        "satisfaction_answers",
    ):
        if attainment_suppressed(achieved, metric, sample):
            verdict = _("样本不足，不显示")
        elif achieved is None:
            verdict = _("暂无数据")
        else:
            verdict = _("是") if is_met else _("否")
        met += bool(is_met)
        rows.append(
            [
                name,
                responsibility,
                float(target),
                None if achieved is None else float(achieved),
                verdict,
            ]
        )
    totals = [
        _("合计"),
        None,
        None,
        None,
        _("%(met)s / %(all)s 项达标") % {"met": met, "all": len(rows)},
    ]
    return rows, totals


def _cell_text(expression):
    """A workbook text cell formatted by the database: the one escaping rule, and
    line breaks as a cell has them (``members.spreadsheets.cell_text``)."""
    return sheets.CellText(SpreadsheetSafe(expression))


def session_columns() -> list[sheets.Column]:
    return [
        sheets.Column(_("单位")),
        sheets.Column(_("家长学校")),
        sheets.Column(_("课程")),
        sheets.Column(_("开始时间"), sheets.DATETIME),
        sheets.Column(_("结束时间"), sheets.DATETIME),
        sheets.Column(_("地点")),
        sheets.Column(_("状态")),
        sheets.Column(_("名额（人）"), sheets.INTEGER, total=True),
        sheets.Column(_("已确认人数"), sheets.INTEGER, total=True),
        sheets.Column(_("候补家庭数"), sheets.INTEGER, total=True),
    ]


SESSION_FIELDS = (
    "x_unit",
    "x_school",
    "x_title",
    "x_starts",
    "x_ends",
    "x_venue",
    "x_status",
    "offering__capacity",
    "offering__places_taken",
    "offering__waiting_families",
)


def sessions_queryset(*, term: Term, unit_ids: Iterable[int] | None) -> QuerySet:
    """One row per course session of the term, as cells: times are date serials
    in Shanghai time (``ExcelSerial``), text is escaped."""
    qs = CourseSession.objects.filter(course__term=term)
    if unit_ids is not None:
        qs = qs.filter(course__parent_school__host_unit_id__in=list(unit_ids))
    return (
        qs.annotate(
            x_unit=_cell_text(F("course__parent_school__host_unit__name")),
            x_school=_cell_text(F("course__parent_school__name")),
            x_title=_cell_text(F("course__title")),
            x_venue=_cell_text(F("venue")),
            x_status=_labels("offering__status", Offering.Status.choices),
            x_starts=sheets.ExcelSerial(F("offering__starts_at")),
            x_ends=sheets.ExcelSerial(F("offering__ends_at")),
        )
        .order_by("offering__starts_at", "pk")
        .values_list(*SESSION_FIELDS)
    )


def roster_columns() -> list[sheets.Column]:
    return [
        sheets.Column(_("单位")),
        sheets.Column(_("家长学校")),
        sheets.Column(_("课程")),
        sheets.Column(_("场次时间"), sheets.DATETIME),
        sheets.Column(_("家庭编号"), sheets.INTEGER),
        sheets.Column(_("报名人")),
        sheets.Column(_("手机")),
        sheets.Column(_("人数"), sheets.INTEGER, total=True),
        sheets.Column(_("其中孩子"), sheets.INTEGER, total=True),
        sheets.Column(_("出勤"), count_value=str(Booking.Attendance.PRESENT.label)),
        sheets.Column(_("签到时间"), sheets.DATETIME),
    ]


#: The roster's cells: a session's four (``roster_sessions``), then a booking's.
ROSTER_SESSION_FIELDS = ("x_unit", "x_school", "x_title", "x_starts")
ROSTER_BOOKING_FIELDS = (
    "offering_id",
    "family_id",
    "x_person",
    "x_phone",
    "party_size",
    "children_count",
    "x_attendance",
    "x_checked",
)


def roster_queryset(*, term: Term, unit_ids: Iterable[int] | None) -> QuerySet:
    """Confirmed enrolments of the term's course sessions, one row per booking,
    as cells (times as date serials in Shanghai time, text escaped, phones masked),
    after the session's id: its own cells come from ``roster_sessions``, once per
    session instead of once per booking."""
    qs = Booking.objects.filter(
        status=Booking.Status.CONFIRMED,
        offering__kind=Offering.Kind.COURSE_SESSION,
        offering__course_session__course__term=term,
    )
    if unit_ids is not None:
        qs = qs.filter(
            offering__course_session__course__parent_school__host_unit_id__in=list(unit_ids)
        )
    return (
        qs.annotate(
            x_person=_cell_text(
                Coalesce(NullIf(F("booked_by__display_name"), Value("")), F("booked_by__username"))
            ),
            x_phone=MaskPhone(F("booked_by__phone")),
            x_attendance=_labels("attendance", Booking.Attendance.choices),
            x_checked=sheets.ExcelSerial(F("checked_in_at")),
        )
        .order_by("offering__starts_at", "offering_id", "pk")
        .values_list(*ROSTER_BOOKING_FIELDS)
    )


def roster_sessions(*, term: Term, unit_ids: Iterable[int] | None) -> dict[int, tuple]:
    """The roster's session cells (unit, parent school, title, start) by offering id,
    each with the widths of its three texts."""
    qs = Offering.objects.filter(
        kind=Offering.Kind.COURSE_SESSION, course_session__course__term=term
    )
    if unit_ids is not None:
        qs = qs.filter(course_session__course__parent_school__host_unit_id__in=list(unit_ids))
    ps = "course_session__course__parent_school"
    rows = qs.annotate(
        x_unit=_cell_text(F(f"{ps}__host_unit__name")),
        x_school=_cell_text(F(f"{ps}__name")),
        x_title=_cell_text(F("title")),
        x_starts=sheets.ExcelSerial(F("starts_at")),
    ).values_list("pk", *ROSTER_SESSION_FIELDS)
    widths = rows.annotate(
        w0=sheets.DisplayWidth("x_unit"),
        w1=sheets.DisplayWidth("x_school"),
        w2=sheets.DisplayWidth("x_title"),
    ).values_list("pk", *ROSTER_SESSION_FIELDS, "w0", "w1", "w2")
    return {pk: (cells[:4], cells[4:]) for pk, *cells in widths.iterator(chunk_size=CSV_CHUNK)}


def roster_rows(
    *, term: Term, unit_ids: Iterable[int] | None, widest: dict[int, int]
) -> Iterable[list[list]]:
    """The roster's rows as cells, CSV_CHUNK at a time; the widest text of each
    text column goes into ``widest`` (complete once the last batch is out)."""
    sessions = roster_sessions(term=term, unit_ids=unit_ids)
    seen: set[int] = set()
    batches = _measured(
        roster_queryset(term=term, unit_ids=unit_ids),
        ROSTER_BOOKING_FIELDS,
        {5: "x_person", 6: "x_phone", 9: "x_attendance"},
        widest,
    )
    cells = len(ROSTER_BOOKING_FIELDS)
    for batch in batches:
        seen.update(row[0] for row in batch)
        # One list per row (what the writer takes), built from the fetched
        # tuple once (the widths after the cells are left out).
        yield [[*sessions[row[0]][0], *row[1:cells]] for row in batch]
    for pk in seen:
        for index, width in enumerate(sessions[pk][1]):
            widest[index] = max(widest.get(index, 0), width or 0)


def session_rows(
    *, term: Term, unit_ids: Iterable[int] | None, widest: dict[int, int]
) -> Iterable[list[list]]:
    """The sessions sheet's rows as cells, CSV_CHUNK at a time (widths as above)."""
    columns = session_columns()
    text = {i: SESSION_FIELDS[i] for i, c in enumerate(columns) if c.kind == sheets.TEXT}
    cells = len(SESSION_FIELDS)
    for batch in _measured(
        sessions_queryset(term=term, unit_ids=unit_ids), SESSION_FIELDS, text, widest
    ):
        yield [list(row[:cells]) for row in batch]


def _measured(queryset: QuerySet, fields, text: dict[int, str], widest: dict[int, int]):
    """Batches of a queryset's rows (tuples: the ``fields``, then the widths),
    with the width of the text fields ``text`` (column index → field) asked of the
    database in the same query (``DisplayWidth``) and the widest of each kept in
    ``widest``.

    The rows are fetched as the driver's plain tuples, CSV_CHUNK per round trip
    of a server-side cursor, without the ORM's per-row converters: every cell is
    already of its final type in SQL (text, integers, ``ExcelSerial``'s double),
    and skipping them was a fifth of the workbook's Python time per row.
    """
    width_fields = {f"w{index}": sheets.DisplayWidth(field) for index, field in text.items()}
    queryset = queryset.annotate(**width_fields).values_list(*fields, *width_fields)
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    cells = len(fields)
    db = connections[queryset.db]
    with db.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(CSV_CHUNK):
            for offset, index in enumerate(text, start=cells):
                widest[index] = max(widest.get(index, 0), max(row[offset] or 0 for row in batch))
            yield batch


def xlsx_row_count(*, term: Term, unit_ids: Iterable[int] | None) -> int:
    return (
        roster_queryset(term=term, unit_ids=unit_ids).count()
        + sessions_queryset(term=term, unit_ids=unit_ids).count()
    )


def xlsx_write(
    *,
    term: Term,
    unit_ids: Iterable[int] | None,
    out: IO[bytes] | str,
    progress: Callable[[int], None] | None = None,
    actor=None,
    now: dt.datetime | None = None,
) -> int:
    """Write the workbook (members/spreadsheets.py); returns the number of rows.

    ``actor`` is who asked (None: the operator running the command), named in the
    title block with the time ``now`` (default: now).
    """
    unit_ids = None if unit_ids is None else list(unit_ids)
    heading = workbook_heading(term=term, unit_ids=unit_ids, actor=actor, now=now)
    workbook = sheets.Workbook()

    summary_rows = summary_queryset(term=term, unit_ids=unit_ids)
    dataset = TermSummaryResource().export(summary_rows)
    columns = [
        sheets.Column(header, SUMMARY_KINDS[name])
        for name, header in zip(TermSummaryResource.Meta.fields, dataset.headers, strict=True)
    ]
    totals = summary_totals(summary_rows)
    title = _("汇总")
    summary = sheets.SheetWriter(
        workbook,
        title=title,
        columns=columns,
        widths=sheets.measure_widths(columns, [*dataset, totals]),
        heading=heading.lines(title),
    )
    for row in dataset:
        summary.append(row)
    summary.append_totals(totals)
    written = len(dataset)

    # The growth handbook's figures per unit (the typed writer escapes the names).
    columns = handbook_columns()
    rows = handbook_rows(term=term, unit_ids=unit_ids)
    in_sheet = sheets.Totals(columns)
    for row in rows:
        in_sheet.add(row)
    totals = in_sheet.cells(_("合计"))
    title = _("成长手册")
    handbook = sheets.SheetWriter(
        workbook,
        title=title,
        columns=columns,
        widths=sheets.measure_widths(columns, [*rows, totals]),
        heading=heading.lines(title),
    )
    for row in rows:
        handbook.append(row)
    handbook.append_totals(totals)
    written += len(rows)

    # The questionnaires per unit and 考核 per unit and target: small sheets in
    # memory, names escaped by the typed writer like the handbook's.
    for title, columns, (rows, totals) in (
        (_("问卷调查"), survey_columns(), survey_rows(term=term, unit_ids=unit_ids)),
        (_("目标达成"), attainment_columns(), attainment_rows(term=term, unit_ids=unit_ids)),
    ):
        sheet = sheets.SheetWriter(
            workbook,
            title=title,
            columns=columns,
            widths=sheets.measure_widths(columns, [*rows, totals]),
            heading=heading.lines(title),
        )
        for row in rows:
            sheet.append(row)
        sheet.append_totals(totals)
        written += len(rows)

    for title, columns, rows in (
        (_("开课场次"), session_columns(), session_rows),
        (_("出勤名单"), roster_columns(), roster_rows),
    ):
        widest: dict[int, int] = {}
        with export_session():
            batches = rows(term=term, unit_ids=unit_ids, widest=widest)
            written = _write_rows(
                workbook,
                title=title,
                columns=columns,
                batches=_read_ahead(batches, written=written, progress=progress),
                widest=widest,
                heading=heading,
                written=written,
            )
        if progress:
            progress(written)
    workbook.save(out)
    return written


def _read_ahead(
    batches: Iterator[list], *, written: int, progress: Callable[[int], None] | None
) -> Iterator[list]:
    """The batches, read ahead by a thread on the same database connection.

    The database and the writer then work at the same time (the thread waits for
    rows while the writer turns the previous batch into XML), instead of in turn.
    While the thread lives it is the only one to use the connection: it also
    reports the progress (rows read so far, at most two batches ahead of the rows
    written), so that a background job's progress is seen as before.
    """
    shared = connections[DEFAULT_DB_ALIAS]
    handoff: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    end = object()

    def hand(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        connections[DEFAULT_DB_ALIAS] = shared
        count = written
        try:
            for batch in batches:
                if not hand(batch):
                    return
                count += len(batch)
                if progress:
                    progress(count)
            hand(end)
        except BaseException as error:  # handed to the writer, which raises it
            hand(error)
        finally:
            batches.close()

    shared.inc_thread_sharing()
    thread = threading.Thread(target=read, name="xlsx-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := handoff.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
        shared.dec_thread_sharing()


def _write_rows(workbook, *, title, columns, batches, widest, heading, written) -> int:
    """Stream the rows (``batches`` of cell rows) into the sheet, continuing on
    「<title>（2）」… past XLSX_SHEET_MAX_ROWS; each sheet ends with its totals, the
    last one also with the totals of all its parts.

    The widths come with the rows: their queries also give each text cell's width
    (``DisplayWidth``) and ``widest`` holds the widest once the last batch is out;
    the sheets take them then (a streamed sheet's widths may change until the file
    is saved), and text wraps in every text column, which shows only where a cell
    is wider than the limit.
    """

    def new_sheet(part: int) -> sheets.SheetWriter:
        name = title if part == 1 else f"{title}（{part}）"
        return sheets.SheetWriter(
            workbook, title=name, columns=columns, widths=None, heading=heading.lines(name)
        )

    part = 1
    writer = new_sheet(part)
    parts = [writer]
    in_sheet = sheets.Totals(columns)
    in_all = sheets.Totals(columns)
    for rows in batches:
        # The cells were formatted by the database (the writer's rules agree).
        while rows:
            if in_sheet.rows == XLSX_SHEET_MAX_ROWS:
                writer.append_totals(in_sheet.cells(_total_label(in_sheet.rows)))
                part += 1
                writer = new_sheet(part)
                parts.append(writer)
                in_sheet = sheets.Totals(columns)
            room = XLSX_SHEET_MAX_ROWS - in_sheet.rows
            here, rows = rows[:room], rows[room:]
            writer.append_cells(here)
            in_sheet.add_rows(here)
            in_all.add_rows(here)
            written += len(here)
    writer.append_totals(in_sheet.cells(_total_label(in_sheet.rows)))
    if part > 1:
        label = _("全部合计（%(rows)s 行，含前面各表）") % {"rows": in_all.rows}
        writer.append_totals(in_all.cells(label))
    widths = sheets.fit_widths(columns, [widest.get(i) for i in range(len(columns))])
    for sheet in parts:
        sheet.set_widths(widths)
    return written


def _total_label(rows: int) -> str:
    return _("合计（%(rows)s 行）") % {"rows": rows}


def xlsx_bytes(*, term: Term, unit_ids: Iterable[int] | None, actor=None) -> bytes:
    buffer = io.BytesIO()
    xlsx_write(term=term, unit_ids=unit_ids, out=buffer, actor=actor)
    return buffer.getvalue()
