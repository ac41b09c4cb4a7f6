"""Alliance events: meetings, seminars, lectures, workshops, parent–child days.

Places, registration and check-in live on the event's ``bookings.Offering``,
the same limited-places service as course sessions.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookings.models import Offering
from members.models import Alliance, MemberUnit


class Event(models.Model):
    class Kind(models.TextChoices):
        PROMOTION_MEETING = "promotion_meeting", _("推进会")
        SEMINAR = "seminar", _("研讨会")
        LECTURE = "lecture", _("讲座")
        WORKSHOP = "workshop", _("工作坊")
        PARENT_CHILD = "parent_child", _("亲子实践")
        VOLUNTEER = "volunteer", _("志愿服务")
        OTHER = "other", _("其他")

    class Audience(models.TextChoices):
        PARENTS = "parents", _("家长")
        FAMILIES = "families", _("亲子家庭")
        STUDENTS = "students", _("学生")
        EDUCATORS = "educators", _("教育工作者")
        PUBLIC = "public", _("社会公众")

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PUBLISHED = "published", _("已发布")
        CANCELLED = "cancelled", _("已取消")
        FINISHED = "finished", _("已结束")

    title = models.CharField(_("活动名称"), max_length=120)
    kind = models.CharField(_("类型"), max_length=30, choices=Kind.choices)
    description = models.TextField(_("活动介绍"), blank=True)
    organiser_alliance = models.ForeignKey(
        Alliance,
        verbose_name=_("主办联盟"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
    )
    # Every event has a responsible unit (for an alliance's event, usually its
    # base unit): scoping and statistics are by unit.
    organiser_unit = models.ForeignKey(
        MemberUnit, verbose_name=_("承办单位"), on_delete=models.PROTECT, related_name="events"
    )
    audience = models.CharField(_("对象"), max_length=20, choices=Audience.choices)
    venue = models.CharField(_("地点"), max_length=200, blank=True)
    online_url = models.URLField(_("线上链接"), blank=True)
    offering = models.OneToOneField(
        Offering, verbose_name=_("名额"), on_delete=models.PROTECT, related_name="event"
    )
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("活动")
        verbose_name_plural = _("活动")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="event_status")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(venue="") | ~Q(online_url=""), name="event_has_a_place"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if not self.venue and not self.online_url:
            raise ValidationError(_("请填写活动地点或线上链接。"))
