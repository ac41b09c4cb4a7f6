"""The inbox and preferences in admin: city level only, read-only (families
change their preferences on their own page; notices are written by the outbox)."""

from django.contrib import admin

from members.admin_scoping import CityOnlyMixin, PickerScopeMixin, pick_rule_register_by_user

from .models import Notification, NotificationPreference

pick_rule_register_by_user(Notification)
pick_rule_register_by_user(NotificationPreference)


class _CityOnly(CityOnlyMixin, PickerScopeMixin):
    # City only: an inbox or a preference belongs to an account, which has no
    # district link (one guardian can have children in two districts), so a
    # district administrator's share of these rows cannot be drawn; they are
    # read-only support rows for the city (superusers and city administrators).
    def has_delete_permission(self, request, obj=None):
        # A family's inbox and choices are theirs: nobody deletes them here.
        return False


@admin.register(Notification)
class NotificationAdmin(_CityOnly, admin.ModelAdmin):
    list_display = ["title", "user", "kind", "created_at", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["user"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(_CityOnly, admin.ModelAdmin):
    list_display = [
        "user",
        "in_site",
        "by_wechat",
        "by_email",
        "by_sms",
        "quiet_start",
        "quiet_end",
    ]
    raw_id_fields = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
