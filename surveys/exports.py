"""The results workbook of one survey, scoped, masked and audit-logged like the
term report (reports/exports.py).

* 汇总 (summary): the numbers behind the results page's charts, from the same
  ``surveys.results.survey_results`` the page draws (so the two never differ):
  per question its answered count, each option's count and share, mean, median
  and NPS; a course series adds each session's block. Question labels carry the
  session or event they belong to (``context_label``). A group under
  ``SURVEYS_MIN_GROUP`` answers says 「样本不足，不显示」 and gives no number.
* 文字答案: every text answer of the questions the results page shows texts
  for, streamed from the database (the page lists the first
  ``results.TEXTS_SHOWN``; the workbook is not capped). An anonymous survey's
  only when its group is large enough, as ``surveys.results`` decides, sorted by
  their text so their order tells nothing.

The comparison page's workbook (``comparison_export``) holds the numbers of
``surveys.results.comparison_rows``, the same figures the page draws, a hidden
group saying 「样本不足，不显示」.
* 原始答卷 (raw answers): named surveys only, one row per response, the family
  by its label 「家庭 #id」 and the guardian's phone masked, never a name or a
  child; an anonymous survey's raw answers are refused.

Written by members/spreadsheets.py, the portal's one XLSX writer (typed cells,
text through the one formula-escaping rule, fitted widths, A4 printing); the raw
sheet streams its responses from the database a chunk at a time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members import access
from members import spreadsheets as sheets
from members.formatting import when_label
from members.privacy import person_name
from members.services import audit_log_record

from .errors import SurveyError
from .models import Answer, Question, Survey

EXPORT_MESSAGES = {
    "raw_anonymous": gettext_lazy("匿名问卷不能导出原始答卷，只能导出汇总。"),
    "not_coordinator": gettext_lazy("只有协调员可以导出问卷结果。"),
}


class ExportRefused(SurveyError):
    """An export the rules do not allow (its message is ready to show)."""

    def __init__(self, code: str):
        Exception.__init__(self, code)
        self.code = code
        self.field = "raw"
        self.params = {}
        self.message = EXPORT_MESSAGES[code]


@dataclass(frozen=True)
class SurveyExport:
    content: bytes
    filename: str
    rows: int


def _summary_sheet(workbook, results, heading: list[str]) -> int:
    """The numbers behind the charts, from ``results_summary_rows`` (the page's
    figures): 题目 / 指标, then one column per group (「全部」, or each session and
    「合计」). Numbers stay numbers; a hidden group holds 「样本不足，不显示」."""
    from .results import results_summary_rows

    header, rows = results_summary_rows(results)
    # The third column is the kind of number (for formatting); the label of the
    # 指标 already says 「（%）」, so the sheet leaves it out.
    header = header[:2] + header[3:]
    cells = []
    for row in rows:
        values = [round(v, 2) if isinstance(v, float) else v for v in row[3:]]
        cells.append([row[0], row[1], *values])
    # Values are of several kinds in one column (counts, percents, means, the
    # suppressed text): text columns keep numbers as numbers and escape text.
    columns = [sheets.Column(str(title)) for title in header]
    writer = sheets.SheetWriter(
        workbook,
        title=_("汇总"),
        columns=columns,
        widths=sheets.measure_widths(columns, cells),
        heading=heading,
    )
    for row in cells:
        writer.append(row)
    return len(cells)


def _text_questions(results) -> list[tuple[Survey, list[tuple[str, str]]]]:
    """(survey, [(key, context_label)]) of every group whose text answers the
    results show: the same rule as the page (``QuestionResult.suppressed``), per
    session for a course series."""
    groups = results.sessions if results.is_series else [results]
    shown = []
    for group in groups:
        keys = [(q.key, q.context_label) for q in group.questions if q.is_text and not q.suppressed]
        if keys:
            shown.append((group.survey, keys))
    return shown


def _text_answers(shown):
    """The Answer queryset of ``shown`` (see ``_text_questions``), in the sheet's
    order: group by group, question by question; None when nothing is shown."""
    if not shown:
        return None
    which = Q()
    order = []
    for survey, keys in shown:
        for key, _label in keys:
            which |= Q(response__survey_id=survey.pk, question__key=key)
            order.append(When(response__survey_id=survey.pk, question__key=key, then=len(order)))
    return (
        Answer.objects.filter(which, number__isnull=True)
        .exclude(text="")
        .annotate(place=Case(*order, default=Value(len(order)), output_field=IntegerField()))
    )


def text_answers_total(results) -> int:
    """How many text answers the results would list uncapped (one COUNT; 0 and
    no query when no text question is shown)."""
    answers = _text_answers(_text_questions(results))
    return 0 if answers is None else answers.count()


def text_answer_rows(results, chunk_size: int = 2000) -> Iterator[tuple[str, str]]:
    """(题目 with its session, text) for every text answer of the shown text
    questions, streamed a chunk at a time. A named survey's in the order they came;
    an anonymous survey's sorted by their text (like the page)."""
    shown = _text_questions(results)
    answers = _text_answers(shown)
    if answers is None:
        return
    labels = {(survey.pk, key): label for survey, keys in shown for key, label in keys}
    if results.is_anonymous:
        ordering = ("place", "text", "pk")
    else:
        ordering = ("place", "response__submitted_at", "pk")
    rows = (
        answers.order_by(*ordering)
        .values_list("response__survey_id", "question__key", "text")
        .iterator(chunk_size=chunk_size)
    )
    for survey_id, key, text in rows:
        yield labels[(survey_id, key)], text


