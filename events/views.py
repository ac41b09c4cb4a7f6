"""Event pages: the public list and detail (phone first), registration, the
family's calendar, and the coordinator's pages. Thin: services do the work."""

from __future__ import annotations

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from bookings.errors import BookingError
from bookings.models import Booking
from bookings.selectors import attendance_marking, booking_for_family
from members import access, roster_contacts
from members.decorators import coordinator_required, staff_member_required

from . import selectors, services
from .errors import EventError
from .forms import EventForm, RegistrationForm
from .ics import calendar_bytes
from .models import CalendarFeed, Delivery, Event, ReminderRule

PAGE_SIZE = 20


def _family(user):
    guardian = getattr(user, "guardian", None) if user.is_authenticated else None
    return guardian.family if guardian is not None else None


def _page(request, queryset, size=PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


# --- public -------------------------------------------------------------------


def event_list(request):
    kind = request.GET.get("kind", "")
    if kind and kind not in Event.Kind.values:
        messages.error(request, _("未知的活动类型，已显示全部活动。"))
        kind = ""
    page = _page(request, selectors.event_list_public(kind=kind))
    return render(
        request,
        "events/list.html",
        {"page": page, "kind": kind, "kinds": Event.Kind.choices},
    )


def _public_event(pk: int) -> Event:
    event = selectors.event_public(pk=pk)  # a draft is 404, like a missing event
    if event is None:
        raise Http404
    return event


def event_detail(request, pk: int):
    event = _public_event(pk)
    family = _family(request.user)
    booking = selectors.family_booking_for_event(family=family, event=event)
    # Open or not, and until when the family may cancel: the bookings rules decide.
    decision = selectors.event_booking_decision(event=event, booking=booking)
    form = RegistrationForm(family=family) if family is not None and decision.can_book else None
    return render(
        request,
        "events/detail.html",
        {
            "event": event,
            "share": selectors.event_share(event),
            "offering": event.offering,
            "booking": booking,
            "decision": decision,
            "form": form,
            "family": family,
            **_ticket_context(request, event, booking),
        },
    )


def _qr_svg(text: str) -> str:
    """An inline SVG QR code that scales to its box (viewBox, no fixed size), with
    its four-module white quiet zone drawn in, so a phone can read it at any size."""
    return segno.make(text, error="m").svg_inline(
        scale=10, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr-svg"
    )


def _ticket_context(request, event: Event, booking) -> dict:
    """The family's own ticket: a code to show (or read out) at the door, and its QR."""
    if (
        booking is None
        or booking.status != Booking.Status.CONFIRMED
        or event.status == Event.Status.CANCELLED
    ):
        return {}
    code = services.event_ticket_code(booking=booking)
    url = request.build_absolute_uri(
        reverse("events:manage_ticket", kwargs={"pk": event.pk}) + "?" + urlencode({"code": code})
    )
    # Grouped in fours from the right, so it is easy to read out and type.
    groups = [code[max(i - 4, 0) : i] for i in range(len(code), 0, -4)][::-1]
    return {"ticket_code": code, "ticket_display": " ".join(groups), "ticket_svg": _qr_svg(url)}


@login_required
@require_POST
def event_register(request, pk: int):
    event = _public_event(pk)
    family = _family(request.user)
    if family is None:
        messages.error(request, EventError("no_family").message)
        return redirect("events:detail", pk=pk)
    form = RegistrationForm(request.POST, family=family)
    if not form.is_valid():
        for error in form.non_field_errors() or [_("请检查所选的参加人。")]:
            messages.error(request, error)
        return redirect("events:detail", pk=pk)
    try:
        booking = services.event_register(
            event_id=event.pk,
            family=family,
            booked_by=request.user,
            guardian_ids=[int(i) for i in form.cleaned_data["guardians"]],
            child_ids=[int(i) for i in form.cleaned_data["children"]],
        )
    except (BookingError, EventError) as error:
        messages.error(request, error.message)
        return redirect("events:detail", pk=pk)
    # Say whether the children are in, so a parent who forgot to tick them sees it now.
    if booking.children_count:
        party = _("共 %(n)s 人（含孩子 %(c)s 人）。") % {
            "n": booking.party_size,
            "c": booking.children_count,
        }
    else:
        party = _("共 %(n)s 人（不含孩子）。") % {"n": booking.party_size}
    if booking.status == Booking.Status.CONFIRMED:
        messages.success(request, _("报名成功！我们会在活动前提醒您。") + party)
    else:
        messages.warning(request, _("名额已满，您已进入候补名单；有空位时会通知您。") + party)
    return redirect("events:detail", pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def event_unregister(request, pk: int):
    """Cancelling asks first. GET: what will happen (the place goes to a waiting
    family, the ticket stops working) and until when cancelling is allowed, as the
    booking rules decide; POST: ``event_registration_cancel``, then back to where the
    parent came from (the event page, or 我的学习)."""
    event = _public_event(pk)
    family = _family(request.user)
    back = reverse("events:detail", kwargs={"pk": event.pk})
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = back
    booking = booking_for_family(family=family, offering_id=event.offering_id)
    if booking is None:
        messages.info(request, EventError("not_registered").message)
        return redirect(back)
    if request.method == "POST":
        try:
            services.event_registration_cancel(
                event_id=event.pk, family=family, cancelled_by=request.user
            )
        except (BookingError, EventError) as error:
            messages.error(request, error.message)
        else:
            was_waiting = booking.status == Booking.Status.WAITING
            messages.success(request, _("已退出候补。") if was_waiting else _("已取消报名。"))
        return redirect(next_url)
    return render(
        request,
        "bookings/cancel_confirm.html",
        {
            "booking": booking,
            "offering": event.offering,
            "decision": selectors.event_booking_decision(event=event, booking=booking),
            "title": event.title,
            "venue": event.venue,
            "online_url": event.online_url,
            "detail_url": back,
            "next_url": next_url,
            "is_event": True,
        },
    )


def event_ics(request, pk: int):
    event = _public_event(pk)
    info = selectors.offering_info(event.offering)
    response = HttpResponse(
        calendar_bytes([info], name=event.title), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}.ics"'
    return response


@login_required
def event_self_check_in(request, pk: int, code: str):
    event = _public_event(pk)
    if request.method == "POST":
        try:
            services.event_self_check_in(
                event=event, code=code, user=request.user, family=_family(request.user)
            )
        except (BookingError, EventError) as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("签到成功，欢迎参加！"))
            return redirect("events:detail", pk=pk)
    error_message = None
    try:
        services.event_checkin_code_check(event=event, code=code)
    except EventError as error:
        error_message = error.message
    return render(
        request,
        "events/self_checkin.html",
        {"event": event, "code": code, "error_message": error_message},
    )


# --- the family's calendar ----------------------------------------------------


@login_required
def calendar_page(request):
    family = _family(request.user)
    if family is None:
        messages.error(request, EventError("no_family").message)
        return redirect("events:list")
    feed = services.calendar_feed_get_or_create(family=family)
    feed_url = request.build_absolute_uri(
        reverse("events:calendar_feed", kwargs={"token": feed.token})
    )
    offerings = selectors.calendar_offerings_for_family(family=family)
    infos = [selectors.offering_info(o) for o in offerings]
    return render(request, "events/calendar.html", {"feed_url": feed_url, "infos": infos})


@login_required
@require_POST
def calendar_revoke(request):
    family = _family(request.user)
    if family is None:
        raise Http404
    services.calendar_feed_revoke(family=family, revoked_by=request.user)
    messages.success(request, _("旧的订阅链接已停用，请在日历应用中改用新链接。"))
    return redirect("events:calendar")


def calendar_feed(request, token: str):
    feed = CalendarFeed.objects.filter(token=token, revoked_at__isnull=True).first()
    if feed is None:
        raise Http404
    offerings = selectors.calendar_offerings_for_family(family=feed.family)
    body = calendar_bytes([selectors.offering_info(o) for o in offerings], name=_("我的家庭日历"))
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


# --- coordinator pages --------------------------------------------------------


def _managed(request, pk: int) -> Event:
    try:
        return selectors.event_get_for_coordinator(user=request.user, event_id=pk)
    except Event.DoesNotExist as error:
        raise Http404 from error


@staff_member_required
def manage_list(request):
    status = request.GET.get("status", "")
    if status and status not in Event.Status.values:
        messages.error(request, _("未知的状态，已显示全部活动。"))
        status = ""
    page = _page(request, selectors.event_list_for_coordinator(user=request.user, status=status))
    return render(
        request,
        "events/manage/list.html",
        {
            "page": page,
            "status": status,
            "statuses": Event.Status.choices,
            "can_create": access.is_coordinator(request.user),
        },
    )


def _form_data(form) -> dict:
    data = dict(form.cleaned_data)
    data["reminder_hours"] = data.pop("reminder_hours")
    return data


@coordinator_required
def manage_create(request):
    form = EventForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            event = services.event_create(created_by=request.user, **_form_data(form))
        except (BookingError, EventError) as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("活动已创建。"))
            return redirect("events:manage_detail", pk=event.pk)
    return render(request, "events/manage/form.html", {"form": form, "event": None})


