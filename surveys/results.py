"""What questionnaires found: one survey's results (a course series session by
session beside its total) and one template compared across units, parent schools
and terms. Reads only; the pages (surveys/manage_views.py), the exports
(surveys/exports.py) and the API build on the dataclasses below.

Numbers come from one GROUP BY over Answer ⋈ Response ⋈ Survey ⋈ Question —
(group, question key, number) → count — and the mean, the median and the NPS are
derived from that distribution of integers in Python, so PostgreSQL and SQLite
give the same figures and the query count does not grow with the number of groups
(a second aggregate counts the answer sheets per question, which a multiple-choice
question's rows cannot tell).

Small groups are protected (docs/SURVEYS.md, "Results, comparison and small
groups"): any breakdown — a survey's question, a session's, unit's, school's or
term's column — with fewer than ``SURVEYS_MIN_GROUP`` answers is ``suppressed``
and shown as 「样本不足，不显示」, named and anonymous surveys alike. Text answers
of an anonymous survey are shown only when that question has at least
``SURVEYS_MIN_GROUP`` of them; a named survey's, when the group has.

Only released answers are in ``Response``; anonymous ones waiting for their batch
are counted apart (``pending``, 「N 份答卷待汇总」).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from members import access, charts
from members.models import MemberUnit
from members.privacy import mask_phone
from parent_school.models import ParentSchool, Term

from .errors import SurveyError
from .models import (
    Answer,
    Invitation,
    Participation,
    PendingResponse,
    Question,
    Response,
    Survey,
    SurveyTemplate,
)
from .selectors import templates_usable

Kind = Question.Kind

#: Text answers a results page lists at most (per survey or comparison); the
#: named survey's raw export has them all.
TEXTS_SHOWN = 1000

#: Rows fetched per round trip when streaming a named survey's raw answers.
RAW_CHUNK_SIZE = 2000

RATING_VALUES = range(1, 6)
NPS_VALUES = range(0, 11)

#: How the rows of the exports say what a number is, so a workbook can format it.
METRIC_COUNT, METRIC_PERCENT, METRIC_MEAN, METRIC_SCORE, METRIC_TEXT = (
    "count",
    "percent",
    "mean",
    "score",
    "text",
)

GROUP_BY = ("unit", "parent_school", "term")


def min_group() -> int:
    return settings.SURVEYS_MIN_GROUP


def suppressed_label() -> str:
    return _("样本不足，不显示")


# -- dataclasses the pages and exports read ------------------------------------


@dataclass
class QuestionResult:
    """One question in one group (a survey, a session, a unit's column…).

    ``distribution`` is ``[(label, count, percent)]`` with percent 0–100 of the
    answer sheets that answered this question (a multiple-choice question's can
    add up to more than 100). ``mean``/``median``: ratings and NPS; ``nps``:
    ``{"promoters", "passives", "detractors", "score"}`` for NPS (score −100…100).
    ``texts``: text questions, when shown. Everything but ``answered`` is empty
    when ``suppressed``.
    """

    key: str
    label: str
    context_label: str
    kind: str
    answered: int
    suppressed: bool
    distribution: list[tuple[str, int, float]] = field(default_factory=list)
    mean: float | None = None
    median: float | None = None
    nps: dict | None = None
    texts: list[str] = field(default_factory=list)

    @property
    def is_text(self) -> bool:
        return self.kind in Question.TEXT_KINDS

    @property
    def is_scale(self) -> bool:
        return self.kind in (Kind.RATING, Kind.NPS)

    @property
    def kind_label(self) -> str:
        return str(Kind(self.kind).label)


@dataclass
class SurveyResults:
    """A survey's results. ``invited``: families invited, plus those who answered
    before their invitation went out; ``answered``: families who answered
    (participations, released or not); ``counted``: answer sheets in the figures;
    ``pending``: anonymous sheets waiting for their batch. ``response_rate`` is
    answered / invited in percent (None: nobody invited yet).

    A course series (``is_series``) has no answers of its own: ``sessions`` holds
    each session's results (ordered by date) and the figures here are their total.
    """

    survey: Survey
    title: str
    context: str
    is_anonymous: bool
    invited: int
    answered: int
    counted: int
    pending: int
    response_rate: float | None
    suppressed: bool
    min_group: int
    questions: list[QuestionResult]
    is_series: bool = False
    sessions: list[SurveyResults] = field(default_factory=list)

    def rows_by_question(self) -> list[tuple[QuestionResult, list[QuestionResult]]]:
        """Each question of the total with the same question in every session, for
        the side-by-side table of a series (empty list of sessions otherwise)."""
        return [
            (question, [session.questions[index] for session in self.sessions])
            for index, question in enumerate(self.questions)
        ]


@dataclass
class ComparisonColumn:
    """One group of a comparison: a unit, a parent school or a term."""

    key: int
    label: str
    surveys: int
    invited: int
    answered: int
    counted: int
    pending: int
    response_rate: float | None
    suppressed: bool


@dataclass
class ComparisonRow:
    """One question (matched by key across versions; the newest version's label),
    its cells in the order of ``Comparison.columns`` and its chart."""

    key: str
    label: str
    kind: str
    options: list[str]
    cells: list[QuestionResult]
    chart: SafeString

    @property
    def kind_label(self) -> str:
        return str(Kind(self.kind).label)


@dataclass
class Comparison:
    template: SurveyTemplate
    by: str
    by_label: str
    columns: list[ComparisonColumn]
    rows: list[ComparisonRow]
    min_group: int
    pending: int


@dataclass
class RawAnswers:
    """A named survey's answer sheets, one row each, streamed: ``header`` then
    ``rows`` (a generator; iterate once). Cells: family label 「家庭 #id」, the
    submitting guardian's masked phone, the session, submitted at (naive Beijing
    time, as spreadsheets want), then one cell per question in ``keys`` order
    (numbers for ratings and NPS, option labels for choices — several joined by
    「、」 — text as written; formula escaping is the export's job)."""

    survey: Survey
    header: list[str]
    keys: list[str]
    rows: Iterator[list]


# -- the questions of a template across its versions ---------------------------


@dataclass
class _Catalogued:
    key: str
    kind: str
    label: str
    options: list[str]


def _template_questions(template_id: int) -> tuple[list[_Catalogued], set[str]]:
    """Every key the template ever had, in the newest version's order (keys that
    only older versions have come after), each with its newest label, kind and
    options (an option only an older version had keeps that version's label); and
    the newest version's keys. One query."""
    rows = (
        Question.objects.filter(version__template_id=template_id)
        .order_by("-version__number", "section__position", "position", "pk")
        .values_list("version__number", "key", "kind", "label", "options")
    )
    catalogue: dict[str, _Catalogued] = {}
    newest_number, newest_keys = None, set()
    for number, key, kind, label, options in rows:
        if newest_number is None:
            newest_number = number
        if number == newest_number:
            newest_keys.add(key)
        known = catalogue.get(key)
        if known is None:
            catalogue[key] = _Catalogued(key, kind, label, list(options or []))
        elif len(options or []) > len(known.options):
            known.options.extend(options[len(known.options) :])
    return list(catalogue.values()), newest_keys


def _shown(catalogue, newest_keys, tallies) -> list[_Catalogued]:
    """The newest version's questions, and older ones only where they have answers."""
    answered = {key for tally in tallies.values() for key in tally.answered}
    return [q for q in catalogue if q.key in newest_keys or q.key in answered]


# -- the tallies: what the aggregates found per group --------------------------


@dataclass
class _Tally:
    counted: int = 0
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    answered: Counter = field(default_factory=Counter)
    texts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, other: _Tally) -> None:
        self.counted += other.counted
        for key, counter in other.counts.items():
            self.counts[key].update(counter)
        self.answered.update(other.answered)
        for key, texts in other.texts.items():
            self.texts[key].extend(texts)


def _tallies(answers, responses, group_path: str, response_group_path: str) -> dict:
    """The two aggregates over ``answers`` (an Answer queryset) and the sheet count
    over ``responses``, by the group at ``group_path`` (from Answer) and
    ``response_group_path`` (from Response)."""
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    for group, n in (
        responses.annotate(g=_path(response_group_path))
        .values("g")
        .annotate(n=Count("pk"))
        .values_list("g", "n")
        .order_by()
    ):
        if group is not None:
            tallies[group].counted = n
    numbers = (
        answers.filter(number__isnull=False)
        .annotate(g=_path(group_path))
        .values("g", "question__key", "number")
        .annotate(n=Count("pk"))
        .values_list("g", "question__key", "number", "n")
        .order_by()
    )
    for group, key, number, n in numbers:
        if group is not None:
            tallies[group].counts[key][number] += n
    answered = (
        answers.filter(Q(number__isnull=False) | ~Q(text=""))
        .annotate(g=_path(group_path))
        .values("g", "question__key")
        .annotate(n=Count("response_id", distinct=True))
        .values_list("g", "question__key", "n")
        .order_by()
    )
    for group, key, n in answered:
        if group is not None:
            tallies[group].answered[key] = n
    return tallies


def _path(path):
    return path if not isinstance(path, str) else F(path)


def _texts_into(tallies: dict, answers, group_path, *, shuffle_free: bool) -> None:
    """The text answers (at most TEXTS_SHOWN) into each group's tally. An
    anonymous survey's are sorted by their text, so their order tells nothing."""
    rows = (
        answers.filter(number__isnull=True)
        .exclude(text="")
        .annotate(g=_path(group_path))
        .order_by("response__submitted_at", "pk")
        .values_list("g", "question__key", "text")[:TEXTS_SHOWN]
    )
    for group, key, text in rows:
        if group is not None:
            tallies[group].texts[key].append(text)
    if shuffle_free:
        for tally in tallies.values():
            for texts in tally.texts.values():
                texts.sort()


# -- figures of one question in one group --------------------------------------


def _value_labels(question: _Catalogued, present) -> list[tuple[int, str]]:
    if question.kind == Kind.RATING:
        values = sorted(set(RATING_VALUES) | set(present))
        return [(v, _("%(n)s 分") % {"n": v}) for v in values]
    if question.kind == Kind.NPS:
        values = sorted(set(NPS_VALUES) | set(present))
        return [(v, str(v)) for v in values]
    values = sorted(set(range(len(question.options))) | set(present))
    return [
        (
            v,
            question.options[v]
            if 0 <= v < len(question.options)
            else _("选项 %(n)s") % {"n": v + 1},
        )
        for v in values
    ]


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _nth(ordered: list[tuple[int, int]], index: int) -> int:
    """The value at ``index`` (0-based) of the expanded, sorted distribution."""
    seen = 0
    for value, count in ordered:
        seen += count
        if index < seen:
            return value
    raise IndexError(index)


def distribution_mean(counts: Counter) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    return round(sum(value * n for value, n in counts.items()) / total, 2)


def distribution_median(counts: Counter) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    ordered = sorted((value, n) for value, n in counts.items() if n)
    middle = total // 2
    if total % 2:
        return float(_nth(ordered, middle))
    return (_nth(ordered, middle - 1) + _nth(ordered, middle)) / 2


def distribution_nps(counts: Counter) -> dict | None:
    """Promoters answer 9–10, detractors 0–6; the score is their share's difference."""
    total = sum(counts.values())
    if not total:
        return None
    promoters = sum(n for value, n in counts.items() if value >= 9)
    detractors = sum(n for value, n in counts.items() if value <= 6)
    return {
        "promoters": promoters,
        "passives": total - promoters - detractors,
        "detractors": detractors,
        "score": round(100 * (promoters - detractors) / total),
    }


def _question_result(
    question: _Catalogued,
    tally: _Tally,
    *,
    context: str,
    anonymous: bool,
    group_suppressed: bool,
) -> QuestionResult:
    answered = tally.answered.get(question.key, 0)
    context_label = f"[{context}] {question.label}" if context else question.label
    smallest = min_group()
    if question.kind in Question.TEXT_KINDS:
        # Named: the group must be large enough; anonymous: this question's answers too.
        suppressed = group_suppressed or (anonymous and answered < smallest)
    else:
        suppressed = group_suppressed or answered < smallest
    result = QuestionResult(
        key=question.key,
        label=question.label,
        context_label=context_label,
        kind=question.kind,
        answered=answered,
        suppressed=suppressed,
    )
    if suppressed:
        return result
    if question.kind in Question.TEXT_KINDS:
        result.texts = list(tally.texts.get(question.key, ()))
        return result
    counts = tally.counts.get(question.key, Counter())
    result.distribution = [
        (label, counts.get(value, 0), _percent(counts.get(value, 0), answered))
        for value, label in _value_labels(question, counts)
    ]
    if question.kind in (Kind.RATING, Kind.NPS):
        result.mean = distribution_mean(counts)
        result.median = distribution_median(counts)
    if question.kind == Kind.NPS:
        result.nps = distribution_nps(counts)
    return result


# -- one survey -----------------------------------------------------------------


def _survey_visible(user, survey_id) -> Survey:
    survey = (
        Survey.objects.select_related("template", "offering", "course", "term", "unit")
        .filter(pk=survey_id)
        .first()
    )
    if survey is None or not access.can_view_unit(user, survey.unit_id):
        raise SurveyError("survey_missing")
    return survey


def survey_context(survey: Survey) -> str:
    """What a question's label is prefixed with: 「亲子沟通第3讲 · 2026-03-05」 for a
    session's or event's survey, 「亲子沟通 · 全部场次」 for a course series' total,
    nothing for a term survey."""
    if survey.offering_id:
        offering = survey.offering
        return f"{offering.title} · {timezone.localtime(offering.starts_at).date().isoformat()}"
    if survey.scope == Survey.Scope.COURSE and survey.course_id:
        return _("%(course)s · 全部场次") % {"course": survey.course.title}
    return ""


def _rate(answered: int, invited: int) -> float | None:
    return round(100 * answered / invited, 1) if invited else None


def _people_counts(survey_ids) -> dict[int, dict[str, int]]:
    """Invited, answered and pending per survey: four small aggregates."""
    counts: dict[int, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("invited", "answered", "pending"), 0)
    )
    for survey_id, n in (
        Invitation.objects.filter(survey_id__in=survey_ids)
        .values("survey_id")
        .annotate(n=Count("pk"))
        .values_list("survey_id", "n")
        .order_by()
    ):
        counts[survey_id]["invited"] += n
    invited = Invitation.objects.filter(
        survey_id=OuterRef("survey_id"), family_id=OuterRef("family_id")
    )
    for survey_id, n, uninvited in (
        Participation.objects.filter(survey_id__in=survey_ids)
        .annotate(was_invited=Exists(invited))
        .values("survey_id")
        .annotate(n=Count("pk"), uninvited=Count("pk", filter=Q(was_invited=False)))
        .values_list("survey_id", "n", "uninvited")
        .order_by()
    ):
        # A family may answer before its invitation is due (the window opens when
        # the session ends): it was asked all the same.
        counts[survey_id]["answered"] += n
        counts[survey_id]["invited"] += uninvited
    for survey_id, n in (
        PendingResponse.objects.filter(survey_id__in=survey_ids)
        .values("survey_id")
        .annotate(n=Count("pk"))
        .values_list("survey_id", "n")
        .order_by()
    ):
        counts[survey_id]["pending"] += n
    return counts


