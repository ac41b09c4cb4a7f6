"""Courses of the parent schools, their sessions, online lessons and the credit bank."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking, Offering
from members.models import Child, Family, Guardian, SchoolStage
from parent_school.models import BrandProgramme, Instructor, ParentSchool, Term

# What browsers play in a <video> element (MP4 with H.264, WebM with VP8/VP9).
VIDEO_EXTENSIONS = ["mp4", "m4v", "webm"]
POSTER_EXTENSIONS = ["png", "jpg", "jpeg", "webp"]


class Theme(models.Model):
    """A course theme, e.g. 法治教育, 健康教育, 科学与AI, 心理健康, 亲子沟通."""

    name = models.CharField(_("名称"), max_length=40, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("课程主题")
        verbose_name_plural = _("课程主题")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    """A school stage (学段) as a row, so courses can target several and facets can count."""

    code = models.CharField(_("代码"), max_length=20, unique=True, choices=SchoolStage.choices)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("学段")
        verbose_name_plural = _("学段")
        ordering = ["sort_order"]

    def __str__(self) -> str:
        return self.get_code_display()


class Course(models.Model):
    class Audience(models.TextChoices):
        PARENTS = "parents", _("家长")
        STUDENTS = "students", _("学生")
        PARENT_CHILD = "parent_child", _("亲子")

    class Level(models.TextChoices):
        GENERAL = "general", _("通识")
        BASIC = "basic", _("基础")
        CUSTOMISED = "customised", _("个性定制")
        ONLINE_QUALITY = "online_quality", _("网络优质")

    class Mode(models.TextChoices):
        OFFLINE = "offline", _("线下")
        ONLINE = "online", _("线上")
        BLENDED = "blended", _("线上线下结合")

    title = models.CharField(_("课程名称"), max_length=120)
    summary = models.CharField(_("简介"), max_length=300, blank=True)
    body = models.TextField(_("详细介绍"), blank=True)
    audience = models.CharField(_("对象"), max_length=20, choices=Audience.choices)
    themes = models.ManyToManyField(Theme, verbose_name=_("主题"), related_name="courses")
    stages = models.ManyToManyField(Stage, verbose_name=_("学段"), related_name="courses")
    level = models.CharField(_("层级"), max_length=20, choices=Level.choices)
    mode = models.CharField(_("形式"), max_length=20, choices=Mode.choices)
    parent_school = models.ForeignKey(
        ParentSchool, verbose_name=_("家长学校"), on_delete=models.PROTECT, related_name="courses"
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.PROTECT, related_name="courses"
    )
    brand = models.ForeignKey(
        BrandProgramme,
        verbose_name=_("特色品牌"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="courses",
    )
    instructors = models.ManyToManyField(
        Instructor, verbose_name=_("讲师"), related_name="courses", blank=True
    )
    # 三师联动: an expert (tier 专家) assigned to review this course; set only by
    # courses.services.course_reviewer_assign, shown on the course page.
    reviewer = models.ForeignKey(
        Instructor,
        verbose_name=_("审阅专家"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="courses_reviewed",
        editable=False,
    )
    credits = models.DecimalField(_("学分"), max_digits=4, decimal_places=1, default=1)
    is_published = models.BooleanField(_("已发布"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    # The start of the next open session, kept by courses.services so that the
    # catalogue sorts by an index instead of a subquery per course (20k at city scale).
    next_session_at = models.DateTimeField(_("下次开课"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("课程")
        verbose_name_plural = _("课程")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["term", "is_published"], name="course_term_published"),
            models.Index(fields=["is_published", "next_session_at"], name="course_catalogue_order"),
            # The catalogue's counting query reads every published course's facets
            # from this index alone (an index-only scan, not the table's texts).
            models.Index(
                fields=[
                    "is_published",
                    "level",
                    "mode",
                    "term",
                    "parent_school",
                    "next_session_at",
                    "id",
                ],
                name="course_catalogue_facets",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class CourseSession(models.Model):
    """One offline (or live online) sitting of a course; its places live on an Offering."""

    course = models.ForeignKey(
        Course, verbose_name=_("课程"), on_delete=models.CASCADE, related_name="sessions"
    )
    offering = models.OneToOneField(
        Offering, verbose_name=_("名额"), on_delete=models.PROTECT, related_name="course_session"
    )
    venue = models.CharField(_("地点"), max_length=200, blank=True)
    online_url = models.URLField(_("线上链接"), blank=True)

    class Meta:
        verbose_name = _("课程场次")
        verbose_name_plural = _("课程场次")

    def __str__(self) -> str:
        return f"{self.course} · {self.offering.starts_at:%Y-%m-%d %H:%M}"


class OnlineLesson(models.Model):
    """An online micro-course lesson (微课).

    An uploaded video plays inside the lesson page and counts for credits: the
    server counts the watching time from the page's heartbeats. An outside link
    (``video_url``) opens another site, where nothing can be measured, so it is
    labelled 外部链接 and earns no credit.
    """

    course = models.ForeignKey(
        Course, verbose_name=_("课程"), on_delete=models.CASCADE, related_name="lessons"
    )
    title = models.CharField(_("标题"), max_length=120)
    video_url = models.URLField(
        _("外部视频链接"),
        blank=True,
        help_text=_("在其他网站观看，本站无法统计观看时长，不计学分。"),
    )
    video_file = models.FileField(
        _("视频文件"),
        upload_to="lessons/",
        blank=True,
        validators=[FileExtensionValidator(VIDEO_EXTENSIONS)],
        help_text=_("MP4（H.264）或 WebM；在页面内播放，观看满 90% 记入学分。"),
    )
    poster = models.FileField(
        _("封面图片"),
        upload_to="lessons/posters/",
        blank=True,
        validators=[FileExtensionValidator(POSTER_EXTENSIONS)],
        help_text=_("视频加载前显示的图片（PNG、JPG 或 WebP）。"),
    )
    duration_seconds = models.PositiveIntegerField(
        _("时长（秒）"), help_text=_("视频的实际时长，观看进度按它计算。")
    )
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("线上微课")
        verbose_name_plural = _("线上微课")
        ordering = ["course", "sort_order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_seconds__gt=0), name="lesson_duration_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def plays_here(self) -> bool:
        """An uploaded video, played in the page (and so counted for credits)."""
        return bool(self.video_file)

    @property
    def credit_amount(self) -> Decimal:
        """The course's credits shared across its lessons (at least 0.1 each)."""
        lesson_count = max(self.course.lessons.count(), 1)
        return max(
            (Decimal(self.course.credits) / lesson_count).quantize(Decimal("0.1"), ROUND_HALF_UP),
            Decimal("0.1"),
        )

    @property
    def is_outside(self) -> bool:
        """Only an outside link: watched elsewhere, not credited."""
        return not self.video_file and bool(self.video_url)

    def clean(self):
        super().clean()
        if not self.video_file and not self.video_url:
            raise ValidationError(_("请上传视频文件或填写外部视频链接。"))


