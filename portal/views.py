from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from certificates.selectors import my_certificates
from courses.services import family_of
from members.privacy import person_name

from . import selectors
from .health import health_report

#: 我的学习 shows the newest few certificates; 我的证书 lists them all.
MY_LEARNING_CERTIFICATES = 3


def home(request):
    """The landing page for visitors; after sign-in, the family's own week: next
    sessions and events, waiting places and unread notices.

    The signed-in page is the person's own, so it is marked private and never
    stored by a shared cache (``Vary: Cookie`` on both, so a proxy cannot hand one
    visitor's page to another). No shared cache in the portal holds the home page
    (only the anonymous catalogue is shared, courses/views.py).
    """
    if not request.user.is_authenticated:
        response = render(request, "portal/home.html")
    else:
        overview = selectors.home_overview(user=request.user)
        response = render(request, "portal/home_signed_in.html", {"overview": overview})
        add_never_cache_headers(response)
    patch_vary_headers(response, ["Cookie"])
    return response


@login_required
def my_learning(request):
    """我的学习: the family's course sessions and events in one list (upcoming, waiting,
    past with attendance and credits), and the credit bank."""
    family = family_of(request.user)
    context = {"family": family}
    if family is not None:
        context["learning"] = selectors.my_learning(
            user=request.user, family=family, page=request.GET.get("page")
        )
        # 我的证书: the newest few (their own page lists them all)
        context["certificates"] = list(my_certificates(request.user)[:MY_LEARNING_CERTIFICATES])
    response = render(request, "portal/my_learning.html", context)
    add_never_cache_headers(response)
    return response


@login_required
def mine(request):
    """「我的」: everything of the person's own that is not one of the four tabs."""
    return render(
        request,
        "portal/mine.html",
        {"greeting_name": person_name(request.user)},
    )


@require_GET
@never_cache
def healthz(request):
    healthy, report = health_report()
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": report},
        status=200 if healthy else 503,
    )


@require_GET
def language_switch(request):
    """Remember the chosen language in a cookie and go back.

    A GET form (no CSRF token): choosing a language changes nothing but the
    visitor's own display, and pages without a token can be shared by the
    anonymous-page cache.
    """
    next_url = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    language = request.GET.get("language", "")
    if language in dict(settings.LANGUAGES) and translation.check_for_language(language):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
        )
    return response
