"""The results workbook of one survey, scoped, masked and audit-logged like the
term report (reports/exports.py).

* 汇总 (summary): the numbers behind the results page's charts, from the same
  ``surveys.results.survey_results`` the page draws (so the two never differ):
  per question its answered count, each option's count and share, mean, median
  and NPS; a course series adds each session's block. Question labels carry the
  session or event they belong to (``context_label``). A group under
  ``SURVEYS_MIN_GROUP`` answers says 「样本不足，不显示」 and gives no number.
* 文字答案: the text answers the results page shows (an anonymous survey's only
  when the group is large enough).
* 原始答卷 (raw answers): named surveys only, one row per response, the family
  by its label 「家庭 #id」 and the guardian's phone masked, never a name or a
  child; an anonymous survey's raw answers are refused.

Written by members/spreadsheets.py, the portal's one XLSX writer (typed cells,
text through the one formula-escaping rule, fitted widths, A4 printing); the raw
sheet streams its responses from the database a chunk at a time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members import access
from members import spreadsheets as sheets
from members.formatting import when_label
from members.privacy import person_name
from members.services import audit_log_record

from .errors import SurveyError
from .models import Question, Survey

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


def _texts_sheet(workbook, results, heading: list[str]) -> int:
    from .results import results_text_rows

    rows = [list(row) for row in results_text_rows(results)]
    if not rows:
        return 0
    columns = [sheets.Column(_("题目")), sheets.Column(_("文字答案"))]
    writer = sheets.SheetWriter(
        workbook,
        title=_("文字答案"),
        columns=columns,
        widths=sheets.measure_widths(columns, rows),
        heading=heading,
    )
    for row in rows:
        writer.append(row)
    return len(rows)


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


def _min_group() -> int:
    from django.conf import settings

    return settings.SURVEYS_MIN_GROUP
