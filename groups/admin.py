"""Admin for buddy groups (docs/GROUPS.md), scoped by groups.selectors.

Groups are made, joined, left and dissolved on the portal's pages, whose services
hold the limits (places and per-kind quotas in the database) and tell the
families; the admin adds and deletes none. It shows the groups the user sees
(``groups_visible_to_staff``), and a manager of a group (its facilitator or a
coordinator of its school, ``groups_changeable_by``) may change its name,
description, joining and sizes, through ``group_update``; everything the services
keep (status, member count, facilitator, school) is read-only. Memberships and
group sessions are read-only lists of those groups: a family is named by its
number only (a child's nickname never appears here). Quotas have no admin page:
they are the database's side of the per-kind limit.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import (
    PickerScopeMixin,
    ScopedAdminMixin,
    ServiceForm,
    ServiceRowsReadOnlyMixin,
    ServiceSaveMixin,
    pick_rule_register,
)
from members.privacy import person_name

from . import selectors, services
from .errors import GroupError
from .models import Group, GroupMembership, GroupSession


def _visible_groups(user):
    return selectors.groups_visible_to_staff(user).order_by().values("pk")


pick_rule_register(
    Group,
    lambda user: (
        None
        if access.sees_every_district(user)
        else Group.objects.filter(pk__in=_visible_groups(user))
    ),
)
pick_rule_register(
    GroupMembership,
    lambda user: (
        None
        if access.sees_every_district(user)
        else GroupMembership.objects.filter(group__in=_visible_groups(user))
    ),
)
pick_rule_register(
    GroupSession,
    lambda user: (
        None
        if access.sees_every_district(user)
        else GroupSession.objects.filter(group__in=_visible_groups(user))
    ),
)

#: What a manager may change in admin (group_update's fields).
GROUP_FIELDS = ("name", "description", "joining", "min_size", "max_size")


def _family_label(family_id) -> str:
    if family_id is None:
        return "—"
    return gettext("家庭 #%(id)s") % {"id": family_id}


class GroupAdminForm(ServiceForm):
    """Saved by group_update (members.admin_scoping.ServiceForm): a maximum below
    the members, or sizes the wrong way round, shows on the field it names."""

    service_error = GroupError
    service_check_on_add = False

    class Meta:
        model = Group
        # brand (特色品牌, issue 17) is a label no group service owns: saved beside
        # group_update by GroupAdmin.after_service_save.
        fields = [*GROUP_FIELDS, "brand"]

    def service_call(self, data):
        return services.group_update(
            user=self.request.user,
            group_id=self.instance.pk,
            **{name: data.get(name) for name in GROUP_FIELDS},
        )


class GroupMembershipInline(PickerScopeMixin, admin.TabularInline):
    """Who is in the group, by family number and status (read-only)."""

    model = GroupMembership
    extra = 0
    fields = ["family_label", "has_child", "status", "requested_at", "joined_at", "ended_at"]
    readonly_fields = fields
    show_change_link = False
    ordering = ["status", "joined_at", "pk"]

    @admin.display(description=_("家庭"))
    def family_label(self, obj):
        return _family_label(obj.family_id)

    @admin.display(description=_("学伴（孩子参加）"), boolean=True)
    def has_child(self, obj):
        return obj.child_id is not None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Shown wherever the group's page opens (GroupAdmin scopes the group).
        return True


class _VisibleGroupRowsAdmin(ScopedAdminMixin, admin.ModelAdmin):
    group_path = "group"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows.filter(**{f"{self.group_path}__in": _visible_groups(request.user)})

    def _reaches(self, request) -> bool:
        user = request.user
        return access.is_staff_member(user) or selectors.groups_facilitated_by(user).exists()

    def has_module_permission(self, request):
        return self._reaches(request)

    def has_view_permission(self, request, obj=None):
        return self._reaches(request)


@admin.register(Group)
class GroupAdmin(ServiceSaveMixin, _VisibleGroupRowsAdmin):
    form = GroupAdminForm
    group_path = "pk"
    list_display = [
        "name",
        "kind",
        "parent_school",
        "facilitator_label",
        "joining",
        "size_label",
        "status",
        "created_at",
    ]
    list_filter = ["kind", "status", "joining"]
    search_fields = ["name"]
    list_select_related = ["parent_school", "facilitator"]
    show_full_result_count = False
    inlines = [GroupMembershipInline]
    readonly_fields = [
        "kind",
        "parent_school",
        "facilitator_label",
        "facilitator_role",
        "status",
        "member_count",
        "created_at",
        "dissolved_at",
    ]
    fields = [
        "name",
        "kind",
        "parent_school",
        "facilitator_label",
        "facilitator_role",
        "description",
        "brand",
        "joining",
        "min_size",
        "max_size",
        "member_count",
        "status",
        "created_at",
        "dissolved_at",
    ]

    @admin.display(description=_("带领人"), ordering="facilitator__display_name")
    def facilitator_label(self, obj):
        return person_name(obj.facilitator)

    @admin.display(description=_("成员数 / 上限"))
    def size_label(self, obj):
        return f"{obj.member_count} / {obj.max_size}"

    def has_add_permission(self, request):
        return False  # the pages' group_create: facilitator, school and limits checked

    def has_delete_permission(self, request, obj=None):
        return False  # a group is dissolved (its board archived, members told), not deleted

    def has_change_permission(self, request, obj=None):
        if obj is None:
            # A coordinator changes the groups of the units they coordinate (each row
            # is checked below); asked without a query, as the admin's app list asks
            # it on every page. Anyone else (a facilitator) is looked up.
            if access.is_coordinator(request.user):
                return True
            return selectors.groups_changeable_by(request.user).exists()
        return obj.is_active and selectors.can_manage_group(request.user, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return self.fields
        return self.readonly_fields

    def after_service_save(self, request, obj, form) -> None:
        Group.objects.filter(pk=obj.pk).update(brand=form.cleaned_data.get("brand"))


@admin.register(GroupMembership)
class GroupMembershipAdmin(ServiceRowsReadOnlyMixin, _VisibleGroupRowsAdmin):
    list_display = ["group", "family_label", "status", "joined_at", "ended_at"]
    list_filter = ["status"]
    search_fields = ["group__name"]
    list_select_related = ["group"]
    show_full_result_count = False
    ordering = ["-pk"]
    fields = [
        "group",
        "family_label",
        "has_child",
        "status",
        "requested_at",
        "joined_at",
        "ended_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("家庭"))
    def family_label(self, obj):
        return _family_label(obj.family_id)

    @admin.display(description=_("学伴（孩子参加）"), boolean=True)
    def has_child(self, obj):
        return obj.child_id is not None


@admin.register(GroupSession)
class GroupSessionAdmin(ServiceRowsReadOnlyMixin, _VisibleGroupRowsAdmin):
    list_display = ["title", "group", "starts_at", "venue", "places"]
    search_fields = ["offering__title", "group__name"]
    list_select_related = ["group", "offering"]
    show_full_result_count = False
    ordering = ["-offering__starts_at", "-pk"]
    fields = ["title", "group", "starts_at", "ends_at", "venue", "online_url", "note", "places"]
    readonly_fields = fields

    @admin.display(description=_("活动"), ordering="offering__title")
    def title(self, obj):
        return obj.offering.title

    @admin.display(description=_("开始时间"), ordering="offering__starts_at")
    def starts_at(self, obj):
        return obj.offering.starts_at

    @admin.display(description=_("结束时间"))
    def ends_at(self, obj):
        return obj.offering.ends_at

    @admin.display(description=_("名额（已报 / 共）"))
    def places(self, obj):
        return f"{obj.offering.places_taken} / {obj.offering.capacity}"
