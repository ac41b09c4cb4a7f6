"""Demo registry data for ``manage.py load_demo``: idempotent (create or update by
natural keys), so a second run changes nothing.

Facts come only from the product's source documents (/work/shared/domain):

- 溪口协同育人联盟 (Xikou town, Fenghua district, Ningbo): one of the first bases of
  the 家校社协同育人项目 launched by the China Adult Education Association; the
  base is 溪口镇成人文化技术学校; 10 member units in all.
- 渝中区“教联体” (Chongqing): “1所学院 + 20所分院 + 79个社区学习中心” across 11
  streets, run on 渝中区社区教育学院; 中华路小学, 区妇联 and 渝中家长成长指导中心
  (set up at the college in 2024).
- Zhenhai's 海天舒 student growth guidance station, opened at 澥浦中学.

The sources give only counts for Yuzhong's branches and learning centres, so
their names are made up plainly and every such unit says so in its note.
Unit codes are the portal's own identifiers, not official ones.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import registry, services
from .models import (
    Alliance,
    ConsentRecord,
    Guardian,
    Membership,
    MemberUnit,
    Region,
    RoleAssignment,
)

ILLUSTRATIVE = "名称为示意：资料只给出数量（1所学院+20所分院+79个社区学习中心）"

YUZHONG_STREETS = [
    "七星岗",
    "解放碑",
    "两路口",
    "上清寺",
    "菜园坝",
    "南纪门",
    "朝天门",
    "大溪沟",
    "望龙门",
    "化龙桥",
    "石油路",
]

DEMO_ALLIANCES = ["溪口协同育人联盟", "渝中区“教联体”"]

XIKOU_MEMBERS = [
    # (code, name, kind)
    ("FH-XK-02", "畸山小学", MemberUnit.Kind.PRIMARY_SCHOOL),
    ("FH-XK-03", "溪口实验幼儿园", MemberUnit.Kind.KINDERGARTEN),
    ("FH-XK-04", "溪口中学", MemberUnit.Kind.MIDDLE_SCHOOL),
    ("FH-XK-05", "班溪小学", MemberUnit.Kind.PRIMARY_SCHOOL),
    ("FH-XK-06", "武岭小学", MemberUnit.Kind.PRIMARY_SCHOOL),
    ("FH-XK-07", "溪口中心小学", MemberUnit.Kind.PRIMARY_SCHOOL),
    ("FH-XK-08", "剡溪中学", MemberUnit.Kind.MIDDLE_SCHOOL),
    ("FH-XK-09", "武岭中学", MemberUnit.Kind.MIDDLE_SCHOOL),
    ("FH-XK-10", "溪口医院", MemberUnit.Kind.HOSPITAL),
]

# Demo sign-ins, documented in docs/REGISTRY.md. For demonstrations only.
DEMO_USERS = {
    # demo_district_admin keeps its name (docs and bookmarks use it) but is the
    # city administrator: it sees Ningbo's and Chongqing's districts alike.
    "district": ("demo_district_admin", "市级管理员（演示）", "Demo-Admin-2025"),
    "yuzhong_admin": ("demo_yuzhong_admin", "渝中区管理员（演示）", "Demo-Yuzhong-2025"),
    "xikou": ("demo_xikou_coordinator", "溪口联盟协调员（演示）", "Demo-Xikou-2025"),
    "unit": ("demo_xikou_school_coordinator", "溪口中学协调员（演示）", "Demo-Unit-2025"),
}


class _Rows:
    """The registry rows a previous load made, read in three queries, so that a
    load writes only what is missing or differs (one query each) instead of an
    update_or_create per row: the registry is about 250 rows."""

    def __init__(self):
        names = ["宁波市", "奉化区", "溪口镇", "镇海区", "重庆市", "渝中区"]
        names += [f"{street}街道" for street in YUZHONG_STREETS]
        self.regions = {(r.name, r.parent_id): r for r in Region.objects.filter(name__in=names)}
        codes = Q(code__startswith="FH-XK-") | Q(code__startswith="YZ-") | Q(code__startswith="ZH-")
        self.units = {u.code: u for u in MemberUnit.objects.filter(codes)}
        self.memberships = {
            (m.alliance_id, m.unit_id): m
            for m in Membership.objects.filter(alliance__name__in=DEMO_ALLIANCES)
        }


def _upsert(model, cache: dict, key, lookup: dict, values: dict):
    """Create the row, or save the fields of ``values`` (by attname) that differ."""
    row = cache.get(key)
    if row is None:
        row = cache[key] = model.objects.create(**lookup, **values)
        return row
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if changed:
        for name in changed:
            setattr(row, name, values[name])
        row.save(update_fields=changed)
    return row


def _region(rows: _Rows, name: str, kind: str, parent: Region | None) -> Region:
    parent_id = parent.pk if parent else None
    return _upsert(
        Region,
        rows.regions,
        (name, parent_id),
        {"name": name, "parent_id": parent_id},
        {"kind": kind},
    )


def _unit(
    rows: _Rows, code: str, name: str, kind: str, region: Region, parent=None, **extra
) -> MemberUnit:
    values = {"name": name, "kind": kind, "region_id": region.pk, **extra}
    if parent is not None:
        values["parent_id"] = parent.pk
    return _upsert(MemberUnit, rows.units, code, {"code": code}, values)


def _member(rows: _Rows, alliance: Alliance, unit: MemberUnit, role: str) -> None:
    _upsert(
        Membership,
        rows.memberships,
        (alliance.pk, unit.pk),
        {"alliance_id": alliance.pk, "unit_id": unit.pk},
        {"role": role},
    )


def _user(key: str):
    User = get_user_model()
    username, display_name, password = DEMO_USERS[key]
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"display_name": display_name, "email": f"{username}@demo.example.cn"},
    )
    # Hashing costs about half a second each: a new user is not checked first.
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _role(user, role: str, *, alliance=None, unit=None, region=None) -> None:
    if not RoleAssignment.objects.filter(
        user=user, role=role, alliance=alliance, unit=unit, region=region
    ).exists():
        registry.role_assign(
            actor=None, user=user, role=role, alliance=alliance, unit=unit, region=region
        )


@transaction.atomic
def load(stdout=None) -> dict[str, int]:
    rows = _Rows()
    # Regions: city → district → street or town.
    ningbo = _region(rows, "宁波市", Region.Kind.CITY, None)
    fenghua = _region(rows, "奉化区", Region.Kind.DISTRICT, ningbo)
    xikou_town = _region(rows, "溪口镇", Region.Kind.TOWN, fenghua)
    zhenhai = _region(rows, "镇海区", Region.Kind.DISTRICT, ningbo)
    chongqing = _region(rows, "重庆市", Region.Kind.CITY, None)
    yuzhong = _region(rows, "渝中区", Region.Kind.DISTRICT, chongqing)
    streets = {
        name: _region(rows, f"{name}街道", Region.Kind.STREET, yuzhong) for name in YUZHONG_STREETS
    }

    # Xikou alliance.
    xikou_base = _unit(
        rows, "FH-XK-01", "溪口镇成人文化技术学校", MemberUnit.Kind.ADULT_SCHOOL, xikou_town
    )
    xikou = Alliance.objects.update_or_create(
        name="溪口协同育人联盟",
        defaults={
            "short_name": "溪口联盟",
            "initiative": "家校社协同育人项目（中国成人教育协会发起）",
            "region": xikou_town,
            "base_unit": xikou_base,
            "description": (
                "奉化首个家校社协同育人联盟，“家校社协同育人项目”首批项目基地之一，"
                "项目基地设在溪口镇成人文化技术学校。以乡镇为单位推进家校社协同育人，"
                "开展家庭教育指导服务、建设社区家长学校和学习型家庭。"
            ),
        },
    )[0]
    _member(rows, xikou, xikou_base, Membership.Role.BASE)
    xikou_units = {}
    for code, name, kind in XIKOU_MEMBERS:
        xikou_units[name] = unit = _unit(rows, code, name, kind, xikou_town)
        _member(rows, xikou, unit, Membership.Role.MEMBER)

    # Yuzhong network: 1 college + 20 branches + 79 community learning centres.
    college = _unit(
        rows, "YZ-COL", "渝中区社区教育学院", MemberUnit.Kind.COMMUNITY_COLLEGE, yuzhong
    )
    yuzhong_alliance = Alliance.objects.update_or_create(
        name="渝中区“教联体”",
        defaults={
            "short_name": "渝中教联体",
            "initiative": "全国校家社协同育人实验区",
            "region": yuzhong,
            "base_unit": college,
            "description": (
                "依托区社区教育学院建立“1所学院+20所分院+79个社区学习中心”三级办学体系，"
                "在全区11个街道、79个社区开办社区家长学校；入选教育部首批校家社协同育人"
                "“教联体”典型案例。"
            ),
        },
    )[0]
    _member(rows, yuzhong_alliance, college, Membership.Role.BASE)
    branches_by_street: dict[str, list[MemberUnit]] = {name: [] for name in YUZHONG_STREETS}
    for i in range(20):
        street = YUZHONG_STREETS[i % len(YUZHONG_STREETS)]
        number = i // len(YUZHONG_STREETS) + 1
        name = f"{street}街道分院" if number == 1 else f"{street}街道第{number}分院"
        branch = _unit(
            rows,
            f"YZ-BR-{i + 1:02d}",
            name,
            MemberUnit.Kind.BRANCH,
            streets[street],
            parent=college,
            note=ILLUSTRATIVE,
        )
        branches_by_street[street].append(branch)
        _member(rows, yuzhong_alliance, branch, Membership.Role.MEMBER)
    for i in range(79):
        street = YUZHONG_STREETS[i % len(YUZHONG_STREETS)]
        number = i // len(YUZHONG_STREETS) + 1
        branches = branches_by_street[street]
        centre = _unit(
            rows,
            f"YZ-LC-{i + 1:02d}",
            f"{street}街道第{number}社区学习中心",
            MemberUnit.Kind.LEARNING_CENTRE,
            streets[street],
            parent=branches[number % len(branches)],
            note=ILLUSTRATIVE,
        )
        _member(rows, yuzhong_alliance, centre, Membership.Role.MEMBER)
    for code, name, kind, extra in [
        ("YZ-ZHL", "中华路小学", MemberUnit.Kind.PRIMARY_SCHOOL, {}),
        ("YZ-FL", "渝中区妇联", MemberUnit.Kind.WOMENS_FEDERATION, {}),
        (
            "YZ-PGC",
            "渝中家长成长指导中心",
            MemberUnit.Kind.GUIDANCE_CENTRE,
            {"parent": college, "note": "2024年在区社区教育学院挂牌成立"},
        ),
    ]:
        unit = _unit(rows, code, name, kind, yuzhong, **extra)
        _member(rows, yuzhong_alliance, unit, Membership.Role.MEMBER)

    # Zhenhai: the 海天舒 station, opened at 澥浦中学.
    _unit(rows, "ZH-XP", "澥浦中学", MemberUnit.Kind.MIDDLE_SCHOOL, zhenhai)
    _unit(
        rows,
        "ZH-HTS",
        "镇海区“海天舒”学生成长指导工作站",
        MemberUnit.Kind.GUIDANCE_CENTRE,
        zhenhai,
        address="镇海区澥浦中学",
        note="在澥浦中学揭牌；由镇海区教育局管理",
    )

    # Demo sign-ins: the city admin, Yuzhong's district admin, the Xikou coordinator,
    # 溪口中学's coordinator.
    _role(_user("district"), RoleAssignment.Role.CITY_ADMIN)
    _role(_user("yuzhong_admin"), RoleAssignment.Role.DISTRICT_ADMIN, region=yuzhong)
    _role(_user("xikou"), RoleAssignment.Role.ALLIANCE_COORDINATOR, alliance=xikou)
    _role(_user("unit"), RoleAssignment.Role.UNIT_COORDINATOR, unit=xikou_units["溪口中学"])

    counts = {
        "区域": Region.objects.count(),
        "成员单位": MemberUnit.objects.count(),
        "联盟": Alliance.objects.count(),
        "联盟成员关系": Membership.objects.count(),
        "角色授权": RoleAssignment.objects.count(),
    }
    if stdout is not None:
        stdout.write("成员单位演示数据已载入。")
    return counts


# --- the demo's history: a term in progress ---------------------------------------
#
# The demo shows a term that has been running for weeks: sessions held, attendance
# marked, credits posted, events attended, messages sent. All of it is written by
# the portal's own services (booking, cancelling, marking attendance, registering,
# the outbox), which read the time from ``django.utils.timezone.now``: the demo
# replays each step at the moment it would have happened by moving that clock
# (``demo_clock``), so the booking windows, the attendance-marking window and the
# credit rules apply exactly as they do for real families. Nothing is written
# behind the services' back, and the history never passes the real present.


@contextmanager
def demo_clock(moment: datetime.datetime) -> Iterator[None]:
    """Run the enclosed service calls as if it were ``moment``.

    The clock starts at ``moment`` and advances with real time, so rows made one
    after another keep their order. Only for the demo and its tests: it patches
    ``django.utils.timezone.now`` for the whole process while it is open.
    """
    real_now = timezone.now
    started = real_now()
    with mock.patch("django.utils.timezone.now", lambda: moment + (real_now() - started)):
        yield


@dataclass(frozen=True, order=True)
class HistoryStep:
    """One thing that happened in the demo's term (a booking, a cancellation, a
    roster marked), run through a service with the clock at ``moment``.
    ``kind`` ("book", "cancel", "mark") lets a runner tell them apart."""

    moment: datetime.datetime
    seq: int
    action: Callable[[], object] = field(compare=False)
    kind: str = field(default="", compare=False)


_step_numbers = itertools.count()


def history_step(
    moment: datetime.datetime, action: Callable[[], object], *, kind: str = ""
) -> HistoryStep:
    """A step; steps at the same moment run in the order they were made."""
    return HistoryStep(moment, next(_step_numbers), action, kind)


def history_run(
    steps: Iterable[HistoryStep],
    *,
    before_each: Callable[[HistoryStep], object] | None = None,
) -> int:
    """Run the steps in time order, each at its moment. ``before_each(step)``
    first brings whatever else runs on time (the outbox) up to that step."""
    count = 0
    for step in sorted(steps):
        if before_each is not None:
            before_each(step)
        with demo_clock(step.moment):
            step.action()
        count += 1
    return count


@dataclass(frozen=True)
class DemoFamily:
    key: str
    username: str
    display_name: str
    relation: str
    phone: str
    email: str
    area: str  # "xikou" or "yuzhong": where the family takes part
    children: tuple[tuple[str, int], ...]  # (nickname, birth year)
    # The channels the guardian chose on the preferences page (saved by
    # courses.demo.demo_families: notifications is above members); most keep to
    # in-site notices, so the replayed history stays small.
    channels: tuple[str, ...] = ("in_site",)


# Illustrative families. Only ``demo_parent`` can sign in (documented in the
# README and docs/EVENTS.md); the others have no usable password. The phone
# numbers are made up and shown masked everywhere.
DEMO_FAMILIES = [
    DemoFamily(
        "parent",
        "demo_parent",
        "溪口家长（演示）",
        Guardian.Relation.MOTHER,
        "13700000001",
        "demo_parent@example.cn",
        "xikou",
        (("小溪", 2014),),
        ("in_site", "by_sms"),
    ),
    DemoFamily(
        "wang",
        "demo_family_wang",
        "王爸爸（演示）",
        Guardian.Relation.FATHER,
        "13700000002",
        "",
        "xikou",
        (("小宇", 2012),),
        ("in_site", "by_sms"),
    ),
    DemoFamily(
        "chen",
        "demo_family_chen",
        "陈妈妈（演示）",
        Guardian.Relation.MOTHER,
        "",
        "demo_family_chen@example.cn",
        "xikou",
        (("小米", 2017), ("小豆", 2021)),
        ("by_email",),
    ),
    DemoFamily(
        "zhou",
        "demo_family_zhou",
        "周奶奶（演示）",
        Guardian.Relation.GRANDPARENT,
        "13700000004",
        "",
        "xikou",
        (("小乐", 2016),),
    ),
    DemoFamily(
        "liu",
        "demo_family_liu",
        "刘妈妈（演示）",
        Guardian.Relation.MOTHER,
        "13700000005",
        "demo_family_liu@example.cn",
        "yuzhong",
        (("小满", 2015),),
        ("by_sms",),
    ),
    DemoFamily(
        "zhao",
        "demo_family_zhao",
        "赵爸爸（演示）",
        Guardian.Relation.FATHER,
        "13700000006",
        "",
        "yuzhong",
        (("小舟", 2011), ("小禾", 2017)),
    ),
    DemoFamily(
        "sun",
        "demo_family_sun",
        "孙妈妈（演示）",
        Guardian.Relation.MOTHER,
        "",
        "demo_family_sun@example.cn",
        "yuzhong",
        (("小雨", 2020),),
    ),
    DemoFamily(
        "he",
        "demo_family_he",
        "何爸爸（演示）",
        Guardian.Relation.FATHER,
        "13700000008",
        "",
        "yuzhong",
        (),
    ),
]
DEMO_PARENT_PASSWORD = "Demo-Parent-2025"
# How far back the demo's history starts: families joined, sessions and events
# were announced, before the first session of the term that is replayed.
HISTORY_DAYS = 75


def history_start(now: datetime.datetime | None = None) -> datetime.datetime:
    """The moment the demo's history begins: ``HISTORY_DAYS`` before today, 09:00."""
    today = timezone.localdate(now or timezone.now())
    day = today - datetime.timedelta(days=HISTORY_DAYS)
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, 9))


