"""Learning families and commendation across two districts (issue 19): a district
administrator sets the rules of their district's alliances, computes, reviews and
publishes their lists, nominates and exports for their district's units (pages,
admin, services) and reaches nothing of another district's; the city administrator
reaches both."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from handbook.tests.conftest import current_term
from members.models import AuditLog
from members.tests.districts import two_districts
from recognition import services
from recognition.errors import RecognitionError
from recognition.models import Commendation, LearningFamilyList, LearningFamilyRule
from recognition.tests.factories import LearningFamilyRuleFactory

pytestmark = pytest.mark.django_db

ZERO_RULE = {
    "min_credits": 0,
    "min_points": 0,
    "min_home_items": 0,
    "min_school_items": 0,
    "min_behaviour_items": 0,
    "min_sessions": 0,
    "no_open_rejection": False,
}


@pytest.fixture
def districts():
    world = two_districts()
    world.term = current_term()
    for side in (world.a, world.b):
        LearningFamilyRuleFactory(alliance=side.alliance, term=world.term, **ZERO_RULE)
    return world


def _computed(world, side) -> LearningFamilyList:
    return services.learning_families_compute(
        alliance_id=side.alliance.pk, term_id=world.term.pk
    ).family_list


def test_a_district_admin_sets_their_districts_rules_on_the_page_and_not_the_others(
    client, districts
):
    w = districts
    client.force_login(w.a.admin)

    overview = client.get(reverse("recognition:overview"), {"term": w.term.code})
    assert overview.status_code == 200
    assert [row["alliance"] for row in overview.context["rows"]] == [w.a.alliance]
    assert "乙方" not in overview.content.decode()

    mine = reverse("recognition:rule", args=[w.a.alliance.pk, w.term.pk])
    response = client.post(mine, {**ZERO_RULE, "min_sessions": 2, "no_open_rejection": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = LearningFamilyRule.objects.get(alliance=w.a.alliance, term=w.term)
    assert rule.min_sessions == 2

    theirs = reverse("recognition:rule", args=[w.b.alliance.pk, w.term.pk])
    assert client.get(theirs).status_code == 404
    assert client.post(theirs, {**ZERO_RULE, "min_sessions": 5}).status_code == 404
    with pytest.raises(RecognitionError):
        services.rule_save(
            user=w.a.admin, alliance_id=w.b.alliance.pk, term_id=w.term.pk, min_sessions=5
        )
    assert LearningFamilyRule.objects.get(alliance=w.b.alliance, term=w.term).min_sessions == 0


def test_a_district_admin_computes_overrides_and_publishes_their_districts_list(client, districts):
    w = districts
    other = _computed(w, w.b)
    client.force_login(w.a.admin)

    # compute A's list through the page; B's compute answers 404
    response = client.post(reverse("recognition:compute", args=[w.a.alliance.pk, w.term.pk]))
    assert response.status_code == 302
    family_list = LearningFamilyList.objects.get(alliance=w.a.alliance, term=w.term)
    assert response["Location"] == reverse("recognition:list", args=[family_list.pk])
    theirs = reverse("recognition:compute", args=[w.b.alliance.pk, w.term.pk])
    assert client.post(theirs).status_code == 404

    # leave A's family out with a reason, then publish
    entry = family_list.entries.get(family=w.a.guardian.family)
    url = reverse("recognition:override", args=[entry.pk])
    assert client.post(url, {"included": "0", "reason": "家长申请退出"}).status_code == 302
    entry.refresh_from_db()
    assert not entry.included and entry.overridden_by == w.a.admin
    assert client.post(reverse("recognition:publish", args=[family_list.pk])).status_code == 302
    family_list.refresh_from_db()
    assert family_list.status == LearningFamilyList.Status.PUBLISHED

    # B's list, its entries and its publishing are out of reach
    other_entry = other.entries.get(family=w.b.guardian.family)
    assert client.get(reverse("recognition:list", args=[other.pk])).status_code == 404
    assert client.post(reverse("recognition:publish", args=[other.pk])).status_code == 404
    override = reverse("recognition:override", args=[other_entry.pk])
    assert client.post(override, {"included": "0", "reason": "越权"}).status_code == 404
    other.refresh_from_db()
    other_entry.refresh_from_db()
    assert other.status == LearningFamilyList.Status.DRAFT and other_entry.included


def test_computing_every_list_as_a_district_admin_computes_their_districts_only(districts):
    w = districts
    results = services.learning_families_compute_district(term_id=w.term.pk, user=w.a.admin)
    assert [r.family_list.alliance_id for r in results] == [w.a.alliance.pk]
    assert not LearningFamilyList.objects.filter(alliance=w.b.alliance).exists()

    results = services.learning_families_compute_district(term_id=w.term.pk, user=w.city_admin)
    assert {r.family_list.alliance_id for r in results} == {w.a.alliance.pk, w.b.alliance.pk}


def test_a_district_admin_nominates_and_exports_for_their_district_only(client, districts):
    w = districts
    for side in (w.a, w.b):
        services.list_publish(user=None, list_id=_computed(w, side).pk)
    # given a nomination in each district, B's by the city administrator
    services.commendation_add(
        user=w.city_admin,
        alliance_id=w.b.alliance.pk,
        term_id=w.term.pk,
        guardian_id=w.b.guardian.pk,
        unit_id=w.b.unit.pk,
        reason="乙方区推荐",
    )
    client.force_login(w.a.admin)

    # when she nominates A's guardian through the page
    page = client.get(reverse("recognition:commendations"), {"term": w.term.code})
    assert page.status_code == 200 and "乙方" not in page.content.decode()
    response = client.post(
        reverse("recognition:commendations") + f"?term={w.term.code}",
        {
            "unit": w.a.unit.pk,
            "alliance": w.a.alliance.pk,
            "guardian": w.a.guardian.pk,
            "reason": "积极参加家长学校",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Commendation.objects.filter(guardian=w.a.guardian, created_by=w.a.admin).exists()
    # and B's guardian or unit is refused by the service
    with pytest.raises(RecognitionError):
        services.commendation_add(
            user=w.a.admin,
            alliance_id=w.b.alliance.pk,
            term_id=w.term.pk,
            guardian_id=w.b.guardian.pk,
            unit_id=w.b.unit.pk,
            reason="越权推荐",
        )
    theirs = Commendation.objects.get(guardian=w.b.guardian)
    remove = reverse("recognition:commendation_remove", args=[theirs.pk])
    assert client.post(remove).status_code == 404
    assert Commendation.objects.filter(pk=theirs.pk).exists()

    # the export holds her district's rows only; B's unit is refused
    response = client.post(reverse("recognition:export"), {"term": w.term.code})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    text = repr([list(s.iter_rows(values_only=True)) for s in book.worksheets])
    assert "渝中实验小学" in text and "乙方" not in text
    refused = client.post(reverse("recognition:export"), {"term": w.term.code, "unit": w.b.unit.pk})
    assert refused.status_code == 302  # back to the page with the refusal, no workbook
    assert AuditLog.objects.filter(action="recognition.export.xlsx").count() == 1

    # the city administrator's export holds both districts
    client.force_login(w.city_admin)
    response = client.post(reverse("recognition:export"), {"term": w.term.code})
    book = load_workbook(io.BytesIO(response.content))
    text = repr([list(s.iter_rows(values_only=True)) for s in book.worksheets])
    assert "渝中实验小学" in text and "乙方实验小学" in text


def test_the_admin_lists_of_a_district_admin_hold_their_districts_rows(client, districts):
    w = districts
    list_a, list_b = _computed(w, w.a), _computed(w, w.b)
    client.force_login(w.a.admin)

    for name, mine, theirs in (
        ("learningfamilyrule", LearningFamilyRule.objects.get(alliance=w.a.alliance), None),
        ("learningfamilylist", list_a, list_b),
        ("learningfamilyentry", list_a.entries.get(), list_b.entries.get()),
    ):
        listed = client.get(reverse(f"admin:recognition_{name}_changelist"))
        assert listed.status_code == 200, name
        assert list(listed.context["cl"].result_list) == [mine], name
        if theirs is not None:
            url = reverse(f"admin:recognition_{name}_change", args=[theirs.pk])
            assert client.get(url).status_code == 404, name
    rule_b = LearningFamilyRule.objects.get(alliance=w.b.alliance)
    url = reverse("admin:recognition_learningfamilyrule_change", args=[rule_b.pk])
    assert client.get(url).status_code == 404
    # she may add a rule (for her district's alliances: the picker offers no other)
    add = client.get(reverse("admin:recognition_learningfamilyrule_add"))
    assert add.status_code == 200
    choices = add.context["adminform"].form.fields["alliance"].queryset
    assert list(choices) == [w.a.alliance]

    client.force_login(w.city_admin)
    listed = client.get(reverse("admin:recognition_learningfamilylist_changelist"))
    assert set(listed.context["cl"].result_list) == {list_a, list_b}