@coordinator_required
def manage_edit(request, pk: int):
    event = _managed(request, pk)
    if not access.can_change_unit(request.user, event.organiser_unit):
        raise Http404
    offering = event.offering
    own_rules = list(
        ReminderRule.objects.filter(event=event, is_active=True).values_list(
            "offset_minutes", flat=True
        )
    )
    initial = {
        "title": event.title,
        "kind": event.kind,
        "audience": event.audience,
        "organiser_unit": event.organiser_unit_id,
        "organiser_alliance": event.organiser_alliance_id,
        "description": event.description,
        "venue": event.venue,
        "online_url": event.online_url,
        "starts_at": offering.starts_at,
        "ends_at": offering.ends_at,
        "capacity": offering.capacity,
        "booking_opens_at": offering.booking_opens_at,
        "booking_closes_at": offering.booking_closes_at,
        "status": event.status if event.status != Event.Status.FINISHED else "published",
        "reminder_hours": ",".join(f"{m / 60:g}" for m in sorted(own_rules, reverse=True)),
    }
    form = EventForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = _form_data(form)
        try:
            services.event_update(event_id=event.pk, updated_by=request.user, **data)
        except (BookingError, EventError) as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("活动已保存。若时间有变，已报名家庭会收到一次变更通知。"))
            return redirect("events:manage_detail", pk=event.pk)
    return render(request, "events/manage/form.html", {"form": form, "event": event})


