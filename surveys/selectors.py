"""Reads of the questionnaires: windows, what a family may answer, answer sheets,
what a coordinator may manage (docs/SURVEYS.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from bookings.models import Booking
from courses.services import family_of
from groups.selectors import groups_changeable_by, member_group_ids
from members import access
from members.models import Membership
from members.sealing import SealError, unseal
from parent_school.selectors import term_window

from .eligibility import is_eligible
from .errors import SurveyError
from .models import Draft, Participation, Question, Survey, SurveyTemplate, TemplateVersion

DRAFT_PURPOSE = "surveys.draft"
PENDING_PURPOSE = "surveys.pending"


# Windows ---------------------------------------------------------------------------


def survey_window(survey: Survey) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(opens_at, closes_at): explicit times win; a session or event survey opens
    when its offering ends and closes ``answer_days`` later."""
    opens, closes = survey.opens_at, survey.closes_at
    if survey.scope in Survey.ATTENDANCE_SCOPES and survey.offering_id:
        ends_at = survey.offering.ends_at
        opens = opens or ends_at
        closes = closes or ends_at + dt.timedelta(days=survey.answer_days)
    return opens, closes


def survey_is_open(survey: Survey, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    opens, closes = survey_window(survey)
    return (
        survey.is_published
        and survey.scope != Survey.Scope.COURSE
        and opens is not None
        and closes is not None
        and opens <= now < closes
    )


def survey_is_closed(survey: Survey, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    _opens, closes = survey_window(survey)
    return closes is not None and now >= closes


def invite_due_at(survey: Survey) -> dt.datetime | None:
    """When invitations go out: offering end + delay, or the opening of a term survey."""
    if survey.scope in Survey.ATTENDANCE_SCOPES and survey.offering_id:
        due = survey.offering.ends_at + dt.timedelta(minutes=survey.invite_delay_minutes)
        opens, _closes = survey_window(survey)
        return max(due, opens) if opens else due
    return survey.opens_at


# A reminder never follows its invitation within this long (a short window would
# otherwise remind minutes after inviting).
REMIND_AFTER_INVITE = dt.timedelta(hours=12)


def remind_due_at(survey: Survey) -> dt.datetime | None:
    """``remind_before_hours`` before closing, but never before the invitation +
    12 hours; None (no reminder) when that falls at or after closing."""
    _opens, closes = survey_window(survey)
    if closes is None:
        return None
    due = closes - dt.timedelta(hours=survey.remind_before_hours)
    if survey.invited_at is not None:
        due = max(due, survey.invited_at + REMIND_AFTER_INVITE)
    return due if due < closes else None


# Versions and questions ------------------------------------------------------------


def current_version(template_id: int) -> TemplateVersion | None:
    return TemplateVersion.objects.filter(template_id=template_id).order_by("-number").first()


def version_questions(version_id: int) -> list[Question]:
    """A version's questions in the order families see them."""
    return list(
        Question.objects.filter(version_id=version_id)
        .select_related("section")
        .order_by("section__position", "section_id", "position", "pk")
    )


def condition_met(value, values) -> bool:
    if value is None:
        return False
    if isinstance(value, list):
        return any(v in values for v in value)
    return value in values


def visible_questions(questions: list[Question], answers: dict) -> list[Question]:
    """The questions shown for ``answers``: a question with a condition shows only
    when its condition's question is shown and answered with one of the values."""
    shown: dict[int, Question] = {}
    for question in questions:
        if question.show_if_id is None:
            shown[question.pk] = question
            continue
        source = shown.get(question.show_if_id)
        if source is not None and condition_met(
            answers.get(source.key), question.show_if_values or []
        ):
            shown[question.pk] = question
    return list(shown.values())


# Families --------------------------------------------------------------------------

# What the family's list shows of each survey (what it is about): joined here so
# the page reads no more per survey.
FAMILY_LIST_RELATIONS = ("offering", "course", "parent_school", "alliance", "group", "term")


@dataclass
class AnswerSheet:
    survey: Survey
    version: TemplateVersion
    questions: list[Question]
    answers: dict = field(default_factory=dict)
    visible_keys: list[str] = field(default_factory=list)
    step: int = 0
    window: tuple = (None, None)

    @property
    def visible(self) -> list[Question]:
        keys = set(self.visible_keys)
        return [q for q in self.questions if q.key in keys]


def survey_answerable(*, family, survey_id, now) -> Survey:
    """The survey ``family`` may answer now, or the SurveyError saying why not."""
    survey = (
        Survey.objects.select_related("offering", "template", "term", "version")
        .filter(pk=survey_id, is_published=True)
        .first()
    )
    if survey is None:
        raise SurveyError("survey_missing")
    if survey.scope == Survey.Scope.COURSE:
        raise SurveyError("series_not_answerable")
    opens, closes = survey_window(survey)
    if opens is None or now < opens:
        raise SurveyError(
            "not_open",
            opens=timezone.localtime(opens).strftime("%Y-%m-%d %H:%M") if opens else "—",
        )
    if closes is None or now >= closes:
        raise SurveyError("closed")
    if Participation.objects.filter(survey_id=survey.pk, family_id=family.pk).exists():
        raise SurveyError("already_answered")
    if not is_eligible(survey, family.pk):
        raise SurveyError("not_eligible")
    return survey


def family_required(user):
    family = family_of(user)
    if family is None:
        raise SurveyError("no_family")
    return family


def draft_answers(draft: Draft | None) -> dict:
    if draft is None:
        return {}
    try:
        answers = unseal(draft.sealed_answers, purpose=DRAFT_PURPOSE)
    except SealError:
        # Sealed under an older key: start again rather than fail the page.
        return {}
    return answers if isinstance(answers, dict) else {}


def answer_sheet(*, user, survey_id: int, now: dt.datetime | None = None) -> AnswerSheet:
    """What the family's answer page shows: the version, its questions, the draft's
    answers, which questions they make visible and the screen to resume at."""
    now = now or timezone.now()
    family = family_required(user)
    survey = survey_answerable(family=family, survey_id=survey_id, now=now)
    draft = Draft.objects.filter(survey=survey, family=family).first()
    # Always the survey's own version (a draft's answers are matched by key).
    version = survey.version
    questions = version_questions(version.pk)
    keys = {q.key for q in questions}
    answers = {k: v for k, v in draft_answers(draft).items() if k in keys}
    return AnswerSheet(
        survey=survey,
        version=version,
        questions=questions,
        answers=answers,
        visible_keys=[q.key for q in visible_questions(questions, answers)],
        step=draft.step if draft is not None else 0,
        window=survey_window(survey),
    )


def surveys_open_for_family(*, family, now: dt.datetime | None = None) -> list[Survey]:
    """The surveys ``family`` may answer now (published, open, eligible, not
    answered), soonest closing first. Three queries whatever the number of
    surveys and bookings: the family's bookings, the candidate surveys, and the
    memberships of the alliances of alliance-term candidates. Group surveys of
    the family's active groups are among the candidates (a subquery)."""
    now = now or timezone.now()
    if family is None:
        return []
    bookings = list(
        Booking.objects.filter(family=family, status=Booking.Status.CONFIRMED).values(
            "offering_id",
            "attendance",
            "offering__unit_id",
            "offering__starts_at",
            "offering__course_session__course__parent_school_id",
            "offering__course_session__course__term_id",
        )
    )
    present = {b["offering_id"] for b in bookings if b["attendance"] == Booking.Attendance.PRESENT}
    # A group survey is answered by the group's active members (a subquery: no
    # extra query, and a family without bookings may still be in a group).
    in_my_groups = Q(scope=Survey.Scope.GROUP, group_id__in=member_group_ids(family))
    school_terms = {
        (
            b["offering__course_session__course__parent_school_id"],
            b["offering__course_session__course__term_id"],
        )
        for b in bookings
        if b["offering__course_session__course__parent_school_id"]
    }
    by_bookings = (
        Q(scope__in=Survey.ATTENDANCE_SCOPES, offering_id__in=present)
        | Q(
            scope=Survey.Scope.PARENT_SCHOOL_TERM,
            parent_school_id__in={ps for ps, _t in school_terms},
        )
        | Q(scope=Survey.Scope.ALLIANCE_TERM)
    )
    candidates = list(
        Survey.objects.filter(is_published=True)
        .exclude(scope=Survey.Scope.COURSE)
        .filter((by_bookings | in_my_groups) if bookings else in_my_groups)
        .filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now))
        .exclude(Exists(Participation.objects.filter(survey=OuterRef("pk"), family=family)))
        .select_related(*FAMILY_LIST_RELATIONS, "template")
    )
    candidates = [s for s in candidates if survey_is_open(s, now)]
    alliance_ids = {s.alliance_id for s in candidates if s.scope == Survey.Scope.ALLIANCE_TERM}
    memberships: dict[int, list] = {}
    if alliance_ids:
        for m in Membership.objects.filter(alliance_id__in=alliance_ids).values(
            "alliance_id", "unit_id", "joined_on", "left_on"
        ):
            memberships.setdefault(m["alliance_id"], []).append(m)

    def eligible(survey: Survey) -> bool:
        if survey.scope == Survey.Scope.GROUP:
            return True  # the query asked for the family's groups only
        if survey.scope in Survey.ATTENDANCE_SCOPES:
            return survey.offering_id in present
        if survey.scope == Survey.Scope.PARENT_SCHOOL_TERM:
            return (survey.parent_school_id, survey.term_id) in school_terms
        term = survey.term
        units = {
            m["unit_id"]
            for m in memberships.get(survey.alliance_id, [])
            if (m["left_on"] is None or m["left_on"] >= term.starts_on)
            and (m["joined_on"] is None or m["joined_on"] <= term.ends_on)
        }
        start, end = term_window(term)
        return any(
            b["offering__unit_id"] in units and start <= b["offering__starts_at"] < end
            for b in bookings
        )

    found = [s for s in candidates if eligible(s)]
    found.sort(key=lambda s: (survey_window(s)[1], s.pk))
    return found


