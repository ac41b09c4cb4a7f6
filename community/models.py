"""The mutual-help board 互助交流 (docs/COMMUNITY.md).

Real names behind, nicknames in front (后台实名、前台自愿): every post keeps the
family and the login that wrote it (for the school's coordinators and the audit
log), and shows only a snapshot of the family's board nickname and the school.
A post is ``HELD`` (seen by its author and the moderators only) until it is
approved, when the sensitive-word check, the board's "first posts are held"
setting, the cloud check or reports say so.
"""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from groups.models import Group
from members.models import Alliance, Family, MemberUnit
from parent_school.models import ParentSchool


class SensitiveWord(models.Model):
    """The district's list, edited in admin through community.services."""

    class Category(models.TextChoices):
        POLITICS = "politics", _("政治敏感")
        PORN = "porn", _("色情低俗")
        VIOLENCE = "violence", _("暴力恐怖")
        GAMBLING = "gambling", _("赌博")
        DRUGS = "drugs", _("毒品")
        FRAUD = "fraud", _("诈骗与违法")
        ADS = "ads", _("广告引流")
        ABUSE = "abuse", _("辱骂攻击")
        PRIVACY = "privacy", _("隐私信息")
        OTHER = "other", _("其他")

    # Stored normalised (community.filtering.normalise): NFKC, lower case, no
    # spaces or punctuation, so that the unique key means "the same word".
    word = models.CharField(_("敏感词"), max_length=50, unique=True)
    category = models.CharField(_("类别"), max_length=20, choices=Category.choices)
    match_pinyin = models.BooleanField(
        _("同时按拼音匹配"),
        default=True,
        help_text=_("也拦截用拼音或同音字写出的这个词。单字词不按拼音匹配。"),
    )
    is_active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("修改人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("敏感词")
        verbose_name_plural = _("敏感词")
        ordering = ["category", "word"]

    def __str__(self) -> str:
        return self.word


class WordListVersion(models.Model):
    """One row: bumped by every change of the list, so that each process rebuilds
    its matcher when (and only when) the list changed."""

    version = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("敏感词表版本")
        verbose_name_plural = _("敏感词表版本")

    def __str__(self) -> str:
        return str(self.version)


class Board(models.Model):
    class Kind(models.TextChoices):
        SCHOOL = "school", _("家长学校交流区")
        GROUP = "group", _("小组交流区")
        ALLIANCE = "alliance", _("联盟公告")

    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    title = models.CharField(_("名称"), max_length=80)
    parent_school = models.ForeignKey(
        ParentSchool,
        verbose_name=_("家长学校"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="boards",
    )
    group = models.OneToOneField(
        Group,
        verbose_name=_("小组"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="board",
    )
    alliance = models.ForeignKey(
        Alliance,
        verbose_name=_("联盟"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="boards",
    )
    # The unit the board speaks for: the parent school's host unit (a group's
    # school's), the alliance's base unit. Coordinators who see it moderate.
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="+"
    )
    hold_first_posts = models.PositiveSmallIntegerField(
        _("新成员前几条先审后发"),
        default=0,
        help_text=_("一个家庭在本交流区的前几条帖子需审核后才显示；0 表示不启用。"),
    )
    is_archived = models.BooleanField(_("已归档"), default=False, editable=False)
    archived_at = models.DateTimeField(_("归档时间"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("交流区")
        verbose_name_plural = _("交流区")
        constraints = [
            models.CheckConstraint(
                name="board_kind_matches_owner",
                condition=(
                    Q(kind="school", parent_school__isnull=False, group__isnull=True)
                    & Q(alliance__isnull=True)
                    | Q(kind="group", group__isnull=False, alliance__isnull=True)
                    | Q(
                        kind="alliance",
                        alliance__isnull=False,
                        parent_school__isnull=True,
                        group__isnull=True,
                    )
                ),
            ),
            models.UniqueConstraint(
                fields=["parent_school"], condition=Q(kind="school"), name="board_one_per_school"
            ),
            models.UniqueConstraint(
                fields=["alliance"], condition=Q(kind="alliance"), name="board_one_per_alliance"
            ),
        ]

    def __str__(self) -> str:
        return self.title


def default_nickname() -> str:
    import secrets

    return "家长" + "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4))


class BoardProfile(models.Model):
    """The family's board nickname: the only name other families ever see."""

    family = models.OneToOneField(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="board_profile"
    )
    nickname = models.CharField(_("交流区昵称"), max_length=16, unique=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("交流区昵称")
        verbose_name_plural = _("交流区昵称")

    def __str__(self) -> str:
        return self.nickname


class Thread(models.Model):
    class Kind(models.TextChoices):
        QUESTION = "question", _("提问")
        SHARING = "sharing", _("分享")
        ANNOUNCEMENT = "announcement", _("公告")

    board = models.ForeignKey(
        Board, verbose_name=_("交流区"), on_delete=models.CASCADE, related_name="threads"
    )
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    title = models.CharField(_("标题"), max_length=80)
    # The thread's state is its opening post's (held until approved, hidden with it).
    status = models.CharField(_("状态"), max_length=20, default="held")
    author_family = models.ForeignKey(
        Family,
        verbose_name=_("发帖家庭"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发帖人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_pinned = models.BooleanField(_("置顶"), default=False)
    is_closed = models.BooleanField(_("已关闭"), default=False)
    accepted_post = models.ForeignKey(
        "Post",
        verbose_name=_("采纳的回答"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("采纳人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    accepted_at = models.DateTimeField(_("采纳时间"), null=True, blank=True)
    # Published replies, and the time of the latest published post: kept by
    # community.services so that a board's list needs no count or subquery.
    reply_count = models.PositiveIntegerField(_("回复数"), default=0)
    last_activity_at = models.DateTimeField(_("最后回复时间"))
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    # The first published reply by the school's staff (instructor, mentor,
    # facilitator, coordinator): the "time to the first answer" measure.
    first_staff_reply_at = models.DateTimeField(_("首次老师回复时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("主题帖")
        verbose_name_plural = _("主题帖")
        indexes = [
            models.Index(
                fields=["board", "status", "-is_pinned", "-last_activity_at", "-id"],
                name="thread_board_list",
            ),
            models.Index(fields=["board", "kind", "published_at"], name="thread_board_measures"),
        ]

    def __str__(self) -> str:
        return self.title


class Post(models.Model):
    class Status(models.TextChoices):
        HELD = "held", _("待审核")
        PUBLISHED = "published", _("已发布")
        HIDDEN = "hidden", _("已隐藏")

    class HeldFor(models.TextChoices):
        NONE = "", _("无")
        SENSITIVE = "sensitive", _("含敏感词")
        NEW_MEMBER = "new_member", _("新成员帖子先审后发")
        CLOUD = "cloud", _("内容安全检查")
        REPORTS = "reports", _("多人举报")

    class Role(models.TextChoices):
        FAMILY = "family", _("家长")
        INSTRUCTOR = "instructor", _("讲师")
        FACILITATOR = "facilitator", _("小组带领人")
        COORDINATOR = "coordinator", _("协调员")

    STAFF_ROLES = (Role.INSTRUCTOR, Role.FACILITATOR, Role.COORDINATOR)

    thread = models.ForeignKey(
        Thread, verbose_name=_("主题帖"), on_delete=models.CASCADE, related_name="posts"
    )
    board = models.ForeignKey(
        Board, verbose_name=_("交流区"), on_delete=models.CASCADE, related_name="posts"
    )
    is_opening = models.BooleanField(_("主题首帖"), default=False)
    body = models.TextField(_("内容"))
    author_family = models.ForeignKey(
        Family,
        verbose_name=_("发帖家庭"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发帖人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_role = models.CharField(_("身份"), max_length=20, choices=Role.choices)
    # What other readers see, fixed when posted: a family's board nickname (or a
    # staff member's name) and the school. Never a phone, never a child's name.
    author_name = models.CharField(_("显示名"), max_length=40)
    author_school = models.CharField(_("显示学校"), max_length=120, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices)
    held_for = models.CharField(
        _("待审原因"), max_length=20, choices=HeldFor.choices, blank=True, default=""
    )
    # For moderators only: the categories of the words that matched (never the
    # words themselves to the author, so the list cannot be probed).
    matched_categories = models.CharField(_("命中类别"), max_length=200, blank=True)
    report_count = models.PositiveIntegerField(_("举报数"), default=0)
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("帖子")
        verbose_name_plural = _("帖子")
        indexes = [
            models.Index(fields=["thread", "status", "created_at", "id"], name="post_thread_page"),
            models.Index(fields=["board", "status", "created_at"], name="post_board_queue"),
            models.Index(fields=["board", "author_family", "status"], name="post_board_author"),
        ]

    def __str__(self) -> str:
        return self.body[:30]


class PostImage(models.Model):
    """A picture in a post: re-encoded from its pixels (EXIF stripped), resized."""

    post = models.ForeignKey(
        Post, verbose_name=_("帖子"), on_delete=models.CASCADE, related_name="images"
    )
    image = models.FileField(_("图片"), upload_to="community/%Y/%m/")
    width = models.PositiveIntegerField(_("宽"), default=0)
    height = models.PositiveIntegerField(_("高"), default=0)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("帖子图片")
        verbose_name_plural = _("帖子图片")
        ordering = ["sort_order", "pk"]

    def __str__(self) -> str:
        return self.image.name


class Report(models.Model):
    """A member's report (举报) of a post; one per family and post."""

    class Reason(models.TextChoices):
        ADS = "ads", _("广告或引流")
        ABUSE = "abuse", _("辱骂或人身攻击")
        PRIVACY = "privacy", _("泄露他人隐私")
        FALSE = "false", _("不实信息")
        ILLEGAL = "illegal", _("违法违规内容")
        OTHER = "other", _("其他")

    post = models.ForeignKey(
        Post, verbose_name=_("帖子"), on_delete=models.CASCADE, related_name="reports"
    )
    reporter_family = models.ForeignKey(
        Family,
        verbose_name=_("举报家庭"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reporter_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("举报人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(_("原因"), max_length=20, choices=Reason.choices)
    detail = models.CharField(_("补充说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("举报时间"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("举报")
        verbose_name_plural = _("举报")
        constraints = [
            models.UniqueConstraint(
                fields=["post", "reporter_family"], name="report_one_per_family"
            ),
            models.UniqueConstraint(
                fields=["post", "reporter_user"],
                condition=Q(reporter_family__isnull=True),
                name="report_one_per_staff_user",
            ),
        ]
        indexes = [
            models.Index(
                fields=["post"], condition=Q(resolved_at__isnull=True), name="report_open"
            ),
        ]

    def __str__(self) -> str:
        return self.get_reason_display()


class Decision(models.Model):
    """A moderator's decision: what the author is told, and what the log keeps."""

    class Action(models.TextChoices):
        APPROVE = "approve", _("通过")
        HIDE = "hide", _("隐藏")
        WARN = "warn", _("警告")
        MUTE = "mute", _("禁言")
        DISMISS = "dismiss", _("驳回举报")

    board = models.ForeignKey(
        Board, verbose_name=_("交流区"), on_delete=models.CASCADE, related_name="decisions"
    )
    post = models.ForeignKey(
        Post,
        verbose_name=_("帖子"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="decisions",
    )
    family = models.ForeignKey(
        Family,
        verbose_name=_("家庭"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(_("决定"), max_length=20, choices=Action.choices)
    reason = models.CharField(_("理由"), max_length=200, blank=True)
    mute_until = models.DateTimeField(_("禁言至"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("审核决定")
        verbose_name_plural = _("审核决定")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.get_action_display()


class Mute(models.Model):
    """A family may not post, for a while, where the moderator who muted it
    moderates: a school's boards (the school's and its groups') or one group's."""

    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="+"
    )
    parent_school = models.ForeignKey(
        ParentSchool,
        verbose_name=_("家长学校"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    group = models.ForeignKey(
        Group,
        verbose_name=_("小组"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    until = models.DateTimeField(_("禁言至"))
    decision = models.OneToOneField(
        Decision, verbose_name=_("审核决定"), on_delete=models.CASCADE, related_name="mute"
    )

    class Meta:
        verbose_name = _("禁言")
        verbose_name_plural = _("禁言")
        constraints = [
            models.CheckConstraint(
                name="mute_has_one_scope",
                condition=Q(parent_school__isnull=False, group__isnull=True)
                | Q(parent_school__isnull=True, group__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["family", "until"], name="mute_family_until")]

    def __str__(self) -> str:
        return f"{self.family_id} → {self.until:%Y-%m-%d %H:%M}"


class CommunityPreference(models.Model):
    """Whether a person's board notices come one by one or as one digest a day."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        on_delete=models.CASCADE,
        related_name="community_preference",
    )
    daily_digest = models.BooleanField(
        _("每天汇总一次"),
        default=False,
        help_text=_("交流区的回复与审核结果每天晚上汇总成一条通知。"),
    )
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("交流区通知偏好")
        verbose_name_plural = _("交流区通知偏好")

    def __str__(self) -> str:
        return str(self.user)


class DigestEntry(models.Model):
    """One board notice waiting for a person's daily digest (key: once per person)."""

    key = models.CharField(max_length=160, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("日期"))  # Asia/Shanghai
    subject = models.CharField(_("标题"), max_length=200)
    path = models.CharField(_("链接"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("待汇总通知")
        verbose_name_plural = _("待汇总通知")
        indexes = [
            models.Index(
                fields=["day", "user"], condition=Q(sent_at__isnull=True), name="digest_due"
            )
        ]

    def __str__(self) -> str:
        return self.subject


MUTE_MAX = datetime.timedelta(days=90)
