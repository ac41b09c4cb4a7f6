"""Demo guidance station for ``manage.py load_demo`` (after evaluation.demo).

Zhenhai's 海天舒 student growth guidance station (学生成长指导工作站) at its unit
(members.demo "ZH-HTS", opened at 澥浦中学): a chief mentor and 29 mentors across
the five areas. The sources give only those counts, so every mentor's name, title
and bio is invented and marked (``Mentor.is_invented``: the pages say 示例人物).

Through guidance.services:

- the mentors (``mentor_create``), weekly slot patterns of several of them and
  their slots for the coming weeks (``pattern_create`` / ``patterns_materialise``);
- the demo parent (溪口家长（演示）, child 小溪) has booked one 心理健康辅导
  consultation for her child with a short need, and had one 家庭教育指导
  consultation held a week ago, replayed at that time (members.demo.demo_clock),
  with a shared summary and a follow-up due in a few days.

Two demo sign-ins: the chief mentor and the 心理健康辅导 mentor (docs/GUIDANCE.md).
Idempotent: a station, mentor, pattern or consultation that exists is left as it is.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from events.reminders import reminders_plan_due
from events.selectors import reminder_offsets_for_offerings
from members.demo import demo_clock
from members.models import Guardian, MemberUnit
from parent_school.models import Instructor

from . import services
from .models import Consultation, Mentor, Note, Slot, SlotKind, SlotPattern, Station

STATION_UNIT = "ZH-HTS"
STATION_NAME = "海天舒学生成长指导工作站"
STATION_DESCRIPTION = (
    "面向学生、家长和教师的一站式成长指导：家国情怀培育、学业升学指导、生涯职业引导、"
    "心理健康辅导、家庭教育指导五大领域，由首席导师和 29 位导师提供预约咨询。"
)
DEMO_PARENT = "demo_parent"
DEMO_CHILD = "小溪"

# Demo sign-ins, documented in docs/GUIDANCE.md. For demonstrations only.
CHIEF_LOGIN = ("demo_guidance_chief", "海天舒首席导师（演示）", "Demo-Chief-2025")
MENTOR_LOGIN = ("demo_guidance_mentor", "海天舒心理导师（演示）", "Demo-Mentor-2025")

P, S, T = "parent", "student", "teacher"
IN, PH, ON = "in_person", "phone", "online"

CHIEF = {
    "name": "沈慧敏",
    "title": "首席导师 · 高级教师",
    "areas": ["family_education", "mental_health"],
    "audiences": [P, S, T],
    "modes": [IN, ON],
    "bio": "从事中学德育和家庭教育指导二十余年，统筹工作站的个案会商与转介。",
}

# (name, title, areas, audiences, stages, modes, bio): 29 invented mentors, the
# five areas six, six, six, six and five.
MENTORS = [
    # 家国情怀培育
    ("顾明远", "历史教研员", ["patriotism"], [S, T], ["junior"], [IN], "带学生走访本地红色场馆。"),
    (
        "严晓燕",
        "思政课教师",
        ["patriotism"],
        [S],
        ["junior", "senior"],
        [IN, ON],
        "擅长时事讨论课。",
    ),
    (
        "包志诚",
        "退役军人志愿者",
        ["patriotism"],
        [S, P],
        [],
        [IN],
        "讲国防故事，组织少年军校活动。",
    ),
    ("林海燕", "少先队辅导员", ["patriotism"], [S, P], ["primary"], [IN], "组织红领巾研学。"),
    ("傅振华", "地方文史研究者", ["patriotism"], [S, T], [], [IN, ON], "讲镇海海防历史。"),
    ("乐佳音", "团委书记", ["patriotism", "career"], [S], ["senior"], [IN], "带领志愿服务项目。"),
    # 学业升学指导
    ("方文博", "数学教研组长", ["study"], [S, P], ["junior"], [IN, ON], "帮助孩子梳理学习方法。"),
    ("许静怡", "语文高级教师", ["study"], [S, P], ["junior"], [IN, PH], "阅读与写作习惯指导。"),
    (
        "邬国强",
        "升学指导教师",
        ["study"],
        [P, S],
        ["junior", "senior"],
        [IN, ON],
        "中考志愿填报答疑。",
    ),
    ("贺丽萍", "英语教师", ["study"], [S], ["primary", "junior"], [ON], "英语学习规划与口语练习。"),
    ("叶文杰", "物理教师", ["study", "career"], [S], ["senior"], [IN], "选科与学习计划指导。"),
    ("孔雪梅", "小学教导主任", ["study"], [P], ["primary"], [IN, PH], "幼小衔接、小初衔接咨询。"),
    # 生涯职业引导
    (
        "应晨阳",
        "生涯规划师",
        ["career"],
        [S, P],
        ["senior"],
        [IN, ON],
        "用测评和访谈帮助学生了解自己。",
    ),
    ("毛珊珊", "企业人力资源经理", ["career"], [S], ["senior"], [ON], "介绍行业与职业的真实样子。"),
    ("竺建国", "职业学校专业主任", ["career"], [S, P], ["junior"], [IN], "职业教育路径咨询。"),
    (
        "汤雅琴",
        "高校招生咨询志愿者",
        ["career", "study"],
        [S, P],
        ["senior"],
        [ON, PH],
        "专业选择答疑。",
    ),
    (
        "胡立新",
        "工程师志愿者",
        ["career"],
        [S],
        ["junior", "senior"],
        [IN],
        "组织企业参访和职业体验。",
    ),
    ("董芳", "生涯教育教师", ["career"], [S, T], ["junior"], [IN, ON], "生涯课程教研。"),
    # 心理健康辅导
    (
        "林晓岚",
        "心理健康教育教师",
        ["mental_health"],
        [S, P],
        ["junior"],
        [IN, ON],
        "关注考试焦虑和情绪调节。",
    ),
    ("王思远", "国家二级心理咨询师", ["mental_health"], [P, S], [], [IN, PH], "亲子冲突与沟通。"),
    ("陈雨桐", "学校心理辅导员", ["mental_health"], [S], ["primary"], [IN], "儿童情绪与同伴关系。"),
    (
        "俞凯",
        "医院心理科医生（志愿）",
        ["mental_health"],
        [P, T],
        [],
        [ON],
        "识别需要就医的信号，给出转介建议。",
    ),
    ("蒋婉清", "心理教研员", ["mental_health"], [T], [], [IN, ON], "为班主任提供个案督导。"),
    ("周一鸣", "社工", ["mental_health", "family_education"], [P], [], [IN, PH], "特殊家庭支持。"),
    # 家庭教育指导
    (
        "戴春燕",
        "家庭教育指导师",
        ["family_education"],
        [P],
        ["primary"],
        [IN, ON],
        "习惯养成与作业陪伴。",
    ),
    ("史红霞", "幼儿园园长", ["family_education"], [P], ["preschool"], [IN], "幼儿家庭教育。"),
    ("钟伟", "家长学校讲师", ["family_education"], [P], ["junior"], [IN, PH], "青春期亲子沟通。"),
    (
        "柴美玲",
        "妇联家庭教育志愿者",
        ["family_education"],
        [P],
        [],
        [ON, PH],
        "隔代教养与家庭分工。",
    ),
    (
        "邵文静",
        "班主任",
        ["family_education", "study"],
        [P, T],
        ["junior"],
        [IN],
        "家校沟通的方法。",
    ),
]

# Weekly patterns: (mentor name, weekday 0=Monday, start, minutes, kind, capacity, mode, venue)
PATTERNS = [
    ("沈慧敏", 2, dt.time(15, 0), 50, SlotKind.ONE_TO_ONE, 1, IN, "澥浦中学成长指导室"),
    ("林晓岚", 1, dt.time(16, 0), 50, SlotKind.ONE_TO_ONE, 1, IN, "澥浦中学心理辅导室"),
    ("林晓岚", 3, dt.time(19, 0), 40, SlotKind.ONE_TO_ONE, 1, ON, ""),
    ("王思远", 5, dt.time(9, 30), 50, SlotKind.ONE_TO_ONE, 1, IN, "澥浦中学心理辅导室"),
    ("邬国强", 4, dt.time(16, 30), 60, SlotKind.SMALL_GROUP, 6, IN, "澥浦中学会议室"),
    ("应晨阳", 5, dt.time(14, 0), 60, SlotKind.SMALL_GROUP, 8, ON, ""),
    ("严晓燕", 3, dt.time(16, 0), 50, SlotKind.ONE_TO_ONE, 1, IN, "澥浦中学图书馆"),
    ("戴春燕", 0, dt.time(19, 30), 40, SlotKind.ONE_TO_ONE, 1, PH, ""),
]
ONLINE_URL = "https://meeting.example.cn/haitianshu"

BOOKED_NEED = "孩子最近一到考试前就睡不好、吃不下，想请老师给些帮她放松的办法。"
HELD_NEED = "孩子写作业总是拖到很晚，一催就发脾气，想聊聊怎么陪伴。"
HELD_SUMMARY = (
    "和家长一起梳理了作业拖延的几个原因。约定：每天先定好开始时间，做完一项休息五分钟；"
    "家长少催促、多肯定。两周后回访看看效果。"
)
FOLLOWUP_MESSAGE = "两周过去了，孩子的作业节奏有变化吗？欢迎回复或再约一次咨询。"


def _login(spec):
    User = get_user_model()
    username, display_name, password = spec
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"display_name": display_name, "email": f"{username}@demo.example.cn"},
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _station(unit: MemberUnit) -> Station:
    station = Station.objects.filter(unit=unit).first()
    if station is None:
        station = services.station_create(
            user=None, unit_id=unit.pk, name=STATION_NAME, description=STATION_DESCRIPTION
        )
    return station


def _mentor(station: Station, spec: dict, **extra) -> Mentor:
    mentor = Mentor.objects.filter(station=station, name=spec["name"]).first()
    if mentor is not None:
        return mentor
    return services.mentor_create(
        user=None, station_id=station.pk, is_invented=True, **spec, **extra
    )


def _mentors(station: Station) -> dict[str, Mentor]:
    chief_user = _login(CHIEF_LOGIN)
    mentor_user = _login(MENTOR_LOGIN)
    # The chief's volunteer record: her consultations count as service hours.
    record = Instructor.objects.filter(unit=station.unit, name=CHIEF["name"]).first()
    if record is None:
        record = Instructor.objects.create(
            unit=station.unit,
            name=CHIEF["name"],
            tier=Instructor.Tier.EXPERT,
            specialties=CHIEF["areas"],
            is_volunteer=True,
            bio="示例人物（演示数据虚构）。",
        )
    mentors = {
        CHIEF["name"]: _mentor(
            station,
            CHIEF,
            is_chief=True,
            login_user_id=chief_user.pk,
            instructor_id=record.pk,
        )
    }
    for name, title, areas, audiences, stages, modes, bio in MENTORS:
        spec = {
            "name": name,
            "title": title,
            "areas": areas,
            "audiences": audiences,
            "stages": stages,
            "modes": modes,
            "bio": bio,
        }
        extra = {"login_user_id": mentor_user.pk} if name == "林晓岚" else {}
        mentors[name] = _mentor(station, spec, **extra)
    return mentors


def _patterns(mentors: dict[str, Mentor]) -> None:
    today = timezone.localdate()
    for name, weekday, starts, minutes, kind, capacity, mode, venue in PATTERNS:
        mentor = mentors[name]
        if SlotPattern.objects.filter(mentor=mentor, weekday=weekday, starts_time=starts).exists():
            continue
        services.pattern_create(
            user=None,
            mentor_id=mentor.pk,
            weekday=weekday,
            starts_time=starts,
            minutes=minutes,
            kind=kind,
            capacity=capacity,
            mode=mode,
            venue=venue,
            online_url=ONLINE_URL if mode == ON else "",
            first_date=today,
        )
    services.patterns_materialise()


def _booked(guardian: Guardian, child, mentor: Mentor) -> None:
    """A 心理健康辅导 consultation for her child in one of the mentor's coming slots."""
    if Consultation.objects.filter(family=guardian.family, mentor=mentor).exists():
        return
    slot = (
        mentor.slots.filter(
            offering__starts_at__gt=timezone.now() + dt.timedelta(days=1),
            offering__status="open",
            offering__places_taken=0,
        )
        .order_by("offering__starts_at")
        .first()
    )
    if slot is None:
        return
    services.consultation_book(
        user=guardian.user,
        slot_id=slot.pk,
        area="mental_health",
        for_whom=Consultation.ForWhom.CHILD,
        need=BOOKED_NEED,
        child_id=child.pk if child else None,
    )


