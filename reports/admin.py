from django.contrib import admin

from .models import ParticipationSnapshot, ReportJob


@admin.register(ParticipationSnapshot)
class ParticipationSnapshotAdmin(admin.ModelAdmin):
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
class ReportJobAdmin(admin.ModelAdmin):
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
