"""Admin for courses: sessions inline (each creates its Offering through the
service), online lessons inline, the course sessions (move, cancel), and the
read-only credit ledger with a reversing action. Coordinators see only their
units' courses (members/access.py); every picker is scoped
(members/admin_scoping.py).

Every write goes through courses.services: creating, moving and cancelling a
session (which tell booked families once and re-plan their reminders), publishing
and unpublishing a course, reversing credits.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bookings.errors import BookingError
from bookings.models import Offering
from members import access
from members.admin_scoping import (
    CityEditsMixin,
    PickerScopeMixin,
    ServiceWriteMixin,
    pick_rule_register_by_unit,
    pick_rule_register_shared,
)
from parent_school.admin import RoleInlineMixin, UnitScopedAdmin

from . import services
from .errors import CourseError
from .models import (
    Course,
    CourseSession,
    CreditEntry,
    LessonProgress,
    OnlineLesson,
    Stage,
    Theme,
)

pick_rule_register_shared(Theme)
pick_rule_register_shared(Stage)
pick_rule_register_by_unit(Course, "parent_school__host_unit")
pick_rule_register_by_unit(CourseSession, "offering__unit")
pick_rule_register_by_unit(OnlineLesson, "course__parent_school__host_unit")
pick_rule_register_by_unit(LessonProgress, "lesson__course__parent_school__host_unit")
pick_rule_register_by_unit(CreditEntry, "course__parent_school__host_unit")


class CityReferenceAdmin(CityEditsMixin, PickerScopeMixin, admin.ModelAdmin):
    """City-wide reference data: the city's to edit. Every district's courses are
    filed under the same themes and stages, so staff look, and only a city
    administrator (or a superuser) adds, changes or deletes — not a district
    administrator, though their admin group holds every model permission."""

    def has_module_permission(self, request):
        return access.is_staff_member(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)


@admin.register(Theme)
class ThemeAdmin(CityReferenceAdmin):
    list_display = ["name", "sort_order"]
    search_fields = ["name"]


@admin.register(Stage)
class StageAdmin(CityReferenceAdmin):
    list_display = ["code", "sort_order"]


class CourseSessionForm(forms.ModelForm):
    """Session fields plus its Offering's times and capacity, saved through the services.

    A new time is a move (``course_session_update`` → ``offering_reschedule``):
    booked and waiting families are told once and their reminders follow. A
    cancelled session cannot be edited; a session that has started cannot move.
    """

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
            if offering.status == Offering.Status.CANCELLED:
                for field in self.fields.values():
                    field.disabled = True
            elif offering.starts_at <= timezone.now():
                for name in ("starts_at", "ends_at"):
                    if name in self.fields:
                        self.fields[name].disabled = True
                        self.fields[name].help_text = BookingError(
                            "offering_started_no_move"
                        ).message

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            offering = self.instance.offering
            for name in ("starts_at", "ends_at"):
                # The form shows whole seconds: a time posted back unchanged is the
                # stored one, not a move by its microseconds (no false "time changed").
                stored, posted = getattr(offering, name), data.get(name)
                if posted is not None and posted == stored.replace(microsecond=0):
                    data[name] = stored
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


def _places(obj) -> str:
    if not obj.pk:
        return "—"
    offering = obj.offering
    text = f"{offering.places_taken}/{offering.capacity} · {offering.waiting_families}"
    if offering.status != Offering.Status.OPEN:
        text = f"{text} · {offering.get_status_display()}"
    return text


class CourseSessionInline(RoleInlineMixin, admin.TabularInline):
    model = CourseSession
    form = CourseSessionForm
    extra = 1
    # A session with bookings is cancelled (course sessions list, "取消所选场次"),
    # which tells its families; it is never deleted.
    can_delete = False
    fields = ["starts_at", "ends_at", "capacity", "venue", "online_url", "places"]
    readonly_fields = ["places"]
    show_change_link = True

    @admin.display(description=_("已确认/候补"))
    def places(self, obj):
        return _places(obj)

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
    # An uploaded file plays in the page and earns credits; an outside link does not
    # (the field help says so). Progress and credits are written only by
    # courses.services from the page's heartbeats, never here.
    fields = ["title", "video_file", "poster", "duration_seconds", "video_url", "sort_order"]


@admin.register(Course)
class CourseAdmin(ServiceWriteMixin, UnitScopedAdmin):
    unit_path = "parent_school__host_unit"
    list_display = ["title", "parent_school", "term", "level", "mode", "credits", "is_published"]
    list_filter = ["is_published", "level", "mode", "audience", "term", "themes", "stages"]
    search_fields = ["title", "summary", "parent_school__name"]
    list_select_related = ["parent_school", "term"]
    filter_horizontal = ["themes", "stages", "instructors"]
    inlines = [CourseSessionInline, OnlineLessonInline]
    actions = ["publish", "unpublish"]

    def has_delete_permission(self, request, obj=None):
        # A course with sessions is unpublished and its sessions cancelled (which
        # tells families); deleting it would drop bookings silently.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or not obj.sessions.exists())

    def save_model(self, request, obj, form, change):
        # The catalogue flag goes through course_publish / course_unpublish (audit
        # entry, scope check); the row keeps its stored value until then.
        wanted = obj.is_published
        obj.is_published = (
            Course.objects.values_list("is_published", flat=True).get(pk=obj.pk)
            if change
            else False
        )
        super().save_model(request, obj, form, change)
        if wanted != obj.is_published:
            self._set_published(request, [obj.pk], wanted, quiet=True)
            obj.is_published = wanted

    def save_formset(self, request, form, formset, change):
        try:
            super().save_formset(request, form, formset, change)
        except (BookingError, CourseError) as error:
            self.service_refused(request, error.message)

    @admin.action(description=_("发布所选课程"))
    def publish(self, request, queryset):
        self._set_published(request, queryset.values_list("pk", flat=True), True)

    @admin.action(description=_("撤回所选课程"))
    def unpublish(self, request, queryset):
        self._set_published(request, queryset.values_list("pk", flat=True), False)

    def _set_published(self, request, course_ids, value, quiet=False):
        changed = 0
        for course_id in course_ids:
            try:
                if value:
                    changed += services.course_publish(
                        course_id=course_id, published_by=request.user
                    )
                else:
                    changed += services.course_unpublish(
                        course_id=course_id, unpublished_by=request.user
                    )
            except CourseError as error:
                self.service_refused(request, error.message)
        if not quiet:
            self.message_user(
                request, gettext("已更新 %(n)s 门课程。") % {"n": changed}, messages.SUCCESS
            )


@admin.register(CourseSession)
class CourseSessionAdmin(ServiceWriteMixin, UnitScopedAdmin):
    """Course sessions: move one (its form), cancel some (the action). Both go
    through courses.services, which tell booked and waiting families once and
    re-plan their reminders. New sessions are added on the course's page."""

    unit_path = "offering__unit"
    form = CourseSessionForm
    list_display = ["__str__", "venue", "places", "status"]
    list_filter = ["offering__status"]
    search_fields = ["course__title", "venue"]
    list_select_related = ["course", "offering"]
    ordering = ["-offering__starts_at"]
    fields = ["course", "starts_at", "ends_at", "capacity", "venue", "online_url", "places"]
    readonly_fields = ["course", "places"]
    actions = ["cancel_sessions"]

    @admin.display(description=_("已确认/候补"))
    def places(self, obj):
        return _places(obj)

    @admin.display(description=_("状态"), ordering="offering__status")
    def status(self, obj):
        return obj.offering.get_status_display()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class WithUser(form):
            def __init__(self, *args, **form_kwargs):
                form_kwargs.setdefault("user", request.user)
                super().__init__(*args, **form_kwargs)

        WithUser.__name__ = form.__name__
        return WithUser

    def save_form(self, request, form, change):
        # form.save() is the service call (course_session_update).
        try:
            return form.save()
        except (BookingError, CourseError) as error:
            self.service_refused(request, error.message)
            return form.instance

    def save_model(self, request, obj, form, change):
        pass  # saved by the service in save_form

    def save_related(self, request, form, formsets, change):
        pass  # no many-to-many fields, no inlines

    @admin.action(description=_("取消所选场次并通知已报名家庭"))
    def cancel_sessions(self, request, queryset):
        done = 0
        for session in queryset.select_related("offering"):
            if not access.can_change_unit(request.user, session.offering.unit_id):
                continue
            if session.offering.status == Offering.Status.CANCELLED:
                continue
            try:
                services.course_session_cancel(session=session, cancelled_by=request.user)
                done += 1
            except (BookingError, CourseError) as error:
                self.message_user(request, f"{session}: {error.message}", messages.WARNING)
        self.message_user(request, gettext("已取消 %(n)s 个场次。") % {"n": done}, messages.SUCCESS)


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
