"""Admin for parent schools, terms, targets, instructors and brand programmes.

Coordinators see and change only the rows of units that members/access.py gives
them; every picker offers and accepts only those rows (members/admin_scoping.py:
the rules of this app's models are registered below). Terms are city-wide:
everyone with admin access sees them, only city administrators change them.

Brand programmes (特色品牌) are scoped through their host unit (``owner_unit``,
required): a district administrator manages the brands hosted in their district
(a brand of an alliance of the district: hosted by one of its units); the public
brand pages (reports.views.brands) list every district's brands, counts only.
"""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import (
    CityEditsMixin,
    PickerScopeMixin,
    pick_rule_register_by_unit,
    pick_rule_register_shared,
)

from . import services as brand_services
from .models import BrandProgramme, GuidanceArea, Instructor, ParentSchool, Target, Term

pick_rule_register_shared(Term)
pick_rule_register_by_unit(ParentSchool, "host_unit")
pick_rule_register_by_unit(Target, "parent_school__host_unit")
pick_rule_register_by_unit(Instructor, "unit")
pick_rule_register_by_unit(BrandProgramme, "owner_unit")


class RoleInlineMixin(PickerScopeMixin):
    """Inline permissions follow the user's role (members/access.py), like the parent
    admin; its pickers are scoped like every admin's (members/admin_scoping.py)."""

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)

    def has_add_permission(self, request, obj=None):
        return access.is_coordinator(request.user)

    def has_change_permission(self, request, obj=None):
        return access.is_coordinator(request.user)

    def has_delete_permission(self, request, obj=None):
        return access.is_coordinator(request.user) and getattr(self, "can_delete", True)


class UnitScopedAdmin(PickerScopeMixin, admin.ModelAdmin):
    """Rows filtered by ``unit_path`` through members/access.py; every picker limited
    too (members/admin_scoping.py). All rows only for a city administrator; a
    district administrator gets their district's units through visible_unit_ids.

    Permissions follow the role, not Django's per-model permissions: coordinators
    add and change (only rows of units they may change), instructors only look.
    Other apps' admins (courses, bookings) subclass this; set ``unit_path`` to the
    lookup from the model to its MemberUnit.
    """

    unit_path = "unit"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return queryset
        return queryset.filter(**{f"{self.unit_path}__in": access.visible_unit_ids(request.user)})

    def _unit_of(self, obj):
        value = obj
        for part in self.unit_path.split("__"):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value

    def _may_change(self, request, obj) -> bool:
        if obj is None:
            return True
        unit = self._unit_of(obj)
        return unit is not None and access.can_change_unit(request.user, unit)

    def has_module_permission(self, request):
        return access.is_staff_member(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)

    def has_add_permission(self, request):
        return access.is_coordinator(request.user)

    def has_change_permission(self, request, obj=None):
        return access.is_coordinator(request.user) and self._may_change(request, obj)

    def has_delete_permission(self, request, obj=None):
        return access.is_coordinator(request.user) and self._may_change(request, obj)


@admin.register(Term)
class TermAdmin(CityEditsMixin, PickerScopeMixin, admin.ModelAdmin):
    """Terms are city-wide: staff see them, city administrators change them.

    City-wide reference data: the city's to edit (every district's courses,
    targets, snapshots and evaluation are by term)."""

    list_display = ["__str__", "code", "starts_on", "ends_on", "is_current"]
    list_filter = ["is_current", "semester"]
    search_fields = ["code", "school_year"]

    def has_module_permission(self, request):
        return access.is_staff_member(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)


class TargetInline(RoleInlineMixin, admin.TabularInline):
    model = Target
    extra = 0
    fields = ["term", "sessions_required", "participants_target"]


@admin.register(ParentSchool)
class ParentSchoolAdmin(UnitScopedAdmin):
    unit_path = "host_unit"
    list_display = ["name", "kind", "host_unit", "region", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "host_unit__name", "region__name"]
    list_select_related = ["host_unit", "region"]
    raw_id_fields = ["region"]
    inlines = [TargetInline]


@admin.register(Target)
class TargetAdmin(UnitScopedAdmin):
    unit_path = "parent_school__host_unit"
    list_display = ["parent_school", "term", "sessions_required", "participants_target"]
    list_filter = ["term"]
    search_fields = ["parent_school__name"]
    list_select_related = ["parent_school", "term"]


class InstructorForm(forms.ModelForm):
    specialties = forms.MultipleChoiceField(
        label=_("专长领域"),
        choices=GuidanceArea.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Instructor
        fields = ["name", "tier", "specialties", "unit", "user", "is_volunteer", "bio"]


@admin.register(Instructor)
class InstructorAdmin(UnitScopedAdmin):
    form = InstructorForm
    list_display = ["name", "tier", "unit", "is_volunteer", "specialty_names"]
    list_filter = ["tier", "is_volunteer"]
    search_fields = ["name", "unit__name"]
    list_select_related = ["unit"]
    raw_id_fields = ["user"]

    @admin.display(description=_("专长领域"))
    def specialty_names(self, obj):
        labels = dict(GuidanceArea.choices)
        return "、".join(str(labels.get(code, code)) for code in obj.specialties or [])


class BrandProgrammeForm(forms.ModelForm):
    """The logo is not a model field here: the upload is re-encoded by
    parent_school.services (members.photos.photo_clean), which owns ``logo``."""

    logo_upload = forms.ImageField(
        label=_("上传新标志"),
        required=False,
        help_text=_("JPG 或 PNG；保存时会重新编码并去除照片信息（EXIF）。"),
    )
    logo_remove = forms.BooleanField(label=_("删除现有标志"), required=False)

    class Meta:
        model = BrandProgramme
        fields = ["name", "owner_unit", "description", "is_active"]

    def clean_logo_upload(self):
        upload = self.cleaned_data.get("logo_upload")
        if not upload:
            return None
        try:
            return brand_services.brand_logo_clean(upload)
        except brand_services.BrandLogoRejected as error:
            raise forms.ValidationError(error.message) from error


@admin.register(BrandProgramme)
class BrandProgrammeAdmin(UnitScopedAdmin):
    form = BrandProgrammeForm
    unit_path = "owner_unit"
    list_display = ["name", "owner_unit", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "owner_unit__name"]
    list_select_related = ["owner_unit"]
    readonly_fields = ["logo"]
    fields = [
        "name",
        "owner_unit",
        "description",
        "is_active",
        "logo",
        "logo_upload",
        "logo_remove",
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        cleaned = form.cleaned_data.get("logo_upload")
        if cleaned:
            brand_services.brand_logo_set(brand=obj, content=cleaned, actor=request.user)
        elif form.cleaned_data.get("logo_remove"):
            brand_services.brand_logo_remove(brand=obj, actor=request.user)
