"""Reads for the dashboards. Everything here reads snapshots, never raw rows."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from members import access
from members.models import MemberUnit, Region
from parent_school.models import BrandProgramme, Term

from .errors import ReportError
from .models import (
    TERM_PERIOD,
    BrandSnapshot,
    HandbookSnapshot,
    ParticipationSnapshot,
    ReportJob,
    SnapshotMark,
    SurveySnapshot,
    UnitAttainment,
)
from .rollup import HANDBOOK_METRICS, mean_of, small_group_hides

SUMMED = [
    "sessions_held",
    "sessions_planned",
    "events_held",
    "enrolments",
    "enrolments_held",
    "attendances",
    "person_times",
    "families",
    "children",
    "credits_posted",
    "event_participants",
    "volunteer_hours",
    "lessons_completed",
    "consultations_held",
]


def term_choose(*, code: str | None) -> Term:
    """The term named by ``code``, else the current one, else the latest."""
    if code:
        # A code from the address bar: what cannot be a code (a NUL byte PostgreSQL
        # refuses, more than the field holds) is simply not a term.
        if "\x00" in code or len(code) > Term._meta.get_field("code").max_length:
            raise ReportError("unknown_term")
        term = Term.objects.filter(code=code).first()
        if term is None:
            raise ReportError("unknown_term")
        return term
    term = (
        Term.objects.filter(is_current=True).first() or Term.objects.order_by("-starts_on").first()
    )
    if term is None:
        raise ReportError("no_term")
    return term


def term_list() -> list[Term]:
    return list(Term.objects.order_by("-starts_on")[:20])


def snapshots_for(*, user, term: Term) -> QuerySet[ParticipationSnapshot]:
    """The term's snapshots of the units ``user`` may see."""
    qs = ParticipationSnapshot.objects.filter(term=term)
    if not access.sees_every_district(user):
        qs = qs.filter(unit_id__in=access.visible_unit_ids(user))
    return qs


