"""The volunteer corps in three tiers (专家—教研—讲师): applications, and the
service-hours record the roll-up reads.

An approved application makes (or links) the applicant's
``parent_school.Instructor`` (tier, ``is_volunteer``) and, where they will
guide, a ``guidance.Mentor``. Service hours are recorded automatically from the
portal's records (course sessions, events and consultations the volunteer led,
one row per volunteer and offering) and entered by hand, then verified by a
coordinator; the roll-up's volunteer hours are the sum of the recorded and
verified rows (reports/rollup.py).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookings.models import Offering
from guidance.models import Station
from members.models import MemberUnit
from parent_school.models import Instructor, ParentSchool, Term


class VolunteerApplication(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("待审核")
        APPROVED = "approved", _("已通过")
        DECLINED = "declined", _("未通过")
        WITHDRAWN = "withdrawn", _("已撤回")

    class ServesAs(models.TextChoices):
        INSTRUCTOR = "instructor", _("授课讲师")
        MENTOR = "mentor", _("指导站导师")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申请人"),
        on_delete=models.CASCADE,
        related_name="volunteer_applications",
    )
    centre = models.ForeignKey(
        MemberUnit,
        verbose_name=_("申请加入的单位"),
        on_delete=models.PROTECT,
        related_name="volunteer_applications",
    )
    name = models.CharField(_("姓名"), max_length=50)
    background = models.TextField(_("专业背景"), max_length=1000)
    expertise = models.CharField(_("擅长方向"), max_length=200)
    areas = models.JSONField(_("指导领域"), default=list)
    availability = models.CharField(_("可服务时间"), max_length=200)
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.SUBMITTED
    )
    tier = models.CharField(_("层级"), max_length=20, choices=Instructor.Tier.choices, blank=True)
    serves_as = models.CharField(_("服务方式"), max_length=20, choices=ServesAs.choices, blank=True)
    station = models.ForeignKey(
        Station,
        verbose_name=_("指导站"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    instructor = models.ForeignKey(
        Instructor,
        verbose_name=_("讲师/志愿者档案"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="applications",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    decision_note = models.CharField(_("审核说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("志愿者申请")
        verbose_name_plural = _("志愿者申请")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "centre"],
                condition=Q(status="submitted"),
                name="one_open_volunteer_application",
            ),
        ]
        indexes = [models.Index(fields=["centre", "status"], name="application_centre_status")]

    def __str__(self) -> str:
        return f"{self.name} · {self.get_status_display()}"


class ServiceHour(models.Model):
    class Source(models.TextChoices):
        SESSION = "session", _("课程授课")
        EVENT = "event", _("活动服务")
        CONSULTATION = "consultation", _("指导咨询")
        MANUAL = "manual", _("其他服务（手工登记）")

    class Status(models.TextChoices):
        RECORDED = "recorded", _("系统记录")
        PENDING = "pending", _("待核实")
        VERIFIED = "verified", _("已核实")
        REJECTED = "rejected", _("未通过")

    COUNTED = (Status.RECORDED, Status.VERIFIED)

    instructor = models.ForeignKey(
        Instructor,
        verbose_name=_("志愿者"),
        on_delete=models.PROTECT,
        related_name="service_hours",
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    offering = models.ForeignKey(
        Offering,
        verbose_name=_("场次"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Where the hours count in the roll-up: the offering's unit (and parent school
    # for a course session); for a manual entry, the volunteer's unit.
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("服务单位"), on_delete=models.PROTECT, related_name="+"
    )
    parent_school = models.ForeignKey(
        ParentSchool,
        verbose_name=_("家长学校"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    served_on = models.DateField(_("服务日期"))
    hours = models.DecimalField(_("时长（小时）"), max_digits=5, decimal_places=1)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("核实人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("核实时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("志愿服务时长")
        verbose_name_plural = _("志愿服务时长")
        ordering = ["-served_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["instructor", "offering"],
                condition=Q(offering__isnull=False),
                name="service_hour_once_per_offering",
            ),
            models.CheckConstraint(
                condition=Q(hours__gt=0) & Q(hours__lte=24), name="service_hours_in_a_day"
            ),
        ]
        indexes = [
            models.Index(fields=["term", "status"], name="service_hour_term_status"),
            models.Index(fields=["instructor", "term"], name="service_hour_volunteer_term"),
        ]

    def __str__(self) -> str:
        return f"{self.instructor_id} · {self.served_on} · {self.hours}"
