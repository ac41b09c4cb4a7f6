"""The growth-guidance station (成长指导工作站): mentors, consultation slots,
consultations, referrals, notes in three levels and follow-ups.

A slot owns one ``bookings.Offering`` (kind ``consultation``): families book it
through ``bookings.services`` like any limited places, so locking, the waiting
list, receipts and reminders are the bookings'. A ``Consultation`` is the
station's record of one such booking (the area, for whom, the need, the notes).

Per-family limits (at most N open consultations and M per term at a station)
are ``GuidanceQuota`` rows raised in the booking's transaction by one
conditional upsert, with a check constraint as the last word (docs/GUIDANCE.md).

Private and restricted notes and a booking's need are stored sealed
(``members.sealing``); every read of them is audit-logged by guidance.services.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking, Offering
from members.models import Child, Family, MemberUnit
from parent_school.models import GuidanceArea, Instructor, Term


class Station(models.Model):
    """A guidance station at a unit (the demo: Zhenhai's 海天舒 station)."""

    unit = models.OneToOneField(
        MemberUnit,
        verbose_name=_("所属单位"),
        on_delete=models.PROTECT,
        related_name="guidance_station",
    )
    name = models.CharField(_("名称"), max_length=120)
    description = models.TextField(_("简介"), blank=True)
    open_bookings_max = models.PositiveSmallIntegerField(
        _("每个家庭同时未完成的预约上限"), default=2
    )
    term_bookings_max = models.PositiveSmallIntegerField(_("每个家庭每学期预约上限"), default=4)
    is_active = models.BooleanField(_("在用"), default=True)

    class Meta:
        verbose_name = _("成长指导工作站")
        verbose_name_plural = _("成长指导工作站")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(open_bookings_max__gte=1) & Q(term_bookings_max__gte=1),
                name="station_limits_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Mentor(models.Model):
    """A mentor of a station. The public profile is name, title, areas, audiences,
    ways of meeting and a short bio; never a phone."""

    class Mode(models.TextChoices):
        IN_PERSON = "in_person", _("面谈")
        PHONE = "phone", _("电话")
        ONLINE = "online", _("线上")

    class Audience(models.TextChoices):
        STUDENT = "student", _("学生")
        PARENT = "parent", _("家长")
        TEACHER = "teacher", _("教师")

    station = models.ForeignKey(
        Station, verbose_name=_("指导站"), on_delete=models.PROTECT, related_name="mentors"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登录账号"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="guidance_mentors",
    )
    # The volunteer record (parent_school.Instructor): service hours and tier.
    instructor = models.ForeignKey(
        Instructor,
        verbose_name=_("讲师/志愿者档案"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="guidance_mentors",
    )
    name = models.CharField(_("姓名"), max_length=50)
    title = models.CharField(_("职称/身份"), max_length=80, blank=True)
    areas = models.JSONField(_("指导领域"), default=list, help_text=_("五大指导领域中的一项或多项"))
    audiences = models.JSONField(_("服务对象"), default=list, help_text=_("学生、家长、教师"))
    stages = models.JSONField(_("学段"), default=list, blank=True, help_text=_("留空表示各学段"))
    modes = models.JSONField(_("咨询方式"), default=list, help_text=_("面谈、电话、线上"))
    bio = models.TextField(_("简介"), max_length=500, blank=True)
    is_chief = models.BooleanField(_("首席导师"), default=False)
    is_active = models.BooleanField(_("在岗"), default=True)
    is_invented = models.BooleanField(
        _("示例人物"), default=False, help_text=_("演示数据中虚构的人物，页面上会标明。")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("导师")
        verbose_name_plural = _("导师")
        ordering = ["-is_chief", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["station"], condition=Q(is_chief=True), name="one_chief_mentor_per_station"
            ),
            models.UniqueConstraint(
                fields=["station", "user"],
                condition=Q(user__isnull=False),
                name="mentor_user_once_per_station",
            ),
        ]
        indexes = [models.Index(fields=["station", "is_active"], name="mentor_station_active")]

    def __str__(self) -> str:
        return self.name

    def area_labels(self) -> list[str]:
        labels = dict(GuidanceArea.choices)
        return [str(labels.get(area, area)) for area in self.areas]


class SlotKind(models.TextChoices):
    ONE_TO_ONE = "one_to_one", _("一对一")
    SMALL_GROUP = "small_group", _("小组")


class SlotPattern(models.Model):
    """A weekly pattern a mentor publishes; guidance.services makes its slots
    ahead (``GUIDANCE_PATTERN_WEEKS``), one per date (unique with the pattern)."""

    mentor = models.ForeignKey(
        Mentor, verbose_name=_("导师"), on_delete=models.CASCADE, related_name="patterns"
    )
    weekday = models.PositiveSmallIntegerField(_("星期"), help_text=_("0 为星期一，6 为星期日"))
    starts_time = models.TimeField(_("开始时间"))
    minutes = models.PositiveSmallIntegerField(_("时长（分钟）"))
    kind = models.CharField(_("形式"), max_length=20, choices=SlotKind.choices)
    capacity = models.PositiveSmallIntegerField(_("名额（人）"), default=1)
    mode = models.CharField(_("方式"), max_length=20, choices=Mentor.Mode.choices)
    venue = models.CharField(_("地点"), max_length=200, blank=True)
    online_url = models.URLField(_("线上链接"), blank=True)
    first_date = models.DateField(_("起始日期"))
    last_date = models.DateField(_("结束日期"), null=True, blank=True)
    is_active = models.BooleanField(_("在用"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("每周咨询时段")
        verbose_name_plural = _("每周咨询时段")
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="pattern_weekday_valid"),
            models.CheckConstraint(condition=Q(minutes__gte=10), name="pattern_minutes_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.mentor} · {self.weekday} {self.starts_time:%H:%M}"


class Slot(models.Model):
    """One consultation time of a mentor: its places are an Offering (kind
    ``consultation``), booked through bookings.services."""

    mentor = models.ForeignKey(
        Mentor, verbose_name=_("导师"), on_delete=models.PROTECT, related_name="slots"
    )
    offering = models.OneToOneField(
        Offering, verbose_name=_("名额"), on_delete=models.PROTECT, related_name="guidance_slot"
    )
    pattern = models.ForeignKey(
        SlotPattern,
        verbose_name=_("每周时段"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="slots",
    )
    occurs_on = models.DateField(_("日期"))
    kind = models.CharField(_("形式"), max_length=20, choices=SlotKind.choices)
    mode = models.CharField(_("方式"), max_length=20, choices=Mentor.Mode.choices)
    venue = models.CharField(_("地点"), max_length=200, blank=True)
    online_url = models.URLField(_("线上链接"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("咨询时段")
        verbose_name_plural = _("咨询时段")
        constraints = [
            models.UniqueConstraint(
                fields=["pattern", "occurs_on"],
                condition=Q(pattern__isnull=False),
                name="slot_once_per_pattern_date",
            ),
        ]
        indexes = [models.Index(fields=["mentor", "occurs_on"], name="slot_mentor_date")]

    def __str__(self) -> str:
        return f"{self.mentor} · {self.occurs_on}"


class Referral(models.Model):
    """A mentor refers a case to another area or mentor; the family is told and
    offered slots. A booking that answers it (``Consultation.referral``) does not
    count against the family's limits."""

    class Status(models.TextChoices):
        OPEN = "open", _("待预约")
        BOOKED = "booked", _("已预约")
        CLOSED = "closed", _("已关闭")

    consultation = models.ForeignKey(
        "Consultation",
        verbose_name=_("原咨询"),
        on_delete=models.CASCADE,
        related_name="referrals",
    )
    to_area = models.CharField(_("转介领域"), max_length=30, choices=GuidanceArea.choices)
    to_mentor = models.ForeignKey(
        Mentor,
        verbose_name=_("转介导师"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals_received",
    )
    # Shown to the family: what the mentor wants them to know, nothing else.
    message = models.CharField(_("给家庭的说明"), max_length=300, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("转介人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("转介时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("转介")
        verbose_name_plural = _("转介")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.consultation_id} → {self.to_area}"


class Consultation(models.Model):
    """The station's record of one booking of a slot."""

    class ForWhom(models.TextChoices):
        PARENT = "parent", _("家长本人")
        CHILD = "child", _("孩子")
        TEACHER = "teacher", _("教师")

    class Status(models.TextChoices):
        BOOKED = "booked", _("已预约")
        WAITING = "waiting", _("候补中")
        HELD = "held", _("已咨询")
        MISSED = "missed", _("未到")
        CANCELLED = "cancelled", _("已取消")

    OPEN_STATUSES = (Status.BOOKED, Status.WAITING)

    booking = models.OneToOneField(
        Booking,
        verbose_name=_("预约"),
        on_delete=models.PROTECT,
        related_name="guidance_consultation",
    )
    slot = models.ForeignKey(
        Slot, verbose_name=_("时段"), on_delete=models.PROTECT, related_name="consultations"
    )
    station = models.ForeignKey(
        Station, verbose_name=_("指导站"), on_delete=models.PROTECT, related_name="consultations"
    )
    mentor = models.ForeignKey(
        Mentor, verbose_name=_("导师"), on_delete=models.PROTECT, related_name="consultations"
    )
    term = models.ForeignKey(
        Term,
        verbose_name=_("学期"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    family = models.ForeignKey(
        Family,
        verbose_name=_("家庭"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="guidance_consultations",
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("预约人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="guidance_consultations",
    )
    for_whom = models.CharField(_("为谁预约"), max_length=20, choices=ForWhom.choices)
    child = models.ForeignKey(
        Child,
        verbose_name=_("孩子"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    area = models.CharField(_("指导领域"), max_length=30, choices=GuidanceArea.choices)
    # The need in a few lines, for the mentor only: sealed (members.sealing,
    # purpose "guidance.need"), read through guidance.services with an audit row.
    need_sealed = models.TextField(_("咨询需求（加密）"), editable=False)
    referral = models.OneToOneField(
        Referral,
        verbose_name=_("来自转介"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="answered_by",
    )
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.BOOKED
    )
    created_at = models.DateTimeField(_("预约时间"), auto_now_add=True)
    held_at = models.DateTimeField(_("咨询时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("咨询预约")
        verbose_name_plural = _("咨询预约")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["station", "status"], name="consultation_station_status"),
            models.Index(fields=["mentor", "status"], name="consultation_mentor_status"),
            models.Index(fields=["family", "status"], name="consultation_family_status"),
        ]

    def __str__(self) -> str:
        return f"{self.mentor} · {self.get_area_display()}"


class Note(models.Model):
    """A note on a consultation, in three levels:

    - ``summary``: shared with the family (plain ``body``);
    - ``private``: the consultation's mentors (the writer, the mentor of the case)
      and the chief mentor (sealed);
    - ``restricted``: the writer and the chief mentor only (sealed), for example
      for 心理健康辅导.

    Sealed bodies never leave through messages, exports, feeds or admin lists.
    """

    class Level(models.TextChoices):
        SUMMARY = "summary", _("共享摘要")
        PRIVATE = "private", _("导师私密记录")
        RESTRICTED = "restricted", _("限阅记录")

    SEALED_LEVELS = (Level.PRIVATE, Level.RESTRICTED)

    consultation = models.ForeignKey(
        Consultation, verbose_name=_("咨询"), on_delete=models.CASCADE, related_name="notes"
    )
    level = models.CharField(_("级别"), max_length=20, choices=Level.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("撰写人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = models.TextField(_("内容"), blank=True)
    body_sealed = models.TextField(_("内容（加密）"), blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("咨询记录")
        verbose_name_plural = _("咨询记录")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["consultation"],
                condition=Q(level="summary"),
                name="one_summary_per_consultation",
            ),
            # A sealed level keeps nothing in clear; a summary nothing sealed.
            models.CheckConstraint(
                condition=(Q(level="summary") & Q(body_sealed=""))
                | (Q(level__in=["private", "restricted"]) & Q(body="")),
                name="note_sealed_by_level",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consultation_id} · {self.get_level_display()}"


class FollowUp(models.Model):
    """A follow-up the mentor schedules: the family is reminded at ``due_at``
    through the outbox (beat enqueues, a worker sends)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("待提醒")
        SENT = "sent", _("已提醒")
        DONE = "done", _("已回访")
        CANCELLED = "cancelled", _("已取消")

    consultation = models.ForeignKey(
        Consultation, verbose_name=_("咨询"), on_delete=models.CASCADE, related_name="followups"
    )
    due_at = models.DateTimeField(_("提醒时间"), db_index=True)
    # Shown to the family in the reminder: never a note's text.
    message = models.CharField(_("提醒内容"), max_length=200, blank=True)
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.SCHEDULED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    sent_at = models.DateTimeField(_("提醒发出时间"), null=True, blank=True)
    done_at = models.DateTimeField(_("回访完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("回访提醒")
        verbose_name_plural = _("回访提醒")
        ordering = ["due_at", "pk"]
        indexes = [models.Index(fields=["status", "due_at"], name="followup_due")]

    def __str__(self) -> str:
        return f"{self.consultation_id} · {self.due_at:%Y-%m-%d}"


class GuidanceQuota(models.Model):
    """A family's tally at a station, on every channel (web, API, admin):

    - ``open:<station>:<family>``: consultations booked or waiting;
    - ``term:<station>:<family>:<term>``: consultations booked in that term.

    guidance.services raises ``used`` with one ``INSERT … ON CONFLICT (key) DO
    UPDATE … WHERE used < max_used`` in the booking's transaction, and releases
    it on cancellation; the check constraint refuses anything above the limit
    whatever writes it. ``max_used`` starts at the station's setting; the chief
    mentor lifts it for a family (``LimitLift``).
    """

    key = models.CharField(max_length=80, unique=True)
    station = models.ForeignKey(
        Station, verbose_name=_("指导站"), on_delete=models.CASCADE, related_name="+"
    )
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="+"
    )
    used = models.PositiveSmallIntegerField(default=0)
    max_used = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("预约次数占用")
        verbose_name_plural = _("预约次数占用")
        constraints = [
            models.CheckConstraint(condition=Q(used__lte=F("max_used")), name="quota_within_limit"),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.used}/{self.max_used}"


class LimitLift(models.Model):
    """The chief mentor lifts a family's limits at the station (audit-logged)."""

    station = models.ForeignKey(
        Station, verbose_name=_("指导站"), on_delete=models.CASCADE, related_name="limit_lifts"
    )
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="+"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="+"
    )
    extra_open = models.PositiveSmallIntegerField(_("增加同时预约数"), default=0)
    extra_term = models.PositiveSmallIntegerField(_("增加本学期预约数"), default=0)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("批准人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("批准时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("预约上限调整")
        verbose_name_plural = _("预约上限调整")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.station_id}/{self.family_id}: +{self.extra_open}/+{self.extra_term}"
