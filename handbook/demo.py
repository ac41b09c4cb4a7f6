"""The handbook's district default set, for tests and ``load_demo``.

The set itself is written by the data migration handbook/migrations/0002_default_items.py
(its names are samples: only "10项在家陪伴 + 4种在校陪伴 + N个陪伴好行为" comes from
the district's case); ``default_items()`` runs the same idempotent upsert, e.g.
after a transactional test flushed the tables.
"""

from __future__ import annotations

import datetime
import io
from importlib import import_module

from django.apps import apps
from django.db import transaction
from django.utils import timezone

_migration = import_module("handbook.migrations.0002_default_items")

DEFAULT_ITEMS = _migration.DEFAULT_ITEMS


def default_items() -> int:
    """Create or refresh the district's default items (alliance empty); returns their number."""
    return _migration.default_items_upsert(apps)


# --- the demo's handbook: a term of claims --------------------------------------
#
# ``manage.py load_demo`` runs ``load`` after events.demo (the term so far). The
# families (members.demo) fill in their children's schools (the verifying units),
# claim at-home items through ``claim_submit`` on the evenings they happened, and
# the schools' coordinators decide them through ``claim_decide`` the next morning,
# with the clock at those moments (members.demo.demo_clock), as the term's other
# history. Attendance-backed proposals come from the sessions the families were
# marked present at (``claims_propose_from_attendance``, as the check-in's task
# does), and the older ones are approved in bulk. The notices a rejection or an
# ask-for-more writes are sent by the outbox at their moments (events.demo's
# replay). Item names are the district set's samples (``is_sample``: 示例名称).
# Idempotent: a claim of the plan is found by family, item and date, a step that
# is done already does nothing, so a second load changes nothing.

DEMO_SCHOOLS = {
    # (family key, child nickname) → the school the family entered for the child.
    ("parent", "小溪"): "溪口中学",
    ("wang", "小宇"): "溪口中学",
    ("chen", "小米"): "溪口中心小学",
    ("chen", "小豆"): "溪口实验幼儿园",
    ("zhou", "小乐"): "武岭小学",
    ("liu", "小满"): "中华路小学",
    ("zhao", "小禾"): "中华路小学",
}

# The deciding staff (members.demo.DEMO_USERS) of each child's school's alliance:
# 溪口中学's own coordinator, the Xikou coordinator for its other schools, and the
# district administrator in Yuzhong (the demo has no Yuzhong coordinator).
DECIDERS = {
    "溪口中学": "demo_xikou_school_coordinator",
    "溪口中心小学": "demo_xikou_coordinator",
    "溪口实验幼儿园": "demo_xikou_coordinator",
    "武岭小学": "demo_xikou_coordinator",
    "中华路小学": "demo_district_admin",
}

# (family key, item name, days before today, note, decision, reason). The claim is
# made at 20:00 that day (for the family's first child); "approve", "reject",
# "more" are decided the next day at 10:00, "" stays pending; "photo" attaches a
# generated picture. Notes never name a child.
CLAIM_PLAN = [
    ("parent", "亲子阅读", 40, "睡前一起读了20分钟绘本。", "approve", ""),
    ("parent", "共同运动", 33, "晚饭后一起跳绳。", "approve", ""),
    ("parent", "家长会", 20, "参加初一新生家长会。", "approve", ""),
    ("parent", "亲子游戏", 26, "", "approve", ""),
    (
        "parent",
        "学习陪伴",
        17,
        "",
        "reject",
        "当天是学校研学日，孩子不在家，请核对日期后重新申报。",
    ),
    ("parent", "及时鼓励", 15, "表扬了孩子主动整理书桌。", "approve", ""),
    ("parent", "学习陪伴", 13, "", "approve", ""),
    ("parent", "家庭会议", 12, "商量了周末的安排。", "approve", ""),
    ("parent", "生活习惯", 9, "", "approve", ""),
    (
        "parent",
        "情绪陪伴",
        4,
        "聊了聊学校里的事。",
        "more",
        "请简单写一下当时是怎么沟通的（不必写孩子的名字）。",
    ),
    ("parent", "家务劳动", 1, "一起洗碗、擦桌子。", "photo", ""),
    ("wang", "亲子阅读", 30, "一起读了科普书。", "approve", ""),
    ("wang", "共同运动", 22, "周末一起打篮球。", "approve", ""),
    ("wang", "亲子游戏", 10, "", "approve", ""),
    ("chen", "亲子阅读", 38, "读了一本绘本。", "approve", ""),
    ("chen", "亲子游戏", 31, "", "approve", ""),
    ("chen", "生活习惯", 24, "", "approve", ""),
    ("chen", "共同运动", 16, "一起去公园跑步。", "approve", ""),
    ("chen", "耐心倾听", 8, "听孩子讲完了一天的事。", "approve", ""),
    ("zhou", "亲子阅读", 6, "给孩子读了故事书。", "", ""),
    ("liu", "亲子阅读", 29, "一起读了《西游记》少儿版。", "approve", ""),
    ("liu", "共同运动", 19, "一起去滨江步道散步。", "approve", ""),
    ("liu", "放下手机", 7, "晚饭时全家不看手机。", "approve", ""),
    ("zhao", "亲子游戏", 25, "", "approve", ""),
    ("zhao", "共同运动", 3, "一起骑自行车。", "", ""),
]
# Attendance-backed proposals of sessions held this long ago or more are approved
# in bulk (two days after the session, by the unit's verifier); later ones wait.
BULK_APPROVE_AFTER_DAYS = 20
VERIFIER_ORDER = ["demo_xikou_school_coordinator", "demo_xikou_coordinator", "demo_district_admin"]