def surveys_answered_by_family(*, family) -> list[Participation]:
    """The family's participations, newest first, with their surveys (one query)."""
    if family is None:
        return []
    return list(
        Participation.objects.filter(family=family)
        .select_related("survey", *(f"survey__{name}" for name in FAMILY_LIST_RELATIONS))
        .order_by("-answered_at", "-pk")
    )


# Coordinators ----------------------------------------------------------------------


def surveys_manageable(*, user) -> QuerySet[Survey]:
    """Surveys whose responsible unit the user may see (docs/SURVEYS.md, scoping)."""
    surveys = Survey.objects.select_related("template", "term", "unit", "offering")
    if access.sees_every_district(user):
        return surveys
    mine = Q(scope=Survey.Scope.GROUP, group_id__in=groups_changeable_by(user).values("pk"))
    if not access.is_staff_member(user):
        # A group's facilitator sees its surveys.
        return surveys.filter(mine)
    return surveys.filter(Q(unit_id__in=access.visible_unit_ids(user)) | mine)


def survey_for_manager(*, user, survey_id: int) -> Survey:
    survey = surveys_manageable(user=user).filter(pk=survey_id).first()
    if survey is None:
        raise SurveyError("survey_missing")
    return survey


def survey_changeable(*, user, survey: Survey) -> bool:
    if survey.scope == Survey.Scope.GROUP:
        return groups_changeable_by(user).filter(pk=survey.group_id).exists()
    if survey.scope == Survey.Scope.ALLIANCE_TERM:
        return access.sees_every_district(user) or (
            survey.alliance_id in access.coordinated_alliance_ids(user)
        )
    return access.can_change_unit(user, survey.unit_id)


