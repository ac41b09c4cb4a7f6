"""Alliance events: meetings, seminars, lectures, workshops, parent–child days.

Places, registration and check-in live on the event's ``bookings.Offering``,
the same limited-places service as course sessions.
"""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking, Offering
from members.models import Alliance, Family, FamilyInvitation, MemberUnit
from members.privacy import mask_phone
from parent_school.models import BrandProgramme, Instructor


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
    brand = models.ForeignKey(
        BrandProgramme,
        verbose_name=_("特色品牌"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    # The instructors and volunteers who led it (their service hours: volunteers).
    led_by = models.ManyToManyField(
        Instructor, verbose_name=_("主讲/带领"), related_name="events_led", blank=True
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


class ReminderRule(models.Model):
    """Remind registrants this many minutes before the start.

    A rule belongs either to one event, or to a scope: an event kind or course
    sessions. An event's own rules replace its kind's; without any rule the
    defaults (24 hours and 2 hours before) apply — see events/reminders.py.
    """

    COURSE_SESSION = "course_session"
    SCOPE_CHOICES = [*Event.Kind.choices, (COURSE_SESSION, _("课程场次"))]

    scope = models.CharField(_("适用范围"), max_length=30, choices=SCOPE_CHOICES, blank=True)
    event = models.ForeignKey(
        Event,
        verbose_name=_("活动"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reminder_rules",
    )
    offset_minutes = models.PositiveIntegerField(
        _("提前（分钟）"), help_text=_("开始前多少分钟提醒，例如 1440 = 24 小时。")
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("提醒规则")
        verbose_name_plural = _("提醒规则")
        ordering = ["scope", "event", "-offset_minutes"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(event__isnull=True) & ~Q(scope=""))
                | (Q(event__isnull=False) & Q(scope="")),
                name="reminder_rule_scope_or_event",
            ),
            models.UniqueConstraint(
                fields=["scope", "offset_minutes"],
                condition=Q(event__isnull=True),
                name="reminder_rule_unique_scope",
            ),
            models.UniqueConstraint(
                fields=["event", "offset_minutes"],
                condition=Q(event__isnull=False),
                name="reminder_rule_unique_event",
            ),
        ]

    def __str__(self) -> str:
        hours = self.offset_minutes / 60
        return _("开始前 %(hours)s 小时") % {"hours": f"{hours:g}"}

    def clean(self) -> None:
        # In an admin inline the event may be set but not saved yet: ask the object.
        if (self.event is not None) == bool(self.scope):
            raise ValidationError(_("提醒规则须且只能指定一个活动或一个适用范围。"))


class ReminderPlan(models.Model):
    """Marks one rule at one start time as planned: its delivery rows exist.

    The reminder pass plans a rule when it falls due, so the set of families it
    reaches (those confirmed by then) is final. A moved start gives a new
    ``scheduled_for`` and therefore a new plan.
    """

    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="reminder_plans")
    offset_minutes = models.PositiveIntegerField()
    scheduled_for = models.DateTimeField()
    skipped = models.BooleanField(default=False)
    created = models.PositiveIntegerField(default=0)
    planned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("提醒计划")
        verbose_name_plural = _("提醒计划")
        constraints = [
            models.UniqueConstraint(
                fields=["offering", "offset_minutes", "scheduled_for"], name="reminder_plan_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offering_id} −{self.offset_minutes}m @ {self.scheduled_for:%Y-%m-%d %H:%M}"


class Notice(models.Model):
    """One message from an app above events (handbook, surveys …), written once.

    Its deliveries (``Delivery`` rows with purpose ``notice``) carry it to each
    recipient on each channel; ``key`` makes "told once" hold however often the
    app asks (events.services.notice_send). ``unit`` is the unit it speaks for
    (the delivery log's scope); blank: the district's.
    """

    key = models.CharField(_("通知编号"), max_length=120, unique=True)
    # "app.what" (letters, digits, ".", "_", "-"): the skip hook's key
    # (events/notices.py) and the in-site notice's kind.
    topic = models.CharField(_("通知类别"), max_length=40, db_index=True)
    unit = models.ForeignKey(
        MemberUnit,
        verbose_name=_("发送单位"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    subject = models.CharField(_("标题"), max_length=200)
    lead = models.TextField(_("正文"))
    sms = models.CharField(_("短信内容"), max_length=200, blank=True)
    path = models.CharField(_("链接"), max_length=300, blank=True)
    wechat_status = models.CharField(_("微信状态"), max_length=5, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("门户通知")
        verbose_name_plural = _("门户通知")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.subject


class Delivery(models.Model):
    """One message to one person on one channel: the unit of "sent once".

    Every message the portal sends to a family goes through these rows (the
    outbox): reminders, time changes, cancellations, booking receipts,
    promotions, withdrawal receipts, co-guardian invitations, account messages
    (allauth's codes and mails: the content waits in the cache, never here),
    notices of other apps (``Notice``). A row is written
    in the same transaction as the change it reports, and sent by a worker
    after the commit (events/reminders.py).

    A row goes to a portal account (``user``) or, for an invitee who has none
    yet, to an ``address`` (phone or email). It is about an offering (a course
    session or an event), an invitation, an account message or a ``Notice``.

    State machine: pending → claimed (claim_token, claimed_at; re-claimable after
    the lease) → sent | skipped | failed; a failed attempt goes back to pending
    with a later ``due_at`` (backoff) until REMINDER_MAX_ATTEMPTS.
    """

    class Purpose(models.TextChoices):
        REMINDER = "reminder", _("开始前提醒")
        CONFIRMATION = "confirmation", _("报名回执")
        TIME_CHANGED = "time_changed", _("时间变更")
        CANCELLED = "cancelled", _("活动取消")
        PROMOTED = "promoted", _("候补转正")
        WITHDRAWN = "withdrawn", _("取消报名回执")
        INVITATION = "invitation", _("共同监护人邀请")
        # A code, an answer texted to a number or an allauth mail: about the
        # person's own account, asked for now (no quiet hours).
        ACCOUNT = "account", _("账号消息")
        # A message of another app (handbook, surveys …): its content is a Notice.
        NOTICE = "notice", _("门户通知")

    # Planned per moment (a rule's moment, the moment of a move or a cancellation).
    OFFERING_PURPOSES = (Purpose.REMINDER, Purpose.TIME_CHANGED, Purpose.CANCELLED)
    # At most one of each per booking.
    BOOKING_PURPOSES = (Purpose.CONFIRMATION, Purpose.PROMOTED, Purpose.WITHDRAWN)

    class Channel(models.TextChoices):
        EMAIL = "email", _("电子邮件")
        INBOX = "inbox", _("站内通知")
        SMS = "sms", _("短信")
        WECHAT = "wechat", _("微信订阅消息")

    class AccountKind(models.TextChoices):
        """What an account message is (the delivery log's words); its content
        is never in the row."""

        VERIFICATION_CODE = "verification_code", _("验证码")
        UNKNOWN_ACCOUNT = "unknown_account", _("未注册提示")
        ACCOUNT_EXISTS = "account_exists", _("已注册提示")
        EMAIL_CONFIRMATION = "email_confirmation", _("邮箱验证邮件")
        PASSWORD_RESET = "password_reset", _("重置密码邮件")
        LOGIN_CODE = "login_code", _("登录验证码邮件")
        SECURITY_NOTICE = "security_notice", _("账号安全通知")

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        CLAIMED = "claimed", _("发送中")
        SENT = "sent", _("已发送")
        SKIPPED = "skipped", _("未发送（不再需要）")
        FAILED = "failed", _("发送失败")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("收件人"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # Only for a recipient without an account (an invitee): the phone or email
    # the message goes to. Rows for an account read the address when sending.
    address = models.CharField(_("收件地址"), max_length=254, blank=True)
    offering = models.ForeignKey(
        Offering,
        verbose_name=_("场次/活动"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    booking = models.ForeignKey(
        Booking,
        verbose_name=_("报名"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    invitation = models.ForeignKey(
        FamilyInvitation,
        verbose_name=_("邀请"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    notice = models.ForeignKey(
        Notice,
        verbose_name=_("门户通知"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    # The portal's address as the inviter saw it (the invitation link is built
    # from it when sending); blank: PORTAL_BASE_URL.
    base_url = models.CharField(_("门户地址"), max_length=200, blank=True)
    purpose = models.CharField(_("类别"), max_length=20, choices=Purpose.choices)
    # An account message: its random id (the unique key, and where its content
    # waits for the worker: members.selectors.account_message_content) and kind.
    message_key = models.CharField(_("消息编号"), max_length=64, blank=True)
    account_kind = models.CharField(
        _("账号消息类别"), max_length=20, choices=AccountKind.choices, blank=True
    )
    offset_minutes = models.PositiveIntegerField(_("提前（分钟）"), default=0)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    # The rule's moment (part of the unique key); due_at is when it may go out
    # (later for an SMS deferred past quiet hours, or after a failed attempt).
    scheduled_for = models.DateTimeField(_("计划时间"))
    due_at = models.DateTimeField(_("发送时间"))
    status = models.CharField(
        _("状态"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("失败次数"), default=0)
    # How often the row was claimed: a row whose worker keeps dying (or whose
    # task keeps being lost) is given up after REMINDER_MAX_CLAIMS claims.
    claims = models.PositiveSmallIntegerField(_("领取次数"), default=0)
    is_late = models.BooleanField(_("迟发"), default=False)
    sent_at = models.DateTimeField(_("发送于"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("消息投递")
        verbose_name_plural = _("消息投递")
        # Each key makes writing the same message twice harmless (bulk_create
        # with ignore_conflicts): planning twice, a repeated signal, a
        # duplicated task.
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "user",
                    "offering",
                    "purpose",
                    "offset_minutes",
                    "scheduled_for",
                    "channel",
                ],
                condition=Q(purpose__in=["reminder", "time_changed", "cancelled"]),
                name="delivery_once",
            ),
            models.UniqueConstraint(
                fields=["user", "booking", "purpose", "channel"],
                condition=Q(purpose__in=["confirmation", "promoted", "withdrawn"]),
                name="delivery_once_per_booking",
            ),
            models.UniqueConstraint(
                fields=["invitation", "channel"],
                condition=Q(purpose="invitation"),
                name="delivery_once_per_invitation",
            ),
            models.UniqueConstraint(
                fields=["message_key", "channel"],
                condition=Q(purpose="account"),
                name="delivery_once_per_account_message",
            ),
            models.UniqueConstraint(
                fields=["notice", "user", "channel"],
                condition=Q(purpose="notice"),
                name="delivery_once_per_notice",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(address=""),
                name="delivery_has_recipient",
            ),
            models.CheckConstraint(
                condition=(Q(purpose="invitation") & Q(invitation__isnull=False))
                | (Q(purpose="account") & ~Q(message_key="") & ~Q(address=""))
                | (Q(purpose="notice") & Q(notice__isnull=False))
                | (~Q(purpose__in=["invitation", "account", "notice"]) & Q(offering__isnull=False)),
                name="delivery_has_subject",
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status="pending"), name="delivery_pending_due"
            ),
            models.Index(
                fields=["claimed_at"], condition=Q(status="claimed"), name="delivery_claimed"
            ),
            models.Index(fields=["offering", "status"], name="delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} · {self.get_channel_display()} · {self.recipient}"

    @property
    def recipient(self) -> str:
        """Who it goes to, for the delivery log (an address always masked; an
        account message names the number or mailbox it went to)."""
        if self.user_id is not None and not self.address:
            return str(self.user)
        if "@" in self.address:
            name, _sep, domain = self.address.partition("@")
            masked = f"{name[:1]}***@{domain}"
        else:
            masked = mask_phone(self.address)
        return f"{self.user}（{masked}）" if self.user_id is not None else masked


def _feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A family's secret calendar URL. Revoking it and making a new one changes the token."""

    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    token = models.CharField(max_length=64, unique=True, default=_feed_token, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("停用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("家庭日历订阅")
        verbose_name_plural = _("家庭日历订阅")
        constraints = [
            models.UniqueConstraint(
                fields=["family"], condition=Q(revoked_at__isnull=True), name="one_live_feed"
            ),
        ]

    def __str__(self) -> str:
        return str(self.family)