def survey_results(*, user, survey_id) -> SurveyResults:
    """The results of one survey, scoped by ``members.access.can_view_unit``; a
    course series gives each session's results beside the total."""
    survey = _survey_visible(user, survey_id)
    is_series = survey.scope == Survey.Scope.COURSE
    if is_series:
        members = list(
            Survey.objects.filter(series=survey)
            .select_related("offering")
            .order_by("offering__starts_at", "pk")
        )
    else:
        members = [survey]
    survey_ids = [member.pk for member in members]
    catalogue, newest_keys = _template_questions(survey.template_id)
    answers = Answer.objects.filter(response__survey_id__in=survey_ids)
    tallies = _tallies(
        answers,
        Response.objects.filter(survey_id__in=survey_ids),
        "response__survey_id",
        "survey_id",
    )
    _texts_into(tallies, answers, "response__survey_id", shuffle_free=survey.is_anonymous)
    people = _people_counts(survey_ids)
    catalogue = _shown(catalogue, newest_keys, tallies)

    def build(member: Survey, tally: _Tally, figures: dict, context: str) -> SurveyResults:
        suppressed = tally.counted < min_group()
        return SurveyResults(
            survey=member,
            title=member.title,
            context=context,
            is_anonymous=member.is_anonymous,
            invited=figures["invited"],
            answered=figures["answered"],
            counted=tally.counted,
            pending=figures["pending"],
            response_rate=_rate(figures["answered"], figures["invited"]),
            suppressed=suppressed,
            min_group=min_group(),
            questions=[
                _question_result(
                    question,
                    tally,
                    context=context,
                    anonymous=member.is_anonymous,
                    group_suppressed=suppressed,
                )
                for question in catalogue
            ],
        )

    if not is_series:
        return build(
            survey, tallies.get(survey.pk, _Tally()), people[survey.pk], survey_context(survey)
        )
    sessions = [
        build(member, tallies.get(member.pk, _Tally()), people[member.pk], survey_context(member))
        for member in members
    ]
    total, total_people = _Tally(), dict.fromkeys(("invited", "answered", "pending"), 0)
    for member in members:
        total.add(tallies.get(member.pk, _Tally()))
        for name in total_people:
            total_people[name] += people[member.pk][name]
    if survey.is_anonymous:
        for texts in total.texts.values():
            texts.sort()
    results = build(survey, total, total_people, survey_context(survey))
    results.is_series = True
    results.sessions = sessions
    for index, question in enumerate(results.questions):
        if not question.suppressed:
            hidden = sum(
                s.questions[index].answered for s in sessions if s.questions[index].suppressed
            )
            # Secondary suppression: the total minus the sessions shown (here and
            # on each session survey's own page) would leave the hidden ones.
            if 0 < hidden < min_group():
                _withhold(question)
    return results


