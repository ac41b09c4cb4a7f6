"""The guidance admin: scoped to the stations a person manages, station settings
and mentors through the services, everything else read-only, and no need, no
note text, no family phone and no child anywhere in it — for the station's
coordinator, its chief mentor and a district administrator alike."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from guidance import services
from guidance.models import (
    Consultation,
    FollowUp,
    GuidanceQuota,
    Mentor,
    Note,
    Referral,
    Slot,
    SlotPattern,
    Station,
)
from members.models import AuditLog

pytestmark = pytest.mark.django_db

NEED = "孩子最近总说肚子疼不想去学校"
SUMMARY = "约定每天睡前聊十分钟学校里的事"
PRIVATE = "家长提到夫妻近期分居中"
RESTRICTED = "孩子提到曾被高年级同学威胁"
SECRETS = [NEED, SUMMARY, PRIVATE, RESTRICTED]

READ_ONLY = [SlotPattern, Slot, Consultation, Referral, Note, FollowUp, GuidanceQuota]


def _url(model, name, *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=args)


@pytest.fixture
def case(station_world):
    """A consultation of 陈妈妈's child with 林老师, all three notes, a referral, a
    follow-up and a weekly pattern: every guidance row the admin lists."""
    w = station_world
    services.pattern_create(
        user=w.psych.user,
        mentor_id=w.psych.pk,
        weekday=timezone.localdate().weekday(),
        starts_time=dt.time(16, 0),
        minutes=50,
        kind="one_to_one",
        capacity=1,
        mode="in_person",
        venue="咨询室",
        first_date=timezone.localdate() + dt.timedelta(days=1),
    )
    slot = services.slot_create(
        user=w.psych.user,
        mentor_id=w.psych.pk,
        starts_at=timezone.now() + dt.timedelta(days=2),
        minutes=50,
        kind="one_to_one",
        capacity=1,
        mode="in_person",
        venue="咨询室",
    )
    consultation = services.consultation_book(
        user=w.mum.user,
        slot_id=slot.pk,
        area="mental_health",
        for_whom="child",
        need=NEED,
        child_id=w.mum_child.pk,
    )
    for level, body in (("summary", SUMMARY), ("private", PRIVATE), ("restricted", RESTRICTED)):
        services.note_write(
            user=w.psych.user, consultation_id=consultation.pk, level=level, body=body
        )
    services.referral_create(
        user=w.psych.user,
        consultation_id=consultation.pk,
        to_area="family_education",
        to_mentor_id=w.family_mentor.pk,
        message="建议再和郑老师聊聊家庭作息",
    )
    services.followup_schedule(
        user=w.psych.user,
        consultation_id=consultation.pk,
        due_at=timezone.now() + dt.timedelta(days=9),
        message="下周再聊聊",
    )
    # the chief mentor was made staff by hand, so she reaches the admin
    w.chief.user.is_staff = True
    w.chief.user.save(update_fields=["is_staff"])
    return consultation


def _viewers(w):
    return {"coordinator": w.coordinator, "chief": w.chief.user, "district": w.district_admin}


@pytest.mark.parametrize("who", ["coordinator", "chief", "district"])
def test_no_need_note_phone_or_child_anywhere_in_the_guidance_admin(
    client, station_world, case, who
):
    w = station_world
    client.force_login(_viewers(w)[who])
    pages = []
    for model in list(admin.site._registry):
        if model._meta.app_label != "guidance":
            continue
        changelist = client.get(_url(model, "changelist"))
        assert changelist.status_code == 200, model
        pages.append((model, "list", changelist))
        row = model.objects.order_by("pk").first()
        if row is not None:
            change = client.get(_url(model, "change", row.pk))
            assert change.status_code == 200, model
            pages.append((model, "change", change))
    assert {m for m, kind, _ in pages if kind == "list"} >= {Note, Consultation}
    # the note rows are there (metadata), their texts are not
    notes = client.get(_url(Note, "changelist")).content.decode()
    assert "限阅记录" in notes and "导师私密记录" in notes
    for model, kind, page in pages:
        html = page.content.decode()
        for text in [*SECRETS, *w.secrets()]:
            assert text not in html, (who, model.__name__, kind, text)
        for sealed in Note.objects.exclude(body_sealed="").values_list("body_sealed", flat=True):
            assert sealed[:40] not in html
        assert case.need_sealed[:40] not in html


@pytest.mark.parametrize("who", ["coordinator", "district"])
def test_who_booked_a_consultation_is_in_no_bookings_admin_page(client, station_world, case, who):
    from bookings.models import Booking, Offering

    w = station_world
    client.force_login(_viewers(w)[who])
    bookings = client.get(_url(Booking, "changelist"))
    assert bookings.status_code == 200
    assert case.booking not in list(bookings.context["cl"].result_list)
    assert client.get(_url(Booking, "change", case.booking.pk)).status_code in (302, 404)
    offering = client.get(_url(Offering, "change", case.slot.offering_id))
    html = offering.content.decode()
    assert offering.status_code == 200
    assert f"/admin/bookings/booking/{case.booking.pk}/" not in html
    assert f"家庭 #{w.mum.family.pk}" not in html and str(w.mum.family) not in html
    for text in (w.mum_child.nickname, w.mum.user.display_name):
        assert text not in html


def test_the_coordinator_sees_only_her_station_and_another_station_is_404(
    client, station_world, case
):
    w = station_world
    client.force_login(w.coordinator)
    stations = client.get(_url(Station, "changelist")).content.decode()
    assert w.station.name in stations and w.other_station.name not in stations
    mentors = client.get(_url(Mentor, "changelist")).content.decode()
    assert w.psych.name in mentors and w.other_mentor.name not in mentors
    assert client.get(_url(Station, "change", w.other_station.pk)).status_code == 404
    assert client.get(_url(Mentor, "change", w.other_mentor.pk)).status_code == 404
    # another station's coordinator does not see this station's consultation
    client.force_login(w.other_coordinator)
    assert client.get(_url(Consultation, "change", case.pk)).status_code == 404
    listed = client.get(_url(Consultation, "changelist")).context["cl"].result_list
    assert case.pk not in [row.pk for row in listed]


def test_rows_the_services_keep_are_read_only(client, station_world, case):
    w = station_world
    client.force_login(w.district_admin)
    for model in READ_ONLY:
        assert client.get(_url(model, "add")).status_code == 403, model
        row = model.objects.order_by("pk").first()
        before = model.objects.filter(pk=row.pk).values().first()
        response = client.post(_url(model, "change", row.pk), {"status": "cancelled"})
        assert response.status_code == 403, model
        assert client.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
        assert model.objects.filter(pk=row.pk).values().first() == before
    # a station is added through station_create (test_station_create.py), never deleted
    assert client.post(_url(Station, "delete", w.station.pk), {"post": "yes"}).status_code == 403
    assert Station.objects.filter(pk=w.station.pk).exists()


def test_station_settings_are_saved_through_station_update(client, station_world):
    w = station_world
    client.force_login(w.coordinator)
    url = _url(Station, "change", w.station.pk)
    data = {
        "name": w.station.name,
        "description": "每周三下午开放",
        "open_bookings_max": "3",
        "term_bookings_max": "6",
        "is_active": "on",
    }
    # a limit below one is refused, nothing written
    page = client.post(url, {**data, "open_bookings_max": "0"})
    assert page.status_code == 200 and page.context["adminform"].form.errors
    w.station.refresh_from_db()
    assert w.station.open_bookings_max == 2
    # a valid change goes through the service (audit-logged)
    assert client.post(url, data).status_code == 302
    w.station.refresh_from_db()
    assert (w.station.open_bookings_max, w.station.term_bookings_max) == (3, 6)
    assert AuditLog.objects.filter(action="guidance.station.update").count() == 1


def test_a_mentor_is_added_and_changed_through_the_services_with_scoped_pickers(
    client, station_world
):
    w = station_world
    client.force_login(w.coordinator)
    data = {
        "name": "示例许老师",
        "title": "升学指导教师",
        "areas": ["study"],
        "audiences": ["parent", "student"],
        "modes": ["online"],
        "bio": "中考志愿填报答疑。",
        "is_active": "on",
    }
    # another station is not hers to add to
    page = client.post(_url(Mentor, "add"), {**data, "station": w.other_station.pk})
    assert page.status_code == 200 and "station" in page.context["adminform"].form.errors
    assert not Mentor.objects.filter(name="示例许老师").exists()
    # her station is
    assert client.post(_url(Mentor, "add"), {**data, "station": w.station.pk}).status_code == 302
    mentor = Mentor.objects.get(name="示例许老师")
    assert mentor.station == w.station and mentor.areas == ["study"]
    assert AuditLog.objects.filter(action="guidance.mentor.create", target_id=str(mentor.pk))
    # a change goes through mentor_update; the station stays
    response = client.post(
        _url(Mentor, "change", mentor.pk),
        {**data, "title": "高级教师", "areas": ["study", "career"]},
    )
    assert response.status_code == 302
    mentor.refresh_from_db()
    assert mentor.title == "高级教师" and mentor.areas == ["study", "career"]
    assert AuditLog.objects.filter(action="guidance.mentor.update", target_id=str(mentor.pk))
