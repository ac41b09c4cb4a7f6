"""Thin views over courses.services / selectors and the bookings service."""

from __future__ import annotations

import hashlib

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from bookings import services as booking_services
from bookings.errors import BookingError
from bookings.models import Booking
from bookings.selectors import attendance_marking, booking_decision, booking_for_family
from members import access, roster_contacts
from members.decorators import staff_member_required
from members.page_cache import shareable_request, shareable_response

from . import selectors, services, streaming
from .errors import CourseError
from .models import CourseSession

PAGE_SIZE = 12
FACET_LABELS = {
    "theme": _lazy("主题"),
    "stage": _lazy("学段"),
    "level": _lazy("层级"),
    "mode": _lazy("形式"),
    "region": _lazy("街道/社区"),
    "parent_school": _lazy("家长学校"),
    "term": _lazy("学期"),
}


def _ids(values) -> list[int]:
    """Integers from a form's list; anything else is ignored."""
    return [int(v) for v in values if str(v).isdigit()][:20]


def _catalogue_context(request) -> dict:
    found = selectors.course_catalogue_page(
        data=request.GET, page=request.GET.get("page"), per_page=PAGE_SIZE
    )
    result, page = found.catalogue, found.page
    params = request.GET.copy()
    params.pop("page", None)
    return {
        "catalogue": result,
        "form": result.filterset.form,
        "page_obj": page,
        "query_string": params.urlencode(),
        # The folded panel's 「已选 n 项」: its own filters, not the search box above it.
        "active_filters": sum(
            1
            for name, value in (
                result.filterset.form.cleaned_data.items() if result.filterset.is_bound else []
            )
            if name != "q" and value not in (None, "", False)
        ),
        "facet_list": [(name, FACET_LABELS[name], result.facets[name]) for name in FACET_LABELS],
    }


def _catalogue_cache_key(request) -> str:
    query = "&".join(sorted(f"{k}={v}" for k, values in request.GET.lists() for v in values))
    digest = hashlib.sha256(query.encode()).hexdigest()[:32]
    return f"courses:catalogue-body:v1:{get_language()}:{digest}"


def catalogue(request):
    """The catalogue's content is the same for every visitor, so it is rendered
    once per query string and language and shared for a few seconds
    (COURSE_CATALOGUE_CACHE_SECONDS); anonymous visitors share the whole page.
    The detail page and booking always read live counts."""
    seconds = settings.COURSE_CATALOGUE_CACHE_SECONDS
    if seconds <= 0:
        return render(request, "courses/catalogue.html", _catalogue_context(request))
    key = _catalogue_cache_key(request)
    page_key = key.replace("catalogue-body", "catalogue-page")
    shareable = shareable_request(request)
    if shareable:
        content = cache.get(page_key)
        if content is not None:
            response = HttpResponse(content)
            patch_vary_headers(response, ["Cookie"])
            return response
    body = cache.get(key)
    if body is None:
        body = render_to_string(
            "courses/_catalogue_body.html", _catalogue_context(request), request=request
        )
        # A body that used a CSP nonce is this response's alone (see below).
        if not getattr(request, "csp_nonce", None):
            cache.set(key, body, seconds)
    response = render(request, "courses/catalogue.html", {"catalogue_body": body})
    patch_vary_headers(response, ["Cookie"])
    if shareable and shareable_response(request, response):
        cache.set(page_key, response.content, seconds)
    return response


def course_detail(request, pk: int):
    course = selectors.course_detail(pk=pk)
    if course is None:
        raise Http404
    sessions = selectors.course_sessions(course=course, upcoming_only=True)
    family = services.family_of(request.user)
    can_manage = access.can_view_unit(request.user, course.parent_school.host_unit_id)
    members = None
    if family is not None:
        members = {
            "guardians": list(family.guardians.select_related("user")),
            "children": list(family.children.all()),
        }
    # Each row carries the booking decision (windows, start, cancel deadline) made
    # by the same rules as bookings.services; the template only shows it.
    rows = selectors.course_session_rows(sessions=sessions, family=family)
    return render(
        request,
        "courses/detail.html",
        {
            "course": course,
            "share": selectors.course_share(course),
            "rows": rows,
            "members": members,
            "me_guardian_id": getattr(getattr(request.user, "guardian", None), "pk", None),
            "can_manage": can_manage,
        },
    )


