"""Coordinators' pages of the surveys app: templates, surveys, results, exports.

Thin: the services write (surveys/services.py), the selectors read and scope
(surveys/selectors.py, surveys/results.py, members/access.py). Every id in an
address or a POST is looked up through the selectors' scoped querysets: a
survey or template outside the person's scope answers 404, a foreign target in
a form is refused on its field.

"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bookings.models import Offering
from courses.models import Course
from groups.models import Group
from groups.selectors import groups_changeable_by
from members import access, charts
from members.decorators import coordinator_required
from members.formatting import when_label
from members.services import audit_log_record
from parent_school.models import ParentSchool

from . import exports, manage_forms, selectors, services
from . import results as survey_results
from .errors import SurveyError
from .manage_forms import (
    TARGET_SEPARATOR,
    ComparisonForm,
    DeployForm,
    QuestionForm,
    SectionForm,
    SurveyCreateForm,
    TemplateCreateForm,
    TemplateUpdateForm,
)
from .models import Question, Survey, SurveyTemplate

PAGE_SIZE = 30
#: Targets offered in the picker at once (newest first); a search narrows them.
TARGETS_SHOWN = 200

_NOT_FOUND_CODES = ("survey_missing", "template_missing", "section_missing", "question_missing")


def _refused(error: SurveyError):
    """A scope refusal or a missing row is a 404, like any address out of scope."""
    if error.code in _NOT_FOUND_CODES or error.code in ("not_allowed", "template_not_allowed"):
        raise Http404 from error


def _survey(request, survey_id: int) -> Survey:
    try:
        return selectors.survey_for_manager(user=request.user, survey_id=survey_id)
    except SurveyError as error:
        raise Http404 from error


def _editable_template(request, template_id: int) -> SurveyTemplate:
    template = selectors.templates_editable(user=request.user).filter(pk=template_id).first()
    if template is None:
        raise Http404
    return template


def _usable_templates(request):
    return list(selectors.templates_usable(user=request.user).filter(is_active=True))


# -- targets of a new survey: only what the person is responsible for ------------


def _target_querysets(user, search: str = "") -> dict:
    """{scope: queryset} of what a new survey may be attached to, in the user's scope."""
    units = access.units_changeable_by(user).order_by().values("pk")
    offerings = Offering.objects.filter(unit__in=units).exclude(status=Offering.Status.CANCELLED)
    courses = Course.objects.filter(parent_school__host_unit__in=units)
    schools = ParentSchool.objects.filter(host_unit__in=units)
    alliances = access.alliances_changeable_by(user)
    # The groups the person may manage (facilitator, or coordinator of the school).
    groups = groups_changeable_by(user).filter(status=Group.Status.ACTIVE)
    if search:
        groups = groups.filter(name__icontains=search)
        offerings = offerings.filter(title__icontains=search)
        courses = courses.filter(title__icontains=search)
        schools = schools.filter(name__icontains=search)
        alliances = alliances.filter(Q(name__icontains=search) | Q(short_name__icontains=search))
    Scope = Survey.Scope
    return {
        Scope.SESSION: offerings.filter(kind=Offering.Kind.COURSE_SESSION).order_by(
            "-starts_at", "-pk"
        ),
        Scope.EVENT: offerings.filter(kind=Offering.Kind.EVENT).order_by("-starts_at", "-pk"),
        Scope.COURSE: courses.order_by("-pk"),
        Scope.PARENT_SCHOOL_TERM: schools.order_by("name", "pk"),
        Scope.ALLIANCE_TERM: alliances.order_by("name", "pk"),
        Scope.GROUP: groups.order_by("name", "pk"),
    }


def _target_label(scope: str, row) -> str:
    if scope in Survey.ATTENDANCE_SCOPES:
        return f"{row.title} · {when_label(row.starts_at, with_year=True)}"
    if scope == Survey.Scope.COURSE:
        return row.title
    return row.name


def _targets(user, search: str, posted: str | None) -> dict:
    """The picker's choices; a posted target beyond the first ``TARGETS_SHOWN`` is
    added when it is in scope (and refused by the form when it is not)."""
    querysets = _target_querysets(user, search)
    targets = {
        scope: [(row.pk, _target_label(scope, row)) for row in qs[:TARGETS_SHOWN]]
        for scope, qs in querysets.items()
    }
    if posted and TARGET_SEPARATOR in posted:
        scope, _sep, pk = posted.partition(TARGET_SEPARATOR)
        if scope in querysets and pk.isdigit():
            if not any(str(p) == pk for p, _label in targets[scope]):
                row = _target_querysets(user)[scope].filter(pk=int(pk)).first()
                if row is not None:
                    targets[scope].append((row.pk, _target_label(scope, row)))
    return targets


