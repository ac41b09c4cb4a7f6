"""Whole pages shared between anonymous visitors (the catalogue, a certificate's
verification page): when a request may be answered from the shared copy, and
when a response may become it."""

from __future__ import annotations

from django.conf import settings


def shareable_request(request) -> bool:
    """An anonymous visitor with no session or messages: the whole page is the
    same for everyone who asks this URL in this language."""
    return (
        request.method == "GET"
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "messages" not in request.COOKIES
        and not request.user.is_authenticated
    )


def shareable_response(request, response) -> bool:
    """Never share a page that set a cookie or used a CSRF token: both are per
    visitor. Nor one that used a CSP nonce: it is per response, so a shared
    copy's inline script would not match the next response's header (bool() is
    False if unused)."""
    return (
        response.status_code == 200
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not getattr(request, "csp_nonce", None)
    )
