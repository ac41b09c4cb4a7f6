"""The per-family limits at a station (at most N open, M per term), held by the
database: GuidanceQuota rows raised by one conditional upsert in the booking's
transaction; the chief mentor's lift; two bookings racing for the last one."""

from __future__ import annotations

import pytest
from django.db import connection

from guidance import selectors, services
from guidance.errors import GuidanceError
from guidance.models import Consultation, GuidanceQuota, LimitLift
from members.models import AuditLog
from tests.races import run_together

from .test_booking import book, slot_for
from .world import build_station_world


@pytest.mark.django_db
def test_the_open_limit_refuses_the_third_booking_in_chinese(station_world):
    # given a station that allows 2 open consultations per family
    w = station_world
    book(w.mum, slot_for(w.psych, days=2))
    book(w.mum, slot_for(w.psych, days=3))
    # when she books a third
    with pytest.raises(GuidanceError) as refused:
        book(w.mum, slot_for(w.psych, days=4))
    # then it is refused with the number, and nothing was written
    assert refused.value.code == "open_limit"
    assert "同时最多有 2 个未完成的咨询预约" in refused.value.message
    assert Consultation.objects.filter(family=w.mum.family).count() == 2
    assert GuidanceQuota.objects.get(key=f"open:{w.station.pk}:{w.mum.family.pk}").used == 2
    # and another family is not affected
    assert book(w.dad, slot_for(w.psych, days=5)).status == Consultation.Status.BOOKED


@pytest.mark.django_db
def test_the_term_limit_counts_cancelled_bookings_too(station_world):
    w = station_world
    for days in (2, 3, 4, 5):
        consultation = book(w.mum, slot_for(w.psych, days=days))
        services.consultation_cancel(user=w.mum.user, consultation_id=consultation.pk)
    with pytest.raises(GuidanceError) as refused:
        book(w.mum, slot_for(w.psych, days=6))
    assert refused.value.code == "term_limit"
    assert "每学期在本站最多预约 4 次" in refused.value.message
    limits = selectors.family_limits(w.station, w.mum.family, w.term)
    assert limits == {"open_used": 0, "open_max": 2, "term_used": 4, "term_max": 4}


@pytest.mark.django_db
def test_the_limits_are_per_station(station_world):
    w = station_world
    book(w.mum, slot_for(w.psych, days=2))
    book(w.mum, slot_for(w.psych, days=3))
    other = services.consultation_book(
        user=w.mum.user,
        slot_id=slot_for(w.other_mentor, days=2).pk,
        area="mental_health",
        for_whom="parent",
        need="想聊聊亲子沟通",
    )
    assert other.station == w.other_station


@pytest.mark.django_db
def test_the_chief_mentor_lifts_the_limits_for_one_family(station_world):
    w = station_world
    book(w.mum, slot_for(w.psych, days=2))
    book(w.mum, slot_for(w.psych, days=3))
    # only the chief of this station may lift
    for user in (w.psych.user, w.coordinator, w.other_mentor.user, w.mum.user):
        with pytest.raises(GuidanceError) as refused:
            services.limit_lift(
                user=user, station_id=w.station.pk, family_id=w.mum.family.pk, extra_open=1
            )
        assert refused.value.code == "not_allowed"
    lift = services.limit_lift(
        user=w.chief.user,
        station_id=w.station.pk,
        family_id=w.mum.family.pk,
        extra_open=1,
        extra_term=2,
        reason="孩子情况需要连续跟进",
    )
    assert (lift.term, lift.granted_by) == (w.term, w.chief.user)
    assert AuditLog.objects.filter(action="guidance.limit.lift").exists()
    assert GuidanceQuota.objects.get(key=f"open:{w.station.pk}:{w.mum.family.pk}").max_used == 3
    # then the third booking goes through, the fourth open one does not
    assert book(w.mum, slot_for(w.psych, days=4)).status == Consultation.Status.BOOKED
    with pytest.raises(GuidanceError) as refused:
        book(w.mum, slot_for(w.psych, days=5))
    assert refused.value.code == "open_limit" and "3" in refused.value.message
    assert LimitLift.objects.count() == 1


