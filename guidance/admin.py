"""Admin for the growth-guidance station (docs/GUIDANCE.md, "Admin and demo"),
scoped by guidance.selectors.

- **成长指导工作站**: the stations the user manages (``stations_managed_by``: the
  coordinators of the station's unit, its chief mentor, a district
  administrator's district, the city administrator's every one). Its name,
  description, limits and whether it is in use are saved through
  ``station_update``; the unit is read-only. Administrators add a station at a
  unit through ``station_create`` (one per unit; a district administrator at a
  unit of their district); none is deleted.
- **导师**: the mentors of those stations, added through ``mentor_create`` and
  changed through ``mentor_update`` (the station of a mentor stays where it is).
  The station, login and volunteer-record pickers offer only what the rules allow.
- **每周咨询时段 / 咨询时段 / 咨询预约 / 转介 / 咨询记录 / 回访提醒 / 预约次数占用 /
  预约上限调整**: read-only lists of those stations' rows. A consultation shows no
  family, no child and never its need; a note shows its metadata only (its
  consultation, level, author and times), never its text, sealed or not, in the
  list or on its page. Families book, mentors write and the chief lifts limits
  on the portal's pages, whose services check who may and tell the family.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import (
    ScopedAdminMixin,
    ServiceForm,
    ServiceRowsReadOnlyMixin,
    ServiceSaveMixin,
    pick_rule_register,
)
from members.models import SchoolStage
from members.privacy import person_name
from parent_school.models import GuidanceArea

from . import selectors, services
from .errors import GuidanceError
from .models import (
    Consultation,
    FollowUp,
    GuidanceQuota,
    LimitLift,
    Mentor,
    Note,
    Referral,
    Slot,
    SlotPattern,
    Station,
)

# -- pick rules: the rows a picker, a list filter or a popup may offer -------------


def _managed_station_ids(user):
    return selectors.stations_managed_by(user).order_by().values("pk")


def _by_station(model, station_path: str):
    def rule(user):
        if access.sees_every_district(user):
            return None
        return model._default_manager.filter(**{f"{station_path}__in": _managed_station_ids(user)})

    return rule


pick_rule_register(Station, _by_station(Station, "pk"))
pick_rule_register(Mentor, _by_station(Mentor, "station"))
pick_rule_register(SlotPattern, _by_station(SlotPattern, "mentor__station"))
pick_rule_register(Slot, _by_station(Slot, "mentor__station"))
pick_rule_register(Consultation, _by_station(Consultation, "station"))
pick_rule_register(Referral, _by_station(Referral, "consultation__station"))
pick_rule_register(Note, _by_station(Note, "consultation__station"))
pick_rule_register(FollowUp, _by_station(FollowUp, "consultation__station"))
pick_rule_register(GuidanceQuota, _by_station(GuidanceQuota, "station"))
pick_rule_register(LimitLift, _by_station(LimitLift, "station"))


def _family_label(family_id) -> str:
    if family_id is None:
        return "—"
    return gettext("家庭 #%(id)s") % {"id": family_id}


def _choice_labels(choices, values) -> str:
    labels = dict(choices)
    return "、".join(str(labels.get(v, v)) for v in values or []) or "—"


class _ServiceForm(ServiceForm):
    """Saved by a guidance service (members.admin_scoping.ServiceForm)."""

    service_error = GuidanceError
    service_argument_fields = {"login_user_id": "user", "instructor_id": "instructor"}


class _StationRowsAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Rows of the stations the user manages; staff and chief mentors reach them."""

    station_path = "station"
    show_full_result_count = False

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return rows
        return rows.filter(**{f"{self.station_path}__in": _managed_station_ids(request.user)})

    def _reaches(self, request) -> bool:
        user = request.user
        if access.is_staff_member(user):
            return True
        return selectors.mentors_of_user(user).filter(is_chief=True).exists()

    def has_module_permission(self, request):
        return self._reaches(request)

    def has_view_permission(self, request, obj=None):
        return self._reaches(request)

    def _may_manage(self, request, obj=None) -> bool:
        if obj is None:
            # Asked without a query for coordinators, as the admin's app list asks
            # it on every page; each row is checked below.
            if access.is_coordinator(request.user):
                return True
            return selectors.stations_managed_by(request.user).exists()
        station = obj if isinstance(obj, Station) else obj.station
        return selectors.can_manage_station(request.user, station)