# -- one template compared across groups ----------------------------------------


def _template_visible(user, template_id) -> SurveyTemplate:
    """The template if the user may use it (surveys.selectors.templates_usable:
    district templates to every coordinator, an alliance's to its people)."""
    template = templates_usable(user=user).filter(pk=template_id).first()
    if template is None:
        raise SurveyError("template_missing")
    return template


def _group_expression(by: str, prefix: str):
    """The group key of a survey reached through ``prefix`` ("" from Survey)."""
    if by == "unit":
        return F(f"{prefix}unit_id")
    if by == "term":
        return F(f"{prefix}term_id")
    # A parent school's own term survey names it; a course's, a session's (and a
    # course series' sessions) reach it through the course.
    return Coalesce(
        F(f"{prefix}parent_school_id"),
        F(f"{prefix}course__parent_school_id"),
        F(f"{prefix}series__course__parent_school_id"),
        F(f"{prefix}offering__course_session__course__parent_school_id"),
    )


def _group_labels(by: str, keys) -> list[tuple[int, str]]:
    """The groups' names in the order the page shows them: one query."""
    if by == "unit":
        rows = MemberUnit.objects.filter(pk__in=keys).order_by("name", "pk")
        return [(unit.pk, unit.name) for unit in rows]
    if by == "parent_school":
        rows = ParentSchool.objects.filter(pk__in=keys).order_by("name", "pk")
        return [(school.pk, school.name) for school in rows]
    rows = Term.objects.filter(pk__in=keys).order_by("starts_on", "pk")
    return [(term.pk, str(term)) for term in rows]


