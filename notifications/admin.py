from django.contrib import admin

from members import access

from .models import Notification, NotificationPreference


class _DistrictOnly:
    def has_module_permission(self, request):
        return access.is_district_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_district_admin(request.user)


@admin.register(Notification)
class NotificationAdmin(_DistrictOnly, admin.ModelAdmin):
    list_display = ["title", "user", "kind", "created_at", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["user"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(_DistrictOnly, admin.ModelAdmin):
    list_display = ["user", "in_site", "by_email", "by_sms", "quiet_start", "quiet_end"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
