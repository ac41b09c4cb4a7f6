"""The buddy groups' pages: a family's groups and the ones it may join, a group's
page, its sessions; the facilitator's (and coordinators') management pages.

Thin: groups.selectors read and scope (a group outside the viewer's reach is a
404, never a 403 that would say it exists), groups.services write, and a
GroupError is shown on the field it names or as a message. Families never see
other families' names, phones or children: members see a count.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from bookings.errors import BookingError
from bookings.models import Booking
from bookings.selectors import booking_decision, booking_for_family
from members.access import is_staff_member
from members.selectors import family_children, family_for_user

from . import selectors, services
from .errors import GroupError
from .forms import AddMemberForm, GroupCreateForm, GroupEditForm, ReasonForm, SessionForm
from .models import Group, GroupMembership
from .panels import panels_for


def _show_error(form, error: GroupError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def _group_or_404(request, group_id, family) -> Group:
    group = selectors.group_for_viewer(user=request.user, family=family, group_id=group_id)
    if group is None:
        raise Http404
    return group


def _managed_or_404(request, group_id) -> Group:
    group = selectors.managed_groups(request.user).filter(pk=group_id).first()
    if group is None:
        raise Http404
    return group


def _may_manage_any(user) -> bool:
    return is_staff_member(user) or selectors.groups_facilitated_by(user).exists()


# --- families ---------------------------------------------------------------------------


@login_required
@require_safe
def mine(request):
    family = family_for_user(request.user)
    context = {
        "family": family,
        "may_manage": _may_manage_any(request.user),
        "mine": [],
        "joinable": [],
        "requested_ids": set(),
    }
    if family is not None:
        context["mine"] = list(selectors.family_groups(family))
        context["joinable"] = list(selectors.groups_joinable_by(family))
        context["requested_ids"] = selectors.family_requested_group_ids(family)
    return render(request, "groups/mine.html", context)


@login_required
@require_safe
def detail(request, group_id: int):
    family = family_for_user(request.user)
    group = _group_or_404(request, group_id, family)
    memberships = selectors.family_memberships_in(family=family, group=group)
    active = [m for m in memberships if m.status == GroupMembership.Status.ACTIVE]
    requested = [m for m in memberships if m.status == GroupMembership.Status.REQUESTED]
    is_member = bool(active)
    can_manage = selectors.can_manage_group(request.user, group)
    sessions = []
    if is_member or can_manage:
        upcoming = list(selectors.group_sessions(group, upcoming_only=True))
        bookings = selectors.family_session_bookings(
            family=family, offering_ids=[s.offering_id for s in upcoming]
        )
        for session in upcoming:
            booking = bookings.get(session.offering_id)
            sessions.append(
                {
                    "session": session,
                    "offering": session.offering,
                    "booking": booking,
                    "decision": booking_decision(offering=session.offering, booking=booking),
                }
            )
    children = []
    if family is not None and group.kind == Group.Kind.STUDY and group.is_active:
        taken = {m.child_id for m in memberships}
        children = [c for c in family_children(family=family) if c.pk not in taken]
    return render(
        request,
        "groups/detail.html",
        {
            "group": group,
            "family": family,
            "is_member": is_member,
            "memberships": active,
            "requested": requested,
            "can_manage": can_manage,
            "sessions": sessions,
            "children": children,
            "may_join": (
                family is not None
                and group.is_active
                and group.joining != Group.Joining.FACILITATOR
                and (group.kind == Group.Kind.STUDY or not memberships)
                and (group.kind == Group.Kind.FAMILY or children)
            ),
            "panels": panels_for(group=group, family=family, user=request.user),
            # The same rule as community's readers: an active group's board for its
            # members and managers; a dissolved group's archive for its last members
            # and its facilitator only.
            "board_readable": (
                (is_member or can_manage)
                if group.is_active
                else group.facilitator_id == request.user.pk
                or (
                    family is not None
                    and selectors.former_group_ids(family).filter(group_id=group.pk).exists()
                )
            ),
        },
    )


@login_required
@require_POST
def join(request, group_id: int):
    try:
        membership = services.group_join(
            user=request.user, group_id=group_id, child_id=request.POST.get("child_id") or None
        )
    except GroupError as error:
        if error.code == "group_missing":
            raise Http404 from error
        messages.error(request, error.message)
    else:
        if membership.status == GroupMembership.Status.ACTIVE:
            messages.success(request, _("已加入小组，欢迎！"))
        else:
            messages.success(request, _("申请已提交，带领人同意后会通知您。"))
    return redirect("groups:detail", group_id=group_id)


@login_required
@require_POST
def leave(request, group_id: int):
    try:
        left = services.group_leave(
            user=request.user, group_id=group_id, child_id=request.POST.get("child_id") or None
        )
    except GroupError as error:
        if error.code == "group_missing":
            raise Http404 from error
        messages.error(request, error.message)
        return redirect("groups:detail", group_id=group_id)
    was_request = all(m.requested_at and not m.joined_at for m in left)
    messages.success(request, _("已撤回申请。") if was_request else _("已退出小组。"))
    return redirect("groups:mine")


# --- sessions ---------------------------------------------------------------------------


def _session_or_404(request, session_id, family):
    session = selectors.session_for_viewer(user=request.user, family=family, session_id=session_id)
    if session is None:
        raise Http404
    return session


@login_required
@require_safe
def session(request, session_id: int):
    family = family_for_user(request.user)
    group_session = _session_or_404(request, session_id, family)
    group = group_session.group
    is_member = family is not None and selectors.is_member(family=family, group=group)
    booking = (
        booking_for_family(family=family, offering_id=group_session.offering_id)
        if is_member
        else None
    )
    can_manage = selectors.can_manage_group(request.user, group)
    return render(
        request,
        "groups/session.html",
        {
            "group_session": group_session,
            "group": group,
            "offering": group_session.offering,
            "family": family if is_member else None,
            "booking": booking,
            "decision": booking_decision(offering=group_session.offering, booking=booking),
            "can_manage": can_manage,
            "roster": selectors.session_bookings_for_manager(group_session) if can_manage else [],
        },
    )


@login_required
@require_POST
def session_book(request, session_id: int):
    try:
        services.group_session_book(
            user=request.user,
            session_id=session_id,
            guardian_ids=request.POST.getlist("guardians"),
            child_ids=request.POST.getlist("children"),
        )
    except GroupError as error:
        if error.code.endswith("_missing"):
            raise Http404 from error
        messages.error(request, error.message)
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("预约成功。"))
    return redirect("groups:session", session_id=session_id)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def session_cancel(request, booking_id: int):
    """GET asks first (what happens to the place); POST cancels, then back."""
    family = family_for_user(request.user)
    booking = booking_for_family(family=family, booking_id=booking_id)
    group_session = getattr(booking.offering, "group_session", None) if booking else None
    if booking is None or group_session is None:
        raise Http404
    back = reverse("groups:session", args=[group_session.pk])
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = back
    if request.method == "POST":
        try:
            services.group_session_cancel(user=request.user, booking_id=booking.pk)
        except (GroupError, BookingError) as error:
            messages.error(request, error.message)
        else:
            was_waiting = booking.status == Booking.Status.WAITING
            messages.success(request, _("已退出候补。") if was_waiting else _("已取消预约。"))
        return redirect(next_url)
    return render(
        request,
        "bookings/cancel_confirm.html",
        {
            "booking": booking,
            "offering": booking.offering,
            "decision": booking_decision(offering=booking.offering, booking=booking),
            "title": booking.offering.title,
            "venue": group_session.venue,
            "online_url": group_session.online_url,
            "detail_url": back,
            "next_url": next_url,
            "is_event": False,
        },
    )


# --- managing ---------------------------------------------------------------------------


@login_required
@require_safe
def manage_list(request):
    if not _may_manage_any(request.user):
        raise PermissionDenied
    groups = list(selectors.managed_groups(request.user))
    counts = selectors.open_request_counts([g.pk for g in groups])
    for group in groups:
        group.open_requests = counts.get(group.pk, 0)
    return render(
        request,
        "groups/manage_list.html",
        {
            "groups": groups,
            "may_create": selectors.parent_schools_for_new_group(request.user).exists(),
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def manage_new(request):
    schools = list(selectors.parent_schools_for_new_group(request.user))
    if not schools:
        raise PermissionDenied
    chosen = request.POST.get("parent_school_id") or request.GET.get("school")
    school = next((s for s in schools if str(s.pk) == str(chosen)), schools[0])
    facilitators = selectors.facilitators_for_school(request.user, school)
    if request.user not in facilitators and is_staff_member(request.user):
        facilitators = [request.user, *facilitators]
    initial = {
        "parent_school_id": school.pk,
        "facilitator_id": request.user.pk,
        "min_size": 2,
        "max_size": 6,
        "joining": Group.Joining.REQUEST,
    }
    form = GroupCreateForm(
        request.POST or None, initial=initial, schools=schools, facilitators=facilitators
    )
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_create(user=request.user, **form.cleaned_data)
        except GroupError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("小组已创建。"))
            return redirect("groups:manage", group_id=group.pk)
    return render(request, "groups/manage_new.html", {"form": form})


def _manage_context(request, group, **forms) -> dict:
    context = {
        "group": group,
        "members": selectors.group_members_for_manager(group),
        "requests": selectors.group_requests_for_manager(group),
        "sessions": list(selectors.group_sessions(group)),
        "edit_form": GroupEditForm(
            initial={
                "name": group.name,
                "description": group.description,
                "joining": group.joining,
                "min_size": group.min_size,
                "max_size": group.max_size,
            },
            prefix="edit",
        ),
        "add_form": AddMemberForm(prefix="add"),
        "session_form": SessionForm(prefix="session"),
        "dissolve_form": ReasonForm(prefix="dissolve"),
    }
    context.update(forms)
    return context


@login_required
@require_safe
def manage(request, group_id: int):
    group = _managed_or_404(request, group_id)
    return render(request, "groups/manage.html", _manage_context(request, group))


def _manage_post(request, group_id, *, form_class, prefix, write, success, done):
    """The manage page's POST forms: the form is checked, ``write(group, data)``
    (a groups service) is called, a refusal is shown on the form with the page
    again (400), success is told and ``done(group, result)`` redirects."""
    group = _managed_or_404(request, group_id)
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            result = write(group, form.cleaned_data)
        except GroupError as error:
            _show_error(form, error)
        except BookingError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, success)
            return done(group, result)
    context = _manage_context(request, group, **{f"{prefix}_form": form})
    return render(request, "groups/manage.html", context, status=400)


def _to_manage(group, _result):
    return redirect("groups:manage", group_id=group.pk)


@login_required
@require_POST
def manage_edit(request, group_id: int):
    return _manage_post(
        request,
        group_id,
        form_class=GroupEditForm,
        prefix="edit",
        write=lambda group, data: services.group_update(
            user=request.user, group_id=group.pk, **data
        ),
        success=_("已保存。"),
        done=_to_manage,
    )


@login_required
@require_POST
def manage_add(request, group_id: int):
    return _manage_post(
        request,
        group_id,
        form_class=AddMemberForm,
        prefix="add",
        write=lambda group, data: services.group_member_add(
            user=request.user, group_id=group.pk, phone=data["phone"]
        ),
        success=_("已把这个家庭加入小组，并通知了家长。"),
        done=_to_manage,
    )


@login_required
@require_POST
def manage_session_new(request, group_id: int):
    return _manage_post(
        request,
        group_id,
        form_class=SessionForm,
        prefix="session",
        write=lambda group, data: services.group_session_create(
            user=request.user, group_id=group.pk, **data
        ),
        success=_("活动已发布，并通知了小组成员。"),
        done=lambda group, created: redirect("groups:session", session_id=created.pk),
    )


@login_required
@require_POST
def manage_dissolve(request, group_id: int):
    return _manage_post(
        request,
        group_id,
        form_class=ReasonForm,
        prefix="dissolve",
        write=lambda group, data: services.group_dissolve(
            user=request.user, group_id=group.pk, reason=data["reason"]
        ),
        success=_("小组已解散，成员已收到通知。"),
        done=lambda group, _result: redirect("groups:manage_list"),
    )


@login_required
@require_POST
def request_decide(request, membership_id: int):
    approve = request.POST.get("decision") == "approve"
    group_id = (
        GroupMembership.objects.filter(
            pk=membership_id, group__in=selectors.groups_changeable_by(request.user).values("pk")
        )
        .values_list("group_id", flat=True)
        .first()
    )
    if group_id is None:
        raise Http404
    try:
        services.group_request_decide(
            user=request.user, membership_id=membership_id, approve=approve
        )
    except GroupError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("已同意，已通知家长。") if approve else _("已婉拒，已通知家长。")
        )
    return redirect("groups:manage", group_id=group_id)


@login_required
@require_POST
def member_remove(request, membership_id: int):
    group_id = (
        GroupMembership.objects.filter(
            pk=membership_id, group__in=selectors.groups_changeable_by(request.user).values("pk")
        )
        .values_list("group_id", flat=True)
        .first()
    )
    if group_id is None:
        raise Http404
    try:
        services.group_member_remove(
            user=request.user,
            membership_id=membership_id,
            reason=request.POST.get("reason", ""),
        )
    except GroupError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已移出小组，已通知家长。"))
    return redirect("groups:manage", group_id=group_id)


@login_required
@require_POST
def attendance(request, booking_id: int):
    session_id = (
        Booking.objects.filter(
            pk=booking_id,
            offering__group_session__group__in=selectors.groups_changeable_by(request.user).values(
                "pk"
            ),
        )
        .values_list("offering__group_session__pk", flat=True)
        .first()
    )
    if session_id is None:
        raise Http404
    try:
        services.group_session_attendance(
            user=request.user, booking_id=booking_id, present=request.POST.get("present") == "1"
        )
    except (GroupError, BookingError) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已登记出席。"))
    return redirect("groups:session", session_id=session_id)