def templates_usable(*, user) -> QuerySet[SurveyTemplate]:
    """District templates for every coordinator; an alliance's for its coordinators
    and its units' coordinators."""
    templates = SurveyTemplate.objects.select_related("alliance")
    if access.sees_every_district(user):
        return templates
    if not access.is_coordinator(user):
        return templates.none()
    alliance_ids = access.alliances_visible_to(user).values("pk")
    return templates.filter(Q(alliance__isnull=True) | Q(alliance_id__in=alliance_ids))


def may_deploy(*, user) -> bool:
    """Opens 学期问卷 for every parent school: administrators and alliance
    coordinators. ``surveys_deploy`` reaches the schools of ``units_changeable_by``
    (a district administrator: their district's)."""
    return access.is_district_admin(user) or bool(access.coordinated_alliance_ids(user))


def templates_editable(*, user) -> QuerySet[SurveyTemplate]:
    """Templates without an alliance by city admins; an alliance's by its
    coordinators (a district admin: those of their district's alliances)."""
    templates = SurveyTemplate.objects.select_related("alliance")
    # City-wide reference data: the city's to edit (every district uses them).
    if access.sees_every_district(user):
        return templates
    return templates.filter(alliance_id__in=access.coordinated_alliance_ids(user))


def template_editable_by(user, template: SurveyTemplate) -> bool:
    # City-wide reference data: the city's to edit (a template without an alliance).
    if access.sees_every_district(user):
        return True
    return template.alliance_id is not None and template.alliance_id in (
        access.coordinated_alliance_ids(user)
    )