def demo_photo(seed: int = 0):
    """A small generated picture (Pillow, in memory: no binary file in the repo)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 360), (246, 241, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 200, 440, 320), fill=(120, 160, 200))  # the sink
    for i in range(4):  # the plates
        x = 70 + i * 95 + seed % 7
        draw.ellipse((x, 120, x + 80, 200), fill=(255, 255, 255), outline=(160, 160, 160))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return SimpleUploadedFile("demo-chores.png", out.getvalue(), content_type="image/png")


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))


def _schools_fill(guardians) -> None:
    """The families enter their children's schools (once, through the members service)."""
    from members.models import Child, MemberUnit
    from members.services import child_update

    names = set(DEMO_SCHOOLS.values())
    units = {u.name: u for u in MemberUnit.objects.filter(name__in=names).order_by("-pk")}
    for child in Child.objects.filter(
        family__in=[g.family_id for g in guardians.values()], school__isnull=True
    ).order_by("pk"):
        key = next((k for k, g in guardians.items() if g.family_id == child.family_id), None)
        unit = units.get(DEMO_SCHOOLS.get((key, child.nickname), ""))
        if unit is None:
            continue
        child_update(
            child=child,
            actor=guardians[key].user,
            nickname=child.nickname,
            birth_year=child.birth_year,
            stage=child.stage,
            school=unit,
        )


def _claim_steps(*, guardians, term, now) -> list:
    from django.contrib.auth import get_user_model

    from members import demo as members_demo
    from members.models import Child

    from . import selectors, services
    from .models import Claim

    User = get_user_model()
    staff = {u.username: u for u in User.objects.filter(username__in=set(DECIDERS.values()))}
    children = {}
    for child in (
        Child.objects.filter(family__in=[g.family_id for g in guardians.values()])
        .select_related("school")
        .order_by("pk")
    ):
        children.setdefault(child.family_id, child)
    items_by_set: dict = {}
    existing = {
        (c.family_id, c.item_id, c.occurred_on): c
        for c in Claim.objects.filter(
            family__in=[g.family_id for g in guardians.values()],
            term=term,
            source=Claim.Source.PARENT,
        )
    }
    today = timezone.localdate(now)
    latest = now - datetime.timedelta(minutes=30)
    steps = []
    for index, (key, item_name, days, note, decision, reason) in enumerate(CLAIM_PLAN):
        guardian = guardians.get(key)
        child = children.get(guardian.family_id) if guardian else None
        if child is None or child.school is None:
            continue
        decider = staff.get(DECIDERS.get(child.school.name, ""))
        alliance_id = selectors.handbook_alliance_id(guardian.family)
        if alliance_id not in items_by_set:
            items_by_set[alliance_id] = {i.name: i for i in selectors.handbook_items(alliance_id)}
        item = items_by_set[alliance_id].get(item_name)
        if item is None:
            continue
        day = min(max(today - datetime.timedelta(days=days), term.starts_on), today)
        claimed_at = min(_at(day, 20), latest)
        decided_at = min(_at(day + datetime.timedelta(days=1), 10), latest)
        claim_key = (guardian.family_id, item.pk, day)

        def submit(
            guardian=guardian,
            item=item,
            day=day,
            note=note,
            child=child,
            photo=decision == "photo",
            claim_key=claim_key,
            seed=index,
        ):
            if claim_key in existing:
                return
            existing[claim_key] = services.claim_submit(
                user=guardian.user,
                item_id=item.pk,
                occurred_on=day,
                child_id=child.pk,
                note=note,
                photo=demo_photo(seed) if photo else None,
            )

        steps.append(members_demo.history_step(claimed_at, submit, kind="claim"))
        if decision in services.DECISIONS and decider is not None:

            def decide(claim_key=claim_key, decision=decision, reason=reason, decider=decider):
                claim = existing.get(claim_key)
                if claim is None or claim.status != Claim.Status.PENDING:
                    return
                services.claim_decide(
                    user=decider, claim_id=claim.pk, decision=decision, reason=reason
                )

            steps.append(members_demo.history_step(decided_at, decide, kind="decide"))
    return [step for step in steps if step.moment < now]


