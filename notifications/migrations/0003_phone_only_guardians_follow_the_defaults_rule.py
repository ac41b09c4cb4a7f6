# Channels now follow what a person has (notifications.selectors.notification_defaults_for):
# with a verified phone and no email, SMS is on by default. A person without a
# saved preference follows that rule at once. A saved row is the person's own
# choice and stays, except one kind: a phone-only guardian whose row says
# nothing the old page did not pre-tick (in-site on, SMS off, quiet hours
# 22:00–07:00; its "email" box meant nothing without an address). Those rows are
# what "save without changing anything" left, so they are removed once and the
# guardian follows the new rule: SMS on. One DELETE, whatever the number of users.

import datetime

from django.db import migrations
from django.db.models import Q


def phone_only_rows_left_at_the_old_defaults(apps):
    NotificationPreference = apps.get_model("notifications", "NotificationPreference")
    return NotificationPreference.objects.filter(
        Q(user__email="") | Q(user__email__isnull=True),
        user__phone_verified=True,
        user__phone__isnull=False,
        in_site=True,
        by_sms=False,
        quiet_start=datetime.time(22, 0),
        quiet_end=datetime.time(7, 0),
    ).exclude(user__phone="")


def phone_only_guardians_follow_the_rule(apps, schema_editor):
    # No signals or dependent rows: Django sends this as one DELETE … WHERE id IN (SELECT …).
    phone_only_rows_left_at_the_old_defaults(apps).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_notificationpreference"),
        ("members", "0002_registry_permissions_and_indexes"),
    ]

    operations = [
        # Going back leaves the rows away: without one a person gets the defaults.
        migrations.RunPython(phone_only_guardians_follow_the_rule, migrations.RunPython.noop),
    ]
