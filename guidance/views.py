"""Thin views: forms in, services and selectors called, templates out.

The station's pages: families find an area, a mentor and a free
slot and book it; mentors work at their desk. A consultation, mentor or slot
outside the viewer's reach is a 404 (never a 403 that would say it exists); a
GuidanceError is shown on the field it names, or above the form."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from bookings.errors import BookingError
from bookings.selectors import booking_decision
from members.access import is_staff_member
from members.formatting import id_or_none
from members.selectors import family_children, family_for_user
from parent_school.models import GuidanceArea
from parent_school.selectors import term_current

from . import selectors, services
from .errors import GuidanceError
from .forms import BookingForm, LimitLiftForm, PatternForm, ReferralForm, SlotForm
from .models import Consultation, FollowUp, Mentor, Note, Referral, Slot


def _show_error(form, error: GuidanceError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def _area_label(area: str) -> str:
    return str(dict(GuidanceArea.choices).get(area, ""))


def _referral_for(request, station_id) -> Referral | None:
    """An open referral of the signed-in family at this station named by ?referral=
    (links in the referral notice), else None: another family's or another
    station's id is silently ignored."""
    family = family_for_user(request.user) if request.user.is_authenticated else None
    raw = request.GET.get("referral") or request.POST.get("referral_id")
    if family is None or not raw:
        return None
    pk = id_or_none(raw)
    if pk is None:
        return None
    return (
        Referral.objects.select_related("to_mentor")
        .filter(
            pk=pk,
            consultation__family=family,
            consultation__station_id=station_id,
            status=Referral.Status.OPEN,
        )
        .first()
    )


# --- finding a mentor --------------------------------------------------------------------


@require_safe
def home(request):
    return render(
        request,
        "guidance/home.html",
        {"stations": list(selectors.stations_active()), "areas": GuidanceArea.choices},
    )


@require_safe
def station(request, station_id: int):
    found = selectors.station_active(station_id)
    if found is None:
        raise Http404
    return render(
        request,
        "guidance/station.html",
        {"station": found, "areas": selectors.station_areas(found)},
    )


@require_safe
def area(request, station_id: int, area: str):
    found = selectors.station_active(station_id)
    if found is None or area not in GuidanceArea.values:
        raise Http404
    audience = request.GET.get("audience") or ""
    if audience not in Mentor.Audience.values:
        audience = ""
    mentors = selectors.mentors_for(found, area, audience or None)
    slots = selectors.free_slots_by_mentor(mentors)
    referral = _referral_for(request, found.pk)
    return render(
        request,
        "guidance/area.html",
        {
            "station": found,
            "area": area,
            "area_label": _area_label(area),
            "audience": audience,
            "audiences": Mentor.Audience.choices,
            "rows": [{"mentor": m, "slots": slots.get(m.pk, [])} for m in mentors],
            "referral": referral,
        },
    )


@require_safe
def mentor(request, mentor_id: int):
    found = selectors.mentor_public(mentor_id)
    if found is None:
        raise Http404
    audiences = dict(Mentor.Audience.choices)
    modes = dict(Mentor.Mode.choices)
    return render(
        request,
        "guidance/mentor.html",
        {
            "mentor": found,
            "station": found.station,
            "audience_labels": [audiences.get(a, a) for a in found.audiences],
            "mode_labels": [modes.get(m, m) for m in found.modes],
            "slots": selectors.free_slots(found, limit=10),
            "referral": _referral_for(request, found.station_id),
        },
    )


