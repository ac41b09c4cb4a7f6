"""Admin for limited places. Writes go through bookings.services; coordinators see
only the offerings of the units members/access.py lets them see."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from members import access
from parent_school.admin import UnitScopedAdmin

from . import services
from .errors import BookingError
from .models import Booking, BookingAttendee, Offering


class ScopedByUnitMixin(UnitScopedAdmin):
    """Rows of the units members/access.py lets the user see; role-based permissions."""


class BookingInline(admin.TabularInline):
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


@admin.register(Offering)
class OfferingAdmin(ScopedByUnitMixin):
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
    # The unit and kind come from the course session or event that owns the offering.
    readonly_fields = ["kind", "unit", "places_taken", "waiting_families"]
    inlines = [BookingInline]

    def has_add_permission(self, request):
        # Offerings are created with their course session or event, never alone.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Capacity changes promote the waiting list, so they go through the service.
        if change and "capacity" in form.changed_data:
            new_capacity = obj.capacity
            other = [f for f in form.changed_data if f != "capacity"]
            if other:
                obj.save(update_fields=other)
            try:
                services.offering_change_capacity(
                    offering_id=obj.pk, capacity=new_capacity, changed_by=request.user
                )
            except BookingError as error:
                messages.error(request, error.message)
            return
        super().save_model(request, obj, form, change)


class BookingAttendeeInline(admin.TabularInline):
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
        "promotion_notified_at",
    ]
    inlines = [BookingAttendeeInline]
    # Attendance is marked on the session roster (courses) or the event roster,
    # which also post credits; not here.
    actions = ["cancel_bookings"]

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
