"""Admin for limited places. Writes go through bookings.services; coordinators see
only the offerings of the units members/access.py lets them see.

An offering's time, status, title and booking window belong to the course session
or event that owns it: they are read-only here and are changed (moved, cancelled)
there, through courses.services / events.services, which tell families once and
re-plan their reminders. Here only the places and the cancel deadline change.
"""

from django import forms
from django.contrib import admin, messages
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import PickerScopeMixin, ServiceWriteMixin, pick_rule_register_by_unit
from parent_school.admin import UnitScopedAdmin

from . import services
from .errors import BookingError
from .models import Booking, BookingAttendee, Offering

pick_rule_register_by_unit(Offering, "unit")
pick_rule_register_by_unit(Booking, "offering__unit")
pick_rule_register_by_unit(BookingAttendee, "booking__offering__unit")


# Who booked a guidance consultation is the station's case record (guidance app:
# the family's mentors and the chief mentor only, never the unit's coordinators):
# its bookings are in no admin list, inline or picker here.
PRIVATE_KIND = Offering.Kind.CONSULTATION


class ScopedByUnitMixin(UnitScopedAdmin):
    """Rows of the units members/access.py lets the user see; role-based permissions."""


class BookingInline(PickerScopeMixin, admin.TabularInline):
    model = Booking
    extra = 0
    can_delete = False
    fields = ["family", "status", "party_size", "attendance", "created_at", "promoted_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(offering__kind=PRIVATE_KIND)


# Written only by the owner's services (move, cancel, event edit): never here.
OWNER_FIELDS = (
    "title",
    "starts_at",
    "ends_at",
    "status",
    "booking_opens_at",
    "booking_closes_at",
)


class OfferingAdminForm(forms.ModelForm):
    class Meta:
        model = Offering
        fields = ["capacity", "cancel_closes_hours"]

    def clean_capacity(self):
        capacity = self.cleaned_data["capacity"]
        if self.instance.pk and capacity < self.instance.places_taken:
            raise forms.ValidationError(BookingError("capacity_below_taken").message)
        return capacity


@admin.register(Offering)
class OfferingAdmin(ServiceWriteMixin, ScopedByUnitMixin):
    form = OfferingAdminForm
    list_display = [
        "title",
        "kind",
        "unit",
        "starts_at",
        "capacity",
        "places_taken",
        "waiting_families",
        "status",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["title", "unit__name"]
    date_hierarchy = "starts_at"
    list_select_related = ["unit"]
    # Also the order of the autocomplete and popup pages (stable pagination).
    ordering = ["-starts_at", "-pk"]
    # The unit and kind come from the course session or event that owns the offering;
    # its time, status and booking window are changed there (see OWNER_FIELDS).
    fields = [
        "changed_at_owner",
        "kind",
        "unit",
        *OWNER_FIELDS,
        "capacity",
        "cancel_closes_hours",
        "places_taken",
        "waiting_families",
    ]
    readonly_fields = [
        "changed_at_owner",
        "kind",
        "unit",
        *OWNER_FIELDS,
        "places_taken",
        "waiting_families",
    ]
    inlines = [BookingInline]

    @admin.display(description=_("改期、取消或修改报名时间"))
    def changed_at_owner(self, obj):
        note = gettext(
            "开始时间、状态和报名时间请在%(owner)s中修改；改期或取消会通知已报名的家庭，"
            "提醒也会随之调整。这里只能修改名额和取消截止时间。"
        )
        owner = _owner_of(obj)
        if owner is None:
            return note % {"owner": gettext("所属的课程场次或活动")}
        label = gettext("“%(name)s”") % {"name": owner}
        url = _admin_url_of(owner)
        if url is None:
            return note % {"owner": label}
        before, _sep, after = note.partition("%(owner)s")
        return format_html('{}<a href="{}">{}</a>{}', before, url, label, after)

    def has_add_permission(self, request):
        # Offerings are created with their course session or event, never alone.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the services, never obj.save(): capacity promotes the waiting
        # list; the cancel deadline is an offering detail.
        try:
            if "cancel_closes_hours" in form.changed_data:
                services.offering_update(
                    offering_id=obj.pk,
                    changed_by=request.user,
                    cancel_closes_hours=form.cleaned_data["cancel_closes_hours"],
                )
            if "capacity" in form.changed_data:
                services.offering_change_capacity(
                    offering_id=obj.pk,
                    capacity=form.cleaned_data["capacity"],
                    changed_by=request.user,
                )
        except BookingError as error:
            self.service_refused(request, error.message)


def _owner_of(offering):
    """The course session or event that owns ``offering`` (a one-to-one back to it)."""
    for relation in offering._meta.related_objects:
        if relation.one_to_one:
            owner = getattr(offering, relation.get_accessor_name(), None)
            if owner is not None:
                return owner
    return None


def _admin_url_of(owner):
    # The owner's own admin page, else that of the row it belongs to (a course
    # session's course), whichever the admin has.
    for candidate in (owner, getattr(owner, "course", None)):
        if candidate is None:
            continue
        opts = candidate._meta
        try:
            return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[candidate.pk])
        except NoReverseMatch:
            continue
    return None


class BookingAttendeeInline(PickerScopeMixin, admin.TabularInline):
    model = BookingAttendee
    extra = 0
    can_delete = False
    fields = ["guardian", "child", "is_child"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Booking)
class BookingAdmin(ScopedByUnitMixin):
    unit_path = "offering__unit"
    list_display = [
        "offering",
        "family",
        "status",
        "party_size",
        "attendance",
        "created_at",
        "promoted_at",
    ]
    list_filter = ["status", "attendance", "offering__kind"]
    search_fields = ["offering__title"]
    list_select_related = ["offering", "family"]
    ordering = ["-created_at", "-pk"]
    raw_id_fields = ["offering", "family", "booked_by"]
    readonly_fields = [
        "offering",
        "family",
        "booked_by",
        "status",
        "party_size",
        "children_count",
        "created_at",
        "confirmed_at",
        "promoted_at",
        "cancelled_at",
        "attendance",
        "checked_in_at",
    ]
    inlines = [BookingAttendeeInline]
    # Attendance is marked on the session roster (courses) or the event roster,
    # which also post credits; not here.
    actions = ["cancel_bookings"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(offering__kind=PRIVATE_KIND)

    def has_add_permission(self, request):
        # New bookings come from families (or the coordinator pages), through the service.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, call, done_message):
        done = 0
        for booking in queryset:
            if not access.can_change_unit(request.user, booking.offering.unit_id):
                continue
            try:
                call(booking)
                done += 1
            except BookingError as error:
                messages.warning(request, f"{booking}: {error.message}")
        if done:
            messages.success(request, done_message % {"count": done})

    @admin.action(description=_("取消所选报名（并递补候补）"))
    def cancel_bookings(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda b: services.booking_cancel(
                booking_id=b.pk, family=None, cancelled_by=request.user, force=True
            ),
            _("已取消 %(count)s 条报名。"),
        )
