"""The coordinator and parent pages: scoping, query counts, the export."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from members import access
from members.models import AuditLog, Guardian, RoleAssignment
from members.privacy import mask_phone
from members.tests.factories import (
    ChildFactory,
    GuardianFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from recognition import services
from recognition.models import LearningFamilyEntry
from recognition.tests.world import build_world, family_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def computed():
    world = build_world()
    world.family_list = services.learning_families_compute(
        alliance_id=world.alliance.pk, term_id=world.term.pk
    ).family_list
    return world


def test_the_coordinator_computes_overrides_and_publishes_through_the_pages(client):
    world = build_world()
    client.force_login(world.alliance_coordinator)

    # when: compute
    response = client.post(reverse("recognition:compute", args=[world.alliance.pk, world.term.pk]))
    entry = LearningFamilyEntry.objects.get(family=world.few_credits)
    assert response.status_code == 302
    assert response["Location"] == reverse("recognition:list", args=[entry.family_list_id])
    page = client.get(response["Location"]).content.decode()
    assert "李*明家庭" in page and "李小明" not in page and "的孩子" not in page

    # when: include without a reason, then with one
    url = reverse("recognition:override", args=[entry.pk])
    client.post(url, {"included": "1", "reason": ""}, follow=True)
    entry.refresh_from_db()
    assert not entry.included
    response = client.post(url, {"included": "1", "reason": "学分延迟入账"}, follow=True)
    entry.refresh_from_db()
    assert entry.included and "学分延迟入账" in response.content.decode()

    # when: publish, twice
    publish = reverse("recognition:publish", args=[entry.family_list_id])
    client.post(publish)
    again = client.post(publish, follow=True).content.decode()
    assert "名单已经发布过了" in again
    printed = client.get(reverse("recognition:print", args=[entry.family_list_id]))
    body = printed.content.decode()
    assert printed.status_code == 200 and "张*家庭" in body and "李*明家庭" in body
    # No guardian's phone, whole or masked (a bare "139" would match the term's
    # name, e.g. 20139–20140, since the factories number terms and phones alike).
    for guardian in Guardian.objects.filter(family__in=entry.family_list.entries.values("family")):
        assert guardian.user.phone and guardian.user.phone not in body
        assert mask_phone(guardian.user.phone) not in body
    assert "孩子" not in body


def test_the_rule_form_shows_a_field_error_in_chinese(client, computed):
    client.force_login(computed.alliance_coordinator)
    url = reverse("recognition:rule", args=[computed.alliance.pk, computed.term.pk])
    response = client.post(url, {"min_credits": "1.25", "min_points": "1"})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()  # Django's own check of one decimal
    computed.rule.refresh_from_db()
    assert computed.rule.min_credits == 2
    response = client.post(
        url,
        {
            "min_credits": "3",
            "min_points": "6",
            "min_home_items": "6",
            "min_school_items": "0",
            "min_behaviour_items": "0",
            "min_sessions": "2",
            "no_open_rejection": "on",
        },
    )
    assert response.status_code == 302
    computed.rule.refresh_from_db()
    assert computed.rule.min_home_items == 6 and computed.rule.min_sessions == 2


def test_a_coordinator_of_another_alliance_gets_404(client, computed):
    client.force_login(computed.other_coordinator)
    list_url = reverse("recognition:list", args=[computed.family_list.pk])
    assert client.get(list_url).status_code == 404
    assert (
        client.get(reverse("recognition:print", args=[computed.family_list.pk])).status_code == 404
    )
    rule_url = reverse("recognition:rule", args=[computed.alliance.pk, computed.term.pk])
    assert client.get(rule_url).status_code == 404
    compute_url = reverse("recognition:compute", args=[computed.alliance.pk, computed.term.pk])
    assert client.post(compute_url).status_code == 404
    assert (
        client.post(reverse("recognition:publish", args=[computed.family_list.pk])).status_code
        == 404
    )
    entry = computed.family_list.entries.first()
    override = reverse("recognition:override", args=[entry.pk])
    assert client.post(override, {"included": "0", "reason": "x"}).status_code == 404
    assert not computed.family_list.entries.exclude(override_reason="").exists()


def test_a_unit_coordinator_sees_only_their_units_families(client, computed):
    client.force_login(computed.unit_coordinator)
    page = client.get(reverse("recognition:list", args=[computed.family_list.pk])).content.decode()
    assert "张*家庭" in page  # at u2
    assert "李*明家庭" not in page  # at u1
    assert "发布名单" not in page


def test_a_parent_is_refused_the_coordinator_pages(client, computed):
    guardian = computed.meets.guardians.first()
    client.force_login(guardian.user)
    assert client.get(reverse("recognition:overview")).status_code == 403
    assert (
        client.get(reverse("recognition:list", args=[computed.family_list.pk])).status_code == 403
    )


def test_the_list_page_costs_the_same_queries_for_5_and_25_families(
    client, computed, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(computed.alliance_coordinator)
    url = reverse("recognition:list", args=[computed.family_list.pk])
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(20):
        family_at(computed.u1 if n % 2 else computed.u2, f"家长{n}号")
    services.learning_families_compute(alliance_id=computed.alliance.pk, term_id=computed.term.pk)
    assert computed.family_list.entries.count() == 25
    with django_assert_max_num_queries(len(few)):
        page = client.get(url)
    assert page.status_code == 200 and "家**号家庭" in page.content.decode()


def test_the_parent_sees_the_rules_in_plain_words_with_their_progress(client, computed):
    guardian = computed.few_credits.guardians.first()
    type(computed.term).objects.filter(pk=computed.term.pk).update(is_current=True)
    client.force_login(guardian.user)
    page = client.get(reverse("recognition:progress")).content.decode()
    assert "城东协同育人联盟" in page
    assert "本学期学分银行累计至少 2 学分" in page and "目前 1.5 学分" in page
    assert "在家陪伴至少完成 2 个不同项目" in page and "已完成 2 项" in page


def test_progress_costs_constant_queries_whatever_the_alliances(
    computed, django_assert_num_queries
):
    from recognition.selectors import learning_family_progress

    with django_assert_num_queries(4):
        progress = learning_family_progress(family=computed.meets, term=computed.term)
    assert [p.alliance for p in progress] == [computed.alliance]
    assert progress[0].met
    few = learning_family_progress(family=computed.few_credits, term=computed.term)[0]
    assert not few.met
    assert [line.name for line in few.lines if not line.met] == ["min_credits"]


def test_the_export_is_scoped_masked_formula_escaped_and_audit_logged(client, computed):
    # given a published list and a nomination with a formula-looking reason
    services.list_publish(user=computed.alliance_coordinator, list_id=computed.family_list.pk)
    guardian = computed.few_credits.guardians.select_related("user").first()
    services.commendation_add(
        user=computed.unit_coordinator,
        alliance_id=computed.alliance.pk,
        term_id=computed.term.pk,
        guardian_id=guardian.pk,
        unit_id=computed.u2.pk,
        reason='=HYPERLINK("http://evil")',
    )
    client.force_login(computed.unit_coordinator)

    # when
    response = client.post(reverse("recognition:export"), {"term": computed.term.code})

    # then
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    parents = [[c for c in row] for row in book["优秀家长"].iter_rows(values_only=True)]
    families = [[c for c in row] for row in book["学习型家庭"].iter_rows(values_only=True)]
    text = repr(parents) + repr(families)
    assert "'=HYPERLINK" in text and "张*" in text
    assert guardian.user.phone not in text and guardian.user.phone[:3] + "****" in text
    assert "张伟" not in text and "的孩子" not in text  # no whole name, no child
    # u2 only: the family at u1 is not in a u2 coordinator's export
    assert "欧**明家庭" in text and "李*明家庭" not in text
    log = AuditLog.objects.get(action="recognition.export.xlsx")
    assert log.actor == computed.unit_coordinator and log.data["rows"] == 2


def test_the_export_refuses_a_unit_out_of_scope(client, computed):
    client.force_login(computed.unit_coordinator)
    response = client.post(
        reverse("recognition:export"),
        {"term": computed.term.code, "unit": computed.u1.pk},
        follow=True,
    )
    assert "您只能以自己协调的单位" in response.content.decode()
    assert not AuditLog.objects.filter(action="recognition.export.xlsx").exists()


def test_commendation_only_for_a_guardian_the_coordinator_sees(computed):
    from recognition.errors import RecognitionError

    stranger = GuardianFactory()
    ChildFactory(family=stranger.family, school=computed.u1)
    with pytest.raises(RecognitionError) as error:
        services.commendation_add(
            user=computed.unit_coordinator,
            alliance_id=computed.alliance.pk,
            term_id=computed.term.pk,
            guardian_id=stranger.pk,
            unit_id=computed.u2.pk,
            reason="好",
        )
    assert error.value.code == "guardian_missing"
    guardian = computed.few_credits.guardians.first()
    made = services.commendation_add(
        user=computed.unit_coordinator,
        alliance_id=computed.alliance.pk,
        term_id=computed.term.pk,
        guardian_id=guardian.pk,
        unit_id=computed.u2.pk,
        reason="热心",
    )
    with pytest.raises(RecognitionError) as error:
        services.commendation_add(
            user=computed.unit_coordinator,
            alliance_id=computed.alliance.pk,
            term_id=computed.term.pk,
            guardian_id=guardian.pk,
            unit_id=computed.u2.pk,
            reason="再推荐",
        )
    assert error.value.code == "commendation_exists"
    outsider = UserFactory()
    RoleAssignmentFactory(
        user=outsider, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=computed.u1
    )
    with pytest.raises(RecognitionError):
        services.commendation_remove(user=outsider, commendation_id=made.pk)
    services.commendation_remove(user=computed.unit_coordinator, commendation_id=made.pk)
    assert AuditLog.objects.filter(action="recognition.commendation.remove").count() == 1


def _sheet(response, title):
    book = load_workbook(io.BytesIO(response.content))
    return repr([list(row) for row in book[title].iter_rows(values_only=True)])


def test_a_draft_list_is_not_in_the_commendation_export(client, computed):
    # given a computed list still under review (draft)
    client.force_login(computed.alliance_coordinator)

    # when exported
    draft = client.post(reverse("recognition:export"), {"term": computed.term.code})

    # then the 学习型家庭 sheet lists no family: a draft is not a commendation
    text = _sheet(draft, "学习型家庭")
    assert "李*明家庭" not in text and "欧**明家庭" not in text
    assert AuditLog.objects.get(action="recognition.export.xlsx").data["rows"] == 0

    # and once published, its included families are
    services.list_publish(user=computed.alliance_coordinator, list_id=computed.family_list.pk)
    published = client.post(reverse("recognition:export"), {"term": computed.term.code})
    text = _sheet(published, "学习型家庭")
    assert "李*明家庭" in text and "欧**明家庭" in text and "张*家庭" not in text
    assert AuditLog.objects.filter(action="recognition.export.xlsx").latest("pk").data["rows"] == 2


def test_the_commendation_form_offers_the_unit_s_guardians_by_masked_name(client, computed):
    # given the u2 coordinator (u2: 张伟 and 欧阳晓明's families) and a guardian at u1
    client.force_login(computed.unit_coordinator)
    url = reverse("recognition:commendations")

    # when the page opens for their one unit
    page = client.get(url, {"term": computed.term.code}).content.decode()

    # then the guardian select lists u2's guardians masked, no child, no whole phone
    few = computed.few_credits.guardians.select_related("user").first()
    assert f'<option value="{few.pk}">' in page
    assert "张*（" in page and "欧**明（" in page
    assert "张伟" not in page and "的孩子" not in page and few.user.phone not in page
    assert "李*明" not in page  # u1's family
    assert "家长编号" not in page

    # and the search narrows by the phone's last 4 digits
    phone = few.phone or few.user.phone
    found = client.get(url, {"term": computed.term.code, "q": phone[-4:]}).content.decode()
    assert f'<option value="{few.pk}">' in found


def test_a_foreign_guardian_id_is_refused_with_a_chinese_field_error(client, computed):
    client.force_login(computed.unit_coordinator)
    url = reverse("recognition:commendations")
    foreign = computed.meets.guardians.first()  # a family at u1, not the coordinator's
    stranger = GuardianFactory()  # no child anywhere
    data = {
        "term": computed.term.code,
        "alliance": computed.alliance.pk,
        "unit": computed.u2.pk,
        "reason": "热心家校共育",
    }
    for guardian_id in (foreign.pk, stranger.pk, "abc"):
        response = client.post(url, {**data, "guardian": guardian_id})
        assert response.status_code == 200
        assert response.context["form"].errors["guardian"] == ["请从列表中选择本单位家庭的家长。"]
    assert not AuditLog.objects.filter(action="recognition.commendation.add").exists()

    # a guardian of the unit is nominated
    few = computed.few_credits.guardians.first()
    response = client.post(url, {**data, "guardian": few.pk})
    assert response.status_code == 302
    assert AuditLog.objects.get(action="recognition.commendation.add").data["guardian"] == few.pk


def test_the_guardian_choices_are_capped_and_cost_one_query(computed, django_assert_num_queries):
    from recognition import selectors

    for n in range(5):
        family_at(computed.u2, f"家长{n}号")
    access.visible_unit_ids(computed.unit_coordinator)  # the roles, read once per user
    with django_assert_num_queries(1):
        choices, more = selectors.commendation_guardian_choices(
            computed.unit_coordinator, unit_id=computed.u2.pk
        )
    assert len(choices) == 7 and not more
    selectors_max = selectors.GUARDIAN_CHOICES_MAX
    try:
        selectors.GUARDIAN_CHOICES_MAX = 3
        choices, more = selectors.commendation_guardian_choices(
            computed.unit_coordinator, unit_id=computed.u2.pk
        )
    finally:
        selectors.GUARDIAN_CHOICES_MAX = selectors_max
    assert len(choices) == 3 and more
    # by name: part of it finds the guardian, the label stays masked
    (label,) = [
        label
        for _pk, label in selectors.commendation_guardian_choices(
            computed.unit_coordinator, unit_id=computed.u2.pk, search="欧阳"
        )[0]
    ]
    assert label.startswith("欧**明（")
