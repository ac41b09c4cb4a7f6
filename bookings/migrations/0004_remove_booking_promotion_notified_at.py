# Promotion notices are rows of the outbox (events.Delivery) now: the booking no
# longer carries its own "notified" flag, and the promotion sweep is gone.
# events/migrations/0005 runs first and carries unsent notices over.

from django.db import migrations


def drop_sweep_entry(apps, schema_editor):
    # django-celery-beat keeps entries it once copied from CELERY_BEAT_SCHEDULE;
    # without this, beat would keep sending the removed task every two minutes.
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task="bookings.tasks.booking_promotion_sweep").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("bookings", "0003_booking_promotion_notified_at"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(drop_sweep_entry, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="booking",
            name="booking_promotion_unsent",
        ),
        migrations.RemoveField(
            model_name="booking",
            name="promotion_notified_at",
        ),
    ]