def _by_label(by: str) -> str:
    return {"unit": _("单位"), "parent_school": _("家长学校"), "term": _("学期")}[by]


def _group_people(by: str, survey_ids) -> dict[int, dict[str, int]]:
    """Invited, answered, pending and surveys per group: four aggregates."""
    expression = _group_expression(by, "survey__")
    counts: dict[int, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("invited", "answered", "pending", "surveys"), 0)
    )

    def per_group(queryset, **aggregates):
        return (
            queryset.annotate(g=expression)
            .values("g")
            .annotate(**aggregates)
            .values_list("g", *aggregates)
            .order_by()
        )

    for group, n in per_group(Invitation.objects.filter(survey_id__in=survey_ids), n=Count("pk")):
        counts[group]["invited"] += n
    invited = Invitation.objects.filter(
        survey_id=OuterRef("survey_id"), family_id=OuterRef("family_id")
    )
    participations = Participation.objects.filter(survey_id__in=survey_ids).annotate(
        was_invited=Exists(invited)
    )
    for group, n, uninvited in per_group(
        participations, n=Count("pk"), uninvited=Count("pk", filter=Q(was_invited=False))
    ):
        counts[group]["answered"] += n
        counts[group]["invited"] += uninvited
    for group, n in per_group(
        PendingResponse.objects.filter(survey_id__in=survey_ids), n=Count("pk")
    ):
        counts[group]["pending"] += n
    surveys = (
        Survey.objects.filter(pk__in=survey_ids)
        .annotate(g=_group_expression(by, ""))
        .values("g")
        .annotate(n=Count("pk"))
        .values_list("g", "n")
        .order_by()
    )
    for group, n in surveys:
        counts[group]["surveys"] += n
    counts.pop(None, None)
    return counts


