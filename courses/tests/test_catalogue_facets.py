"""Facet counts equal what the list shows after choosing the value, and the region
facet is the region tree (district → street or town → community)."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from bookings.models import Offering
from courses.models import Course
from courses.selectors import facet_values_flat
from courses.tests.factories import CourseFactory, ThemeFactory, make_session
from members.models import Region
from members.tests.factories import RegionFactory
from parent_school.tests.factories import ParentSchoolFactory, TermFactory

pytestmark = pytest.mark.django_db

URL = "/courses/"


def _regions():
    """Two cities, as in the demo: 重庆市 → 渝中区 → streets → a community; 宁波市 → 奉化区 → 溪口镇."""
    chongqing = RegionFactory(name="重庆市", kind=Region.Kind.CITY)
    yuzhong = RegionFactory(name="渝中区", kind=Region.Kind.DISTRICT, parent=chongqing)
    shangqingsi = RegionFactory(name="上清寺街道", kind=Region.Kind.STREET, parent=yuzhong)
    zhongsi = RegionFactory(name="中山四路社区", kind=Region.Kind.COMMUNITY, parent=shangqingsi)
    jiefangbei = RegionFactory(name="解放碑街道", kind=Region.Kind.STREET, parent=yuzhong)
    ningbo = RegionFactory(name="宁波市", kind=Region.Kind.CITY)
    fenghua = RegionFactory(name="奉化区", kind=Region.Kind.DISTRICT, parent=ningbo)
    xikou = RegionFactory(name="溪口镇", kind=Region.Kind.TOWN, parent=fenghua)
    RegionFactory(name="没有课程的街道", kind=Region.Kind.STREET, parent=yuzhong)
    return locals()


def _courses_in(region, count, **fields):
    school = ParentSchoolFactory(name=f"{region.name}家长学校", region=region)
    return [CourseFactory(parent_school=school, **fields) for _ in range(count)]


def _listed(client, params) -> int:
    response = client.get(URL, params)
    assert response.status_code == 200
    assert not response.context["catalogue"].invalid, params
    return response.context["page_obj"].paginator.count


def test_the_district_count_includes_its_streets_and_communities(client):
    # given courses in the district itself, in its streets and in a community (the demo's
    # 「渝中区（4）」 that listed 9 courses: it counted the district's own schools only)
    r = _regions()
    _courses_in(r["yuzhong"], 4)
    _courses_in(r["shangqingsi"], 2)
    _courses_in(r["zhongsi"], 2)
    _courses_in(r["jiefangbei"], 1)
    _courses_in(r["xikou"], 2)

    # when the catalogue opens
    facet = client.get(URL).context["catalogue"].facets["region"]

    # then the facet is the tree, without the cities and the street with no courses,
    # each count including the places below
    def tree(values):
        return [(fv.label, fv.count, tree(fv.children)) for fv in values]

    assert tree(facet) == [
        (
            "渝中区",
            9,
            [("上清寺街道", 4, [("中山四路社区", 2, [])]), ("解放碑街道", 1, [])],
        ),
        ("奉化区", 2, [("溪口镇", 2, [])]),
    ]
    # and choosing a place lists exactly that many courses
    assert _listed(client, {"region": r["yuzhong"].pk}) == 9
    assert _listed(client, {"region": r["shangqingsi"].pk}) == 4
    assert _listed(client, {"region": r["zhongsi"].pk}) == 2
    assert _listed(client, {"region": r["fenghua"].pk}) == 2


def test_a_city_with_schools_of_its_own_stays_at_the_top_of_the_tree(client):
    r = _regions()
    _courses_in(r["chongqing"], 1)
    _courses_in(r["jiefangbei"], 2)

    facet = client.get(URL).context["catalogue"].facets["region"]

    assert [(fv.label, fv.count) for fv in facet] == [("重庆市", 3)]
    assert [fv.label for fv in facet_values_flat(facet)] == ["重庆市", "渝中区", "解放碑街道"]
    assert _listed(client, {"region": r["chongqing"].pk}) == 3


class _RegionList(HTMLParser):
    """The labels of the region fieldset with the depth of nested lists they sit in."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.inside = False
        self.label = None
        self.items: list[tuple[int, str]] = []
        self.legend = ""
        self._in_legend = False

    def handle_starttag(self, tag, attrs):
        if tag == "fieldset" and ("class", "region-facet") in attrs:
            self.inside = True
        elif self.inside and tag == "ul":
            self.depth += 1
        elif self.inside and tag == "label":
            self.label = ""
        elif self.inside and tag == "legend":
            self._in_legend = True

    def handle_endtag(self, tag):
        if self.inside and tag == "ul":
            self.depth -= 1
        elif self.inside and tag == "label":
            self.items.append((self.depth, self.label))
            self.label = None
        elif tag == "legend":
            self._in_legend = False
        elif tag == "fieldset":
            self.inside = False

    def handle_data(self, data):
        if self.label is not None:
            self.label += data.strip()
        elif self._in_legend:
            self.legend += data.strip()


