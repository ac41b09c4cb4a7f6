"""Coordinator dashboards, recompute, exports and report jobs (thin views)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from community import selectors as community_selectors
from courses.streaming import file_response
from evaluation import selectors as evaluation_selectors
from members import access, charts
from members.decorators import coordinator_required
from members.formatting import id_or_none
from members.models import MemberUnit
from members.services import audit_log_record
from parent_school.models import ParentSchool
from parent_school.selectors import term_window

from . import exports, selectors, services
from .errors import ReportError
from .models import ReportJob

TOP_UNITS_IN_CHART = 15
PAGE_SIZE = 25


def _term_or_message(request):
    try:
        return selectors.term_choose(code=request.GET.get("term") or request.POST.get("term"))
    except ReportError as error:
        messages.error(request, error.message)
        return None


def _trend_charts(trend: list[dict]) -> dict:
    labels = [row["period"][2:].replace("-", "/") for row in trend]
    return {
        "trend": trend,
        "trend_chart": charts.column_chart(
            labels=labels,
            values=[row["person_times"] or 0 for row in trend],
            title=_("每月参与人次"),
            description=_("按月统计的参与人次，数字见下表。"),
        ),
        "sessions_chart": charts.column_chart(
            labels=labels,
            values=[row["sessions"] or 0 for row in trend],
            title=_("每月开课次数"),
            description=_("按月统计的已开课次数，数字见下表。"),
        ),
    }


def _handbook(request, term, *, unit=None, table: bool = False) -> dict:
    """The growth handbook's figures of the units shown (per unit and term, so a
    parent school's page has none); the overview also pages a table per unit."""
    qs = selectors.handbook_snapshots_for(user=request.user, term=term)
    if unit is not None:
        qs = qs.filter(unit=unit)
    context = {"handbook_figures": selectors.handbook_key_figures(qs), "handbook_table": table}
    if table:
        context["handbook_units"] = Paginator(
            selectors.handbook_unit_table(qs), PAGE_SIZE
        ).get_page(request.GET.get("handbook_page"))
    return context


def _surveys(request, term, *, unit=None) -> dict:
    """The questionnaires' figures of the units shown (per unit and term)."""
    qs = selectors.survey_snapshots_for(user=request.user, term=term)
    if unit is not None:
        qs = qs.filter(unit=unit)
    return {"survey_figures": selectors.survey_key_figures(qs)}


def _common(request, term, qs, *, title: str, unit=None) -> dict:
    targets = Paginator(selectors.target_table(qs), PAGE_SIZE).get_page(
        request.GET.get("targets_page")
    )
    visible_units = access.units_visible_to(request.user).only("pk", "name").order_by("name")
    figures = selectors.key_figures(qs)
    return {
        "title": title,
        "term": term,
        "terms": selectors.term_list(),
        "figures": figures,
        "key_figures": selectors.key_figure_list(figures),
        "targets": targets,
        "rollup_job": selectors.rollup_job_open(term=term),
        "jobs": selectors.jobs_of(user=request.user, limit=5),
        "export_units": visible_units,
        "export_unit": unit,
        **_trend_charts(selectors.monthly_trend(qs)),
    }


@coordinator_required
def overview(request):
    term = _term_or_message(request)
    if term is None:
        return render(request, "reports/empty.html", status=200)
    qs = selectors.snapshots_for(user=request.user, term=term)
    context = _common(request, term, qs, title=_("统计看板"))
    context.update(_handbook(request, term, table=True))
    context.update(_surveys(request, term))
    units = selectors.unit_comparison(qs)
    context["units_page"] = Paginator(units, PAGE_SIZE).get_page(request.GET.get("units_page"))
    context["units_chart"] = charts.bar_chart(
        items=[(row["unit__name"], row["person_times"] or 0) for row in units[:TOP_UNITS_IN_CHART]],
        title=_("各单位参与人次（前 %(n)s 名）") % {"n": TOP_UNITS_IN_CHART},
        description=_("各单位本学期参与人次比较，完整数字见下表。"),
    )
    return render(request, "reports/overview.html", context)


@coordinator_required
def unit_dashboard(request, unit_id: int):
    unit = get_object_or_404(MemberUnit, pk=unit_id)
    if not access.can_view_unit(request.user, unit):
        raise Http404
    term = _term_or_message(request)
    if term is None:
        return render(request, "reports/empty.html")
    qs = selectors.snapshots_for(user=request.user, term=term).filter(unit=unit)
    context = _common(request, term, qs, title=unit.name, unit=unit)
    context.update(_handbook(request, term, unit=unit))
    context.update(_surveys(request, term, unit=unit))
    context["attainment"] = selectors.attainment_table(term=term, unit=unit)
    # 定标—反馈—提升 beside 考核: targets, feedback, improvement actions, timeline.
    context["evaluation"] = evaluation_selectors.evaluation_panel(
        user=request.user, unit=unit, term=term
    )
    context["unit"] = unit
    schools = list(selectors.school_comparison(qs))
    context["schools"] = schools
    context["schools_chart"] = charts.bar_chart(
        items=[
            (row.parent_school.name if row.parent_school_id else _("活动"), row.person_times)
            for row in schools[:TOP_UNITS_IN_CHART]
        ],
        title=_("各家长学校参与人次"),
        description=_("本单位各家长学校本学期参与人次比较，完整数字见下表。"),
    )
    return render(request, "reports/unit.html", context)


def _community(term, school) -> dict:
    """互助交流 on the school's board in the term (community.selectors.board_measures:
    live, one aggregate query; the board keeps its counters, so no snapshot)."""
    since, until = term_window(term)
    measures = community_selectors.board_measures(
        parent_school_ids=[school.pk], since=since, until=until
    )[school.pk]
    return {"board_measures": measures}