def template_comparison(*, user, template_id, by: str, term_ids=None, unit_ids=None) -> Comparison:
    """The surveys of one template in the user's scope, grouped ``by`` unit, parent
    school or term (optionally only ``term_ids`` / ``unit_ids``): a column per
    group, a row per question key, a chart per row. Queries do not grow with the
    number of groups. Text questions are left out (they are read per survey).
    Surveys with no parent school (events, alliance terms) have no column when
    grouped by parent school."""
    if by not in GROUP_BY:
        raise ValueError(f"by must be one of {GROUP_BY}, not {by!r}")
    template = _template_visible(user, template_id)
    surveys = Survey.objects.filter(template_id=template.pk, is_published=True).exclude(
        scope=Survey.Scope.COURSE  # a series has no answers: its sessions do
    )
    if not access.sees_every_district(user):
        surveys = surveys.filter(unit_id__in=access.visible_unit_ids(user))
    if term_ids is not None:
        surveys = surveys.filter(term_id__in=list(term_ids))
    if unit_ids is not None:
        surveys = surveys.filter(unit_id__in=list(unit_ids))
    survey_ids = surveys.order_by().values("pk")

    people = _group_people(by, survey_ids)
    catalogue, newest_keys = _template_questions(template.pk)
    answers = Answer.objects.filter(response__survey_id__in=survey_ids)
    tallies = _tallies(
        answers,
        Response.objects.filter(survey_id__in=survey_ids),
        _group_expression(by, "response__survey__"),
        _group_expression(by, "survey__"),
    )
    hidden_inside = _hidden_remainders(answers, survey_ids, by)
    labels = _group_labels(by, list(people))
    smallest = min_group()
    columns = []
    for key, label in labels:
        figures, tally = people[key], tallies.get(key, _Tally())
        columns.append(
            ComparisonColumn(
                key=key,
                label=label,
                surveys=figures["surveys"],
                invited=figures["invited"],
                answered=figures["answered"],
                counted=tally.counted,
                pending=figures["pending"],
                response_rate=_rate(figures["answered"], figures["invited"]),
                suppressed=tally.counted < smallest,
            )
        )
    rows = []
    for question in _shown(catalogue, newest_keys, tallies):
        if question.kind in Question.TEXT_KINDS:
            continue
        cells = [
            _question_result(
                question,
                tallies.get(column.key, _Tally()),
                context=column.label,
                anonymous=True,
                group_suppressed=column.suppressed,
            )
            for column in columns
        ]
        for column, result in zip(columns, cells, strict=True):
            if not result.suppressed and 0 < hidden_inside[column.key][question.key] < smallest:
                _withhold(result)
        rows.append(
            ComparisonRow(
                key=question.key,
                label=question.label,
                kind=question.kind,
                options=[label for _value, label in _value_labels(question, ())]
                if question.kind in (Kind.SINGLE, Kind.MULTIPLE)
                else [],
                cells=cells,
                chart=_comparison_chart(question, columns, cells, _by_label(by)),
            )
        )
    return Comparison(
        template=template,
        by=by,
        by_label=_by_label(by),
        columns=columns,
        rows=rows,
        min_group=smallest,
        pending=sum(column.pending for column in columns),
    )


