"""Signals the handbook sends, so that higher apps (reports) can react without
the handbook importing them.

Claims saved one by one send Django's ``post_save``; the writes that bypass it
(bulk inserts of proposals from attendance) send ``claims_changed`` instead,
inside their transaction, after the rows are written.
"""

from django.dispatch import Signal

#: Claims were written in bulk. ``keys``: the (term id, unit id) pairs of the
#: claims written (each once).
claims_changed = Signal()
