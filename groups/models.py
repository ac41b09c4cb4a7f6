"""Buddy groups (学伴小组 / 家伴小组, docs/GROUPS.md).

A group belongs to one parent school and has one facilitator (an instructor,
mentor or volunteer). Families join it (家伴) or bring a child into it (学伴,
through the family). The limits are held by the database, not by a count read
before a write: ``Group.member_count`` is raised by one conditional UPDATE
(``member_count < max_size``) and checked by a constraint, and ``GroupQuota``
holds how many groups of a kind a family (or a child) is in, raised by one
conditional upsert (``used < N``). Seven families racing for six places give six.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from bookings.models import Offering
from members.models import Child, Family
from parent_school.models import BrandProgramme, ParentSchool


class Group(models.Model):
    class Kind(models.TextChoices):
        FAMILY = "family", _("家伴小组")
        STUDY = "study", _("学伴小组")

    class Joining(models.TextChoices):
        OPEN = "open", _("家庭可直接加入")
        REQUEST = "request", _("申请后由带领人同意")
        FACILITATOR = "facilitator", _("仅由带领人添加")

    class Status(models.TextChoices):
        ACTIVE = "active", _("进行中")
        DISSOLVED = "dissolved", _("已解散")

    class FacilitatorRole(models.TextChoices):
        INSTRUCTOR = "instructor", _("讲师")
        MENTOR = "mentor", _("导师")
        VOLUNTEER = "volunteer", _("志愿者")

    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("小组名称"), max_length=40)
    description = models.CharField(_("小组介绍"), max_length=300, blank=True)
    parent_school = models.ForeignKey(
        ParentSchool, verbose_name=_("家长学校"), on_delete=models.PROTECT, related_name="groups"
    )
    brand = models.ForeignKey(
        BrandProgramme,
        verbose_name=_("特色品牌"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="groups",
    )
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("带领人"),
        on_delete=models.PROTECT,
        related_name="facilitated_groups",
    )
    facilitator_role = models.CharField(
        _("带领人身份"), max_length=20, choices=FacilitatorRole.choices
    )
    min_size = models.PositiveSmallIntegerField(_("最少成员数"), default=2)
    max_size = models.PositiveSmallIntegerField(_("最多成员数"), default=8)
    joining = models.CharField(
        _("加入方式"), max_length=20, choices=Joining.choices, default=Joining.REQUEST
    )
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    # Active members, kept by groups.services under the database's own condition
    # (member_count < max_size) and the constraint below; never counted then written.
    member_count = models.PositiveSmallIntegerField(_("成员数"), default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    dissolved_at = models.DateTimeField(_("解散时间"), null=True, blank=True, editable=False)
    dissolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("解散人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("学伴/家伴小组")
        verbose_name_plural = _("学伴/家伴小组")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                name="group_sizes_make_sense",
                condition=Q(max_size__gte=1) & Q(min_size__lte=F("max_size")),
            ),
            models.CheckConstraint(
                name="group_not_over_full", condition=Q(member_count__lte=F("max_size"))
            ),
        ]
        indexes = [
            models.Index(fields=["parent_school", "status"], name="group_school_status"),
            models.Index(fields=["facilitator", "status"], name="group_facilitator_status"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class GroupMembership(models.Model):
    """A family in a group (家伴), or a child of a family (学伴).

    ``ENDED`` marks the members at the moment the group was dissolved: they (and
    the facilitator) keep reading the archived board. A family that ``LEFT`` or
    was ``REMOVED`` reads nothing of the group any more.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("申请中")
        ACTIVE = "active", _("成员")
        DECLINED = "declined", _("未通过")
        LEFT = "left", _("已退出")
        REMOVED = "removed", _("已移出")
        ENDED = "ended", _("小组已解散")

    OPEN_STATUSES = (Status.REQUESTED, Status.ACTIVE)

    group = models.ForeignKey(
        Group, verbose_name=_("小组"), on_delete=models.CASCADE, related_name="memberships"
    )
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="group_memberships"
    )
    # 学伴 groups: the child who takes part (a child of ``family``); 家伴: empty.
    child = models.ForeignKey(
        Child,
        verbose_name=_("孩子"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="group_memberships",
    )
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices)
    requested_at = models.DateTimeField(_("申请时间"), null=True, blank=True)
    joined_at = models.DateTimeField(_("加入时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("小组成员")
        verbose_name_plural = _("小组成员")
        constraints = [
            # One open membership (request or member) per family in a 家伴 group…
            models.UniqueConstraint(
                fields=["group", "family"],
                condition=Q(child__isnull=True, status__in=["requested", "active"]),
                name="group_one_open_family",
            ),
            # …and per child in a 学伴 group.
            models.UniqueConstraint(
                fields=["group", "child"],
                condition=Q(child__isnull=False, status__in=["requested", "active"]),
                name="group_one_open_child",
            ),
        ]
        indexes = [
            models.Index(fields=["family", "status"], name="group_membership_family"),
            models.Index(fields=["group", "status"], name="group_membership_group"),
        ]

    def __str__(self) -> str:
        return f"{self.group} · {self.get_status_display()}"


class GroupQuota(models.Model):
    """How many groups of a kind a family (家伴) or a child (学伴) is in now.

    ``key`` is ``family:<id>:<kind>`` or ``child:<id>:<kind>``; groups.services
    raises ``used`` with one ``INSERT … ON CONFLICT (key) DO UPDATE … WHERE used
    < N`` (N = GROUPS_MAX_PER_KIND), so two joins at the same instant cannot both
    take the last place.
    """

    key = models.CharField(max_length=60, unique=True)
    used = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("小组数量占用")
        verbose_name_plural = _("小组数量占用")

    def __str__(self) -> str:
        return f"{self.key}={self.used}"


class GroupSession(models.Model):
    """A session of the group's own, booked like any limited places (bookings) by
    the group's members only, and shown in 我的学习."""

    group = models.ForeignKey(
        Group, verbose_name=_("小组"), on_delete=models.CASCADE, related_name="sessions"
    )
    offering = models.OneToOneField(
        Offering, verbose_name=_("名额"), on_delete=models.PROTECT, related_name="group_session"
    )
    venue = models.CharField(_("地点"), max_length=200, blank=True)
    online_url = models.URLField(_("线上链接"), blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("小组活动")
        verbose_name_plural = _("小组活动")

    def __str__(self) -> str:
        return str(self.offering)