# -- the list ------------------------------------------------------------------


@coordinator_required
def index(request):
    surveys = (
        selectors.surveys_manageable(user=request.user)
        .filter(series__isnull=True)
        .select_related("template", "term", "unit", "offering", "course", "parent_school", "group")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(surveys, PAGE_SIZE).get_page(request.GET.get("page"))
    editable = set(selectors.templates_editable(user=request.user).values_list("pk", flat=True))
    templates = [
        {"template": t, "editable": t.pk in editable}
        for t in selectors.templates_usable(user=request.user).select_related("alliance")
    ]
    return render(
        request,
        "surveys/manage_index.html",
        {
            "page": page,
            "templates": templates,
            "may_deploy": selectors.may_deploy(user=request.user),
            "may_create_template": _template_owners(request.user) != [],
        },
    )


@coordinator_required
def survey_new(request):
    search = (request.GET.get("q") or "").strip()[:50]
    posted = request.POST.get("target") if request.method == "POST" else None
    form = SurveyCreateForm(
        request.POST or None,
        templates=_usable_templates(request),
        targets=_targets(request.user, search, posted),
        initial={"template": request.GET.get("template")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            survey = services.survey_create(
                actor=request.user,
                template_id=data["template"],
                scope=data["scope"],
                target_id=data["target_id"],
                term_id=data["term"].pk if data.get("term") else None,
                title=data["title"],
                is_anonymous=data["is_anonymous"],
                opens_at=data["opens_at"],
                closes_at=data["closes_at"],
                invite_delay_minutes=data["invite_delay_minutes"],
                answer_days=data["answer_days"],
            )
        except SurveyError as error:
            field = error.field if error.field in form.fields else None
            if error.field in ("target_id", "scope", "offering", "course", "parent_school"):
                field = "target"
            form.add_error(field, error.message)
        else:
            messages.success(request, _("问卷已创建，检查无误后请发布。"))
            return redirect("surveys:manage_survey", survey_id=survey.pk)
    return render(request, "surveys/manage_survey_form.html", {"form": form, "search": search})


@require_POST
@coordinator_required
def survey_publish(request, survey_id: int):
    survey = _survey(request, survey_id)
    try:
        services.survey_publish(actor=request.user, survey_id=survey.pk)
    except SurveyError as error:
        _refused(error)
        messages.error(request, error.message)
    else:
        messages.success(request, _("问卷已发布，到时会邀请家庭填写。"))
    return redirect("surveys:manage_survey", survey_id=survey.pk)


@require_POST
@coordinator_required
def survey_close(request, survey_id: int):
    survey = _survey(request, survey_id)
    try:
        services.survey_close(actor=request.user, survey_id=survey.pk)
    except SurveyError as error:
        _refused(error)
        messages.error(request, error.message)
    else:
        messages.success(request, _("问卷已截止，不再接受新的答卷。"))
    return redirect("surveys:manage_survey", survey_id=survey.pk)


@coordinator_required
def deploy(request):
    if not selectors.may_deploy(user=request.user):
        raise Http404
    form = DeployForm(request.POST or None, templates=_usable_templates(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = services.surveys_deploy(
                actor=request.user,
                template_id=data["template"],
                term_id=data["term"].pk,
                is_anonymous=data["is_anonymous"],
                opens_at=data["opens_at"],
                closes_at=data["closes_at"],
            )
        except SurveyError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("已为 %(n)s 所家长学校发布学期问卷。") % {"n": made})
            return redirect("surveys:manage_index")
    schools = ParentSchool.objects.filter(
        host_unit__in=access.units_changeable_by(request.user).order_by().values("pk")
    ).count()
    return render(request, "surveys/manage_deploy.html", {"form": form, "schools": schools})


# -- templates -----------------------------------------------------------------


def _template_owners(user) -> list[tuple[str, str]]:
    owners = []
    # City-wide reference data: the city's to edit. A template without an alliance
    # is offered to every coordinator of every district; a district administrator
    # makes their district's alliances' templates (alliances_changeable_by).
    if access.sees_every_district(user):
        owners.append((manage_forms.CITY_OWNER, _("全市通用")))
    owners += [
        (str(a.pk), a.name) for a in access.alliances_changeable_by(user).order_by("name")[:200]
    ]
    return owners


@coordinator_required
def template_new(request):
    owners = _template_owners(request.user)
    if not owners:
        raise Http404
    form = TemplateCreateForm(request.POST or None, owners=owners)
    if request.method == "POST" and form.is_valid():
        owner = form.cleaned_data["owner"]
        try:
            template = services.template_create(
                actor=request.user,
                alliance_id=None if owner == manage_forms.CITY_OWNER else int(owner),
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except SurveyError as error:
            _refused(error)
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("模板已创建，请添加题目。"))
            return redirect("surveys:manage_template", template_id=template.pk)
    return render(request, "surveys/manage_template_new.html", {"form": form})


def _current_version(template: SurveyTemplate):
    return template.versions.order_by("-number").first()


def _version_has_answers(version) -> bool:
    return version is not None and services.version_has_answers(version.pk)


def _editor_context(template: SurveyTemplate, **extra) -> dict:
    version = _current_version(template)
    sections = []
    if version is not None:
        questions = list(version.questions.select_related("show_if").order_by())
        by_section: dict[int, list[Question]] = {}
        for q in sorted(questions, key=lambda q: (q.position, q.pk)):
            by_section.setdefault(q.section_id, []).append(q)
        for section in version.sections.order_by("position", "pk"):
            rows = []
            for q in by_section.get(section.pk, []):
                shown = q.show_if_values
                if q.show_if_id and q.show_if.kind in (
                    Question.Kind.SINGLE,
                    Question.Kind.MULTIPLE,
                ):
                    shown = [v + 1 for v in shown]
                rows.append({"question": q, "condition_values": ", ".join(map(str, shown))})
            sections.append({"section": section, "questions": rows})
    return {
        "template": template,
        "version": version,
        "has_answers": _version_has_answers(version),
        "sections": sections,
        **extra,
    }


@coordinator_required
def template_edit(request, template_id: int):
    template = _editable_template(request, template_id)
    form = TemplateUpdateForm(
        initial={
            "name": template.name,
            "description": template.description,
            "is_active": template.is_active,
        }
    )
    return render(
        request,
        "surveys/manage_template.html",
        _editor_context(template, form=form, section_form=SectionForm(auto_id="new-section-%s")),
    )


@require_POST
@coordinator_required
def template_update(request, template_id: int):
    template = _editable_template(request, template_id)
    form = TemplateUpdateForm(request.POST)
    if form.is_valid():
        try:
            services.template_update(
                actor=request.user,
                template_id=template.pk,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                is_active=form.cleaned_data["is_active"],
            )
        except SurveyError as error:
            _refused(error)
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("模板信息已保存。"))
            return redirect("surveys:manage_template", template_id=template.pk)
    return render(
        request,
        "surveys/manage_template.html",
        _editor_context(template, form=form, section_form=SectionForm(auto_id="new-section-%s")),
        status=400,
    )


@require_POST
@coordinator_required
def section_save(request, template_id: int):
    template = _editable_template(request, template_id)
    section_id = request.POST.get("section") or None
    form = SectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写部分标题（不超过 80 字）。"))
    else:
        try:
            services.section_save(
                actor=request.user,
                template_id=template.pk,
                section_id=int(section_id) if section_id else None,
                title=form.cleaned_data["title"],
            )
        except (SurveyError, ValueError) as error:
            if isinstance(error, ValueError):
                raise Http404 from error
            _refused(error)
            messages.error(request, error.message)
        else:
            messages.success(request, _("部分已保存。"))
    return redirect("surveys:manage_template", template_id=template.pk)


def _question_form(request, template, question=None):
    version = _current_version(template)
    if version is None:
        raise Http404
    sections = list(version.sections.order_by("position", "pk"))
    ordered = sorted(
        version.questions.select_related("section"),
        key=lambda q: (q.section.position, q.section_id, q.position, q.pk),
    )
    if question is not None:
        earlier = ordered[: [q.pk for q in ordered].index(question.pk)]
    else:
        earlier = ordered
    earlier = [q for q in earlier if q.kind in Question.NUMBER_KINDS]
    initial = {"required": True, "section": request.GET.get("section")}
    if question is not None:
        values = question.show_if_values
        if question.show_if_id and question.show_if.kind in (
            Question.Kind.SINGLE,
            Question.Kind.MULTIPLE,
        ):
            values = [v + 1 for v in values]
        initial = {
            "section": question.section_id,
            "kind": question.kind,
            "label": question.label,
            "help_text": question.help_text,
            "required": question.required,
            "options": "\n".join(question.options or []),
            "show_if": question.show_if_id,
            "show_if_values": ",".join(map(str, values)),
            "measure": question.measure,
        }
    form = QuestionForm(
        request.POST if request.method == "POST" else None,
        sections=sections,
        earlier=earlier,
        initial=initial,
    )
    return form, version


@coordinator_required
def question_edit(request, template_id: int, question_id: int | None = None):
    template = _editable_template(request, template_id)
    question = None
    if question_id is not None:
        version = _current_version(template)
        question = Question.objects.filter(pk=question_id, version=version).first()
        if question is None:
            raise Http404
    form, version = _question_form(request, template, question)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.question_save(
                actor=request.user,
                template_id=template.pk,
                question_id=question.pk if question else None,
                section_id=data["section"],
                kind=data["kind"],
                label=data["label"],
                help_text=data["help_text"],
                required=data["required"],
                options=data["options"],
                show_if_id=data["show_if"],
                show_if_values=data["show_if_values"],
                measure=data["measure"] or "",
            )
        except SurveyError as error:
            _refused(error)
            field = error.field if error.field in form.fields else None
            form.add_error(field, error.message)
        else:
            messages.success(request, _("题目已保存。"))
            return redirect("surveys:manage_template", template_id=template.pk)
    return render(
        request,
        "surveys/manage_question_form.html",
        {
            "form": form,
            "template": template,
            "question": question,
            "version": version,
            "has_answers": _version_has_answers(version),
        },
    )


def _posted_question(request, template) -> int:
    try:
        return int(request.POST.get("question", ""))
    except ValueError:
        raise Http404 from None


@require_POST
@coordinator_required
def question_delete(request, template_id: int):
    template = _editable_template(request, template_id)
    question_id = _posted_question(request, template)
    try:
        services.question_delete(
            actor=request.user, template_id=template.pk, question_id=question_id
        )
    except SurveyError as error:
        _refused(error)
        messages.error(request, error.message)
    else:
        messages.success(request, _("题目已删除。"))
    return redirect("surveys:manage_template", template_id=template.pk)


@require_POST
@coordinator_required
def question_move(request, template_id: int):
    template = _editable_template(request, template_id)
    question_id = _posted_question(request, template)
    direction = request.POST.get("direction", "")
    try:
        services.question_move(
            actor=request.user,
            template_id=template.pk,
            question_id=question_id,
            direction=direction,
        )
    except SurveyError as error:
        _refused(error)
        messages.error(request, error.message)
    return redirect("surveys:manage_template", template_id=template.pk)


# -- results ---------------------------------------------------------------------


def _chart_of(question, title_prefix: str = ""):
    """The bar chart of one question's distribution (None: suppressed or texts)."""
    distribution = getattr(question, "distribution", None) or []
    if getattr(question, "suppressed", False) or not distribution:
        return None
    label = getattr(question, "context_label", "") or question.label
    return charts.bar_chart(
        items=[(str(option), count) for option, count, _percent in distribution],
        title=f"{title_prefix}{label}",
        description=_("各选项的人数"),
    )


def _with_charts(questions, prefix: str = "") -> list[dict]:
    kinds = dict(Question.Kind.choices)
    return [
        {"q": q, "chart": _chart_of(q, prefix), "kind_label": kinds.get(q.kind, q.kind)}
        for q in questions or []
    ]


def _results_context(request, survey: Survey) -> dict:
    results = survey_results.survey_results(user=request.user, survey_id=survey.pk)
    sessions = []
    for part in results.sessions:
        label = part.context or part.title
        sessions.append(
            {
                "part": part,
                "label": label,
                "questions": _with_charts(part.questions, f"{label} · "),
            }
        )
    return {
        "survey": survey,
        "results": results,
        "questions": _with_charts(results.questions),
        "series_rows": [
            {"total": total, "cells": cells, "chart": survey_results.series_chart(results, index)}
            for index, (total, cells) in enumerate(results.rows_by_question())
        ]
        if results.is_series
        else [],
        "sessions": sessions,
        "min_group": _min_group(),
        "texts": _texts_shown(results),
    }


def _texts_shown(results) -> dict:
    """How many text answers the page lists and how many there are: the page lists
    the first ``TEXTS_SHOWN`` of a survey, the workbook has them all."""
    groups = results.sessions if results.is_series else [results]
    shown = sum(len(q.texts) for group in groups for q in group.questions if q.is_text)
    total = exports.text_answers_total(results)
    return {"shown": shown, "total": total, "capped": total > shown}


def _min_group() -> int:
    return survey_results.min_group()


@coordinator_required
def survey_detail(request, survey_id: int):
    survey = _survey(request, survey_id)
    context = _results_context(request, survey)
    context["may_change"] = selectors.survey_changeable(user=request.user, survey=survey)
    context["session_surveys"] = (
        list(survey.session_surveys.select_related("offering").order_by("offering__starts_at"))
        if survey.scope == Survey.Scope.COURSE
        else []
    )
    return render(request, "surveys/manage_results.html", context)


@coordinator_required
def survey_print(request, survey_id: int):
    """The results on paper; each opening is audit-logged, like an export."""
    survey = _survey(request, survey_id)
    context = _results_context(request, survey)
    audit_log_record(
        actor=request.user,
        action="surveys.results.print",
        target=survey,
        data={"answered": context["results"].answered},
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    return render(request, "surveys/manage_print.html", context)


@require_POST
@coordinator_required
def survey_export(request, survey_id: int):
    survey = _survey(request, survey_id)
    raw = request.POST.get("raw") == "1"
    try:
        result = exports.survey_export(
            user=request.user,
            survey_id=survey.pk,
            raw=raw,
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except SurveyError as error:
        _refused(error)
        messages.error(request, error.message)
        return redirect("surveys:manage_survey", survey_id=survey.pk)
    return _xlsx(result)


def _comparison(request, data):
    """The comparison form bound to ``data`` (GET or POST) and, when valid and in
    scope, the comparison and the terms chosen."""
    templates = list(selectors.templates_usable(user=request.user))
    form = ComparisonForm(data or None, templates=templates)
    result, terms = None, []
    if form.is_bound and form.is_valid():
        terms = list(form.cleaned_data["terms"])
        try:
            result = survey_results.template_comparison(
                user=request.user,
                template_id=form.cleaned_data["template"],
                by=form.cleaned_data["by"],
                term_ids=[t.pk for t in terms] or None,
            )
        except SurveyError as error:
            _refused(error)
            form.add_error(None, error.message)
    return form, result, terms


def _comparison_context(request, form, result, terms) -> dict:
    return {
        "form": form,
        "comparison": result,
        "rows": list(getattr(result, "rows", []) or []),
        "terms": terms,
        "min_group": _min_group(),
        # The export and the printable page take the page's own choices.
        "choices": request.GET.urlencode() if result is not None else "",
    }


@coordinator_required
def comparison(request):
    form, result, terms = _comparison(request, request.GET)
    return render(
        request,
        "surveys/manage_comparison.html",
        _comparison_context(request, form, result, terms),
    )


@coordinator_required
def comparison_print(request):
    """The comparison on paper; each opening is audit-logged, like an export."""
    form, result, terms = _comparison(request, request.GET)
    if result is None:
        return redirect(reverse("surveys:manage_comparison") + "?" + request.GET.urlencode())
    audit_log_record(
        actor=request.user,
        action="surveys.comparison.print",
        target=result.template,
        data={"by": result.by, "terms": sorted(t.pk for t in terms), "groups": len(result.columns)},
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    context = _comparison_context(request, form, result, terms)
    context["heading"] = exports.comparison_heading(
        user=request.user, comparison=result, term_names=[str(t) for t in terms]
    )
    return render(request, "surveys/manage_comparison_print.html", context)


@require_POST
@coordinator_required
def comparison_export(request):
    form, _result, terms = _comparison(request, request.POST)
    back = reverse("surveys:manage_comparison")
    if not form.is_valid():
        messages.error(request, _("请先选择问卷模板和比较方式。"))
        return redirect(back)
    try:
        result = exports.comparison_export(
            user=request.user,
            template_id=form.cleaned_data["template"],
            by=form.cleaned_data["by"],
            term_ids=[t.pk for t in terms],
            term_names=[str(t) for t in terms],
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except SurveyError as error:
        _refused(error)
        messages.error(request, error.message)
        return redirect(back)
    return _xlsx(result)


def _xlsx(result) -> HttpResponse:
    response = HttpResponse(
        result.content,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response


def manage_url(survey: Survey) -> str:
    return reverse("surveys:manage_survey", args=[survey.pk])
