"""Admin for learning families and commendation, scoped by members/access.py.

Rules are saved through ``rule_save`` (alliance coordinators of the alliance, the
administrator of its district, city administrators). Lists, entries and commendations are read-only here:
computing, overriding with a reason, publishing and nominating are the
services', on the coordinator pages (/recognition/), so each is audit-logged
once and a published list is told to families once.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import (
    ScopedAdminMixin,
    ServiceRowsReadOnlyMixin,
    ServiceWriteMixin,
    pick_rule_register,
    pick_rule_register_by_unit,
)

from . import selectors, services
from .errors import RecognitionError
from .models import Commendation, LearningFamilyEntry, LearningFamilyList, LearningFamilyRule


def _rules_pickable(user):
    if access.sees_every_district(user):
        return None
    return LearningFamilyRule.objects.filter(alliance__in=access.alliances_visible_to(user))


def _lists_pickable(user):
    if access.sees_every_district(user):
        return None
    return selectors.lists_visible_to(user)


def _entries_visible(user):
    entries = LearningFamilyEntry.objects.all()
    if access.sees_every_district(user):
        return entries
    return entries.filter(
        Q(family_list__alliance_id__in=access.coordinated_alliance_ids(user))
        | Q(unit__in=selectors.entry_unit_ids(user))
    )


pick_rule_register(LearningFamilyRule, _rules_pickable)
pick_rule_register(LearningFamilyList, _lists_pickable)
pick_rule_register(
    LearningFamilyEntry,
    lambda user: None if access.sees_every_district(user) else _entries_visible(user),
)
pick_rule_register_by_unit(Commendation, "unit")


class _ScopedReadOnly(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    def has_module_permission(self, request):
        return access.is_staff_member(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)


@admin.register(LearningFamilyRule)
class LearningFamilyRuleAdmin(ServiceWriteMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["alliance", "term", "min_credits", "min_points", "min_sessions", "updated_at"]
    list_filter = ["term"]
    list_select_related = ["alliance", "term"]
    fields = [
        "alliance",
        "term",
        "min_credits",
        "min_points",
        "min_home_items",
        "min_school_items",
        "min_behaviour_items",
        "min_sessions",
        "no_open_rejection",
    ]
    pick_rules = {"alliance": access.alliances_changeable_by}

    def get_queryset(self, request):
        rules = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return rules
        return rules.filter(alliance__in=access.alliances_visible_to(request.user).values("pk"))

    def get_readonly_fields(self, request, obj=None):
        return ["alliance", "term"] if obj is not None else []

    def has_module_permission(self, request):
        return access.is_staff_member(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)

    def has_add_permission(self, request):
        return access.sees_every_district(request.user) or bool(
            access.coordinated_alliance_ids(request.user)
        )

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return self.has_add_permission(request)
        return services.may_manage_alliance(request.user, obj.alliance_id)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        values = {
            name: form.cleaned_data[name] for name in self.fields[2:] if name in form.cleaned_data
        }
        try:
            saved = services.rule_save(
                user=request.user, alliance_id=obj.alliance_id, term_id=obj.term_id, **values
            )
        except RecognitionError as error:
            self.service_refused(request, error.message)
            return
        obj.pk = saved.pk


@admin.register(LearningFamilyList)
class LearningFamilyListAdmin(_ScopedReadOnly):
    list_display = ["alliance", "term", "status", "computed_at", "published_at"]
    list_filter = ["status", "term"]
    list_select_related = ["alliance", "term"]
    fields = list_display + ["computed_by", "published_by"]

    def get_queryset(self, request):
        return selectors.lists_visible_to(request.user)


@admin.register(LearningFamilyEntry)
class LearningFamilyEntryAdmin(_ScopedReadOnly):
    list_display = [
        "display_name",
        "family_list",
        "unit",
        "qualifies",
        "included",
        "override_reason",
        "credits",
        "points",
        "sessions",
    ]
    list_filter = ["included", "qualifies"]
    list_select_related = ["family_list__alliance", "family_list__term", "unit"]
    search_fields = ["display_name"]
    # No family link: the entry names the family only by its list name.
    exclude = ["family"]

    def get_queryset(self, request):
        return _entries_visible(request.user).select_related(
            "family_list__alliance", "family_list__term", "unit"
        )


@admin.register(Commendation)
class CommendationAdmin(_ScopedReadOnly):
    list_display = ["guardian_label", "kind", "alliance", "term", "unit", "created_at"]
    list_filter = ["kind", "term"]
    list_select_related = ["alliance", "term", "unit", "guardian__user"]
    fields = ["kind", "alliance", "term", "unit", "reason", "created_by", "created_at"]
    readonly_fields = fields

    @admin.display(description=_("家长"))
    def guardian_label(self, obj):
        return selectors.guardian_label(obj.guardian)

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("guardian__user")
        if access.sees_every_district(request.user):
            return qs
        return qs.filter(unit__in=access.visible_unit_ids(request.user))
