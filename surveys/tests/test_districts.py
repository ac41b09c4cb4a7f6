"""Two districts (issue 19): a district administrator of 渝中区 deploys term surveys
to their district's parent schools, manages their district's surveys (pages and
admin), makes templates for their district's alliances, and reaches nothing of
乙方区; templates without an alliance stay the city's; the city sees both."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse

from members.models import RoleAssignment
from members.tests.districts import staff_user
from members.tests.factories import MemberUnitFactory, RegionFactory
from parent_school.tests.factories import ParentSchoolFactory
from surveys.models import Survey, SurveyTemplate
from surveys.tests.factories import SurveyFactory
from surveys.tests.world import build_world, session_survey

pytestmark = pytest.mark.django_db
Role = RoleAssignment.Role


@dataclass
class Districts:
    base: object
    ours_district: object
    loose: object  # a 渝中区 unit (by region) in no alliance
    loose_school: object  # its parent school
    theirs_school: object  # 乙方区's parent school
    district_admin: object
    city_admin: object


@pytest.fixture
def districts() -> Districts:
    base = build_world()
    ours = RegionFactory(name="渝中区", kind="district")
    theirs = RegionFactory(name="乙方区", kind="district")
    street = RegionFactory(name="解放碑街道", parent=ours)
    their_street = RegionFactory(name="乙方街道", parent=theirs)
    for row, region in (
        (base.alliance, street),
        (base.school, street),
        (base.other_alliance, their_street),
        (base.other_school, their_street),
    ):
        row.region = region
        row.save(update_fields=["region"])
    loose = MemberUnitFactory(name="解放碑社区学校", region=RegionFactory(parent=street))
    district_admin = staff_user("渝中区教委陈老师", Role.DISTRICT_ADMIN, region=ours)
    city_admin = staff_user("市教委周老师", Role.CITY_ADMIN)
    return Districts(
        base=base,
        ours_district=ours,
        loose=loose,
        loose_school=ParentSchoolFactory(name="解放碑社区家长学校", host_unit=loose),
        theirs_school=ParentSchoolFactory(name="乙方家长学校", host_unit=base.other_school),
        district_admin=district_admin,
        city_admin=city_admin,
    )


def _deploy_data(world):
    return {
        "template": world.template.pk,
        "term": world.term.pk,
        "opens_at": "2026-12-01T08:00",
        "closes_at": "2026-12-20T20:00",
    }


def test_district_admin_deploys_a_term_survey_to_their_districts_parent_schools(client, districts):
    world = districts.base
    client.force_login(districts.district_admin)
    index = client.get(reverse("surveys:manage_index")).content.decode()
    assert reverse("surveys:manage_deploy") in index
    response = client.post(reverse("surveys:manage_deploy"), _deploy_data(world))
    assert response.status_code == 302
    made = set(Survey.objects.values_list("parent_school_id", flat=True))
    assert made == {world.parent_school.pk, districts.loose_school.pk}
    # the city deploys the rest
    client.force_login(districts.city_admin)
    client.post(reverse("surveys:manage_deploy"), _deploy_data(world))
    assert districts.theirs_school.pk in set(
        Survey.objects.values_list("parent_school_id", flat=True)
    )


def test_a_district_without_an_alliance_still_deploys_to_its_parent_schools(client, districts):
    # given: a district whose only unit is in no alliance
    world = districts.base
    lone = RegionFactory(name="丙区", kind="district")
    unit = MemberUnitFactory(name="丙区实验小学", region=RegionFactory(parent=lone))
    school = ParentSchoolFactory(name="丙区实验小学家长学校", host_unit=unit)
    admin = staff_user("丙区教委", Role.DISTRICT_ADMIN, region=lone)
    client.force_login(admin)
    # when / then: the deploy page is theirs, for that school only
    assert (
        reverse("surveys:manage_deploy")
        in client.get(reverse("surveys:manage_index")).content.decode()
    )
    assert client.post(reverse("surveys:manage_deploy"), _deploy_data(world)).status_code == 302
    assert list(Survey.objects.values_list("parent_school_id", flat=True)) == [school.pk]


def test_district_admin_manages_their_districts_surveys_only(client, districts):
    world = districts.base
    ours = session_survey(world, title="渝中的课后问卷")
    theirs = SurveyFactory(
        template=world.template,
        title="乙方的学期问卷",
        parent_school=districts.theirs_school,
        term=world.term,
        unit=world.other_school,
    )
    client.force_login(districts.district_admin)
    index = client.get(reverse("surveys:manage_index")).content.decode()
    assert "渝中的课后问卷" in index and "乙方的学期问卷" not in index
    assert client.get(reverse("surveys:manage_survey", args=[ours.pk])).status_code == 200
    assert client.get(reverse("surveys:manage_survey", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("surveys:manage_survey_close", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.closes_at > world.now

    # the admin list: the same scope
    changelist = client.get(reverse("admin:surveys_survey_changelist")).content.decode()
    assert "渝中的课后问卷" in changelist and "乙方的学期问卷" not in changelist
    assert client.get(reverse("admin:surveys_survey_change", args=[theirs.pk])).status_code == 404

    client.force_login(districts.city_admin)
    index = client.get(reverse("surveys:manage_index")).content.decode()
    assert "渝中的课后问卷" in index and "乙方的学期问卷" in index
    assert client.get(reverse("surveys:manage_survey", args=[theirs.pk])).status_code == 200


def test_district_admin_makes_templates_for_their_alliances_not_city_wide_ones(client, districts):
    world = districts.base
    url = reverse("surveys:manage_template_new")
    client.force_login(districts.district_admin)
    form = client.get(url).content.decode()
    assert world.alliance.name in form and world.other_alliance.name not in form
    for owner in ("city", "", str(world.other_alliance.pk)):
        response = client.post(url, {"owner": owner, "name": "越界模板", "description": ""})
        # the city's templates are not theirs to make: refused on the owner field
        assert response.status_code == 200 and "owner" in response.context["form"].errors
    assert not SurveyTemplate.objects.filter(name="越界模板").exists()
    response = client.post(url, {"owner": str(world.alliance.pk), "name": "渝中模板"})
    assert response.status_code == 302
    assert SurveyTemplate.objects.get(name="渝中模板").alliance == world.alliance
    # the city's template: used, not edited
    city_template = reverse("surveys:manage_template", args=[world.template.pk])
    assert client.get(city_template).status_code == 404

    client.force_login(districts.city_admin)
    response = client.post(url, {"owner": "city", "name": "全市模板", "description": ""})
    assert response.status_code == 302, response.context["form"].errors
    assert SurveyTemplate.objects.get(name="全市模板").alliance is None
    assert client.get(city_template).status_code == 200


def test_comparison_and_exports_hold_their_districts_units_only(client, districts):
    from surveys.tests.test_manage_pages import answer_sheet
    from surveys.tests.world import ANSWERS

    world = districts.base
    ours = session_survey(world, title="渝中的课后问卷")
    theirs = SurveyFactory(
        template=world.template,
        title="乙方的学期问卷",
        parent_school=districts.theirs_school,
        term=world.term,
        unit=world.other_school,
    )
    for survey in (ours, theirs):
        for _n in range(5):
            answer_sheet(survey, world.version, ANSWERS)
    query = {"template": world.template.pk, "by": "unit"}
    client.force_login(districts.district_admin)
    body = client.get(reverse("surveys:manage_comparison"), query).content.decode()
    assert world.school.name in body and world.other_school.name not in body
    export = client.post(reverse("surveys:manage_survey_export", args=[ours.pk]))
    assert export.status_code == 200
    assert client.post(reverse("surveys:manage_survey_export", args=[theirs.pk])).status_code == 404

    client.force_login(districts.city_admin)
    body = client.get(reverse("surveys:manage_comparison"), query).content.decode()
    assert world.school.name in body and world.other_school.name in body
