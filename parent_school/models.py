"""Parent schools (家长学校), terms, targets, instructors and brand programmes."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import MemberUnit, Region


class Term(models.Model):
    """A school term, for example “2025–2026学年第二学期”. One term is current."""

    class Semester(models.IntegerChoices):
        FIRST = 1, _("第一学期")
        SECOND = 2, _("第二学期")

    code = models.SlugField(_("代码"), max_length=20, unique=True, help_text=_("例如 2025-2026-2"))
    school_year = models.CharField(_("学年"), max_length=20, help_text=_("例如 2025–2026"))
    semester = models.PositiveSmallIntegerField(_("学期"), choices=Semester.choices)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    is_current = models.BooleanField(_("当前学期"), default=False)

    class Meta:
        verbose_name = _("学期")
        verbose_name_plural = _("学期")
        ordering = ["-starts_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="one_current_term"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")), name="term_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return _("%(year)s学年%(semester)s") % {
            "year": self.school_year,
            "semester": self.get_semester_display(),
        }

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on <= self.starts_on:
            raise ValidationError({"ends_on": _("结束日期须晚于开始日期。")})


class ParentSchool(models.Model):
    class Kind(models.TextChoices):
        COMMUNITY = "community", _("社区家长学校")
        SCHOOL = "school", _("学校家长学校")

    name = models.CharField(_("名称"), max_length=120)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    host_unit = models.ForeignKey(
        MemberUnit,
        verbose_name=_("举办单位"),
        on_delete=models.PROTECT,
        related_name="parent_schools",
    )
    region = models.ForeignKey(
        Region, verbose_name=_("所在区域"), on_delete=models.PROTECT, related_name="parent_schools"
    )
    description = models.TextField(_("简介"), blank=True)
    offers_classroom = models.BooleanField(_("课堂学习"), default=True)
    offers_case_discussion = models.BooleanField(_("案例研讨"), default=True)
    offers_parent_child_practice = models.BooleanField(_("亲子实践"), default=True)
    is_active = models.BooleanField(_("在用"), default=True)

    class Meta:
        verbose_name = _("家长学校")
        verbose_name_plural = _("家长学校")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["host_unit", "name"], name="parent_school_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Target(models.Model):
    """What a parent school must achieve in a term: at least 10 sessions by default."""

    parent_school = models.ForeignKey(
        ParentSchool, verbose_name=_("家长学校"), on_delete=models.CASCADE, related_name="targets"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="targets"
    )
    sessions_required = models.PositiveSmallIntegerField(_("应开课次数"), default=10)
    participants_target = models.PositiveIntegerField(_("参与人次目标"), null=True, blank=True)

    class Meta:
        verbose_name = _("学期目标")
        verbose_name_plural = _("学期目标")
        constraints = [
            models.UniqueConstraint(fields=["parent_school", "term"], name="target_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.parent_school} · {self.term}"


class GuidanceArea(models.TextChoices):
    """The five guidance areas of the Yuzhong network."""

    PATRIOTISM = "patriotism", _("家国情怀培育")
    STUDY = "study", _("学业升学指导")
    CAREER = "career", _("生涯职业引导")
    MENTAL_HEALTH = "mental_health", _("心理健康辅导")
    FAMILY_EDUCATION = "family_education", _("家庭教育指导")


class Instructor(models.Model):
    """An instructor or volunteer, in three tiers: 专家, 教研, 讲师."""

    class Tier(models.TextChoices):
        EXPERT = "expert", _("专家")
        RESEARCH = "research", _("教研")
        LECTURER = "lecturer", _("讲师")

    name = models.CharField(_("姓名"), max_length=50)
    tier = models.CharField(_("层级"), max_length=20, choices=Tier.choices)
    specialties = models.JSONField(
        _("专长领域"), default=list, blank=True, help_text=_("五大指导领域中的一项或多项")
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="instructors"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("关联用户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="instructor_profile",
    )
    is_volunteer = models.BooleanField(_("志愿者"), default=False)
    bio = models.TextField(_("简介"), blank=True)

    class Meta:
        verbose_name = _("讲师/志愿者")
        verbose_name_plural = _("讲师/志愿者")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_tier_display()}）"

    def clean(self) -> None:
        valid = set(GuidanceArea.values)
        if not isinstance(self.specialties, list) or not set(self.specialties) <= valid:
            raise ValidationError({"specialties": _("专长领域只能取五大指导领域。")})


class BrandProgramme(models.Model):
    """A signature programme (特色品牌), e.g. 慧育家·爱有方 of the district women's federation."""

    name = models.CharField(_("名称"), max_length=80, unique=True)
    owner_unit = models.ForeignKey(
        MemberUnit,
        verbose_name=_("主办单位"),
        on_delete=models.PROTECT,
        related_name="brand_programmes",
    )
    description = models.TextField(_("简介"), blank=True)
    # Re-encoded from pixels by members.photos (EXIF stripped) before it is saved.
    logo = models.ImageField(_("标志"), upload_to="brands/", blank=True)
    is_active = models.BooleanField(_("在用"), default=True)

    class Meta:
        verbose_name = _("特色品牌")
        verbose_name_plural = _("特色品牌")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