# --- booking -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def book(request, slot_id: int):
    slot = selectors.slot_bookable(slot_id)
    if slot is None:
        raise Http404
    family = family_for_user(request.user)
    is_teacher = is_staff_member(request.user)
    children = list(family_children(family=family)) if family is not None else []
    referral = _referral_for(request, slot.mentor.station_id)
    areas = slot.mentor.areas
    if referral is not None:
        areas = [referral.to_area]
    initial = {
        "area": request.GET.get("area") if request.GET.get("area") in areas else areas[0],
        "for_whom": Consultation.ForWhom.CHILD
        if children
        else (Consultation.ForWhom.TEACHER if is_teacher and family is None else "parent"),
        "referral_id": referral.pk if referral else "",
    }
    form = BookingForm(
        request.POST or None,
        initial=initial,
        areas=areas,
        children=children,
        is_teacher=is_teacher,
        has_family=family is not None,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            consultation = services.consultation_book(
                user=request.user,
                slot_id=slot.pk,
                area=data["area"],
                for_whom=data["for_whom"],
                need=data["need"],
                child_id=data.get("child_id") or None,
                referral_id=data.get("referral_id") or None,
            )
        except GuidanceError as error:
            _show_error(form, error)
        except BookingError as error:
            form.add_error(None, error.message)
        else:
            if consultation.status == Consultation.Status.WAITING:
                messages.success(request, _("这个时段已满，已为您加入候补，有空位会通知您。"))
            else:
                messages.success(request, _("预约成功，回执已发到您的消息里。"))
            return redirect("guidance:consultation", consultation_id=consultation.pk)
    limits = None
    if family is not None:
        limits = selectors.family_limits(slot.mentor.station, family, term_current())
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "guidance/book.html",
        {
            "slot": slot,
            "offering": slot.offering,
            "mentor": slot.mentor,
            "station": slot.mentor.station,
            "form": form,
            "family": family,
            "may_book": family is not None or is_teacher,
            "limits": limits,
            "referral": referral,
        },
        status=status,
    )


@login_required
@require_safe
def mine(request):
    family = family_for_user(request.user)
    page = selectors.family_consultations(family, request.GET.get("page")) if family else None
    return render(request, "guidance/mine.html", {"family": family, "page_obj": page})


@login_required
@require_safe
def booked(request, offering_id: int):
    """Where a receipt's or reminder's link lands (they name the slot's offering):
    the family's consultation on it, else its list."""
    consultation = selectors.consultation_offering_for_family(
        family_for_user(request.user), offering_id
    )
    if consultation is None:
        return redirect("guidance:mine")
    return redirect("guidance:consultation", consultation_id=consultation.pk)


def _consultation_or_404(request, consultation_id) -> Consultation:
    consultation = selectors.consultation_for(request.user, consultation_id)
    if consultation is None:
        raise Http404
    return consultation


def _is_case_mentor(user, consultation) -> bool:
    return services._is_case_mentor(user, consultation)


def _consultation_context(request, consultation, **forms) -> dict:
    is_family = selectors.is_family_of(request.user, consultation)
    is_mentor = _is_case_mentor(request.user, consultation)
    is_chief = selectors.is_chief_of(request.user, consultation.station_id)
    referrals = selectors.consultation_referrals(consultation)
    context = {
        "consultation": consultation,
        "slot": consultation.slot,
        "offering": consultation.slot.offering,
        "is_family": is_family,
        "is_mentor": is_mentor,
        "is_chief": is_chief,
        "referrals": referrals,
        "decision": booking_decision(
            offering=consultation.slot.offering, booking=consultation.booking
        ),
        "can_cancel": consultation.status in Consultation.OPEN_STATUSES,
        "need": None,
        "notes": None,
    }
    if is_mentor:
        try:
            context["need"] = services.need_read(user=request.user, consultation=consultation)
        except NotImplementedError:  # the notes block lands separately
            context["need"] = None
        station_mentors = Mentor.objects.filter(
            station_id=consultation.station_id, is_active=True
        ).exclude(pk=consultation.mentor_id)
        context["refer_form"] = ReferralForm(prefix="refer", mentors=list(station_mentors))
        context["can_mark"] = consultation.status == Consultation.Status.BOOKED
        if is_chief and consultation.family_id:
            context["lift_form"] = LimitLiftForm(prefix="lift")
            context["limits"] = selectors.family_limits(
                consultation.station, consultation.family, term_current()
            )
    try:
        context["notes"] = services.notes_panel(user=request.user, consultation=consultation)
    except NotImplementedError:
        context["notes"] = None
    context.update(forms)
    return context