def _hidden_remainders(answers, survey_ids, by: str) -> dict[int, Counter]:
    """Secondary suppression of a comparison: per group and question key, the
    answers of the group's surveys whose own results hide that question (the
    survey has fewer than SURVEYS_MIN_GROUP sheets, or the question fewer
    answers). A shown column minus those surveys' own pages would leave just
    these answers, so a cell is shown only if they are none or at least the
    minimum. Every grouping is a sum of surveys, so the same survey-level count
    covers a term's column minus its units' columns. Two aggregates, whatever
    the number of groups: sheets per survey, answers per survey and key."""
    smallest = min_group()
    group = _group_expression(by, "response__survey__")
    sheets_of = dict(
        Response.objects.filter(survey_id__in=survey_ids)
        .values("survey_id")
        .annotate(n=Count("pk"))
        .values_list("survey_id", "n")
        .order_by()
    )
    remainders: dict[int, Counter] = defaultdict(Counter)
    for survey_id, key, n, g in (
        answers.filter(Q(number__isnull=False) | ~Q(text=""))
        .annotate(g=group)
        .values("response__survey_id", "question__key", "g")
        .annotate(n=Count("response_id", distinct=True))
        .values_list("response__survey_id", "question__key", "n", "g")
        .order_by()
    ):
        if g is not None and (sheets_of.get(survey_id, 0) < smallest or n < smallest):
            remainders[g][key] += n
    return remainders


def _withhold(result: QuestionResult) -> None:
    result.suppressed = True
    result.distribution, result.texts = [], []
    result.mean = result.median = result.nps = None


def _comparison_chart(question, columns, cells, by_label: str) -> SafeString:
    title = _("%(question)s（按%(by)s比较）") % {"question": question.label, "by": by_label}
    if question.kind in (Kind.RATING, Kind.NPS):
        top = 5 if question.kind == Kind.RATING else 10
        return charts.suppressible_bar_chart(
            items=[
                (column.label, None if cell.suppressed else cell.mean)
                for column, cell in zip(columns, cells, strict=True)
            ],
            title=title,
            description=_("各%(by)s的平均分（满分 %(top)s）；样本不足的不显示。")
            % {"by": by_label, "top": top},
            scale_max=top,
            decimals=2,  # the means are given to two places in the table too
        )
    options = [label for _value, label in _value_labels(question, ())]
    return charts.grouped_bar_chart(
        groups=[
            (
                column.label,
                None
                if cell.suppressed
                else [percent for _l, _n, percent in cell.distribution[: len(options)]],
            )
            for column, cell in zip(columns, cells, strict=True)
        ],
        series=options,
        title=title,
        description=_("各%(by)s选择每个选项的比例；样本不足的不显示。") % {"by": by_label},
    )