def _texts_sheet(workbook, results, heading: list[str]) -> int:
    """Every text answer (``text_answer_rows``), streamed; widths measured as the
    rows go by."""
    rows = text_answer_rows(results)
    first = next(rows, None)
    if first is None:
        return 0
    columns = [sheets.Column(_("题目")), sheets.Column(_("文字答案"))]
    writer = sheets.SheetWriter(
        workbook, title=_("文字答案"), columns=columns, widths=None, heading=heading
    )
    content = [sheets.display_width(str(column.title)) for column in columns]
    written = 0
    for row in _chain_first(first, rows):
        writer.append(list(row))
        for index, value in enumerate(row):
            shown = sheets.shown_text(sheets.cell_value(value, sheets.TEXT), sheets.TEXT)
            width = max((sheets.display_width(line) for line in shown.splitlines()), default=0)
            if width > content[index]:
                content[index] = width
        written += 1
    writer.set_widths(sheets.fit_widths(columns, content))
    return written


def _chain_first(first, rest):
    yield first
    yield from rest


def _raw_sheet(workbook, *, user, survey: Survey, heading: list[str]) -> int:
    """One row per answer sheet of a named survey, streamed from the database
    (``results.named_answer_rows``): the family by its label 「家庭 #id」, the
    guardian's phone masked; widths measured as the rows go by."""
    from .results import named_answer_rows

    raw = named_answer_rows(user=user, survey_id=survey.pk)
    kinds = {
        q.key: q.kind
        for q in Question.objects.filter(version__template_id=survey.template_id).only(
            "key", "kind"
        )
    }
    number_kinds = (Question.Kind.RATING, Question.Kind.NPS)
    columns = [
        sheets.Column(str(raw.header[0])),
        sheets.Column(str(raw.header[1])),
        sheets.Column(str(raw.header[2])),
        sheets.Column(str(raw.header[3]), sheets.DATETIME),
        *[
            sheets.Column(
                str(title), sheets.INTEGER if kinds.get(key) in number_kinds else sheets.TEXT
            )
            for key, title in zip(raw.keys, raw.header[4:], strict=True)
        ],
    ]
    writer = sheets.SheetWriter(
        workbook, title=_("原始答卷"), columns=columns, widths=None, heading=heading
    )
    content = [0] * len(columns)
    written = 0
    for row in raw.rows:
        writer.append(row)
        for index, value in enumerate(row):
            kind = columns[index].kind
            shown = sheets.shown_text(sheets.cell_value(value, kind), kind)
            width = max((sheets.display_width(line) for line in shown.splitlines()), default=0)
            if width > content[index]:
                content[index] = width
        written += 1
    writer.set_widths(sheets.fit_widths(columns, content))
    return written


