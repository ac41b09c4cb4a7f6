"""Demo parent schools, terms, instructors, brand programmes, courses and sessions
for ``manage.py load_demo``. Runs after ``members.demo``, whose units and regions it
looks up by name (and stops loudly if they are missing). Idempotent: everything is
created or updated by natural keys, and sessions are keyed by course and number,
so a second run changes nothing.

Instructor names are illustrative; the tiers (专家/教研/讲师), the five guidance
areas, the brand programmes and the course themes come from the source documents.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from members import demo as members_demo
from members.demo import demo_clock
from members.models import Guardian, MemberUnit, Region
from notifications.models import NotificationPreference
from notifications.services import notification_preference_update
from parent_school.models import BrandProgramme, Instructor, ParentSchool, Target, Term

from . import demo_video, services
from .models import Course, CourseSession, CreditEntry, OnlineLesson, Stage, Theme


class DemoDependencyMissing(RuntimeError):
    pass


THEMES = ["法治教育", "健康教育", "科学与AI", "心理健康", "亲子沟通", "家庭教育指导"]
STAGES = [("preschool", 1), ("primary", 2), ("junior", 3), ("senior", 4)]

PARENT_SCHOOLS = [
    # (name, kind, host unit name, region name)
    ("上清寺街道社区家长学校", ParentSchool.Kind.COMMUNITY, "上清寺街道分院", "上清寺街道"),
    ("解放碑街道社区家长学校", ParentSchool.Kind.COMMUNITY, "解放碑街道分院", "解放碑街道"),
    ("中华路小学家长学校", ParentSchool.Kind.SCHOOL, "中华路小学", "渝中区"),
    ("渝中家长成长指导中心家长课堂", ParentSchool.Kind.COMMUNITY, "渝中家长成长指导中心", "渝中区"),
    ("溪口镇社区家长学校", ParentSchool.Kind.COMMUNITY, "溪口镇成人文化技术学校", "溪口镇"),
    ("溪口中心小学家长学校", ParentSchool.Kind.SCHOOL, "溪口中心小学", "溪口镇"),
    ("澥浦中学家长学校", ParentSchool.Kind.SCHOOL, "澥浦中学", "镇海区"),
]

# 渝中's 18 brand programmes: the three the source names, and fifteen invented
# ones (marked 「（示例）」 in their description) at units the registry demo has
# (one in Xikou, so that the events and groups demos can carry it).
DEMO_BRAND_MARK = "（示例）"
BRANDS = [
    ("慧育家·爱有方", "渝中区妇联", "区妇联主办的家庭教育特色品牌。"),
    ("育苗护幼", "上清寺街道分院", "上清寺街道的家庭教育特色品牌。"),
    ("星联盟", "中华路小学", "中华路小学的家校社协同特色品牌。"),
    ("七星亲子课堂", "七星岗街道分院", "七星岗街道的亲子共学课堂。（示例）"),
    ("解放碑家长沙龙", "解放碑街道分院", "面向商圈双职工家庭的周末家长沙龙。（示例）"),
    ("两路口成长驿站", "两路口街道分院", "社区里的家庭教育咨询驿站。（示例）"),
    ("溪口家庭成长营", "溪口镇成人文化技术学校", "亲子共读、亲子徒步等家庭实践活动。（示例）"),
    ("南纪门护苗行动", "南纪门街道分院", "儿童安全与法治教育进社区。（示例）"),
    ("朝天门好家风", "朝天门街道分院", "家风家训故事分享与传承。（示例）"),
    ("大溪沟科学小家", "大溪沟街道分院", "亲子科学实验与探究活动。（示例）"),
    ("望龙门心晴坊", "望龙门街道分院", "家长与孩子的心理健康小课堂。（示例）"),
    ("化龙桥家校连心", "化龙桥街道分院", "家校沟通与家长志愿服务。（示例）"),
    ("石油路运动家庭", "石油路街道分院", "亲子运动与健康生活方式。（示例）"),
    ("社院家长大讲堂", "渝中区社区教育学院", "社区教育学院的家长系列讲座。（示例）"),
    ("成长导航", "渝中家长成长指导中心", "指导中心专家团队的家庭教育公益讲座。（示例）"),
    ("中华路小当家", "中华路小学", "孩子参与家务与社区服务的劳动教育。（示例）"),
    ("巾帼护航", "渝中区妇联", "妇联执委与志愿者结对帮扶困境家庭。（示例）"),
    ("上清寺四点半课堂", "上清寺街道分院", "放学后的社区托管与作业辅导。（示例）"),
]

INSTRUCTORS = [
    # (name, tier, specialties, unit name, volunteer) — names are illustrative
    (
        "陈老师",
        Instructor.Tier.EXPERT,
        ["family_education", "mental_health"],
        "渝中家长成长指导中心",
        False,
    ),
    ("刘老师", Instructor.Tier.RESEARCH, ["study", "career"], "渝中区社区教育学院", False),
    ("王老师", Instructor.Tier.LECTURER, ["family_education"], "上清寺街道分院", True),
    ("张老师", Instructor.Tier.LECTURER, ["patriotism"], "中华路小学", False),
    ("李老师", Instructor.Tier.EXPERT, ["mental_health"], "溪口镇成人文化技术学校", False),
    ("周老师", Instructor.Tier.LECTURER, ["family_education", "study"], "溪口中心小学", True),
    ("吴老师", Instructor.Tier.RESEARCH, ["career", "study"], "澥浦中学", False),
]

# (parent school, title, summary, themes, stages, level, mode, audience, brand,
#  instructor, credits, sessions as (days from today, hour, capacity)). Sessions
# before today were held: COURSE_HISTORY says who booked them and who came.
COURSES = [
    (
        "上清寺街道社区家长学校",
        "亲子沟通的艺术",
        "学会倾听与表达，化解亲子冲突。",
        ["亲子沟通"],
        ["primary", "junior"],
        "general",
        "offline",
        "parents",
        "育苗护幼",
        "王老师",
        1,
        [(-28, 19, 30), (3, 19, 30), (10, 19, 30)],
    ),
    (
        "上清寺街道社区家长学校",
        "幼小衔接家长课",
        "帮助孩子从幼儿园平稳过渡到小学。",
        ["家庭教育指导"],
        ["preschool", "primary"],
        "basic",
        "offline",
        "parents",
        "育苗护幼",
        "王老师",
        1,
        [(-12, 10, 20), (5, 10, 2), (12, 10, 20)],
    ),
    (
        "上清寺街道社区家长学校",
        "亲子科学小实验",
        "亲子一起动手，感受科学乐趣。",
        ["科学与AI"],
        ["primary"],
        "customised",
        "offline",
        "parent_child",
        None,
        "王老师",
        1.5,
        [(6, 14, 12)],
    ),
    (
        "解放碑街道社区家长学校",
        "青春期心理健康",
        "读懂青春期孩子的情绪与需要。",
        ["心理健康"],
        ["junior", "senior"],
        "basic",
        "blended",
        "parents",
        "慧育家·爱有方",
        "陈老师",
        1,
        [(-42, 19, 40), (-16, 19, 40), (4, 19, 40), (18, 19, 40)],
    ),
    (
        "解放碑街道社区家长学校",
        "家庭中的法治教育",
        "和孩子一起学法、守法、用法。",
        ["法治教育"],
        ["primary", "junior"],
        "general",
        "offline",
        "parent_child",
        None,
        "刘老师",
        1,
        [(8, 15, 25)],
    ),
    (
        "中华路小学家长学校",
        "星联盟·家校共育第一课",
        "新学期家校共育的约定与方法。",
        ["家庭教育指导"],
        ["primary"],
        "general",
        "offline",
        "parents",
        "星联盟",
        "张老师",
        1,
        [(-63, 18, 60), (2, 18, 60), (16, 18, 60)],
    ),
    (
        "中华路小学家长学校",
        "AI时代的学习力",
        "人工智能时代，孩子需要怎样的学习习惯。",
        ["科学与AI"],
        ["primary"],
        "online_quality",
        "online",
        "parents",
        "星联盟",
        "刘老师",
        2,
        [],
    ),
    (
        "渝中家长成长指导中心家长课堂",
        "慧育家·爱有方：好家风伴成长",
        "以好家风涵养好家教。",
        ["家庭教育指导"],
        ["preschool", "primary", "junior"],
        "general",
        "offline",
        "parents",
        "慧育家·爱有方",
        "陈老师",
        1,
        [(-5, 19, 50), (7, 19, 50)],
    ),
    (
        "渝中家长成长指导中心家长课堂",
        "儿童营养与健康",
        "科学膳食，健康成长。",
        ["健康教育"],
        ["preschool", "primary"],
        "basic",
        "online",
        "parents",
        None,
        "陈老师",
        1,
        [],
    ),
    (
        "溪口镇社区家长学校",
        "乡镇家庭教育指导",
        "以乡镇为单位的家庭教育指导服务。",
        ["家庭教育指导"],
        ["primary", "junior"],
        "general",
        "offline",
        "parents",
        None,
        "李老师",
        1,
        [(-49, 14, 30), (-21, 14, 30), (3, 14, 30), (17, 14, 30)],
    ),
    (
        "溪口镇社区家长学校",
        "孩子的情绪管理",
        "帮助孩子认识和管理自己的情绪。",
        ["心理健康"],
        ["primary"],
        "customised",
        "offline",
        "parent_child",
        None,
        "李老师",
        1,
        [(-14, 9, 5), (9, 9, 4)],
    ),
    (
        "溪口中心小学家长学校",
        "学习型家庭建设",
        "共建学习型家庭，营造读书氛围。",
        ["家庭教育指导", "亲子沟通"],
        ["primary"],
        "basic",
        "offline",
        "parents",
        None,
        "周老师",
        1,
        [(-35, 16, 40), (-7, 16, 40), (4, 16, 40)],
    ),
    (
        "澥浦中学家长学校",
        "生涯规划从初中开始",
        "学伴、家伴一起认识自我、规划未来。",
        ["家庭教育指导"],
        ["junior"],
        "customised",
        "offline",
        "parent_child",
        None,
        "吴老师",
        1,
        [(5, 15, 30), (19, 15, 30)],
    ),
    (
        "澥浦中学家长学校",
        "中学生健康生活方式",
        "睡眠、运动与屏幕时间。",
        ["健康教育"],
        ["junior", "senior"],
        "general",
        "blended",
        "parents",
        None,
        "吴老师",
        1,
        [(11, 19, 35)],
    ),
]

# Who booked each session and what became of it, in booking order:
# (course title, session number) → [(family, who, outcome)]. ``family`` is a
# members.demo.DEMO_FAMILIES key; ``who`` is "g" (the guardian), "gc" (with all
# the children) or "g1" (with the first child); ``outcome`` is "present" or
# "absent" (marked on the roster after the session), "" (not marked yet, or
# still to come) or "cancel" (the family cancels three days before; the
# waiting list moves up). A party that does not fit waits.
COURSE_HISTORY = {
    # Xikou
    ("乡镇家庭教育指导", 1): [
        ("parent", "g", "present"),
        ("wang", "g", "present"),
        ("chen", "g", "present"),
        ("zhou", "g", "absent"),
    ],
    ("乡镇家庭教育指导", 2): [
        ("parent", "g", "present"),
        ("chen", "g", "present"),
        ("zhou", "g", "present"),
        ("wang", "g", "cancel"),
    ],
    ("乡镇家庭教育指导", 3): [("parent", "g", ""), ("wang", "g", "")],
    # 5 places: chen (2) waits behind parent, wang and zhou, and moves up when
    # wang cancels.
    ("孩子的情绪管理", 1): [
        ("parent", "gc", "present"),
        ("wang", "gc", "cancel"),
        ("chen", "g1", "present"),
        ("zhou", "g", "absent"),
    ],
    # 4 places, full: the demo parent is first on the waiting list.
    ("孩子的情绪管理", 2): [("wang", "gc", ""), ("zhou", "gc", ""), ("parent", "gc", "")],
    ("学习型家庭建设", 1): [
        ("parent", "g", "absent"),
        ("chen", "g", "present"),
        ("wang", "g", "present"),
    ],
    ("学习型家庭建设", 2): [
        ("parent", "g", "present"),
        ("zhou", "g", "present"),
        ("chen", "g", ""),
    ],
    # Yuzhong
    ("亲子沟通的艺术", 1): [
        ("liu", "g", "present"),
        ("zhao", "g", "present"),
        ("sun", "g", "present"),
        ("he", "g", "absent"),
    ],
    ("幼小衔接家长课", 1): [("sun", "gc", "present"), ("liu", "g", "present")],
    # 2 places: zhao's party fills them, he waits.
    ("幼小衔接家长课", 2): [("zhao", "g1", ""), ("he", "g", "")],
    ("青春期心理健康", 1): [
        ("zhao", "g", "present"),
        ("liu", "g", "present"),
        ("he", "g", "present"),
    ],
    ("青春期心理健康", 2): [
        ("zhao", "g", "present"),
        ("he", "g", "absent"),
        ("liu", "g", "present"),
    ],
    ("星联盟·家校共育第一课", 1): [
        ("liu", "g", "present"),
        ("zhao", "g", "present"),
        ("sun", "g", "present"),
        ("he", "g", "present"),
    ],
    # Held five days ago: the roster is still being marked.
    ("慧育家·爱有方：好家风伴成长", 1): [
        ("liu", "gc", "present"),
        ("zhao", "gc", "present"),
        ("sun", "gc", ""),
        ("he", "g", "present"),
    ],
}

ONLINE_LESSONS = {
    "AI时代的学习力": [("认识人工智能", 900), ("好问题胜过好答案", 780)],
    "儿童营养与健康": [("一日三餐怎么吃", 600)],
    "青春期心理健康": [("青春期的大脑", 720)],
}


def _unit(name: str) -> MemberUnit:
    unit = MemberUnit.objects.filter(name=name).order_by("pk").first()
    if unit is None:
        raise DemoDependencyMissing(
            f"courses.demo needs the member unit “{name}” from members.demo; run that first."
        )
    return unit


def _region(name: str) -> Region:
    region = Region.objects.filter(name=name).order_by("pk").first()
    if region is None:
        raise DemoDependencyMissing(
            f"courses.demo needs the region “{name}” from members.demo; run that first."
        )
    return region


def _terms(today: datetime.date) -> Term:
    """This school year's terms (relative to today), the current one marked current."""
    year = today.year if today.month >= 8 else today.year - 1
    first = (datetime.date(year, 9, 1), datetime.date(year + 1, 1, 31))
    second = (datetime.date(year + 1, 2, 1), datetime.date(year + 1, 7, 31))
    current_semester = 2 if datetime.date(year + 1, 2, 1) <= today <= second[1] else 1
    school_year = f"{year}–{year + 1}"
    terms = {}
    for semester, (starts, ends) in ((1, first), (2, second)):
        terms[semester] = Term.objects.update_or_create(
            code=f"{year}-{year + 1}-{semester}",
            defaults={
                "school_year": school_year,
                "semester": semester,
                "starts_on": starts,
                "ends_on": ends,
            },
        )[0]
    current = terms[current_semester]
    Term.objects.filter(is_current=True).exclude(pk=current.pk).update(is_current=False)
    if not current.is_current:
        current.is_current = True
        current.save(update_fields=["is_current"])
    return current


