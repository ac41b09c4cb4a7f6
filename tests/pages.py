"""The portal's main pages, with the data and the signed-in users that open them.

Shared by the HTML validity check (tests/foundation/test_html_valid.py) and the
Content-Security-Policy browser test (tests/browser/test_csp.py), so both look
at the same pages: public, a parent's, a coordinator's and the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from courses.tests.factories import CourseFactory, OnlineLessonFactory, ThemeFactory, make_session
from events.services import event_register
from events.tests.factories import make_event
from handbook.demo import default_items
from handbook.models import Claim, HandbookItem
from handbook.tests.factories import ClaimFactory, HandbookItemFactory
from members import registry
from members.models import ConsentRecord, RoleAssignment
from members.services import consent_record
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MemberUnitFactory,
    UserFactory,
)
from notifications.services import notification_create
from parent_school.tests.factories import ParentSchoolFactory


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    user: str | None = None  # a key of ``site.users``; None: an anonymous visitor


def build_site() -> SimpleNamespace:
    """A unit with a parent school, a course with sessions, an event, a family that
    booked both, its coordinator and a district administrator."""
    unit = MemberUnitFactory(name="溪口中学")
    school = ParentSchoolFactory(name="溪口中学家长学校", host_unit=unit)
    course = CourseFactory(
        title="亲子沟通的艺术",
        summary="学会倾听与表达",
        body="第一讲：倾听。\n\n第二讲：表达。",
        parent_school=school,
        themes=[ThemeFactory(name="亲子沟通")],
    )
    booked = make_session(course, capacity=10, starts_in=timedelta(days=3))
    make_session(course, capacity=1, starts_in=timedelta(days=5))
    lesson = OnlineLessonFactory(course=course, title="倾听的第一步")
    # An uploaded lesson (played in the page); only its names are needed to render.
    video_lesson = OnlineLessonFactory(
        course=course,
        title="表达的第一步",
        video_url="",
        video_file="lessons/lesson.webm",
        poster="lessons/posters/lesson-poster.png",
        duration_seconds=16,
    )
    event = make_event(organiser_unit=unit, title="家庭教育讲座：青春期亲子沟通")

    guardian = GuardianFactory(user__display_name="王妈妈")
    child = ChildFactory(family=guardian.family, nickname="小明")
    course_booking = booking_services.booking_create(
        offering_id=booked.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
        child_ids=[child.pk],
    )
    event_register(
        event_id=event.pk,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    notification_create(user=guardian.user, title="报名成功：亲子沟通的艺术", url="/me/")
    consent_record(
        user=guardian.user, document=ConsentRecord.Document.CHILDREN_INFO, family=guardian.family
    )

    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    coordinator = UserFactory(username="coordinator", display_name="李老师")
    registry.role_assign(
        actor=root, user=coordinator, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=unit
    )
    district = UserFactory(username="district", display_name="区教育局")
    registry.role_assign(actor=root, user=district, role=RoleAssignment.Role.CITY_ADMIN)
    claims = _handbook(course.term, guardian, child, unit)
    learning = _recognition(course.term, guardian, unit, district)
    survey = _survey(course.term, school, unit)
    surveys = _surveys(course.term, school, unit)
    _evaluation(course.term, unit, district)
    community = _community(school, guardian)
    groups = _groups(school, guardian, coordinator)
    return SimpleNamespace(
        unit=unit,
        school=school,
        course=course,
        session=booked,
        course_booking=course_booking,
        lesson=lesson,
        video_lesson=video_lesson,
        event=event,
        guardian=guardian,
        child=child,
        claims=claims,
        learning=learning,
        survey=survey,
        surveys=surveys,
        community=community,
        groups=groups,
        users={"parent": guardian.user, "coordinator": coordinator, "admin": district},
    )


def _recognition(term, guardian, unit, district) -> dict:
    """Two alliances of the unit with learning-family rules: one list computed (a
    draft under review), one published; the guardian commended."""
    from members.tests.factories import MembershipFactory
    from recognition import services as recognition

    lists = {}
    for key, name in (("draft", "溪口协同育人联盟"), ("published", "渝中家校联盟")):
        alliance = AllianceFactory(name=name)
        MembershipFactory(alliance=alliance, unit=unit)
        recognition.rule_save(
            user=district, alliance_id=alliance.pk, term_id=term.pk, min_points=2, min_sessions=1
        )
        lists[key] = recognition.learning_families_compute(
            alliance_id=alliance.pk, term_id=term.pk, user=district
        ).family_list
    recognition.list_publish(user=district, list_id=lists["published"].pk)
    recognition.commendation_add(
        user=district,
        alliance_id=lists["draft"].alliance_id,
        term_id=term.pk,
        guardian_id=guardian.pk,
        unit_id=unit.pk,
        reason="积极参加家长学校",
    )
    return lists


def _handbook(term, guardian, child, unit) -> dict:
    """The growth handbook this term: the district's items, and the family's claims
    in every state, verified by the child's school (the coordinator's unit)."""
    type(term).objects.filter(pk=term.pk).update(is_current=True)
    child.school = unit
    child.save(update_fields=["school"])
    default_items()  # the district's set (its data migration's upsert)
    defaults = {i.name: i for i in HandbookItem.objects.filter(alliance__isnull=True)}
    reading, meeting = defaults["亲子阅读"], defaults["家长会"]
    course = HandbookItem.objects.filter(
        alliance__isnull=True, evidence=HandbookItem.Evidence.ATTENDANCE
    ).first()
    # An alliance that made its own handbook (its coordinator's items page).
    own = HandbookItemFactory(alliance=AllianceFactory(name="解放碑联盟"), name="共同运动")
    made = {"family": guardian.family, "child": child, "term": term, "unit": unit}
    Status = Claim.Status
    return {
        "pending": ClaimFactory(item=reading, flag_burst=True, flag_reused_photo=True, **made),
        "attendance": ClaimFactory(item=course, source=Claim.Source.ATTENDANCE, **made),
        "more_info": ClaimFactory(
            item=meeting, status=Status.MORE_INFO, decision_reason="请补充日期", **made
        ),
        "rejected": ClaimFactory(
            item=meeting, status=Status.REJECTED, decision_reason="不在本学期", **made
        ),
        "approved": ClaimFactory(item=reading, status=Status.APPROVED, points=2, **made),
        "own_item": own,
    }


def _evaluation(term, unit, district) -> None:
    """The unit's evaluation loop this term: targets from the defaults, the district's
    feedback (not yet acknowledged) and an action in progress answering it."""
    from evaluation import services as evaluation
    from evaluation.defaults import responsibilities_default
    from evaluation.tests.factories import (
        ActionUpdateFactory,
        FeedbackFactory,
        ImprovementActionFactory,
    )

    responsibilities_default()
    evaluation.unit_targets_default(actor=district, term_id=term.pk, unit_ids=[unit.pk])
    feedback = FeedbackFactory(unit=unit, term=term, written_by=district)
    action = ImprovementActionFactory(
        unit=unit, term=term, feedback=feedback, what="每次课后当场扫码填问卷", status="in_progress"
    )
    ActionUpdateFactory(action=action, note="第一场已扫码")


def _community(school, guardian) -> dict:
    """The parent school's board: a question with an accepted answer and a report,
    and a held post in the coordinator's queue (from the factories)."""
    from community import services as community
    from community.models import Post, Thread
    from community.tests.factories import PostFactory, ReportFactory, ThreadFactory

    board = community.board_for_school(school)
    question = ThreadFactory(board=board, title="孩子写作业总拖拉怎么办", reply_count=1)
    PostFactory(thread=question, is_opening=True, body="每天都要催。\n见 https://example.cn/a")
    answer = PostFactory(
        thread=question, body="试试番茄钟。", author_role=Post.Role.INSTRUCTOR, author_name="吴老师"
    )
    Thread.objects.filter(pk=question.pk).update(accepted_post=answer)
    ReportFactory(post=answer)
    held = ThreadFactory(board=board, title="待审核的帖子", status="held")
    PostFactory(
        thread=held,
        is_opening=True,
        status="held",
        held_for="sensitive",
        matched_categories="ads",
        author_family=guardian.family,
        author_user=guardian.user,
    )
    return {"board": board, "question": question, "answer": answer}


