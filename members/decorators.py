"""View guards built on members/access.py."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from . import access


def _guard(check):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


coordinator_required = _guard(access.is_coordinator)
"""District admins, alliance coordinators and unit coordinators."""

staff_member_required = _guard(access.is_staff_member)
"""Coordinators and instructors (rosters, check-in)."""


def family_required(message):
    """The view is given the user's family as its second argument; a user without
    one is sent to fill it in and told ``message`` (each app's own words)."""
    from django.contrib import messages
    from django.shortcuts import redirect

    from .selectors import family_for_user

    def decorator(view):
        @wraps(view)
        def with_family(request, *args, **kwargs):
            family = family_for_user(request.user) if request.user.is_authenticated else None
            if family is None:
                messages.error(request, str(message))
                return redirect("members:family")
            return view(request, family, *args, **kwargs)

        return with_family

    return decorator
