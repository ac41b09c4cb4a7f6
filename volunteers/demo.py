"""Demo volunteer corps for ``manage.py load_demo`` (after guidance.demo).

渝中家长成长指导中心 (members.demo "YZ-PGC") has 138 volunteers in three tiers
(专家—教研—讲师: 18, 40 and 80). The sources give only the total, so every name
is invented and each record's bio says 示例人物. One of them, the demo volunteer,
applied through the portal and was approved as 讲师 by the centre's demo
coordinator (volunteers.services.application_decide); two more applications wait
in the coordinator's queue. Service hours: the automatic record of the term's
held sessions, events and consultations (``service_hours_record``) and a manual
entry of the demo volunteer, verified by the coordinator.

Idempotent: people, applications and entries that exist are left as they are;
the automatic record changes nothing on a second run.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from members import registry
from members.models import MemberUnit, RoleAssignment
from parent_school.models import GuidanceArea, Instructor, Term

from . import services
from .models import ServiceHour, VolunteerApplication

CENTRE_UNIT = "YZ-PGC"
INVENTED = "示例人物（演示数据虚构）。"

# Demo sign-ins, documented in docs/GUIDANCE.md ("Admin and demo"). For demonstrations only.
COORDINATOR_LOGIN = ("demo_yuzhong_centre_coordinator", "渝中家长成长指导中心协调员（演示）",
                     "Demo-Centre-2025")  # fmt: skip
VOLUNTEER_LOGIN = ("demo_volunteer", "志愿者何老师（演示）", "Demo-Volunteer-2025")

TIERS = [
    (Instructor.Tier.EXPERT, 18, "高校教授、心理学与教育学专家"),
    (Instructor.Tier.RESEARCH, 40, "德育教研员"),
    (Instructor.Tier.LECTURER, 79, "中小学教师、家庭教育讲师"),
]  # + the demo volunteer, approved as 讲师: 138 in all

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜谢邹喻柏水窦章云苏潘葛"
GIVEN = [
    "文华",
    "丽娟",
    "建平",
    "晓燕",
    "志强",
    "雪梅",
    "国庆",
    "春兰",
    "海涛",
    "玉珍",
    "明辉",
    "静",
]

VOLUNTEER_APPLICATION = {
    "name": "何静怡",
    "background": "小学语文教师，参加过区家庭教育指导师培训，带过两期家长读书会。",
    "expertise": "亲子阅读、习惯养成",
    "areas": ["family_education"],
    "availability": "周六上午、周三晚上",
}
PENDING = [
    (
        "demo_applicant_tang",
        "唐晓梅",
        {
            "background": "三甲医院儿童保健科护士，业余做社区健康讲座。",
            "expertise": "儿童睡眠与营养",
            "areas": ["family_education", "mental_health"],
            "availability": "工作日晚上",
        },
    ),
    (
        "demo_applicant_luo",
        "罗建军",
        {
            "background": "退休中学物理教师，带过三届高三毕业班。",
            "expertise": "高中学习方法、选科",
            "areas": ["study", "career"],
            "availability": "周一至周五白天",
        },
    ),
]


def _login(spec, *, usable=True):
    User = get_user_model()
    username, display_name, password = spec
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"display_name": display_name, "email": f"{username}@demo.example.cn"},
    )
    if not usable:
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _names():
    for surname, given in itertools.product(SURNAMES, GIVEN):
        yield surname + given


def _corps(centre: MemberUnit) -> int:
    """The invented volunteers, made once (a bulk insert: 137 rows)."""
    have = set(
        Instructor.objects.filter(
            unit=centre, is_volunteer=True, bio__startswith=INVENTED[:4]
        ).values_list("name", flat=True)
    )
    names = _names()
    areas = GuidanceArea.values
    rows = []
    number = 0
    for tier, count, kind in TIERS:
        for _ in range(count):
            name = next(names)
            number += 1
            if name in have:
                continue
            rows.append(
                Instructor(
                    unit=centre,
                    name=name,
                    tier=tier,
                    specialties=[areas[number % len(areas)]],
                    is_volunteer=True,
                    bio=f"{INVENTED}{kind}。",
                )
            )
    Instructor.objects.bulk_create(rows)
    return len(rows)


def _coordinator(centre: MemberUnit):
    user = _login(COORDINATOR_LOGIN)
    if not RoleAssignment.objects.filter(
        user=user, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=centre
    ).exists():
        registry.role_assign(
            actor=None, user=user, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=centre
        )
    return user


def _volunteer(centre: MemberUnit, coordinator) -> Instructor:
    """The demo volunteer applied and was approved as 讲师, through the services."""
    user = _login(VOLUNTEER_LOGIN)
    if not VolunteerApplication.objects.filter(user=user, centre=centre).exists():
        application = services.application_submit(
            user=user, centre_id=centre.pk, **VOLUNTEER_APPLICATION
        )
        services.application_decide(
            user=coordinator,
            application_id=application.pk,
            approve=True,
            tier=Instructor.Tier.LECTURER,
            serves_as=VolunteerApplication.ServesAs.INSTRUCTOR,
            note="欢迎加入！先从周六上午的亲子阅读课做起。",
        )
    return Instructor.objects.get(user=user)


def _pending(centre: MemberUnit) -> None:
    for username, name, fields in PENDING:
        user = _login((username, name, ""), usable=False)
        if VolunteerApplication.objects.filter(user=user, centre=centre).exists():
            continue
        services.application_submit(user=user, centre_id=centre.pk, name=name, **fields)


def _manual_hours(volunteer: Instructor, coordinator) -> None:
    if ServiceHour.objects.filter(instructor=volunteer, source=ServiceHour.Source.MANUAL).exists():
        return
    term = Term.objects.filter(is_current=True).order_by("-starts_on").first()
    served_on = timezone.localdate() - dt.timedelta(days=6)
    if term is not None and served_on < term.starts_on:
        served_on = term.starts_on
    entry = services.hours_enter(
        user=volunteer.user,
        instructor_id=volunteer.pk,
        served_on=served_on,
        hours=Decimal("2.5"),
        description="上清寺街道社区亲子阅读分享会（线下活动，不在门户中报名）",
    )
    services.hours_decide(user=coordinator, hour_id=entry.pk, verify=True)


@transaction.atomic
def load(stdout=None) -> dict[str, int]:
    centre = MemberUnit.objects.filter(code=CENTRE_UNIT).first()
    if centre is None:
        return {"志愿者": 0}
    _corps(centre)
    coordinator = _coordinator(centre)
    volunteer = _volunteer(centre, coordinator)
    _pending(centre)
    term = Term.objects.filter(is_current=True).order_by("-starts_on").first()
    if term is not None:
        services.service_hours_record(term=term)
    _manual_hours(volunteer, coordinator)
    counts = {
        "志愿者（渝中家长成长指导中心）": Instructor.objects.filter(
            unit=centre, is_volunteer=True
        ).count(),
        "志愿者申请": VolunteerApplication.objects.filter(centre=centre).count(),
        "志愿服务时长记录": ServiceHour.objects.count(),
    }
    if stdout is not None:
        stdout.write("志愿者队伍演示数据已载入。")
    return counts
