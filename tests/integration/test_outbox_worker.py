"""The outbox through the real parts: course receipts, a withdrawal receipt, a
promotion notice and an invitation, each sent once by a real Celery worker on
Redis to a real SMTP server (aiosmtpd), however often the worker is kicked."""

from collections import Counter

import pytest
from django.core.management import call_command

from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from courses.tests.factories import CourseFactory, make_session
from events.models import Delivery
from events.reminders import deliveries_kick, reminder_pass_run
from events.tests import worker_fixtures
from events.tests.worker_fixtures import decoded
from members.services import family_invitation_create
from members.tests.factories import GuardianFactory
from notifications.models import NotificationPreference
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker
reminder_worker = worker_fixtures.reminder_worker


def _settled() -> bool:
    return not Delivery.objects.filter(status__in=["pending", "claimed"]).exists()


def _told(messages) -> Counter:
    return Counter((str(m["To"]), decoded(m)[0]) for m in messages)


def test_every_message_of_a_course_goes_out_once_through_the_worker(reminder_worker, smtp_server):
    # given a course session for one person; family A of two guardians (the father
    # turned email off), family B of one
    course = CourseFactory(title="家长课堂：亲子沟通")
    session = make_session(course, capacity=1)
    mother = GuardianFactory()
    father = GuardianFactory(family=mother.family)
    NotificationPreference.objects.create(user=father.user, by_email=False)
    other = GuardianFactory()

    # when A books (confirmed) and B books (waiting), each committed
    mine = booking_create(
        offering_id=session.offering_id,
        family=mother.family,
        booked_by=mother.user,
        guardian_ids=[mother.pk],
    )
    theirs = booking_create(
        offering_id=session.offering_id,
        family=other.family,
        booked_by=other.user,
        guardian_ids=[other.pk],
    )
    assert theirs.status == Booking.Status.WAITING
    wait_for(lambda: len(smtp_server.messages) >= 2, timeout=60)
    wait_for(_settled, timeout=60)

    # and A withdraws, so B is promoted, and A invites a grandparent by email
    booking_cancel(booking_id=mine.pk, family=mother.family, cancelled_by=mother.user)
    invitation = family_invitation_create(
        family=mother.family,
        invited_by=mother.user,
        relation="grandparent",
        email="laoye@example.cn",
        base_url="https://portal.example.cn/",
    )
    wait_for(lambda: len(smtp_server.messages) >= 5, timeout=60)
    wait_for(_settled, timeout=60)

    # and the worker is kicked again and again, and the beat pass runs
    for _ in range(3):
        deliveries_kick()
    call_command("send_due_reminders")
    assert reminder_pass_run().claimed == 0

    # then each message arrived once, only by email to those who chose email
    title = "家长课堂：亲子沟通"
    assert _told(smtp_server.messages) == Counter(
        {
            (mother.user.email, f"报名成功：{title}"): 1,
            (other.user.email, f"已进入候补：{title}"): 1,
            (mother.user.email, f"已取消报名：{title}"): 1,
            (other.user.email, f"候补转正：{title}"): 1,
            ("laoye@example.cn", "【协同育人门户】邀请您加入家庭"): 1,
        }
    )
    invite_text = next(
        decoded(m)[1] for m in smtp_server.messages if str(m["To"]) == "laoye@example.cn"
    )
    assert f"https://portal.example.cn/family/join/{invitation.token}/" in invite_text
    # and the father was told in the portal only, once per message
    assert set(
        Delivery.objects.filter(user=father.user).values_list("purpose", "channel", "status")
    ) == {("confirmation", "inbox", "sent"), ("withdrawn", "inbox", "sent")}
    assert father.user.notifications.count() == 2
    assert not Delivery.objects.exclude(status="sent").exists()
    assert len(smtp_server.messages) == 5
