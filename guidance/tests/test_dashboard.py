"""The station's dashboard: figures per area × month and mentor × month, the
waiting time to a slot (median and average), follow-ups, held / missed /
cancelled — from SQL aggregates, in the same number of queries for 5 or 50
consultations, for the station's managers only, naming no family, child, need
or note."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from guidance import selectors
from guidance.models import Consultation, FollowUp
from guidance.tests.factories import ConsultationFactory, FollowUpFactory, SlotFactory
from members.tests.factories import FamilyFactory

pytestmark = pytest.mark.django_db


def _consultations(w, n: int, *, mentor=None, status=Consultation.Status.HELD, wait_days=2):
    mentor = mentor or w.psych
    made = []
    for _i in range(n):
        starts = timezone.now() + dt.timedelta(days=1)
        slot = SlotFactory(
            mentor=mentor,
            offering__starts_at=starts,
            offering__ends_at=starts + dt.timedelta(minutes=50),
        )
        consultation = ConsultationFactory(
            slot=slot, family=FamilyFactory(), area=mentor.areas[0], status=status
        )
        Consultation.objects.filter(pk=consultation.pk).update(
            created_at=starts - dt.timedelta(days=wait_days)
        )
        made.append(consultation)
    return made


def test_the_figures(station_world):
    w = station_world
    held = _consultations(w, 3)
    _consultations(w, 1, status=Consultation.Status.MISSED, wait_days=4)
    _consultations(w, 1, mentor=w.family_mentor, wait_days=6)
    _consultations(w, 2, status=Consultation.Status.CANCELLED)
    _consultations(w, 2, mentor=w.other_mentor)  # another station: not counted
    FollowUpFactory(consultation=held[0])
    FollowUpFactory(consultation=held[1], status=FollowUp.Status.DONE)

    figures = selectors.station_dashboard(w.station)

    month = timezone.localdate(timezone.now() + dt.timedelta(days=1)).replace(day=1)
    assert figures["months"][-1] == month
    areas = {row["label"]: row["total"] for row in figures["by_area"]}
    assert areas == {"心理健康辅导": 4, "家庭教育指导": 1}
    mentors = {row["label"]: row["total"] for row in figures["by_mentor"]}
    assert mentors == {"林老师": 4, "郑老师": 1}
    assert figures["status_totals"]["held"] == 4
    assert figures["status_totals"]["missed"] == 1
    assert figures["status_totals"]["cancelled"] == 2
    # waits of 2, 2, 2, 4 and 6 days (cancelled ones left out)
    assert figures["waiting"]["median_days"] == 2.0
    assert figures["waiting"]["average_days"] == 3.2
    assert figures["followups"]["scheduled"] == 2 and figures["followups"]["done"] == 1


def test_constant_queries_and_anonymised(station_world, client, django_assert_max_num_queries):
    w = station_world
    client.force_login(w.coordinator)
    url = reverse("guidance:dashboard", args=[w.station.pk])
    _consultations(w, 5)
    with django_assert_max_num_queries(30) as few:
        assert client.get(url).status_code == 200
    _consultations(w, 45, mentor=w.family_mentor)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    text = page.content.decode()
    assert "50" in text
    # no family, child or need
    families = Booking.objects.filter(guidance_consultation__station=w.station)
    for booking in families.select_related("family")[:5]:
        assert str(booking.family) not in text
    for secret in ("孩子最近不愿意上学", w.mum_child.nickname, w.mum.user.display_name):
        assert secret not in text
    # the SQL selects no family, child, need or note column
    for query in few.captured_queries:
        sql = query["sql"]
        assert "need_sealed" not in sql and "body" not in sql and "child_id" not in sql


def test_only_the_station_managers_see_it(station_world, client):
    w = station_world
    url = reverse("guidance:dashboard", args=[w.station.pk])
    for allowed in (w.coordinator, w.chief.user, w.district_admin):
        client.force_login(allowed)
        assert client.get(url).status_code == 200
    for refused in (w.psych.user, w.mum.user, w.other_coordinator, w.other_mentor.user):
        client.force_login(refused)
        assert client.get(url).status_code == 404