def _groups(school, guardian, coordinator) -> dict:
    """A 家伴 group of the school led by the coordinator, the guardian a member, with
    a session she booked, and a pending request from another family."""
    from groups import services as groups
    from groups.models import Group, GroupMembership

    group = groups.group_create(
        user=coordinator,
        parent_school_id=school.pk,
        kind=Group.Kind.FAMILY,
        name="周末亲子阅读家伴组",
        facilitator_id=coordinator.pk,
        facilitator_role=Group.FacilitatorRole.MENTOR,
        min_size=2,
        max_size=6,
        joining=Group.Joining.OPEN,
        description="每两周读一本书。",
    )
    GroupMembership.objects.create(
        group=group, family=guardian.family, status="active", joined_at=timezone.now()
    )
    Group.objects.filter(pk=group.pk).update(member_count=1)
    other = GuardianFactory()
    GroupMembership.objects.create(
        group=group, family=other.family, status="requested", requested_at=timezone.now()
    )
    starts = timezone.now() + timedelta(days=4)
    session = groups.group_session_create(
        user=coordinator,
        group_id=group.pk,
        title="亲子共读会",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=10,
        venue="学校图书室",
    )
    booking = groups.group_session_book(user=guardian.user, session_id=session.pk)
    return {"group": group, "session": session, "booking": booking}


