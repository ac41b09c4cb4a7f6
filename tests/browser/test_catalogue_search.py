"""On a phone: the search box is on top of the catalogue, a search for 「沟通技巧」
finds the course on 亲子沟通的技巧 first, and the region tree in the filters is
nested, readable at 375 px and gives the count it shows."""

import pytest

from courses.tests.factories import CourseFactory, make_session
from members.models import Region
from members.tests.factories import RegionFactory
from parent_school.tests.factories import ParentSchoolFactory
from tests.a11y import axe_violations
from tests.phone import fits_without_horizontal_scroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_search_and_the_region_tree_on_a_phone(live_server, phone_page):
    # given courses in a district, one of its streets and a community of that street
    district = RegionFactory(name="渝中区", kind=Region.Kind.DISTRICT)
    street = RegionFactory(name="上清寺街道", kind=Region.Kind.STREET, parent=district)
    community = RegionFactory(name="中山四路社区", kind=Region.Kind.COMMUNITY, parent=street)
    centre = ParentSchoolFactory(name="渝中家长成长指导中心", region=district)
    street_school = ParentSchoolFactory(name="上清寺社区家长学校", region=street)
    community_school = ParentSchoolFactory(name="中山四路社区家长学校", region=community)
    wanted = CourseFactory(title="亲子沟通的技巧", summary="", parent_school=centre)
    make_session(wanted)
    CourseFactory(title="学习技巧小课堂", summary="", parent_school=street_school)
    CourseFactory(title="祖辈沟通", summary="", parent_school=community_school)
    CourseFactory(title="家庭阅读", summary="", parent_school=community_school)
    page = phone_page

    # when a parent opens the catalogue on a phone
    page.goto(live_server.url + "/courses/")

    # then the search box is there without opening anything
    box = page.get_by_label("搜索课程")
    assert box.is_visible()
    assert not page.get_by_label("上清寺街道（3）").is_visible()  # filters stay folded
    assert fits_without_horizontal_scroll(page)

    # when she searches 「沟通技巧」
    box.fill("沟通技巧")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_load_state("networkidle")

    # then the course with both words comes first, then the partial matches
    cards = page.locator(".course-card .card-title")
    assert cards.first.inner_text() == "亲子沟通的技巧"
    assert cards.count() == 3
    assert "以下课程只包含部分搜索词" in page.content()
    assert axe_violations(page) == []

    # when she clears the search, opens the filters and picks the street
    page.goto(live_server.url + "/courses/")
    page.get_by_text("更多筛选").click()
    tree = page.locator(".region-tree")
    assert tree.is_visible()
    assert fits_without_horizontal_scroll(page)
    # the community sits inside the street, the street inside the district
    nested = tree.locator("li:has(> .checkbox-row label:text('渝中区（4）')) ul li")
    assert "上清寺街道（3）" in nested.first.inner_text()
    assert "中山四路社区（2）" in nested.first.inner_text()
    assert axe_violations(page) == []
    page.get_by_label("上清寺街道（3）").check()
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state("networkidle")

    # then exactly the street's and its community's courses are listed
    assert page.locator(".course-card").count() == 3
    assert "共 3 门课程" in page.content()
    assert page.get_by_label("上清寺街道（3）").is_checked()
    assert fits_without_horizontal_scroll(page)
