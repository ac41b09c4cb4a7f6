"""Admin for courses: sessions inline (each creates its Offering through the
service), online lessons inline, and the read-only credit ledger with a
reversing action. Coordinators see only their units' courses (members/access.py)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.utils.translation import gettext_lazy as _

from bookings.errors import BookingError
from members import access
from parent_school.admin import RoleInlineMixin, UnitScopedAdmin

from . import services
from .errors import CourseError
from .models import Course, CourseSession, CreditEntry, OnlineLesson, Stage, Theme


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ["name", "sort_order"]
    search_fields = ["name"]


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["code", "sort_order"]


class CourseSessionForm(forms.ModelForm):
    """Session fields plus its Offering's times and capacity, saved through the services."""

    starts_at = forms.SplitDateTimeField(label=_("开始时间"), widget=AdminSplitDateTime)
    ends_at = forms.SplitDateTimeField(label=_("结束时间"), widget=AdminSplitDateTime)
    capacity = forms.IntegerField(label=_("名额（人）"), min_value=1, max_value=10000)
    online_url = forms.URLField(label=_("线上链接"), required=False, assume_scheme="https")

    class Meta:
        model = CourseSession
        fields = ["venue", "online_url"]

    def __init__(self, *args, **kwargs):
        self.user = kwargs.pop("user", None)
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            offering = self.instance.offering
            self.initial.update(
                starts_at=offering.starts_at, ends_at=offering.ends_at, capacity=offering.capacity
            )

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("结束时间须晚于开始时间。"))
        if not data.get("venue") and not data.get("online_url"):
            self.add_error("venue", _("请填写地点或线上链接。"))
        if self.instance.pk and data.get("capacity") is not None:
            if data["capacity"] < self.instance.offering.places_taken:
                self.add_error("capacity", BookingError("capacity_below_taken").message)
        return data

    def save(self, commit=True):
        data = self.cleaned_data
        if self.instance.pk is None:
            self.instance = services.course_session_create(
                course=self.instance.course,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                capacity=data["capacity"],
                venue=data.get("venue", ""),
                online_url=data.get("online_url", ""),
                created_by=self.user,
            )
        elif self.has_changed():
            services.course_session_update(
                session=self.instance,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                capacity=data["capacity"],
                venue=data.get("venue", ""),
                online_url=data.get("online_url", ""),
                changed_by=self.user,
            )
        return self.instance


class CourseSessionInline(RoleInlineMixin, admin.TabularInline):
    model = CourseSession
    form = CourseSessionForm
    extra = 1
    can_delete = False  # a session with bookings is cancelled, not deleted
    fields = ["starts_at", "ends_at", "capacity", "venue", "online_url", "places"]
    readonly_fields = ["places"]

    @admin.display(description=_("已确认/候补"))
    def places(self, obj):
        if not obj.pk:
            return "—"
        return (
            f"{obj.offering.places_taken}/{obj.offering.capacity} · {obj.offering.waiting_families}"
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("offering")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)

        class WithUser(formset):
            def get_form_kwargs(self, index):
                kwargs = super().get_form_kwargs(index)
                kwargs["user"] = request.user
                return kwargs

        return WithUser


class OnlineLessonInline(RoleInlineMixin, admin.TabularInline):
    model = OnlineLesson
    extra = 0
    fields = ["title", "video_url", "video_file", "duration_seconds", "sort_order"]


@admin.register(Course)
class CourseAdmin(UnitScopedAdmin):
    unit_path = "parent_school__host_unit"
    list_display = ["title", "parent_school", "term", "level", "mode", "credits", "is_published"]
    list_filter = ["is_published", "level", "mode", "audience", "term", "themes", "stages"]
    search_fields = ["title", "summary", "parent_school__name"]
    list_select_related = ["parent_school", "term"]
    filter_horizontal = ["themes", "stages", "instructors"]
    inlines = [CourseSessionInline, OnlineLessonInline]
    actions = ["publish", "unpublish"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "instructors" and not access.is_district_admin(request.user):
            from parent_school.models import Instructor

            kwargs["queryset"] = Instructor.objects.filter(
                unit__in=access.visible_unit_ids(request.user)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.action(description=_("发布所选课程"))
    def publish(self, request, queryset):
        self._set_published(request, queryset, True)

    @admin.action(description=_("撤回所选课程"))
    def unpublish(self, request, queryset):
        self._set_published(request, queryset, False)

    def _set_published(self, request, queryset, value):
        from members.services import audit_log_record

        changed = 0
        for course in queryset.select_related("parent_school"):
            if access.can_change_unit(request.user, course.parent_school.host_unit_id):
                Course.objects.filter(pk=course.pk).update(is_published=value)
                audit_log_record(
                    actor=request.user,
                    action="courses.course.publish" if value else "courses.course.unpublish",
                    target=course,
                )
                changed += 1
        messages.success(request, _("已更新 %(n)s 门课程。") % {"n": changed})


@admin.register(CreditEntry)
class CreditEntryAdmin(UnitScopedAdmin):
    """The ledger is append-only: no add, change or delete; corrections reverse."""

    unit_path = "course__parent_school__host_unit"
    list_display = ["created_at", "family", "member", "term", "course", "reason", "amount"]
    list_filter = ["reason", "term"]
    search_fields = ["key", "course__title"]
    list_select_related = ["family", "term", "course", "guardian__user", "child"]
    actions = ["reverse_entries"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description=_("家庭成员"))
    def member(self, obj):
        return obj.child or (obj.guardian.user if obj.guardian else "—")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("冲正所选学分记录"), permissions=["view"])
    def reverse_entries(self, request, queryset):
        done = 0
        for entry in queryset.select_related("course__parent_school"):
            unit_id = entry.course.parent_school.host_unit_id if entry.course else None
            if unit_id is None or not access.can_change_unit(request.user, unit_id):
                continue
            try:
                services.credit_reverse(entry=entry, created_by=request.user, note="admin")
                done += 1
            except CourseError as error:
                messages.warning(request, f"{entry}: {error.message}")
        if done:
            messages.success(request, _("已冲正 %(n)s 条记录。") % {"n": done})
