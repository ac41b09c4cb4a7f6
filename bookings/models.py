"""Limited places, designed once: an Offering has a capacity in persons, and
families book places on it. Course sessions and events each own one Offering,
so enrolment, the waiting list, cancellation and check-in work the same way.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Child, Family, Guardian, MemberUnit


class Offering(models.Model):
    class Kind(models.TextChoices):
        COURSE_SESSION = "course_session", _("课程场次")
        EVENT = "event", _("活动")
        GROUP_SESSION = "group_session", _("小组活动")
        CONSULTATION = "consultation", _("指导咨询")

    class Status(models.TextChoices):
        OPEN = "open", _("开放报名")
        CANCELLED = "cancelled", _("已取消")
        FINISHED = "finished", _("已结束")

    kind = models.CharField(_("类别"), max_length=20, choices=Kind.choices)
    title = models.CharField(_("标题"), max_length=200)
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("主办单位"), on_delete=models.PROTECT, related_name="offerings"
    )
    starts_at = models.DateTimeField(_("开始时间"), db_index=True)
    ends_at = models.DateTimeField(_("结束时间"))
    capacity = models.PositiveIntegerField(_("名额（人）"))
    # Kept in step with the bookings by bookings.services, under the row lock,
    # so lists can show free seats and waiting length without counting rows.
    places_taken = models.PositiveIntegerField(_("已确认人数"), default=0)
    waiting_families = models.PositiveIntegerField(_("候补家庭数"), default=0)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.OPEN)
    booking_opens_at = models.DateTimeField(_("报名开始"), null=True, blank=True)
    booking_closes_at = models.DateTimeField(_("报名截止"), null=True, blank=True)
    cancel_closes_hours = models.PositiveSmallIntegerField(
        _("开始前多少小时停止取消"),
        null=True,
        blank=True,
        help_text=_("留空则使用系统默认值。"),
    )

    class Meta:
        verbose_name = _("名额")
        verbose_name_plural = _("名额")
        constraints = [
            models.CheckConstraint(
                condition=Q(places_taken__lte=models.F("capacity")),
                name="offering_not_overbooked",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def free_places(self) -> int:
        return max(self.capacity - self.places_taken, 0)


class Booking(models.Model):
    """A family's booking of places on an offering: confirmed, waiting or cancelled."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("已确认")
        WAITING = "waiting", _("候补中")
        CANCELLED = "cancelled", _("已取消")

    class Attendance(models.TextChoices):
        UNKNOWN = "unknown", _("未签到")
        PRESENT = "present", _("出席")
        ABSENT = "absent", _("缺席")

    offering = models.ForeignKey(
        Offering, verbose_name=_("名额"), on_delete=models.CASCADE, related_name="bookings"
    )
    # SET_NULL: a deleted family leaves an anonymous booking so term figures hold.
    family = models.ForeignKey(
        Family,
        verbose_name=_("家庭"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="bookings",
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("报名人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices)
    party_size = models.PositiveSmallIntegerField(_("人数"))
    children_count = models.PositiveSmallIntegerField(_("其中孩子"), default=0)
    created_at = models.DateTimeField(_("报名时间"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    promoted_at = models.DateTimeField(_("候补转正时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    attendance = models.CharField(
        _("出勤"), max_length=10, choices=Attendance.choices, default=Attendance.UNKNOWN
    )
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("报名")
        verbose_name_plural = _("报名")
        constraints = [
            models.UniqueConstraint(
                fields=["offering", "family"],
                condition=Q(status__in=["confirmed", "waiting"]),
                name="one_active_booking_per_family",
            ),
        ]
        indexes = [
            models.Index(fields=["offering", "status", "created_at"], name="booking_queue"),
            models.Index(fields=["family", "status"], name="booking_family"),
        ]

    def __str__(self) -> str:
        return f"{self.offering} · {self.get_status_display()}"


class BookingAttendee(models.Model):
    """One person a booking is for: a guardian or a child of the family."""

    booking = models.ForeignKey(
        Booking, verbose_name=_("报名"), on_delete=models.CASCADE, related_name="attendees"
    )
    guardian = models.ForeignKey(
        Guardian, verbose_name=_("监护人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    child = models.ForeignKey(
        Child, verbose_name=_("孩子"), null=True, blank=True, on_delete=models.SET_NULL
    )
    is_child = models.BooleanField(_("是孩子"), default=False)

    class Meta:
        verbose_name = _("参加人")
        verbose_name_plural = _("参加人")

    def __str__(self) -> str:
        return str(self.guardian or self.child or "")