@login_required
@require_POST
def session_book(request, pk: int):
    session = selectors.course_session_public(pk=pk)  # as the API's booking finds it
    if session is None:
        raise Http404
    family = services.family_of(request.user)
    back = reverse("courses:detail", args=[session.course_id])
    if family is None:
        messages.error(request, CourseError("no_family").message)
        return redirect(back)
    try:
        booking = booking_services.booking_create(
            offering_id=session.offering_id,
            family=family,
            booked_by=request.user,
            guardian_ids=_ids(request.POST.getlist("guardian")),
            child_ids=_ids(request.POST.getlist("child")),
        )
    except BookingError as error:
        messages.error(request, error.message)
        return redirect(back)
    # Say whether the children are in, so a parent who forgot to tick them sees it now.
    if booking.children_count:
        party = _("已为 %(n)s 人保留名额（含孩子 %(c)s 人）。") % {
            "n": booking.party_size,
            "c": booking.children_count,
        }
    else:
        party = _("已为 %(n)s 人保留名额（不含孩子）。") % {"n": booking.party_size}
    if booking.status == Booking.Status.CONFIRMED:
        messages.success(request, _("报名成功！") + party)
    else:
        messages.warning(
            request,
            _("名额已满，已加入候补名单（%(n)s 人）。有空位时会自动递补并通知您。")
            % {"n": booking.party_size},
        )
    return redirect(back)


@login_required
@require_http_methods(["GET", "POST"])
def booking_cancel(request, pk: int):
    """Cancelling asks first. GET: the page that says what will happen (the place
    goes to a waiting family) and until when cancelling is allowed, as
    ``booking_decision`` decides; POST: the bookings service cancels, then back to
    where the parent came from. Another family's booking is 404, like a missing one.
    (我的学习 itself, courses and events together, is portal:my_learning.)"""
    family = services.family_of(request.user)
    booking = booking_for_family(family=family, booking_id=pk)
    if booking is None:
        raise Http404
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("portal:my_learning")
    if request.method == "POST":
        was_waiting = booking.status == Booking.Status.WAITING
        try:
            booking_services.booking_cancel(booking_id=pk, family=family, cancelled_by=request.user)
        except BookingError as error:
            if error.code == "booking_missing":
                raise Http404 from error
            messages.error(request, error.message)
        else:
            messages.success(request, _("已退出候补。") if was_waiting else _("已取消报名。"))
        return redirect(next_url)
    session = (
        CourseSession.objects.select_related("course")
        .filter(offering_id=booking.offering_id)
        .first()
    )
    return render(
        request,
        "bookings/cancel_confirm.html",
        {
            "booking": booking,
            "offering": booking.offering,
            "decision": booking_decision(offering=booking.offering, booking=booking),
            "title": session.course.title if session is not None else booking.offering.title,
            "venue": session.venue if session is not None else "",
            "online_url": session.online_url if session is not None else "",
            "detail_url": reverse("courses:detail", args=[session.course_id]) if session else "",
            "next_url": next_url,
        },
    )


# Staff: roster and check-in code -----------------------------------------------------


def _staff_session(request, pk: int) -> CourseSession:
    session = selectors.session_for_staff(pk=pk)
    # Guessing another unit's session id gives 404, like a missing one.
    if session is None or not access.can_view_unit(request.user, session.offering.unit_id):
        raise Http404
    return session


@staff_member_required
def staff_sessions(request):
    include_past = request.GET.get("past") == "1"
    sessions = selectors.session_list_for_staff(user=request.user, include_past=include_past)
    page = Paginator(sessions, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "courses/staff_sessions.html",
        {
            "page_obj": page,
            "include_past": include_past,
            "query_string": "past=1" if include_past else "",
        },
    )


@staff_member_required
def session_roster(request, pk: int):
    session = _staff_session(request, pk)
    if request.method == "POST":
        present = request.POST.get("mark") == "present"
        booking_ids = _ids(request.POST.getlist("booking"))
        if not booking_ids:
            messages.error(request, _("请至少选择一个家庭。"))
        else:
            done, errors = services.session_attendance_mark_many(
                session=session, booking_ids=booking_ids, present=present, marked_by=request.user
            )
            for message in errors:
                messages.error(request, message)
            if done:
                messages.success(
                    request,
                    (
                        _("已将 %(n)s 个家庭标记为出席。")
                        if present
                        else _("已将 %(n)s 个家庭标记为缺席。")
                    )
                    % {"n": done},
                )
        return redirect("courses:roster", pk=session.pk)
    roster = selectors.session_roster(session=session)
    # Masked phones per family; the ones this viewer revealed lately in full (tel: links).
    roster_contacts.attach_contacts(
        roster, revealed_ids=roster_contacts.revealed_guardian_ids(request, about=session)
    )
    return render(
        request,
        "courses/roster.html",
        {
            "session": session,
            "roster": roster,
            "waiting": selectors.session_waiting(session=session),
            "present_count": sum(1 for b in roster if b.attendance == Booking.Attendance.PRESENT),
            # Whether attendance may be marked now, and if not why (one rule for all markers).
            "marking": attendance_marking(offering=session.offering),
            "can_cancel": session.offering.status == session.offering.Status.OPEN
            and session.offering.starts_at > timezone.now()
            and access.can_change_unit(request.user, session.offering.unit_id),
        },
    )


@staff_member_required
@require_POST
def session_phone_reveal(request, pk: int):
    """「显示号码」 on the roster: the full numbers of one confirmed family, for the
    staff of this session only (another unit's session or booking: 404), audit-logged."""
    session = _staff_session(request, pk)
    booking = roster_contacts.booking_in(
        selectors.session_roster(session=session), request.POST.get("reveal")
    )
    return roster_contacts.reveal_response(
        request,
        about=session,
        booking=booking,
        back_url=reverse("courses:roster", args=[session.pk]),
    )


