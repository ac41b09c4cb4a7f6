"""Admin for questionnaires: templates and surveys, read-only, scoped.

Templates and surveys are written by surveys/services.py from the coordinators'
pages (/surveys/manage/), where versions, scopes and windows are checked; the
admin shows them within the person's scope (members/access.py) with a link to
the portal page. Responses, answers, pending anonymous responses, drafts and
participations have no admin: a page that lists who answered beside what was
answered would undo the separation the anonymous surveys rely on.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import (
    ScopedAdminMixin,
    ServiceRowsReadOnlyMixin,
    pick_rule_register,
    pick_rule_register_by_unit,
)

from .models import Survey, SurveyTemplate


def _templates_visible(user):
    """The district's templates and those of the alliances the user sees."""
    if access.sees_every_district(user):
        return None
    return SurveyTemplate.objects.filter(
        Q(alliance__isnull=True) | Q(alliance__in=access.alliances_visible_to(user).values("pk"))
    )


pick_rule_register(SurveyTemplate, _templates_visible)
pick_rule_register_by_unit(Survey, "unit")


@admin.register(SurveyTemplate)
class SurveyTemplateAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "owner_label", "is_active", "created_at", "portal_link"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    list_select_related = ["alliance"]
    fields = ["name", "owner_label", "description", "is_active", "created_at", "portal_link"]
    readonly_fields = fields

    @admin.display(description=_("所属"), ordering="alliance__name")
    def owner_label(self, obj):
        return obj.alliance.name if obj.alliance_id else gettext("全市通用")

    @admin.display(description=_("门户页面"))
    def portal_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("surveys:manage_template", args=[obj.pk]),
            gettext("在门户中编辑"),
        )

    def get_queryset(self, request):
        templates = super().get_queryset(request).select_related("alliance")
        allowed = _templates_visible(request.user)
        return templates if allowed is None else templates.filter(pk__in=allowed.values("pk"))

    def has_module_permission(self, request):
        return access.is_coordinator(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_coordinator(request.user)


@admin.register(Survey)
class SurveyAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "title",
        "scope",
        "term",
        "unit",
        "is_anonymous",
        "is_published",
        "closes_at",
        "portal_link",
    ]
    list_filter = ["scope", "is_anonymous", "is_published", "term"]
    search_fields = ["title"]
    list_select_related = ["term", "unit"]
    show_full_result_count = False
    fields = [
        "title",
        "template",
        "scope",
        "offering",
        "course",
        "parent_school",
        "alliance",
        "series",
        "term",
        "unit",
        "is_anonymous",
        "opens_at",
        "closes_at",
        "invite_delay_minutes",
        "answer_days",
        "remind_before_hours",
        "is_published",
        "invited_at",
        "reminded_at",
        "released_batches",
        "created_at",
        "portal_link",
    ]
    readonly_fields = fields

    @admin.display(description=_("门户页面"))
    def portal_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("surveys:manage_survey", args=[obj.pk]),
            gettext("查看结果"),
        )

    def get_queryset(self, request):
        surveys = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return surveys
        return surveys.filter(unit__in=access.visible_unit_ids(request.user))

    def has_module_permission(self, request):
        return access.is_coordinator(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_coordinator(request.user)
