"""An event's offering changes only through the bookings services, in one
transaction with the event: a refusal undoes the whole edit, a held lock answers
"busy", and moves and cancellations tell families once through the same path
as course sessions."""

import datetime
import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.urls import reverse

from bookings.errors import BookingBusy, BookingError
from bookings.models import Booking, Offering
from bookings.services import booking_create
from events.models import Delivery, Event
from events.services import event_cancel, event_update
from events.tests.factories import make_event
from members.models import AuditLog, RoleAssignment
from members.tests.factories import (
    GuardianFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _register(event, count):
    guardians = [GuardianFactory() for _ in range(count)]
    bookings = [
        booking_create(
            offering_id=event.offering_id,
            family=g.family,
            booked_by=g.user,
            guardian_ids=[g.pk],
        )
        for g in guardians
    ]
    return guardians, bookings


def _coordinator_of(unit):
    user = UserFactory()
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=unit)
    return user


def _edit_form(event, **overrides):
    start = event.offering.starts_at.astimezone(SHANGHAI)
    data = {
        "title": event.title,
        "kind": event.kind,
        "audience": event.audience,
        "organiser_unit": event.organiser_unit_id,
        "venue": event.venue,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "capacity": str(event.offering.capacity),
        "status": "published",
    }
    data.update(overrides)
    return data


def _snapshot(event):
    event.refresh_from_db()
    offering = Offering.objects.get(pk=event.offering_id)
    return (
        event.title,
        event.venue,
        offering.title,
        offering.starts_at,
        offering.ends_at,
        offering.capacity,
        offering.booking_closes_at,
    )


@pytest.mark.django_db
def test_a_refused_capacity_leaves_the_whole_edit_undone(django_capture_on_commit_callbacks):
    # given an event with both of its two places taken
    event = make_event(title="亲子阅读分享会", capacity=2)
    _register(event, 2)
    before = _snapshot(event)
    new_start = event.offering.starts_at + datetime.timedelta(days=1)

    # when one edit renames it, moves it, changes its window and asks for one place
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(BookingError) as error:
            event_update(
                event_id=event.pk,
                updated_by=None,
                title="改名后的分享会",
                venue="新的报告厅",
                starts_at=new_start,
                ends_at=new_start + datetime.timedelta(hours=2),
                booking_closes_at=new_start - datetime.timedelta(hours=3),
                capacity=1,
            )

    # then it is refused with the bookings message, and nothing of it was applied
    assert error.value.code == "capacity_below_taken"
    assert _snapshot(event) == before
    assert not Delivery.objects.filter(purpose=Delivery.Purpose.TIME_CHANGED).exists()
    assert not AuditLog.objects.filter(
        action__in=[
            "events.event.update",
            "bookings.offering.update",
            "bookings.offering.move",
            "bookings.offering.capacity",
        ]
    ).exists()
    assert callbacks == []  # nothing was queued for after a commit that never came


@pytest.mark.django_db
def test_the_edit_form_shows_a_refused_capacity_and_changes_nothing(client):
    # given an event of the coordinator's unit with both places taken
    event = make_event(title="家长沙龙", capacity=2)
    _register(event, 2)
    client.force_login(_coordinator_of(event.organiser_unit))
    before = _snapshot(event)

    # when the coordinator renames it and lowers the places to one
    response = client.post(
        reverse("events:manage_edit", args=[event.pk]),
        _edit_form(event, title="家长沙龙（改）", capacity="1"),
    )

    # then the form comes back with the reason, and the event is as it was
    assert response.status_code == 200
    assert "新名额少于已确认人数" in response.content.decode()
    assert _snapshot(event) == before


@pytest.mark.django_db
def test_an_edit_changes_the_offering_through_the_services_and_audits_each_step(
    django_capture_on_commit_callbacks,
):
    # given an event with one family registered and one waiting
    event = make_event(capacity=1)
    _register(event, 2)
    new_start = event.offering.starts_at + datetime.timedelta(days=2)
    closes = new_start - datetime.timedelta(hours=5)

    # when it is renamed, moved, given a booking deadline and a second place
    with django_capture_on_commit_callbacks(execute=True):
        event_update(
            event_id=event.pk,
            updated_by=None,
            title="新名字",
            starts_at=new_start,
            ends_at=new_start + datetime.timedelta(hours=2),
            booking_closes_at=closes,
            capacity=2,
        )

    # then the offering follows, the waiting family is promoted, each step is audited
    offering = Offering.objects.get(pk=event.offering_id)
    assert (offering.title, offering.starts_at, offering.booking_closes_at) == (
        "新名字",
        new_start,
        closes,
    )
    assert (offering.capacity, offering.places_taken, offering.waiting_families) == (2, 2, 0)
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {
        "events.event.update",
        "bookings.offering.update",
        "bookings.offering.move",
        "bookings.offering.capacity",
    } <= actions
    # and both families (the one promoted too) were told of the new time once per channel
    notices = Delivery.objects.filter(purpose=Delivery.Purpose.TIME_CHANGED)
    assert notices.values("booking").distinct().count() == 2
    assert notices.count() == notices.values("booking", "user", "channel").distinct().count()


