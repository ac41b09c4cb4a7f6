"""Admin of the evaluation loop, scoped by members/access.py.

Responsibilities (the city's list) are the city administrators': saving
goes through ``responsibility_save`` (validation and the audit entry). Unit
targets, feedback, improvement actions and their updates are read-only here:
they are written on the evaluation pages through the services, each step
audit-logged and shown on the unit's timeline; a coordinator sees the rows of
the units they see, and a row outside them answers 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from members import access
from members.admin_scoping import (
    CityEditsMixin,
    PickerScopeMixin,
    ScopedAdminMixin,
    ServiceRowsReadOnlyMixin,
    ServiceWriteMixin,
    pick_rule_register_by_unit,
    pick_rule_register_shared,
)

from . import services
from .errors import EvaluationError
from .models import ActionUpdate, Feedback, ImprovementAction, Responsibility, UnitTarget

RESPONSIBILITY_FIELDS = [
    "code",
    "name",
    "metric",
    "default_value",
    "description",
    "position",
    "is_active",
]

pick_rule_register_shared(Responsibility)
pick_rule_register_by_unit(UnitTarget, "unit")
pick_rule_register_by_unit(Feedback, "unit")
pick_rule_register_by_unit(ImprovementAction, "unit")
pick_rule_register_by_unit(ActionUpdate, "action__unit")


class ResponsibilityAdminForm(forms.ModelForm):
    class Meta:
        model = Responsibility
        fields = RESPONSIBILITY_FIELDS

    def clean(self):
        data = super().clean()
        # responsibility_save's own checks, as form errors next to their fields.
        if self.errors:
            return data
        try:
            services.target_value_clean(
                metric=data.get("metric"),
                value=data.get("default_value"),
                name=data.get("name") or "",
                field="default_value",
            )
            if (
                self.instance.pk
                and self.instance.metric != data.get("metric")
                and self.instance.targets.exists()
            ):
                raise EvaluationError("metric_fixed", field="metric")
        except EvaluationError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return data


@admin.register(Responsibility)
class ResponsibilityAdmin(CityEditsMixin, ServiceWriteMixin, ScopedAdminMixin, admin.ModelAdmin):
    form = ResponsibilityAdminForm
    list_display = ["name", "code", "metric", "default_value", "position", "is_active"]
    list_filter = ["metric", "is_active"]
    search_fields = ["name", "code"]
    ordering = ["position", "pk"]

    def has_module_permission(self, request):
        return access.is_coordinator(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_coordinator(request.user)

    # City-wide reference data (CityEditsMixin): district administrators and
    # coordinators look; responsibility_save refuses anyone else too.
    def has_delete_permission(self, request, obj=None):
        # Targets point at responsibilities: one is taken out of use (在用), not deleted.
        return False

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in RESPONSIBILITY_FIELDS}
        try:
            row = services.responsibility_save(
                actor=request.user, responsibility_id=obj.pk if change else None, **fields
            )
        except EvaluationError as error:
            self.service_refused(request, error.message)
            return
        obj.pk = row.pk


class _UnitRowsAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Read-only rows of a unit: coordinators see those of the units they see."""

    unit_path = "unit"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return rows
        return rows.filter(**{f"{self.unit_path}__in": access.visible_unit_ids(request.user)})

    def has_module_permission(self, request):
        return access.is_coordinator(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_coordinator(request.user)


@admin.register(UnitTarget)
class UnitTargetAdmin(_UnitRowsAdmin):
    list_display = ["unit", "term", "responsibility", "value", "set_by", "set_at"]
    list_filter = ["term", "responsibility"]
    search_fields = ["unit__name"]
    list_select_related = ["unit", "term", "responsibility", "set_by"]
    show_full_result_count = False


class ActionUpdateInline(PickerScopeMixin, admin.TabularInline):
    """An action's history, read-only (action_update writes it)."""

    model = ActionUpdate
    extra = 0
    fields = ["status", "note", "by", "at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Feedback)
class FeedbackAdmin(_UnitRowsAdmin):
    list_display = ["unit", "term", "written_as", "written_at", "acknowledged_at"]
    list_filter = ["term"]
    search_fields = ["unit__name"]
    list_select_related = ["unit", "term"]
    show_full_result_count = False


@admin.register(ImprovementAction)
class ImprovementActionAdmin(_UnitRowsAdmin):
    list_display = ["what", "unit", "term", "owner", "due_on", "status", "done_at"]
    list_filter = ["status", "term"]
    search_fields = ["what", "unit__name"]
    list_select_related = ["unit", "term"]
    show_full_result_count = False
    inlines = [ActionUpdateInline]