@pytest.mark.django_db
def test_a_lift_is_checked(station_world):
    w = station_world
    book(w.mum, slot_for(w.psych, days=2))
    with pytest.raises(GuidanceError) as refused:
        services.limit_lift(user=w.chief.user, station_id=w.station.pk, family_id=w.mum.family.pk)
    assert refused.value.code == "lift_empty"
    with pytest.raises(GuidanceError) as refused:
        services.limit_lift(
            user=w.chief.user, station_id=w.station.pk, family_id=w.dad.family.pk, extra_open=1
        )
    assert refused.value.code == "family_missing"


@pytest.mark.django_db
def test_a_station_setting_applies_to_the_next_booking(station_world):
    w = station_world
    book(w.mum, slot_for(w.psych, days=2))
    services.station_update(user=w.coordinator, station_id=w.station.pk, open_bookings_max=1)
    with pytest.raises(GuidanceError) as refused:
        book(w.mum, slot_for(w.psych, days=3))
    assert refused.value.code == "open_limit"
    with pytest.raises(GuidanceError) as refused:
        services.station_update(user=w.coordinator, station_id=w.station.pk, term_bookings_max=0)
    assert refused.value.field == "term_bookings_max"


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_bookings_race_for_the_last_allowed_one():
    # given a family with one open booking of its two
    assert connection.vendor == "postgresql"
    w = build_station_world()
    book(w.mum, slot_for(w.psych, days=2))
    slots = [slot_for(w.psych, days=3), slot_for(w.family_mentor, days=3, hour=16)]
    areas = ["mental_health", "family_education"]

    # when she (on the web) and her husband's phone (the API) book two slots at once
    outcome = run_together(
        [(lambda s=s, a=a: book(w.mum, s, area=a)) for s, a in zip(slots, areas, strict=True)],
        meet_before_write=["guidance_guidancequota"],
    )

    # then exactly one is booked and the other refused by the database-held limit
    assert outcome.met == 2
    assert [e.code for e in outcome.errors] == ["open_limit"]
    assert Consultation.objects.filter(family=w.mum.family).count() == 2
    quota = GuidanceQuota.objects.get(key=f"open:{w.station.pk}:{w.mum.family.pk}")
    assert (quota.used, quota.max_used) == (2, 2)


@pytest.mark.django_db
def test_the_chief_s_open_lift_holds_for_a_slot_in_the_next_term(station_world):
    # given the chief's lift of the open limit this term, and a next term
    import datetime as dt

    from parent_school.tests.factories import TermFactory

    w = station_world
    next_term = TermFactory(
        code="g-next",
        starts_on=w.term.ends_on + dt.timedelta(days=1),
        ends_on=w.term.ends_on + dt.timedelta(days=150),
    )
    book(w.mum, slot_for(w.psych, days=2))
    services.limit_lift(
        user=w.chief.user, station_id=w.station.pk, family_id=w.mum.family.pk, extra_open=1
    )
    # when she books a slot of the next term, and then one more this term
    days_ahead = (next_term.starts_on - w.term.ends_on).days + (
        w.term.ends_on - dt.date.today()
    ).days
    book(w.mum, slot_for(w.psych, days=days_ahead + 3))
    # then the open allowance is still the lifted 3 (not reset to the station's 2)
    key = f"open:{w.station.pk}:{w.mum.family.pk}"
    assert GuidanceQuota.objects.get(key=key).max_used == 3
    assert book(w.mum, slot_for(w.psych, days=4)).status == Consultation.Status.BOOKED
    with pytest.raises(GuidanceError) as refused:
        book(w.mum, slot_for(w.psych, days=5))
    assert refused.value.code == "open_limit"
