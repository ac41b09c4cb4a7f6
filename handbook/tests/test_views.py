"""The handbook's pages: the family's handbook, claim form, claim page and print
page; the verifier's queue and decision page; the photo view; the coordinator's
items. The rules themselves are tested on the services (test_claims.py,
test_decisions.py); these check that the pages call them, show their messages
on the right field, scope every id and keep their query counts flat."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from handbook import services
from handbook.demo import default_items
from handbook.models import Claim, HandbookItem
from handbook.tests.conftest import alliance_coordinator, jpeg_upload
from handbook.tests.factories import ClaimFactory
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
)

pytestmark = pytest.mark.django_db


def _claim(world, item=None, **kwargs):
    kwargs.setdefault("occurred_on", world.today)
    return services.claim_submit(
        user=world.parent, item_id=(item or world.reading).pk, child_id=world.child.pk, **kwargs
    )


def _decide(world, claim, decision, reason=""):
    return services.claim_decide(
        user=world.teacher, claim_id=claim.pk, decision=decision, reason=reason
    )


# --- the family's handbook -----------------------------------------------------------


def test_the_handbook_page_counts_in_plain_words_and_shows_pending_and_reasons(client, world):
    # given one approved, one pending, one rejected and one ask-for-more claim
    approved = _claim(world)
    _decide(world, approved, "approve")
    pending = _claim(world, world.chores, photo=jpeg_upload())
    meeting_no = _claim(world, world.meeting, note="参加了家长会")
    _decide(world, meeting_no, "reject", "家长会签到表上没有您的名字")
    meeting_more = _claim(world, world.meeting, note="家长会")
    _decide(world, meeting_more, "more", "请补充一张家长会现场的照片")
    client.force_login(world.parent)

    # when
    page = client.get(reverse("handbook:home")).content.decode()

    # then: done items against the handbook's own counts, points, and each list
    assert "在家陪伴" in page and "已完成 1/2 项" in page  # reading and chores at home
    assert "已完成 0/3 项" in page  # the three at-school items
    assert "已获积分 2 分" in page
    assert reverse("handbook:claim_detail", args=[pending.pk]) in page
    assert "家长会签到表上没有您的名字" in page
    assert "请补充一张家长会现场的照片" in page
    assert reverse("handbook:claim") in page


def test_a_user_without_a_family_is_sent_to_complete_it(client, django_user_model):
    from members.tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.get(reverse("handbook:home"))
    assert response.status_code == 302 and response["Location"] == reverse("members:family")


def test_the_claim_form_groups_items_by_kind_and_leaves_out_attendance_items(client, world):
    client.force_login(world.parent)
    page = client.get(reverse("handbook:claim")).content.decode()
    assert "亲子阅读（2 分 · 无需凭证）" in page
    assert "家务劳动（2 分 · 需上传照片）" in page
    assert "在家陪伴" in page and "在校陪伴" in page
    assert "家长课堂" not in page and "志愿服务" not in page  # proposed from attendance
    # any image, from the camera or the album (no capture attribute: it would allow the camera only)
    assert 'accept="image/*"' in page and "capture=" not in page
    assert f'value="{world.today.isoformat()}"' in page  # the date defaults to today
    assert world.child.nickname in page  # the family's own child, to choose


def test_a_claim_with_a_photo_is_pending_and_a_second_on_the_same_day_is_refused(client, world):
    client.force_login(world.parent)
    data = {"item": world.chores.pk, "occurred_on": world.today.isoformat(), "child": ""}

    # when the family claims an item with a photo
    response = client.post(reverse("handbook:claim"), {**data, "photo": jpeg_upload()})

    # then it is pending, with its photo
    assert response.status_code == 302
    claim = Claim.objects.get()
    assert claim.status == Claim.Status.PENDING and claim.photo and claim.child_id is None

    # when the same item is claimed again the same day
    response = client.post(
        reverse("handbook:claim"), {**data, "photo": jpeg_upload(color=(1, 2, 3))}
    )

    # then the limit's message is on the date field, and nothing was added
    assert response.status_code == 200
    form = response.context["form"]
    assert "每户每天最多申报 1 次" in " ".join(form.errors["occurred_on"])
    assert "每户每天最多申报 1 次" in response.content.decode()
    assert Claim.objects.count() == 1


def test_a_missing_photo_is_asked_for_on_the_photo_field(client, world):
    client.force_login(world.parent)
    response = client.post(
        reverse("handbook:claim"),
        {"item": world.chores.pk, "occurred_on": world.today.isoformat()},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["photo"] == ["请上传一张照片（这个项目需要照片）。"]


def test_another_familys_child_cannot_be_chosen(client, world):
    other_child = ChildFactory(school=world.school)
    client.force_login(world.parent)
    response = client.post(
        reverse("handbook:claim"),
        {
            "item": world.reading.pk,
            "occurred_on": world.today.isoformat(),
            "child": other_child.pk,
        },
    )
    assert response.status_code == 200 and "child" in response.context["form"].errors
    assert not Claim.objects.exists()


def test_the_family_withdraws_a_pending_claim(client, world):
    claim = _claim(world)
    client.force_login(world.parent)
    detail = client.get(reverse("handbook:claim_detail", args=[claim.pk]))
    assert "撤回这条申报" in detail.content.decode()
    response = client.post(reverse("handbook:claim_withdraw", args=[claim.pk]))
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Claim.Status.WITHDRAWN


def test_the_family_answers_an_ask_for_more(client, world):
    claim = _claim(world, world.meeting, note="家长会")
    _decide(world, claim, "more", "请写明是哪一天的家长会")
    client.force_login(world.parent)

    page = client.get(reverse("handbook:claim_detail", args=[claim.pk])).content.decode()
    assert "老师请您补充：请写明是哪一天的家长会" in page

    empty = client.post(reverse("handbook:claim_respond", args=[claim.pk]), {"note": ""})
    assert empty.status_code == 200 and "请补充说明或上传照片。" in empty.content.decode()

    response = client.post(
        reverse("handbook:claim_respond", args=[claim.pk]), {"note": "12月1日的家长会"}
    )
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING and "12月1日" in claim.note


def test_another_familys_claim_is_not_found_on_every_family_page(client, world):
    claim = _claim(world, world.chores, photo=jpeg_upload())
    client.force_login(GuardianFactory().user)
    for name in ("claim_detail", "claim_photo"):
        assert client.get(reverse(f"handbook:{name}", args=[claim.pk])).status_code == 404
    for name in ("claim_withdraw", "claim_respond"):
        assert client.post(reverse(f"handbook:{name}", args=[claim.pk])).status_code == 404
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING


def test_the_print_page_holds_the_familys_own_term(client, world):
    mine = _claim(world)
    _decide(world, mine, "approve")
    other = GuardianFactory()
    ChildFactory(family=other.family, nickname="别人家孩子", school=world.school)
    client.force_login(world.parent)
    page = client.get(reverse("handbook:print")).content.decode()
    assert "亲子阅读" in page and world.child.nickname in page
    assert "别人家孩子" not in page
    assert "data-print" in page and "print-button.js" in page


# --- the photo ----------------------------------------------------------------------


def test_the_photo_is_served_privately_to_the_family_and_its_verifier_only(client, world):
    claim = _claim(world, world.chores, photo=jpeg_upload())
    url = reverse("handbook:claim_photo", args=[claim.pk])
    assert claim.photo.url not in ("", url)

    for user in (world.parent, world.teacher):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, user
        assert response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"] == "private, no-store"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"

    for user in (world.other_teacher, GuardianFactory().user):
        client.force_login(user)
        assert client.get(url).status_code == 404

    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # and the media address itself is not served by the portal
    assert client.get(claim.photo.url).status_code == 404


# --- the verifiers ------------------------------------------------------------------


def test_the_queue_lists_oldest_first_with_flags_and_no_childs_name(client, world, settings):
    settings.HANDBOOK_BURST_CLAIMS = 2
    first = _claim(world)
    second = _claim(world, world.chores, photo=jpeg_upload())
    client.force_login(world.teacher)

    page = client.get(reverse("handbook:review")).content.decode()

    assert page.index(f"/handbook/review/{first.pk}/") < page.index(
        f"/handbook/review/{second.pk}/"
    )
    assert f"家庭 #{world.family.pk}" in page
    assert world.child.nickname not in page
    assert "短时间内大量申报" in page  # the second came within minutes of the first
    assert "有照片" in page


def test_a_reused_photo_is_flagged_on_the_queue(client, world):
    _claim(world, world.chores, photo=jpeg_upload())
    _claim(world, world.meeting, note="家长会", photo=jpeg_upload())
    client.force_login(world.teacher)
    page = client.get(reverse("handbook:review")).content.decode()
    assert "照片重复使用" in page


def test_the_queue_filters_and_ignores_unknown_values(client, world):
    _claim(world)
    _claim(world, world.meeting, note="家长会")
    client.force_login(world.teacher)
    url = reverse("handbook:review")
    assert "家长会" not in client.get(url, {"kind": "home"}).content.decode()
    page = client.get(url, {"kind": "school"}).content.decode()
    assert "家长会" in page and "亲子阅读" not in page
    assert client.get(url, {"status": "nonsense", "unit": "x"}).status_code == 200


def test_another_schools_teacher_sees_an_empty_queue(client, world):
    _claim(world)
    client.force_login(world.other_teacher)
    assert "亲子阅读" not in client.get(reverse("handbook:review")).content.decode()


def test_a_parent_cannot_open_the_queue(client, world):
    client.force_login(world.parent)
    assert client.get(reverse("handbook:review")).status_code == 403


@pytest.mark.parametrize("count", [1, 30])
def test_the_queue_page_takes_the_same_queries_for_1_or_30_claims(
    client, world, django_assert_max_num_queries, count
):
    # given claims of several families, with photos, notes and children
    for n in range(count):
        guardian = GuardianFactory()
        child = ChildFactory(family=guardian.family, school=world.school)
        ClaimFactory(
            family=guardian.family,
            child=child,
            item=world.reading if n % 2 else world.meeting,
            term=world.term,
            unit=world.school,
            flag_burst=n % 3 == 0,
            flag_reused_photo=n % 5 == 0,
        )
    client.force_login(world.teacher)
    # when / then: a page of 20 in the same few queries however many there are
    with django_assert_max_num_queries(14):
        response = client.get(reverse("handbook:review"))
    assert response.status_code == 200
    assert len(response.context["rows"]) == min(count, 20)


def test_the_teacher_approves_and_rejects_with_a_reason(client, world):
    approve = _claim(world)
    reject = _claim(world, world.meeting, note="家长会")
    client.force_login(world.teacher)

    page = client.get(reverse("handbook:review_detail", args=[approve.pk])).content.decode()
    assert world.child.nickname in page  # the verifier sees the child on the claim itself

    response = client.post(
        reverse("handbook:review_detail", args=[approve.pk]), {"decision": "approve"}
    )
    assert response.status_code == 302
    no_reason = client.post(
        reverse("handbook:review_detail", args=[reject.pk]), {"decision": "reject", "reason": ""}
    )
    assert no_reason.status_code == 200
    assert no_reason.context["form"].errors["reason"]
    client.post(
        reverse("handbook:review_detail", args=[reject.pk]),
        {"decision": "reject", "reason": "家长会不在这一天"},
    )

    approve.refresh_from_db()
    reject.refresh_from_db()
    assert approve.status == Claim.Status.APPROVED and approve.points == world.reading.points
    assert reject.status == Claim.Status.REJECTED and reject.decision_reason == "家长会不在这一天"


def test_a_decision_on_a_foreign_claim_is_404_and_changes_nothing(client, world):
    claim = _claim(world)
    client.force_login(world.other_teacher)
    url = reverse("handbook:review_detail", args=[claim.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"decision": "approve"}).status_code == 404
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING


def test_bulk_approval_takes_attendance_claims_only(client, world):
    from handbook.tests.test_proposals import book, session_offering

    attended = ClaimFactory(
        family=world.family,
        item=world.course,
        term=world.term,
        unit=world.school,
        source=Claim.Source.ATTENDANCE,
        # still backed by a confirmed, present booking (else it is not approved)
        booking=book(session_offering(unit=world.school), world.family),
    )
    by_hand = _claim(world)
    client.force_login(world.teacher)

    page = client.get(reverse("handbook:review")).content.decode()
    assert f'name="claim" value="{attended.pk}"' in page
    assert f'name="claim" value="{by_hand.pk}"' not in page

    response = client.post(
        reverse("handbook:review_bulk_approve"), {"claim": [attended.pk, by_hand.pk]}
    )
    assert response.status_code == 302
    attended.refresh_from_db()
    by_hand.refresh_from_db()
    assert attended.status == Claim.Status.APPROVED
    assert by_hand.status == Claim.Status.PENDING


# --- the coordinator's items ----------------------------------------------------------


def test_a_coordinator_customises_the_default_set_and_edits_an_item(client, world):
    # given an alliance still on the district's defaults
    default_items()  # the district's set, as its data migration makes it
    alliance = AllianceFactory()
    MembershipFactory(alliance=alliance)
    coordinator = alliance_coordinator(alliance)
    client.force_login(coordinator)
    url = reverse("handbook:items") + f"?alliance={alliance.pk}"

    page = client.get(url).content.decode()
    assert "全区默认" in page and "共同运动" in page

    # when it copies the defaults
    client.post(reverse("handbook:items_customise"), {"alliance": alliance.pk})
    item = HandbookItem.objects.get(alliance=alliance, name="共同运动")

    # and changes the item's points and limits
    edit = reverse("handbook:item_edit", args=[item.pk])
    form = client.get(edit).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and k != "event_kinds"}
    data.update(points=5, limit_per_week=3, is_active="on")
    response = client.post(edit, data)

    # then
    assert response.status_code == 302, response.context["form"].errors
    item.refresh_from_db()
    assert item.points == 5 and item.limit_per_week == 3


def test_a_bad_item_value_is_shown_on_its_field(client, world):
    coordinator = alliance_coordinator(world.alliance)
    client.force_login(coordinator)
    edit = reverse("handbook:item_edit", args=[world.reading.pk])
    response = client.post(
        edit,
        {
            "kind": "home",
            "name": "家务劳动",  # taken by another item of the alliance
            "points": 2,
            "evidence": "none",
            "is_active": "on",
            "position": 0,
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == ["本手册中已有同类别、同名称的项目。"]


def test_another_alliances_items_are_not_found(client, world):
    other = AllianceFactory()
    client.force_login(alliance_coordinator(other))
    assert client.get(reverse("handbook:item_edit", args=[world.reading.pk])).status_code == 404
    assert client.get(reverse("handbook:items"), {"alliance": world.alliance.pk}).status_code == 404
    response = client.post(reverse("handbook:items_customise"), {"alliance": world.alliance.pk})
    assert response.status_code == 404


def test_a_unit_coordinator_without_an_alliance_is_told_so(client, world):
    client.force_login(world.teacher)
    page = client.get(reverse("handbook:items")).content.decode()
    assert "您没有可以管理的联盟" in page


def test_claim_dates_before_the_term_are_refused_on_the_date_field(client, world):
    client.force_login(world.parent)
    before = world.term.starts_on - datetime.timedelta(days=1)
    response = client.post(
        reverse("handbook:claim"), {"item": world.reading.pk, "occurred_on": before.isoformat()}
    )
    assert response.status_code == 200
    assert "本学期" in " ".join(response.context["form"].errors["occurred_on"])
