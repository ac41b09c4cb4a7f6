"""My data: the download (JSON and a readable HTML page) and account deletion that
keeps anonymous participation counts."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db.models import Count, Sum

from bookings.models import Booking, BookingAttendee
from bookings.services import booking_create
from bookings.tests.factories import OfferingFactory
from courses.models import CreditEntry
from members.models import AuditLog, Child, ConsentRecord, Family, Guardian
from members.services import consent_record
from members.tests.factories import ChildFactory, GuardianFactory
from members.tests.family_support import login
from parent_school.tests.factories import TermFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def _family_with_history():
    """A mother, a child, a confirmed booking for both and credits for both."""
    mother = GuardianFactory(user__phone="13700001111", user__phone_verified=True)
    child = ChildFactory(family=mother.family, nickname="小雨")
    consent_record(
        user=mother.user, document=ConsentRecord.Document.CHILDREN_INFO, family=mother.family
    )
    offering = OfferingFactory(title="亲子阅读课")
    booking = booking_create(
        offering_id=offering.pk,
        family=mother.family,
        booked_by=mother.user,
        guardian_ids=[mother.pk],
        child_ids=[child.pk],
    )
    term = TermFactory()
    for n, (guardian, kid) in enumerate([(mother, None), (None, child)]):
        CreditEntry.objects.create(
            key=f"test-{booking.pk}-{n}",
            family=mother.family,
            guardian=guardian,
            child=kid,
            term=term,
            amount=Decimal("1.0"),
            reason=CreditEntry.Reason.ATTENDANCE,
            booking=booking,
        )
    return mother, child, offering


def _term_figures():
    """What the term statistics count: bookings, persons, children, credits."""
    return (
        Booking.objects.aggregate(
            bookings=Count("pk"), persons=Sum("party_size"), children=Sum("children_count")
        ),
        BookingAttendee.objects.aggregate(
            attendees=Count("pk"), child_attendees=Count("pk", filter=models_q_is_child())
        ),
        CreditEntry.objects.aggregate(total=Sum("amount"), rows=Count("pk")),
    )


def models_q_is_child():
    from django.db.models import Q

    return Q(is_child=True)


def test_download_json_holds_everything_about_the_family(client):
    # given a family with a child, a booking and credits
    mother, child, _offering = _family_with_history()
    client.force_login(mother.user)

    # when the mother downloads her data as JSON
    response = client.get("/me/data/export.json")

    # then it is a file holding her account, the family, the child, bookings, credits, consent
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    by_model = {s["model"]: s for s in data["sections"]}
    assert by_model["members.User"]["rows"][0]["phone"] == "13700001111"
    assert "password" not in by_model["members.User"]["rows"][0]
    assert by_model["members.Child"]["rows"][0]["nickname"] == "小雨"
    assert by_model["members.Guardian"]["rows"][0]["relation"]["label"] == "妈妈"
    assert by_model["bookings.Booking"]["rows"][0]["offering"]["label"] == "亲子阅读课"
    assert len(by_model["bookings.BookingAttendee"]["rows"]) == 2
    assert len(by_model["courses.CreditEntry"]["rows"]) == 2  # listed once each
    assert by_model["members.ConsentRecord"]["rows"]
    # and the download is audit-logged
    entry = AuditLog.objects.get(action="members.family_data.export")
    assert entry.actor == mother.user
    assert entry.data == {"format": "json"}


def test_download_html_is_a_readable_page(client):
    mother, _child, _offering = _family_with_history()
    client.force_login(mother.user)
    response = client.get("/me/data/export.html")
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "小雨" in html and "亲子阅读课" in html and "妈妈" in html
    assert "<dt>昵称</dt>" in html
    assert AuditLog.objects.filter(
        action="members.family_data.export", data__format="html"
    ).exists()


def test_the_download_holds_nothing_of_another_family(client):
    mother, _child, _offering = _family_with_history()
    other = GuardianFactory(user__phone="13900009999")
    ChildFactory(family=other.family, nickname="别人家的孩子")
    client.force_login(other.user)
    text = client.get("/me/data/export.json").content.decode()
    assert "小雨" not in text
    assert "13700001111" not in text
    assert "亲子阅读课" not in text


def test_deleting_the_only_guardian_removes_the_family_but_keeps_the_counts(client):
    # given a family with history, and the term figures before
    mother, child, offering = _family_with_history()
    family_id = mother.family_id
    before = _term_figures()
    login(client, "13700001111", "correct-horse-battery")
    session_key = client.cookies["sessionid"].value

    # when the mother deletes her account
    assert client.get("/me/data/delete-account/").status_code == 200
    response = client.post("/me/data/delete-account/", {"confirm": "on"})

    # then her account, the family and the child are gone
    assert response.status_code == 302
    assert not User.objects.filter(phone="13700001111").exists()
    assert not Family.objects.filter(pk=family_id).exists()
    assert not Child.objects.filter(pk=child.pk).exists()
    assert not Session.objects.filter(session_key=session_key).exists()
    # and the bookings and credits stay as anonymous rows: the term figures do not change
    assert _term_figures() == before
    booking = Booking.objects.get(offering=offering)
    assert booking.family_id is None and booking.booked_by_id is None
    assert all(a.guardian_id is None and a.child_id is None for a in booking.attendees.all())
    assert not CreditEntry.objects.filter(family_id=family_id).exists()
    # and the deletion is logged without personal data
    entry = AuditLog.objects.get(action="members.account.delete")
    assert entry.data["family_deleted"] is True
    assert entry.data["children_deleted"] == 1
    assert "13700001111" not in json.dumps(entry.data) + entry.actor_label + entry.target_repr


def test_deleting_one_of_two_guardians_keeps_the_family_for_the_other(client):
    mother, child, _offering = _family_with_history()
    father = GuardianFactory(family=mother.family, relation=Guardian.Relation.FATHER)
    before = _term_figures()
    client.force_login(mother.user)

    page = client.get("/me/data/delete-account/").content.decode()
    assert "由其他监护人继续管理" in page
    client.post("/me/data/delete-account/", {"confirm": "on"})

    assert not Guardian.objects.filter(pk=mother.pk).exists()
    assert Family.objects.filter(pk=father.family_id).exists()
    assert Child.objects.filter(pk=child.pk).exists()
    assert Booking.objects.filter(family=father.family).count() == 1
    assert _term_figures() == before
    entry = AuditLog.objects.get(action="members.account.delete")
    assert entry.data["family_deleted"] is False
    assert entry.data["remaining_guardians"] == 1


def test_deletion_needs_the_confirmation(client):
    mother = GuardianFactory()
    client.force_login(mother.user)
    response = client.post("/me/data/delete-account/", {})
    assert response.status_code == 200
    assert User.objects.filter(pk=mother.user_id).exists()
