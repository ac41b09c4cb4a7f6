"""Demo questionnaires for ``manage.py load_demo`` (runs after recognition.demo).

* The district's template 「家长学校课程满意度问卷」 (by the district administrator):
  two sections, the six kinds of question, a satisfaction measure and a condition
  (「哪些地方让您不够满意？」 only after a rating of 3 or less).
* The Xikou alliance's template 「溪口联盟活动反馈问卷」 (by its coordinator).
* A named survey of a held session of 「乡镇家庭教育指导」 (溪口镇社区家长学校):
  the families marked present answer it the next day, except the demo parent,
  who finds it open in 我的问卷.
* An anonymous term survey of 溪口镇社区家长学校: its families with a booking this
  term, plus seven families that booked the next session (made here, no usable
  password), answer: ten answers, so one batch of five is released (a batch goes
  out only while two wait, so results can show it) and five wait 「5 份答卷待汇总」
  until closing; the demo parent has not answered yet.
* A named survey of the alliance template on an event the alliance held.

Everything goes through surveys.services (template and question saves, survey
create and publish, response_submit at the moment of answering, the anonymous
release), so the demo is what the pages would have made. Idempotent: templates by
name, surveys by template and target, answers by the family's participation, so a
second load changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

DISTRICT_TEMPLATE = "家长学校课程满意度问卷"
ALLIANCE_TEMPLATE = "溪口联盟活动反馈问卷"
ALLIANCE_NAME = "溪口协同育人联盟"
SESSION_COURSE = "乡镇家庭教育指导"
TERM_SCHOOL = "溪口镇社区家长学校"
EVENT_TITLE = "初一新生家长会：家校携手第一步"
DEMO_PARENT = "demo_parent"

# (section title, [(kind, label, help, required, options, measure, condition)]);
# a condition is (the label of an earlier question, the values that show this one).
DISTRICT_QUESTIONS = [
    (
        "课程评价",
        [
            (
                "rating",
                "您对本学期家长学校课程的总体满意度",
                "1 分最低，5 分最高。",
                True,
                [],
                "satisfaction",
                None,
            ),
            ("nps", "您向其他家长推荐家长学校的可能性", "", True, [], "", None),
            (
                "single",
                "您最常用的参加方式",
                "",
                True,
                ["到校参加", "线上观看", "两者都有"],
                "",
                None,
            ),
            (
                "multiple",
                "您希望增加哪些主题",
                "可多选。",
                False,
                ["亲子沟通", "学习习惯", "情绪管理", "青春期", "家庭安全"],
                "",
                None,
            ),
        ],
    ),
    (
        "意见建议",
        [
            (
                "long_text",
                "哪些地方让您不够满意？",
                "请不要写孩子的姓名。",
                False,
                [],
                "",
                ("您对本学期家长学校课程的总体满意度", [1, 2, 3]),
            ),
            ("short_text", "一句话建议", "", False, [], "", None),
        ],
    ),
]

ALLIANCE_QUESTIONS = [
    (
        "活动反馈",
        [
            ("rating", "您对本次活动的总体满意度", "", True, [], "satisfaction", None),
            ("single", "活动时间是否合适", "", True, ["合适", "偏早", "偏晚"], "", None),
            ("short_text", "您的建议", "", False, [], "", None),
        ],
    ),
]

# Answers by label, one sheet per answering family in turn (cycled).
DISTRICT_ANSWERS = [
    {
        "您对本学期家长学校课程的总体满意度": 5,
        "您向其他家长推荐家长学校的可能性": 10,
        "您最常用的参加方式": 0,
        "您希望增加哪些主题": [0, 2],
        "一句话建议": "希望多安排周末的场次",
    },
    {
        "您对本学期家长学校课程的总体满意度": 4,
        "您向其他家长推荐家长学校的可能性": 8,
        "您最常用的参加方式": 2,
        "您希望增加哪些主题": [1],
    },
    {
        "您对本学期家长学校课程的总体满意度": 3,
        "您向其他家长推荐家长学校的可能性": 6,
        "您最常用的参加方式": 1,
        "您希望增加哪些主题": [3, 4],
        "哪些地方让您不够满意？": "晚上的课结束太晚，希望提前半小时。",
    },
    {
        "您对本学期家长学校课程的总体满意度": 5,
        "您向其他家长推荐家长学校的可能性": 9,
        "您最常用的参加方式": 0,
    },
    {
        "您对本学期家长学校课程的总体满意度": 4,
        "您向其他家长推荐家长学校的可能性": 7,
        "您最常用的参加方式": 0,
        "您希望增加哪些主题": [0],
        "一句话建议": "案例再多一些",
    },
    {
        "您对本学期家长学校课程的总体满意度": 2,
        "您向其他家长推荐家长学校的可能性": 4,
        "您最常用的参加方式": 1,
        "哪些地方让您不够满意？": "线上回放的声音不清楚。",
    },
]
ALLIANCE_ANSWERS = [
    {"您对本次活动的总体满意度": 5, "活动时间是否合适": 0, "您的建议": "家校交流很有收获"},
    {"您对本次活动的总体满意度": 4, "活动时间是否合适": 2},
    {"您对本次活动的总体满意度": 4, "活动时间是否合适": 0},
]

# Families who booked the term's next session (so they may answer the term survey).
EXTRA_FAMILIES = [
    ("survey_a", "demo_family_survey_a", "钱女士（演示）", "13900015101"),
    ("survey_b", "demo_family_survey_b", "吴先生（演示）", "13900015102"),
    ("survey_c", "demo_family_survey_c", "郑女士（演示）", "13900015103"),
    ("survey_d", "demo_family_survey_d", "冯先生（演示）", "13900015104"),
    ("survey_e", "demo_family_survey_e", "陈女士（演示）", "13900015105"),
    ("survey_f", "demo_family_survey_f", "褚女士（演示）", "13900015106"),
    ("survey_g", "demo_family_survey_g", "卫先生（演示）", "13900015107"),
]


def _template(actor, *, alliance_id, name, description, plan):
    """The template ``name`` of the district (alliance_id None) or an alliance, built
    once with its sections and questions through the services."""
    from . import selectors, services
    from .models import SurveyTemplate

    found = SurveyTemplate.objects.filter(alliance_id=alliance_id, name=name).first()
    if found is not None:
        return found
    template = services.template_create(
        actor=actor, alliance_id=alliance_id, name=name, description=description
    )
    first_section = selectors.current_version(template.pk).sections.order_by("position").first()
    by_label = {}
    for index, (title, questions) in enumerate(plan):
        section = services.section_save(
            actor=actor,
            template_id=template.pk,
            section_id=first_section.pk if index == 0 else None,
            title=title,
        )
        for kind, label, help_text, required, options, measure, condition in questions:
            show_if_id, show_if_values = None, []
            if condition:
                show_if_id, show_if_values = by_label[condition[0]].pk, condition[1]
            by_label[label] = services.question_save(
                actor=actor,
                template_id=template.pk,
                question_id=None,
                section_id=section.pk,
                kind=kind,
                label=label,
                help_text=help_text,
                required=required,
                options=options,
                show_if_id=show_if_id,
                show_if_values=show_if_values,
                measure=measure,
            )
    return template


def _keyed(template, sheet: dict) -> dict:
    """A sheet by label as the services take it: by question key."""
    from . import selectors

    questions = selectors.version_questions(selectors.current_version(template.pk).pk)
    keys = {q.label: q.key for q in questions}
    return {keys[label]: value for label, value in sheet.items()}


def _survey(actor, *, template, scope, target_id, lookup: dict, **fields):
    """The published survey of ``template`` on the target in ``lookup``, made once."""
    from . import services
    from .models import Survey

    found = Survey.objects.filter(template=template, scope=scope, **lookup).first()
    if found is not None:
        return found
    survey = services.survey_create(
        actor=actor, template_id=template.pk, scope=scope, target_id=target_id, **fields
    )
    return services.survey_publish(actor=actor, survey_id=survey.pk)


def _answer_all(survey, template, users, sheets, at) -> int:
    """Each user's family answers (a sheet in turn) at ``at``, unless it has."""
    from courses.services import family_of

    from . import services
    from .models import Participation

    answered = set(Participation.objects.filter(survey=survey).values_list("family_id", flat=True))
    count = 0
    for index, user in enumerate(users):
        family = family_of(user)
        if family is None or family.pk in answered:
            continue
        services.response_submit(
            user=user,
            survey_id=survey.pk,
            answers=_keyed(template, sheets[index % len(sheets)]),
            now=at + dt.timedelta(minutes=7 * index),
        )
        answered.add(family.pk)
        count += 1
    return count


