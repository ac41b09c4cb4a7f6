"""Two parties side by side for the admin security tests.

"甲方" (ours) is a unit in an alliance, with a unit coordinator, an instructor, a
family whose child attends the unit, a parent school, a course with a booked
session, an event with a registration, and one row of every other portal model.
"乙方" (theirs) has the same, in another unit and alliance of another district
(渝北区 beside 甲方's 渝中区). The staff under test (甲方's district administrator,
the alliance's coordinator, the unit's coordinator and its instructor) work for
甲方; nothing of 乙方 may reach any of them. Only the city administrator above
both districts sees both.

Every label of 乙方 contains "乙方" where the model's label allows it, so a leak
is visible in any page.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Offering
from bookings.tests.factories import OfferingFactory
from community.models import Decision, Report
from community.tests.factories import (
    BoardFactory,
    BoardProfileFactory,
    DecisionFactory,
    MuteFactory,
    PostFactory,
    ReportFactory,
    SensitiveWordFactory,
    ThreadFactory,
)
from courses.models import CreditEntry, LessonProgress
from courses.tests.factories import (
    CourseFactory,
    OnlineLessonFactory,
    ThemeFactory,
    make_session,
    stage,
)
from evaluation.tests.factories import (
    ActionUpdateFactory,
    FeedbackFactory,
    ImprovementActionFactory,
    ResponsibilityFactory,
    UnitTargetFactory,
)
from events import services as event_services
from events.models import Delivery, Notice, ReminderRule
from events.tests.factories import make_event
from groups.models import Group as BuddyGroup
from groups.models import GroupMembership
from groups.tests.factories import GroupSessionFactory
from guidance.models import Note
from guidance.tests.factories import (
    ConsultationFactory,
    FollowUpFactory,
    GuidanceQuotaFactory,
    LimitLiftFactory,
    MentorFactory,
    NoteFactory,
    ReferralFactory,
    SlotFactory,
    SlotPatternFactory,
    StationFactory,
)
from handbook.tests.factories import ClaimFactory, HandbookItemFactory
from members import registry
from members.models import AuditLog, FamilyInvitation, Guardian, RoleAssignment
from members.services import api_token_create, audit_log_record
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RegionFactory,
    UserFactory,
)
from notifications.models import Notification, NotificationPreference
from parent_school.tests.factories import (
    BrandProgrammeFactory,
    InstructorFactory,
    ParentSchoolFactory,
    TargetFactory,
    TermFactory,
)
from recognition.tests.factories import (
    CommendationFactory,
    LearningFamilyEntryFactory,
    LearningFamilyListFactory,
    LearningFamilyRuleFactory,
)
from reports.models import ParticipationSnapshot, ReportJob
from surveys.tests.factories import SurveyFactory, SurveyTemplateFactory
from volunteers.tests.factories import ServiceHourFactory, VolunteerApplicationFactory
from wechat.models import SubscriptionGrant, SubscriptionTemplate, WeChatIdentity

Role = RoleAssignment.Role
STAFF_ROLES = ["city", "district", "alliance", "unit", "instructor"]


@dataclass
class World:
    ours: dict = field(default_factory=dict)
    theirs: dict = field(default_factory=dict)
    staff: dict = field(default_factory=dict)
    superuser: object = None

    def grant_every_portal_permission(self, user) -> None:
        """As a superuser might, by hand: every model permission of the portal's
        apps. What still holds the user to their scope is members/access.py."""
        group, _ = Group.objects.get_or_create(name="测试：全部门户权限")
        group.permissions.set(
            Permission.objects.filter(content_type__app_label__in=registry.PORTAL_APPS)
        )
        user.groups.add(group)
        for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
            if hasattr(user, cache):
                delattr(user, cache)


def _label(model) -> str:
    return model._meta.label_lower


def _board_and_group_rows(
    tag,
    keep,
    *,
    unit,
    school,
    family,
    parent,
    coordinator,
    facilitator,
    days,
    report_reason,
    decision_action,
):
    """The unit's buddy group (facilitated by its instructor) with the family in it
    and a session; the school's board with a thread, its opening post, a report, a
    decision and a mute; the family's board nickname. Reports and decisions are
    named by their reason or action only, so each side has its own (a shared label
    would read as a leak)."""
    group = keep(
        BuddyGroup.objects.create(
            kind=BuddyGroup.Kind.FAMILY,
            name=f"{tag}家伴小组",
            parent_school=school,
            facilitator=facilitator,
            facilitator_role=BuddyGroup.FacilitatorRole.INSTRUCTOR,
            max_size=6,
            joining=BuddyGroup.Joining.OPEN,
            member_count=1,
        )
    )
    keep(
        GroupMembership.objects.create(
            group=group,
            family=family,
            status=GroupMembership.Status.ACTIVE,
            joined_at=timezone.now(),
        )
    )
    keep(
        GroupSessionFactory(
            group=group,
            offering=OfferingFactory(
                kind=Offering.Kind.GROUP_SESSION, unit=unit, title=f"{tag}小组活动"
            ),
            venue=f"{tag}活动室",
            created_by=facilitator,
        )
    )
    board = keep(BoardFactory(parent_school=school, unit=unit, title=f"{tag}家长学校交流区"))
    keep(BoardProfileFactory(family=family, nickname=f"{tag}昵称"))
    thread = keep(
        ThreadFactory(board=board, title=f"{tag}提问帖", author_family=family, author_user=parent)
    )
    post = keep(
        PostFactory(
            thread=thread,
            is_opening=True,
            body=f"{tag}帖子内容",
            author_family=family,
            author_user=parent,
            author_name=f"{tag}昵称",
            author_school=school.name,
        )
    )
    keep(
        ReportFactory(post=post, reporter_family=family, reporter_user=parent, reason=report_reason)
    )
    keep(
        DecisionFactory(
            board=board, post=post, family=family, action=decision_action, decided_by=coordinator
        )
    )
    keep(
        MuteFactory(
            family=family,
            parent_school=school,
            until=timezone.now() + datetime.timedelta(days=days),
            decision=DecisionFactory(
                board=board, post=post, family=family, action="mute", decided_by=coordinator
            ),
        )
    )


def _guidance_rows(tag, keep, *, unit, term, family, child, parent, instructor, area, hours):
    """The unit's guidance station with a mentor (the unit's instructor login), a
    weekly pattern and a slot, a consultation of the family with a referral, a
    summary note, a follow-up, the family's tally and a lift; a volunteer
    application to the unit and a service-hour row of its instructor (added for
    issue 17's admins). Each side refers to another area, so the referrals'
    labels differ."""
    station = keep(StationFactory(unit=unit, name=f"{tag}成长指导站"))
    mentor = keep(
        MentorFactory(
            station=station, name=f"{tag}导师", user=instructor.user, instructor=instructor
        )
    )
    pattern = keep(SlotPatternFactory(mentor=mentor, venue=f"{tag}咨询室"))
    slot = keep(
        SlotFactory(
            mentor=mentor,
            pattern=pattern,
            offering=OfferingFactory(
                kind=Offering.Kind.CONSULTATION, unit=unit, capacity=1, title=f"{tag}咨询时段"
            ),
        )
    )
    consultation = keep(
        ConsultationFactory(
            slot=slot, family=family, child=child, booked_by=parent, term=term, area=area
        )
    )
    keep(ReferralFactory(consultation=consultation, to_area=area, to_mentor=mentor))
    keep(
        NoteFactory(
            consultation=consultation,
            level=Note.Level.SUMMARY,
            body=f"{tag}咨询摘要",
            author=instructor.user,
        )
    )
    keep(FollowUpFactory(consultation=consultation, message=f"{tag}回访提醒"))
    keep(GuidanceQuotaFactory(station=station, family=family, used=1, max_used=2))
    keep(LimitLiftFactory(station=station, family=family, term=term, reason=f"{tag}上限说明"))
    keep(
        VolunteerApplicationFactory(
            centre=unit, user=parent, name=f"{tag}志愿者申请人", station=station
        )
    )
    keep(ServiceHourFactory(instructor=instructor, term=term, unit=unit, hours=hours))


def _certificate_rows(tag, keep, *, alliance, unit, term, guardian, course):
    """The alliance's certificate rule and design, a batch, a certificate of the
    family issued by it and the family's preference (added for issue 18's admins)."""
    from certificates.tests.factories import (
        CertificateBatchFactory,
        CertificateDesignFactory,
        CertificateFactory,
        CertificatePreferenceFactory,
        CertificateRuleFactory,
    )

    keep(CertificateRuleFactory(alliance=alliance))
    keep(CertificateDesignFactory(alliance=alliance, issuer_name=f"{tag}落款"))
    batch = keep(CertificateBatchFactory(alliance=alliance, term=term))
    keep(
        CertificateFactory(
            alliance=alliance,
            unit=unit,
            term=term,
            guardian=guardian,
            course=course,
            batch=batch,
            holder_name=f"{tag}持证人",
            subject_title=f"{tag}课程证书",
        )
    )
    keep(CertificatePreferenceFactory(family=guardian.family))


def _side(
    tag: str,
    *,
    district_region,
    term,
    superuser,
    amount: Decimal,
    minutes: int,
    days: int,
    report_reason: str,
    decision_action: str,
) -> dict:
    rows: dict = {}

    def keep(obj):
        rows[_label(type(obj))] = obj
        return obj

    street = keep(RegionFactory(name=f"{tag}街道", parent=district_region))
    unit = keep(MemberUnitFactory(name=f"{tag}小学", region=street))
    alliance = keep(
        AllianceFactory(name=f"{tag}联盟", short_name=f"{tag}联盟", region=street, base_unit=unit)
    )
    keep(MembershipFactory(alliance=alliance, unit=unit))

    coordinator = UserFactory(username=f"{tag}-coordinator", display_name=f"{tag}协调员")
    keep(
        registry.role_assign(
            actor=superuser, user=coordinator, role=Role.UNIT_COORDINATOR, unit=unit
        )
    )
    # A check-in tablet of the unit, handed out by its coordinator.
    keep(
        api_token_create(user=coordinator, name=f"{tag}签到平板", scopes=["checkin"], unit=unit)[0]
    )
    instructor_user = UserFactory(username=f"{tag}-instructor", display_name=f"{tag}讲师账号")
    registry.role_assign(actor=superuser, user=instructor_user, role=Role.INSTRUCTOR, unit=unit)

    parent = keep(UserFactory(username=f"{tag}-parent", display_name=f"{tag}家长"))
    guardian = keep(GuardianFactory(user=parent))
    family = keep(guardian.family)
    child = keep(ChildFactory(family=family, nickname=f"{tag}小朋友", school=unit))
    keep(
        FamilyInvitation.objects.create(
            family=family,
            invited_by=parent,
            email=f"{tag}-grandma@example.cn",
            relation=Guardian.Relation.GRANDPARENT,
            expires_at=timezone.now() + datetime.timedelta(days=7),
        )
    )

    school = keep(ParentSchoolFactory(name=f"{tag}家长学校", host_unit=unit, region=street))
    keep(TargetFactory(parent_school=school, term=term))
    instructor = keep(InstructorFactory(name=f"{tag}讲师", unit=unit, user=instructor_user))
    brand = keep(BrandProgrammeFactory(name=f"{tag}品牌", owner_unit=unit))
    course = keep(CourseFactory(title=f"{tag}课程", parent_school=school, term=term, brand=brand))
    course.instructors.add(instructor)
    session = keep(make_session(course, starts_in=datetime.timedelta(days=5)))
    keep(session.offering)
    lesson = keep(OnlineLessonFactory(course=course, title=f"{tag}微课"))
    booking = keep(
        booking_services.booking_create(
            offering_id=session.offering_id,
            family=family,
            booked_by=parent,
            guardian_ids=[guardian.pk],
            child_ids=[child.pk],
        )
    )
    keep(booking.attendees.order_by("pk").first())
    progress = keep(
        LessonProgress.objects.create(lesson=lesson, family=family, seconds_watched=60, percent=10)
    )
    keep(
        CreditEntry.objects.create(
            key=f"test:{tag}:credit",
            family=family,
            guardian=guardian,
            term=term,
            course=course,
            amount=amount,
            reason=CreditEntry.Reason.ATTENDANCE,
            booking=booking,
            lesson_progress=progress,
        )
    )

    event = keep(
        make_event(
            organiser_unit=unit,
            organiser_alliance=alliance,
            title=f"{tag}讲座",
            venue=f"{tag}报告厅",
            starts_at=timezone.now() + datetime.timedelta(days=6),
        )
    )
    event_services.event_register(
        event_id=event.pk, family=family, booked_by=parent, guardian_ids=[guardian.pk]
    )
    keep(ReminderRule.objects.create(event=event, offset_minutes=minutes))
    delivery = Delivery.objects.filter(offering=session.offering).order_by("pk").first()
    if delivery is None:
        now = timezone.now()
        delivery = Delivery.objects.create(
            user=parent,
            offering=session.offering,
            booking=booking,
            purpose=Delivery.Purpose.REMINDER,
            channel=Delivery.Channel.INBOX,
            scheduled_for=now,
            due_at=now,
        )
    keep(delivery)
    # A notice of another app, sent by the unit to the family (its rows are in the log).
    event_services.notice_send(
        key=f"tests.world:{tag}",
        topic="tests.world",
        subject=f"{tag}门户通知",
        lead=f"{tag}门户通知正文",
        family_ids=[family.pk],
        unit=unit,
    )
    keep(Notice.objects.get(key=f"tests.world:{tag}"))
    keep(event_services.calendar_feed_get_or_create(family=family))
    keep(Notification.objects.create(user=parent, title=f"{tag}通知", body=f"{tag}通知内容"))
    keep(NotificationPreference.objects.get_or_create(user=parent)[0])
    keep(WeChatIdentity.objects.create(user=parent, app_id="wx-test", openid=f"o_{tag}"))
    keep(SubscriptionGrant.objects.create(user=parent, template_id=f"{tag}模板", answer="accept"))
    keep(
        ParticipationSnapshot.objects.create(
            term=term,
            unit=unit,
            parent_school=school,
            parent_school_key=school.pk,
            period="term",
            computed_at=timezone.now(),
        )
    )
    keep(
        ReportJob.objects.create(
            kind=ReportJob.Kind.ROLLUP, term=term, unit=unit, requested_by=coordinator
        )
    )
    keep(audit_log_record(actor=coordinator, action="tests.world.entry", target=unit))
    keep(Group.objects.get_or_create(name=f"{tag}小组")[0])
    # The alliance's own handbook item and the family's claim of it, verified by the unit.
    item = keep(HandbookItemFactory(alliance=alliance, name=f"{tag}亲子阅读"))
    keep(
        ClaimFactory(
            family=family,
            child=child,
            item=item,
            term=term,
            unit=unit,
            note=f"{tag}手册说明",
            created_by=parent,
        )
    )
    # The alliance's learning-family rule, its list with the family on it, and the
    # guardian commended by the unit.
    keep(LearningFamilyRuleFactory(alliance=alliance, term=term))
    learning_list = keep(LearningFamilyListFactory(alliance=alliance, term=term))
    keep(
        LearningFamilyEntryFactory(
            family_list=learning_list, family=family, unit=unit, display_name=f"{tag}*家庭"
        )
    )
    keep(
        CommendationFactory(
            alliance=alliance, term=term, guardian=guardian, unit=unit, reason=f"{tag}推荐理由"
        )
    )
    # The alliance's questionnaire template and the parent school's term survey of it.
    survey_template = keep(SurveyTemplateFactory(alliance=alliance, name=f"{tag}问卷模板"))
    survey = keep(
        SurveyFactory(
            template=survey_template,
            title=f"{tag}学期问卷",
            parent_school=school,
            term=term,
            unit=unit,
        )
    )
    keep(survey.version)
    # The unit's evaluation loop: a target, the district's feedback, an action and its update.
    responsibility = ResponsibilityFactory(code="world-sessions", name="开课次数（测试）")
    keep(UnitTargetFactory(unit=unit, term=term, responsibility=responsibility))
    feedback = keep(
        FeedbackFactory(unit=unit, term=term, strengths=f"{tag}亮点", written_by=superuser)
    )
    action = keep(
        ImprovementActionFactory(
            unit=unit, term=term, feedback=feedback, what=f"{tag}改进措施", created_by=coordinator
        )
    )
    keep(ActionUpdateFactory(action=action, note=f"{tag}进展", by=coordinator))
    _guidance_rows(
        tag,
        keep,
        unit=unit,
        term=term,
        family=family,
        child=child,
        parent=parent,
        instructor=instructor,
        area="family_education" if tag == "甲方" else "career",
        hours=Decimal("2.0") if tag == "甲方" else Decimal("3.5"),
    )
    _board_and_group_rows(
        tag,
        keep,
        unit=unit,
        school=school,
        family=family,
        parent=parent,
        coordinator=coordinator,
        facilitator=instructor_user,
        days=days,
        report_reason=report_reason,
        decision_action=decision_action,
    )
    _certificate_rows(
        tag, keep, alliance=alliance, unit=unit, term=term, guardian=guardian, course=course
    )
    rows["coordinator"] = coordinator
    rows["instructor_user"] = instructor_user
    rows["user"] = parent
    return rows


def build_world() -> World:
    world = World()
    world.superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    district_region = RegionFactory(name="渝中区", kind="district")
    term = TermFactory()
    world.ours = _side(
        "甲方",
        district_region=district_region,
        term=term,
        superuser=world.superuser,
        amount=Decimal("1.0"),
        minutes=60,
        days=3,
        report_reason=Report.Reason.ADS,
        decision_action=Decision.Action.APPROVE,
    )
    # District-wide reference rows: nobody's, everyone's to pick.
    world.ours["parent_school.term"] = term
    world.ours["courses.theme"] = ThemeFactory(name="亲子沟通")
    world.ours["courses.stage"] = stage("primary")
    world.ours["evaluation.responsibility"] = ResponsibilityFactory(
        code="world-sessions", name="开课次数（测试）"
    )
    world.ours["wechat.subscriptiontemplate"] = SubscriptionTemplate.objects.create(
        kind="reminder", template_id="提醒模板", field_map={"thing1": "title"}
    )
    # The district's word list: nobody's side, the district administrators' to edit.
    world.ours["community.sensitiveword"] = SensitiveWordFactory(word="测试敏感词")
    # Named with the marker, so that the district's name showing anywhere is a leak.
    their_district = RegionFactory(name="乙方区", kind="district")
    world.theirs = _side(
        "乙方",
        district_region=their_district,
        term=term,
        superuser=world.superuser,
        amount=Decimal("7.7"),
        minutes=4321,
        days=5,
        report_reason=Report.Reason.PRIVACY,
        decision_action=Decision.Action.DISMISS,
    )

    # Kept under keys without a dot: not a model's one row, but a district
    # administrator role's region must be a district.
    world.ours["district_region"] = district_region
    world.theirs["district_region"] = their_district
    city = UserFactory(username="city", display_name="市级管理员")
    registry.role_assign(actor=world.superuser, user=city, role=Role.CITY_ADMIN)
    district = UserFactory(username="district", display_name="区级管理员甲")
    registry.role_assign(
        actor=world.superuser, user=district, role=Role.DISTRICT_ADMIN, region=district_region
    )
    alliance_coordinator = UserFactory(username="alliance", display_name="甲方联盟协调员")
    registry.role_assign(
        actor=world.superuser,
        user=alliance_coordinator,
        role=Role.ALLIANCE_COORDINATOR,
        alliance=world.ours["members.alliance"],
    )
    instructor = world.ours["instructor_user"]
    # An instructor is not staff by their role; a superuser may have made them
    # staff by hand. Even then they see only their unit, and change nothing.
    instructor.is_staff = True
    instructor.save(update_fields=["is_staff"])
    world.staff = {
        "city": city,
        "district": district,
        "alliance": alliance_coordinator,
        "unit": world.ours["coordinator"],
        "instructor": instructor,
    }
    assert AuditLog.objects.exists()
    return world