@login_required
@require_safe
def consultation(request, consultation_id: int):
    found = _consultation_or_404(request, consultation_id)
    return render(request, "guidance/consultation.html", _consultation_context(request, found))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def cancel(request, consultation_id: int):
    found = _consultation_or_404(request, consultation_id)
    if request.method == "POST":
        try:
            services.consultation_cancel(user=request.user, consultation_id=found.pk)
        except (GuidanceError, BookingError) as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("已取消这次咨询预约。"))
        return redirect("guidance:consultation", consultation_id=found.pk)
    return render(
        request,
        "guidance/cancel.html",
        {
            "consultation": found,
            "offering": found.slot.offering,
            "decision": booking_decision(offering=found.slot.offering, booking=found.booking),
            "as_family": selectors.is_family_of(request.user, found),
        },
    )


@login_required
@require_POST
def mark(request, consultation_id: int):
    found = _consultation_or_404(request, consultation_id)
    held = request.POST.get("held") == "1"
    try:
        services.consultation_mark(user=request.user, consultation_id=found.pk, held=held)
    except GuidanceError as error:
        if error.code == "consultation_missing":
            raise Http404 from error
        messages.error(request, error.message)
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已登记：已咨询。") if held else _("已登记：未到。"))
    return redirect("guidance:consultation", consultation_id=found.pk)


def _consultation_post(request, consultation_id, *, form_class, prefix, write, success):
    """A mentor's form on the consultation page: a refusal is shown on its field
    with the page again (400); success is told and the page reloaded."""
    found = _consultation_or_404(request, consultation_id)
    if not _is_case_mentor(request.user, found):
        raise Http404
    kwargs = {}
    if form_class is ReferralForm:
        kwargs["mentors"] = list(
            Mentor.objects.filter(station_id=found.station_id, is_active=True).exclude(
                pk=found.mentor_id
            )
        )
    form = form_class(request.POST, prefix=prefix, **kwargs)
    if form.is_valid():
        try:
            write(found, form.cleaned_data)
        except GuidanceError as error:
            _show_error(form, error)
        else:
            messages.success(request, success)
            return redirect("guidance:consultation", consultation_id=found.pk)
    context = _consultation_context(request, found, **{f"{prefix}_form": form})
    return render(request, "guidance/consultation.html", context, status=400)


@login_required
@require_POST
def refer(request, consultation_id: int):
    return _consultation_post(
        request,
        consultation_id,
        form_class=ReferralForm,
        prefix="refer",
        write=lambda c, data: services.referral_create(
            user=request.user,
            consultation_id=c.pk,
            to_area=data["to_area"],
            to_mentor_id=data["to_mentor_id"] or None,
            message=data["message"],
        ),
        success=_("已转介，并通知了家庭。"),
    )


@login_required
@require_POST
def limit_lift(request, consultation_id: int):
    found = _consultation_or_404(request, consultation_id)
    if not selectors.is_chief_of(request.user, found.station_id):
        raise Http404
    return _consultation_post(
        request,
        consultation_id,
        form_class=LimitLiftForm,
        prefix="lift",
        write=lambda c, data: services.limit_lift(
            user=request.user,
            station_id=c.station_id,
            family_id=c.family_id,
            extra_open=data["extra_open"] or 0,
            extra_term=data["extra_term"] or 0,
            reason=data["reason"],
        ),
        success=_("已为这个家庭调整本学期的预约上限。"),
    )


# --- the mentor's desk ----------------------------------------------------------------------


def _desk_mentors(user) -> list[Mentor]:
    """Whose slots the signed-in person publishes: themself; a chief mentor also
    the station's other mentors."""
    own = list(selectors.mentors_of_user(user).select_related("station"))
    if not own:
        raise PermissionDenied
    chief_stations = [m.station_id for m in own if m.is_chief]
    if chief_stations:
        others = Mentor.objects.filter(station_id__in=chief_stations, is_active=True).exclude(
            pk__in=[m.pk for m in own]
        )
        own += list(others)
    return own


@login_required
@require_safe
def desk(request):
    mentors = _desk_mentors(request.user)
    return render(
        request,
        "guidance/desk.html",
        {
            "mentors": mentors,
            "page_obj": selectors.desk_consultations(request.user, request.GET.get("page")),
            "slots": selectors.desk_slots(request.user),
            "now": timezone.now(),
        },
    )


