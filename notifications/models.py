"""The in-site notification inbox, shared by every app that tells families things."""

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("收件人"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("类别"), max_length=40, blank=True)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    url = models.CharField(_("链接"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("站内通知")
        verbose_name_plural = _("站内通知")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread",
            ),
            models.Index(fields=["user", "-created_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """How a guardian wants to be told: channels and SMS quiet hours (Asia/Shanghai)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    by_email = models.BooleanField(_("电子邮件"), default=True)
    in_site = models.BooleanField(_("站内通知"), default=True)
    by_sms = models.BooleanField(_("短信"), default=False)
    # WeChat subscription messages (订阅消息), for someone who signed in through the
    # mini-program. On unless the person turned it off (or refused in WeChat:
    # notification_wechat_off): someone who saved the page before binding WeChat
    # never chose about it, so binding later turns it on.
    by_wechat = models.BooleanField(_("微信订阅消息"), default=True)
    quiet_start = models.TimeField(_("免打扰开始"), default=datetime.time(22, 0))
    quiet_end = models.TimeField(_("免打扰结束"), default=datetime.time(7, 0))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知偏好")
        verbose_name_plural = _("通知偏好")

    def __str__(self) -> str:
        return str(self.user)
