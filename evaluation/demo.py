"""Demo evaluation loop for ``manage.py load_demo`` (runs after surveys.demo).

* 定标: the district administrator fills the current term's targets of every
  unit of the demo alliances (members.demo.DEMO_ALLIANCES) from the district's
  default responsibilities (``unit_targets_default``).
* 反馈: the district writes one feedback to 溪口中学 (strengths and problems),
  which its coordinator (``demo_xikou_school_coordinator``) acknowledges.
* 提升: the coordinator answers with two improvement actions due within the
  term, one already in progress, one planned.

The previous term gets nothing: the demo has no history before the current
term, and a made-up one would show as real work. Everything goes through
evaluation.services (audit entries, outbox notices), so the panel is what the
pages would have made. Idempotent by natural keys: the targets are filled only
while some are missing, the feedback is the district's to that unit and term,
the actions are found by what they say, so a second load changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from members.demo import DEMO_ALLIANCES
from members.models import Membership, MemberUnit
from parent_school.selectors import term_current

from . import services
from .models import Feedback, ImprovementAction, Responsibility, UnitTarget

DISTRICT_ADMIN = "demo_district_admin"
UNIT_COORDINATOR = "demo_xikou_school_coordinator"
UNIT_NAME = "溪口中学"

STRENGTHS = (
    "本学期家长学校按计划开课，每次课都有签到和课后小结；"
    "“初一新生家长会”组织有序，家长到场踊跃，家校沟通渠道畅通。"
)
PROBLEMS = (
    "学期问卷回收率偏低，部分家长反映晚上的课结束太晚；线上回放的声音不够清楚，祖辈家长参与较少。"
)
# (what, owner, days from today, moved to in progress with this note or None)
ACTIONS = [
    (
        "每次课后请家长当场扫码填写问卷，班主任在家长群里再提醒一次",
        "王老师（德育处）",
        14,
        "已在最近两次课后试行，当场回收约六成。",
    ),
    (
        "晚间课程提前半小时开始，并为祖辈家长安排一次白天的专场",
        "李老师（家长学校）",
        40,
        None,
    ),
]


def _demo_units() -> list[int]:
    """The active units that are current members of the demo alliances."""
    return sorted(
        Membership.objects.filter(
            alliance__name__in=DEMO_ALLIANCES, left_on__isnull=True, unit__is_active=True
        )
        .values_list("unit_id", flat=True)
        .distinct()
    )


def _due_on(term, today: dt.date, days: int) -> dt.date:
    """``days`` from today, kept within the term (and never before today)."""
    earliest = max(today, term.starts_on)
    return min(max(today + dt.timedelta(days=days), earliest), max(term.ends_on, earliest))


@transaction.atomic
def load(stdout=None) -> dict[str, int]:
    term = term_current()
    users = {
        u.username: u
        for u in get_user_model().objects.filter(username__in=[DISTRICT_ADMIN, UNIT_COORDINATOR])
    }
    admin, coordinator = users.get(DISTRICT_ADMIN), users.get(UNIT_COORDINATOR)
    unit = MemberUnit.objects.filter(name=UNIT_NAME, code__startswith="FH-XK-").first()
    if term is None or admin is None:
        return {"单位目标": 0}

    # 定标: fill only while some target is missing (a second load writes nothing).
    unit_ids = _demo_units()
    wanted = len(unit_ids) * Responsibility.objects.filter(is_active=True).count()
    have = UnitTarget.objects.filter(
        term=term, unit_id__in=unit_ids, responsibility__is_active=True
    ).count()
    if unit_ids and have < wanted:
        services.unit_targets_default(actor=admin, term_id=term.pk, unit_ids=unit_ids)

    if unit is not None and coordinator is not None:
        now = timezone.now()
        today = timezone.localdate(now)
        # 反馈: written a week ago, acknowledged the next day.
        written_at = max(
            now - dt.timedelta(days=7),
            timezone.make_aware(dt.datetime.combine(term.starts_on, dt.time(9))),
        )
        written_at = min(written_at, now)
        feedback = Feedback.objects.filter(unit=unit, term=term, written_by=admin).first()
        if feedback is None:
            feedback = services.feedback_write(
                actor=admin,
                unit_id=unit.pk,
                term_id=term.pk,
                strengths=STRENGTHS,
                problems=PROBLEMS,
                now=written_at,
            )
        acknowledged_at = min(written_at + dt.timedelta(days=1), now)
        if feedback.acknowledged_at is None:
            services.feedback_acknowledge(
                actor=coordinator, feedback_id=feedback.pk, now=acknowledged_at
            )
        # 提升: two actions the day of the acknowledgement; the first under way since.
        for index, (what, owner, days, progress) in enumerate(ACTIONS):
            if ImprovementAction.objects.filter(unit=unit, term=term, what=what).exists():
                continue
            added_at = min(acknowledged_at + dt.timedelta(hours=2 + index), now)
            action = services.action_add(
                actor=coordinator,
                unit_id=unit.pk,
                term_id=term.pk,
                what=what,
                owner=owner,
                due_on=_due_on(term, today, days),
                feedback_id=feedback.pk,
                now=added_at,
            )
            if progress:
                services.action_update(
                    actor=coordinator,
                    action_id=action.pk,
                    status=ImprovementAction.Status.IN_PROGRESS,
                    note=progress,
                    now=min(added_at + dt.timedelta(days=3), now),
                )
    if stdout is not None:
        stdout.write("考核评价演示数据已载入（本学期目标、一条区级反馈及两项改进措施）。")
    return {
        "单位目标": UnitTarget.objects.filter(term=term).count(),
        "考核反馈": Feedback.objects.filter(term=term).count(),
        "改进措施": ImprovementAction.objects.filter(term=term).count(),
    }