def _publish(request, *, form_class, template, write, success):
    mentors = _desk_mentors(request.user)
    form = form_class(request.POST or None, mentors=mentors)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        mentor_id = data.pop("mentor_id", None) or mentors[0].pk
        try:
            write(mentor_id, data)
        except GuidanceError as error:
            _show_error(form, error)
        else:
            messages.success(request, success)
            return redirect("guidance:desk")
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def slot_new(request):
    return _publish(
        request,
        form_class=SlotForm,
        template="guidance/slot_new.html",
        write=lambda mentor_id, data: services.slot_create(
            user=request.user, mentor_id=mentor_id, **data
        ),
        success=_("时段已发布。"),
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def pattern_new(request):
    return _publish(
        request,
        form_class=PatternForm,
        template="guidance/pattern_new.html",
        write=lambda mentor_id, data: services.pattern_create(
            user=request.user, mentor_id=mentor_id, **data
        ),
        success=_("每周时段已发布，之后几周的时段已开放预约。"),
    )


@login_required
@require_POST
def slot_cancel(request, slot_id: int):
    slot = Slot.objects.filter(pk=slot_id, mentor__in=_desk_mentors(request.user)).first()
    if slot is None:
        raise Http404
    try:
        services.slot_cancel(user=request.user, slot_id=slot.pk)
    except (GuidanceError, BookingError) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("时段已取消，已预约的家庭会收到通知。"))
    return redirect(reverse("guidance:desk"))


# --- notes, follow-ups and the dashboard ---
# Notes, follow-ups and the station's dashboard. Every POST goes through
# guidance.services; a GuidanceError is a message on the consultation page (the
# form is small and the page shows it again), never a 500; a consultation or
# follow-up the user cannot reach is a 404.


def _back_to_consultation(consultation_id: int):
    return redirect(reverse("guidance:consultation", args=[consultation_id]) + "#notes")


@login_required
@require_POST
def note_write(request, consultation_id: int):
    from .note_forms import NoteForm

    found = _consultation_or_404(request, consultation_id)
    levels = selectors.note_levels_writable(request.user, found)
    form = NoteForm(request.POST, levels=levels or list(Note.Level.values))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back_to_consultation(found.pk)
    try:
        services.note_write(
            user=request.user,
            consultation_id=found.pk,
            level=form.cleaned_data["level"],
            body=form.cleaned_data["body"],
            note_id=form.cleaned_data.get("note_id"),
        )
    except GuidanceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("记录已保存。"))
    return _back_to_consultation(found.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def followup_new(request, consultation_id: int):
    from .note_forms import FollowUpForm

    found = _consultation_or_404(request, consultation_id)
    if not _is_case_mentor(request.user, found):
        raise Http404
    form = FollowUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.followup_schedule(
                user=request.user,
                consultation_id=found.pk,
                due_at=form.cleaned_data["due_at"],
                message=form.cleaned_data["message"],
            )
        except GuidanceError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("回访提醒已安排，到时会通知家庭。"))
            return _back_to_consultation(found.pk)
    return render(
        request,
        "guidance/followup_new.html",
        {"consultation": found, "form": form},
        status=400 if request.method == "POST" else 200,
    )


def _followup_post(request, followup_id: int, write, success: str):
    followup = FollowUp.objects.filter(pk=followup_id).select_related("consultation").first()
    if followup is None or _consultation_or_404(request, followup.consultation_id) is None:
        raise Http404
    try:
        write(user=request.user, followup_id=followup.pk)
    except GuidanceError as error:
        if error.code == "followup_missing":
            raise Http404 from error
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return _back_to_consultation(followup.consultation_id)


@login_required
@require_POST
def followup_done(request, followup_id: int):
    return _followup_post(request, followup_id, services.followup_done, _("已记为回访完成。"))


@login_required
@require_POST
def followup_cancel(request, followup_id: int):
    return _followup_post(request, followup_id, services.followup_cancel, _("回访提醒已取消。"))


@login_required
@require_safe
def dashboard(request, station_id: int):
    station = selectors.stations_managed_by(request.user).filter(pk=station_id).first()
    if station is None:
        raise Http404
    return render(request, "guidance/dashboard.html", selectors.station_dashboard(station))