@coordinator_required
def school_dashboard(request, school_id: int):
    school = get_object_or_404(ParentSchool.objects.select_related("host_unit"), pk=school_id)
    if not access.can_view_unit(request.user, school.host_unit_id):
        raise Http404
    term = _term_or_message(request)
    if term is None:
        return render(request, "reports/empty.html")
    qs = selectors.snapshots_for(user=request.user, term=term).filter(parent_school=school)
    context = _common(request, term, qs, title=school.name, unit=school.host_unit)
    context.update(_community(term, school))
    context["school"] = school
    return render(request, "reports/school.html", context)


@require_POST
@coordinator_required
def recompute(request):
    term = _term_or_message(request)
    if term is None:
        return redirect("reports:overview")
    job = selectors.rollup_job_open(term=term)
    if job is None:
        job = services.report_job_create(
            kind=ReportJob.Kind.ROLLUP, term=term, requested_by=request.user
        )
        messages.success(request, _("已开始重新计算，本页会自动刷新进度。"))
    else:
        messages.info(request, ReportError("rollup_running").message)
        if job.requested_by_id != request.user.pk:
            return redirect(f"{reverse('reports:overview')}?term={term.code}")
    return redirect("reports:job", job_id=job.pk)


@require_POST
@coordinator_required
def export(request):
    term = _term_or_message(request)
    if term is None:
        return redirect("reports:overview")
    unit_id = request.POST.get("unit") or None
    if unit_id is not None:
        try:
            unit_id = int(unit_id)
        except ValueError:
            unit_id = -1  # refused as unknown by the service
    try:
        export = services.report_export_start(
            actor=request.user,
            term=term,
            fmt=request.POST.get("format", ""),
            unit_id=unit_id,
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except ReportError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('reports:overview')}?term={term.code}")
    if export.job is not None:
        messages.info(
            request,
            _("共 %(rows)s 行，较大，已转为后台生成；完成后在本页下载。") % {"rows": export.rows},
        )
        return redirect("reports:job", job_id=export.job.pk)
    if export.fmt == "csv":
        response = StreamingHttpResponse(
            exports.csv_stream(term=term, unit_ids=export.unit_ids),
            content_type="text/csv; charset=utf-8",
        )
    else:
        response = HttpResponse(
            exports.xlsx_bytes(term=term, unit_ids=export.unit_ids, actor=request.user),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


def _own_job(request, job_id: int) -> ReportJob:
    job = get_object_or_404(ReportJob.objects.select_related("term", "unit"), pk=job_id)
    # Only the person who asked for it: anyone else gets the same 404 as a wrong id.
    if job.requested_by_id != request.user.pk:
        raise Http404
    return job


@coordinator_required
def job_detail(request, job_id: int):
    job = _own_job(request, job_id)
    return render(request, "reports/job.html", {"job": job})


@coordinator_required
def job_download(request, job_id: int):
    job = _own_job(request, job_id)
    if job.status != ReportJob.Status.DONE or not job.file_path:
        raise Http404
    path = Path(settings.MEDIA_ROOT) / job.file_path
    if not path.is_file():
        raise Http404
    audit_log_record(
        actor=request.user,
        action="reports.export.download",
        target=job,
        data={"file": job.filename},
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    # Through the one protected-file path: behind nginx an X-Accel-Redirect (nginx
    # sends the bytes), else streamed here; never cached.
    stored = SimpleNamespace(name=job.file_path, path=str(path))
    response = file_response(request, stored, cache_control="private, no-store")
    response["Content-Disposition"] = content_disposition_header(True, job.filename)
    return response


# --- brand programmes (品牌项目): public pages from the roll-up's BrandSnapshot ---------

BRAND_PAGE_SIZE = 30


def brands(request):
    """The district's brand matrix (public: brand figures are counts, no person):
    every active brand with its figures of a term, filtered by the host unit's
    kind and street. A constant number of queries whatever the brands."""
    term = _term_or_message(request)
    if term is None:
        return render(request, "reports/empty.html")
    unit_kind = request.GET.get("kind", "")
    choices = selectors.brand_filter_choices()
    if unit_kind not in {kind for kind, _label in choices["unit_kinds"]}:
        unit_kind = ""
    street_id = id_or_none(request.GET.get("street"))
    if street_id is not None and street_id not in {street.pk for street in choices["streets"]}:
        street_id = None
    matrix = selectors.brand_matrix(term=term, unit_kind=unit_kind, street_id=street_id)
    page = Paginator(matrix, BRAND_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "reports/brands.html",
        {
            "term": term,
            "terms": selectors.term_list(),
            "page": page,
            "totals": selectors.brand_matrix_totals(term=term, matrix=matrix),
            "unit_kind": unit_kind,
            "street_id": street_id,
            **choices,
        },
    )


def brand(request, brand_id: int):
    """A brand's public page: who hosts it, what it runs, what it has done."""
    programme = selectors.brand_public(brand_id=brand_id)
    if programme is None:
        raise Http404
    return render(
        request,
        "reports/brand.html",
        {"brand": programme, **selectors.brand_programme_of(programme)},
    )


def brand_logo(request, brand_id: int):
    """The brand's logo (re-encoded without metadata when it was uploaded): media
    has no public address, so it is handed out here, for active brands only."""
    programme = selectors.brand_public(brand_id=brand_id)
    if programme is None or not programme.logo:
        raise Http404
    try:
        handle = programme.logo.open("rb")
    except (FileNotFoundError, OSError) as error:
        raise Http404 from error
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=3600"
    return response
