"""The handbook's admin: claims are read-only and decided through claim_decide
(批准 / 退回… with its reason page); items are saved through handbook_item_save,
a coordinator changing only their own alliance's. Scoping of every picker is
walked by tests/security/test_admin_pickers.py."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from handbook import services
from handbook.models import Claim, HandbookItem
from handbook.tests.conftest import alliance_coordinator, jpeg_upload
from members.models import AuditLog

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:handbook_claim_changelist"


@pytest.fixture
def staff_teacher(world):
    world.teacher.is_staff = True
    world.teacher.save(update_fields=["is_staff"])
    return world.teacher


def _claims(world):
    return [
        services.claim_submit(
            user=world.parent, item_id=item.pk, occurred_on=world.today, note="做了"
        )
        for item in (world.reading, world.meeting)
    ]


def test_the_approve_action_goes_through_the_service_one_audit_entry_each(
    client, world, staff_teacher
):
    claims = _claims(world)
    client.force_login(staff_teacher)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "approve_claims", ACTION_CHECKBOX_NAME: [c.pk for c in claims]},
    )
    assert response.status_code == 302
    assert set(Claim.objects.values_list("status", flat=True)) == {Claim.Status.APPROVED}
    assert AuditLog.objects.filter(action="handbook.claim.approve").count() == 2


def test_the_reject_action_asks_for_the_reason_first(client, world, staff_teacher):
    claim, _other = _claims(world)
    client.force_login(staff_teacher)
    data = {"action": "reject_claims", ACTION_CHECKBOX_NAME: [claim.pk]}

    page = client.post(reverse(CHANGELIST), data)
    assert page.status_code == 200 and "退回原因" in page.content.decode()
    assert f"家庭 #{world.family.pk}" in page.content.decode()
    assert world.child.nickname not in page.content.decode()

    empty = client.post(reverse(CHANGELIST), {**data, "apply": "1", "reason": ""})
    assert empty.status_code == 200 and empty.context["form"].errors["reason"]
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING

    client.post(reverse(CHANGELIST), {**data, "apply": "1", "reason": "照片与项目不符"})
    claim.refresh_from_db()
    assert claim.status == Claim.Status.REJECTED and claim.decision_reason == "照片与项目不符"


def test_a_claim_is_read_only_and_its_photo_is_a_link_to_the_scoped_view(
    client, world, staff_teacher, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    claim = services.claim_submit(
        user=world.parent, item_id=world.chores.pk, occurred_on=world.today, photo=jpeg_upload()
    )
    client.force_login(staff_teacher)
    url = reverse("admin:handbook_claim_change", args=[claim.pk])
    page = client.get(url).content.decode()
    assert reverse("handbook:claim_photo", args=[claim.pk]) in page
    assert claim.photo.name not in page  # no media address
    assert 'name="status"' not in page and 'name="points"' not in page

    client.post(url, {"status": "approved", "points": "99"})
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING and claim.points == 0


def test_another_schools_teacher_finds_no_claim_in_the_admin(client, world):
    _claims(world)
    other = world.other_teacher
    other.is_staff = True
    other.save(update_fields=["is_staff"])
    client.force_login(other)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_an_alliance_coordinator_saves_an_item_through_the_service(client, world):
    coordinator = alliance_coordinator(world.alliance, is_staff=True)
    client.force_login(coordinator)
    url = reverse("admin:handbook_handbookitem_change", args=[world.reading.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "alliance"}
    data.update(points=7, event_kinds="[]", is_active="on")
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    world.reading.refresh_from_db()
    assert world.reading.points == 7
    assert AuditLog.objects.filter(action="handbook.item.change").exists()

    # the district's default set is not theirs to change
    default = HandbookItem.objects.create(name="默认项目", kind="home", points=1)
    change_url = reverse("admin:handbook_handbookitem_change", args=[default.pk])
    change = client.get(change_url)
    assert change.status_code == 200 and not change.context["has_change_permission"]
    client.post(change_url, {**data, "name": "默认项目", "points": 9})
    default.refresh_from_db()
    assert default.points == 1