def _first_responsibility_id() -> int:
    from evaluation.models import Responsibility

    return Responsibility.objects.filter(is_active=True).order_by("position", "pk")[0].pk


def _surveys(term, school, unit) -> dict:
    """A district template and the parent school's named term survey of it, with
    six answer sheets (the results page draws its charts)."""
    from members.tests.factories import FamilyFactory
    from surveys.models import Answer
    from surveys.tests.factories import (
        ParticipationFactory,
        ResponseFactory,
        SurveyFactory,
        SurveyTemplateFactory,
        with_questions,
    )

    template = SurveyTemplateFactory(name="家长学校满意度调查")
    version = with_questions(template)
    survey = SurveyFactory(
        template=template,
        title="家长学校学期问卷（实名）",
        parent_school=school,
        term=term,
        unit=unit,
    )
    questions = {q.key: q for q in version.questions.all()}
    for index in range(6):
        family = FamilyFactory()
        ParticipationFactory(survey=survey, family=family)
        response = ResponseFactory(survey=survey, version=version, family=family)
        Answer.objects.bulk_create(
            [
                Answer(response=response, question=questions["satisfaction"], number=3 + index % 3),
                Answer(response=response, question=questions["recommend"], number=6 + index),
                Answer(response=response, question=questions["format"], number=index % 3),
                Answer(response=response, question=questions["suggestion"], text="希望多讲案例"),
            ]
        )
    return {"template": template, "survey": survey}


def _survey(term, school, unit):
    """An anonymous term survey of the parent school, open now: the family booked one
    of its sessions, so it may answer (from the factories, no invitations)."""
    from surveys.models import Survey
    from surveys.tests.factories import SurveyFactory, with_questions

    return SurveyFactory(
        template=with_questions().template,
        title="本学期家长学校满意度调查",
        scope=Survey.Scope.PARENT_SCHOOL_TERM,
        parent_school=school,
        term=term,
        unit=unit,
        is_anonymous=True,
    )