def survey_export(*, user, survey_id: int, raw: bool = False, ip_address=None) -> SurveyExport:
    """The workbook of one survey the user manages: the summary, and with ``raw``
    the raw answers (named surveys only). One audit entry per export."""
    from . import results as survey_results
    from . import selectors

    if not access.is_coordinator(user):
        raise ExportRefused("not_coordinator")
    survey = selectors.survey_for_manager(user=user, survey_id=survey_id)
    if raw and survey.is_anonymous:
        raise ExportRefused("raw_anonymous")
    results = survey_results.survey_results(user=user, survey_id=survey.pk)
    heading = [
        _("%(title)s · 问卷结果") % {"title": survey.title},
        _("学期：%(term)s　负责单位：%(unit)s　%(kind)s")
        % {
            "term": survey.term,
            "unit": survey.unit,
            "kind": _("匿名问卷") if survey.is_anonymous else _("实名问卷"),
        },
        _("邀请 %(invited)s 户，已答 %(answered)s 户；少于 %(n)s 份答卷的分组不显示。")
        % {
            "invited": results.invited,
            "answered": results.answered,
            "n": _min_group(),
        },
        _("生成时间：%(when)s（北京时间）　生成人：%(who)s")
        % {"when": when_label(timezone.now(), with_year=True), "who": person_name(user)},
    ]
    workbook = sheets.Workbook()
    written = _summary_sheet(workbook, results, heading)
    written += _texts_sheet(workbook, results, heading[:2])
    raw_rows = 0
    if raw:
        raw_rows = _raw_sheet(workbook, user=user, survey=survey, heading=heading[:2])
    buffer = io.BytesIO()
    workbook.save(buffer)
    filename = f"survey-{survey.pk}{'-raw' if raw else ''}.xlsx"
    audit_log_record(
        actor=user,
        action="surveys.results.export",
        target=survey,
        data={"raw": raw, "rows": written, "raw_rows": raw_rows, "file": filename},
        ip_address=ip_address,
    )
    return SurveyExport(content=buffer.getvalue(), filename=filename, rows=written + raw_rows)


def comparison_heading(*, user, comparison, term_names: list[str]) -> list[str]:
    """The lines above the comparison's table (the workbook and the printable page)."""
    return [
        _("%(template)s · 按%(by)s比较")
        % {"template": comparison.template, "by": comparison.by_label},
        _("学期：%(terms)s") % {"terms": "、".join(term_names) if term_names else _("全部学期")},
        _("少于 %(n)s 份答卷的分组显示为“样本不足，不显示”。") % {"n": _min_group()},
        _("生成时间：%(when)s（北京时间）　生成人：%(who)s")
        % {"when": when_label(timezone.now(), with_year=True), "who": person_name(user)},
    ]


def comparison_export(
    *, user, template_id: int, by: str, term_ids=None, term_names=(), ip_address=None
) -> SurveyExport:
    """The comparison page's workbook: one sheet 「比较」, 题目 / 指标 then one column
    per group, the numbers of ``surveys.results.comparison_rows`` (a hidden group's
    cells say 「样本不足，不显示」), scoped like the page. One audit entry per export."""
    from . import results as survey_results

    if not access.is_coordinator(user):
        raise ExportRefused("not_coordinator")
    comparison = survey_results.template_comparison(
        user=user, template_id=template_id, by=by, term_ids=term_ids or None
    )
    header, rows = survey_results.comparison_rows(comparison)
    header = header[:2] + header[3:]
    cells = [
        [row[0], row[1], *[round(v, 2) if isinstance(v, float) else v for v in row[3:]]]
        for row in rows
    ]
    columns = [sheets.Column(str(title)) for title in header]
    workbook = sheets.Workbook()
    writer = sheets.SheetWriter(
        workbook,
        title=_("比较"),
        columns=columns,
        widths=sheets.measure_widths(columns, cells),
        heading=comparison_heading(user=user, comparison=comparison, term_names=list(term_names)),
    )
    for row in cells:
        writer.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    filename = f"survey-comparison-{comparison.template.pk}-{by}.xlsx"
    audit_log_record(
        actor=user,
        action="surveys.comparison.export",
        target=comparison.template,
        data={
            "by": by,
            "terms": sorted(term_ids or []),
            "groups": len(comparison.columns),
            "rows": len(cells),
            "file": filename,
        },
        ip_address=ip_address,
    )
    return SurveyExport(content=buffer.getvalue(), filename=filename, rows=len(cells))


def _min_group() -> int:
    from django.conf import settings

    return settings.SURVEYS_MIN_GROUP
