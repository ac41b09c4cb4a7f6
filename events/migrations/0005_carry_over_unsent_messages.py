# Promotion notices and co-guardian invitations used to be sent by their own
# tasks (bookings.promotion_notified_at and an audit entry were their "sent"
# flags). Any that had not gone out when this runs become outbox rows, so the
# switch loses none. Channels follow each guardian's saved preferences (in-site
# and email by default), as the old promotion notice did; SMS is left out
# because the old path never texted.

from django.db import migrations
from django.utils import timezone


def carry_over(apps, schema_editor):
    Booking = apps.get_model("bookings", "Booking")
    Guardian = apps.get_model("members", "Guardian")
    FamilyInvitation = apps.get_model("members", "FamilyInvitation")
    AuditLog = apps.get_model("members", "AuditLog")
    NotificationPreference = apps.get_model("notifications", "NotificationPreference")
    Delivery = apps.get_model("events", "Delivery")
    now = timezone.now()
    rows = []
    unsent = Booking.objects.filter(
        promoted_at__isnull=False,
        promotion_notified_at__isnull=True,
        status="confirmed",
        family__isnull=False,
        offering__starts_at__gt=now,
    ).order_by("pk")
    for booking in unsent.iterator():
        guardians = Guardian.objects.filter(family_id=booking.family_id).select_related("user")
        for guardian in guardians:
            user = guardian.user
            if not user.is_active:
                continue
            preference = NotificationPreference.objects.filter(user=user).first()
            channels = []
            if preference is None or preference.in_site:
                channels.append("inbox")
            if (preference is None or preference.by_email) and user.email:
                channels.append("email")
            for channel in channels:
                rows.append(
                    Delivery(
                        user=user,
                        offering_id=booking.offering_id,
                        booking=booking,
                        purpose="promoted",
                        channel=channel,
                        scheduled_for=booking.promoted_at,
                        due_at=now,
                    )
                )
    sent_ids = set(
        AuditLog.objects.filter(
            action="members.invitation.send", target_type="members.FamilyInvitation"
        ).values_list("target_id", flat=True)
    )
    invitations = FamilyInvitation.objects.filter(
        accepted_at__isnull=True, expires_at__gt=now
    ).order_by("pk")
    for invitation in invitations.iterator():
        if str(invitation.pk) in sent_ids:
            continue
        rows.append(
            Delivery(
                invitation=invitation,
                address=invitation.phone or invitation.email,
                purpose="invitation",
                channel="sms" if invitation.phone else "email",
                scheduled_for=invitation.created_at,
                due_at=now,
            )
        )
    Delivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0004_delivery_outbox"),
        ("notifications", "0002_notificationpreference"),
    ]
    # Before bookings drops promotion_notified_at.
    run_before = [("bookings", "0004_remove_booking_promotion_notified_at")]

    operations = [migrations.RunPython(carry_over, migrations.RunPython.noop)]
