"""Settings for `make bench`: the portal's base settings, DEBUG off, plus a bare view."""

from alliance.settings.base import *  # noqa: F403
from alliance.settings.base import LOGGING

DEBUG = False
SECRET_KEY = "bench-only-secret-key"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.urls"
LOGGING["root"]["level"] = "WARNING"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
