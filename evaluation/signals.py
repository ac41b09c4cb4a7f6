"""Signals of the evaluation loop (receivers live in the apps above, e.g. reports).

``targets_changed(term_id, unit_ids)``: sent inside the transaction of any change of
UnitTarget rows (one set, or a term filled from the defaults), so the roll-up
can recompute the attainment of those keys. The default fill writes with one
upsert (no post_save per row), so listen to this, not to post_save.
"""

from django.dispatch import Signal

targets_changed = Signal()
