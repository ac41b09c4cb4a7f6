"""Thin views: forms in, services and selectors called, templates out.

An application, an entry or a course outside the viewer's reach is a 404 (never
a 403 that would say it exists); a VolunteerError is shown on the field it names.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from courses.errors import CourseError
from courses.services import course_reviewer_assign
from guidance.models import Station
from members import access
from parent_school.models import GuidanceArea, Term

from . import selectors, services
from .errors import VolunteerError
from .forms import ApplicationForm, DecisionForm, HoursDecisionForm, HoursForm
from .models import VolunteerApplication

PAGE_SIZE = 20
AREAS = dict(GuidanceArea.choices)


def _show_error(form, error: VolunteerError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def _coordinator_only(request) -> None:
    if not access.is_coordinator(request.user):
        raise PermissionDenied


def _render(request, template: str, context: dict):
    context["may_coordinate"] = access.is_coordinator(request.user)
    return render(request, template, context)


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


# --- applicants and volunteers ------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def apply(request):
    centres = list(services.centres_open_for_applications())
    form = ApplicationForm(request.POST or None, centres=centres)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.application_submit(
                user=request.user,
                centre_id=data["centre"],
                name=data["name"],
                background=data["background"],
                expertise=data["expertise"],
                areas=data["areas"],
                availability=data["availability"],
            )
        except VolunteerError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("申请已提交，协调员审核后会通知您。"))
            return redirect("volunteers:mine")
    return _render(request, "volunteers/apply.html", {"form": form, "centres": centres})


@login_required
@require_POST
def withdraw(request, application_id: int):
    try:
        services.application_withdraw(user=request.user, application_id=application_id)
    except VolunteerError as error:
        if error.code.endswith("_missing"):
            raise Http404 from error
        messages.error(request, error.message)
    else:
        messages.success(request, _("申请已撤回。"))
    return redirect("volunteers:mine")


@login_required
@require_safe
def mine(request):
    instructor = selectors.instructor_of(request.user)
    applications = list(selectors.applications_of(request.user)[:20])
    context = {"instructor": instructor, "applications": applications}
    if instructor is not None and instructor.is_volunteer:
        terms = selectors.volunteer_terms(instructor)
        term = next((t for t in terms if str(t.pk) == request.GET.get("term")), None)
        term = (
            term or next((t for t in terms if t.is_current), None) or (terms[0] if terms else None)
        )
        context.update(
            terms=terms,
            term=term,
            units=selectors.volunteer_units(instructor),
        )
        if term is not None:
            context["record"] = selectors.volunteer_record(instructor, term)
            context["page_obj"] = _page(request, selectors.volunteer_hours(instructor, term))
            context["query_string"] = f"term={term.pk}"
    return _render(request, "volunteers/mine.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def hours_new(request):
    me = selectors.instructor_of(request.user)
    instructors = []
    if me is not None and me.is_volunteer:
        instructors.append(me)
    managed = services.volunteers_managed_by(request.user).order_by("name", "pk")[:500]
    instructors += [i for i in managed if me is None or i.pk != me.pk]
    if not instructors:
        raise PermissionDenied
    form = HoursForm(request.POST or None, instructors=instructors)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.hours_enter(
                user=request.user,
                instructor_id=data["instructor"],
                served_on=data["served_on"],
                hours=data["hours"],
                description=data["description"],
            )
        except VolunteerError as error:
            if error.code.endswith("_missing"):
                raise Http404 from error
            _show_error(form, error)
        else:
            messages.success(request, _("已登记，协调员核实后计入服务时长。"))
            if me is not None and data["instructor"] == me.pk:
                return redirect("volunteers:mine")
            return redirect("volunteers:hours_queue")
    return _render(request, "volunteers/hours_new.html", {"form": form})


# --- coordinators ------------------------------------------------------------------


@login_required
@require_safe
def queue(request):
    _coordinator_only(request)
    page_obj = _page(request, selectors.application_queue(request.user))
    return _render(request, "volunteers/queue.html", {"page_obj": page_obj})


@login_required
@require_http_methods(["GET", "POST"])
def decide(request, application_id: int):
    _coordinator_only(request)
    application = selectors.application_for_decider(request.user, application_id)
    if application is None:
        raise Http404
    stations = Station.objects.filter(
        is_active=True, unit__in=access.units_changeable_by(request.user).values("pk")
    ).order_by("name", "pk")
    form = DecisionForm(request.POST or None, stations=stations)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        approve = data["decision"] == "approve"
        try:
            services.application_decide(
                user=request.user,
                application_id=application.pk,
                approve=approve,
                tier=data["tier"],
                serves_as=data["serves_as"],
                station_id=data["station"],
                note=data["note"],
            )
        except VolunteerError as error:
            if error.code.endswith("_missing") and error.field is None:
                raise Http404 from error
            _show_error(form, error)
        else:
            messages.success(request, _("已通过申请。") if approve else _("已记录不通过。"))
            return redirect("volunteers:queue")
    return _render(
        request,
        "volunteers/decide.html",
        {
            "application": application,
            "form": form,
            "is_open": application.status == VolunteerApplication.Status.SUBMITTED,
            "area_labels": [str(AREAS.get(a, a)) for a in application.areas],
        },
    )


@login_required
@require_safe
def hours_queue(request):
    _coordinator_only(request)
    page_obj = _page(request, selectors.hours_queue(request.user))
    return _render(
        request, "volunteers/hours_queue.html", {"page_obj": page_obj, "form": HoursDecisionForm()}
    )


@login_required
@require_POST
def hours_decide(request, hour_id: int):
    _coordinator_only(request)
    form = HoursDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择核实结果。"))
        return redirect("volunteers:hours_queue")
    try:
        services.hours_decide(
            user=request.user, hour_id=hour_id, verify=form.cleaned_data["verify"]
        )
    except VolunteerError as error:
        if error.code.endswith("_missing"):
            raise Http404 from error
        messages.error(request, error.message)
    else:
        messages.success(request, _("已处理这条服务时长。"))
    return redirect("volunteers:hours_queue")


@login_required
@require_http_methods(["GET", "POST"])
def reviews(request):
    """三师联动: name an expert to review a lecturer's course."""
    _coordinator_only(request)
    if request.method == "POST":
        try:
            course_id = int(request.POST.get("course", ""))
            raw = request.POST.get("reviewer", "")
            reviewer_id = int(raw) if raw else None
        except ValueError as error:
            raise Http404 from error
        try:
            course = course_reviewer_assign(
                user=request.user, course_id=course_id, instructor_id=reviewer_id
            )
        except CourseError as error:
            if error.code.endswith("_missing"):
                raise Http404 from error
            messages.error(request, error.message)
        else:
            if course.reviewer_id:
                messages.success(
                    request,
                    _("已为「%(course)s」指定审阅专家：%(name)s")
                    % {"course": course.title, "name": course.reviewer.name},
                )
            else:
                messages.success(
                    request, _("已取消「%(course)s」的审阅专家。") % {"course": course.title}
                )
        return redirect(f"{request.path}?{request.GET.urlencode()}")
    terms = list(Term.objects.order_by("-starts_on")[:6])
    term = next((t for t in terms if str(t.pk) == request.GET.get("term")), None)
    term = term or next((t for t in terms if t.is_current), None)
    page_obj = _page(request, selectors.courses_for_review(request.user, term))
    return _render(
        request,
        "volunteers/reviews.html",
        {
            "page_obj": page_obj,
            "experts": list(selectors.experts_pickable_by(request.user)[:500]),
            "terms": terms,
            "term": term,
            "query_string": f"term={term.pk}" if term else "",
        },
    )
