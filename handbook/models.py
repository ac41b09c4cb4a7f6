"""The smart-parent growth handbook (智慧家长成长手册): items a family may
claim ("10项在家陪伴 + 4种在校陪伴 + N个陪伴好行为") and the claims, which count
only once a verifier at the child's school or the parent school approves them.

Limits (at most N claims of an item per family and day, week or term) live in
``ClaimTally``: one counter row per family, item and period, raised by a single
conditional upsert that refuses once the limit is reached (handbook/services.py).
The database, not the session, holds the count, so signing out and in or using
the API never lifts a limit.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking
from members.models import Alliance, Child, Family, MemberUnit
from parent_school.models import Term


class ItemKind(models.TextChoices):
    HOME = "home", _("在家陪伴")
    SCHOOL = "school", _("在校陪伴")
    BEHAVIOUR = "behaviour", _("陪伴好行为")


class HandbookItem(models.Model):
    """One item of the handbook. ``alliance`` empty: the district's default set,
    used by every alliance that has not made its own."""

    class Evidence(models.TextChoices):
        NONE = "none", _("无需凭证")
        NOTE = "note", _("文字说明")
        PHOTO = "photo", _("照片")
        ATTENDANCE = "attendance", _("门户签到记录")
        COSIGN = "cosign", _("老师或讲师确认")

    class AttendanceMatch(models.TextChoices):
        NONE = "", _("不关联")
        COURSE_SESSION = "course_session", _("家长学校课程场次")
        EVENT = "event", _("联盟活动")

    alliance = models.ForeignKey(
        Alliance,
        verbose_name=_("联盟"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="handbook_items",
        help_text=_("留空表示全区默认手册项目。"),
    )
    kind = models.CharField(_("类别"), max_length=20, choices=ItemKind.choices)
    name = models.CharField(_("名称"), max_length=40)
    description = models.TextField(_("说明"), max_length=500, blank=True)
    points = models.PositiveSmallIntegerField(_("积分"), default=1)
    evidence = models.CharField(
        _("所需凭证"), max_length=20, choices=Evidence.choices, default=Evidence.NOTE
    )
    # At-school items proposed from the attendance record (a portal session or
    # event the family attended); for events optionally only these kinds.
    attendance_match = models.CharField(
        _("自动关联签到"),
        max_length=20,
        choices=AttendanceMatch.choices,
        blank=True,
        default="",
    )
    event_kinds = models.JSONField(
        _("关联的活动类型"), default=list, blank=True, help_text=_("留空表示所有类型的活动。")
    )
    limit_per_day = models.PositiveSmallIntegerField(
        _("每户每天最多"), null=True, blank=True, default=1, help_text=_("留空表示不限。")
    )
    limit_per_week = models.PositiveSmallIntegerField(
        _("每户每周最多"), null=True, blank=True, help_text=_("留空表示不限。")
    )
    limit_per_term = models.PositiveSmallIntegerField(
        _("每户每学期最多"), null=True, blank=True, help_text=_("留空表示不限。")
    )
    position = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("在用"), default=True)
    # Demo and default names the district has not confirmed are shown as such.
    is_sample = models.BooleanField(
        _("示例名称"), default=False, help_text=_("名称为示例，待联盟确认后取消勾选。")
    )
    # The district default this item was copied from (handbook_items_customise):
    # an item and its copy are one item for the limits (ClaimTally is keyed on
    # ``source_id``) and for "items done" (progress, recognition).
    copied_from = models.ForeignKey(
        "self",
        verbose_name=_("复制自"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("手册项目")
        verbose_name_plural = _("手册项目")
        ordering = ["kind", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["alliance", "kind", "name"],
                condition=Q(alliance__isnull=False),
                name="handbook_item_unique_in_alliance",
            ),
            models.UniqueConstraint(
                fields=["kind", "name"],
                condition=Q(alliance__isnull=True),
                name="handbook_item_unique_default",
            ),
            models.CheckConstraint(
                condition=Q(points__gte=1) & Q(points__lte=100), name="handbook_item_points_range"
            ),
            models.CheckConstraint(
                condition=(Q(limit_per_day__isnull=True) | Q(limit_per_day__gte=1))
                & (Q(limit_per_week__isnull=True) | Q(limit_per_week__gte=1))
                & (Q(limit_per_term__isnull=True) | Q(limit_per_term__gte=1)),
                name="handbook_item_limits_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.name}"

    @property
    def source_id(self) -> int | None:
        """The item the limits and "items done" count: the default it was copied from, or itself."""
        return self.copied_from_id or self.pk


class Claim(models.Model):
    """A family's claim of one item on one day; pending until a verifier decides."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审核")
        MORE_INFO = "more_info", _("需补充")
        APPROVED = "approved", _("已通过")
        REJECTED = "rejected", _("未通过")
        WITHDRAWN = "withdrawn", _("已撤回")

    class Source(models.TextChoices):
        PARENT = "parent", _("家长申报")
        ATTENDANCE = "attendance", _("签到记录自动生成")

    # Claims that still hold a place under the item's limits.
    COUNTED_STATUSES = (Status.PENDING, Status.MORE_INFO, Status.APPROVED)

    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="handbook_claims"
    )
    item = models.ForeignKey(
        HandbookItem, verbose_name=_("手册项目"), on_delete=models.PROTECT, related_name="claims"
    )
    child = models.ForeignKey(
        Child,
        verbose_name=_("孩子"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.PROTECT, related_name="handbook_claims"
    )
    # Who verifies: the child's school, or the unit that ran the attended session.
    unit = models.ForeignKey(
        MemberUnit,
        verbose_name=_("审核单位"),
        on_delete=models.PROTECT,
        related_name="handbook_claims",
    )
    occurred_on = models.DateField(_("日期"))
    note = models.TextField(_("说明"), max_length=500, blank=True)
    photo = models.ImageField(_("照片"), upload_to="handbook/%Y/%m/", blank=True)
    # SHA-256 of the decoded, normalised pixels: the same picture sent again is
    # flagged to the verifier, whatever its file name or metadata.
    photo_hash = models.CharField(_("照片指纹"), max_length=64, blank=True, editable=False)
    source = models.CharField(
        _("来源"), max_length=20, choices=Source.choices, default=Source.PARENT
    )
    booking = models.ForeignKey(
        Booking,
        verbose_name=_("签到记录"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    # Awarded on approval (the item's points then); 0 until approved.
    points = models.PositiveSmallIntegerField(_("积分"), default=0)
    flag_burst = models.BooleanField(_("短时间内大量申报"), default=False)
    flag_reused_photo = models.BooleanField(_("照片重复使用"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申报人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("申报时间"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    # The reason of a rejection, or what the verifier asks the family to add.
    decision_reason = models.CharField(_("审核意见"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("手册申报")
        verbose_name_plural = _("手册申报")
        constraints = [
            # One proposal per attended session and item, however often it is proposed.
            models.UniqueConstraint(
                fields=["booking", "item"],
                condition=Q(booking__isnull=False),
                name="handbook_claim_once_per_booking",
            ),
            # A claim never awards itself.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | Q(created_by__isnull=True)
                | ~Q(decided_by=F("created_by")),
                name="handbook_claim_not_self_decided",
            ),
            models.CheckConstraint(
                condition=Q(status="approved") | Q(points=0),
                name="handbook_claim_points_only_approved",
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "status", "created_at"], name="handbook_claim_queue"),
            models.Index(fields=["family", "term", "status"], name="handbook_claim_family"),
            models.Index(fields=["term", "status"], name="handbook_claim_term"),
            models.Index(
                fields=["photo_hash"], condition=~Q(photo_hash=""), name="handbook_claim_photo"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.name} · {self.occurred_on:%Y-%m-%d} · {self.get_status_display()}"


class ClaimTally(models.Model):
    """How many counted claims a family has of an item in one period: the
    database's side of the item's limits (never the session's)."""

    class Period(models.TextChoices):
        DAY = "day", _("天")
        WEEK = "week", _("周")
        TERM = "term", _("学期")

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(HandbookItem, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=10, choices=Period.choices)
    # The first day of the period (the day; the Monday; the term's first day).
    starts_on = models.DateField()
    used = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("申报计数")
        verbose_name_plural = _("申报计数")
        constraints = [
            models.UniqueConstraint(
                fields=["family", "item", "period", "starts_on"], name="handbook_tally_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family_id}·{self.item_id}·{self.period}·{self.starts_on}: {self.used}"