def main_pages(site: SimpleNamespace) -> list[Page]:
    """The pages a visitor, a parent and a coordinator use (not the admin)."""
    course, event, session = site.course, site.event, site.session
    return [
        # Public
        Page("home", reverse("portal:home")),
        Page("catalogue", reverse("courses:catalogue")),
        Page("catalogue filtered", reverse("courses:catalogue") + "?q=沟通&page=1"),
        Page("course detail", reverse("courses:detail", args=[course.pk])),
        Page("lesson", reverse("courses:lesson", args=[site.lesson.pk])),
        Page("lesson (video)", reverse("courses:lesson", args=[site.video_lesson.pk])),
        Page("lessons", reverse("courses:lessons")),
        Page("lessons filtered", reverse("courses:lessons") + "?duration=5&source=here&page=1"),
        Page("event list", reverse("events:list")),
        Page("event detail", reverse("events:detail", args=[event.pk])),
        Page("parent schools", reverse("parent_school:list")),
        Page("parent school", reverse("parent_school:detail", args=[site.school.pk])),
        Page("privacy", reverse("members:privacy")),
        Page("children rules", reverse("members:children_rules")),
        Page("sign in", reverse("account_login")),
        Page("sign up", reverse("account_signup")),
        Page("password reset", reverse("account_reset_password")),
        Page("sign in by code", reverse("account_request_login_code")),
        # A parent
        Page("home (parent)", reverse("portal:home"), "parent"),
        Page("course detail (parent)", reverse("courses:detail", args=[course.pk]), "parent"),
        Page(
            "lesson (video, parent)",
            reverse("courses:lesson", args=[site.video_lesson.pk]),
            "parent",
        ),
        Page("lessons (parent)", reverse("courses:lessons"), "parent"),
        Page("event detail (parent)", reverse("events:detail", args=[event.pk]), "parent"),
        Page("family", reverse("members:family"), "parent"),
        Page("guardian profile", reverse("members:guardian_edit"), "parent"),
        Page("add child", reverse("members:child_add"), "parent"),
        Page("edit child", reverse("members:child_edit", args=[site.child.pk]), "parent"),
        Page("invite", reverse("members:invite"), "parent"),
        Page("my learning", reverse("portal:my_learning"), "parent"),
        Page("mine", reverse("portal:mine"), "parent"),
        Page(
            "cancel confirm (course)",
            reverse("courses:cancel", args=[site.course_booking.pk]) + "?next=/me/",
            "parent",
        ),
        Page("cancel confirm (event)", reverse("events:unregister", args=[event.pk]), "parent"),
        Page("my data", reverse("members:my_data"), "parent"),
        Page("notifications", reverse("notifications:inbox"), "parent"),
        Page("preferences", reverse("notifications:preferences"), "parent"),
        Page("calendar", reverse("events:calendar"), "parent"),
        Page("handbook", reverse("handbook:home"), "parent"),
        Page("handbook claim", reverse("handbook:claim"), "parent"),
        Page(
            "handbook claim (more info)",
            reverse("handbook:claim_detail", args=[site.claims["more_info"].pk]),
            "parent",
        ),
        Page("handbook print", reverse("handbook:print"), "parent"),
        Page("learning-family progress", reverse("recognition:progress"), "parent"),
        Page("my surveys", reverse("surveys:mine"), "parent"),
        Page("survey start", reverse("surveys:start", args=[site.survey.pk]), "parent"),
        Page("survey rating", reverse("surveys:question", args=[site.survey.pk, 1]), "parent"),
        Page("survey choices", reverse("surveys:question", args=[site.survey.pk, 4]), "parent"),
        Page("survey text", reverse("surveys:question", args=[site.survey.pk, 6]), "parent"),
        Page("survey review", reverse("surveys:review", args=[site.survey.pk]), "parent"),
        Page("password change", reverse("account_change_password"), "parent"),
        # allauth's own templates, worded by locale/zh_Hans (docs/ACCOUNTS.md)
        Page("email addresses", reverse("account_email"), "parent"),
        Page("signed-in devices", reverse("usersessions_list"), "parent"),
        Page("api tokens", reverse("members:api_tokens"), "parent"),
        Page("phone change", reverse("account_change_phone"), "parent"),
        Page("sign out", reverse("account_logout"), "parent"),
        # A unit coordinator
        Page("sessions (coordinator)", reverse("courses:staff_sessions"), "coordinator"),
        Page("roster", reverse("courses:roster", args=[session.pk]), "coordinator"),
        Page("checkin code", reverse("courses:checkin_code", args=[session.pk]), "coordinator"),
        Page("events manage", reverse("events:manage_list"), "coordinator"),
        Page("event create", reverse("events:manage_create"), "coordinator"),
        Page("event manage", reverse("events:manage_detail", args=[event.pk]), "coordinator"),
        Page("event edit", reverse("events:manage_edit", args=[event.pk]), "coordinator"),
        Page("event qr", reverse("events:manage_qr", args=[event.pk]), "coordinator"),
        Page(
            "event deliveries", reverse("events:manage_deliveries", args=[event.pk]), "coordinator"
        ),
        Page("units", reverse("members:unit_list"), "coordinator"),
        Page("api tokens (coordinator)", reverse("members:api_tokens"), "coordinator"),
        Page(
            "unit families",
            reverse("members:unit_families", args=[site.unit.pk]),
            "coordinator",
        ),
        Page("handbook review", reverse("handbook:review"), "coordinator"),
        Page(
            "handbook review detail",
            reverse("handbook:review_detail", args=[site.claims["pending"].pk]),
            "coordinator",
        ),
        Page("handbook items", reverse("handbook:items"), "coordinator"),
        Page(
            "handbook items (alliance)",
            reverse("handbook:items") + f"?alliance={site.claims['own_item'].alliance_id}",
            "admin",
        ),
        Page(
            "handbook item edit",
            reverse("handbook:item_edit", args=[site.claims["own_item"].pk]),
            "admin",
        ),
        Page("learning families", reverse("recognition:overview"), "coordinator"),
        Page(
            "learning-family list",
            reverse("recognition:list", args=[site.learning["draft"].pk]),
            "admin",
        ),
        Page(
            "learning-family print",
            reverse("recognition:print", args=[site.learning["published"].pk]),
            "coordinator",
        ),
        Page(
            "learning-family rule",
            reverse(
                "recognition:rule",
                args=[site.learning["draft"].alliance_id, site.learning["draft"].term_id],
            ),
            "admin",
        ),
        Page("commendations", reverse("recognition:commendations"), "coordinator"),
        Page("dashboard", reverse("reports:overview"), "coordinator"),
        Page("unit dashboard", reverse("reports:unit", args=[site.unit.pk]), "coordinator"),
        Page("surveys manage", reverse("surveys:manage_index"), "coordinator"),
        Page("survey new", reverse("surveys:manage_survey_new"), "coordinator"),
        Page(
            "survey results",
            reverse("surveys:manage_survey", args=[site.surveys["survey"].pk]),
            "coordinator",
        ),
        Page(
            "survey print",
            reverse("surveys:manage_survey_print", args=[site.surveys["survey"].pk]),
            "coordinator",
        ),
        Page(
            "survey comparison",
            reverse("surveys:manage_comparison")
            + f"?template={site.surveys['template'].pk}&by=parent_school",
            "coordinator",
        ),
        Page(
            "survey comparison print",
            reverse("surveys:manage_comparison_print")
            + f"?template={site.surveys['template'].pk}&by=parent_school",
            "coordinator",
        ),
        Page(
            "survey template editor",
            reverse("surveys:manage_template", args=[site.surveys["template"].pk]),
            "admin",
        ),
        Page("survey deploy", reverse("surveys:manage_deploy"), "admin"),
        Page(
            "evaluation (unit)",
            reverse("evaluation:unit", args=[site.unit.pk]) + f"?term={site.course.term.code}",
            "coordinator",
        ),
        Page(
            "evaluation (district)",
            reverse("evaluation:unit", args=[site.unit.pk]) + f"?term={site.course.term.code}",
            "admin",
        ),
        Page(
            "evaluation targets",
            reverse("evaluation:targets") + f"?term={site.course.term.code}",
            "admin",
        ),
        # The boards (community/)
        Page("boards", reverse("community:home"), "parent"),
        Page("board", reverse("community:board", args=[site.community["board"].pk]), "parent"),
        Page(
            "board thread",
            reverse("community:thread", args=[site.community["question"].pk]),
            "parent",
        ),
        Page(
            "board new thread",
            reverse("community:new_thread", args=[site.community["board"].pk]),
            "parent",
        ),
        Page(
            "board report",
            reverse("community:report", args=[site.community["answer"].pk]),
            "parent",
        ),
        Page("board search", reverse("community:search") + "?q=作业", "parent"),
        Page("board profile", reverse("community:profile"), "parent"),
        Page("board moderation", reverse("community:moderation"), "coordinator"),
        Page(
            "board thread (moderator)",
            reverse("community:thread", args=[site.community["question"].pk]),
            "coordinator",
        ),
        # Buddy groups (groups/)
        Page("my groups", reverse("groups:mine"), "parent"),
        Page("group", reverse("groups:detail", args=[site.groups["group"].pk]), "parent"),
        Page(
            "group session", reverse("groups:session", args=[site.groups["session"].pk]), "parent"
        ),
        Page(
            "group session cancel",
            reverse("groups:session_cancel", args=[site.groups["booking"].pk]),
            "parent",
        ),
        Page("groups managed", reverse("groups:manage_list"), "coordinator"),
        Page("group new", reverse("groups:manage_new"), "coordinator"),
        Page(
            "group manage", reverse("groups:manage", args=[site.groups["group"].pk]), "coordinator"
        ),
        Page(
            "group session roster",
            reverse("groups:session", args=[site.groups["session"].pk]),
            "coordinator",
        ),
    ]