@transaction.atomic
def load(stdout=None, *, history: bool = True) -> dict[str, int]:
    """The catalogue; with ``history``, also the term so far (COURSE_HISTORY).

    ``manage.py load_demo`` passes ``history=False``: events.demo runs the
    courses' history together with the events' in one timeline, so the outbox
    sends each message at its moment.
    """
    for code, order in STAGES:
        Stage.objects.update_or_create(code=code, defaults={"sort_order": order})
    themes = {}
    for order, name in enumerate(THEMES):
        themes[name] = Theme.objects.update_or_create(name=name, defaults={"sort_order": order})[0]
    term = _terms(timezone.localdate())

    schools = {}
    for name, kind, host, region in PARENT_SCHOOLS:
        host_unit = _unit(host)
        schools[name] = ParentSchool.objects.update_or_create(
            host_unit=host_unit,
            name=name,
            defaults={"kind": kind, "region": _region(region), "is_active": True},
        )[0]
        Target.objects.get_or_create(
            parent_school=schools[name], term=term, defaults={"sessions_required": 10}
        )

    brands = {}
    for name, owner, description in BRANDS:
        brands[name] = BrandProgramme.objects.update_or_create(
            name=name, defaults={"owner_unit": _unit(owner), "description": description}
        )[0]

    instructors = {}
    for name, tier, specialties, unit_name, volunteer in INSTRUCTORS:
        unit = _unit(unit_name)
        instructor = Instructor.objects.filter(unit=unit, name=name).first()
        if instructor is None:
            instructor = Instructor.objects.create(
                unit=unit, name=name, tier=tier, specialties=specialties, is_volunteer=volunteer
            )
        instructors[name] = instructor

    # Sessions start at whole hours, counted in days from the first load (past
    # ones no earlier than the term's first day); they were all announced when
    # the demo's history begins. Later loads leave existing sessions where they are.
    today = timezone.localdate()
    now = timezone.now()
    for (
        school_name,
        title,
        summary,
        theme_names,
        stage_codes,
        level,
        mode,
        audience,
        brand,
        instructor,
        credits,
        sessions,
    ) in COURSES:
        course = Course.objects.update_or_create(
            parent_school=schools[school_name],
            title=title,
            defaults={
                "summary": summary,
                "body": summary + "课程包括课堂学习、案例研讨和亲子实践三个环节。",
                "audience": audience,
                "level": level,
                "mode": mode,
                "term": term,
                "brand": brands.get(brand) if brand else None,
                "credits": credits,
                "is_published": True,
            },
        )[0]
        course.themes.set([themes[t] for t in theme_names])
        course.stages.set(Stage.objects.filter(code__in=stage_codes))
        course.instructors.set([instructors[instructor]])
        existing = CourseSession.objects.filter(course=course).count()
        for number, (days, hour, capacity) in enumerate(sessions, start=1):
            if number <= existing:
                continue
            day = max(today + timedelta(days=days), term.starts_on)
            starts_at = timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))
            with demo_clock(members_demo.history_start(now)):
                services.course_session_create(
                    course=course,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=90),
                    capacity=capacity,
                    venue=f"{schools[school_name].host_unit.name} 多功能教室",
                )
        for order, (lesson_title, seconds) in enumerate(ONLINE_LESSONS.get(title, [])):
            OnlineLesson.objects.update_or_create(
                course=course,
                title=lesson_title,
                defaults={
                    "duration_seconds": seconds,
                    "sort_order": order,
                    "video_url": "https://example.cn/demo-video.mp4",
                },
            )
    # One lesson that plays in the page (the others are outside links).
    demo_video.load()

    if history:
        members_demo.history_run(course_history_steps(now=now))
        # The clock moved while the history ran: put the catalogue's "next
        # session" back on the real present.
        services.course_next_session_refresh(
            course_ids=[c.pk for c in Course.objects.filter(term=term)]
        )

    demo_titles = [c[1] for c in COURSES]
    counts = {
        "学期": Term.objects.count(),
        "家长学校": ParentSchool.objects.count(),
        "特色品牌": BrandProgramme.objects.count(),
        "讲师/志愿者": Instructor.objects.count(),
        "课程": Course.objects.filter(title__in=demo_titles).count(),
        "课程场次": CourseSession.objects.filter(course__title__in=demo_titles).count(),
        "线上微课": OnlineLesson.objects.count(),
        "课程报名": Booking.objects.filter(offering__course_session__isnull=False).count(),
        "学分记录": CreditEntry.objects.count(),
    }
    if stdout is not None:
        stdout.write("课程演示数据已载入。")
    return counts


