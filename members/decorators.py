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
