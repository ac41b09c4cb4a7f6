"""Panels on the group page filled by apps to the right of groups (surveys, …).

groups may not import those apps, so they register a function from their
``AppConfig.ready()``: ``panel_register("surveys", fn)`` where
``fn(*, group, family, user) -> list[PanelItem]``. ``family`` is the viewer's family
(None for staff). The group page calls ``panels_for`` and shows each non-empty panel
under its name; a panel's own access rules live in its function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PanelItem:
    title: str
    url: str
    note: str = ""


PanelFn = Callable[..., list[PanelItem]]

# Insertion-ordered: panels show in the order the apps registered them.
_PANELS: dict[str, PanelFn] = {}


def panel_register(name: str, fn: PanelFn) -> None:
    """Register (or replace: ready() may run twice in tests) the panel ``name``."""
    _PANELS[name] = fn


def panels_for(*, group, family, user) -> list[tuple[str, list[PanelItem]]]:
    """The non-empty panels for this viewer of ``group``, as (name, items)."""
    shown: list[tuple[str, list[PanelItem]]] = []
    for name, fn in _PANELS.items():
        items = list(fn(group=group, family=family, user=user) or [])
        if items:
            shown.append((name, items))
    return shown
