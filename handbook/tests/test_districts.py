"""The handbook across two districts (issue 19): a district administrator verifies
the claims of their district's schools and sets the items of their district's
alliances (pages, admin, services) and reaches nothing of another district's; the
default set is city-wide reference data, the city administrator's to change; the
city administrator reaches both districts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from handbook import services
from handbook.demo import default_items
from handbook.errors import HandbookError
from handbook.models import Claim, HandbookItem, ItemKind
from handbook.tests.conftest import current_term
from handbook.tests.factories import ClaimFactory
from members.tests.districts import two_districts

pytestmark = pytest.mark.django_db


@pytest.fixture
def districts():
    world = two_districts()
    default_items()
    world.term = current_term()
    item = HandbookItem.objects.filter(alliance__isnull=True, kind=ItemKind.HOME).first()
    world.default_item = item
    world.claim_a = ClaimFactory(
        family=world.a.guardian.family, item=item, term=world.term, unit=world.a.unit
    )
    world.claim_b = ClaimFactory(
        family=world.b.guardian.family, item=item, term=world.term, unit=world.b.unit
    )
    return world


def _item_fields(name: str) -> dict:
    return {
        "kind": ItemKind.BEHAVIOUR,
        "name": name,
        "points": 1,
        "evidence": HandbookItem.Evidence.NOTE,
    }


def test_a_district_admin_verifies_their_districts_claims_only(client, districts):
    w = districts
    client.force_login(w.a.admin)

    # the review queue holds district A's claim, not B's
    queue = client.get(reverse("handbook:review"))
    assert queue.status_code == 200
    assert [c.pk for c in queue.context["page_obj"]] == [w.claim_a.pk]
    assert "乙方" not in queue.content.decode()
    # B's claim answers 404 on its page and is refused by the service
    assert client.get(reverse("handbook:review_detail", args=[w.claim_b.pk])).status_code == 404
    response = client.post(
        reverse("handbook:review_detail", args=[w.claim_b.pk]), {"decision": "approve"}
    )
    assert response.status_code == 404
    with pytest.raises(HandbookError):
        services.claim_decide(user=w.a.admin, claim_id=w.claim_b.pk, decision="approve")
    # and A's claim is approved from its page
    response = client.post(
        reverse("handbook:review_detail", args=[w.claim_a.pk]), {"decision": "approve"}
    )
    assert response.status_code == 302
    w.claim_a.refresh_from_db()
    w.claim_b.refresh_from_db()
    assert w.claim_a.status == Claim.Status.APPROVED
    assert w.claim_b.status == Claim.Status.PENDING


def test_the_city_admin_verifies_both_districts_claims(client, districts):
    w = districts
    client.force_login(w.city_admin)
    queue = client.get(reverse("handbook:review"))
    assert {c.pk for c in queue.context["page_obj"]} == {w.claim_a.pk, w.claim_b.pk}
    services.claim_decide(user=w.city_admin, claim_id=w.claim_b.pk, decision="approve")
    w.claim_b.refresh_from_db()
    assert w.claim_b.status == Claim.Status.APPROVED


def test_a_district_admin_sets_the_items_of_their_districts_alliances(client, districts):
    w = districts
    client.force_login(w.a.admin)

    # the items page offers A's alliance only; B's answers 404
    page = client.get(reverse("handbook:items"))
    assert page.status_code == 200
    assert page.context["alliances"] == [w.a.alliance]
    other = {"alliance": w.b.alliance.pk}
    assert client.get(reverse("handbook:items"), other).status_code == 404
    assert client.post(reverse("handbook:items_customise"), other).status_code == 404
    assert not HandbookItem.objects.filter(alliance=w.b.alliance).exists()

    # she copies the defaults to A's alliance and adds an item there
    mine = {"alliance": w.a.alliance.pk}
    assert client.post(reverse("handbook:items_customise"), mine).status_code == 302
    assert HandbookItem.objects.filter(alliance=w.a.alliance).exists()
    added = services.handbook_item_save(
        user=w.a.admin, alliance_id=w.a.alliance.pk, **_item_fields("按时就寝")
    )
    assert added.alliance_id == w.a.alliance.pk

    # the service refuses B's alliance as unknown
    with pytest.raises(HandbookError) as caught:
        services.handbook_item_save(
            user=w.a.admin, alliance_id=w.b.alliance.pk, **_item_fields("乙方的项目")
        )
    assert caught.value.code == "alliance_missing"


def test_the_default_set_is_the_city_admins_to_change(districts):
    # City-wide reference data: no district link, so a district admin may not touch it.
    w = districts
    item = w.default_item
    points = item.points
    with pytest.raises(HandbookError) as caught:
        services.handbook_item_save(user=w.a.admin, alliance_id=None, item_id=item.pk, points=9)
    assert caught.value.code == "not_coordinator"
    item.refresh_from_db()
    assert item.points == points

    services.handbook_item_save(user=w.city_admin, alliance_id=None, item_id=item.pk, points=9)
    item.refresh_from_db()
    assert item.points == 9 and item.alliance_id is None


def test_the_admin_lists_of_a_district_admin_hold_their_districts_rows(client, districts):
    w = districts
    own_b = services.handbook_item_save(
        user=w.city_admin, alliance_id=w.b.alliance.pk, **_item_fields("乙方的项目")
    )
    own_a = services.handbook_item_save(
        user=w.city_admin, alliance_id=w.a.alliance.pk, **_item_fields("渝中的项目")
    )
    client.force_login(w.a.admin)

    claims = client.get(reverse("admin:handbook_claim_changelist"))
    assert claims.status_code == 200
    assert list(claims.context["cl"].result_list) == [w.claim_a]
    assert (
        client.get(reverse("admin:handbook_claim_change", args=[w.claim_b.pk])).status_code == 404
    )

    items = client.get(reverse("admin:handbook_handbookitem_changelist"))
    listed = set(items.context["cl"].result_list)
    assert own_a in listed and w.default_item in listed and own_b not in listed
    # A's own item changes in admin; the default set is read-only for her
    change_a = client.get(reverse("admin:handbook_handbookitem_change", args=[own_a.pk]))
    assert 'name="_save"' in change_a.content.decode()
    default = client.get(reverse("admin:handbook_handbookitem_change", args=[w.default_item.pk]))
    assert default.status_code == 200 and 'name="_save"' not in default.content.decode()
    url = reverse("admin:handbook_handbookitem_change", args=[own_b.pk])
    assert client.get(url).status_code == 404

    # adding an item for B's alliance in admin is refused on the field, nothing written
    response = client.post(
        reverse("admin:handbook_handbookitem_add"),
        {
            "alliance": w.b.alliance.pk,
            "kind": ItemKind.BEHAVIOUR,
            "name": "偷偷加的项目",
            "points": 1,
            "evidence": HandbookItem.Evidence.NOTE,
            "position": 0,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "alliance" in response.context["adminform"].form.errors
    assert not HandbookItem.objects.filter(name="偷偷加的项目").exists()

    # the city admin lists both districts' claims
    client.force_login(w.city_admin)
    claims = client.get(reverse("admin:handbook_claim_changelist"))
    assert set(claims.context["cl"].result_list) == {w.claim_a, w.claim_b}
