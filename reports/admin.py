"""Snapshots and report jobs: read-only, written by the roll-up and the exports.
Rows are those of the units members/access.py lets the user see."""

from django.contrib import admin

from members import access
from members.admin_scoping import PickerScopeMixin, pick_rule_register_by_unit

from .models import ParticipationSnapshot, ReportJob

pick_rule_register_by_unit(ParticipationSnapshot, "unit")
pick_rule_register_by_unit(ReportJob, "unit")


class _UnitRowsMixin(PickerScopeMixin):
    """Rows of the units the user sees: all for a city admin; a district admin their
    district's (visible_unit_ids). A job of no unit (a whole export or a roll-up)
    is listed to city admins only; its requester follows it on the job page."""

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return rows
        return rows.filter(unit__in=access.visible_unit_ids(request.user))

    def has_delete_permission(self, request, obj=None):
        # Written by the roll-up and the exports (audited); never deleted here.
        return False


@admin.register(ParticipationSnapshot)
class ParticipationSnapshotAdmin(_UnitRowsMixin, admin.ModelAdmin):
    list_display = (
        "term",
        "unit",
        "parent_school",
        "period",
        "sessions_held",
        "person_times",
        "families",
        "target_met",
    )
    list_filter = ("term", "period", "target_met")
    list_select_related = ("term", "unit", "parent_school")
    raw_id_fields = ("unit", "parent_school")
    # Written only by the roll-up: read-only here.

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReportJob)
class ReportJobAdmin(_UnitRowsMixin, admin.ModelAdmin):
    list_display = (
        "pk",
        "kind",
        "status",
        "term",
        "unit",
        "requested_by",
        "progress",
        "created_at",
    )
    list_filter = ("kind", "status")
    list_select_related = ("term", "unit", "requested_by")
    raw_id_fields = ("unit", "requested_by")
    readonly_fields = [f.name for f in ReportJob._meta.fields]

    def has_add_permission(self, request):
        return False