class LessonProgress(models.Model):
    """How much of a lesson a family has watched, as counted by the server.

    ``seconds_watched`` only grows by heartbeats, each by at most the real time
    since the previous accepted heartbeat (``last_heartbeat_at``), so seeking
    ahead or playing fast does not count. ``position_seconds`` is where the
    player was, to resume there.
    """

    lesson = models.ForeignKey(
        OnlineLesson, verbose_name=_("微课"), on_delete=models.CASCADE, related_name="progress"
    )
    family = models.ForeignKey(
        Family,
        verbose_name=_("家庭"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="lesson_progress",
    )
    seconds_watched = models.FloatField(_("已计入观看（秒）"), default=0)
    percent = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    position_seconds = models.FloatField(_("上次播放位置（秒）"), default=0)
    last_heartbeat_at = models.DateTimeField(_("上次心跳时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("微课进度")
        verbose_name_plural = _("微课进度")
        constraints = [
            models.UniqueConstraint(fields=["lesson", "family"], name="lesson_progress_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.lesson} · {self.percent}%"


class CreditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The credit ledger is append-only; post a reversing entry.")

    def delete(self):
        raise PermissionError("The credit ledger is append-only; post a reversing entry.")


class CreditEntry(models.Model):
    """One row of the credit bank (学分银行). Rows are only appended.

    A correction is a reversing row (negative amount, ``reverses`` set). The
    unique ``key`` makes posting idempotent: the same attendance or lesson can
    never be credited twice.
    """

    class Reason(models.TextChoices):
        ATTENDANCE = "attendance", _("出席课程")
        ONLINE_LESSON = "online_lesson", _("完成线上微课")
        CORRECTION = "correction", _("更正")

    key = models.CharField(max_length=120, unique=True)
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), null=True, on_delete=models.SET_NULL, related_name="credits"
    )
    guardian = models.ForeignKey(
        Guardian, verbose_name=_("监护人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    child = models.ForeignKey(
        Child, verbose_name=_("孩子"), null=True, blank=True, on_delete=models.SET_NULL
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.PROTECT, related_name="credit_entries"
    )
    course = models.ForeignKey(
        Course, verbose_name=_("课程"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = models.DecimalField(_("学分"), max_digits=5, decimal_places=1)
    reason = models.CharField(_("原因"), max_length=20, choices=Reason.choices)
    booking = models.ForeignKey(
        Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="credit_entries"
    )
    lesson_progress = models.ForeignKey(
        LessonProgress, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("记入时间"), auto_now_add=True)

    objects = CreditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("学分记录")
        verbose_name_plural = _("学分银行")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["family", "term"], name="credit_family_term")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The credit ledger is append-only; post a reversing entry.")
        super().save(*args, **kwargs)
