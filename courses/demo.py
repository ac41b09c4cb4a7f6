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
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from members.models import MemberUnit, Region
from parent_school.models import BrandProgramme, Instructor, ParentSchool, Target, Term

from . import services
from .models import Course, CourseSession, OnlineLesson, Stage, Theme


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

BRANDS = [
    ("慧育家·爱有方", "渝中区妇联", "区妇联主办的家庭教育特色品牌。"),
    ("育苗护幼", "上清寺街道分院", "上清寺街道的家庭教育特色品牌。"),
    ("星联盟", "中华路小学", "中华路小学的家校社协同特色品牌。"),
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
#  instructor, credits, sessions as (days from now, hour, capacity))
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
        [(3, 19, 30), (10, 19, 30)],
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
        [(5, 10, 2), (12, 10, 20)],
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
        [(4, 19, 40), (18, 19, 40)],
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
        [(2, 18, 60), (16, 18, 60)],
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
        [(7, 19, 50)],
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
        [(3, 14, 30), (17, 14, 30)],
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
        [(9, 9, 16)],
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
        [(4, 16, 40)],
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
def load(stdout=None) -> dict[str, int]:
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

    # Sessions start at whole hours in the coming weeks, counted from the day of
    # the first load; later loads leave existing sessions where they are.
    today = timezone.localdate()
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
            day = today + timedelta(days=days)
            starts_at = timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))
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

    demo_titles = [c[1] for c in COURSES]
    counts = {
        "学期": Term.objects.count(),
        "家长学校": ParentSchool.objects.count(),
        "特色品牌": BrandProgramme.objects.count(),
        "讲师/志愿者": Instructor.objects.count(),
        "课程": Course.objects.filter(title__in=demo_titles).count(),
        "课程场次": CourseSession.objects.filter(course__title__in=demo_titles).count(),
        "线上微课": OnlineLesson.objects.count(),
    }
    if stdout is not None:
        stdout.write("课程演示数据已载入。")
    return counts