def _present_users(offering, exclude: str):
    from bookings.models import Booking

    bookings = (
        Booking.objects.filter(
            offering=offering,
            status=Booking.Status.CONFIRMED,
            attendance=Booking.Attendance.PRESENT,
        )
        .select_related("booked_by")
        .order_by("pk")
    )
    return [b.booked_by for b in bookings if b.booked_by.username != exclude]


def _extra_families(offering) -> list:
    """More families of the parent school, booked on its next session."""
    from bookings.models import Booking
    from bookings.services import booking_create
    from members import demo as members_demo

    users = []
    for key, username, name, phone in EXTRA_FAMILIES:
        spec = members_demo.DemoFamily(
            key, username, name, "mother", phone, f"{username}@example.com", "xikou", ()
        )
        guardian = members_demo._demo_family(spec, None)
        if not Booking.objects.filter(offering=offering, family=guardian.family).exists():
            booking_create(
                offering_id=offering.pk,
                family=guardian.family,
                booked_by=guardian.user,
                guardian_ids=[guardian.pk],
            )
        users.append(guardian.user)
    return users


def load(stdout=None) -> dict[str, int]:
    from bookings.models import Booking, Offering
    from members.models import Alliance
    from parent_school.models import ParentSchool
    from parent_school.selectors import term_current

    from . import services
    from .models import Participation, PendingResponse, Response, Survey, SurveyTemplate

    term = term_current()
    if term is None:
        return {"问卷": 0}
    User = get_user_model()
    staff = {
        u.username: u
        for u in User.objects.filter(username__in=["demo_district_admin", "demo_xikou_coordinator"])
    }
    admin, coordinator = staff.get("demo_district_admin"), staff.get("demo_xikou_coordinator")
    alliance = Alliance.objects.filter(name=ALLIANCE_NAME).first()
    if admin is None or coordinator is None or alliance is None:
        return {"问卷": 0}
    now = timezone.now()
    with transaction.atomic():
        district = _template(
            admin,
            alliance_id=None,
            name=DISTRICT_TEMPLATE,
            description="每学期末请家长学校的学员家庭填写，结果用于全区比较和考核。",
            plan=DISTRICT_QUESTIONS,
        )
        own = _template(
            coordinator,
            alliance_id=alliance.pk,
            name=ALLIANCE_TEMPLATE,
            description="联盟活动结束后请参加的家庭填写。",
            plan=ALLIANCE_QUESTIONS,
        )

        # a held session: named; the families present answer the next day
        held = (
            Offering.objects.filter(
                course_session__course__title=SESSION_COURSE,
                course_session__course__term=term,
                ends_at__lt=now - dt.timedelta(days=1),
                bookings__attendance=Booking.Attendance.PRESENT,
            )
            .distinct()
            .order_by("-ends_at", "-pk")
            .first()
        )
        if held is not None:
            survey = _survey(
                admin,
                template=district,
                scope=Survey.Scope.SESSION,
                target_id=held.pk,
                lookup={"offering": held},
                title=f"{held.title}课后问卷",
                opens_at=held.ends_at,
                closes_at=max(held.ends_at + dt.timedelta(days=14), now + dt.timedelta(days=7)),
            )
            _answer_all(
                survey,
                district,
                _present_users(held, exclude=DEMO_PARENT),
                DISTRICT_ANSWERS,
                held.ends_at + dt.timedelta(hours=20),
            )

        # the parent school's term: anonymous, released in a batch of five
        school = ParentSchool.objects.filter(name=TERM_SCHOOL).first()
        upcoming = (
            Offering.objects.filter(
                course_session__course__parent_school=school,
                course_session__course__term=term,
                starts_at__gt=now,
            )
            .order_by("starts_at", "pk")
            .first()
        )
        if school is not None and upcoming is not None:
            opens = timezone.make_aware(
                dt.datetime.combine(
                    max(term.starts_on, now.date() - dt.timedelta(days=3)), dt.time(8)
                )
            )
            survey = _survey(
                admin,
                template=district,
                scope=Survey.Scope.PARENT_SCHOOL_TERM,
                target_id=school.pk,
                lookup={"parent_school": school, "term": term},
                term_id=term.pk,
                title=f"{school.name}本学期满意度调查",
                is_anonymous=True,
                opens_at=opens,
                closes_at=now + dt.timedelta(days=10),
            )
            families = (
                Booking.objects.filter(
                    status=Booking.Status.CONFIRMED,
                    offering__course_session__course__parent_school=school,
                    offering__course_session__course__term=term,
                )
                .exclude(booked_by__username=DEMO_PARENT)
                .select_related("booked_by")
                .order_by("family_id", "pk")
            )
            users = list({b.family_id: b.booked_by for b in families}.values())
            users += [u for u in _extra_families(upcoming) if u not in users]
            answered = _answer_all(
                survey, district, users, DISTRICT_ANSWERS, max(opens, now - dt.timedelta(days=2))
            )
            if answered:
                services.anonymous_release(survey_id=survey.pk)

        # an alliance event: the alliance's own template, named
        event = (
            Offering.objects.filter(event__title=EVENT_TITLE, ends_at__lt=now)
            .order_by("-ends_at")
            .first()
        )
        if event is not None:
            survey = _survey(
                coordinator,
                template=own,
                scope=Survey.Scope.EVENT,
                target_id=event.pk,
                lookup={"offering": event},
                title=f"{event.title}反馈",
                opens_at=event.ends_at,
                closes_at=max(event.ends_at + dt.timedelta(days=14), now + dt.timedelta(days=7)),
            )
            _answer_all(
                survey,
                own,
                _present_users(event, exclude=DEMO_PARENT),
                ALLIANCE_ANSWERS,
                event.ends_at + dt.timedelta(hours=3),
            )
    if stdout is not None:
        stdout.write("问卷演示数据已载入（全区和联盟模板、场次问卷、家长学校学期匿名问卷）。")
    return {
        "问卷模板": SurveyTemplate.objects.count(),
        "问卷": Survey.objects.count(),
        "已作答家庭": Participation.objects.count(),
        "已汇总答卷": Response.objects.count(),
        "待汇总匿名答卷": PendingResponse.objects.count(),
    }
