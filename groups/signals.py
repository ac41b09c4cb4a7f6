"""Signals groups sends to the apps to its right (community), which groups may not import.

``group_dissolved`` is sent with ``group=`` inside the dissolving transaction, so a
receiver's writes (the board archived) commit or roll back with the dissolution.
"""

from django.dispatch import Signal

group_dissolved = Signal()
