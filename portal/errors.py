"""The portal's own error pages: 400, 403, 404, 500 and a refused form (CSRF).

Each is in the portal layout, in the visitor's language, phone-sized, and offers a
way back (首页, 返回上一页 when the visitor came from one of our pages, 重新登录 for
a refused form). Wired in alliance/urls.py (handler400/403/404/500) and
``CSRF_FAILURE_VIEW``; the 429 page (templates/429.html) is rendered by
members/middleware.py and allauth.

The 500 page must render when the database is what failed: it is a self-contained
template rendered without the request, so no context processor (user, roles,
unread notices) and no query runs.
"""

from __future__ import annotations

from django.http import (
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseServerError,
)
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme


def _back_url(request) -> str:
    """The page the visitor came from, if it is one of ours and not this one."""
    referer = request.META.get("HTTP_REFERER", "")
    if not referer:
        return ""
    try:
        host = request.get_host()
    except Exception:  # a disallowed Host header: no way back is better than a second error
        return ""
    if not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={host}, require_https=request.is_secure()
    ):
        return ""
    if request.method == "GET" and referer == request.build_absolute_uri():
        return ""  # a form posted back to its own page may go back to it; a GET may not
    return referer


def _render(request, template_name: str, context: dict | None = None) -> str:
    context = {"back_url": _back_url(request), **(context or {})}
    return loader.render_to_string(template_name, context, request=request)


def bad_request(request, exception=None):
    return HttpResponseBadRequest(_render(request, "400.html"))


def permission_denied(request, exception=None):
    return HttpResponseForbidden(_render(request, "403.html"))


def page_not_found(request, exception=None):
    return HttpResponseNotFound(_render(request, "404.html"))


def csrf_failure(request, reason: str = ""):
    """A form refused by the CSRF check: usually a page left open too long, or a
    sign-in in another tab. Going back and sending again (or signing in) fixes it."""
    return HttpResponseForbidden(_render(request, "403_csrf.html"))


def server_error(request):
    # Without the request: no context processors, so nothing here touches the database.
    template = loader.get_template("500.html")
    return HttpResponseServerError(template.render({"back_url": _back_url(request)}))
