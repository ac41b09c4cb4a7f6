"""A small world for walking the API: two families in two units, each with what
the API's endpoints name by id (a child, a notice, tokens, a course session, an
event, bookings, a calendar feed), and the staff and check-in device of each
unit. The schema fuzzing (test_schemathesis.py) calls with side A's ids so that
endpoints get past 404; the scoping walk (test_scoping_walk.py) calls as side A
with side B's ids, which must all be refused."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

from bookings.models import Booking, Offering
from bookings.services import booking_create
from community.models import Board, Post, Thread
from community.tests.factories import BoardFactory, PostFactory, ThreadFactory
from courses.tests.factories import CourseFactory, make_session
from events.services import calendar_feed_get_or_create, ticket_code
from events.tests.factories import make_event
from groups.models import Group, GroupSession
from groups.services import group_session_create
from groups.tests.factories import GroupFactory, GroupMembershipFactory
from handbook.models import Claim
from handbook.tests.factories import ClaimFactory, HandbookItemFactory
from members.models import ApiToken, RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ApiTokenFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from notifications.services import notification_create
from parent_school.models import Term
from parent_school.tests.factories import ParentSchoolFactory, TermFactory
from recognition.tests.factories import LearningFamilyRuleFactory
from surveys.models import Survey
from surveys.services import draft_save
from surveys.tests.factories import SurveyFactory, SurveyTemplateFactory, with_questions

ALL_SCOPES = ("read", "write", "checkin")


@dataclass
class Side:
    """One family and one unit, and everything of theirs an endpoint names by id."""

    label: str
    family: object
    guardian: object
    child: object
    notice: object
    unit: object
    course: object
    session: object
    event: object
    course_booking: Booking
    event_booking: Booking
    staff: object
    token: ApiToken
    staff_token: ApiToken
    device_token: ApiToken
    feed: object
    # the growth handbook: the alliance's own item, a parent's claim and an
    # attendance-backed one, both waiting for the unit's verifier
    item: object = None
    claim: Claim | None = None
    attendance_claim: Claim | None = None
    # questionnaires: a survey of a session the family attended, open now, with a
    # draft in progress
    survey: Survey | None = None
    # the board: the parent school's board with the family's question and the
    # unit coordinator's answer; a buddy group of the school with the family in it,
    # and the group's own session
    board: Board | None = None
    thread: Thread | None = None
    posts: list[Post] = field(default_factory=list)
    group: Group | None = None
    group_session: GroupSession | None = None
    # the guidance station (issue 17): a station at the unit, its mentor's slot,
    # the family's consultation on it with a shared summary, a private note and
    # an open referral
    station: object = None
    mentor: object = None
    slot: object = None
    consultation: object = None
    referral: object = None
    # certificates (issue 18): the family's course certificate and its transcript
    certificate: object = None
    transcript: object = None
    secrets: list[str] = field(default_factory=list)

    def ids(self) -> dict[str, list[int]]:
        """This side's ids for every id parameter an API path, query or body names
        (several where the name covers several kinds: an offering is a course
        session's or an event's)."""
        return {
            "child_id": [self.child.pk],
            "child_ids": [self.child.pk],
            "guardian_id": [self.guardian.pk],
            "guardian_ids": [self.guardian.pk],
            "family_id": [self.family.pk],
            "notification_id": [self.notice.pk],
            "token_id": [self.token.pk],
            "course_id": [self.course.pk],
            "session_id": [self.session.pk],
            "offering_id": [self.session.offering_id, self.event.offering_id],
            "event_id": [self.event.pk],
            "booking_id": [self.course_booking.pk, self.event_booking.pk],
            "booking_ids": [self.course_booking.pk, self.event_booking.pk],
            "unit_id": [self.unit.pk],
            "school_id": [self.course.parent_school_id],
            "parent_school_id": [self.course.parent_school_id],
            "user_id": [self.guardian.user_id],
            "home_community_id": [self.course.parent_school.region_id],
            "item_id": [self.item.pk],
            "claim_id": [self.claim.pk, self.attendance_claim.pk],
            "claim_ids": [self.attendance_claim.pk, self.claim.pk],
            "survey_id": [self.survey.pk],
            "board_id": [self.board.pk],
            "thread_id": [self.thread.pk],
            "post_id": [post.pk for post in self.posts],
            "group_id": [self.group.pk],
            "group_session_id": [self.group_session.pk],
            "station_id": [self.station.pk],
            "mentor_id": [self.mentor.pk],
            "slot_id": [self.slot.pk],
            "consultation_id": [self.consultation.pk],
            "referral_id": [self.referral.pk],
            "certificate_id": [self.certificate.pk, self.transcript.pk],
            # a family's ticket, as staff scan it at the door
            "code": [
                ticket_code(booking=self.course_booking),
                ticket_code(booking=self.event_booking),
            ],
        }


def current_term() -> Term:
    """The current term (both sides share it), around today."""
    term = Term.objects.filter(is_current=True).first()
    if term is None:
        today = timezone.localdate()
        term = TermFactory(
            starts_on=today - datetime.timedelta(days=30),
            ends_on=today + datetime.timedelta(days=120),
            is_current=True,
        )
    return term


def make_side(label: str, phone: str) -> Side:
    guardian = GuardianFactory(
        user=UserFactory(phone=phone, display_name=f"{label}家妈妈{phone[-4:]}")
    )
    family = guardian.family
    unit = MemberUnitFactory(name=f"{label}单位")
    # The child goes to the unit's school, in an alliance with its own handbook.
    alliance = AllianceFactory(name=f"{label}联盟")
    MembershipFactory(alliance=alliance, unit=unit)
    child = ChildFactory(family=family, nickname=f"{label}家秘密宝贝", school=unit)
    notice = notification_create(user=guardian.user, title=f"{label}家的私人通知")
    school = ParentSchoolFactory(host_unit=unit, name=f"{label}家长学校")
    course = CourseFactory(parent_school=school, title=f"{label}单位的课程")
    session = make_session(course, capacity=20)
    event = make_event(organiser_unit=unit, title=f"{label}单位的活动")
    course_booking = booking_create(
        offering_id=session.offering_id,
        family=family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
        child_ids=[child.pk],
    )
    event_booking = booking_create(
        offering_id=event.offering_id,
        family=family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    staff = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR,
        unit=unit,
        user=UserFactory(display_name=f"{label}单位协调员"),
    ).user
    token, _ = ApiTokenFactory.create(user=guardian.user, scopes=ALL_SCOPES, name=f"{label}家令牌")
    staff_token, _ = ApiTokenFactory.create(user=staff, scopes=ALL_SCOPES, name=f"{label}员工令牌")
    device_token, _ = ApiTokenFactory.create(
        user=staff, scopes=["checkin"], unit=unit, name=f"{label}签到设备"
    )
    feed = calendar_feed_get_or_create(family=family)
    term = current_term()
    item = HandbookItemFactory(alliance=alliance, name=f"{label}联盟的在家陪伴", limit_per_day=3)
    school_item = HandbookItemFactory(
        alliance=alliance,
        kind="school",
        name=f"{label}联盟的家长课堂",
        evidence="attendance",
        attendance_match="course_session",
    )
    LearningFamilyRuleFactory(alliance=alliance, term=term)
    today = timezone.localdate()
    claim = ClaimFactory(
        family=family,
        item=item,
        child=child,
        term=term,
        unit=unit,
        occurred_on=today,
        note=f"{label}家的申报说明",
        created_by=guardian.user,
    )
    attendance_claim = ClaimFactory(
        family=family,
        item=school_item,
        term=term,
        unit=unit,
        occurred_on=today,
        note="",
        source="attendance",
        booking=course_booking,
    )
    survey = _attended_session_survey(guardian, course, unit, term, alliance, label)
    draft_save(
        user=guardian.user,
        survey_id=survey.pk,
        answers={"suggestion": f"{label}家的问卷草稿建议"},
        step=1,
    )
    board, thread, posts = _board_with_a_question(school, family, guardian, staff, label)
    group, group_session = _group_with_a_session(school, family, staff, label)
    guidance = _guidance_case(unit, guardian, child, label)
    certificate, transcript = _certificates(guardian, alliance, unit, course, term)
    secrets = [
        *guidance["secrets"],
        certificate.code,
        transcript.code,
        f"{label}家的问卷草稿建议",
        f"{label}家的提问内容",
        f"{label}单位协调员的回答",
        child.nickname,
        guardian.user.display_name,
        phone,
        notice.title,
        feed.token,
        claim.note,
    ]
    return Side(
        label=label,
        family=family,
        guardian=guardian,
        child=child,
        notice=notice,
        unit=unit,
        course=course,
        session=session,
        event=event,
        course_booking=course_booking,
        event_booking=event_booking,
        staff=staff,
        token=token,
        staff_token=staff_token,
        device_token=device_token,
        feed=feed,
        item=item,
        claim=claim,
        attendance_claim=attendance_claim,
        survey=survey,
        board=board,
        thread=thread,
        posts=posts,
        group=group,
        group_session=group_session,
        station=guidance["station"],
        mentor=guidance["mentor"],
        slot=guidance["slot"],
        consultation=guidance["consultation"],
        referral=guidance["referral"],
        certificate=certificate,
        transcript=transcript,
        secrets=secrets,
    )


def _guidance_case(unit, guardian, child, label: str) -> dict:
    """A guidance station at the unit with one mentor and her slot, booked by the
    family for its child (guidance.services); the mentor's shared summary, private
    note and referral on it (rows, as the notes service leaves them)."""
    from guidance import services as guidance_services
    from guidance.models import Note
    from guidance.tests.factories import NoteFactory, ReferralFactory, StationFactory
    from members.sealing import seal

    station = StationFactory(unit=unit, name=f"{label}成长指导站")
    mentor_user = UserFactory(display_name=f"{label}站林老师")
    mentor = guidance_services.mentor_create(
        user=None,
        station_id=station.pk,
        name=f"{label}站林老师",
        areas=["mental_health", "family_education"],
        audiences=["parent", "student"],
        modes=["in_person"],
        login_user_id=mentor_user.pk,
    )
    starts = timezone.localtime() + datetime.timedelta(days=6)
    slot = guidance_services.slot_create(
        user=mentor_user,
        mentor_id=mentor.pk,
        starts_at=starts.replace(hour=15, minute=0, second=0, microsecond=0),
        minutes=50,
        kind="small_group",
        capacity=4,
        mode="in_person",
        venue=f"{label}站咨询室",
    )
    need = f"{label}家的咨询需求"
    consultation = guidance_services.consultation_book(
        user=guardian.user,
        slot_id=slot.pk,
        area="mental_health",
        for_whom="child",
        child_id=child.pk,
        need=need,
    )
    summary = NoteFactory(
        consultation=consultation, body=f"{label}家的咨询摘要", author=mentor_user
    )
    private = f"{label}家的导师私密记录"
    NoteFactory(
        consultation=consultation,
        level=Note.Level.PRIVATE,
        body="",
        body_sealed=seal(private, purpose="guidance.note"),
        author=mentor_user,
    )
    referral = ReferralFactory(
        consultation=consultation,
        to_area="family_education",
        to_mentor=mentor,
        message=f"{label}家的转介说明",
        created_by=mentor_user,
    )
    return {
        "station": station,
        "mentor": mentor,
        "slot": slot,
        "consultation": consultation,
        "referral": referral,
        "secrets": [need, summary.body, private, referral.message],
    }


def _certificates(guardian, alliance, unit, course, term):
    """The family's signed course certificate, and its credit-bank transcript of a
    credit for the course (certificates.services.transcript_issue)."""
    from decimal import Decimal

    from certificates.credentials import credential_for
    from certificates.services import transcript_issue
    from certificates.tests.factories import CertificateFactory
    from courses.models import CreditEntry

    certificate = CertificateFactory(
        guardian=guardian,
        alliance=alliance,
        unit=unit,
        term=term,
        course=course,
        holder_name=guardian.user.display_name,
        subject_title=course.title,
    )
    certificate.credential = credential_for(certificate)
    certificate.save(update_fields=["credential"])
    CreditEntry.objects.create(
        key=f"api-world-credit:{guardian.family_id}",
        family=guardian.family,
        guardian=guardian,
        term=term,
        course=course,
        amount=Decimal("2"),
        reason=CreditEntry.Reason.ATTENDANCE,
    )
    transcript, _created = transcript_issue(user=guardian.user)
    return certificate, transcript


def _board_with_a_question(school, family, guardian, staff, label: str):
    """The school's board, the family's question on it and the coordinator's reply:
    rows as community.services leaves them (nickname and school snapshots)."""
    board = BoardFactory(parent_school=school, title=f"{school.name}交流区")
    thread = ThreadFactory(
        board=board,
        title=f"{label}家的提问",
        author_family=family,
        author_user=guardian.user,
        reply_count=1,
    )
    opening = PostFactory(
        thread=thread,
        is_opening=True,
        body=f"{label}家的提问内容",
        author_family=family,
        author_user=guardian.user,
        author_name=f"{label}家昵称",
        author_school=school.name,
    )
    reply = PostFactory(
        thread=thread,
        body=f"{label}单位协调员的回答",
        author_user=staff,
        author_role=Post.Role.COORDINATOR,
        author_name=f"{label}单位协调员",
        author_school=school.name,
    )
    return board, thread, [opening, reply]


def _group_with_a_session(school, family, staff, label: str):
    """An open 家伴 group of the school led by the unit's coordinator, the family
    its one member, and its session next week (through groups.services)."""
    group = GroupFactory(
        parent_school=school, facilitator=staff, name=f"{label}家伴小组", member_count=1
    )
    GroupMembershipFactory(group=group, family=family)
    starts_at = timezone.now() + datetime.timedelta(days=7)
    session = group_session_create(
        user=staff,
        group_id=group.pk,
        title=f"{label}小组的活动",
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=2),
        capacity=10,
        venue=f"{label}社区活动室",
    )
    return group, session


def _attended_session_survey(guardian, course, unit, term, alliance, label: str) -> Survey:
    """A session of ``course`` that ended an hour ago, the guardian's family present
    at it, and its published questionnaire (the usual questions), open for a week."""
    session = make_session(course, capacity=20)
    booking = booking_create(
        offering_id=session.offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
    )
    ends_at = timezone.now() - datetime.timedelta(hours=1)
    Offering.objects.filter(pk=session.offering_id).update(
        starts_at=ends_at - datetime.timedelta(hours=2), ends_at=ends_at
    )
    Booking.objects.filter(pk=booking.pk).update(attendance=Booking.Attendance.PRESENT)
    template = SurveyTemplateFactory(alliance=alliance, name=f"{label}联盟的课后问卷")
    with_questions(template)
    return SurveyFactory(
        template=template,
        title=f"{label}单位的课后问卷",
        scope=Survey.Scope.SESSION,
        offering_id=session.offering_id,
        parent_school=None,
        term=term,
        unit=unit,
        opens_at=ends_at,
        closes_at=ends_at + datetime.timedelta(days=7),
    )


def fresh_token(side: Side, principal: str) -> tuple[ApiToken, str]:
    """A new token (row, raw key) for one of the side's callers: ``parent``,
    ``staff`` or ``device`` (new for each request, so a call that revokes or
    rate-limits its own token cannot change the next call's answer; revoke it
    after use, a person has only so many live tokens)."""
    if principal == "parent":
        return ApiTokenFactory.create(user=side.guardian.user, scopes=ALL_SCOPES)
    if principal == "staff":
        return ApiTokenFactory.create(user=side.staff, scopes=ALL_SCOPES)
    if principal == "device":
        return ApiTokenFactory.create(user=side.staff, scopes=["checkin"], unit=side.unit)
    raise ValueError(principal)
