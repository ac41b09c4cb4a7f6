"""Django admin for the alliance registry, scoped by members/access.py.

District administrators (and superusers) see and change everything. Alliance
and unit coordinators reach the admin too (``registry.role_assign`` makes them
staff and puts them in a group with the model permissions); every queryset,
change check, autocomplete, list filter and export below asks ``access`` which
rows are theirs. A row outside a user's scope is a 404, not a redirect.
"""

from __future__ import annotations

import datetime

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AdminDateWidget
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Prefetch, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.forms import ExportForm, ImportForm

from . import access, formatting, registry
from .admin_scoping import PickerScopeMixin, ScopedAdminMixin, ServiceRowsReadOnlyMixin
from .audit_actions import audit_action_choices, audit_action_label
from .errors import MembersError
from .formatting import SHANGHAI
from .models import Alliance, ApiToken, AuditLog, Membership, MemberUnit, Region, RoleAssignment
from .privacy import mask_phone, person_name
from .resources import (
    IMPORT_MESSAGES,
    LANDLINE_RE,
    MOBILE_RE,
    ChineseCSV,
    ChineseXLSX,
    ImportFileError,
    MembershipResource,
    MemberUnitResource,
    RegionResource,
    normalise_cell,
)
from .selectors import user_picker_label, users_for_picker
from .services import api_token_revoke, audit_log_record

User = get_user_model()

admin.site.site_header = _("协同育人门户 · 管理后台")
admin.site.site_title = _("协同育人门户管理")
admin.site.index_title = _("联盟与成员单位管理")


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


# -- import / export ---------------------------------------------------------


class RegistryImportForm(ImportForm):
    READ_FAILED = _(
        "无法读取文件。请确认所选格式与文件一致（CSV 或 XLSX），CSV 文件请用 UTF-8 或 GBK 编码。"
    )
    NO_DATA = _("文件里没有可导入的数据行。请保留第一行的列标题，并从第二行开始填写。")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["import_file"].label = _("要导入的文件")
        self.fields["import_file"].help_text = _(
            "CSV（UTF-8 或 GBK 编码均可）或 XLSX。第一行为列标题。先预览，确认无误后才会写入。"
        )
        self.fields["format"].label = _("文件格式")
        self.fields["resource"].label = _("数据")

    def add_error(self, field, error):
        text = str(error)
        if "No valid data" in text:
            error = self.NO_DATA
        elif "encountered while trying to read file" in text:
            error = self.READ_FAILED
        super().add_error(field, error)


