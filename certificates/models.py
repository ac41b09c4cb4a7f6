"""Certificates anyone can verify (docs/CERTIFICATES.md).

A ``Certificate`` is issued once per person and reason (``key``); a re-issue is a
new revision of the same key, and the old row shows as superseded with a link to
the new one. Every certificate keeps its own public code and verification URL for
life. ``credential`` holds the signed Open Badges 3.0 / W3C Verifiable Credential
made at issue; the PDF (rendered by a worker) embeds the same JSON. Revocation is
published in a Bitstring Status List whose index is the certificate's id.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from courses.models import Course
from members.models import Alliance, Family, MemberUnit
from parent_school.models import Term

#: Crockford's base32 without I, L, O, U: nothing to misread when typed from paper.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10

#: Bits per published status list (the Bitstring Status List minimum, 16 KiB).
STATUS_LIST_SIZE = 131072


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class Kind(models.TextChoices):
    COURSE = "course", _("完成课程")
    CREDITS = "credits", _("学期学分达标")
    LEARNING_FAMILY = "learning_family", _("学习型家庭")
    VOLUNTEER = "volunteer", _("志愿服务")
    TRANSCRIPT = "transcript", _("学分银行成绩单")


#: The kinds a rule can set (a transcript is asked for by the family, not ruled).
RULE_KINDS = [Kind.COURSE, Kind.CREDITS, Kind.LEARNING_FAMILY, Kind.VOLUNTEER]


class CertificateRule(models.Model):
    """What an alliance certifies, and at what threshold (one row per alliance and kind)."""

    alliance = models.ForeignKey(
        Alliance,
        verbose_name=_("联盟"),
        on_delete=models.CASCADE,
        related_name="certificate_rules",
    )
    kind = models.CharField(
        _("证书类别"), max_length=20, choices=[(k.value, k.label) for k in RULE_KINDS]
    )
    is_active = models.BooleanField(_("启用"), default=True)
    # course: the share of the course's sessions attended, and its online lessons
    attendance_percent = models.PositiveSmallIntegerField(
        _("出席比例（%）"),
        default=100,
        help_text=_("完成课程证书：至少出席这一比例的课程场次。"),
    )
    lessons_required = models.BooleanField(
        _("须完成全部线上微课"),
        default=True,
        help_text=_("完成课程证书：课程的线上微课须全部学完。"),
    )
    credits_min = models.DecimalField(
        _("学分门槛"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        help_text=_("学期学分达标证书：一个学期内至少获得的学分。"),
    )
    hours_min = models.DecimalField(
        _("服务时长门槛（小时）"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        help_text=_("志愿服务证书：一个学期内至少服务的小时数。"),
    )
    mentions_child = models.BooleanField(
        _("可写孩子昵称"),
        default=False,
        help_text=_("完成课程证书：家长同意后，证书上可写孩子的昵称（从不写全名）。"),
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("证书规则")
        verbose_name_plural = _("证书规则")
        ordering = ["alliance", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["alliance", "kind"], name="certificate_rule_unique"),
            models.CheckConstraint(
                condition=Q(attendance_percent__gte=1, attendance_percent__lte=100),
                name="certificate_rule_attendance_percent",
            ),
            models.CheckConstraint(
                condition=Q(credits_min__isnull=True) | Q(credits_min__gt=0),
                name="certificate_rule_credits_positive",
            ),
            models.CheckConstraint(
                condition=Q(hours_min__isnull=True) | Q(hours_min__gt=0),
                name="certificate_rule_hours_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alliance} · {self.get_kind_display()}"


class CertificateDesign(models.Model):
    """How an alliance's certificates look: the printed issuer name and the seal image."""

    alliance = models.OneToOneField(
        Alliance,
        verbose_name=_("联盟"),
        on_delete=models.CASCADE,
        related_name="certificate_design",
    )
    issuer_name = models.CharField(
        _("落款名称"), max_length=120, blank=True, help_text=_("留空则用联盟名称。")
    )
    seal = models.ImageField(_("印章图片"), upload_to="certificates/seals/", blank=True)
    signatory = models.CharField(_("签发人"), max_length=60, blank=True)
    footer = models.CharField(_("页脚说明"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("证书样式")
        verbose_name_plural = _("证书样式")

    def __str__(self) -> str:
        return str(self.alliance)


class CertificateBatch(models.Model):
    """One issuing run for an alliance and term, worked in chunks by the workers."""

    class Trigger(models.TextChoices):
        TERM_END = "term_end", _("学期末自动")
        MANUAL = "manual", _("协调员发起")

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("进行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    alliance = models.ForeignKey(
        Alliance, verbose_name=_("联盟"), on_delete=models.CASCADE, related_name="+"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.PROTECT, related_name="+"
    )
    trigger = models.CharField(_("发起方式"), max_length=20, choices=Trigger.choices)
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发起人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Progress: candidates found, looked at so far, certificates written, and
    # candidates already holding theirs.
    total = models.PositiveIntegerField(_("待处理"), default=0)
    processed = models.PositiveIntegerField(_("已处理"), default=0)
    issued = models.PositiveIntegerField(_("新发证书"), default=0)
    skipped = models.PositiveIntegerField(_("已有证书"), default=0)
    # Where the next chunk starts (the kind's position and the last candidate key).
    cursor = models.JSONField(_("进度位置"), default=dict, blank=True)
    error = models.CharField(_("错误"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("证书发放批次")
        verbose_name_plural = _("证书发放批次")
        ordering = ["-created_at", "-id"]
        constraints = [
            # The beat issues once per alliance and term end.
            models.UniqueConstraint(
                fields=["alliance", "term"],
                condition=Q(trigger="term_end"),
                name="certificate_batch_term_end_once",
            ),
            # One open batch at a time per alliance and term (the button twice is one run).
            models.UniqueConstraint(
                fields=["alliance", "term"],
                condition=Q(status__in=["queued", "running"]),
                name="certificate_batch_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alliance} · {self.term} · {self.get_status_display()}"


class Certificate(models.Model):
    class Status(models.TextChoices):
        VALID = "valid", _("有效")
        REVOKED = "revoked", _("已撤销")
        SUPERSEDED = "superseded", _("已被新证书替换")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The short code printed under the QR code and typed on the verification page.
    code = models.CharField(_("验证码"), max_length=CODE_LENGTH, unique=True, default=new_code)
    # Once per person and reason, e.g. "course:12:family:34"; revisions are re-issues.
    key = models.CharField(_("发放键"), max_length=160)
    revision = models.PositiveSmallIntegerField(_("版本"), default=1)
    kind = models.CharField(_("证书类别"), max_length=20, choices=Kind.choices)
    alliance = models.ForeignKey(
        Alliance, verbose_name=_("联盟"), on_delete=models.PROTECT, related_name="+"
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("发证单位"), on_delete=models.PROTECT, related_name="+"
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
        blank=True,
        on_delete=models.SET_NULL,
        related_name="certificates",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("持证人账号"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="certificates",
    )
    # What is printed: the guardian's (or volunteer's) name, or 「…家庭」. Pages
    # that anyone can open show it masked (recognition.computation.mask_name).
    holder_name = models.CharField(_("持证人"), max_length=60)
    # Only for a rule about a child whose guardian opted in; a nickname, never a name.
    child_nickname = models.CharField(_("孩子昵称"), max_length=20, blank=True)
    subject_title = models.CharField(_("证书内容"), max_length=200)
    course = models.ForeignKey(
        Course,
        verbose_name=_("课程"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    credits = models.DecimalField(_("学分"), max_digits=7, decimal_places=1, null=True, blank=True)
    hours = models.DecimalField(
        _("服务时长（小时）"), max_digits=7, decimal_places=1, null=True, blank=True
    )
    # A transcript's rows, frozen at issue (the PDF and the credential show them).
    data = models.JSONField(_("内容数据"), default=dict, blank=True)
    issued_on = models.DateField(_("发证日期"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.VALID
    )
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    revoke_reason = models.CharField(_("撤销原因"), max_length=200, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("撤销人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    superseded_by = models.OneToOneField(
        "self",
        verbose_name=_("替换为"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes",
    )
    # The signed credential (Open Badges 3.0 / VC 2.0, eddsa-jcs-2022), made at issue.
    credential = models.JSONField(_("可验证凭证"), default=dict, blank=True)
    pdf = models.FileField(_("PDF 文件"), upload_to="certificates/pdf/", blank=True)
    pdf_rendered_at = models.DateTimeField(_("PDF 生成时间"), null=True, blank=True)
    batch = models.ForeignKey(
        CertificateBatch,
        verbose_name=_("发放批次"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="certificates",
    )

    class Meta:
        verbose_name = _("证书")
        verbose_name_plural = _("证书")
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["key", "revision"], name="certificate_key_revision"),
            # One current certificate per person and reason.
            models.UniqueConstraint(
                fields=["key"],
                condition=~Q(status="superseded"),
                name="certificate_one_current_per_key",
            ),
            models.CheckConstraint(
                condition=~Q(status="revoked") | Q(revoked_at__isnull=False),
                name="certificate_revoked_has_date",
            ),
        ]
        indexes = [
            models.Index(fields=["family", "kind"], name="certificate_family_kind"),
            models.Index(fields=["user", "kind"], name="certificate_user_kind"),
            models.Index(fields=["alliance", "term", "kind"], name="certificate_alliance_term"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.code}"

    @property
    def status_list_number(self) -> int:
        return self.pk // STATUS_LIST_SIZE

    @property
    def status_list_index(self) -> int:
        return self.pk % STATUS_LIST_SIZE

    @property
    def can_be_changed(self) -> bool:
        """Only a valid certificate can be revoked or re-issued (the services'
        rule; pages and admin offer the buttons from it)."""
        return self.status == self.Status.VALID

    @property
    def code_display(self) -> str:
        """「K7Q2M-9XD4P」: two groups of five, easier to read out and type."""
        return f"{self.code[:5]}-{self.code[5:]}"


class CertificatePreference(models.Model):
    """A family's choices for its certificates (the child's nickname is opt-in)."""

    family = models.OneToOneField(
        Family,
        verbose_name=_("家庭"),
        on_delete=models.CASCADE,
        related_name="certificate_preference",
    )
    child_nickname_shown = models.BooleanField(
        _("证书上写孩子昵称"),
        default=False,
        help_text=_("只在与孩子有关的证书上写昵称，从不写孩子的全名。"),
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("证书偏好")
        verbose_name_plural = _("证书偏好")

    def __str__(self) -> str:
        return str(self.family)