def form_error_pages(site: SimpleNamespace) -> list[tuple[Page, dict]]:
    """Forms sent back with errors (error lists and help next to each field)."""
    event = site.event
    return [
        (
            Page("sign up with errors", reverse("account_signup")),
            {"email": "不是邮箱", "password1": "1", "password2": "2"},
        ),
        (Page("sign in with errors", reverse("account_login")), {"login": "x", "password": "y"}),
        (
            Page("sign in by code with errors", reverse("account_request_login_code")),
            {"phone": "1"},
        ),
        (
            Page("guardian profile with errors", reverse("members:guardian_edit"), "parent"),
            {"relation": "other-planet", "phone": "123"},
        ),
        (
            Page("add child with errors", reverse("members:child_add"), "parent"),
            {"birth_year": "x"},
        ),
        (
            Page("api tokens with errors", reverse("members:api_tokens"), "coordinator"),
            {"name": "", "scopes": ["nonsense"], "unit": "0"},
        ),
        (
            Page("preferences with errors", reverse("notifications:preferences"), "parent"),
            {"quiet_start": "22:00", "quiet_end": ""},
        ),
        (
            Page(
                "event edit with errors",
                reverse("events:manage_edit", args=[event.pk]),
                "coordinator",
            ),
            {"title": "", "capacity": "-1"},
        ),
        (
            Page("handbook claim with errors", reverse("handbook:claim"), "parent"),
            {"item": "", "occurred_on": "不是日期"},
        ),
        (
            Page(
                "handbook decision with errors",
                reverse("handbook:review_detail", args=[site.claims["pending"].pk]),
                "coordinator",
            ),
            {"decision": "reject", "reason": ""},
        ),
        (
            Page("commendation with errors", reverse("recognition:commendations"), "coordinator"),
            {"unit": site.unit.pk, "guardian": "0", "alliance": "", "reason": ""},
        ),
        (
            Page("survey new with errors", reverse("surveys:manage_survey_new"), "coordinator"),
            {"template": "", "target": "session:0", "answer_days": "0"},
        ),
        (
            Page(
                "evaluation feedback with errors",
                reverse("evaluation:feedback_write", args=[site.unit.pk]),
                "admin",
            ),
            {"term": site.course.term.code, "strengths": "", "problems": ""},
        ),
        (
            Page(
                "evaluation action with errors",
                reverse("evaluation:action_add", args=[site.unit.pk]),
                "coordinator",
            ),
            {"term": site.course.term.code, "what": "", "owner": "", "due_on": ""},
        ),
        (
            Page(
                "board profile with errors",
                reverse("community:profile"),
                "parent",
            ),
            {"nickname": "1"},
        ),
        (
            Page(
                "evaluation targets with errors",
                reverse("evaluation:targets") + f"?term={site.course.term.code}",
                "admin",
            ),
            {f"t-{site.unit.pk}-{_first_responsibility_id()}": "abc"},
        ),
        (
            Page("group new with errors", reverse("groups:manage_new"), "coordinator"),
            {"parent_school_id": site.school.pk, "kind": "family", "name": "", "min_size": "9"},
        ),
    ]