def test_the_region_facet_is_nested_lists_of_choices_in_a_fieldset(client):
    r = _regions()
    _courses_in(r["zhongsi"], 2)
    _courses_in(r["jiefangbei"], 1)

    body = client.get(URL, {"region": r["shangqingsi"].pk}).content.decode()

    parser = _RegionList()
    parser.feed(body)
    assert parser.legend
    assert parser.items == [
        (1, "全部"),
        (1, "渝中区（3）"),
        (2, "上清寺街道（2）"),
        (3, "中山四路社区（2）"),
        (2, "解放碑街道（1）"),
    ]
    # the chosen street is the checked radio button
    assert f'value="{r["shangqingsi"].pk}" checked' in body


def _catalogue_data():
    """Courses spread over every facet: themes, stages, levels, modes, the region
    tree, schools (one inactive), terms, free places and dates."""
    r = _regions()
    law, talk = ThemeFactory(name="法治教育"), ThemeFactory(name="亲子沟通")
    this_term, last_term = TermFactory(code="2026-2027-1"), TermFactory(code="2025-2026-2")
    places = [r["yuzhong"], r["shangqingsi"], r["zhongsi"], r["jiefangbei"], r["xikou"]]
    schools = [ParentSchoolFactory(name=f"{p.name}家长学校", region=p) for p in places]
    schools.append(ParentSchoolFactory(name="停办的家长学校", region=r["zhongsi"], is_active=False))
    levels, modes = list(Course.Level.values), list(Course.Mode.values)
    stage_sets = [["primary"], ["junior"], ["primary", "junior"], [], ["preschool"]]
    theme_sets = [[law], [talk], [law, talk], []]
    titles = ["亲子沟通的技巧", "青春期法治课", "沟通与倾听", "隔代教养", "家庭阅读"]
    courses = []
    for i in range(24):
        course = CourseFactory(
            title=f"{titles[i % len(titles)]}{i}",
            summary="和孩子一起学沟通" if i % 3 == 0 else "",
            themes=theme_sets[i % len(theme_sets)],
            stages=stage_sets[i % len(stage_sets)],
            level=levels[i % len(levels)],
            mode=modes[i % len(modes)],
            parent_school=schools[i % len(schools)],
            term=this_term if i % 2 else last_term,
        )
        if i % 4 != 3:
            session = make_session(course, capacity=2, starts_in=timedelta(days=1 + i % 6))
            if i % 5 == 0:  # a full one
                Offering.objects.filter(pk=session.offering_id).update(places_taken=2)
        courses.append(course)
    return {"regions": r, "law": law, "this_term": this_term, "courses": courses}


@pytest.mark.parametrize(
    "base",
    [
        "none",
        "search",
        "theme",
        "region",
        "free",
        "dates",
        "search+stage+term",
    ],
)
def test_every_facet_count_equals_the_list_after_choosing_it(client, base):
    # given courses over every facet, and a starting point with other filters chosen
    data = _catalogue_data()
    day = (timezone.localtime() + timedelta(days=2)).date().isoformat()
    params = {
        "none": {},
        "search": {"q": "沟通技巧"},
        "theme": {"theme": data["law"].pk},
        "region": {"region": data["regions"]["yuzhong"].pk},
        "free": {"free": "true"},
        "dates": {"date_from": day},
        "search+stage+term": {"q": "沟通", "stage": "primary", "term": data["this_term"].pk},
    }[base]
    response = client.get(URL, params)
    catalogue = response.context["catalogue"]
    clicked = 0

    # when each value of each facet is chosen in turn (the region tree's included)
    for facet, values in catalogue.facets.items():
        for fv in facet_values_flat(values):
            # then the list shows exactly the count the facet promised
            assert _listed(client, {**params, facet: fv.value}) == fv.count, (facet, fv.label)
            clicked += 1
    # and so does 「只看有空位」
    assert _listed(client, {**params, "free": "true"}) == catalogue.free_count

    assert clicked >= 3
    if base == "none":
        assert {f for f, values in catalogue.facets.items() if values} == {
            "theme",
            "stage",
            "level",
            "mode",
            "region",
            "parent_school",
            "term",
        }


def test_an_inactive_parent_school_in_the_facet_can_be_chosen(client):
    school = ParentSchoolFactory(name="停办的家长学校", is_active=False)
    CourseFactory(title="旧课程", parent_school=school)
    CourseFactory(title="别的课程")

    response = client.get(URL)
    counts = {fv.label: fv.count for fv in response.context["catalogue"].facets["parent_school"]}

    assert counts["停办的家长学校"] == 1
    assert _listed(client, {"parent_school": school.pk}) == 1
