"""Signals of the questionnaires (pretix style: documented where defined)."""

from django.dispatch import Signal

# Sent inside the transaction that changed what was answered (a named response
# written, an anonymous one put in waiting or released), with ``survey_ids``: the
# ids of the surveys whose figures changed. reports/receivers.py marks the
# survey roll-up of their units and terms.
responses_changed = Signal()
