"""Participation snapshots (the roll-up) and report jobs (recompute, exports).

A snapshot row holds the figures of one term × unit × parent school × period.
``period`` is a month (``"2026-03"``) or ``"term"`` for the whole term: distinct
families and children cannot be added up across months, so the term totals are
rows of their own, computed by the same GROUPING SETS query.

Events belong to no parent school: their figures go into rows with
``parent_school = NULL``. Because NULLs never collide in a unique index, the
upsert key uses ``parent_school_key`` (the parent school's id, or 0).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from members.models import MemberUnit
from parent_school.models import ParentSchool, Term

TERM_PERIOD = "term"


class ParticipationSnapshot(models.Model):
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="snapshots"
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="snapshots"
    )
    parent_school = models.ForeignKey(
        ParentSchool,
        verbose_name=_("家长学校"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="snapshots",
        help_text=_("活动不属于家长学校：活动的数字记在为空的这一行。"),
    )
    parent_school_key = models.BigIntegerField(default=0, editable=False)
    period = models.CharField(
        _("期间"), max_length=7, help_text=_("月份 YYYY-MM，或 term 表示全学期")
    )
    month = models.DateField(_("月份"), null=True, blank=True)

    sessions_planned = models.PositiveIntegerField(_("计划场次"), default=0)
    sessions_held = models.PositiveIntegerField(_("开课次数"), default=0)
    events_held = models.PositiveIntegerField(_("活动场次"), default=0)
    enrolments = models.PositiveIntegerField(_("报名（家庭）"), default=0)
    enrolments_held = models.PositiveIntegerField(_("已开课场次的报名"), default=0)
    attendances = models.PositiveIntegerField(_("出席（家庭）"), default=0)
    person_times = models.PositiveIntegerField(_("参与人次"), default=0)
    families = models.PositiveIntegerField(_("覆盖家庭数"), default=0)
    children = models.PositiveIntegerField(_("覆盖儿童数"), default=0)
    attendance_rate = models.DecimalField(
        _("出勤率（%）"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    credits_posted = models.DecimalField(_("学分"), max_digits=12, decimal_places=1, default=0)
    event_participants = models.PositiveIntegerField(_("活动参与人数"), default=0)
    volunteer_hours = models.DecimalField(
        _("志愿服务时长（小时）"), max_digits=12, decimal_places=1, default=0
    )
    lessons_completed = models.PositiveIntegerField(_("完成线上微课"), default=0)
    # Consultations of the unit's guidance station held in the month (the
    # station's unit, key parent_school 0): counts only, no family or mentor.
    consultations_held = models.PositiveIntegerField(_("指导咨询（已咨询）"), default=0)
    target_sessions = models.PositiveSmallIntegerField(_("目标开课次数"), null=True, blank=True)
    target_met = models.BooleanField(_("达标"), null=True, blank=True)
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("参与统计快照")
        verbose_name_plural = _("参与统计快照")
        constraints = [
            models.UniqueConstraint(
                fields=["term", "unit", "parent_school_key", "period"],
                name="snapshot_unique_key",
            ),
        ]
        indexes = [models.Index(fields=["term", "period", "unit"], name="snapshot_term_period")]

    def __str__(self) -> str:
        return f"{self.term_id}/{self.unit_id}/{self.parent_school_key}/{self.period}"


class ReportJob(models.Model):
    """A background roll-up or export: the page polls this row for its progress."""

    class Kind(models.TextChoices):
        ROLLUP = "rollup", _("重新计算统计")
        EXPORT_XLSX = "export_xlsx", _("导出学期报表（XLSX）")
        EXPORT_CSV = "export_csv", _("导出原始记录（CSV）")

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("进行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="report_jobs"
    )
    unit = models.ForeignKey(
        MemberUnit,
        verbose_name=_("单位"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="report_jobs",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申请人"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="report_jobs",
    )
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    rows_total = models.PositiveIntegerField(_("总行数"), default=0)
    rows_done = models.PositiveIntegerField(_("已处理行数"), default=0)
    file_path = models.CharField(_("文件"), max_length=255, blank=True)
    error = models.CharField(_("错误"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("报表任务")
        verbose_name_plural = _("报表任务")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def filename(self) -> str:
        return self.file_path.rsplit("/", 1)[-1] if self.file_path else ""


class SnapshotMark(models.Model):
    """A change that one snapshot key must be re-rolled for (append-only).

    Written by reports/receivers.py in the transaction of the change (a booking,
    a cancellation or promotion, an attendance mark, a credit, a completed
    lesson), so a mark exists exactly when its change committed. The key is the
    month row that the change touches; re-rolling it also re-rolls the term row
    of the same unit × parent school (distinct families and children of the
    term cannot be added up from months). ``reports.services.snapshot_marks_rollup``
    claims marks, recomputes their keys and deletes them in one transaction.

    Marks are only ever inserted, never updated: writers never wait for each
    other or for the pass (two marks of one key are two rows; the pass folds
    them), and a mark written while a pass runs is a new row that the next pass
    sees, so no change is lost between a pass's read and its delete.
    """

    class Figures(models.TextChoices):
        PARTICIPATION = "participation", _("参与统计")
        HANDBOOK = "handbook", _("成长手册")
        SURVEYS = "surveys", _("问卷调查")

    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(MemberUnit, on_delete=models.CASCADE, related_name="+")
    parent_school_key = models.BigIntegerField(default=0)
    period = models.CharField(max_length=7)
    marked_at = models.DateTimeField()
    # Which snapshot the key belongs to: a participation row (unit × parent school
    # × month) or the unit's handbook row of the term (HandbookSnapshot; its
    # parent school key is 0 and its period "term").
    figures = models.CharField(
        max_length=20, choices=Figures.choices, default=Figures.PARTICIPATION
    )

    class Meta:
        verbose_name = _("待更新的统计")
        verbose_name_plural = _("待更新的统计")

    def __str__(self) -> str:
        return f"{self.term_id}/{self.unit_id}/{self.parent_school_key}/{self.period}"


class HandbookSnapshot(models.Model):
    """The growth handbook's figures of one unit (the verifying unit of the claims)
    in one term, and its learning families (included entries of published lists).

    Per unit and term only: the handbook has no parent school, and "families
    active in the handbook" are distinct over the term. Written by the same
    roll-up and passes as ParticipationSnapshot (reports/rollup.py,
    ``handbook_figures``).
    """

    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="+"
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="+"
    )
    claims = models.PositiveIntegerField(_("手册申报"), default=0)
    claims_approved = models.PositiveIntegerField(_("通过的申报"), default=0)
    claims_open = models.PositiveIntegerField(_("待审核的申报"), default=0)
    points_home = models.PositiveIntegerField(_("在家陪伴积分"), default=0)
    points_school = models.PositiveIntegerField(_("在校陪伴积分"), default=0)
    points_behaviour = models.PositiveIntegerField(_("陪伴好行为积分"), default=0)
    families_active = models.PositiveIntegerField(_("参与手册的家庭"), default=0)
    learning_families = models.PositiveIntegerField(_("学习型家庭"), default=0)
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("成长手册统计快照")
        verbose_name_plural = _("成长手册统计快照")
        constraints = [
            models.UniqueConstraint(fields=["term", "unit"], name="handbook_snapshot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.term_id}/{self.unit_id}/handbook"

    @property
    def points(self) -> int:
        return self.points_home + self.points_school + self.points_behaviour


class SurveySnapshot(models.Model):
    """The questionnaires' figures of one unit (the surveys' responsible unit) in
    one term: invitations, answers (participations), and the satisfaction
    questions' answers (``Question.measure``) of its term surveys (a parent
    school's or an alliance's term). Sums are kept beside the mean so a
    district total is the sum of units, not a mean of means. Only released
    answers count (an anonymous survey's pending batch is not yet here).
    ``satisfaction`` is empty when it is withheld for a small group (fewer than
    ``SURVEYS_MIN_GROUP`` answers, or 1–4 of them from surveys too small to show:
    reports.rollup.small_group_hides); the count and sum stay, so totals add up.
    Written by the roll-up (reports/rollup.py, ``survey_figures``)."""

    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="+"
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="+"
    )
    surveys = models.PositiveIntegerField(_("问卷数"), default=0)
    invited = models.PositiveIntegerField(_("邀请家庭"), default=0)
    answered = models.PositiveIntegerField(_("作答家庭"), default=0)
    response_rate = models.DecimalField(
        _("回收率（%）"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    satisfaction_answers = models.PositiveIntegerField(_("满意度答案数"), default=0)
    satisfaction_sum = models.PositiveIntegerField(_("满意度总分"), default=0)
    satisfaction = models.DecimalField(
        _("满意度（5分制）"), max_digits=3, decimal_places=2, null=True, blank=True
    )
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("问卷统计快照")
        verbose_name_plural = _("问卷统计快照")
        constraints = [
            models.UniqueConstraint(fields=["term", "unit"], name="survey_snapshot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.term_id}/{self.unit_id}/surveys"


class UnitAttainment(models.Model):
    """考核: one unit's result against one of its targets (evaluation.UnitTarget)
    in one term, computed by the roll-up from the participation and survey
    snapshots. ``achieved`` is empty when there is nothing to measure yet (no
    answers to the term survey, say): not met, and shown as 「暂无数据」."""

    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="+"
    )
    unit = models.ForeignKey(
        MemberUnit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="+"
    )
    responsibility = models.ForeignKey(
        "evaluation.Responsibility",
        verbose_name=_("工作职责"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    target = models.DecimalField(_("目标值"), max_digits=9, decimal_places=1)
    achieved = models.DecimalField(
        _("完成值"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    met = models.BooleanField(_("达标"), default=False)
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("目标达成")
        verbose_name_plural = _("目标达成")
        constraints = [
            models.UniqueConstraint(
                fields=["term", "unit", "responsibility"], name="unit_attainment_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.term_id}/{self.unit_id}/{self.responsibility_id}"


class BrandSnapshot(models.Model):
    """One brand programme's figures in one term (品牌项目, docs/BRANDS.md): held
    course sessions of its courses, held events and group sessions that carry
    it, and the person-times and distinct families of the present bookings on
    them — the same "took part" as ParticipationSnapshot. Written by the same
    roll-up (reports/rollup.py, ``brand_figures``); a brand with nothing in the
    term has no row (the pages show 0)."""

    term = models.ForeignKey(
        Term, verbose_name=_("学期"), on_delete=models.CASCADE, related_name="+"
    )
    brand = models.ForeignKey(
        "parent_school.BrandProgramme",
        verbose_name=_("特色品牌"),
        on_delete=models.CASCADE,
        related_name="snapshots",
    )
    sessions = models.PositiveIntegerField(_("开展场次"), default=0)
    person_times = models.PositiveIntegerField(_("服务人次"), default=0)
    families = models.PositiveIntegerField(_("覆盖家庭数"), default=0)
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("品牌项目统计快照")
        verbose_name_plural = _("品牌项目统计快照")
        constraints = [
            models.UniqueConstraint(fields=["term", "brand"], name="brand_snapshot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.term_id}/{self.brand_id}/brand"