def admin_pages(site: SimpleNamespace) -> list[Page]:
    """Django admin: the index, a list and a change form (the district administrator)."""
    return [
        Page("admin index", reverse("admin:index"), "admin"),
        Page("admin course list", reverse("admin:courses_course_changelist"), "admin"),
        Page(
            "admin course change",
            reverse("admin:courses_course_change", args=[site.course.pk]),
            "admin",
        ),
        Page(
            "admin unit change",
            reverse("admin:members_memberunit_change", args=[site.unit.pk]),
            "admin",
        ),
        Page("admin audit log", reverse("admin:members_auditlog_changelist"), "admin"),
        Page("admin handbook claims", reverse("admin:handbook_claim_changelist"), "admin"),
        Page(
            "admin handbook claim",
            reverse("admin:handbook_claim_change", args=[site.claims["pending"].pk]),
            "admin",
        ),
        Page(
            "admin audit log filtered",
            reverse("admin:members_auditlog_changelist")
            + "?action=members.role.assign&actor=coordinator&created_from=2025-01-01",
            "admin",
        ),
        Page("admin role grant", reverse("admin:members_roleassignment_add"), "admin"),
    ]


def error_pages(site: SimpleNamespace) -> list[tuple[Page, int]]:
    """Error pages that a GET reaches, with their status (portal/errors.py). The 500,
    refused-form and 429 pages are made to happen in portal/tests/test_error_pages.py
    and tests/browser/test_error_pages.py."""
    return [
        (Page("404", "/courses/no-such-page/"), 404),
        (Page("404 (parent)", "/courses/no-such-page/", "parent"), 404),
        (Page("403 (parent on a staff page)", reverse("courses:staff_sessions"), "parent"), 403),
    ]