# -- 成长指导工作站 --------------------------------------------------------------------

STATION_FIELDS = ("name", "description", "open_bookings_max", "term_bookings_max", "is_active")


class StationAdminForm(_ServiceForm):
    class Meta:
        model = Station
        fields = list(STATION_FIELDS)

    def service_call(self, data):
        fields = {name: data.get(name) for name in STATION_FIELDS}
        if self.instance.pk is None:
            unit = data.get("unit")
            return services.station_create(
                user=self.request.user, unit_id=unit.pk if unit else None, **fields
            )
        return services.station_update(
            user=self.request.user, station_id=self.instance.pk, **fields
        )


@admin.register(Station)
class StationAdmin(ServiceSaveMixin, _StationRowsAdmin):
    form = StationAdminForm
    station_path = "pk"
    list_display = [
        "name",
        "unit",
        "mentor_count",
        "open_bookings_max",
        "term_bookings_max",
        "is_active",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "unit__name"]
    list_select_related = ["unit"]
    readonly_fields = ["unit"]
    fields = ["name", "unit", "description", "open_bookings_max", "term_bookings_max", "is_active"]
    # A new station's unit: one the user changes (a district administrator's: their
    # district's), not merely one they see.
    pick_rules = {"unit": access.units_changeable_by}

    @admin.display(description=_("在岗导师"))
    def mentor_count(self, obj):
        return obj.mentors.filter(is_active=True).count()

    def has_add_permission(self, request):
        # A station belongs to a unit; an administrator sets it up (station_create),
        # a district administrator at a unit of their district (the unit picker and
        # the service both keep to units_changeable_by).
        return access.is_district_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # consultations keep their station (mark it not in use)

    def has_change_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []  # adding: the unit is chosen once, then stays
        if not self.has_change_permission(request, obj):
            return self.fields
        return self.readonly_fields


# -- 导师 ----------------------------------------------------------------------------


