"""The portal's URLs plus a view that fails, for the 500 page's tests."""

from django.urls import path

from alliance.urls import handler400, handler403, handler404, handler500  # noqa: F401
from alliance.urls import urlpatterns as portal_urlpatterns


def fail(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("test-error/", fail), *portal_urlpatterns]
