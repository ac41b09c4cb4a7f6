"""Who is who: users, the alliance registry (regions, alliances, member units),
roles, families with their guardians and children, consent and the audit log.

Children's data is deliberately minimal: a nickname, a birth year, a school
stage and a school. No ID-card number, full birth date or photo is stored.
"""

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

china_mobile_validator = RegexValidator(
    r"^1[3-9]\d{9}$", _("请输入11位中国大陆手机号码，例如 13812341234。")
)


class User(AbstractUser):
    """A person who signs in: a parent, coordinator, instructor or administrator."""

    phone = models.CharField(
        _("手机号码"),
        max_length=11,
        unique=True,
        null=True,
        blank=True,
        validators=[china_mobile_validator],
    )
    phone_verified = models.BooleanField(_("手机号已验证"), default=False)
    display_name = models.CharField(_("称呼"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username


class SchoolStage(models.TextChoices):
    PRESCHOOL = "preschool", _("学前")
    PRIMARY = "primary", _("小学")
    JUNIOR = "junior", _("初中")
    SENIOR = "senior", _("高中")


class Region(models.Model):
    """District → street or town → community."""

    class Kind(models.TextChoices):
        CITY = "city", _("市")
        DISTRICT = "district", _("区/县")
        STREET = "street", _("街道")
        TOWN = "town", _("镇")
        COMMUNITY = "community", _("社区/村")

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    code = models.CharField(_("行政区划代码"), max_length=20, unique=True, null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级区域"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["name"]
        permissions = [
            ("import_region", _("可以导入区域")),
            ("export_region", _("可以导出区域")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="region_unique_name_in_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class MemberUnit(models.Model):
    """A member unit of one or more alliances: a school, hospital, community …"""

    class Kind(models.TextChoices):
        ADULT_SCHOOL = "adult_school", _("成人文化技术学校/社区教育学校")
        COMMUNITY_COLLEGE = "community_college", _("社区教育学院")
        BRANCH = "branch", _("分院")
        LEARNING_CENTRE = "learning_centre", _("社区学习中心")
        KINDERGARTEN = "kindergarten", _("幼儿园")
        PRIMARY_SCHOOL = "primary_school", _("小学")
        MIDDLE_SCHOOL = "middle_school", _("初级中学")
        NINE_YEAR_SCHOOL = "nine_year_school", _("九年一贯制学校")
        HIGH_SCHOOL = "high_school", _("高级中学")
        VOCATIONAL_SCHOOL = "vocational_school", _("职业学校")
        HOSPITAL = "hospital", _("医院")
        COMMUNITY = "community", _("社区（居委会）")
        WOMENS_FEDERATION = "womens_federation", _("妇联")
        LEGAL = "legal", _("公检法机关")
        CULTURAL_VENUE = "cultural_venue", _("图书馆/博物馆/科技馆")
        SOCIAL_ORGANISATION = "social_organisation", _("社会组织")
        ENTERPRISE = "enterprise", _("企业")
        GUIDANCE_CENTRE = "guidance_centre", _("指导中心/指导站")
        OTHER = "other", _("其他")

    code = models.CharField(
        _("单位编码"),
        max_length=40,
        unique=True,
        null=True,
        blank=True,
        help_text=_("导入时用于匹配已有单位；留空则按“名称 + 区域”匹配。"),
    )
    name = models.CharField(_("名称"), max_length=120)
    kind = models.CharField(_("类型"), max_length=30, choices=Kind.choices)
    region = models.ForeignKey(
        Region, verbose_name=_("所在区域"), on_delete=models.PROTECT, related_name="units"
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    is_active = models.BooleanField(_("在用"), default=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("成员单位")
        verbose_name_plural = _("成员单位")
        ordering = ["name"]
        permissions = [
            ("import_memberunit", _("可以导入成员单位")),
            ("export_memberunit", _("可以导出成员单位")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="unit_unique_name_in_region"),
        ]
        # The admin changelist orders by name and filters by kind and active flag.
        indexes = [
            models.Index(fields=["name"], name="unit_name_idx"),
            models.Index(fields=["kind", "is_active"], name="unit_kind_active_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Alliance(models.Model):
    """A home–school–community co-education alliance (协同育人联盟 / 教联体)."""

    name = models.CharField(_("名称"), max_length=120, unique=True)
    short_name = models.CharField(_("简称"), max_length=40, blank=True)
    initiative = models.CharField(_("所属项目"), max_length=120, blank=True)
    region = models.ForeignKey(
        Region, verbose_name=_("所在区域"), on_delete=models.PROTECT, related_name="alliances"
    )
    founded_on = models.DateField(_("成立日期"), null=True, blank=True)
    description = models.TextField(_("简介"), blank=True)
    base_unit = models.ForeignKey(
        MemberUnit,
        verbose_name=_("项目基地"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="based_alliances",
    )
    units = models.ManyToManyField(
        MemberUnit, through="Membership", related_name="alliances", verbose_name=_("成员单位")
    )

    class Meta:
        verbose_name = _("协同育人联盟")
        verbose_name_plural = _("协同育人联盟")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.short_name or self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        BASE = "base", _("项目基地")
        LEAD = "lead", _("牵头单位")
        MEMBER = "member", _("成员单位")

    alliance = models.ForeignKey(
        Alliance, verbose_name=_("联盟"), on_delete=models.CASCADE, related_name="memberships"
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("角色"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_on = models.DateField(_("加入日期"), null=True, blank=True)
    left_on = models.DateField(_("退出日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("联盟成员关系")
        verbose_name_plural = _("联盟成员关系")
        permissions = [
            ("import_membership", _("可以导入联盟成员关系")),
            ("export_membership", _("可以导出联盟成员关系")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["alliance", "unit"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.alliance} · {self.unit}"

    def clean(self) -> None:
        if self.left_on and self.joined_on and self.left_on < self.joined_on:
            raise ValidationError({"left_on": _("退出日期不能早于加入日期。")})


class RoleAssignment(models.Model):
    """A role held by a user. Scoping questions are answered in members/access.py."""

    class Role(models.TextChoices):
        CITY_ADMIN = "city_admin", _("市级管理员")
        DISTRICT_ADMIN = "district_admin", _("区级管理员")
        ALLIANCE_COORDINATOR = "alliance_coordinator", _("联盟协调员")
        UNIT_COORDINATOR = "unit_coordinator", _("单位协调员")
        INSTRUCTOR = "instructor", _("讲师/志愿者")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    role = models.CharField(_("角色"), max_length=30, choices=Role.choices)
    # A district administrator administers one district (a region of kind
    # "district") and everything below it; a city administrator has no scope.
    region = models.ForeignKey(
        Region,
        verbose_name=_("管辖区县"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        limit_choices_to={"kind": Region.Kind.DISTRICT},
    )
    alliance = models.ForeignKey(
        Alliance, verbose_name=_("联盟"), null=True, blank=True, on_delete=models.CASCADE
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("单位"), null=True, blank=True, on_delete=models.CASCADE
    )
    created_at = models.DateTimeField(_("授予时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("角色授权")
        verbose_name_plural = _("角色授权")
        constraints = [
            models.CheckConstraint(
                name="role_scope_matches_role",
                condition=(
                    Q(
                        role="city_admin",
                        region__isnull=True,
                        alliance__isnull=True,
                        unit__isnull=True,
                    )
                    | Q(
                        role="district_admin",
                        region__isnull=False,
                        alliance__isnull=True,
                        unit__isnull=True,
                    )
                    | Q(
                        role="alliance_coordinator",
                        region__isnull=True,
                        alliance__isnull=False,
                        unit__isnull=True,
                    )
                    | Q(
                        role__in=["unit_coordinator", "instructor"],
                        region__isnull=True,
                        alliance__isnull=True,
                        unit__isnull=False,
                    )
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=Q(role="city_admin"),
                name="role_unique_city_admin",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "region"],
                condition=Q(region__isnull=False),
                name="role_unique_per_district",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "alliance"],
                condition=Q(alliance__isnull=False),
                name="role_unique_per_alliance",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "unit"],
                condition=Q(unit__isnull=False),
                name="role_unique_per_unit",
            ),
        ]

    def __str__(self) -> str:
        scope = self.region or self.alliance or self.unit or _("全市")
        return f"{self.user} · {self.get_role_display()} · {scope}"

    def clean(self) -> None:
        needs_alliance = self.role == self.Role.ALLIANCE_COORDINATOR
        needs_unit = self.role in (self.Role.UNIT_COORDINATOR, self.Role.INSTRUCTOR)
        needs_region = self.role == self.Role.DISTRICT_ADMIN
        if needs_alliance and (not self.alliance_id or self.unit_id or self.region_id):
            raise ValidationError(_("联盟协调员须且只能指定一个联盟。"))
        if needs_unit and (not self.unit_id or self.alliance_id or self.region_id):
            raise ValidationError(_("单位协调员和讲师须且只能指定一个单位。"))
        if needs_region and (not self.region_id or self.unit_id or self.alliance_id):
            raise ValidationError(_("区级管理员须且只能指定一个区县，不指定联盟或单位。"))
        if needs_region and self.region.kind != Region.Kind.DISTRICT:
            raise ValidationError(_("区级管理员的管辖范围须是“区/县”类型的区域。"))
        if self.role == self.Role.CITY_ADMIN and (
            self.region_id or self.unit_id or self.alliance_id
        ):
            raise ValidationError(_("市级管理员不指定区县、联盟或单位。"))


def _new_token() -> str:
    return secrets.token_urlsafe(24)


class Family(models.Model):
    """A household. Bookings, credits and calendars belong to the family, not to one login."""

    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    home_community = models.ForeignKey(
        Region,
        verbose_name=_("所在社区"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="families",
    )

    class Meta:
        verbose_name = _("家庭")
        verbose_name_plural = _("家庭")

    def __str__(self) -> str:
        return _("家庭 #%(id)s") % {"id": self.pk}


class Guardian(models.Model):
    """A parent or other guardian: the profile of a parent user inside a family."""

    class Relation(models.TextChoices):
        MOTHER = "mother", _("妈妈")
        FATHER = "father", _("爸爸")
        GRANDPARENT = "grandparent", _("祖辈")
        OTHER = "other", _("其他监护人")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        on_delete=models.CASCADE,
        related_name="guardian",
    )
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="guardians"
    )
    relation = models.CharField(_("与孩子关系"), max_length=20, choices=Relation.choices)
    phone = models.CharField(
        _("手机号码"), max_length=11, blank=True, validators=[china_mobile_validator]
    )
    home_community = models.ForeignKey(
        Region,
        verbose_name=_("所在社区"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="guardians",
    )

    class Meta:
        verbose_name = _("监护人")
        verbose_name_plural = _("监护人")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_relation_display()})"


class Child(models.Model):
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="children"
    )
    nickname = models.CharField(_("昵称"), max_length=20)
    birth_year = models.PositiveSmallIntegerField(_("出生年份"))
    stage = models.CharField(_("学段"), max_length=20, choices=SchoolStage.choices)
    school = models.ForeignKey(
        MemberUnit,
        verbose_name=_("就读学校"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pupils",
    )

    class Meta:
        verbose_name = _("孩子")
        verbose_name_plural = _("孩子")

    def __str__(self) -> str:
        return self.nickname


class FamilyInvitation(models.Model):
    """An invitation for a co-guardian (a grandparent, say) to join a family."""

    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="invitations"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("邀请人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    phone = models.CharField(
        _("手机号码"), max_length=11, blank=True, validators=[china_mobile_validator]
    )
    email = models.EmailField(_("电子邮箱"), blank=True)
    relation = models.CharField(_("与孩子关系"), max_length=20, choices=Guardian.Relation.choices)
    token = models.CharField(max_length=64, unique=True, default=_new_token, editable=False)
    created_at = models.DateTimeField(_("邀请时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("有效期至"))
    accepted_at = models.DateTimeField(_("接受时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("共同监护人邀请")
        verbose_name_plural = _("共同监护人邀请")

    def __str__(self) -> str:
        return self.phone or self.email

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class ConsentRecord(models.Model):
    """Who agreed to which version of which rules, and when."""

    class Document(models.TextChoices):
        CHILDREN_INFO = "children_info", _("儿童个人信息保护规则")
        PRIVACY = "privacy", _("隐私政策")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="consents",
    )
    family = models.ForeignKey(
        Family,
        verbose_name=_("家庭"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="consents",
    )
    document = models.CharField(_("文件"), max_length=20, choices=Document.choices)
    version = models.CharField(_("版本"), max_length=20)
    agreed_at = models.DateTimeField(_("同意时间"), default=timezone.now)

    class Meta:
        verbose_name = _("同意记录")
        verbose_name_plural = _("同意记录")
        indexes = [models.Index(fields=["user", "document", "version"])]

    def __str__(self) -> str:
        return f"{self.get_document_display()} v{self.version}"


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit log is append-only.")

    def delete(self):
        raise PermissionError("The audit log is append-only.")


class AuditLog(models.Model):
    """Append-only record of who did what to which record and when.

    Actions are dotted names, ``<app>.<thing>.<verb>`` (``members.unit.import``).
    Write entries with ``members.services.audit_log_record``.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    actor_label = models.CharField(_("操作人"), max_length=150, blank=True)
    action = models.CharField(_("操作"), max_length=80, db_index=True)
    target_type = models.CharField(_("对象类型"), max_length=80, blank=True)
    target_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    target_repr = models.CharField(_("对象"), max_length=200, blank=True)
    data = models.JSONField(_("详情"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")


class ApiToken(models.Model):
    """A credential for a client of the JSON API (/api/v1/, docs/API.md).

    Only a SHA-256 hash of the token is kept; the token itself is shown once,
    when it is made. A *user* token acts as its user within its scopes; a
    *device* token (a check-in kiosk or tablet) belongs to one member unit and
    can only check families in to that unit's sessions and events. Write with
    ``members.services.api_token_create`` / ``api_token_revoke``.
    """

    class Kind(models.TextChoices):
        USER = "user", _("个人令牌")
        DEVICE = "device", _("签到设备")

    class Scope(models.TextChoices):
        READ = "read", _("查看")
        WRITE = "write", _("报名与修改")
        CHECKIN = "checkin", _("签到")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("所属用户"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text=_("设备令牌为发放它的工作人员。"),
    )
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.USER)
    unit = models.ForeignKey(
        "members.MemberUnit",
        verbose_name=_("签到单位"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="device_tokens",
    )
    name = models.CharField(_("名称"), max_length=60)
    prefix = models.CharField(_("令牌开头"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.CharField(_("权限范围"), max_length=60, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("有效期至"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="user", unit__isnull=True) | Q(kind="device", unit__isnull=False),
                name="api_token_device_has_unit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def is_live(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
