"""Keep places honest when a family leaves the portal.

``members`` cannot import ``bookings`` (dependencies flow one way), so the
family's future bookings are released here, on the family's deletion: their
places go back to the waiting list instead of staying taken by nobody.
"""

from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from members.models import Family

from .models import Booking
from .services import booking_cancel


@receiver(pre_delete, sender=Family, dispatch_uid="bookings.release_family_bookings")
def release_future_bookings_of_deleted_family(sender, instance: Family, **kwargs) -> None:
    future_active = Booking.objects.filter(
        family=instance,
        status__in=(Booking.Status.CONFIRMED, Booking.Status.WAITING),
        offering__starts_at__gt=timezone.now(),
    ).values_list("pk", flat=True)
    for booking_id in list(future_active):
        # force: the cancellation deadline protects organisers from late
        # changes of mind, not from a family exercising its right to deletion.
        booking_cancel(booking_id=booking_id, family=None, cancelled_by=None, force=True)
