"""WeChat identities, the subscription templates an administrator sets, and the
ledger of one-time subscriptions (docs/WECHAT.md)."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# WeChat's template keys: a value kind followed by a number (thing1, time2 …).
TEMPLATE_KEY = re.compile(
    r"^(thing|number|letter|symbol|character_string|time|date|amount|phone_number"
    r"|car_number|name|phrase)\d+$"
)
# What the outbox may put into a template (subscription_deliver's ``values``).
VALUE_NAMES = {
    "title": _("标题（课程或活动名称）"),
    "starts_at": _("开始时间"),
    "venue": _("地点"),
    "note": _("说明"),
    "status": _("状态"),
    "family_member": _("参加人"),
    "reference": _("编号"),
}


class WeChatIdentity(models.Model):
    """A portal account's WeChat user (openid of our mini-program)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        on_delete=models.CASCADE,
        related_name="wechat_identity",
    )
    app_id = models.CharField(_("小程序 AppID"), max_length=32)
    openid = models.CharField("OpenID", max_length=64)
    unionid = models.CharField("UnionID", max_length=64, blank=True)
    # The session_key never leaves the server and is not kept either: only its
    # SHA-256, to tell whether WeChat issued a new session.
    session_key_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("绑定时间"), default=timezone.now, editable=False)
    last_login_at = models.DateTimeField(_("最近登录"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("微信身份")
        verbose_name_plural = _("微信身份")
        constraints = [
            models.UniqueConstraint(
                fields=["app_id", "openid"], name="wechat_identity_openid_per_app"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.openid[:6]}…"


class SubscriptionTemplate(models.Model):
    """The subscription-message template (订阅消息模板) used for one kind of message."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", _("开课/活动提醒")
        TIME_CHANGE = "time_change", _("时间变更")
        CANCELLATION = "cancellation", _("取消通知")
        PROMOTION = "promotion", _("候补转正")
        RECEIPT = "receipt", _("报名回执")
        NOTICE = "notice", _("服务通知")

    kind = models.CharField(_("消息类别"), max_length=20, choices=Kind.choices, unique=True)
    template_id = models.CharField(
        _("模板 ID"),
        max_length=64,
        unique=True,
        help_text=_("微信公众平台 → 订阅消息 → 我的模板 中的模板 ID。"),
    )
    page = models.CharField(
        _("跳转页面"),
        max_length=200,
        blank=True,
        help_text=_("点击消息卡片打开的小程序页面，例如 pages/learning/index；留空则不跳转。"),
    )
    field_map = models.JSONField(
        _("字段对应"),
        default=dict,
        help_text=_(
            '模板的关键词与门户内容的对应，例如 {"thing1": "title", "time2": "starts_at", '
            '"thing3": "venue", "thing4": "note"}。可用内容：title（标题）、starts_at（开始时间）、'
            "venue（地点）、note（说明）、status（状态）、family_member（参加人）、reference（编号）。"
        ),
    )
    is_active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("订阅消息模板")
        verbose_name_plural = _("订阅消息模板")
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}（{self.template_id}）"

    def clean(self) -> None:
        errors = []
        if not isinstance(self.field_map, dict) or not self.field_map:
            raise ValidationError({"field_map": _("请填写至少一个关键词的对应。")})
        for key, value in self.field_map.items():
            if not TEMPLATE_KEY.match(str(key)):
                errors.append(
                    _("“%(key)s”不是微信模板的关键词（例如 thing1、time2）。") % {"key": key}
                )
            if value not in VALUE_NAMES:
                errors.append(_("“%(value)s”不是可用的内容名称。") % {"value": value})
        if errors:
            raise ValidationError({"field_map": errors})


class SubscriptionGrant(models.Model):
    """One answer a user gave to ``wx.requestSubscribeMessage`` for one template.

    An acceptance of a one-time subscription (一次性订阅) allows exactly one
    message: ``spent_at`` is set when a send takes it. A refusal (reject, ban,
    or WeChat's 43101 on a send) is a row with ``refused`` set."""

    class Answer(models.TextChoices):
        ACCEPT = "accept", _("同意")
        REJECT = "reject", _("拒绝")
        BAN = "ban", _("已被封禁")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        on_delete=models.CASCADE,
        related_name="wechat_grants",
    )
    template_id = models.CharField(_("模板 ID"), max_length=64)
    answer = models.CharField(_("用户选择"), max_length=10, choices=Answer.choices)
    accepted_at = models.DateTimeField(_("记录时间"), default=timezone.now)
    spent_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    spent_for = models.CharField(_("用于"), max_length=64, blank=True)
    refused = models.BooleanField(_("已拒收"), default=False)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("订阅授权记录")
        verbose_name_plural = _("订阅授权记录")
        ordering = ["-accepted_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "template_id", "accepted_at"],
                condition=models.Q(spent_at__isnull=True, refused=False),
                name="wechat_grant_unspent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_id} · {self.get_answer_display()}"