def _held(guardian: Guardian, chief: Mentor) -> None:
    """A 家庭教育指导 consultation a week ago, replayed at its moments: the slot
    published, booked, held, the summary written and a follow-up set."""
    if Consultation.objects.filter(family=guardian.family, mentor=chief).exists():
        return
    now = timezone.now()
    day = timezone.localdate() - dt.timedelta(days=8)
    published = timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0)))
    starts_at = published + dt.timedelta(hours=7)  # 16:00 that day
    with demo_clock(published):
        slot = services.slot_create(
            user=chief.user,
            mentor_id=chief.pk,
            starts_at=starts_at,
            minutes=50,
            kind=SlotKind.ONE_TO_ONE,
            capacity=1,
            mode=IN,
            venue="澥浦中学成长指导室",
        )
        consultation = services.consultation_book(
            user=guardian.user,
            slot_id=slot.pk,
            area="family_education",
            for_whom=Consultation.ForWhom.PARENT,
            need=HELD_NEED,
        )
    # The reminders before the slot are planned at their moments, as on the real
    # beat (events.demo's history does the same for sessions), so a second load
    # finds them planned and plans nothing; the outbox sends them after commit.
    marked_at = starts_at + dt.timedelta(minutes=55)
    offsets = reminder_offsets_for_offerings([slot.offering])[slot.offering_id]
    for offset in sorted(offsets, reverse=True):
        moment = starts_at - dt.timedelta(minutes=offset)
        if published < moment < marked_at:
            with demo_clock(moment):
                reminders_plan_due(now=moment)
    with demo_clock(marked_at):
        services.consultation_mark(user=chief.user, consultation_id=consultation.pk, held=True)
        services.note_write(
            user=chief.user,
            consultation_id=consultation.pk,
            level=Note.Level.SUMMARY,
            body=HELD_SUMMARY,
        )
        services.followup_schedule(
            user=chief.user,
            consultation_id=consultation.pk,
            due_at=now + dt.timedelta(days=5),
            message=FOLLOWUP_MESSAGE,
        )


@transaction.atomic
def load(stdout=None) -> dict[str, int]:
    unit = MemberUnit.objects.filter(code=STATION_UNIT).first()
    if unit is None:
        return {"成长指导工作站": 0}
    station = _station(unit)
    mentors = _mentors(station)
    _patterns(mentors)
    guardian = (
        Guardian.objects.select_related("user", "family").filter(user__username=DEMO_PARENT).first()
    )
    if guardian is not None:
        child = guardian.family.children.filter(nickname=DEMO_CHILD).first()
        _held(guardian, mentors[CHIEF["name"]])
        _booked(guardian, child, mentors["林晓岚"])
    # The slots are made after events.demo replayed the history: plan the reminder
    # rules whose moment has already come now, as the beat would have, so that a
    # second load (whose replay sees these slots) finds them planned.
    reminders_plan_due(now=timezone.now())
    counts = {
        "成长指导工作站": Station.objects.count(),
        "导师": Mentor.objects.filter(station=station).count(),
        "咨询时段": Slot.objects.filter(mentor__station=station).count(),
        "咨询预约": Consultation.objects.filter(station=station).count(),
    }
    if stdout is not None:
        stdout.write("成长指导工作站演示数据已载入。")
    return counts
