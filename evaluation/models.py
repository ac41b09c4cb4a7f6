"""The evaluation loop 定标—考核—反馈—提升, per member unit and term.

* 定标 (set targets): ``Responsibility`` is the district's list of what units
  answer for (sessions held, families reached, satisfaction on the term survey,
  response rate …); ``UnitTarget`` sets a value of one of them for one unit and
  term. (Parent schools' session targets stay in parent_school.Target.)
* 考核 (assess): the roll-up computes attainment against these targets
  (reports.UnitAttainment), survey figures included.
* 反馈 (feed back): ``Feedback`` from the district or an alliance coordinator to a
  unit for a term (strengths, problems); the unit's coordinator acknowledges it.
* 提升 (improve): the unit answers with ``ImprovementAction`` rows (what, who, by
  when), whose status moves planned → in progress → done (with evidence);
  every change is an ``ActionUpdate``.

Each step is audit-logged and shown on the unit's dashboard as a timeline
(evaluation/selectors.py), which reads these tables (target changes from
``UnitTargetChange``), not the audit log.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import MemberUnit
from parent_school.models import Term


class Responsibility(models.Model):
    """One line of the district's list of responsibilities, measured by ``metric``."""

    class Metric(models.TextChoices):
        SESSIONS_HELD = "sessions_held", _("开课次数")
        EVENTS_HELD = "events_held", _("活动场次")
        FAMILIES = "families", _("覆盖家庭数")
        PERSON_TIMES = "person_times", _("参与人次")
        ATTENDANCE_RATE = "attendance_rate", _("出勤率（%）")
        SATISFACTION = "satisfaction", _("学期问卷满意度（5分制）")
        RESPONSE_RATE = "response_rate", _("问卷回收率（%）")

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=80)
    metric = models.CharField(_("衡量指标"), max_length=30, choices=Metric.choices)
    default_value = models.DecimalField(_("默认目标值"), max_digits=9, decimal_places=1)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("在用"), default=True)

    class Meta:
        verbose_name = _("工作职责")
        verbose_name_plural = _("工作职责")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class UnitTarget(models.Model):
    """定标: a unit's target for one responsibility in one term (met when ≥ value)."""

    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="unit_targets"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="unit_targets"
    )
    responsibility = models.ForeignKey(
        Responsibility, verbose_name=_("工作职责"), on_delete=models.PROTECT, related_name="targets"
    )
    value = models.DecimalField(_("目标值"), max_digits=9, decimal_places=1)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("设定人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    set_at = models.DateTimeField(_("设定时间"))

    class Meta:
        verbose_name = _("单位目标")
        verbose_name_plural = _("单位目标")
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "term", "responsibility"], name="unit_target_unique"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="unit_target_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.unit} · {self.term} · {self.responsibility}"


class Feedback(models.Model):
    """反馈: what the district or an alliance tells a unit about a term."""

    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="feedback"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="feedback"
    )
    strengths = models.TextField(_("亮点"), max_length=2000, blank=True)
    problems = models.TextField(_("问题与不足"), max_length=2000, blank=True)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("反馈人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # As whom it was written (区级 / 联盟), kept: a role can be revoked later.
    written_as = models.CharField(_("反馈方"), max_length=80)
    written_at = models.DateTimeField(_("反馈时间"))
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("确认人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("考核反馈")
        verbose_name_plural = _("考核反馈")
        ordering = ["-written_at", "-pk"]
        indexes = [models.Index(fields=["unit", "term"], name="feedback_unit_term")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(strengths="") | ~Q(problems=""), name="feedback_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit} · {self.term}"


class ImprovementAction(models.Model):
    """提升: one thing the unit will do about its feedback."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("计划中")
        IN_PROGRESS = "in_progress", _("进行中")
        DONE = "done", _("已完成")

    unit = models.ForeignKey(
        MemberUnit,
        verbose_name=_("单位"),
        on_delete=models.CASCADE,
        related_name="improvement_actions",
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="improvement_actions"
    )
    feedback = models.ForeignKey(
        Feedback,
        verbose_name=_("针对的反馈"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="actions",
    )
    what = models.CharField(_("改进措施"), max_length=300)
    owner = models.CharField(_("负责人"), max_length=50)
    due_on = models.DateField(_("完成期限"))
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.PLANNED
    )
    evidence = models.TextField(_("完成情况与佐证"), max_length=2000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("填写人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("填写时间"))
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("改进措施")
        verbose_name_plural = _("改进措施")
        ordering = ["due_on", "pk"]
        indexes = [models.Index(fields=["unit", "term"], name="action_unit_term")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done") | (~Q(evidence="") & Q(done_at__isnull=False)),
                name="action_done_has_evidence",
            ),
        ]

    def __str__(self) -> str:
        return self.what


class ActionUpdate(models.Model):
    """One change of an action's status (its history, and the timeline's rows)."""

    action = models.ForeignKey(
        ImprovementAction,
        verbose_name=_("改进措施"),
        on_delete=models.CASCADE,
        related_name="updates",
    )
    status = models.CharField(_("状态"), max_length=20, choices=ImprovementAction.Status.choices)
    note = models.TextField(_("说明"), max_length=2000, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("措施进展")
        verbose_name_plural = _("措施进展")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action_id} → {self.status}"


class UnitTargetChange(models.Model):
    """One change of a unit's target: set by hand (``previous`` the value it
    replaced, None when new) or filled from the defaults. The panel's timeline
    reads these, so it shows every change (old → new), not only the latest value."""

    class Source(models.TextChoices):
        SET = "set", _("设定")
        DEFAULT = "default", _("按默认目标填充")

    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="+"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="+"
    )
    responsibility = models.ForeignKey(
        Responsibility, verbose_name=_("工作职责"), on_delete=models.PROTECT, related_name="+"
    )
    previous = models.DecimalField(
        _("原目标值"), max_digits=9, decimal_places=1, null=True, blank=True
    )
    value = models.DecimalField(_("目标值"), max_digits=9, decimal_places=1)
    source = models.CharField(_("方式"), max_length=10, choices=Source.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("设定人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("目标变更")
        verbose_name_plural = _("目标变更")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["unit", "term"], name="target_change_unit_term")]

    def __str__(self) -> str:
        return f"{self.unit_id} · {self.responsibility_id}: {self.previous} → {self.value}"