class MentorAdminForm(_ServiceForm):
    areas = forms.MultipleChoiceField(
        label=_("指导领域"), choices=GuidanceArea.choices, widget=forms.CheckboxSelectMultiple
    )
    audiences = forms.MultipleChoiceField(
        label=_("服务对象"), choices=Mentor.Audience.choices, widget=forms.CheckboxSelectMultiple
    )
    stages = forms.MultipleChoiceField(
        label=_("学段"),
        choices=SchoolStage.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("留空表示各学段"),
    )
    modes = forms.MultipleChoiceField(
        label=_("咨询方式"), choices=Mentor.Mode.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Mentor
        fields = [
            "station",
            "name",
            "title",
            "areas",
            "audiences",
            "stages",
            "modes",
            "bio",
            "user",
            "instructor",
            "is_chief",
            "is_active",
            "is_invented",
        ]

    def service_call(self, data):
        profile = {
            "name": data.get("name") or "",
            "title": data.get("title") or "",
            "areas": list(data.get("areas") or []),
            "audiences": list(data.get("audiences") or []),
            "stages": list(data.get("stages") or []),
            "modes": list(data.get("modes") or []),
            "bio": data.get("bio") or "",
            "is_invented": bool(data.get("is_invented")),
        }
        if self.instance.pk is not None:
            # The login, the volunteer record and the chief's seat are set when
            # the mentor is added (mentor_update does not move them).
            return services.mentor_update(
                user=self.request.user,
                mentor_id=self.instance.pk,
                is_active=bool(data.get("is_active")),
                **profile,
            )
        station, login, instructor = (data.get(n) for n in ("station", "user", "instructor"))
        return services.mentor_create(
            user=self.request.user,
            station_id=station.pk if station is not None else None,
            login_user_id=login.pk if login is not None else None,
            instructor_id=instructor.pk if instructor is not None else None,
            is_chief=bool(data.get("is_chief")),
            **profile,
        )


@admin.register(Mentor)
class MentorAdmin(ServiceSaveMixin, _StationRowsAdmin):
    form = MentorAdminForm
    list_display = [
        "name",
        "station",
        "title",
        "areas_label",
        "modes_label",
        "is_chief",
        "is_active",
        "is_invented",
    ]
    list_filter = ["is_chief", "is_active", "is_invented", "station"]
    search_fields = ["name", "title"]
    list_select_related = ["station"]
    raw_id_fields = ["user", "instructor"]

    @admin.display(description=_("指导领域"))
    def areas_label(self, obj):
        return _choice_labels(GuidanceArea.choices, obj.areas)

    @admin.display(description=_("咨询方式"))
    def modes_label(self, obj):
        return _choice_labels(Mentor.Mode.choices, obj.modes)

    def has_add_permission(self, request):
        return self._may_manage(request)

    def has_change_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # a mentor leaves (在岗 off); their consultations keep them

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return [*MentorAdminForm.Meta.fields]
        if obj is not None:
            # A mentor stays at their station; the login, the volunteer record and
            # the chief's seat are set when the mentor is added.
            return ["station", "user", "instructor", "is_chief"]
        return []


# -- read-only rows ------------------------------------------------------------------


class _ReadOnlyStationRowsAdmin(ServiceRowsReadOnlyMixin, _StationRowsAdmin):
    pass


@admin.register(SlotPattern)
class SlotPatternAdmin(_ReadOnlyStationRowsAdmin):
    station_path = "mentor__station"
    list_display = [
        "mentor",
        "weekday",
        "starts_time",
        "minutes",
        "kind",
        "mode",
        "first_date",
        "last_date",
        "is_active",
    ]
    list_filter = ["kind", "mode", "is_active"]
    search_fields = ["mentor__name"]
    list_select_related = ["mentor"]
    ordering = ["mentor__name", "weekday", "starts_time", "pk"]
    fields = [
        "mentor",
        "weekday",
        "starts_time",
        "minutes",
        "kind",
        "capacity",
        "mode",
        "venue",
        "online_url",
        "first_date",
        "last_date",
        "is_active",
        "created_at",
    ]
    readonly_fields = fields


@admin.register(Slot)
class SlotAdmin(_ReadOnlyStationRowsAdmin):
    station_path = "mentor__station"
    list_display = ["mentor", "starts_at", "kind", "mode", "venue", "places"]
    list_filter = ["kind", "mode"]
    search_fields = ["mentor__name"]
    list_select_related = ["mentor", "offering"]
    ordering = ["-offering__starts_at", "-pk"]
    fields = [
        "mentor",
        "occurs_on",
        "starts_at",
        "ends_at",
        "kind",
        "mode",
        "venue",
        "online_url",
        "pattern",
        "places",
        "status",
    ]
    readonly_fields = fields

    @admin.display(description=_("开始时间"), ordering="offering__starts_at")
    def starts_at(self, obj):
        return obj.offering.starts_at

    @admin.display(description=_("结束时间"))
    def ends_at(self, obj):
        return obj.offering.ends_at

    @admin.display(description=_("名额（已约 / 共）"))
    def places(self, obj):
        return f"{obj.offering.places_taken} / {obj.offering.capacity}"

    @admin.display(description=_("状态"))
    def status(self, obj):
        return obj.offering.get_status_display()


@admin.register(Consultation)
class ConsultationAdmin(_ReadOnlyStationRowsAdmin):
    """Who booked, for which child and what they asked stay off this page: the
    need is the mentor's to read (need_read, audit-logged), the family the case's."""

    list_display = ["pk", "station", "mentor", "area", "status", "slot_starts_at", "created_at"]
    list_filter = ["status", "area", "station"]
    search_fields = ["mentor__name"]
    list_select_related = ["station", "mentor", "slot__offering"]
    fields = [
        "station",
        "mentor",
        "area",
        "for_whom",
        "slot",
        "slot_starts_at",
        "term",
        "status",
        "from_referral",
        "created_at",
        "held_at",
        "cancelled_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("咨询时间"), ordering="slot__offering__starts_at")
    def slot_starts_at(self, obj):
        return obj.slot.offering.starts_at

    @admin.display(description=_("来自转介"), boolean=True)
    def from_referral(self, obj):
        return obj.referral_id is not None


@admin.register(Referral)
class ReferralAdmin(_ReadOnlyStationRowsAdmin):
    station_path = "consultation__station"
    list_display = ["consultation_label", "to_area", "to_mentor", "status", "created_at"]
    list_filter = ["status", "to_area"]
    search_fields = ["to_mentor__name"]
    list_select_related = ["to_mentor"]
    fields = ["consultation_label", "to_area", "to_mentor", "message", "status", "created_at"]
    readonly_fields = fields

    @admin.display(description=_("原咨询"))
    def consultation_label(self, obj):
        return gettext("咨询 #%(id)s") % {"id": obj.consultation_id}


@admin.register(Note)
class NoteAdmin(_ReadOnlyStationRowsAdmin):
    """Metadata only: the text of a note (``body``, ``body_sealed``) is never a
    field here, in the list or on the page; it is read on the consultation's page
    by those note_readable allows, audit-logged."""

    station_path = "consultation__station"
    list_display = ["consultation_label", "level", "author_label", "created_at", "updated_at"]
    list_filter = ["level"]
    search_fields = []
    ordering = ["-created_at", "-pk"]
    fields = ["consultation_label", "level", "author_label", "created_at", "updated_at"]
    readonly_fields = fields

    @admin.display(description=_("咨询"))
    def consultation_label(self, obj):
        return gettext("咨询 #%(id)s") % {"id": obj.consultation_id}

    @admin.display(description=_("撰写人"))
    def author_label(self, obj):
        return person_name(obj.author) if obj.author_id else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author").defer("body", "body_sealed")


@admin.register(FollowUp)
class FollowUpAdmin(_ReadOnlyStationRowsAdmin):
    station_path = "consultation__station"
    list_display = ["consultation_label", "due_at", "status", "sent_at", "done_at"]
    list_filter = ["status"]
    fields = [
        "consultation_label",
        "due_at",
        "message",
        "status",
        "created_at",
        "sent_at",
        "done_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("咨询"))
    def consultation_label(self, obj):
        return gettext("咨询 #%(id)s") % {"id": obj.consultation_id}


@admin.register(GuidanceQuota)
class GuidanceQuotaAdmin(_ReadOnlyStationRowsAdmin):
    list_display = ["station", "family_label", "kind_label", "used", "max_used"]
    list_select_related = ["station"]
    ordering = ["station", "family_id", "key"]
    fields = ["station", "family_label", "kind_label", "key", "used", "max_used"]
    readonly_fields = fields

    @admin.display(description=_("家庭"))
    def family_label(self, obj):
        return _family_label(obj.family_id)

    @admin.display(description=_("类别"))
    def kind_label(self, obj):
        if obj.key.startswith("open:"):
            return gettext("同时未完成")
        return gettext("本学期")


@admin.register(LimitLift)
class LimitLiftAdmin(_ReadOnlyStationRowsAdmin):
    list_display = [
        "station",
        "family_label",
        "term",
        "extra_open",
        "extra_term",
        "granted_by_label",
        "created_at",
    ]
    list_select_related = ["station", "term", "granted_by"]
    fields = [
        "station",
        "family_label",
        "term",
        "extra_open",
        "extra_term",
        # Not the chief's reason: it speaks of the family's case, which is the
        # mentors' and the chief's, not the unit's coordinators'.
        "granted_by_label",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("家庭"))
    def family_label(self, obj):
        return _family_label(obj.family_id)

    @admin.display(description=_("批准人"))
    def granted_by_label(self, obj):
        return person_name(obj.granted_by) if obj.granted_by_id else "—"
