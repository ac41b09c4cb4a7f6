"""Admin for events, reminder rules and the delivery log, scoped by members/access.py.

Saving an event goes through events.services (event_create / event_update), so
the admin creates the event's places and tells registrants of a move exactly as
the coordinator pages do; cancelling is the "取消所选活动" action (event_cancel).
Every picker is scoped (members/admin_scoping.py).
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bookings.errors import BookingError
from members import access
from members.admin_scoping import (
    PickerScopeMixin,
    ScopedAdminMixin,
    ServiceRowsReadOnlyMixin,
    ServiceWriteMixin,
    pick_rule_register,
    pick_rule_register_by_unit,
)

from . import services
from .errors import EventError
from .models import CalendarFeed, Delivery, Event, Notice, ReminderRule

pick_rule_register_by_unit(Event, "organiser_unit")
# Rules of an event kind (no event) are city settings: city admins only.
pick_rule_register_by_unit(ReminderRule, "event__organiser_unit")


def _delivery_scope(user) -> Q:
    """The delivery log's scope: rows about an offering of a unit the user sees,
    or about a notice a unit they see sent (a notice of no unit: city admins only)."""
    units = access.visible_unit_ids(user)
    return Q(offering__unit__in=units) | Q(notice__unit__in=units)


pick_rule_register(
    Delivery,
    lambda user: (
        None if access.sees_every_district(user) else Delivery.objects.filter(_delivery_scope(user))
    ),
)
pick_rule_register_by_unit(Notice, "unit")
pick_rule_register(
    CalendarFeed,
    lambda user: (
        None
        if access.sees_every_district(user)
        else CalendarFeed.objects.filter(family__in=access.families_visible_to(user).values("pk"))
    ),
)


class EventAdminForm(forms.ModelForm):
    starts_at = forms.DateTimeField(label=_("开始时间"))
    ends_at = forms.DateTimeField(label=_("结束时间"))
    capacity = forms.IntegerField(label=_("名额（人）"), min_value=1)
    online_url = forms.URLField(label=_("线上链接"), required=False, assume_scheme="https")
    booking_opens_at = forms.DateTimeField(label=_("报名开始"), required=False)
    booking_closes_at = forms.DateTimeField(label=_("报名截止"), required=False)

    class Meta:
        model = Event
        fields = [
            "title",
            "kind",
            "audience",
            "organiser_alliance",
            "organiser_unit",
            "venue",
            "online_url",
            "description",
            "status",
            # 特色品牌 (issue 17): a label no event service owns, saved beside
            # event_create / event_update by EventAdmin.save_model.
            "brand",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        offering = self.instance.offering if self.instance.pk else None
        if offering is not None:
            for name in (
                "starts_at",
                "ends_at",
                "capacity",
                "booking_opens_at",
                "booking_closes_at",
            ):
                if name in self.fields:
                    self.fields[name].initial = getattr(offering, name)
        # Cancelling goes through event_cancel (the admin action): it tells families.
        # (A user who may only look gets no status field: it is read-only for them.)
        if "status" in self.fields:
            self.fields["status"].choices = (
                [c for c in Event.Status.choices if c[0] != Event.Status.CANCELLED]
                if not (self.instance.pk and self.instance.status == Event.Status.CANCELLED)
                else (Event.Status.choices)
            )

    def clean(self):
        data = super().clean()
        offering = self.instance.offering if self.instance.pk else None
        for name in ("starts_at", "ends_at", "booking_opens_at", "booking_closes_at"):
            # The form shows whole seconds: a time posted back unchanged is the
            # stored one, not a move by its microseconds (no false "time changed").
            stored, posted = getattr(offering, name, None), data.get(name)
            if (
                stored is not None
                and posted is not None
                and posted == stored.replace(microsecond=0)
            ):
                data[name] = stored
        if data.get("starts_at") and data.get("ends_at"):
            try:
                services.check_event_times(
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    booking_opens_at=data.get("booking_opens_at"),
                    booking_closes_at=data.get("booking_closes_at"),
                )
            except EventError as error:
                raise forms.ValidationError(error.message) from error
        # The service's own checks, as form errors (event_create has no form to
        # send them back to).
        if not data.get("venue") and not data.get("online_url"):
            self.add_error("venue", EventError("needs_place").message)
        return data


class ReminderRuleInline(PickerScopeMixin, admin.TabularInline):
    model = ReminderRule
    fields = ["offset_minutes", "is_active"]
    extra = 0


@admin.register(Event)
class EventAdmin(ServiceWriteMixin, ScopedAdminMixin, admin.ModelAdmin):
    form = EventAdminForm
    list_display = ["title", "kind", "organiser_unit", "starts", "status"]
    list_filter = ["status", "kind"]
    search_fields = ["title"]
    list_select_related = ["offering", "organiser_unit"]
    inlines = [ReminderRuleInline]
    actions = ["cancel_events"]
    # An event is organised by a unit the user may change, not merely see.
    pick_rules = {"organiser_unit": access.units_changeable_by}

    @admin.display(description=_("开始时间"), ordering="offering__starts_at")
    def starts(self, obj):
        return obj.offering.starts_at

    def get_queryset(self, request):
        events = super().get_queryset(request).select_related("offering", "organiser_unit")
        if access.sees_every_district(request.user):
            return events
        return events.filter(organiser_unit__in=access.visible_unit_ids(request.user))

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or access.can_change_unit(request.user, obj.organiser_unit))

    def has_delete_permission(self, request, obj=None):
        # Events are cancelled, not deleted: registrations and the log stay.
        return False

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in EventAdminForm.Meta.fields if k != "brand"}
        times = {
            k: form.cleaned_data[k]
            for k in ("starts_at", "ends_at", "booking_opens_at", "booking_closes_at")
        }
        try:
            if change:
                services.event_update(
                    event_id=obj.pk,
                    updated_by=request.user,
                    capacity=form.cleaned_data["capacity"],
                    **data,
                    **times,
                )
            else:
                event = services.event_create(
                    created_by=request.user,
                    capacity=form.cleaned_data["capacity"],
                    **data,
                    **times,
                )
                obj.pk, obj.offering = event.pk, event.offering
            Event.objects.filter(pk=obj.pk).update(brand=form.cleaned_data.get("brand"))
        except (EventError, BookingError) as error:
            # The admin has no hook to re-show the form here; tell and keep the old
            # row (event_update changes all or nothing). The form's clean() runs
            # event_create's checks, so an add fails here only on a real fault.
            if not change:
                raise
            self.service_refused(request, error.message)

    def save_related(self, request, form, formsets, change):
        form.instance = Event.objects.get(pk=form.instance.pk)
        for formset in formsets:
            formset.instance = form.instance
        super().save_related(request, form, formsets, change)

    @admin.action(description=_("取消所选活动并通知已报名家庭"))
    def cancel_events(self, request, queryset):
        done = 0
        for event in queryset:
            try:
                services.event_cancel(event_id=event.pk, cancelled_by=request.user)
                done += 1
            except (EventError, BookingError) as error:
                self.message_user(request, f"{event}: {error.message}", level=messages.WARNING)
        self.message_user(request, gettext("已取消 %(n)s 个活动。") % {"n": done})


@admin.register(ReminderRule)
class ReminderRuleAdmin(PickerScopeMixin, admin.ModelAdmin):
    list_display = ["__str__", "scope", "event", "offset_minutes", "is_active"]
    list_filter = ["scope", "is_active"]
    raw_id_fields = ["event"]

    # City-wide reference data: the city's to edit. A rule of an event kind or of
    # course sessions reminds for every district's events; an event's own rules are
    # edited on the event (ReminderRuleInline), which is scoped to the user's units.
    def has_module_permission(self, request):
        return access.sees_every_district(request.user)

    has_view_permission = has_add_permission = has_change_permission = (
        lambda self, request, obj=None: access.sees_every_district(request.user)
    )
    has_delete_permission = has_change_permission


@admin.register(Delivery)
class DeliveryAdmin(ServiceRowsReadOnlyMixin, PickerScopeMixin, admin.ModelAdmin):
    """Read-only: the delivery log."""

    list_display = [
        "about",
        "recipient",
        "purpose",
        "account_kind",
        "channel",
        "scheduled_for",
        "status",
        "attempts",
        "is_late",
        "sent_at",
    ]
    list_filter = ["status", "purpose", "channel", "account_kind", "is_late"]
    list_select_related = ["offering", "user", "notice"]
    raw_id_fields = ["user", "offering", "booking", "notice"]
    # The address is shown masked (recipient); an account message's key is where
    # its code waits, and is nobody's business.
    exclude = ["address", "message_key", "base_url"]
    readonly_fields = ["recipient"]
    show_full_result_count = False

    @admin.display(description=_("收件人"))
    def recipient(self, obj):
        return obj.recipient

    @admin.display(description=_("内容"))
    def about(self, obj):
        """What the row is about: the offering, a notice's subject, the kind of
        account message or the invitation."""
        if obj.offering_id is not None:
            return obj.offering
        if obj.notice_id is not None:
            return obj.notice.subject
        if obj.purpose == Delivery.Purpose.ACCOUNT:
            return obj.get_account_kind_display()
        return obj.get_purpose_display()

    def get_queryset(self, request):
        deliveries = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return deliveries
        return deliveries.filter(_delivery_scope(request.user))


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["family", "created_at", "revoked_at"]
    raw_id_fields = ["family"]
    exclude = ["token"]

    def has_module_permission(self, request):
        return access.is_district_admin(request.user)

    def has_view_permission(self, request, obj=None):
        # A family's secret calendar links: administrators only (a district admin:
        # their district's families, get_queryset), whatever the permissions a
        # coordinator was given by hand.
        return access.is_district_admin(request.user) and super().has_view_permission(request, obj)

    def get_queryset(self, request):
        feeds = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return feeds
        return feeds.filter(family__in=access.families_visible_to(request.user).values("pk"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoking a link is calendar_feed_revoke (the family's calendar page).
        return False


@admin.register(Notice)
class NoticeAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: what another app's notice said (events.services.notice_send
    writes it; its rows are in the delivery log)."""

    list_display = ["subject", "topic", "unit", "created_at", "told"]
    list_filter = ["topic"]
    list_select_related = ["unit"]
    search_fields = ["subject", "key"]
    show_full_result_count = False

    @admin.display(description=_("投递数"))
    def told(self, obj):
        return obj.told

    def get_queryset(self, request):
        notices = super().get_queryset(request).annotate(told=Count("deliveries"))
        if access.sees_every_district(request.user):
            return notices
        return notices.filter(unit__in=access.visible_unit_ids(request.user))