@coordinator_required
@require_POST
def manage_cancel(request, pk: int):
    event = _managed(request, pk)
    try:
        services.event_cancel(
            event_id=event.pk, cancelled_by=request.user, reason=request.POST.get("reason", "")
        )
    except (BookingError, EventError) as error:  # BookingBusy: "busy, try again"
        messages.error(request, error.message)
    else:
        messages.success(request, _("活动已取消，已报名家庭会收到一次取消通知。"))
    return redirect("events:manage_detail", pk=event.pk)


@staff_member_required
def manage_detail(request, pk: int):
    """Registrations, the printable roster and check-in."""
    event = _managed(request, pk)
    roster = selectors.event_roster(event=event)
    confirmed = [b for b in roster if b.status == Booking.Status.CONFIRMED]
    waiting = [b for b in roster if b.status == Booking.Status.WAITING]
    # Masked phones per family; the ones this viewer revealed lately in full (tel: links).
    roster_contacts.attach_contacts(
        confirmed, revealed_ids=roster_contacts.revealed_guardian_ids(request, about=event)
    )
    return render(
        request,
        "events/manage/detail.html",
        {
            "event": event,
            "offering": event.offering,
            "confirmed": confirmed,
            "waiting": waiting,
            "present": sum(1 for b in confirmed if b.attendance == Booking.Attendance.PRESENT),
            "can_change": access.can_change_unit(request.user, event.organiser_unit),
            # Whether check-in may be marked now, and if not why (one rule for all markers).
            "marking": attendance_marking(offering=event.offering),
        },
    )


@staff_member_required
@require_POST
def manage_phone_reveal(request, pk: int):
    """「显示号码」 on the event roster: the full numbers of one confirmed family, for
    the staff of this event only (another unit's event or booking: 404), audit-logged."""
    event = _managed(request, pk)
    confirmed = [
        b for b in selectors.event_roster(event=event) if b.status == Booking.Status.CONFIRMED
    ]
    booking = roster_contacts.booking_in(confirmed, request.POST.get("reveal"))
    return roster_contacts.reveal_response(
        request,
        about=event,
        booking=booking,
        back_url=reverse("events:manage_detail", kwargs={"pk": event.pk}),
    )


