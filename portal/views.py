from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import health_report


def home(request):
    return render(request, "portal/home.html")


@require_GET
@never_cache
def healthz(request):
    healthy, report = health_report()
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": report},
        status=200 if healthy else 503,
    )
