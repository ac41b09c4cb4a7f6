"""Learning families (学习型家庭) and commendation (评先树优).

A coordinator sets an alliance's rules for a term; at term end the portal
computes, in one SQL statement for every unit at once, which families qualify
(``LearningFamilyEntry.qualifies``); the coordinator reviews, includes or
leaves out a family with a written reason, and publishes. A published list
shows family display names only: no children, no phones.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Alliance, Family, Guardian, MemberUnit
from parent_school.models import Term


class LearningFamilyRule(models.Model):
    """What a family of an alliance needs in a term to be named a learning family."""

    alliance = models.ForeignKey(
        Alliance, verbose_name=_("联盟"), on_delete=models.CASCADE, related_name="+"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="+"
    )
    min_credits = models.DecimalField(
        _("最低学分（学分银行）"), max_digits=6, decimal_places=1, default=0
    )
    min_points = models.PositiveIntegerField(_("最低手册积分"), default=0)
    # Distinct items of each kind done (approved) at least once in the term.
    min_home_items = models.PositiveSmallIntegerField(_("在家陪伴至少完成项数"), default=0)
    min_school_items = models.PositiveSmallIntegerField(_("在校陪伴至少完成项数"), default=0)
    min_behaviour_items = models.PositiveSmallIntegerField(_("陪伴好行为至少完成项数"), default=0)
    min_sessions = models.PositiveSmallIntegerField(_("最少出席场次"), default=0)
    no_open_rejection = models.BooleanField(
        _("不得有未解决的未通过申报"),
        default=True,
        help_text=_("本学期有未通过的申报、且同一项目之后没有获得通过的家庭不能入选。"),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("修改人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("学习型家庭评选标准")
        verbose_name_plural = _("学习型家庭评选标准")
        constraints = [
            models.UniqueConstraint(
                fields=["alliance", "term"], name="learning_family_rule_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alliance} · {self.term}"


class LearningFamilyList(models.Model):
    """An alliance's learning-family list for a term: computed, reviewed, published."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("待发布")
        PUBLISHED = "published", _("已发布")

    alliance = models.ForeignKey(
        Alliance, verbose_name=_("联盟"), on_delete=models.CASCADE, related_name="+"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    computed_at = models.DateTimeField(_("计算时间"), null=True, blank=True)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("计算人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发布人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("学习型家庭名单")
        verbose_name_plural = _("学习型家庭名单")
        constraints = [
            models.UniqueConstraint(
                fields=["alliance", "term"], name="learning_family_list_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alliance} · {self.term} · {self.get_status_display()}"


class LearningFamilyEntry(models.Model):
    """One family on a list: what the computation found and what the coordinator decided."""

    family_list = models.ForeignKey(
        LearningFamilyList,
        verbose_name=_("名单"),
        on_delete=models.CASCADE,
        related_name="entries",
    )
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="+"
    )
    # The unit the family belongs to in the alliance (a child's school): scoping.
    unit = models.ForeignKey(
        MemberUnit,
        verbose_name=_("所属单位"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The name printed on the published list (a guardian's masked display name).
    display_name = models.CharField(_("家庭称呼"), max_length=60)
    qualifies = models.BooleanField(_("达到标准"), default=False)
    included = models.BooleanField(_("入选"), default=False)
    override_reason = models.CharField(_("调整理由"), max_length=200, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("调整人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    overridden_at = models.DateTimeField(_("调整时间"), null=True, blank=True)
    credits = models.DecimalField(_("学分"), max_digits=7, decimal_places=1, default=0)
    points = models.PositiveIntegerField(_("手册积分"), default=0)
    sessions = models.PositiveIntegerField(_("出席场次"), default=0)
    home_items = models.PositiveSmallIntegerField(_("在家陪伴项数"), default=0)
    school_items = models.PositiveSmallIntegerField(_("在校陪伴项数"), default=0)
    behaviour_items = models.PositiveSmallIntegerField(_("陪伴好行为项数"), default=0)
    open_rejections = models.PositiveSmallIntegerField(_("未解决的未通过申报"), default=0)

    class Meta:
        verbose_name = _("学习型家庭名单条目")
        verbose_name_plural = _("学习型家庭名单条目")
        constraints = [
            models.UniqueConstraint(
                fields=["family_list", "family"], name="learning_family_entry_unique"
            ),
            # Going against the computation needs a written reason.
            models.CheckConstraint(
                condition=Q(included=models.F("qualifies")) | ~Q(override_reason=""),
                name="learning_family_override_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["family_list", "included"], name="learning_family_included"),
            models.Index(fields=["family_list", "unit"], name="learning_family_unit"),
        ]

    def __str__(self) -> str:
        return self.display_name


class Commendation(models.Model):
    """A guardian commended as 优秀家长 in a term (学习型家庭 come from the lists)."""

    class Kind(models.TextChoices):
        EXCELLENT_PARENT = "excellent_parent", _("优秀家长")

    alliance = models.ForeignKey(
        Alliance, verbose_name=_("联盟"), on_delete=models.CASCADE, related_name="+"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(
        _("类别"), max_length=20, choices=Kind.choices, default=Kind.EXCELLENT_PARENT
    )
    guardian = models.ForeignKey(
        Guardian, verbose_name=_("家长"), on_delete=models.CASCADE, related_name="+"
    )
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="+"
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("推荐单位"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("推荐理由"), max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("推荐人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("推荐时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("评先树优")
        verbose_name_plural = _("评先树优")
        constraints = [
            models.UniqueConstraint(
                fields=["alliance", "term", "kind", "guardian"], name="commendation_unique"
            ),
        ]

    def __str__(self) -> str:
        # The unit names the nomination (never the guardian's name or phone).
        return f"{self.get_kind_display()} · {self.unit} · {self.term}"