@staff_member_required
@require_POST
def manage_check_in(request, pk: int):
    event = _managed(request, pk)
    try:
        booking_id = int(request.POST.get("booking", ""))
    except ValueError:
        messages.error(request, _("请选择要签到的报名。"))
        return redirect("events:manage_detail", pk=pk)
    present = request.POST.get("present", "1") == "1"
    try:
        services.event_check_in(
            event=event, booking_id=booking_id, marked_by=request.user, present=present
        )
    except (BookingError, EventError) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已签到。") if present else _("已标记缺席。"))
    return redirect(reverse("events:manage_detail", kwargs={"pk": pk}) + f"#booking-{booking_id}")


@staff_member_required
def manage_qr(request, pk: int):
    event = _managed(request, pk)
    url = request.build_absolute_uri(
        reverse(
            "events:self_checkin",
            kwargs={"pk": event.pk, "code": services.event_checkin_code(event=event)},
        )
    )
    svg = _qr_svg(url)
    if request.GET.get("fragment") == "svg":
        # static/js/qr-refresh.js swaps in a fresh code before the shown one expires.
        response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response
    opens, closes = services.event_checkin_window(event=event)
    return render(
        request,
        "events/manage/qr.html",
        {
            "event": event,
            "svg": svg,
            "url": url,
            "opens": opens,
            "closes": closes,
            # Refresh well before the code expires, as the course QR page does.
            "refresh_seconds": max(settings.COURSE_CHECKIN_TOKEN_MAX_AGE // 2, 30),
        },
    )


@staff_member_required
def manage_ticket(request, pk: int):
    """A family's ticket at the door: scanned (the QR opens this page with the
    code) or typed on the roster. GET shows whose ticket it is; POST checks in."""
    event = _managed(request, pk)
    code = (request.POST.get("code") if request.method == "POST" else request.GET.get("code")) or ""
    if request.method == "POST":
        try:
            booking, newly = services.event_ticket_check_in(
                event=event, code=code, marked_by=request.user
            )
        except (BookingError, EventError) as error:
            messages.error(request, error.message)
            return redirect("events:manage_detail", pk=pk)
        names = _attendee_names(booking)
        if newly:
            messages.success(
                request,
                _("已签到：%(names)s（%(n)s 人）。") % {"names": names, "n": booking.party_size},
            )
        else:
            messages.info(request, _("%(names)s 已经签到过了。") % {"names": names})
        return redirect(
            reverse("events:manage_detail", kwargs={"pk": pk}) + f"#booking-{booking.pk}"
        )
    booking, error_message = None, None
    try:
        booking = services.event_ticket_booking(event=event, code=code)
    except EventError as error:
        error_message = error.message
    return render(
        request,
        "events/manage/ticket.html",
        {
            "event": event,
            "booking": booking,
            "names": _attendee_names(booking) if booking else "",
            "code": code,
            "error_message": error_message,
            "marking": attendance_marking(offering=event.offering),
        },
    )


def _attendee_names(booking) -> str:
    names = []
    for attendee in booking.attendees.select_related("guardian__user", "child"):
        if attendee.guardian_id:
            names.append(str(attendee.guardian.user))
        elif attendee.child_id:
            names.append(attendee.child.nickname)
    return "、".join(names) or _("家庭 #%(id)s") % {"id": booking.family_id}


@coordinator_required
def manage_deliveries(request, pk: int):
    event = _managed(request, pk)
    status = request.GET.get("status", "")
    if status and status not in Delivery.Status.values:
        messages.error(request, _("未知的状态，已显示全部记录。"))
        status = ""
    page = _page(request, selectors.delivery_log_for_event(event=event, status=status), 50)
    summary = selectors.delivery_summary_for_event(event=event)
    return render(
        request,
        "events/manage/deliveries.html",
        {
            "event": event,
            "page": page,
            "status": status,
            "statuses": Delivery.Status.choices,
            "summary": summary,
            "failed": sum(r["count"] for r in summary if r["status"] == Delivery.Status.FAILED),
        },
    )
