"""Work that runs after the commit of the current transaction."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction


def after_commit(function: Callable, argument) -> None:
    """Run ``function(argument)`` after the commit; if it fails (the broker is
    down), the write stands and the error is logged. A named closure, not a
    functools.partial: Django's robust on_commit logs the callback's
    ``__qualname__``, which a partial lacks (the logging itself would raise and
    turn the request into a 500)."""

    def callback():
        function(argument)

    callback.__qualname__ = f"{function.__qualname__}({argument})"
    callback.function, callback.argument = function, argument
    transaction.on_commit(callback, robust=True)
