"""WeChat in admin: city administrators set the subscription templates (one
per kind of message); identities and the grant ledger are shown read-only (the
sign-in and the outbox write them), with one action to unbind an identity."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from members import access
from members.admin_scoping import (
    CityOnlyMixin,
    PickerScopeMixin,
    ServiceRowsReadOnlyMixin,
    pick_rule_register_by_user,
)

from .models import SubscriptionGrant, SubscriptionTemplate, WeChatIdentity
from .services import wechat_identity_unbind

pick_rule_register_by_user(WeChatIdentity)
pick_rule_register_by_user(SubscriptionGrant)


class _CityOnly(CityOnlyMixin, PickerScopeMixin):
    # City only. The templates are city-wide reference data: the city's to edit
    # (one mini-program, one AppID for every district). Identities and grants
    # belong to accounts, which have no district link, so they stay the city's too.
    pass


@admin.register(SubscriptionTemplate)
class SubscriptionTemplateAdmin(_CityOnly, admin.ModelAdmin):
    list_display = ["kind", "template_id", "page", "is_active", "updated_at"]
    list_filter = ["is_active"]
    fields = ["kind", "template_id", "page", "field_map", "is_active"]

    # City-wide reference data: the city's to edit.


@admin.register(WeChatIdentity)
class WeChatIdentityAdmin(ServiceRowsReadOnlyMixin, _CityOnly, admin.ModelAdmin):
    list_display = ["user", "app_id", "short_openid", "created_at", "last_login_at"]
    readonly_fields = ["user", "app_id", "openid", "unionid", "created_at", "last_login_at"]
    exclude = ["session_key_hash"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]
    actions = ["unbind"]
    show_full_result_count = False

    @admin.display(description="OpenID")
    def short_openid(self, obj):
        return str(obj)

    def get_actions(self, request):
        # The unbind action stands in for deleting (which admin would do without the audit entry).
        # City only: an identity is an account's, with no district link.
        actions = super().get_actions(request)
        if not access.sees_every_district(request.user):
            actions.pop("unbind", None)
        return actions

    @admin.action(description=_("解除所选的微信绑定"))
    def unbind(self, request, queryset):
        count = 0
        for identity in queryset.select_related("user"):
            wechat_identity_unbind(
                identity=identity, actor=request.user, ip_address=request.META.get("REMOTE_ADDR")
            )
            count += 1
        self.message_user(
            request,
            ngettext("已解除 %(n)s 个微信绑定。", "已解除 %(n)s 个微信绑定。", count)
            % {"n": count},
            messages.SUCCESS,
        )


@admin.register(SubscriptionGrant)
class SubscriptionGrantAdmin(ServiceRowsReadOnlyMixin, _CityOnly, admin.ModelAdmin):
    list_display = [
        "user",
        "template_id",
        "answer",
        "accepted_at",
        "spent_at",
        "spent_for",
        "refused",
    ]
    list_filter = ["answer", "refused"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]
    show_full_result_count = False