# Notices ---------------------------------------------------------------------------


def survey_notice_check(notice) -> str:
    """Skip an invitation or reminder when the family answered meanwhile or the
    survey closed (events.notices.notice_check_register, SurveysConfig.ready)."""
    try:
        _topic, survey_id, family_id = notice.key.split(":")
        survey_id, family_id = int(survey_id), int(family_id)
    except ValueError:
        return ""
    if Participation.objects.filter(survey_id=survey_id, family_id=family_id).exists():
        return gettext("已填写")
    survey = Survey.objects.select_related("offering").filter(pk=survey_id).first()
    if survey is None or survey_is_closed(survey):
        return gettext("问卷已截止")
    return ""


# The group page's panel (groups/panels.py; registered in apps.py) ---------------------


def group_survey_panel(*, group, family, user, now: dt.datetime | None = None) -> list:
    """The group's questionnaires on its page. A member family: the open ones,
    each with its answer link and whether the family answered. The group's
    facilitator and managers: all of them, with their state and answer count, and
    the results link for those who reach the coordinator pages. Anyone else:
    nothing. At most three queries."""
    from django.db.models import Count
    from django.urls import reverse

    from groups.panels import PanelItem
    from groups.selectors import is_member

    now = now or timezone.now()
    surveys = Survey.objects.filter(scope=Survey.Scope.GROUP, group_id=group.pk)
    if groups_changeable_by(user).filter(pk=group.pk).exists():
        results_reachable = access.is_coordinator(user)
        items = []
        rows = surveys.annotate(answered=Count("participations")).order_by("-opens_at", "-pk")
        for survey in rows:
            if not survey.is_published:
                state = gettext("未发布")
            elif survey_is_open(survey, now):
                state = gettext("进行中")
            elif survey.opens_at and now < survey.opens_at:
                state = gettext("未开始")
            else:
                state = gettext("已截止")
            note = gettext("%(state)s · %(n)s 户已填写") % {"state": state, "n": survey.answered}
            url = reverse("surveys:manage_survey", args=[survey.pk]) if results_reachable else ""
            items.append(PanelItem(title=survey.title, url=url, note=note))
        return items
    if family is None or not is_member(family=family, group=group):
        return []
    open_surveys = [
        s
        for s in surveys.filter(is_published=True, opens_at__lte=now, closes_at__gt=now).order_by(
            "closes_at", "pk"
        )
        if survey_is_open(s, now)
    ]
    if not open_surveys:
        return []
    answered = set(
        Participation.objects.filter(
            family_id=family.pk, survey_id__in=[s.pk for s in open_surveys]
        ).values_list("survey_id", flat=True)
    )
    items = []
    for survey in open_surveys:
        closes = timezone.localtime(survey.closes_at).strftime("%m-%d %H:%M")
        if survey.pk in answered:
            items.append(
                PanelItem(
                    title=survey.title,
                    url=reverse("surveys:done", args=[survey.pk]),
                    note=gettext("已填写，谢谢您"),
                )
            )
        else:
            items.append(
                PanelItem(
                    title=survey.title,
                    url=reverse("surveys:start", args=[survey.pk]),
                    note=gettext("未填写 · %(closes)s 截止") % {"closes": closes},
                )
            )
    return items
