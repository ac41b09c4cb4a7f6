"""Switching to the outbox loses no message that the old code had not sent yet:
events 0005 turns unsent promotion notices and invitations into outbox rows, and
bookings 0004 removes the old sweep from django-celery-beat's table."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("bookings", "0003_booking_promotion_notified_at"),
    ("events", "0004_delivery_outbox"),
]
AFTER = [
    ("bookings", "0004_remove_booking_promotion_notified_at"),
    ("events", "0005_carry_over_unsent_messages"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    # The state of the targets plus the (untouched) apps the test also writes to.
    others = [
        node
        for node in executor.loader.graph.leaf_nodes()
        if node[0] in ("members", "notifications", "django_celery_beat")
    ]
    return executor.loader.project_state([*targets, *others]).apps


@pytest.mark.django_db(transaction=True)
def test_unsent_promotions_and_invitations_become_outbox_rows():
    old = _migrate(BEFORE)
    try:
        # given, in the old schema: a promotion told already, one not told yet,
        # an invitation sent (audit entry), one not sent, and the old beat entry
        User = old.get_model("members", "User")
        Family = old.get_model("members", "Family")
        Guardian = old.get_model("members", "Guardian")
        Unit = old.get_model("members", "MemberUnit")
        Offering = old.get_model("bookings", "Offering")
        Booking = old.get_model("bookings", "Booking")
        Invitation = old.get_model("members", "FamilyInvitation")
        AuditLog = old.get_model("members", "AuditLog")
        Preference = old.get_model("notifications", "NotificationPreference")
        PeriodicTask = old.get_model("django_celery_beat", "PeriodicTask")
        Interval = old.get_model("django_celery_beat", "IntervalSchedule")
        now = timezone.now()
        region = old.get_model("members", "Region").objects.create(name="溪口镇", kind="town")
        unit = Unit.objects.create(name="溪口中学", kind="middle_school", region=region)
        offering = Offering.objects.create(
            kind="course_session",
            title="亲子沟通",
            unit=unit,
            starts_at=now + datetime.timedelta(days=2),
            ends_at=now + datetime.timedelta(days=2, hours=2),
            capacity=5,
        )

        def family_with(name, **preference):
            user = User.objects.create(username=name, email=f"{name}@example.cn")
            family = Family.objects.create()
            Guardian.objects.create(user=user, family=family, relation="mother")
            if preference:
                Preference.objects.create(user=user, **preference)
            return user, family

        told_user, told = family_with("told")
        waiting_user, waiting = family_with("waiting", by_email=False)
        for family, notified in ((told, now), (waiting, None)):
            Booking.objects.create(
                offering=offering,
                family=family,
                status="confirmed",
                party_size=1,
                confirmed_at=now,
                promoted_at=now,
                promotion_notified_at=notified,
            )
        sent = Invitation.objects.create(
            family=told,
            phone="13600001111",
            relation="father",
            expires_at=now + datetime.timedelta(days=7),
        )
        AuditLog.objects.create(
            action="members.invitation.send",
            target_type="members.FamilyInvitation",
            target_id=str(sent.pk),
        )
        unsent = Invitation.objects.create(
            family=waiting,
            email="dad@example.cn",
            relation="father",
            expires_at=now + datetime.timedelta(days=7),
        )
        PeriodicTask.objects.create(
            name="bookings-promotion-sweep",
            task="bookings.tasks.booking_promotion_sweep",
            interval=Interval.objects.create(every=120, period="seconds"),
        )

        # when the migrations run
        new = _migrate(AFTER)

        # then only the untold promotion (in-site: that guardian turned email off) and
        # the unsent invitation are pending outbox rows, and the old sweep is gone
        Delivery = new.get_model("events", "Delivery")
        rows = set(
            Delivery.objects.values_list("user_id", "purpose", "channel", "address", "status")
        )
        assert rows == {
            (waiting_user.pk, "promoted", "inbox", "", "pending"),
            (None, "invitation", "email", "dad@example.cn", "pending"),
        }
        assert Delivery.objects.get(purpose="invitation").invitation_id == unsent.pk
        assert not new.get_model("django_celery_beat", "PeriodicTask").objects.exists()
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