class RegistryExportForm(ExportForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["format"].label = _("文件格式")
        self.fields["resource"].label = _("数据")
        # XLSX by default: it opens in Excel/WPS with Chinese text intact.
        for value, label in self.fields["format"].choices:
            if label == "xlsx":
                self.fields["format"].initial = value


class RegistryImportExportAdmin(ScopedAdminMixin, ImportExportModelAdmin):
    """CSV and XLSX, Chinese pages, district-admin-only import, audited export."""

    # The same two formats both ways: they read with the shape checks and write
    # every cell through members.privacy.spreadsheet_safe (CSV with a BOM).
    import_formats = [ChineseCSV, ChineseXLSX]
    export_formats = [ChineseCSV, ChineseXLSX]
    import_form_class = RegistryImportForm
    export_form_class = RegistryExportForm
    import_template_name = "admin/members/import.html"
    export_template_name = "admin/members/export.html"
    # Excel opens UTF-8 CSV with Chinese text correctly only with a BOM
    # (ChineseCSV writes its own; this covers any text format added later).
    to_encoding = "utf-8-sig"
    audit_thing = ""

    def has_import_permission(self, request):
        # Imports create and update rows anywhere in the registry: district level only.
        return super().has_import_permission(request) and access.sees_every_district(request.user)

    def add_data_read_fail_error_to_form(self, form, e):
        # Our formats say what is wrong (an XLSX chosen as CSV, an empty sheet…);
        # anything else gets the general message.
        message = e.message if isinstance(e, ImportFileError) else RegistryImportForm.READ_FAILED
        form.add_error("import_file", message)

    def add_success_message(self, result, request):
        totals = result.totals
        messages.success(
            request,
            gettext("导入完成：新增 %(new)s 条，更新 %(update)s 条，未变化 %(skip)s 条。")
            % {"new": totals["new"], "update": totals["update"], "skip": totals["skip"]},
        )

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            # The confirmed import met a problem the preview did not (the data
            # changed in between); the transaction was rolled back.
            messages.error(request, gettext("导入未完成，没有写入任何数据。请重新上传文件预览。"))
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_import"))
        return super().process_result(result, request)

    def get_export_data(self, file_format, request, queryset, **kwargs):
        data = super().get_export_data(file_format, request, queryset, **kwargs)
        audit_log_record(
            actor=request.user,
            action=f"members.{self.audit_thing}.export",
            data={"rows": queryset.count(), "format": file_format.get_title()},
            ip_address=_client_ip(request),
        )
        return data

    def get_export_filename(self, request, queryset, file_format):
        from django.utils import timezone

        date = timezone.localdate().isoformat()
        return f"{self.model._meta.model_name}-{date}.{file_format.get_extension()}"


# -- regions -----------------------------------------------------------------


@admin.register(Region)
class RegionAdmin(RegistryImportExportAdmin):
    resource_classes = [RegionResource]
    audit_thing = "region"
    list_display = ["name", "kind", "code", "parent"]
    list_select_related = ["parent"]
    list_filter = ["kind"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["parent"]
    ordering = ["name"]

    def get_queryset(self, request):
        # Regions are district data, but a coordinator given the view permission
        # by hand still sees only the regions that hold their units.
        return access.regions_visible_to(request.user)

    # A district administrator edits the regions inside their district and puts
    # new ones there; the district itself and the city above are the city's.
    pick_rules = {"parent": access.regions_placeable_by}

    def _changeable(self, request, obj) -> bool:
        if obj is None or access.sees_every_district(request.user):
            return True
        return access.regions_changeable_by(request.user).filter(pk=obj.pk).exists()

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "parent" in form.base_fields and not access.sees_every_district(request.user):
            # Only the city puts a region at the top.
            form.base_fields["parent"].required = True
        return form

    def has_add_permission(self, request):
        return super().has_add_permission(request) and access.is_district_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._changeable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._changeable(request, obj)


# -- member units ------------------------------------------------------------


class AllianceListFilter(admin.SimpleListFilter):
    title = _("所属联盟")
    parameter_name = "alliance"

    def lookups(self, request, model_admin):
        # Only alliances the user may see: the filter never names others.
        return [
            (str(pk), name)
            for pk, name in access.alliances_visible_to(request.user)
            .order_by("name")
            .values_list("pk", "name")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        current = Membership.objects.filter(alliance_id=int(value), left_on__isnull=True)
        return queryset.filter(pk__in=current.values("unit_id"))


class RegionListFilter(admin.SimpleListFilter):
    """Regions that hold units the user sees, with every unit below a region."""

    title = _("所在区域")
    parameter_name = "region"

    def lookups(self, request, model_admin):
        return [
            (str(pk), name)
            for pk, name in access.regions_visible_to(request.user)
            .order_by("name")
            .values_list("pk", "name")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        region_id = int(value)
        return queryset.filter(
            Q(region_id=region_id)
            | Q(region__parent_id=region_id)
            | Q(region__parent__parent_id=region_id)
        )


class UnitMembershipInline(PickerScopeMixin, admin.TabularInline):
    model = Membership
    fk_name = "unit"
    fields = ["alliance", "role", "joined_on", "left_on"]
    readonly_fields = ["alliance"]
    extra = 0
    verbose_name = _("所属联盟")
    verbose_name_plural = _("所属联盟（新增请用列表页的“加入联盟”操作或“联盟成员关系”）")

    def get_queryset(self, request):
        return (
            access.memberships_visible_to(request.user)
            .select_related("alliance", "unit")
            .order_by("alliance__name")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return access.is_district_admin(request.user) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request, obj=None):
        return access.is_district_admin(request.user) and super().has_delete_permission(
            request, obj
        )


class AddToAllianceForm(forms.Form):
    alliance = forms.ModelChoiceField(label=_("加入联盟"), queryset=Alliance.objects.none())
    role = forms.ChoiceField(
        label=_("在联盟中的角色"),
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
    )
    joined_on = forms.DateField(
        label=_("加入日期"),
        required=False,
        widget=AdminDateWidget,
        help_text=_("留空则为今天。"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        alliances = access.alliances_changeable_by(user).order_by("name")
        self.fields["alliance"].queryset = alliances
        if len(alliances) == 1:
            self.fields["alliance"].initial = alliances[0].pk


class MemberUnitAdminForm(forms.ModelForm):
    """The same phone rule as the import, so admin and spreadsheet agree."""

    class Meta:
        model = MemberUnit
        fields = [
            "name",
            "code",
            "kind",
            "region",
            "parent",
            "is_active",
            "address",
            "contact_name",
            "contact_phone",
            "note",
        ]

    def clean_contact_phone(self):
        value = normalise_cell(self.cleaned_data.get("contact_phone") or "", strict=True)
        value = value.replace(" ", "")
        if value and not (MOBILE_RE.match(value) or LANDLINE_RE.match(value)):
            raise forms.ValidationError(IMPORT_MESSAGES["bad_phone"] % {"value": value})
        return value


@admin.register(MemberUnit)
class MemberUnitAdmin(RegistryImportExportAdmin):
    form = MemberUnitAdminForm
    resource_classes = [MemberUnitResource]
    audit_thing = "unit"
    list_display = [
        "name",
        "code",
        "kind",
        "region",
        "parent",
        "contact_name",
        "contact_phone",
        "alliance_names",
        "is_active",
    ]
    list_display_links = ["name"]
    list_select_related = ["region", "parent"]
    list_filter = ["kind", RegionListFilter, AllianceListFilter, "is_active"]
    search_fields = ["name", "code", "contact_name", "contact_phone", "region__name"]
    search_help_text = _("按名称、单位编码、联系人、联系电话或区域名称搜索")
    autocomplete_fields = ["region", "parent"]
    pick_rules = {"region": access.regions_placeable_by}
    inlines = [UnitMembershipInline]
    actions = ["deactivate_units", "add_to_alliance"]
    ordering = ["name"]
    list_per_page = 100
    # Facet counts would run one COUNT per filter choice over 10,000 units.
    show_facets = admin.ShowFacets.NEVER
    fieldsets = [
        (None, {"fields": ["name", "code", "kind", "region", "parent", "is_active"]}),
        (_("联系方式"), {"fields": ["address", "contact_name", "contact_phone"]}),
        (_("其他"), {"fields": ["note"]}),
    ]
    # Structure of the registry: only district administrators change these.
    district_only_fields = ["code", "kind", "region", "parent", "is_active"]

    def get_queryset(self, request):
        current = Membership.objects.filter(left_on__isnull=True).select_related("alliance")
        return access.units_visible_to(request.user).prefetch_related(
            Prefetch("memberships", queryset=current, to_attr="current_memberships")
        )

    def get_readonly_fields(self, request, obj=None):
        if access.is_district_admin(request.user):
            return []
        return self.district_only_fields

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        if obj is None or not allowed:
            return allowed
        return access.can_view_unit(request.user, obj)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if obj is None or not allowed:
            return allowed
        return access.can_change_unit(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj) and access.is_district_admin(
            request.user
        )
        return allowed and (obj is None or access.can_change_unit(request.user, obj))

    def has_add_permission(self, request):
        return super().has_add_permission(request) and access.is_district_admin(request.user)

    def has_district_permission(self, request):
        return access.is_district_admin(request.user)

    def has_add_membership_permission(self, request):
        return request.user.has_perm("members.add_membership") and (
            access.alliances_changeable_by(request.user).exists()
        )

    @admin.display(description=_("所属联盟"))
    def alliance_names(self, obj):
        return "、".join(str(m.alliance) for m in getattr(obj, "current_memberships", []))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_log_record(
            actor=request.user,
            action="members.unit.change" if change else "members.unit.create",
            target=obj,
            data={"fields": sorted(form.changed_data)},
            ip_address=_client_ip(request),
        )

    @admin.action(description=_("停用所选单位"), permissions=["district"])
    def deactivate_units(self, request, queryset):
        try:
            count = registry.unit_deactivate(actor=request.user, units=queryset)
        except registry.RegistryError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        self.message_user(request, gettext("已停用 %(count)s 个单位。") % {"count": count})
        return None

    @admin.action(description=_("将所选单位加入联盟…"), permissions=["add_membership"])
    def add_to_alliance(self, request, queryset):
        # An intermediate page: choose the alliance, then apply.
        form = None
        if "apply" in request.POST:
            form = AddToAllianceForm(request.POST, user=request.user)
            if form.is_valid():
                try:
                    added, already = registry.units_add_to_alliance(
                        actor=request.user,
                        alliance=form.cleaned_data["alliance"],
                        units=queryset,
                        role=form.cleaned_data["role"],
                        joined_on=form.cleaned_data["joined_on"],
                    )
                except registry.RegistryError as error:
                    self.message_user(request, error.message, messages.ERROR)
                    return None
                self.message_user(
                    request,
                    gettext("已将 %(added)s 个单位加入“%(alliance)s”（%(already)s 个原已是成员）。")
                    % {
                        "added": added,
                        "already": already,
                        "alliance": form.cleaned_data["alliance"],
                    },
                )
                return None
        if form is None:
            form = AddToAllianceForm(user=request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("将所选单位加入联盟"),
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
            "units": queryset.select_related("region")[:200],
            "unit_count": queryset.count(),
            "selected_ids": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/members/memberunit/add_to_alliance.html", context)


# -- alliances ---------------------------------------------------------------


class AllianceMembershipInline(PickerScopeMixin, admin.TabularInline):
    model = Membership
    fk_name = "alliance"
    fields = ["unit", "role", "joined_on", "left_on"]
    readonly_fields = ["unit"]
    extra = 0
    verbose_name = _("成员单位")
    verbose_name_plural = _("成员单位（新增请在成员单位列表用“加入联盟”操作）")

    def get_queryset(self, request):
        return (
            access.memberships_visible_to(request.user)
            .select_related("unit", "alliance")
            .order_by("-role", "unit__name")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def _alliance_changeable(self, request, alliance) -> bool:
        if not access.is_district_admin(request.user):
            return False
        return alliance is None or (
            access.alliances_changeable_by(request.user).filter(pk=alliance.pk).exists()
        )

    def has_change_permission(self, request, obj=None):
        return self._alliance_changeable(request, obj) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request, obj=None):
        return self._alliance_changeable(request, obj) and super().has_delete_permission(
            request, obj
        )


@admin.register(Alliance)
class AllianceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "short_name", "region", "base_unit", "founded_on", "unit_count"]
    list_select_related = ["region", "base_unit"]
    search_fields = ["name", "short_name", "initiative"]
    autocomplete_fields = ["region", "base_unit"]
    inlines = [AllianceMembershipInline]
    ordering = ["name"]

    def get_queryset(self, request):
        visible = access.alliances_visible_to(request.user).order_by().values("pk")
        # Ordered here too: the autocomplete pages through this queryset.
        return (
            Alliance.objects.filter(pk__in=visible)
            .annotate(
                current_units=Count("memberships", filter=Q(memberships__left_on__isnull=True))
            )
            .order_by("name", "pk")
        )

    @admin.display(description=_("在册单位数"), ordering="current_units")
    def unit_count(self, obj):
        return obj.current_units

    pick_rules = {"region": access.regions_placeable_by}

    def _changeable(self, request, obj) -> bool:
        if not access.is_district_admin(request.user):
            return False
        return (
            obj is None or access.alliances_changeable_by(request.user).filter(pk=obj.pk).exists()
        )

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._changeable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._changeable(request, obj)


# -- memberships -------------------------------------------------------------


@admin.register(Membership)
class MembershipAdmin(RegistryImportExportAdmin):
    resource_classes = [MembershipResource]
    audit_thing = "membership"
    list_display = ["unit", "alliance", "role", "joined_on", "left_on"]
    list_select_related = ["unit", "alliance"]
    list_filter = ["role", ("alliance", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["unit__name", "unit__code", "alliance__name", "alliance__short_name"]
    autocomplete_fields = ["alliance", "unit"]
    ordering = ["alliance__name", "unit__name"]
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request):
        return access.memberships_visible_to(request.user)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not access.is_district_admin(request.user):
            return ["alliance", "unit"]
        return []

    # What a coordinator may pick, not merely what they may see (units: the rule).
    pick_rules = {"alliance": access.alliances_changeable_by}

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        if obj is None or not allowed:
            return allowed
        return access.memberships_visible_to(request.user).filter(pk=obj.pk).exists()

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if obj is None or not allowed:
            return allowed
        return access.memberships_changeable_by(request.user).filter(pk=obj.pk).exists()

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and access.is_district_admin(
            request.user
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_log_record(
            actor=request.user,
            action="members.membership.change" if change else "members.membership.add",
            target=obj,
            data={"fields": sorted(form.changed_data)},
            ip_address=_client_ip(request),
        )


# -- roles -------------------------------------------------------------------


class PortalAutocompleteJsonView(AutocompleteJsonView):
    """The admin's autocomplete, letting the target admin label its answers
    (``autocomplete_label``) and prepare their rows in bulk (``autocomplete_queryset``):
    a person is 「王老师 · 139****0001 · 溪口中学」, not a bare generated user name."""

    def get_queryset(self):
        queryset = super().get_queryset()
        prepare = getattr(self.model_admin, "autocomplete_queryset", None)
        return prepare(self.request, queryset) if prepare else queryset

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        label = getattr(self.model_admin, "autocomplete_label", None)
        if label is not None:
            result["text"] = label(self.request, obj)
        return result


def _portal_autocomplete_view(request):
    return PortalAutocompleteJsonView.as_view(admin_site=admin.site)(request)


# Read when alliance/urls.py builds admin.site.urls, after this module is loaded.
admin.site.autocomplete_view = _portal_autocomplete_view


class RoleAssignmentForm(forms.ModelForm):
    class Meta:
        model = RoleAssignment
        fields = ["user", "role", "region", "alliance", "unit"]

    def clean(self):
        cleaned = super().clean()
        request = getattr(self, "request", None)
        if request is not None and not self.errors:
            candidate = RoleAssignment(
                role=cleaned.get("role"),
                region=cleaned.get("region"),
                alliance=cleaned.get("alliance"),
                unit=cleaned.get("unit"),
            )
            if not registry.role_grant_allowed(request.user, candidate):
                raise forms.ValidationError(registry.MESSAGES["role_out_of_scope"])
        return cleaned


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Roles are assigned and revoked here; both go through the registry services
    (staff flag, admin group, audit entry). A role is never edited in place.

    A district administrator grants within their district only (its district
    administrators, its alliances' coordinators, its units' staff); the pickers
    offer no more and ``registry.role_grant_allowed`` refuses the rest.

    The user picker names each person by display name, masked phone (or e-mail)
    and the units they already serve, so that two 王老师 can be told apart."""

    form = RoleAssignmentForm
    list_display = ["user_label", "role", "region", "alliance", "unit", "created_at"]
    list_select_related = ["user", "region", "alliance", "unit"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__display_name", "user__email", "user__phone"]
    autocomplete_fields = ["user", "region", "alliance", "unit"]
    fields = ["user", "role", "region", "alliance", "unit"]
    pick_rules = {
        "region": access.districts_grantable_by,
        "alliance": access.alliances_changeable_by,
        "unit": access.units_changeable_by,
    }

    @admin.display(description=_("用户"), ordering="user__display_name")
    def user_label(self, obj):
        return _person_label(obj.user)

    def get_queryset(self, request):
        return access.roles_visible_to(request.user)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and formfield is not None:
            # The chosen person, shown again after a form error, reads like the answers.
            formfield.queryset = users_for_picker(formfield.queryset, viewer=request.user)
            formfield.label_from_instance = user_picker_label
        return formfield

    def has_module_permission(self, request):
        return access.is_district_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_district_admin(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return access.is_district_admin(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not registry.role_grant_allowed(request.user, obj):
            return False
        return access.is_district_admin(request.user) and super().has_delete_permission(
            request, obj
        )

    def save_model(self, request, obj, form, change):
        assignment = registry.role_assign(
            actor=request.user,
            user=obj.user,
            role=obj.role,
            alliance=obj.alliance,
            unit=obj.unit,
            region=obj.region,
            ip_address=_client_ip(request),
        )
        obj.pk = assignment.pk
        obj.created_at = assignment.created_at
        obj._state.adding = False

    def delete_model(self, request, obj):
        registry.role_revoke(actor=request.user, assignment=obj, ip_address=_client_ip(request))

    def delete_queryset(self, request, queryset):
        refused = 0
        for assignment in queryset.select_related("user"):
            try:
                registry.role_revoke(
                    actor=request.user, assignment=assignment, ip_address=_client_ip(request)
                )
            except registry.RegistryError:
                refused += 1
        if refused:
            self.message_user(request, registry.MESSAGES["role_out_of_scope"], messages.ERROR)


# -- audit log ---------------------------------------------------------------


def _person_label(user) -> str:
    """Display name (or user name) and masked phone, e.g. 「李老师 · 139****0001」."""
    name = user.display_name or user.get_username()
    phone = mask_phone(user.phone or "")
    return f"{name} · {phone}" if phone else name


class ActorFilter(admin.ListFilter):
    """A text box: who acted, by display name, user name, phone or e-mail (audit logs
    span too many people for a list of links)."""

    title = _("操作人")
    parameter_name = "actor"
    template = "admin/members/input_filter.html"
    input_label = _("姓名、用户名或手机号")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        value = params.pop(self.parameter_name, None)
        if isinstance(value, list):
            value = value[-1] if value else None
        self.value = (value or "").strip()

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.parameter_name]

    def queryset(self, request, queryset):
        if not self.value:
            return queryset
        people = User.objects.filter(
            Q(username=self.value)
            | Q(display_name=self.value)
            | Q(phone=self.value)
            | Q(email__iexact=self.value)
        ).values("pk")
        # actor_label too: entries of a deleted account keep only the name they had.
        return queryset.filter(Q(actor__in=people) | Q(actor_label=self.value))

    def choices(self, changelist):
        yield {
            "value": self.value,
            "label": self.input_label,
            "parameter_name": self.parameter_name,
            "other_params": [
                (k, v)
                for k, values in changelist.params.items()
                if k != self.parameter_name
                for v in (values if isinstance(values, list) else [values])
            ],
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
        }


class ActionFilter(admin.SimpleListFilter):
    """By action, with Chinese labels (members/audit_actions.py), without scanning the
    log for its distinct values."""

    title = _("操作")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return audit_action_choices()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


class DateRangeFilter(admin.ListFilter):
    """From and to dates (inclusive), as days in Beijing time."""

    title = _("日期范围（北京时间）")
    template = "admin/members/date_range_filter.html"
    parameters = ("created_from", "created_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values = {}
        for name in self.parameters:
            value = params.pop(name, None)
            if isinstance(value, list):
                value = value[-1] if value else None
            self.values[name] = (value or "").strip()

    def _day(self, name) -> datetime.date | None:
        try:
            return datetime.date.fromisoformat(self.values[name])
        except ValueError:
            return None  # an unreadable date filters nothing rather than failing

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def queryset(self, request, queryset):
        first, last = self._day("created_from"), self._day("created_to")
        if first is not None:
            queryset = queryset.filter(
                created_at__gte=datetime.datetime.combine(first, datetime.time.min, SHANGHAI)
            )
        if last is not None:
            next_day = last + datetime.timedelta(days=1)
            queryset = queryset.filter(
                created_at__lt=datetime.datetime.combine(next_day, datetime.time.min, SHANGHAI)
            )
        return queryset

    def choices(self, changelist):
        yield {
            "values": self.values,
            "other_params": [
                (k, v)
                for k, values in changelist.params.items()
                if k not in self.parameters
                for v in (values if isinstance(values, list) else [values])
            ],
            "clear_url": changelist.get_query_string(remove=list(self.parameters)),
            "active": any(self.values.values()),
        }


@admin.register(AuditLog)
class AuditLogAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Read-only and append-only: nobody adds, changes or deletes entries here.

    Who acted is shown by display name and masked phone, actions by their Chinese
    labels, times in Beijing time. The changelist costs the same few queries for
    any page (the actor is joined; no COUNT(*) of the whole log)."""

    list_display = [
        "created_at_local",
        "actor_display",
        "action_label",
        "target_type_label",
        "target_repr",
        "ip_address",
    ]
    list_select_related = ["actor"]
    list_filter = [
        ActionFilter,
        ActorFilter,
        DateRangeFilter,
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["action", "actor_label", "target_repr", "target_id"]
    readonly_fields = [
        "created_at_local",
        "actor_display",
        "action_label",
        "action",
        "target_type_label",
        "target_id",
        "target_repr",
        "data",
        "ip_address",
    ]
    fields = readonly_fields
    # A large log: no full COUNT(*) on every page.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100

    @admin.display(description=_("时间（北京时间）"), ordering="created_at")
    def created_at_local(self, obj):
        return formatting.local(obj.created_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description=_("操作人"), ordering="actor_label")
    def actor_display(self, obj):
        if obj.actor is not None:
            return _person_label(obj.actor)
        # The account is gone (or it was the system): the name it had then.
        return obj.actor_label or "—"

    @admin.display(description=_("操作"), ordering="action")
    def action_label(self, obj):
        return audit_action_label(obj.action)

    @admin.display(description=_("对象类型"), ordering="target_type")
    def target_type_label(self, obj):
        if not obj.target_type:
            return "—"
        try:
            return apps.get_model(obj.target_type)._meta.verbose_name
        except (LookupError, ValueError):
            return obj.target_type

    def has_module_permission(self, request):
        return access.sees_every_district(request.user)

    def has_view_permission(self, request, obj=None):
        return access.sees_every_district(request.user) and super().has_view_permission(
            request, obj
        )

    def get_actions(self, request):
        return {}


# -- users -------------------------------------------------------------------


if not admin.site.is_registered(User):

    @admin.register(User)
    class UserAdmin(ScopedAdminMixin, DjangoUserAdmin):
        """Needed to pick a user when assigning a role. District administrators
        only look (and see no phone or e-mail); superusers edit.

        Coordinators reach it only as a picker (autocomplete, raw-id popup) and
        see only the accounts ``access.users_pickable_by`` gives them."""

        list_display = [
            "username",
            "display_name",
            "masked_phone",
            "is_staff",
            "is_active",
            "date_joined",
        ]
        search_fields = ["username", "display_name", "email", "phone"]
        list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
        fieldsets = DjangoUserAdmin.fieldsets + (
            (_("门户"), {"fields": ["phone", "display_name"]}),
        )
        limited_fieldsets = [
            (None, {"fields": ["username", "display_name", "is_active", "is_staff"]}),
            (_("时间"), {"fields": ["last_login", "date_joined"]}),
        ]

        @admin.display(description=_("手机号"))
        def masked_phone(self, obj):
            return mask_phone(obj.phone or "") or "—"

        # Autocomplete answers (the role grant's user picker, instructors' logins …).
        def autocomplete_queryset(self, request, queryset):
            return users_for_picker(queryset, viewer=request.user)

        def autocomplete_label(self, request, obj):
            return user_picker_label(obj)

        def get_fieldsets(self, request, obj=None):
            if obj is not None and not request.user.is_superuser:
                return self.limited_fieldsets
            return super().get_fieldsets(request, obj)

        def get_queryset(self, request):
            users = super().get_queryset(request)
            if access.sees_every_district(request.user):
                return users
            return users.filter(pk__in=access.users_pickable_by(request.user).values("pk"))

        def has_module_permission(self, request):
            # Not in the coordinators' index: for them it is only a picker.
            return super().has_module_permission(request) and access.sees_every_district(
                request.user
            )

        def has_view_permission(self, request, obj=None):
            return super().has_view_permission(request, obj) or access.is_coordinator(request.user)

        def has_change_permission(self, request, obj=None):
            return request.user.is_superuser and super().has_change_permission(request, obj)

        def has_add_permission(self, request):
            return request.user.is_superuser and super().has_add_permission(request)

        def has_delete_permission(self, request, obj=None):
            return request.user.is_superuser and super().has_delete_permission(request, obj)


# -- API tokens --------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Look and revoke; nothing is added or edited here (a token is made by its
    owner on their security page, and its hash and scopes are the service's).

    District administrators see every token; a coordinator sees the check-in
    device tokens of the units they may change (members/access.py), so that a
    lost tablet can be cut off by whoever runs its unit. Revoking is
    ``api_token_revoke``: the next request with the token is refused."""

    list_display = [
        "name",
        "owner_label",
        "kind",
        "unit",
        "scope_labels",
        "prefix_label",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_select_related = ["user", "unit"]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__display_name"]
    # The page shows the list's columns, every one read-only (nothing is edited here).
    readonly_fields = list_display
    fields = readonly_fields
    actions = ["revoke_selected"]

    @admin.display(description=_("所属用户"), ordering="user__display_name")
    def owner_label(self, obj):
        phone = mask_phone(obj.user.phone or "")
        name = person_name(obj.user)
        return f"{name} · {phone}" if phone and phone != name else name

    @admin.display(description=_("权限范围"))
    def scope_labels(self, obj):
        labels = dict(ApiToken.Scope.choices)
        return "、".join(str(labels.get(s, s)) for s in obj.scope_list)

    @admin.display(description=_("令牌开头"), ordering="prefix")
    def prefix_label(self, obj):
        return f"alp_{obj.prefix}…"

    @admin.action(description=_("撤销所选令牌"), permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        revoked = 0
        for token in queryset.select_related("user", "unit"):
            try:
                revoked += api_token_revoke(
                    token=token, actor=request.user, ip_address=_client_ip(request)
                )
            except MembersError as exc:
                self.message_user(request, f"{token}: {exc.message}", messages.ERROR)
        self.message_user(
            request, gettext("已撤销 %(count)s 个令牌。") % {"count": revoked}, messages.SUCCESS
        )

    def get_queryset(self, request):
        tokens = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return tokens
        if not access.is_coordinator(request.user):
            return tokens.none()
        return tokens.filter(
            kind=ApiToken.Kind.DEVICE, unit__in=access.units_changeable_by(request.user)
        )

    def has_module_permission(self, request):
        return access.is_coordinator(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_coordinator(request.user)

    def has_revoke_permission(self, request):
        return access.is_coordinator(request.user)