# --- the term so far --------------------------------------------------------------


def demo_families() -> dict[str, Guardian]:
    """members.demo's families, each with the channels its guardian chose
    (saved once, through the preferences service, as if on the preferences page)."""
    guardians = members_demo.families_load()
    chosen = set(
        NotificationPreference.objects.filter(
            user__in=[g.user_id for g in guardians.values()]
        ).values_list("user_id", flat=True)
    )
    for spec in members_demo.DEMO_FAMILIES:
        guardian = guardians.get(spec.key)
        if guardian is None or guardian.user_id in chosen:
            continue
        notification_preference_update(
            user=guardian.user,
            by_email="by_email" in spec.channels,
            in_site="in_site" in spec.channels,
            by_sms="by_sms" in spec.channels,
            quiet_start=datetime.time(22, 0),
            quiet_end=datetime.time(7, 0),
        )
    return guardians


def _party(guardian: Guardian, who: str) -> tuple[list[int], list[int]]:
    children = list(guardian.family.children.order_by("pk").values_list("pk", flat=True))
    if who == "gc":
        return [guardian.pk], children
    if who == "g1":
        return [guardian.pk], children[:1]
    return [guardian.pk], []


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour, minute))


def offering_history_steps(
    *,
    offering_id: int,
    plan: list[tuple[str, str, str]],
    guardians: dict[str, Guardian],
    book_at: Callable[[int], datetime.datetime],
    book_until: datetime.datetime,
    cancel_at: datetime.datetime,
    mark_at: datetime.datetime,
    book: Callable[[Guardian, list[int], list[int]], object],
    cancel: Callable[[Booking, Guardian], object],
    mark: Callable[[Booking, bool], object],
) -> list[members_demo.HistoryStep]:
    """The steps of one session's or event's plan (see COURSE_HISTORY), through the
    given service calls; a booking only before ``book_until``. Each step looks at
    the rows when it runs and does nothing if it is done already, so a second load
    changes nothing."""
    steps = []
    for index, (key, who, outcome) in enumerate(plan):
        guardian = guardians[key]

        def current(guardian=guardian) -> Booking | None:
            return (
                Booking.objects.filter(offering_id=offering_id, family_id=guardian.family_id)
                .order_by("-pk")
                .first()
            )

        def book_step(guardian=guardian, who=who, current=current) -> None:
            if current() is None:
                book(guardian, *_party(guardian, who))

        def cancel_step(guardian=guardian, current=current) -> None:
            booking = current()
            if booking is not None and booking.status != Booking.Status.CANCELLED:
                cancel(booking, guardian)

        def mark_step(outcome=outcome, current=current) -> None:
            booking = current()
            if (
                booking is not None
                and booking.status == Booking.Status.CONFIRMED
                and booking.attendance != outcome
            ):
                mark(booking, outcome == Booking.Attendance.PRESENT)

        if book_at(index) < book_until:
            steps.append(members_demo.history_step(book_at(index), book_step, kind="book"))
        if outcome == "cancel":
            steps.append(members_demo.history_step(cancel_at, cancel_step, kind="cancel"))
        elif outcome in (Booking.Attendance.PRESENT, Booking.Attendance.ABSENT):
            steps.append(members_demo.history_step(mark_at, mark_step, kind="mark"))
    return steps