@pytest.mark.django_db
def test_cancelling_an_event_cancels_its_offering_once_and_tells_each_family_once(
    client, django_capture_on_commit_callbacks
):
    # given an event with one confirmed and one waiting family
    event = make_event(capacity=1)
    guardians, bookings = _register(event, 2)
    assert bookings[1].status == Booking.Status.WAITING
    client.force_login(_coordinator_of(event.organiser_unit))
    url = reverse("events:manage_cancel", args=[event.pk])

    # when the coordinator cancels it, and then (a second tab) cancels it again
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"reason": "场地维修"})
    second = client.post(url, follow=True)

    # then the event and its offering are cancelled, through the bookings service
    assert first.status_code == 302
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED
    assert Offering.objects.get(pk=event.offering_id).status == Offering.Status.CANCELLED
    assert AuditLog.objects.filter(action="bookings.offering.cancel").count() == 1
    assert AuditLog.objects.filter(action="events.event.cancel").count() == 1
    # and each family got one cancellation notice per channel, not two
    notices = Delivery.objects.filter(purpose=Delivery.Purpose.CANCELLED)
    assert {d.booking_id for d in notices} == {b.pk for b in bookings}
    assert notices.count() == notices.values("booking", "user", "channel").distinct().count()
    assert "该活动已取消" in second.content.decode()


@pytest.mark.django_db
def test_an_event_whose_offering_was_already_cancelled_is_cancelled_without_a_second_notice():
    # given an event whose offering was cancelled by itself (families told then)
    from bookings.services import offering_cancel

    event = make_event()
    _register(event, 1)
    offering_cancel(offering_id=event.offering_id, cancelled_by=None)
    told = Delivery.objects.filter(purpose=Delivery.Purpose.CANCELLED).count()
    assert told >= 1

    # when the event is cancelled too
    event_cancel(event_id=event.pk, cancelled_by=None)

    # then it is cancelled and nobody is told twice
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED
    assert Delivery.objects.filter(purpose=Delivery.Purpose.CANCELLED).count() == told


def _hold_offering_lock(offering_id):
    """Hold the offering's row lock in another connection until released."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Offering.objects.select_for_update().get(pk=offering_id)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=30)
    return holder, release


@pytest.mark.django_db(transaction=True)
def test_a_held_lock_on_the_offering_makes_the_edit_and_the_cancel_answer_busy(client, settings):
    # given an event, its coordinator, and another transaction holding the offering's lock
    settings.BOOKING_LOCK_TIMEOUT = "200ms"
    assert connection.vendor == "postgresql"
    unit = MemberUnitFactory()
    event = make_event(organiser_unit=unit, title="原来的标题")
    client.force_login(_coordinator_of(unit))
    before = _snapshot(event)
    holder, release = _hold_offering_lock(event.offering_id)
    try:
        # when the service is called, and when the coordinator saves and cancels on the pages
        with pytest.raises(BookingBusy):
            event_update(event_id=event.pk, updated_by=None, title="新标题")
        edit = client.post(
            reverse("events:manage_edit", args=[event.pk]), _edit_form(event, title="新标题")
        )
        cancel = client.post(reverse("events:manage_cancel", args=[event.pk]), follow=True)
    finally:
        release.set()
        holder.join()

    # then each is told "busy, try again" (no 500) and nothing changed
    assert edit.status_code == 200 and "系统繁忙，请稍后再试" in edit.content.decode()
    assert cancel.status_code == 200 and "系统繁忙，请稍后再试" in cancel.content.decode()
    assert _snapshot(event) == before
    assert Event.objects.get(pk=event.pk).status == Event.Status.PUBLISHED

    # and once the lock is gone the same edit goes through
    event_update(event_id=event.pk, updated_by=None, title="新标题")
    assert Offering.objects.get(pk=event.offering_id).title == "新标题"


@pytest.mark.django_db
def test_an_event_moved_through_the_form_tells_families_once(client):
    # given a registered family and the coordinator
    event = make_event()
    guardians, bookings = _register(event, 1)
    client.force_login(_coordinator_of(event.organiser_unit))
    start = (event.offering.starts_at + datetime.timedelta(days=1)).astimezone(SHANGHAI)
    data = _edit_form(
        event,
        starts_at=start.strftime("%Y-%m-%dT%H:%M"),
        ends_at=(start + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    )

    # when the same move is saved twice (a double tap)
    for _ in range(2):
        assert client.post(reverse("events:manage_edit", args=[event.pk]), data).status_code == 302

    # then one "time changed" notice per channel and one move in the audit log
    notices = Delivery.objects.filter(purpose=Delivery.Purpose.TIME_CHANGED)
    assert {d.booking_id for d in notices} == {bookings[0].pk}
    assert notices.count() == notices.values("user", "channel").distinct().count()
    assert AuditLog.objects.filter(action="bookings.offering.move").count() == 1
    assert Offering.objects.get(pk=event.offering_id).starts_at == start.replace(
        second=0, microsecond=0
    )