def _proposal_steps(*, guardians, term, now) -> list:
    """Proposals after each roster of the term (as the check-in's task), and the
    bulk approval of the older ones two days later by a verifier of the unit."""
    from django.contrib.auth import get_user_model

    from bookings.models import Booking, Offering
    from members import demo as members_demo
    from members.access import units_visible_to

    from . import services
    from .models import Claim

    User = get_user_model()
    # The narrowest verifier who sees the session's unit decides its proposals.
    by_name = {u.username: u for u in User.objects.filter(username__in=VERIFIER_ORDER)}
    verifiers = [
        (by_name[name], set(units_visible_to(by_name[name]).values_list("pk", flat=True)))
        for name in VERIFIER_ORDER
        if name in by_name
    ]
    offerings = list(
        Offering.objects.filter(
            bookings__family__in=[g.family_id for g in guardians.values()],
            bookings__attendance=Booking.Attendance.PRESENT,
            starts_at__date__gte=term.starts_on,
            ends_at__lt=now,
        )
        .distinct()
        .order_by("starts_at", "pk")
    )
    latest = now - datetime.timedelta(minutes=30)
    steps = []
    for offering in offerings:
        proposed_at = min(offering.ends_at + datetime.timedelta(minutes=20), latest)

        def propose(offering_id=offering.pk):
            services.claims_propose_from_attendance(offering_ids=[offering_id])

        steps.append(members_demo.history_step(proposed_at, propose, kind="propose"))
        held = timezone.localdate(offering.starts_at)
        if (timezone.localdate(now) - held).days < BULK_APPROVE_AFTER_DAYS:
            continue
        verifier = next((v for v, units in verifiers if offering.unit_id in units), None)
        if verifier is None:
            continue

        def approve(offering_id=offering.pk, verifier=verifier):
            ids = Claim.objects.filter(
                booking__offering_id=offering_id,
                source=Claim.Source.ATTENDANCE,
                status=Claim.Status.PENDING,
            ).values_list("pk", flat=True)
            if ids:
                services.claims_bulk_approve(user=verifier, claim_ids=list(ids))

        approved_at = min(_at(held + datetime.timedelta(days=2), 10), latest)
        steps.append(members_demo.history_step(approved_at, approve, kind="decide"))
    return [step for step in steps if step.moment < now]


def load(stdout=None) -> dict[str, int]:
    """The district defaults and the demo families' claims of the current term."""
    from courses.demo import demo_families
    from events.demo import OutboxReplay
    from members import demo as members_demo
    from parent_school.selectors import term_current

    from .models import Claim, HandbookItem

    if HandbookItem.objects.filter(alliance__isnull=True).count() < len(DEFAULT_ITEMS):
        default_items()
    term = term_current()
    if term is None:
        return {"成长手册申报": 0}
    now = timezone.now()
    with transaction.atomic():
        guardians = demo_families()
        _schools_fill(guardians)
        replay = OutboxReplay(until=now)
        steps = _claim_steps(guardians=guardians, term=term, now=now)
        steps += _proposal_steps(guardians=guardians, term=term, now=now)
        # The notices of rejections and asks-for-more go out when they fall due.
        members_demo.history_run(steps, before_each=replay.before)
        replay.advance(now)
    claims = Claim.objects.filter(term=term)
    if stdout is not None:
        stdout.write("成长手册演示数据已载入（项目名称为示例）。")
    return {
        "手册项目": HandbookItem.objects.count(),
        "成长手册申报": claims.count(),
        "已通过申报": claims.filter(status=Claim.Status.APPROVED).count(),
    }
