"""Done when #4 (issue 17): the brand matrix page shows the demo's brands with
figures from the roll-up. load_demo runs as `make run` runs it (its last step is
the roll-up), then the page is read as a visitor would, without signing in."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from courses.demo import BRANDS, DEMO_BRAND_MARK
from parent_school.models import BrandProgramme
from reports import selectors
from reports.models import BrandSnapshot

from .test_brand_pages import matrix_rows

pytestmark = pytest.mark.django_db(transaction=False)


def test_the_brand_matrix_shows_the_demos_brands_with_the_roll_ups_figures(client):
    # given the demo, as `make run` loads it
    call_command("load_demo", stdout=io.StringIO())
    term = selectors.term_choose(code=None)

    # when
    response = client.get(reverse("reports:brands"))

    # then: the 18 brands, the three named ones and fifteen marked as samples
    assert response.status_code == 200
    rows = matrix_rows(response)
    assert set(rows) == {name for name, _host, _text in BRANDS}
    assert len(rows) == 18
    brands = {b.name: b for b in BrandProgramme.objects.select_related("owner_unit")}
    invented = [b for b in brands.values() if DEMO_BRAND_MARK in b.description]
    assert len(invented) == 15
    assert {"慧育家·爱有方", "育苗护幼", "星联盟"}.isdisjoint({b.name for b in invented})
    # each row's figures are its BrandSnapshot row of the current term (0 without one)
    snapshots = {
        row.brand.name: (str(row.sessions), str(row.person_times), str(row.families))
        for row in BrandSnapshot.objects.filter(term=term).select_related("brand")
    }
    assert snapshots, "the demo's roll-up wrote brand rows"
    for name, (host, *figures) in rows.items():
        assert host == brands[name].owner_unit.name
        assert tuple(figures) == snapshots.get(name, ("0", "0", "0"))
    # and a brand with held sessions has figures: 慧育家·爱有方's lecture, three present
    sessions, person_times, families = map(int, rows["慧育家·爱有方"][1:])
    assert sessions >= 1 and person_times >= 3 and families >= 3

    # the brand's own page shows the same, from the same rows
    page = client.get(reverse("reports:brand", args=[brands["慧育家·爱有方"].pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "慧育家·爱有方：家庭教育公益讲座" in html
    assert f'data-brand-figure="person_times"><span class="report-figure">{person_times}<' in html
