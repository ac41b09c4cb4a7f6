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

from django.contrib.auth import get_user_model
from django.db import transaction

from . import registry
from .models import Alliance, Membership, MemberUnit, Region, RoleAssignment

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
    "district": ("demo_district_admin", "区级管理员（演示）", "Demo-Admin-2025"),
    "xikou": ("demo_xikou_coordinator", "溪口联盟协调员（演示）", "Demo-Xikou-2025"),
    "unit": ("demo_xikou_school_coordinator", "溪口中学协调员（演示）", "Demo-Unit-2025"),
}


def _region(name: str, kind: str, parent: Region | None) -> Region:
    region, _created = Region.objects.update_or_create(
        name=name, parent=parent, defaults={"kind": kind}
    )
    return region


def _unit(code: str, name: str, kind: str, region: Region, **extra) -> MemberUnit:
    unit, _created = MemberUnit.objects.update_or_create(
        code=code, defaults={"name": name, "kind": kind, "region": region, **extra}
    )
    return unit


def _member(alliance: Alliance, unit: MemberUnit, role: str) -> None:
    Membership.objects.update_or_create(alliance=alliance, unit=unit, defaults={"role": role})


def _user(key: str):
    User = get_user_model()
    username, display_name, password = DEMO_USERS[key]
    user, _created = User.objects.get_or_create(
        username=username,
        defaults={"display_name": display_name, "email": f"{username}@demo.example.cn"},
    )
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _role(user, role: str, *, alliance=None, unit=None) -> None:
    if not RoleAssignment.objects.filter(
        user=user, role=role, alliance=alliance, unit=unit
    ).exists():
        registry.role_assign(actor=None, user=user, role=role, alliance=alliance, unit=unit)


@transaction.atomic
def load(stdout=None) -> dict[str, int]:
    # Regions: city → district → street or town.
    ningbo = _region("宁波市", Region.Kind.CITY, None)
    fenghua = _region("奉化区", Region.Kind.DISTRICT, ningbo)
    xikou_town = _region("溪口镇", Region.Kind.TOWN, fenghua)
    zhenhai = _region("镇海区", Region.Kind.DISTRICT, ningbo)
    chongqing = _region("重庆市", Region.Kind.CITY, None)
    yuzhong = _region("渝中区", Region.Kind.DISTRICT, chongqing)
    streets = {
        name: _region(f"{name}街道", Region.Kind.STREET, yuzhong) for name in YUZHONG_STREETS
    }

    # Xikou alliance.
    xikou_base = _unit(
        "FH-XK-01", "溪口镇成人文化技术学校", MemberUnit.Kind.ADULT_SCHOOL, xikou_town
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
    _member(xikou, xikou_base, Membership.Role.BASE)
    xikou_units = {}
    for code, name, kind in XIKOU_MEMBERS:
        xikou_units[name] = unit = _unit(code, name, kind, xikou_town)
        _member(xikou, unit, Membership.Role.MEMBER)

    # Yuzhong network: 1 college + 20 branches + 79 community learning centres.
    college = _unit("YZ-COL", "渝中区社区教育学院", MemberUnit.Kind.COMMUNITY_COLLEGE, yuzhong)
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
    _member(yuzhong_alliance, college, Membership.Role.BASE)
    branches_by_street: dict[str, list[MemberUnit]] = {name: [] for name in YUZHONG_STREETS}
    for i in range(20):
        street = YUZHONG_STREETS[i % len(YUZHONG_STREETS)]
        number = i // len(YUZHONG_STREETS) + 1
        name = f"{street}街道分院" if number == 1 else f"{street}街道第{number}分院"
        branch = _unit(
            f"YZ-BR-{i + 1:02d}",
            name,
            MemberUnit.Kind.BRANCH,
            streets[street],
            parent=college,
            note=ILLUSTRATIVE,
        )
        branches_by_street[street].append(branch)
        _member(yuzhong_alliance, branch, Membership.Role.MEMBER)
    for i in range(79):
        street = YUZHONG_STREETS[i % len(YUZHONG_STREETS)]
        number = i // len(YUZHONG_STREETS) + 1
        branches = branches_by_street[street]
        centre = _unit(
            f"YZ-LC-{i + 1:02d}",
            f"{street}街道第{number}社区学习中心",
            MemberUnit.Kind.LEARNING_CENTRE,
            streets[street],
            parent=branches[number % len(branches)],
            note=ILLUSTRATIVE,
        )
        _member(yuzhong_alliance, centre, Membership.Role.MEMBER)
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
        unit = _unit(code, name, kind, yuzhong, **extra)
        _member(yuzhong_alliance, unit, Membership.Role.MEMBER)

    # Zhenhai: the 海天舒 station, opened at 澥浦中学.
    _unit("ZH-XP", "澥浦中学", MemberUnit.Kind.MIDDLE_SCHOOL, zhenhai)
    _unit(
        "ZH-HTS",
        "镇海区“海天舒”学生成长指导工作站",
        MemberUnit.Kind.GUIDANCE_CENTRE,
        zhenhai,
        address="镇海区澥浦中学",
        note="在澥浦中学揭牌；由镇海区教育局管理",
    )

    # Demo sign-ins: a district admin, the Xikou coordinator, 溪口中学's coordinator.
    district_admin = _user("district")
    _role(district_admin, RoleAssignment.Role.DISTRICT_ADMIN)
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
