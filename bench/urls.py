"""The portal's URLs plus /bench/bare/: the same middleware, a view doing nothing."""

from django.http import HttpResponse
from django.urls import path

from alliance.urls import urlpatterns as portal_urlpatterns


def bare(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), *portal_urlpatterns]
