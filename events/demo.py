"""Demo events for the Xikou alliance and Yuzhong's 教联体. Idempotent.

Units and alliances come from members.demo and are looked up by name. An event
is matched by (title, organiser unit); an existing one keeps its times, so a
second run changes nothing.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from bookings.models import Booking
from members.models import Alliance, Child, Family, Guardian, MemberUnit, SchoolStage

from .models import Event, ReminderRule
from .services import event_create, event_register

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))

# (alliance, unit, title, kind, audience, venue, online link, days ahead, hour, hours, capacity)
DEMO_EVENTS = [
    (
        "溪口协同育人联盟",
        "溪口镇成人文化技术学校",
        "溪口镇家校社协同育人推进会",
        Event.Kind.PROMOTION_MEETING,
        Event.Audience.EDUCATORS,
        "溪口镇成人文化技术学校三楼会议室",
        "",
        10,
        9,
        2,
        60,
    ),
    (
        "溪口协同育人联盟",
        "溪口中学",
        "家庭教育讲座：青春期亲子沟通",
        Event.Kind.LECTURE,
        Event.Audience.PARENTS,
        "溪口中学报告厅",
        "https://live.example.cn/xikou-parenting",
        6,
        19,
        1.5,
        200,
    ),
    (
        "溪口协同育人联盟",
        "溪口镇成人文化技术学校",
        "亲子实践：溪口千层饼与竹编非遗体验日",
        Event.Kind.PARENT_CHILD,
        Event.Audience.FAMILIES,
        "溪口镇武岭路社区学习点",
        "",
        17,
        14,
        3,
        40,
    ),
    (
        "渝中区“教联体”",
        "渝中家长成长指导中心",
        "家庭教育指导研讨会：社区家长学校怎么办",
        Event.Kind.SEMINAR,
        Event.Audience.EDUCATORS,
        "渝中区社区教育学院二楼报告厅",
        "",
        8,
        14,
        2.5,
        120,
    ),
    (
        "渝中区“教联体”",
        "渝中区社区教育学院",
        "工作坊：科学与AI亲子课",
        Event.Kind.WORKSHOP,
        Event.Audience.FAMILIES,
        "渝中区社区教育学院创客教室",
        "",
        12,
        10,
        2,
        30,
    ),
    (
        "渝中区“教联体”",
        "中华路小学",
        "志愿服务：社区学习中心亲子阅读角",
        Event.Kind.VOLUNTEER,
        Event.Audience.PUBLIC,
        "中华路小学图书馆",
        "",
        5,
        15,
        2,
        20,
    ),
]

# Parent–child days are announced earlier: two days and three hours before.
KIND_RULES = [(Event.Kind.PARENT_CHILD, 48 * 60), (Event.Kind.PARENT_CHILD, 3 * 60)]


def load(stdout=None) -> dict[str, int]:
    today = timezone.now().astimezone(SHANGHAI).replace(minute=0, second=0, microsecond=0)
    made = 0
    for scope, offset in KIND_RULES:
        ReminderRule.objects.get_or_create(scope=scope, event=None, offset_minutes=offset)
    for (
        alliance_name,
        unit_name,
        title,
        kind,
        audience,
        venue,
        online_url,
        days,
        hour,
        hours,
        capacity,
    ) in DEMO_EVENTS:
        unit = MemberUnit.objects.filter(name=unit_name).order_by("pk").first()
        if unit is None:
            continue  # members.demo did not create it: nothing to attach to
        if Event.objects.filter(title=title, organiser_unit=unit).exists():
            continue
        starts_at = (today + datetime.timedelta(days=days)).replace(hour=hour)
        event_create(
            created_by=None,
            title=title,
            kind=kind,
            organiser_unit=unit,
            organiser_alliance=Alliance.objects.filter(name=alliance_name).first(),
            audience=audience,
            venue=venue,
            online_url=online_url,
            description=f"{title}。欢迎报名，名额有限，满员后可进入候补名单。",
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=hours),
            capacity=capacity,
            booking_closes_at=starts_at - datetime.timedelta(hours=2),
            status=Event.Status.PUBLISHED,
        )
        made += 1
    _demo_family_registration()
    if stdout is not None:
        stdout.write(f"活动演示数据已载入（新建 {made} 个）。")
    return {
        "活动": Event.objects.count(),
        "提醒规则": ReminderRule.objects.count(),
    }


# A demo parent (documented in docs/EVENTS.md) so that rosters, check-in and
# the delivery log have something to show. For demonstrations only.
DEMO_PARENT = ("demo_parent", "溪口家长（演示）", "Demo-Parent-2025")


def _demo_family_registration() -> None:
    from django.contrib.auth import get_user_model

    username, display_name, password = DEMO_PARENT
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"display_name": display_name, "email": f"{username}@example.cn"},
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    guardian = Guardian.objects.filter(user=user).first()
    if guardian is None:
        family = Family.objects.create()
        guardian = Guardian.objects.create(
            user=user, family=family, relation=Guardian.Relation.MOTHER
        )
        Child.objects.create(
            family=family, nickname="小溪", birth_year=2014, stage=SchoolStage.PRIMARY
        )
    event = Event.objects.filter(title="家庭教育讲座：青春期亲子沟通").first()
    if (
        event is None
        or Booking.objects.filter(offering_id=event.offering_id, family=guardian.family).exists()
    ):
        return
    event_register(
        event_id=event.pk,
        family=guardian.family,
        booked_by=user,
        guardian_ids=[guardian.pk],
        child_ids=list(guardian.family.children.values_list("pk", flat=True)),
    )