@staff_member_required
@require_POST
def session_cancel(request, pk: int):
    session = _staff_session(request, pk)
    if not access.can_change_unit(request.user, session.offering.unit_id):
        raise Http404
    try:
        services.course_session_cancel(session=session, cancelled_by=request.user)
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("本场次已取消，已报名和候补的家庭会收到通知。"))
    return redirect("courses:roster", pk=session.pk)


@staff_member_required
def session_checkin_code(request, pk: int):
    session = _staff_session(request, pk)
    token = services.checkin_token_make(session=session)
    url = request.build_absolute_uri(reverse("courses:checkin", args=[token]))
    qr_svg = segno.make(url, error="m").svg_inline(scale=6, dark="#000", light="#fff")
    if request.GET.get("fragment") == "svg":
        # The page swaps in a fresh code before the signed link expires.
        return HttpResponse(qr_svg, content_type="image/svg+xml; charset=utf-8")
    opens, closes = services.checkin_window(session)
    return render(
        request,
        "courses/checkin_code.html",
        {
            "session": session,
            "qr_svg": qr_svg,
            "checkin_url": url,
            "opens": opens,
            "closes": closes,
            # Refresh well before the token expires so the code on screen always works.
            "refresh_seconds": max(settings.COURSE_CHECKIN_TOKEN_MAX_AGE // 2, 30),
        },
    )


@login_required
def checkin(request, token: str):
    if request.method == "POST":
        try:
            booking = services.session_checkin(token=token, user=request.user)
        except CourseError as error:
            messages.error(request, error.message)
        except BookingError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("签到成功！已为 %(n)s 位家庭成员记入学分。") % {"n": booking.party_size},
            )
            return redirect("portal:my_learning")
        return redirect("courses:checkin", token=token)
    session, error_message = None, None
    try:
        session = services.checkin_session_from_token(token)
    except CourseError as error:
        error_message = error.message
    return render(
        request, "courses/checkin.html", {"session": session, "error_message": error_message}
    )


# Online lessons -----------------------------------------------------------------------


LESSON_PAGE_SIZE = 20


def _lesson_or_404(pk: int):
    lesson = selectors.lesson_for_viewer(pk=pk)
    if lesson is None:
        raise Http404
    return lesson


def lesson_list(request):
    """Online lessons (tens of thousands at city scale): filters, 20 a page, the
    family's progress on each and its credits this term, in constant queries."""
    result = selectors.lesson_list(data=request.GET)
    page = Paginator(result.lessons, LESSON_PAGE_SIZE).get_page(request.GET.get("page"))
    family = services.family_of(request.user)
    page.object_list = selectors.lesson_progress_attach(list(page.object_list), family=family)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "courses/lessons.html",
        {
            "lesson_list": result,
            "form": result.form,
            "page_obj": page,
            "query_string": params.urlencode(),
            "family": family,
            "credit_percent": settings.LESSON_CREDIT_PERCENT,
            "term_credits": selectors.term_credits(family=family) if family else None,
        },
    )


def lesson_detail(request, pk: int):
    lesson = _lesson_or_404(pk)
    family = services.family_of(request.user)
    progress = (
        selectors.lesson_progress_for_family(lesson=lesson, family=family) if family else None
    )
    return render(
        request,
        "courses/lesson.html",
        {
            "lesson": lesson,
            "family": family,
            "progress": progress,
            "resume_at": selectors.lesson_resume_at(lesson=lesson, progress=progress),
            "credit_amount": lesson.credit_amount,
            "credit_percent": settings.LESSON_CREDIT_PERCENT,
            "heartbeat_seconds": settings.LESSON_HEARTBEAT_SECONDS,
            "term_credits": selectors.term_credits(family=family) if family else None,
        },
    )


@login_required
@require_POST
def lesson_progress(request, pk: int):
    """A heartbeat of the lesson page: where the player is and how long it played
    since the previous heartbeat; the server decides what counts."""
    lesson = _lesson_or_404(pk)
    try:
        progress, credited = services.lesson_progress_record(
            lesson=lesson,
            user=request.user,
            position_seconds=request.POST.get("position", ""),
            watched_seconds=request.POST.get("watched", ""),
        )
    except CourseError as error:
        return JsonResponse({"error": str(error.message)}, status=400)
    return JsonResponse(
        {
            "percent": progress.percent,
            "completed": progress.completed_at is not None,
            "credited": credited,
        }
    )


@require_safe
def lesson_video(request, pk: int):
    """The lesson's uploaded video, with HTTP ranges (courses/streaming.py)."""
    return streaming.file_response(request, _lesson_or_404(pk).video_file)


@require_safe
def lesson_poster(request, pk: int):
    return streaming.file_response(request, _lesson_or_404(pk).poster)