def _rate(attendances, enrolments_held):
    if not enrolments_held:
        return None
    return (Decimal(attendances) * 100 / Decimal(enrolments_held)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


_marks_of_row = SnapshotMark.objects.filter(
    term_id=OuterRef("term_id"), unit_id=OuterRef("unit_id")
)


def key_figures(qs: QuerySet) -> dict:
    """Totals over the term rows of ``qs`` (one query), plus target counts, the
    latest computation (``last_computed``) and whether changes of those units are
    still being rolled up (``changes_pending``)."""
    figures = qs.filter(period=TERM_PERIOD).aggregate(
        **{f: Sum(f) for f in SUMMED},
        schools=Count("pk", filter=Q(parent_school__isnull=False)),
        schools_met=Count("pk", filter=Q(target_met=True)),
        last_computed=Max("computed_at"),
        # Changes of these units marked but not yet re-rolled (reports.services
        # .snapshot_marks_rollup): the page says they are on their way.
        changes_pending=Count("pk", filter=Q(Exists(_marks_of_row))),
    )
    for field in SUMMED:
        figures[field] = figures[field] or 0
    figures["attendance_rate"] = _rate(figures["attendances"], figures["enrolments_held"])
    figures["changes_pending"] = bool(figures["changes_pending"])
    return figures


@dataclass(frozen=True)
class Figure:
    """One key figure of the dashboard: where its number comes from and what counts.

    ``kind`` says how the page writes it: ``count``, ``decimal`` (one decimal),
    ``rate`` (a percentage) or ``ratio`` (met / all parent schools).
    """

    key: str
    label: Promise
    note: Promise
    kind: str = "count"


# The dashboard's key figures in the order shown, each with the note printed
# under it. The roll-up (reports/rollup.py) computes exactly these definitions;
# docs/REPORTS.md ("Definitions") repeats them, and reports/tests/test_figures.py
# checks every one against a term worked out by hand.
KEY_FIGURES = [
    Figure(
        "person_times",
        _("参与人次"),
        _(
            "已举行的课程和活动中，签到为出席的家庭成员人次。"
            "一位家长带一个孩子出席一场，计 2 人次。"
        ),
    ),
    Figure(
        "families",
        _("覆盖家庭数"),
        _("本学期至少出席过一次课程或活动的家庭。在每所家长学校内去重（单位活动单列）后相加。"),
    ),
    Figure(
        "children",
        _("覆盖儿童数"),
        _("出席的家庭成员中的孩子，去重方式同覆盖家庭数。"),
    ),
    Figure("sessions_held", _("开课次数"), _("已到开始时间、未取消的课程场次。")),
    Figure(
        "schools_met",
        _("家长学校达标"),
        _("开课次数达到本学期目标的家长学校 / 全部家长学校；未设目标的按 10 次计。"),
        kind="ratio",
    ),
    Figure(
        "attendance_rate",
        _("出勤率"),
        _("已开课场次的课程报名中签到为出席的比例，按报名计；未签到的算未出席。"),
        kind="rate",
    ),
    Figure(
        "enrolments",
        _("课程报名（户次）"),
        _("课程场次的确认报名，一个家庭报一场计 1 次，含尚未开课的场次；候补和已取消的不计。"),
    ),
    Figure(
        "credits_posted",
        _("学分"),
        _("本学期记入学分银行的学分：出席课程的每位家庭成员、学完的线上微课各记一笔；更正已扣除。"),
        kind="decimal",
    ),
    Figure("events_held", _("活动场次"), _("已到开始时间的活动，不含草稿和已取消的。")),
    Figure(
        "event_participants",
        _("活动参与人次"),
        _("已举行的活动中签到为出席的人次，已计入参与人次。"),
    ),
    Figure(
        "volunteer_hours",
        _("志愿服务时长（小时）"),
        _(
            "志愿者服务时长记录中已计入的时长：系统按授课、活动和指导咨询自动记录的，"
            "以及手工登记并经核实的；待核实和未通过的不计。"
        ),
        kind="decimal",
    ),
    Figure(
        "lessons_completed",
        _("完成线上微课"),
        _("本学期课程的线上微课被学完的次数，每个家庭每节计 1 次。"),
    ),
    Figure(
        "consultations_held",
        _("指导咨询（次）"),
        _("本单位成长指导工作站本学期已完成的咨询次数，按咨询日期计；不含家庭和孩子信息。"),
    ),
]


def key_figure_list(figures: dict) -> list[dict]:
    """``key_figures`` as the page lists them: value, label and note of each."""
    rows = []
    for figure in KEY_FIGURES:
        value = figures[figure.key]
        rows.append(
            {
                "key": figure.key,
                "label": figure.label,
                "note": figure.note,
                "kind": figure.kind,
                "value": value,
                "of": figures["schools"] if figure.kind == "ratio" else None,
            }
        )
    return rows


def monthly_trend(qs: QuerySet) -> list[dict]:
    """One dict per month: the figures summed over the rows of ``qs``."""
    rows = (
        qs.exclude(period=TERM_PERIOD)
        .values("period")
        .annotate(
            sessions=Sum("sessions_held"),
            events=Sum("events_held"),
            person_times=Sum("person_times"),
            attendances=Sum("attendances"),
            enrolments_held=Sum("enrolments_held"),
            credits=Sum("credits_posted"),
        )
        .order_by("period")
    )
    result = []
    for row in rows:
        row["attendance_rate"] = _rate(row["attendances"], row["enrolments_held"])
        result.append(row)
    return result


def unit_comparison(qs: QuerySet) -> list[dict]:
    """Term figures per unit, most person-times first, with each unit's survey
    figures (its reports.SurveySnapshot row, read in the same query)."""
    survey_row = SurveySnapshot.objects.filter(
        term_id=OuterRef("term_id"), unit_id=OuterRef("unit_id")
    )
    rows = (
        qs.filter(period=TERM_PERIOD)
        .values("unit_id", "unit__name", "term_id")
        .annotate(
            response_rate=Subquery(survey_row.values("response_rate")[:1]),
            satisfaction=Subquery(survey_row.values("satisfaction")[:1]),
            satisfaction_answers=Subquery(survey_row.values("satisfaction_answers")[:1]),
            sessions=Sum("sessions_held"),
            events=Sum("events_held"),
            person_times=Sum("person_times"),
            families=Sum("families"),
            attendances=Sum("attendances"),
            enrolments_held=Sum("enrolments_held"),
            credits=Sum("credits_posted"),
            schools=Count("pk", filter=Q(parent_school__isnull=False)),
            schools_met=Count("pk", filter=Q(target_met=True)),
        )
        .order_by("-person_times", "unit__name")
    )
    result = []
    for row in rows:
        row["attendance_rate"] = _rate(row["attendances"], row["enrolments_held"])
        # Answers there, mean withheld by the small-group rule: 「样本不足，不显示」.
        row["satisfaction_suppressed"] = row["satisfaction"] is None and bool(
            row["satisfaction_answers"]
        )
        result.append(row)
    return result


def school_comparison(qs: QuerySet) -> QuerySet:
    """Term rows per parent school (and the unit's event row), most person-times first."""
    return (
        qs.filter(period=TERM_PERIOD)
        .select_related("parent_school", "unit")
        .order_by("-person_times", "parent_school_key")
    )


def target_table(qs: QuerySet) -> QuerySet:
    """Parent schools' term rows: not met first, then by unit and name."""
    return (
        qs.filter(period=TERM_PERIOD, parent_school__isnull=False)
        .select_related("parent_school", "unit")
        .order_by("target_met", "unit__name", "parent_school__name")
    )


# --- the growth handbook (per unit and term: reports.HandbookSnapshot) --------------------

# Summed over units: every handbook figure of the snapshot.
HANDBOOK_SUMMED = HANDBOOK_METRICS


def handbook_snapshots_for(*, user, term: Term) -> QuerySet[HandbookSnapshot]:
    """The term's handbook rows of the units ``user`` may see (scoped like
    ``snapshots_for``)."""
    qs = HandbookSnapshot.objects.filter(term=term)
    if not access.sees_every_district(user):
        qs = qs.filter(unit_id__in=access.visible_unit_ids(user))
    return qs


# The handbook's figures on the dashboards, in the order shown, each with its
# note; docs/REPORTS.md ("The growth handbook") repeats them.
HANDBOOK_FIGURES = [
    Figure(
        "claims",
        _("手册申报"),
        _("本学期家庭在成长手册中提交的申报（含待审核、需补充、已通过和未通过；已撤回的不计）。"),
    ),
    Figure("claims_approved", _("通过的申报"), _("审核通过、已计积分的申报。")),
    Figure("claims_open", _("待审核的申报"), _("等待审核或等待家庭补充材料的申报。")),
    Figure("points_home", _("在家陪伴积分"), _("通过的在家陪伴申报所得积分。")),
    Figure(
        "points_school", _("在校陪伴积分"), _("通过的在校陪伴申报所得积分（含签到自动生成的）。")
    ),
    Figure("points_behaviour", _("陪伴好行为积分"), _("通过的陪伴好行为申报所得积分。")),
    Figure(
        "families_active",
        _("参与手册的家庭"),
        _("本学期至少提交过一次申报的家庭，在每个审核单位内去重后相加。"),
    ),
    Figure(
        "learning_families",
        _("学习型家庭"),
        _("已发布的学习型家庭名单中入选的家庭，按家庭所属单位计；名单发布前为 0。"),
    ),
]


def handbook_key_figures(qs: QuerySet[HandbookSnapshot]) -> list[dict]:
    """The handbook's totals over ``qs`` (one query), as the page lists them."""
    totals = qs.aggregate(**{f: Sum(f) for f in HANDBOOK_SUMMED})
    return [
        {
            "key": figure.key,
            "label": figure.label,
            "note": figure.note,
            "kind": figure.kind,
            "value": totals[figure.key] or 0,
        }
        for figure in HANDBOOK_FIGURES
    ]


def handbook_unit_table(qs: QuerySet[HandbookSnapshot]) -> QuerySet[HandbookSnapshot]:
    """The handbook rows per unit, most approved claims first (paginate in the view)."""
    return qs.select_related("unit").order_by("-claims_approved", "unit__name", "unit_id")


# --- questionnaires and 考核 (reports.SurveySnapshot, reports.UnitAttainment) ------------


def survey_snapshots_for(*, user, term: Term) -> QuerySet[SurveySnapshot]:
    """The term's questionnaire rows of the units ``user`` may see."""
    qs = SurveySnapshot.objects.filter(term=term)
    if not access.sees_every_district(user):
        qs = qs.filter(unit_id__in=access.visible_unit_ids(user))
    return qs


SURVEY_FIGURES = [
    Figure(
        "response_rate",
        _("问卷回收率"),
        _(
            "作答家庭 / 邀请家庭：本学期已发布问卷（学期问卷和场次、活动问卷）收到的答卷，"
            "除以收到邀请的家庭（邀请发出前已作答的家庭也计入）。"
        ),
        kind="rate",
    ),
    Figure(
        "satisfaction",
        _("学期问卷满意度"),
        _("学期问卷中满意度题（1–5 分）的平均分；匿名问卷只计已汇总的答卷。"),
        kind="mean",
    ),
    Figure("answered", _("作答家庭"), _("本学期问卷的作答份数，每个家庭每份问卷计 1 次。")),
    Figure("invited", _("邀请家庭"), _("本学期问卷邀请的家庭，每个家庭每份问卷计 1 次。")),
    Figure("surveys", _("问卷数"), _("本学期已发布、由家庭作答的问卷（课程问卷按场次计）。")),
]


def survey_key_figures(qs: QuerySet[SurveySnapshot]) -> list[dict]:
    """The questionnaires' totals over ``qs`` (one query), as the page lists them:
    the response rate and the satisfaction of the sums, not means of means.

    The satisfaction follows the small-group rule (reports.rollup.small_group_hides):
    shown only with at least SURVEYS_MIN_GROUP answers, and only if the answers
    of the units whose own satisfaction is withheld are none or at least the
    minimum (else the total minus the units shown would reveal them); withheld,
    it is None with ``suppressed`` set: 「样本不足，不显示」, not 「暂无数据」."""
    totals = qs.aggregate(
        # First: below, "satisfaction_answers" names the sum.
        satisfaction_hidden=Sum("satisfaction_answers", filter=Q(satisfaction__isnull=True)),
        surveys=Sum("surveys"),
        invited=Sum("invited"),
        answered=Sum("answered"),
        satisfaction_answers=Sum("satisfaction_answers"),
        satisfaction_sum=Sum("satisfaction_sum"),
    )
    totals = {key: value or 0 for key, value in totals.items()}
    totals["response_rate"] = _rate(totals["answered"], totals["invited"])
    satisfaction_withheld = small_group_hides(
        totals["satisfaction_answers"], totals["satisfaction_hidden"]
    )
    totals["satisfaction"] = (
        None
        if satisfaction_withheld
        else mean_of(totals["satisfaction_sum"], totals["satisfaction_answers"])
    )
    return [
        {
            "key": figure.key,
            "label": figure.label,
            "note": figure.note,
            "kind": figure.kind,
            "value": totals[figure.key],
            "suppressed": figure.key == "satisfaction"
            and satisfaction_withheld
            and totals["satisfaction_answers"] > 0,
        }
        for figure in SURVEY_FIGURES
    ]


def attainment_table(*, term: Term, unit) -> list[UnitAttainment]:
    """考核: the unit's attainment rows of the term, in the district's order of
    responsibilities (one query). The caller has checked the unit is visible.

    A row with nothing achieved is ``suppressed`` when it is the satisfaction and
    the unit has satisfaction answers the small-group rule withholds: shown
    「样本不足，不显示」 rather than 「暂无数据」."""
    rows = list(
        attainment_with_sample(UnitAttainment.objects.filter(term=term, unit=unit))
        .select_related("responsibility")
        .order_by("responsibility__position", "responsibility_id")
    )
    for row in rows:
        row.suppressed = attainment_suppressed(
            row.achieved, row.responsibility.metric, row.satisfaction_answers
        )
    return rows


def attainment_with_sample(qs: QuerySet[UnitAttainment]) -> QuerySet[UnitAttainment]:
    """``qs`` with each row's unit's satisfaction answers of the term (its
    SurveySnapshot row, in the same query)."""
    return qs.annotate(
        satisfaction_answers=Subquery(
            SurveySnapshot.objects.filter(
                term_id=OuterRef("term_id"), unit_id=OuterRef("unit_id")
            ).values("satisfaction_answers")[:1]
        )
    )


def attainment_suppressed(achieved, metric: str, satisfaction_answers) -> bool:
    """Nothing achieved because the small-group rule withholds the satisfaction."""
    return achieved is None and metric == "satisfaction" and bool(satisfaction_answers)


def rollup_job_open(*, term: Term) -> ReportJob | None:
    return (
        ReportJob.objects.filter(
            term=term,
            kind=ReportJob.Kind.ROLLUP,
            status__in=[ReportJob.Status.QUEUED, ReportJob.Status.RUNNING],
        )
        .order_by("-created_at")
        .first()
    )


def jobs_of(*, user, limit: int = 10) -> list[ReportJob]:
    return list(ReportJob.objects.filter(requested_by=user).select_related("term", "unit")[:limit])


# --- brand programmes (品牌项目: reports.BrandSnapshot, docs/BRANDS.md) ------------------

BRAND_LIST_LIMIT = 50  # courses, events and groups listed on a brand's page, each


def _brand_figures_of(term: Term) -> dict:
    row = BrandSnapshot.objects.filter(term=term, brand_id=OuterRef("pk"))
    return {
        metric: Coalesce(Subquery(row.values(metric)[:1]), 0)
        for metric in ("sessions", "person_times", "families")
    }


def brand_matrix(*, term: Term, unit_kind: str = "", street_id: int | None = None) -> QuerySet:
    """The district's brand matrix: every active brand with its host unit and its
    figures of ``term`` (its BrandSnapshot row, 0 without one), most person-times
    first — one query. ``unit_kind`` keeps brands whose host unit is of that kind;
    ``street_id`` those whose host unit lies in that street (its region, or its
    region's parent: a community of the street)."""
    qs = BrandProgramme.objects.filter(is_active=True).select_related("owner_unit")
    if unit_kind:
        qs = qs.filter(owner_unit__kind=unit_kind)
    if street_id is not None:
        qs = qs.filter(
            Q(owner_unit__region_id=street_id) | Q(owner_unit__region__parent_id=street_id)
        )
    return qs.annotate(**_brand_figures_of(term)).order_by("-person_times", "name", "pk")


def brand_matrix_totals(*, term: Term, matrix: QuerySet) -> dict:
    """Sessions, person-times and families of ``term`` summed over the brands of
    ``matrix`` (one query)."""
    totals = BrandSnapshot.objects.filter(
        term=term, brand_id__in=matrix.order_by().values("pk")
    ).aggregate(
        sessions=Sum("sessions"), person_times=Sum("person_times"), families=Sum("families")
    )
    return {key: value or 0 for key, value in totals.items()}


def brand_filter_choices() -> dict:
    """The filters' options: the kinds of the active brands' host units, and the
    streets (two queries)."""
    kinds = dict(MemberUnit.Kind.choices)
    used = (
        BrandProgramme.objects.filter(is_active=True)
        .values_list("owner_unit__kind", flat=True)
        .distinct()
        .order_by("owner_unit__kind")
    )
    streets = Region.objects.filter(kind=Region.Kind.STREET).only("pk", "name").order_by("name")
    return {
        "unit_kinds": [(kind, kinds.get(kind, kind)) for kind in used],
        "streets": list(streets),
    }


def brand_public(*, brand_id: int) -> BrandProgramme | None:
    """An active brand with its host unit, for its public page."""
    return (
        BrandProgramme.objects.filter(pk=brand_id, is_active=True)
        .select_related("owner_unit", "owner_unit__region")
        .first()
    )


def brand_programme_of(brand: BrandProgramme) -> dict:
    """What a brand's public page lists: its published courses (title, parent
    school, term), its published or finished events (title, organising unit,
    start), its active groups (name, parent school) — names and schools only, no
    person — at most BRAND_LIST_LIMIT of each; its figures per term (its
    BrandSnapshot rows, latest term first) and their totals. Five queries."""
    from courses.models import Course
    from events.models import Event
    from groups.models import Group

    courses = list(
        Course.objects.filter(brand=brand, is_published=True)
        .select_related("parent_school", "term")
        .only("pk", "title", "parent_school__name", "term__code", "term__starts_on")
        .order_by("-term__starts_on", "title", "pk")[:BRAND_LIST_LIMIT]
    )
    events = list(
        Event.objects.filter(
            brand=brand, status__in=[Event.Status.PUBLISHED, Event.Status.FINISHED]
        )
        .select_related("organiser_unit", "offering")
        .only("pk", "title", "organiser_unit__name", "offering__starts_at")
        .order_by("-offering__starts_at", "pk")[:BRAND_LIST_LIMIT]
    )
    groups = list(
        Group.objects.filter(brand=brand, status=Group.Status.ACTIVE)
        .select_related("parent_school")
        .only("pk", "name", "kind", "parent_school__name")
        .order_by("name", "pk")[:BRAND_LIST_LIMIT]
    )
    terms = list(
        BrandSnapshot.objects.filter(brand=brand)
        .select_related("term")
        .order_by("-term__starts_on", "term_id")
    )
    return {
        "courses": courses,
        "events": events,
        "groups": groups,
        "terms": terms,
        "totals": {
            "sessions": sum(row.sessions for row in terms),
            "person_times": sum(row.person_times for row in terms),
        },
        "computed_at": max((row.computed_at for row in terms), default=None),
    }