# -- plain rows for the exports and the printable page --------------------------


def _figure_rows(
    questions_by_column: list[list[QuestionResult]], counted: list, rates: list
) -> list[list]:
    """Rows of (题目, 指标, kind of number, one value per column); a suppressed cell
    holds 「样本不足，不显示」 instead of a number."""
    hidden = suppressed_label()
    rows = [
        ["", _("有效答卷"), METRIC_COUNT, *counted],
        ["", _("回复率（%）"), METRIC_PERCENT, *rates],
    ]
    if not questions_by_column:
        return rows
    for index, first in enumerate(questions_by_column[0]):
        cells = [column[index] for column in questions_by_column]
        label = first.label

        def values(pick, cells=cells):
            return [hidden if cell.suppressed else pick(cell) for cell in cells]

        rows.append([label, _("作答人数"), METRIC_COUNT, *[cell.answered for cell in cells]])
        if first.is_text:
            continue
        if first.is_scale:
            rows.append([label, _("平均分"), METRIC_MEAN, *values(lambda c: c.mean)])
            rows.append([label, _("中位数"), METRIC_MEAN, *values(lambda c: c.median)])
        if first.kind == Kind.NPS:
            rows.append(
                [
                    label,
                    _("净推荐值（NPS）"),
                    METRIC_SCORE,
                    *values(lambda c: c.nps["score"] if c.nps else None),
                ]
            )
        labels = [
            entry[0] for entry in next((c.distribution for c in cells if not c.suppressed), [])
        ]
        for position, option in enumerate(labels):
            rows.append(
                [
                    label,
                    _("%(option)s（%%）") % {"option": option},
                    METRIC_PERCENT,
                    *values(
                        lambda c, position=position: (
                            c.distribution[position][2] if position < len(c.distribution) else 0.0
                        )
                    ),
                ]
            )
    return rows


def results_summary_rows(results: SurveyResults) -> tuple[list[str], list[list]]:
    """The summary sheet of one survey: (header, rows). Columns after
    题目 / 指标 / 类型: 「全部」 for a survey, each session then 「合计」 for a series.
    Question labels carry the session or event (context_label). Percents are 0–100."""
    groups = [*results.sessions, results] if results.is_series else [results]
    names = [group.context or group.title for group in results.sessions]
    header = [
        _("题目"),
        _("指标"),
        _("类型"),
        *names,
        _("合计") if results.is_series else _("全部"),
    ]
    rows = _figure_rows(
        [group.questions for group in groups],
        [group.counted for group in groups],
        [group.response_rate for group in groups],
    )
    # The labels carry the context: a survey's own, or the series' total.
    by_label = {q.label: q.context_label for q in results.questions}
    for row in rows:
        if row[0]:
            row[0] = by_label.get(row[0], row[0])
    return header, rows


def results_text_rows(results: SurveyResults) -> list[tuple[str, str]]:
    """(题目 with its session, text) for every text answer the results show."""
    groups = results.sessions if results.is_series else [results]
    return [
        (question.context_label, text)
        for group in groups
        for question in group.questions
        if question.is_text and not question.suppressed
        for text in question.texts
    ]


def comparison_rows(comparison: Comparison) -> tuple[list[str], list[list]]:
    """The comparison as (header, rows): 题目 / 指标 / 类型 then one column per group."""
    header = [_("题目"), _("指标"), _("类型"), *[column.label for column in comparison.columns]]
    questions_by_column = [
        [row.cells[index] for row in comparison.rows] for index in range(len(comparison.columns))
    ]
    rows = _figure_rows(
        questions_by_column,
        [column.counted for column in comparison.columns],
        [column.response_rate for column in comparison.columns],
    )
    if not comparison.columns:
        # No group: still one line per question, so the sheet says what was asked.
        rows += [[row.label, _("作答人数"), METRIC_COUNT] for row in comparison.rows]
    return header, rows


# -- a named survey's raw answers -----------------------------------------------