def _demo_family(spec: DemoFamily, home: Region | None) -> Guardian:
    User = get_user_model()
    user = User.objects.filter(username=spec.username).first()
    if user is None:
        user = User(
            username=spec.username,
            display_name=spec.display_name,
            email=spec.email,
            phone=spec.phone or None,
            phone_verified=bool(spec.phone),
        )
        if spec.key == "parent":
            user.set_password(DEMO_PARENT_PASSWORD)
        else:
            user.set_unusable_password()
        user.save()
    guardian = Guardian.objects.filter(user=user).select_related("family").first()
    if guardian is not None:
        return guardian
    guardian = services.family_create_for_user(
        user=user, relation=spec.relation, phone=spec.phone, home_community=home
    )
    if spec.children:
        services.consent_record(user=user, document=ConsentRecord.Document.CHILDREN_INFO)
        for nickname, birth_year in spec.children:
            services.child_add(
                family=guardian.family, actor=user, nickname=nickname, birth_year=birth_year
            )
    return guardian


@transaction.atomic
def families_load() -> dict[str, Guardian]:
    """The demo families (key → first guardian), made once through the family services.

    Idempotent: a family whose user already has one is left as it is. The courses
    and events demos call it first, so each can run on its own after ``load``.
    """
    homes = {
        "xikou": Region.objects.filter(name="溪口镇").order_by("pk").first(),
        "yuzhong": Region.objects.filter(name="渝中区").order_by("pk").first(),
    }
    guardians = {}
    missing = [
        spec
        for spec in DEMO_FAMILIES
        if not Guardian.objects.filter(user__username=spec.username).exists()
    ]
    if missing:
        # The families joined before the term began.
        with demo_clock(history_start() - datetime.timedelta(days=30)):
            for spec in missing:
                _demo_family(spec, homes[spec.area])
    for guardian in Guardian.objects.filter(
        user__username__in=[spec.username for spec in DEMO_FAMILIES]
    ).select_related("user", "family"):
        key = next(spec.key for spec in DEMO_FAMILIES if spec.username == guardian.user.username)
        guardians[key] = guardian
    return guardians
