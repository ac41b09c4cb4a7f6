"""Multi-district scoping of parent schools (issue 19): a district administrator
manages their district's parent schools, targets and brand programmes (scoped
through the brand's host unit) and meets nothing of another district; terms are
city-wide reference data, the city's to edit."""

import pytest
from django.urls import reverse

from members.tests.districts import two_districts
from parent_school.models import BrandProgramme, Term
from parent_school.tests.factories import ParentSchoolFactory, TermFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = two_districts()
    w.school_a = ParentSchoolFactory(name="渝中家长学校", host_unit=w.a.unit)
    w.school_b = ParentSchoolFactory(name="乙方家长学校", host_unit=w.b.unit)
    w.brand_a = BrandProgramme.objects.create(name="慧育家·渝中", owner_unit=w.a.unit)
    w.brand_b = BrandProgramme.objects.create(name="慧育家·乙方", owner_unit=w.b.unit)
    return w


def _names(response) -> set[str]:
    return {str(row) for row in response.context["cl"].result_list}


def test_a_district_admin_manages_their_districts_parent_schools(client, world):
    client.force_login(world.a.admin)
    listing = client.get(reverse("admin:parent_school_parentschool_changelist"))
    assert listing.status_code == 200
    assert _names(listing) == {"渝中家长学校"}
    url_a = reverse("admin:parent_school_parentschool_change", args=[world.school_a.pk])
    page = client.get(url_a)
    assert page.status_code == 200 and page.context["has_change_permission"]
    other = client.get(reverse("admin:parent_school_parentschool_change", args=[world.school_b.pk]))
    assert other.status_code == 302  # "does not exist", like a wrong id

    client.force_login(world.city_admin)
    listing = client.get(reverse("admin:parent_school_parentschool_changelist"))
    assert _names(listing) == {"渝中家长学校", "乙方家长学校"}


def test_brand_programmes_are_scoped_through_their_host_unit(client, world):
    client.force_login(world.a.admin)
    listing = client.get(reverse("admin:parent_school_brandprogramme_changelist"))
    assert _names(listing) == {"慧育家·渝中"}
    # renaming their own brand works; the other district's is out of reach
    response = client.post(
        reverse("admin:parent_school_brandprogramme_change", args=[world.brand_a.pk]),
        {
            "name": "慧育家·爱有方",
            "owner_unit": world.a.unit.pk,
            "description": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    world.brand_a.refresh_from_db()
    assert world.brand_a.name == "慧育家·爱有方"
    client.post(
        reverse("admin:parent_school_brandprogramme_change", args=[world.brand_b.pk]),
        {"name": "改掉", "owner_unit": world.b.unit.pk, "description": "", "is_active": "on"},
    )
    world.brand_b.refresh_from_db()
    assert world.brand_b.name == "慧育家·乙方"
    # a new brand cannot be hosted by another district's unit
    refused = client.post(
        reverse("admin:parent_school_brandprogramme_add"),
        {"name": "外区品牌", "owner_unit": world.b.unit.pk, "description": "", "is_active": "on"},
    )
    assert refused.status_code == 200
    assert not BrandProgramme.objects.filter(name="外区品牌").exists()

    client.force_login(world.city_admin)
    listing = client.get(reverse("admin:parent_school_brandprogramme_changelist"))
    assert _names(listing) == {"慧育家·爱有方", "慧育家·乙方"}


def test_terms_are_the_citys_to_edit(client, world):
    term = TermFactory(code="2030-2031-1")
    data = {
        "code": "2030-2031-1",
        "school_year": "2030–2031",
        "semester": 1,
        "starts_on": "2030-09-01",
        "ends_on": "2031-01-31",
    }
    ends_on = term.ends_on
    client.force_login(world.a.admin)
    # every district's staff see the terms, a district admin does not change them
    assert client.get(reverse("admin:parent_school_term_changelist")).status_code == 200
    assert client.get(reverse("admin:parent_school_term_add")).status_code == 403
    client.post(
        reverse("admin:parent_school_term_change", args=[term.pk]),
        {**data, "ends_on": "2031-02-28"},
    )
    term.refresh_from_db()
    assert term.ends_on == ends_on

    client.force_login(world.city_admin)
    assert client.get(reverse("admin:parent_school_term_add")).status_code == 200
    assert Term.objects.filter(pk=term.pk).exists()