def named_answer_rows(*, user, survey_id, chunk_size: int = RAW_CHUNK_SIZE) -> RawAnswers:
    """Every answer sheet of a NAMED survey (a course series: of all its sessions),
    streamed in chunks. Refused for anonymous surveys: their sheets are read only
    as figures."""
    survey = _survey_visible(user, survey_id)
    if survey.is_anonymous:
        raise SurveyError("anonymous_no_raw")
    if survey.scope == Survey.Scope.COURSE:
        sessions = Survey.objects.filter(series=survey).select_related("offering")
        contexts = {member.pk: survey_context(member) for member in sessions}
    else:
        contexts = {survey.pk: survey_context(survey) or survey.title}
    catalogue, _newest = _template_questions(survey.template_id)
    keys = [q.key for q in catalogue]
    header = [_("家庭"), _("监护人手机"), _("场次"), _("提交时间"), *[q.label for q in catalogue]]
    rows = _raw_rows(list(contexts), contexts, catalogue, chunk_size)
    return RawAnswers(survey=survey, header=header, keys=keys, rows=rows)


def _raw_rows(survey_ids, contexts, catalogue, chunk_size) -> Iterator[list]:
    by_key = {q.key: q for q in catalogue}
    answers = (
        Answer.objects.filter(response__survey_id__in=survey_ids)
        .order_by("response__submitted_at", "response_id", "pk")
        .values_list(
            "response_id",
            "response__survey_id",
            "response__family_id",
            "response__submitted_by__guardian__phone",
            "response__submitted_by__phone",
            "response__submitted_at",
            "question__key",
            "number",
            "text",
        )
        .iterator(chunk_size=chunk_size)
    )
    for _response, group in groupby(answers, key=lambda row: row[0]):
        group = list(group)
        _id, survey_id, family_id, guardian_phone, user_phone, submitted_at, *_rest = group[0]
        cells: dict[str, list] = defaultdict(list)
        for *_head, key, number, text in group:
            cells[key].append(number if number is not None else text)
        yield [
            _("家庭 #%(id)s") % {"id": family_id} if family_id else _("已注销的家庭"),
            mask_phone(guardian_phone or user_phone or ""),
            contexts.get(survey_id, ""),
            timezone.localtime(submitted_at).replace(tzinfo=None) if submitted_at else None,
            *[_raw_cell(by_key[key], cells.get(key)) for key in by_key],
        ]


def _raw_cell(question: _Catalogued, values: list | None):
    if not values:
        return ""
    if question.kind in (Kind.SINGLE, Kind.MULTIPLE):
        labels = dict(_value_labels(question, [v for v in values if isinstance(v, int)]))
        return "、".join(
            labels.get(v, str(v)) for v in sorted(v for v in values if isinstance(v, int))
        )
    if question.kind in (Kind.RATING, Kind.NPS):
        return values[0]
    return values[0] if isinstance(values[0], str) else str(values[0])


# -- charts of one survey ---------------------------------------------------------


def question_chart(question: QuestionResult) -> SafeString | str:
    """The distribution of one question as bars of percents (the table beside it
    has the same numbers); the placeholder when suppressed; nothing for texts."""
    if question.is_text:
        return ""
    title = question.context_label
    if question.suppressed:
        return charts.suppressible_bar_chart(
            items=[(_("全部"), None)], title=title, description=suppressed_label()
        )
    return charts.suppressible_bar_chart(
        items=[(label, percent) for label, _n, percent in question.distribution],
        title=title,
        description=_("选择每个答案的比例（%%），共 %(n)s 人作答。") % {"n": question.answered},
        scale_max=100,
        suffix="%",
    )


def series_chart(results: SurveyResults, index: int) -> SafeString | str:
    """A course series' question ``index`` session by session, then the total:
    means for ratings and NPS, percents per option for choices."""
    if not results.is_series:
        return ""
    total = results.questions[index]
    if total.is_text:
        return ""
    columns = [
        (session.context or session.title, session.questions[index]) for session in results.sessions
    ]
    columns.append((_("合计"), total))
    title = _("%(question)s（按场次）") % {"question": total.label}
    if total.is_scale:
        return charts.suppressible_bar_chart(
            items=[(name, None if q.suppressed else q.mean) for name, q in columns],
            title=title,
            description=_("各场次的平均分；样本不足的不显示。"),
            scale_max=5 if total.kind == Kind.RATING else 10,
            decimals=2,
        )
    # The total holds every answer any session has, so its options are the
    # longest; when the total is withheld, the longest of the sessions shown.
    longest = max((q.distribution for _name, q in columns), key=len)
    options = [label for label, _n, _p in longest]

    def percents(question: QuestionResult) -> list[float] | None:
        if question.suppressed:
            return None
        found = {label: percent for label, _n, percent in question.distribution}
        return [found.get(option, 0.0) for option in options]

    return charts.grouped_bar_chart(
        groups=[(name, percents(q)) for name, q in columns],
        series=options,
        title=title,
        description=_("各场次选择每个选项的比例；样本不足的不显示。"),
    )
