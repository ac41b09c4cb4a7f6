"""Questionnaires (问卷调查): templates in versions, surveys attached to a session,
an event, a course, a parent school's term or an alliance's term, and answers.

Who has answered and what was answered are kept apart:

* ``Participation`` (survey × family, unique) is the only record of *who*: one
  answer per family per survey, held by the database for every survey, named or
  anonymous, whatever browser or login the family uses.
* ``Response`` / ``Answer`` hold *what*. A named survey's response names its
  family. An anonymous survey's response has no family, user, time or sequence
  key: its id is a random UUID and it carries only the number of the batch it was
  released in. Until released, an anonymous response waits in
  ``PendingResponse``, sealed (members/sealing.py), so a database reader cannot
  read it beside the participation written in the same transaction. A worker
  releases pending responses in batches of ``SURVEYS_ANONYMOUS_BATCH``, in
  shuffled order, in one transaction per batch (surveys/services.py).

A template's questions belong to a ``TemplateVersion``; editing a version that
has answers or is used by a published survey makes a new version
(``Question.key`` stays, so results line up across versions). Each survey is
pinned to the version current when it was made (``Survey.version``); its
responses all have that version.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookings.models import Offering
from courses.models import Course
from groups.models import Group
from members.models import Alliance, Family, MemberUnit
from parent_school.models import ParentSchool, Term


class SurveyTemplate(models.Model):
    """A questionnaire as its owner designs it; ``alliance`` empty: the district's."""

    alliance = models.ForeignKey(
        Alliance,
        verbose_name=_("联盟"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="survey_templates",
        help_text=_("留空表示全市通用的问卷模板。"),
    )
    name = models.CharField(_("名称"), max_length=80)
    description = models.TextField(_("说明"), max_length=1000, blank=True)
    is_active = models.BooleanField(_("在用"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("问卷模板")
        verbose_name_plural = _("问卷模板")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["alliance", "name"],
                condition=Q(alliance__isnull=False),
                name="survey_template_unique_in_alliance",
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(alliance__isnull=True),
                name="survey_template_unique_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    """One version of a template's questions. The highest number is current."""

    template = models.ForeignKey(
        SurveyTemplate,
        verbose_name=_("问卷模板"),
        on_delete=models.CASCADE,
        related_name="versions",
    )
    number = models.PositiveSmallIntegerField(_("版本"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("问卷版本")
        verbose_name_plural = _("问卷版本")
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class Section(models.Model):
    version = models.ForeignKey(
        TemplateVersion, verbose_name=_("版本"), on_delete=models.CASCADE, related_name="sections"
    )
    title = models.CharField(_("标题"), max_length=80)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("问卷部分")
        verbose_name_plural = _("问卷部分")
        ordering = ["version", "position", "pk"]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("单选")
        MULTIPLE = "multiple", _("多选")
        RATING = "rating", _("评分（1–5）")
        NPS = "nps", _("推荐度（0–10）")
        SHORT_TEXT = "short_text", _("简答")
        LONG_TEXT = "long_text", _("详答")

    class Measure(models.TextChoices):
        NONE = "", _("不计入考核")
        SATISFACTION = "satisfaction", _("满意度（计入考核）")

    # Kinds whose answers are numbers in ``Answer.number`` (choices: the option's
    # index, one row per chosen option); text kinds fill ``Answer.text``.
    NUMBER_KINDS = (Kind.SINGLE, Kind.MULTIPLE, Kind.RATING, Kind.NPS)
    TEXT_KINDS = (Kind.SHORT_TEXT, Kind.LONG_TEXT)

    version = models.ForeignKey(
        TemplateVersion, verbose_name=_("版本"), on_delete=models.CASCADE, related_name="questions"
    )
    section = models.ForeignKey(
        Section, verbose_name=_("部分"), on_delete=models.CASCADE, related_name="questions"
    )
    # Stable across versions: results of the same template line up by key.
    key = models.SlugField(_("题目代码"), max_length=40)
    kind = models.CharField(_("题型"), max_length=20, choices=Kind.choices)
    label = models.CharField(_("题目"), max_length=200)
    help_text = models.CharField(_("提示"), max_length=200, blank=True)
    required = models.BooleanField(_("必答"), default=True)
    options = models.JSONField(
        _("选项"), default=list, blank=True, help_text=_("单选、多选题的选项，每项一行。")
    )
    position = models.PositiveSmallIntegerField(_("排序"), default=0)
    # Shown only when an earlier question's answer is one of ``show_if_values``
    # (option indexes for choices, numbers for ratings and NPS).
    show_if = models.ForeignKey(
        "self",
        verbose_name=_("显示条件：题目"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    show_if_values = models.JSONField(_("显示条件：答案"), default=list, blank=True)
    measure = models.CharField(
        _("考核指标"), max_length=20, choices=Measure.choices, blank=True, default=""
    )

    class Meta:
        verbose_name = _("问卷题目")
        verbose_name_plural = _("问卷题目")
        ordering = ["version", "section__position", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="question_key_unique"),
            models.CheckConstraint(
                condition=~Q(measure="satisfaction") | Q(kind="rating"),
                name="question_satisfaction_is_rating",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class Survey(models.Model):
    """A template put to families: attached to one thing, open for a window.

    ``scope`` says what it is attached to. A *course* survey is a series: each
    session of the course gets its own survey (``series`` points back), so that
    one family answers once per session and results tell sessions apart.
    ``unit`` is the responsible unit (scoping and statistics): the session's or
    event's unit, the course's or parent school's host unit, the alliance's base
    unit.
    """

    class Scope(models.TextChoices):
        SESSION = "session", _("课程场次")
        EVENT = "event", _("活动")
        COURSE = "course", _("课程（每个场次）")
        PARENT_SCHOOL_TERM = "parent_school_term", _("家长学校学期")
        ALLIANCE_TERM = "alliance_term", _("联盟学期")
        GROUP = "group", _("学伴/家伴小组")
        CONSULTATION = "consultation", _("指导咨询（满意度）")

    # Scopes answered by the families recorded as attending one offering (a
    # consultation's slot is an offering: guidance puts its satisfaction survey).
    ATTENDANCE_SCOPES = (Scope.SESSION, Scope.EVENT, Scope.CONSULTATION)

    template = models.ForeignKey(
        SurveyTemplate, verbose_name=_("问卷模板"), on_delete=models.PROTECT, related_name="surveys"
    )
    # The version families answer, fixed when the survey is made: a later edit of
    # the template makes a new version for new surveys, so every answer of one
    # survey has the same version (no version or its time tells late answers apart).
    version = models.ForeignKey(
        TemplateVersion,
        verbose_name=_("问卷版本"),
        on_delete=models.PROTECT,
        related_name="surveys",
        editable=False,
    )
    title = models.CharField(_("标题"), max_length=120)
    scope = models.CharField(_("对象"), max_length=20, choices=Scope.choices)
    offering = models.ForeignKey(
        Offering,
        verbose_name=_("场次或活动"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="surveys",
    )
    course = models.ForeignKey(
        Course,
        verbose_name=_("课程"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="surveys",
    )
    parent_school = models.ForeignKey(
        ParentSchool,
        verbose_name=_("家长学校"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="surveys",
    )
    alliance = models.ForeignKey(
        Alliance,
        verbose_name=_("联盟"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="surveys",
    )
    # Group surveys: answered by the group's current members (issue 16).
    group = models.ForeignKey(
        Group,
        verbose_name=_("小组"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="surveys",
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.PROTECT, related_name="surveys"
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("负责单位"), on_delete=models.PROTECT, related_name="surveys"
    )
    series = models.ForeignKey(
        "self",
        verbose_name=_("所属课程问卷"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="session_surveys",
        editable=False,
    )
    is_anonymous = models.BooleanField(
        _("匿名"), default=False, help_text=_("匿名问卷不记录答卷属于哪个家庭。")
    )
    opens_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    closes_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    # Session and event surveys: invitations go out this long after the offering
    # ends, and answering stays open ``answer_days`` after it (unless closes_at).
    invite_delay_minutes = models.PositiveIntegerField(_("结束后多久发送邀请（分钟）"), default=120)
    answer_days = models.PositiveSmallIntegerField(_("结束后可作答天数"), default=7)
    remind_before_hours = models.PositiveSmallIntegerField(_("截止前多久提醒（小时）"), default=24)
    is_published = models.BooleanField(_("已发布"), default=False)
    invited_at = models.DateTimeField(_("邀请发送时间"), null=True, blank=True, editable=False)
    reminded_at = models.DateTimeField(_("提醒发送时间"), null=True, blank=True, editable=False)
    # The last invitation pass over a term survey's families (the sweep passes
    # again at most hourly: a term survey may reach 200,000 families).
    invitations_checked_at = models.DateTimeField(
        _("邀请检查时间"), null=True, blank=True, editable=False
    )
    released_batches = models.PositiveIntegerField(_("已发布批次"), default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("问卷")
        verbose_name_plural = _("问卷")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                name="survey_scope_matches_target",
                condition=(
                    (
                        Q(scope__in=["session", "event", "consultation"], offering__isnull=False)
                        & Q(alliance__isnull=True)
                    )
                    | Q(scope="course", course__isnull=False, offering__isnull=True)
                    | Q(
                        scope="parent_school_term",
                        parent_school__isnull=False,
                        offering__isnull=True,
                        course__isnull=True,
                    )
                    | Q(
                        scope="alliance_term",
                        alliance__isnull=False,
                        offering__isnull=True,
                        course__isnull=True,
                        parent_school__isnull=True,
                    )
                    | Q(
                        scope="group",
                        group__isnull=False,
                        offering__isnull=True,
                        course__isnull=True,
                        alliance__isnull=True,
                    )
                ),
            ),
            models.CheckConstraint(
                name="survey_closes_after_opening",
                condition=Q(opens_at__isnull=True)
                | Q(closes_at__isnull=True)
                | Q(closes_at__gt=models.F("opens_at")),
            ),
            # A course series makes each session's survey once.
            models.UniqueConstraint(
                fields=["series", "offering"],
                condition=Q(series__isnull=False),
                name="survey_one_per_series_session",
            ),
            # The same template once per target (a course series' session surveys
            # are held by the constraint above).
            models.UniqueConstraint(
                fields=["template", "term", "parent_school"],
                condition=Q(scope="parent_school_term"),
                name="survey_one_per_school_term",
            ),
            models.UniqueConstraint(
                fields=["template", "term", "alliance"],
                condition=Q(scope="alliance_term"),
                name="survey_one_per_alliance_term",
            ),
            models.UniqueConstraint(
                fields=["template", "offering"],
                condition=Q(scope__in=["session", "event", "consultation"], series__isnull=True),
                name="survey_one_per_offering",
            ),
            models.UniqueConstraint(
                fields=["template", "term", "group"],
                condition=Q(scope="group"),
                name="survey_one_per_group_term",
            ),
            models.UniqueConstraint(
                fields=["template", "course"],
                condition=Q(scope="course"),
                name="survey_one_per_course",
            ),
        ]
        indexes = [
            models.Index(fields=["term", "unit"], name="survey_term_unit"),
            models.Index(fields=["template", "term"], name="survey_template_term"),
        ]

    def __str__(self) -> str:
        return self.title


class Invitation(models.Model):
    """A family invited to a survey (the denominator of the response rate)."""

    survey = models.ForeignKey(
        Survey, verbose_name=_("问卷"), on_delete=models.CASCADE, related_name="invitations"
    )
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="+"
    )
    invited_at = models.DateTimeField(_("邀请时间"))
    reminded_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("问卷邀请")
        verbose_name_plural = _("问卷邀请")
        constraints = [
            models.UniqueConstraint(fields=["survey", "family"], name="invitation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.family_id}"


class Participation(models.Model):
    """That a family has answered a survey: the one answer per family, held here."""

    survey = models.ForeignKey(
        Survey, verbose_name=_("问卷"), on_delete=models.CASCADE, related_name="participations"
    )
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="+"
    )
    answered_at = models.DateTimeField(_("作答时间"))

    class Meta:
        verbose_name = _("作答记录")
        verbose_name_plural = _("作答记录")
        constraints = [
            models.UniqueConstraint(fields=["survey", "family"], name="participation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.family_id}"


class Draft(models.Model):
    """A family's answers in progress, sealed; deleted when the family submits."""

    survey = models.ForeignKey(
        Survey, verbose_name=_("问卷"), on_delete=models.CASCADE, related_name="+"
    )
    family = models.ForeignKey(
        Family, verbose_name=_("家庭"), on_delete=models.CASCADE, related_name="+"
    )
    version = models.ForeignKey(
        TemplateVersion, verbose_name=_("版本"), on_delete=models.CASCADE, related_name="+"
    )
    sealed_answers = models.TextField(_("答案（加密）"))
    step = models.PositiveSmallIntegerField(_("进度"), default=0)
    updated_at = models.DateTimeField(_("保存时间"))

    class Meta:
        verbose_name = _("问卷草稿")
        verbose_name_plural = _("问卷草稿")
        constraints = [
            models.UniqueConstraint(fields=["survey", "family"], name="draft_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.family_id}"


class PendingResponse(models.Model):
    """An anonymous response waiting for its release batch: no family, no time;
    its answers sealed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="+")
    sealed_answers = models.TextField()

    class Meta:
        verbose_name = _("待发布的匿名答卷")
        verbose_name_plural = _("待发布的匿名答卷")

    def __str__(self) -> str:
        return str(self.pk)


class Response(models.Model):
    """One submitted answer sheet. ``family`` and ``submitted_at`` only for named
    surveys; an anonymous one has neither (its ``batch`` is its release batch)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survey = models.ForeignKey(
        Survey, verbose_name=_("问卷"), on_delete=models.CASCADE, related_name="responses"
    )
    version = models.ForeignKey(
        TemplateVersion, verbose_name=_("版本"), on_delete=models.PROTECT, related_name="responses"
    )
    family = models.ForeignKey(
        Family,
        verbose_name=_("家庭"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    batch = models.PositiveIntegerField(_("发布批次"), null=True, blank=True)

    class Meta:
        verbose_name = _("答卷")
        verbose_name_plural = _("答卷")
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "family"],
                condition=Q(family__isnull=False),
                name="response_one_per_family",
            ),
        ]
        indexes = [models.Index(fields=["survey", "version"], name="response_survey")]

    def __str__(self) -> str:
        return str(self.pk)


class Answer(models.Model):
    """One answer to one question. Choices: one row per chosen option, its index in
    ``number``; ratings and NPS: the number; texts: ``text``."""

    response = models.ForeignKey(
        Response, verbose_name=_("答卷"), on_delete=models.CASCADE, related_name="answers"
    )
    question = models.ForeignKey(
        Question, verbose_name=_("题目"), on_delete=models.PROTECT, related_name="answers"
    )
    number = models.SmallIntegerField(_("数值"), null=True, blank=True)
    text = models.TextField(_("文字"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("答案")
        verbose_name_plural = _("答案")
        indexes = [models.Index(fields=["question", "number"], name="answer_question_number")]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.number if self.number is not None else self.text}"
