"""Two districts (issue 19): a district administrator of 渝中区 runs the loop for
their district's units (定标, 反馈 written as 区级, the admin lists) and reaches
nothing of 乙方区; the city administrator reaches both; the list of
responsibilities stays the city's."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse

from evaluation import services
from evaluation.errors import EvaluationError
from evaluation.models import Feedback, Responsibility, UnitTarget
from evaluation.tests.conftest import build_world
from evaluation.tests.factories import FeedbackFactory, ImprovementActionFactory
from members.models import RoleAssignment
from members.registry import role_assign
from members.tests.districts import staff_user
from members.tests.factories import (
    MemberUnitFactory,
    RegionFactory,
)

pytestmark = pytest.mark.django_db
Role = RoleAssignment.Role


@dataclass
class Districts:
    base: object
    ours: object  # a school of a 渝中区 alliance
    loose: object  # a 渝中区 school (by region) in no alliance
    theirs: object  # a school of a 乙方区 alliance
    district_admin: object
    city_admin: object


@pytest.fixture
def districts() -> Districts:
    base = build_world()
    ours_district = RegionFactory(name="渝中区", kind="district")
    their_district = RegionFactory(name="乙方区", kind="district")
    street = RegionFactory(name="解放碑街道", parent=ours_district)
    their_street = RegionFactory(name="乙方街道", parent=their_district)
    # base.school's alliance lies in 渝中区, base.other_school's in 乙方区
    base.alliance.region = street
    base.alliance.save(update_fields=["region"])
    base.school.region = street
    base.school.save(update_fields=["region"])
    theirs = base.other_school
    theirs.region = their_street
    theirs.save(update_fields=["region"])
    their_alliance = theirs.memberships.get().alliance
    their_alliance.region = their_street
    their_alliance.save(update_fields=["region"])
    loose = MemberUnitFactory(name="解放碑社区学校", region=RegionFactory(parent=street))
    district_admin = staff_user("渝中区教委陈老师", Role.DISTRICT_ADMIN, region=ours_district)
    city_admin = staff_user("市教委周老师", Role.CITY_ADMIN)
    return Districts(
        base=base,
        ours=base.school,
        loose=loose,
        theirs=theirs,
        district_admin=district_admin,
        city_admin=city_admin,
    )


def _unit_url(unit, term):
    return reverse("evaluation:unit", args=[unit.pk]) + f"?term={term.code}"


def test_district_admin_writes_feedback_as_the_district_on_their_units_only(client, districts):
    term = districts.base.term
    client.force_login(districts.district_admin)
    for unit in (districts.ours, districts.loose):
        page = client.get(_unit_url(unit, term))
        assert page.status_code == 200 and 'id="feedback-form-title"' in page.content.decode()
        response = client.post(
            reverse("evaluation:feedback_write", args=[unit.pk]),
            {"term": term.code, "strengths": "活动扎实。", "problems": ""},
        )
        assert response.status_code == 302
    written = Feedback.objects.filter(written_by=districts.district_admin)
    assert sorted(written.values_list("unit_id", flat=True)) == sorted(
        [districts.ours.pk, districts.loose.pk]
    )
    assert set(written.values_list("written_as", flat=True)) == {"区级"}

    # 乙方区's school: the page and the form answer 404, nothing is written
    assert client.get(_unit_url(districts.theirs, term)).status_code == 404
    response = client.post(
        reverse("evaluation:feedback_write", args=[districts.theirs.pk]),
        {"term": term.code, "strengths": "越界", "problems": ""},
    )
    assert response.status_code == 404
    with pytest.raises(EvaluationError):
        services.feedback_write(
            actor=districts.district_admin,
            unit_id=districts.theirs.pk,
            term_id=term.pk,
            strengths="越界",
            problems="",
        )
    assert not Feedback.objects.filter(unit=districts.theirs).exists()


def test_district_admin_who_also_coordinates_an_alliance_still_writes_as_the_district(districts):
    role_assign(
        actor=None,
        user=districts.district_admin,
        role=Role.ALLIANCE_COORDINATOR,
        alliance=districts.base.alliance,
    )
    feedback = services.feedback_write(
        actor=districts.district_admin,
        unit_id=districts.ours.pk,
        term_id=districts.base.term.pk,
        strengths="",
        problems="回收率低",
    )
    assert feedback.written_as == "区级"
    # the alliance's own coordinator keeps the alliance's name
    by_alliance = services.feedback_write(
        actor=districts.base.alliance_coordinator,
        unit_id=districts.ours.pk,
        term_id=districts.base.term.pk,
        strengths="",
        problems="回收率低",
    )
    assert by_alliance.written_as == "溪口联盟"
    # coordinating an alliance of 乙方区 too, they write there as that alliance
    role_assign(
        actor=None,
        user=districts.district_admin,
        role=Role.ALLIANCE_COORDINATOR,
        alliance=districts.theirs.memberships.get().alliance,
    )
    elsewhere = services.feedback_write(
        actor=districts.district_admin,
        unit_id=districts.theirs.pk,
        term_id=districts.base.term.pk,
        strengths="",
        problems="回收率低",
    )
    assert elsewhere.written_as == "武岭联盟"


def test_city_admin_writes_feedback_in_both_districts(client, districts):
    term = districts.base.term
    client.force_login(districts.city_admin)
    for unit in (districts.ours, districts.theirs):
        response = client.post(
            reverse("evaluation:feedback_write", args=[unit.pk]),
            {"term": term.code, "strengths": "好", "problems": ""},
        )
        assert response.status_code == 302
    assert Feedback.objects.filter(written_by=districts.city_admin).count() == 2


def test_district_admin_sets_targets_of_their_district_on_the_targets_page(client, districts):
    term = districts.base.term
    client.force_login(districts.district_admin)
    url = reverse("evaluation:targets") + f"?term={term.code}"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert districts.ours.name in html and districts.loose.name in html
    assert districts.theirs.name not in html
    responsibility = Responsibility.objects.filter(is_active=True).order_by("position").first()
    ours_cell = f"t-{districts.ours.pk}-{responsibility.pk}"
    response = client.post(url, {"term": term.code, ours_cell: "12"})
    assert response.status_code == 302
    assert (
        UnitTarget.objects.get(unit=districts.ours, term=term, responsibility=responsibility).value
        == 12
    )
    # a cell of 乙方区's school is not on their page: 404, nothing written
    their_cell = f"t-{districts.theirs.pk}-{responsibility.pk}"
    assert client.post(url, {"term": term.code, their_cell: "12"}).status_code == 404
    with pytest.raises(EvaluationError):
        services.unit_target_set(
            actor=districts.district_admin,
            unit_id=districts.theirs.pk,
            term_id=term.pk,
            responsibility_id=responsibility.pk,
            value="12",
        )
    assert not UnitTarget.objects.filter(unit=districts.theirs).exists()


def test_district_admin_fills_default_targets_of_their_district_only(districts):
    term = districts.base.term
    written = services.unit_targets_default(actor=districts.district_admin, term_id=term.pk)
    active = Responsibility.objects.filter(is_active=True).count()
    assert written == 2 * active
    assert set(UnitTarget.objects.filter(term=term).values_list("unit_id", flat=True)) == {
        districts.ours.pk,
        districts.loose.pk,
    }
    with pytest.raises(EvaluationError):
        services.unit_targets_default(
            actor=districts.district_admin, term_id=term.pk, unit_ids=[districts.theirs.pk]
        )
    # the city fills the rest
    services.unit_targets_default(actor=districts.city_admin, term_id=term.pk)
    assert UnitTarget.objects.filter(term=term, unit=districts.theirs).count() == active


def test_admin_lists_show_a_district_admin_their_districts_rows(client, districts):
    term = districts.base.term
    FeedbackFactory(unit=districts.ours, term=term, strengths="渝中的反馈")
    theirs = FeedbackFactory(unit=districts.theirs, term=term, strengths="乙方的反馈")
    ImprovementActionFactory(unit=districts.ours, term=term, what="渝中的措施")
    their_action = ImprovementActionFactory(unit=districts.theirs, term=term, what="乙方的措施")
    client.force_login(districts.district_admin)
    page = client.get(reverse("admin:evaluation_improvementaction_changelist"))
    assert page.status_code == 200
    assert "渝中的措施" in page.content.decode() and "乙方的措施" not in page.content.decode()
    page = client.get(reverse("admin:evaluation_feedback_changelist")).content.decode()
    assert districts.ours.name in page and districts.theirs.name not in page
    for name, row in (("feedback", theirs), ("improvementaction", their_action)):
        url = reverse(f"admin:evaluation_{name}_change", args=[row.pk])
        assert client.get(url).status_code == 404

    client.force_login(districts.city_admin)
    page = client.get(reverse("admin:evaluation_improvementaction_changelist")).content.decode()
    assert "渝中的措施" in page and "乙方的措施" in page


def test_responsibilities_stay_the_citys_to_edit(client, districts):
    client.force_login(districts.district_admin)
    # a district administrator reads the list, but adds and changes nothing
    assert client.get(reverse("admin:evaluation_responsibility_changelist")).status_code == 200
    assert client.get(reverse("admin:evaluation_responsibility_add")).status_code == 403
    with pytest.raises(EvaluationError) as refused:
        services.responsibility_save(
            actor=districts.district_admin,
            code="district-own",
            name="区自定职责",
            metric=Responsibility.Metric.SESSIONS_HELD,
            default_value="3",
        )
    assert refused.value.code == "not_district_admin"
    client.force_login(districts.city_admin)
    assert client.get(reverse("admin:evaluation_responsibility_add")).status_code == 200
