"""The commendation workbook the district asks for (优秀家长 and 学习型家庭 of a
term: the included families of published lists only), scoped like the term report: the units the person sees, or one of them.

Written by members/spreadsheets.py, the portal's one XLSX writer (typed cells,
text through the one formula-escaping rule, fitted widths, A4 printing). No
child appears and no phone is whole: guardians by their masked name and masked
number, families by their list name.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from members import spreadsheets as sheets
from members.formatting import when_label
from members.privacy import mask_phone, person_name
from parent_school.models import Term

from .computation import mask_name
from .models import Commendation, LearningFamilyEntry, LearningFamilyList


def commendation_rows(*, term: Term, unit_ids: Iterable[int] | None) -> list[list]:
    qs = Commendation.objects.filter(term=term).select_related(
        "alliance", "unit", "guardian__user", "created_by"
    )
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=list(unit_ids))
    rows = []
    for c in qs.order_by("alliance__name", "unit__name", "pk"):
        guardian = c.guardian
        rows.append(
            [
                c.alliance.name,
                c.unit.name,
                mask_name(person_name(guardian.user)) if guardian.user_id else "",
                guardian.get_relation_display(),
                mask_phone(guardian.phone or guardian.user.phone),
                c.reason,
                person_name(c.created_by) if c.created_by_id else "",
                timezone.localtime(c.created_at).date(),
            ]
        )
    return rows


def learning_family_rows(*, term: Term, unit_ids: Iterable[int] | None) -> list[list]:
    # Published lists only: a draft under review is not a commendation.
    qs = LearningFamilyEntry.objects.filter(
        family_list__term=term,
        family_list__status=LearningFamilyList.Status.PUBLISHED,
        included=True,
    ).select_related("family_list__alliance", "unit")
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=list(unit_ids))
    return [
        [
            e.family_list.alliance.name,
            e.unit.name if e.unit_id else "",
            e.display_name,
            e.credits,
            e.points,
            e.sessions,
            timezone.localtime(e.family_list.published_at).date(),
            e.override_reason,
        ]
        for e in qs.order_by("family_list__alliance__name", "unit__name", "display_name", "pk")
    ]


def commendation_columns() -> list[sheets.Column]:
    return [
        sheets.Column(_("联盟")),
        sheets.Column(_("推荐单位")),
        sheets.Column(_("家长")),
        sheets.Column(_("与孩子关系")),
        sheets.Column(_("手机号码（已隐藏）")),
        sheets.Column(_("推荐理由")),
        sheets.Column(_("推荐人")),
        sheets.Column(_("推荐日期"), sheets.DATE),
    ]


def learning_family_columns() -> list[sheets.Column]:
    return [
        sheets.Column(_("联盟")),
        sheets.Column(_("所属单位")),
        sheets.Column(_("家庭称呼")),
        sheets.Column(_("学分"), sheets.NUMBER, total=True),
        sheets.Column(_("手册积分"), sheets.INTEGER, total=True),
        sheets.Column(_("出席场次"), sheets.INTEGER, total=True),
        sheets.Column(_("发布日期"), sheets.DATE),
        sheets.Column(_("调整理由")),
    ]


def xlsx_bytes(
    *, term: Term, unit_ids: Iterable[int] | None, scope: str, actor
) -> tuple[bytes, int]:
    """The workbook and its number of data rows."""
    unit_ids = None if unit_ids is None else list(unit_ids)
    heading_tail = [
        _("范围：%(scope)s") % {"scope": scope},
        _("生成时间：%(when)s（北京时间）　生成人：%(who)s")
        % {"when": when_label(timezone.now(), with_year=True), "who": person_name(actor)},
    ]
    workbook = sheets.Workbook()
    written = 0
    for title, columns, rows in (
        (_("优秀家长"), commendation_columns(), commendation_rows(term=term, unit_ids=unit_ids)),
        (
            _("学习型家庭"),
            learning_family_columns(),
            learning_family_rows(term=term, unit_ids=unit_ids),
        ),
    ):
        heading = [_("%(term)s 评先树优名单 · %(sheet)s") % {"term": term, "sheet": title}]
        writer = sheets.SheetWriter(
            workbook,
            title=title,
            columns=columns,
            widths=sheets.measure_widths(columns, rows),
            heading=heading + heading_tail,
        )
        totals = sheets.Totals(columns)
        for row in rows:
            writer.append(row)
            totals.add(row)
        writer.append_totals(totals.cells(_("合计（%(rows)s 行）") % {"rows": len(rows)}))
        written += len(rows)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), written
