"""The registry's demo data: the facts from the source documents, loaded twice
with the same result."""

import io

import pytest
from django.contrib.auth import authenticate

from members import access, demo
from members.models import Alliance, Membership, MemberUnit, Region, RoleAssignment

pytestmark = pytest.mark.django_db


def test_load_twice_gives_the_same_counts():
    # when
    first = demo.load(io.StringIO())
    second = demo.load(io.StringIO())
    # then
    assert first == second
    assert first == {
        "区域": 17,
        "成员单位": 115,
        "联盟": 2,
        "联盟成员关系": 113,
        "角色授权": 4,
    }
    assert Region.objects.count() == 17


def test_xikou_alliance_has_its_base_and_ten_units():
    # when
    demo.load()
    # then
    xikou = Alliance.objects.get(name="溪口协同育人联盟")
    assert xikou.region.name == "溪口镇"
    assert xikou.region.parent.name == "奉化区"
    assert xikou.base_unit.name == "溪口镇成人文化技术学校"
    assert "中国成人教育协会" in xikou.initiative
    names = set(xikou.units.values_list("name", flat=True))
    assert len(names) == 10
    assert {"畸山小学", "溪口实验幼儿园", "溪口医院", "武岭中学"} <= names
    assert xikou.memberships.get(role=Membership.Role.BASE).unit == xikou.base_unit


def test_yuzhong_network_counts_and_illustrative_names_are_marked():
    # when
    demo.load()
    # then
    yuzhong = Alliance.objects.get(short_name="渝中教联体")
    college = MemberUnit.objects.get(name="渝中区社区教育学院")
    units = MemberUnit.objects.filter(alliances=yuzhong)
    assert units.filter(kind=MemberUnit.Kind.BRANCH, parent=college).count() == 20
    centres = units.filter(kind=MemberUnit.Kind.LEARNING_CENTRE)
    assert centres.count() == 79
    assert all(
        "示意" in note
        for note in units.filter(
            kind__in=[MemberUnit.Kind.BRANCH, MemberUnit.Kind.LEARNING_CENTRE]
        ).values_list("note", flat=True)
    )
    streets = Region.objects.filter(parent__name="渝中区", kind=Region.Kind.STREET)
    assert streets.count() == 11
    assert set(centres.values_list("region__name", flat=True)) == set(
        streets.values_list("name", flat=True)
    )
    for name in ["中华路小学", "渝中区妇联", "渝中家长成长指导中心"]:
        assert units.filter(name=name).exists()
    station = MemberUnit.objects.get(name__contains="海天舒")
    assert station.region.name == "镇海区" and "澥浦中学" in station.address
    assert MemberUnit.objects.filter(name="澥浦中学").exists()


def test_demo_users_sign_in_and_see_their_scope():
    # given
    demo.load()
    # when
    admin = authenticate(username="demo_district_admin", password="Demo-Admin-2025")
    xikou = authenticate(username="demo_xikou_coordinator", password="Demo-Xikou-2025")
    school = authenticate(username="demo_xikou_school_coordinator", password="Demo-Unit-2025")
    # then
    assert admin and xikou and school
    assert all(u.is_staff for u in (admin, xikou, school))
    assert access.units_visible_to(admin).count() == 115
    assert access.units_visible_to(xikou).count() == 10
    assert list(access.units_visible_to(school).values_list("name", flat=True)) == ["溪口中学"]
    assert RoleAssignment.objects.filter(user=xikou, alliance__short_name="溪口联盟").exists()