def course_history_steps(*, now: datetime.datetime) -> list[members_demo.HistoryStep]:
    """COURSE_HISTORY as steps, leaving out what has not happened by ``now``: families
    book from 09:00 nine days ahead (yesterday, for sessions coming up soon),
    cancel three days ahead, and the roster is marked ten minutes after the end."""
    guardians = demo_families()
    steps = []
    for (title, number), plan in COURSE_HISTORY.items():
        session = (
            CourseSession.objects.filter(course__title=title, course__term__is_current=True)
            .select_related("offering")
            .order_by("offering__starts_at", "pk")[number - 1 : number]
            .first()
        )
        if session is None:
            continue
        offering = session.offering
        start_day = timezone.localdate(offering.starts_at)
        booking_day = min(
            start_day - timedelta(days=9), timezone.localdate(now) - timedelta(days=1)
        )

        def book(guardian, guardian_ids, child_ids, offering_id=offering.pk):
            booking_create(
                offering_id=offering_id,
                family=guardian.family,
                booked_by=guardian.user,
                guardian_ids=guardian_ids,
                child_ids=child_ids,
            )

        def cancel(booking, guardian):
            booking_cancel(booking_id=booking.pk, family=booking.family, cancelled_by=guardian.user)

        def mark(booking, present, session=session):
            services.session_attendance_mark(
                session=session, booking_id=booking.pk, present=present, marked_by=None
            )

        steps += offering_history_steps(
            offering_id=offering.pk,
            plan=plan,
            guardians=guardians,
            book_at=lambda index, day=booking_day: _at(day, 9) + timedelta(minutes=9 * index),
            book_until=offering.starts_at,
            cancel_at=_at(start_day - timedelta(days=3), 10),
            mark_at=offering.ends_at + timedelta(minutes=10),
            book=book,
            cancel=cancel,
            mark=mark,
        )
    # Only what lies in the past has happened.
    return [step for step in steps if step.moment < now]
