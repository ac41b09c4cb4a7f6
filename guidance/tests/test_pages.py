"""The station's pages: finding a mentor, booking with field errors in Chinese,
the family's and the mentor's views, 404 for foreign ids, constant queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guidance import services
from guidance.models import Consultation, GuidanceQuota

from .factories import MentorFactory
from .test_booking import NEED, book, slot_for

pytestmark = pytest.mark.django_db


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def test_home_station_area_and_mentor_pages(client, station_world):
    w = station_world
    slot = slot_for(w.psych)
    w.psych.is_invented = True
    w.psych.save(update_fields=["is_invented"])
    home = client.get(reverse("guidance:home")).content.decode()
    assert w.station.name in home and "心理健康辅导" in home
    station = client.get(reverse("guidance:station", args=[w.station.pk])).content.decode()
    assert "家国情怀培育" in station and "家庭教育指导" in station
    area = client.get(
        reverse("guidance:area", args=[w.station.pk, "mental_health"])
    ).content.decode()
    assert "林老师" in area and "首席王老师" in area and "郑老师" not in area
    assert reverse("guidance:book", args=[slot.pk]) in area
    assert "示例人物" in area
    # the audience filter
    filtered = client.get(
        reverse("guidance:area", args=[w.station.pk, "mental_health"]), {"audience": "teacher"}
    ).content.decode()
    assert "林老师" not in filtered
    profile = client.get(reverse("guidance:mentor", args=[w.psych.pk])).content.decode()
    assert "心理健康教育教师" in profile and "示例人物" in profile
    for phone in (w.psych.user.phone, w.mum.user.phone):
        if phone:
            assert phone not in profile


def test_unknown_ids_are_404(client, station_world):
    w = station_world
    assert client.get(reverse("guidance:station", args=[999999])).status_code == 404
    assert client.get(reverse("guidance:area", args=[w.station.pk, "nope"])).status_code == 404
    assert client.get(reverse("guidance:mentor", args=[999999])).status_code == 404


def test_booking_on_the_web_shows_field_errors_in_chinese(client, station_world):
    w = station_world
    slot = slot_for(w.psych)
    client.force_login(w.mum.user)
    url = reverse("guidance:book", args=[slot.pk])
    page = client.get(url).content.decode()
    assert "小雨点" in page and "小石头" not in page  # her children only
    response = client.post(
        url, {"area": "mental_health", "for_whom": "child", "child_id": "", "need": NEED}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "为孩子预约时，请选择是哪个孩子" in body
    assert not Consultation.objects.exists()
    response = client.post(
        url,
        {"area": "mental_health", "for_whom": "child", "child_id": w.mum_child.pk, "need": ""},
    )
    assert "请简单写几句想咨询的问题" in response.content.decode()
    response = client.post(
        url,
        {
            "area": "mental_health",
            "for_whom": "child",
            "child_id": w.mum_child.pk,
            "need": NEED,
        },
    )
    consultation = Consultation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("guidance:consultation", args=[consultation.pk])
    page = client.get(response["Location"]).content.decode()
    assert "心理健康辅导" in page and "已预约" in page
    assert NEED not in page  # the need is the mentor's


def test_the_limit_refusal_is_shown_in_chinese(client, station_world):
    w = station_world
    book(w.mum, slot_for(w.psych, days=2))
    book(w.mum, slot_for(w.psych, days=3))
    slot = slot_for(w.psych, days=4)
    client.force_login(w.mum.user)
    response = client.post(
        reverse("guidance:book", args=[slot.pk]),
        {"area": "mental_health", "for_whom": "parent", "need": "再约一次"},
    )
    assert response.status_code == 400
    assert "同时最多有 2 个未完成的咨询预约" in response.content.decode()
    assert GuidanceQuota.objects.get(key=f"open:{w.station.pk}:{w.mum.family.pk}").used == 2


def test_foreign_consultations_are_404_on_every_page(client, station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    client.force_login(w.dad.user)
    for name in ("consultation", "cancel"):
        assert client.get(reverse(f"guidance:{name}", args=[consultation.pk])).status_code == 404
    for name in ("cancel", "mark", "refer", "limit_lift"):
        url = reverse(f"guidance:{name}", args=[consultation.pk])
        assert client.post(url, {"held": "1", "refer-to_area": "career"}).status_code == 404
    # another station's mentor and the unit's coordinator see no case either
    for user in (w.other_mentor.user, w.coordinator, w.family_mentor.user):
        client.force_login(user)
        url = reverse("guidance:consultation", args=[consultation.pk])
        assert client.get(url).status_code == 404
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.BOOKED


def test_the_family_cancels_from_its_page(client, station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    client.force_login(w.mum.user)
    url = reverse("guidance:cancel", args=[consultation.pk])
    assert "确定取消这次咨询预约吗" in client.get(url).content.decode()
    client.post(url)
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.CANCELLED


def test_the_mentor_refers_from_the_consultation_page(client, station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    client.force_login(w.psych.user)
    url = reverse("guidance:refer", args=[consultation.pk])
    response = client.post(
        url, {"refer-to_area": "career", "refer-to_mentor_id": w.family_mentor.pk}
    )
    assert response.status_code == 400
    assert "这位导师不负责这个领域" in response.content.decode()
    response = client.post(url, {"refer-to_area": "family_education", "refer-message": "一起来"})
    assert response.status_code == 302
    # the family sees it with a link to the area's slots
    client.force_login(w.mum.user)
    page = client.get(reverse("guidance:consultation", args=[consultation.pk])).content.decode()
    assert "推荐预约：家庭教育指导" in page
    referral = consultation.referrals.get()
    assert f"areas/family_education/?referral={referral.pk}" in page


def test_the_chief_lifts_the_limit_on_the_page_and_others_cannot(client, station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    url = reverse("guidance:limit_lift", args=[consultation.pk])
    client.force_login(w.psych.user)
    assert client.post(url, {"lift-extra_open": "1"}).status_code == 404
    client.force_login(w.chief.user)
    response = client.post(url, {"lift-extra_open": "0", "lift-extra_term": "0"})
    assert response.status_code == 400 and "请至少增加一项次数" in response.content.decode()
    response = client.post(url, {"lift-extra_open": "1", "lift-reason": "连续跟进"})
    assert response.status_code == 302


def test_the_desk_publishes_slots_and_patterns(client, station_world):
    w = station_world
    client.force_login(w.psych.user)
    assert client.get(reverse("guidance:desk")).status_code == 200
    response = client.post(
        reverse("guidance:slot_new"),
        {
            "starts_at": "",
            "minutes": "50",
            "kind": "one_to_one",
            "capacity": "1",
            "mode": "in_person",
        },
    )
    assert response.status_code == 400 and "请填写开始时间" in response.content.decode()
    response = client.post(
        reverse("guidance:pattern_new"),
        {
            "weekday": "2",
            "starts_time": "15:00",
            "minutes": "50",
            "kind": "one_to_one",
            "capacity": "1",
            "mode": "in_person",
            "venue": "咨询室",
            "first_date": "2026-01-01",
        },
    )
    assert response.status_code == 302
    assert w.psych.slots.count() >= 4
    slot = w.psych.slots.first()
    # another mentor cannot cancel it
    client.force_login(w.family_mentor.user)
    assert client.post(reverse("guidance:slot_cancel", args=[slot.pk])).status_code == 404
    # a parent has no desk
    client.force_login(w.mum.user)
    assert client.get(reverse("guidance:desk")).status_code == 403


def test_my_learning_shows_the_consultation(client, station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    client.force_login(w.mum.user)
    page = client.get(reverse("portal:my_learning")).content.decode()
    assert "指导咨询 · 心理健康辅导" in page
    assert reverse("guidance:consultation", args=[consultation.pk]) in page
    mine = client.get(reverse("portal:mine")).content.decode()
    assert reverse("guidance:home") in mine and "成长指导" in mine


def test_the_lists_are_constant(client, station_world, django_assert_max_num_queries):
    w = station_world
    book(w.mum, slot_for(w.psych, days=2))
    client.force_login(w.mum.user)
    area_url = reverse("guidance:area", args=[w.station.pk, "mental_health"])
    mine_url = reverse("guidance:mine")
    small_area = _count(client, area_url)
    small_mine = _count(client, mine_url)
    client.force_login(w.psych.user)
    small_desk = _count(client, reverse("guidance:desk"))
    # when there are more mentors, slots and consultations
    for i in range(6):
        mentor = MentorFactory(station=w.station, name=f"新导师{i}", areas=["mental_health"])
        slot_for(mentor, user=w.coordinator, days=2 + i)
    for days in (5, 6, 7):
        slot_for(w.psych, days=days)
    services.limit_lift(
        user=w.chief.user,
        station_id=w.station.pk,
        family_id=w.mum.family.pk,
        extra_open=5,
        extra_term=5,
    )
    for days in (8, 9, 10):
        book(w.mum, slot_for(w.psych, days=days))
    with django_assert_max_num_queries(small_area):
        client.get(area_url)
    with django_assert_max_num_queries(small_desk):
        client.get(reverse("guidance:desk"))
    client.force_login(w.mum.user)
    with django_assert_max_num_queries(small_mine):
        client.get(mine_url)


def test_the_mentor_reads_the_need_and_the_family_does_not(client, station_world):
    w = station_world
    consultation = book(w.mum, slot_for(w.psych))
    url = reverse("guidance:consultation", args=[consultation.pk])
    client.force_login(w.psych.user)
    page = client.get(url).content.decode()
    assert NEED in page and "登记咨询情况" in page
    client.force_login(w.mum.user)
    page = client.get(url).content.decode()
    assert NEED not in page and "登记咨询情况" not in page


def test_a_receipt_link_lands_on_the_familys_own_consultation(client, station_world):
    w = station_world
    slot = slot_for(w.psych, capacity=3, kind="small_group")
    mine = book(w.mum, slot)
    book(w.dad, slot)
    url = reverse("guidance:booked", args=[slot.offering_id])
    client.force_login(w.mum.user)
    assert client.get(url)["Location"] == reverse("guidance:consultation", args=[mine.pk])
    client.force_login(w.teacher)
    assert client.get(url)["Location"] == reverse("guidance:mine")
