"""Signals that bookings sends, so that higher apps can react without bookings
importing them (events/receivers.py writes the outbox rows that tell families).

Each signal is sent **inside** the transaction that made the change, after the
rows are written and while the offering row is still locked. A receiver's own
writes therefore commit or roll back together with the change: a family is
told about a booking, a cancellation or a promotion exactly when it happened.
Receivers write rows and queue work with ``transaction.on_commit``; they never
send a message, call the broker or do anything slow inside the lock. An
exception in a receiver rolls the change back (the signals are sent with
``send``, not ``send_robust``).

The sender is ``bookings.models.Booking``, except for ``participation_changed``
(the model of what changed).
"""

from django.dispatch import Signal

#: A family booked places. ``booking``: the new booking, confirmed or waiting;
#: ``booking.offering`` is the locked offering.
booking_created = Signal()

#: A booking was cancelled: by the family, by a coordinator (``force``), or
#: because the family is being deleted. ``booking``: the cancelled booking
#: (``booking.offering`` is the locked offering); ``cancelled_by``: the user who
#: cancelled, or ``None`` for the system.
booking_cancelled = Signal()

#: Waiting families were confirmed because places became free (a cancellation,
#: more capacity). ``offering``: the locked offering; ``bookings``: the promoted
#: bookings, in promotion order (never empty).
bookings_promoted = Signal()

#: Something the participation figures count changed, other than the three
#: signals above: an attendance mark, an offering cancelled, moved, re-hosted or
#: created, a credit posted or reversed, an online lesson completed (the
#: incremental roll-up in reports/ marks the snapshot keys it touches).
#: ``offering_ids``: offerings whose bookings or details changed (sent before
#: and after a move, so both months are marked); ``credit_keys``: keys of the
#: credit entries written; ``lesson_progress_ids``: lesson progress rows that
#: were completed. Each may be left out.
participation_changed = Signal()
