"""Demo buddy groups for ``manage.py load_demo`` (after recognition.demo, before
surveys.demo; community.demo then makes their boards' threads).

In the Xikou alliance, its coordinator sets up, through groups.services:

- 「周末亲子阅读家伴组」 at 溪口中心小学家长学校: open joining, the demo parent,
  the Wang and Zhou families members, and a session next week the demo parent
  has booked (it shows in her 我的学习);
- 「溪口初中数学学伴小组」 at 溪口镇社区家长学校: joining by request, Wang's 小宇
  accepted, Chen's 小米 waiting for the facilitator (the manage page shows it).

Idempotent: a group, a membership, a session or a booking that exists is left as
it is, so a second load changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from bookings.models import Booking
from members.models import Guardian
from parent_school.models import BrandProgramme

from . import services
from .models import Group, GroupMembership, GroupSession

FACILITATOR = "demo_xikou_coordinator"

FAMILY_GROUP = {
    "school": "溪口中心小学家长学校",
    "name": "周末亲子阅读家伴组",
    "kind": Group.Kind.FAMILY,
    "joining": Group.Joining.OPEN,
    "facilitator_role": Group.FacilitatorRole.MENTOR,
    "min_size": 3,
    "max_size": 6,
    "description": "每两周的周六上午，几个家庭带孩子一起读一本书，聊聊陪伴中的小事。",
    "members": [("demo_parent", None), ("demo_family_wang", None), ("demo_family_zhou", None)],
    "requests": [],
    "brand": "溪口家庭成长营",  # a brand programme of courses.demo.BRANDS
}
STUDY_GROUP = {
    "school": "溪口镇社区家长学校",
    "name": "溪口初中数学学伴小组",
    "kind": Group.Kind.STUDY,
    "joining": Group.Joining.REQUEST,
    "facilitator_role": Group.FacilitatorRole.VOLUNTEER,
    "min_size": 2,
    "max_size": 5,
    "description": "初中的孩子们每周三晚上在镇成校一起做数学作业，互相讲题。",
    "members": [("demo_family_wang", "小宇")],
    "requests": [("demo_family_chen", "小米")],
}


def _group(facilitator, spec) -> Group:
    from parent_school.models import ParentSchool

    school = ParentSchool.objects.get(name=spec["school"])
    group = Group.objects.filter(parent_school=school, name=spec["name"]).first()
    if group is not None:
        return group
    return services.group_create(
        user=facilitator,
        parent_school_id=school.pk,
        kind=spec["kind"],
        name=spec["name"],
        facilitator_id=facilitator.pk,
        facilitator_role=spec["facilitator_role"],
        min_size=spec["min_size"],
        max_size=spec["max_size"],
        joining=spec["joining"],
        description=spec["description"],
    )


def _join(group: Group, username: str, child_name: str | None) -> GroupMembership | None:
    guardian = (
        Guardian.objects.select_related("user", "family").filter(user__username=username).first()
    )
    if guardian is None:
        return None
    child = guardian.family.children.filter(nickname=child_name).first() if child_name else None
    if child_name and child is None:
        return None
    existing = GroupMembership.objects.filter(
        group=group,
        family=guardian.family,
        child=child,
        status__in=GroupMembership.OPEN_STATUSES,
    ).first()
    if existing is not None:
        return existing
    return services.group_join(
        user=guardian.user, group_id=group.pk, child_id=child.pk if child else None
    )


@transaction.atomic
def load(stdout=None) -> dict[str, int]:
    facilitator = get_user_model().objects.filter(username=FACILITATOR).first()
    if facilitator is None:
        return {"学伴/家伴小组": 0}
    family_group = _group(facilitator, FAMILY_GROUP)
    study_group = _group(facilitator, STUDY_GROUP)
    Group.objects.filter(pk=family_group.pk, brand__isnull=True).update(
        brand=BrandProgramme.objects.filter(name=FAMILY_GROUP["brand"]).first()
    )
    for group, spec in ((family_group, FAMILY_GROUP), (study_group, STUDY_GROUP)):
        for username, child_name in spec["members"]:
            membership = _join(group, username, child_name)
            if membership is not None and membership.status == GroupMembership.Status.REQUESTED:
                services.group_request_decide(
                    user=facilitator, membership_id=membership.pk, approve=True
                )
        for username, child_name in spec["requests"]:
            _join(group, username, child_name)

    session = GroupSession.objects.filter(group=family_group).order_by("pk").first()
    if session is None:
        day = timezone.localdate() + dt.timedelta(days=7)
        starts = timezone.make_aware(dt.datetime.combine(day, dt.time(9, 30)))
        session = services.group_session_create(
            user=facilitator,
            group_id=family_group.pk,
            title="共读《小猪唏哩呼噜》",
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=2),
            capacity=12,
            venue="溪口中心小学图书室",
            note="请带上孩子喜欢的一本书，和大家交换着读。",
        )
    parent = (
        Guardian.objects.select_related("user", "family")
        .filter(user__username="demo_parent")
        .first()
    )
    if (
        parent is not None
        and not Booking.objects.filter(offering=session.offering, family=parent.family).exists()
    ):
        services.group_session_book(user=parent.user, session_id=session.pk)
    if stdout is not None:
        stdout.write("学伴/家伴小组演示数据已载入（一个家伴小组、一个学伴小组和一次小组活动）。")
    return {
        "学伴/家伴小组": Group.objects.count(),
        "小组成员": GroupMembership.objects.filter(status=GroupMembership.Status.ACTIVE).count(),
        "小组活动": GroupSession.objects.count(),
    }
