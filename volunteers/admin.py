"""Admin for the volunteer corps (docs/VOLUNTEERS.md, "Admin").

Applications and service hours are read-only lists of the centres (units) the
user may change (``members.access.units_changeable_by``; city administrators: all;
a district administrator: their district's centres). Approving an application
(with its tier) and verifying hours are done on the coordinator's pages
(``volunteers:queue``, ``volunteers:hours_queue``), whose services make the
instructor record, grant the role and tell the volunteer; each row links there.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import ScopedAdminMixin, ServiceRowsReadOnlyMixin, pick_rule_register
from members.privacy import person_name
from parent_school.models import GuidanceArea

from .models import ServiceHour, VolunteerApplication


def _changeable_unit_ids(user):
    return access.units_changeable_by(user).order_by().values("pk")


def _by_unit(model, unit_path: str):
    def rule(user):
        if access.sees_every_district(user):
            return None
        return model._default_manager.filter(**{f"{unit_path}__in": _changeable_unit_ids(user)})

    return rule


pick_rule_register(VolunteerApplication, _by_unit(VolunteerApplication, "centre"))
pick_rule_register(ServiceHour, _by_unit(ServiceHour, "unit"))


def _page_link(url_name: str, text: str):
    try:
        url = reverse(url_name)
    except NoReverseMatch:  # the pages are not mounted (an app left out)
        return "—"
    return format_html('<a href="{}">{}</a>', url, text)


class _CentreRowsAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    unit_path = "centre"
    show_full_result_count = False

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return rows
        return rows.filter(**{f"{self.unit_path}__in": _changeable_unit_ids(request.user)})

    def has_module_permission(self, request):
        return access.is_coordinator(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_coordinator(request.user)


@admin.register(VolunteerApplication)
class VolunteerApplicationAdmin(_CentreRowsAdmin):
    list_display = ["name", "centre", "expertise", "status", "tier", "serves_as", "created_at"]
    list_filter = ["status", "tier", "serves_as"]
    search_fields = ["name", "expertise"]
    list_select_related = ["centre"]
    fields = [
        "name",
        "applicant_label",
        "centre",
        "background",
        "expertise",
        "areas_label",
        "availability",
        "status",
        "tier",
        "serves_as",
        "station",
        "instructor",
        "decided_by_label",
        "decided_at",
        "decision_note",
        "created_at",
        "decide_link",
    ]
    readonly_fields = fields

    @admin.display(description=_("申请人账号"))
    def applicant_label(self, obj):
        return person_name(obj.user)

    @admin.display(description=_("指导领域"))
    def areas_label(self, obj):
        labels = dict(GuidanceArea.choices)
        return "、".join(str(labels.get(a, a)) for a in obj.areas or []) or "—"

    @admin.display(description=_("审核人"))
    def decided_by_label(self, obj):
        return person_name(obj.decided_by) if obj.decided_by_id else "—"

    @admin.display(description=_("处理"))
    def decide_link(self, obj):
        return _page_link("volunteers:queue", gettext("到志愿者申请审核页处理"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "decided_by")


@admin.register(ServiceHour)
class ServiceHourAdmin(_CentreRowsAdmin):
    unit_path = "unit"
    list_display = [
        "instructor",
        "served_on",
        "hours",
        "source",
        "status",
        "unit",
        "term",
    ]
    list_filter = ["status", "source", "term"]
    search_fields = ["instructor__name", "description"]
    list_select_related = ["instructor", "unit", "term"]
    fields = [
        "instructor",
        "term",
        "source",
        "offering",
        "unit",
        "parent_school",
        "served_on",
        "hours",
        "description",
        "status",
        "entered_by_label",
        "verified_by_label",
        "verified_at",
        "created_at",
        "verify_link",
    ]
    readonly_fields = fields

    @admin.display(description=_("登记人"))
    def entered_by_label(self, obj):
        return person_name(obj.entered_by) if obj.entered_by_id else "—"

    @admin.display(description=_("核实人"))
    def verified_by_label(self, obj):
        return person_name(obj.verified_by) if obj.verified_by_id else "—"

    @admin.display(description=_("处理"))
    def verify_link(self, obj):
        return _page_link("volunteers:hours_queue", gettext("到服务时长核实页处理"))
