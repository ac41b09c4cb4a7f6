"""Settings for pytest.

Tests run against the real PostgreSQL and Redis named by DATABASE_URL and
REDIS_URL (the Makefile defaults them to localhost); unit tests run Celery tasks
eagerly, and the tests marked ``celery_worker`` start a real worker instead.
"""

import os
import tempfile
import time

# Tests always use real services: the ones named in the environment, else localhost.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/alliance")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

# Playwright's sync API runs an event loop in the test thread; Django would
# otherwise refuse ORM calls from it. Test settings only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

DEBUG = False
SECRET_KEY = "test-only-secret-key"
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In-memory mail, unless a test that starts a real worker points the worker at
# its aiosmtpd server through TEST_EMAIL_BACKEND / EMAIL_HOST / EMAIL_PORT.
EMAIL_BACKEND = env("TEST_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Files a test run uploads or exports go to a temporary folder, never the project's
# media/; the variable is inherited by the Celery workers the tests start.
os.environ.setdefault("TEST_MEDIA_ROOT", tempfile.mkdtemp(prefix="alliance-test-media-"))
MEDIA_ROOT = os.environ["TEST_MEDIA_ROOT"]
# The console shows warnings and worse; every line (INFO up) also goes, as JSON, to a
# file of this run's log folder, one file per process (pytest and its xdist
# workers, the Celery workers and servers tests start, which inherit the folder).
# At the end of the run the root conftest.py fails it if any line holds a phone
# number (alliance.logging.phones_in_logs).
os.environ.setdefault(
    "TEST_LOG_DIR",
    str(BASE_DIR / ".pytest-logs" / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"),  # noqa: F405
)
TEST_LOG_DIR = os.environ["TEST_LOG_DIR"]
os.makedirs(TEST_LOG_DIR, exist_ok=True)
LOGGING["root"]["level"] = "INFO"  # noqa: F405
LOGGING["handlers"]["console"]["level"] = "WARNING"  # noqa: F405
LOGGING["handlers"]["file"] = {  # noqa: F405
    "class": "logging.FileHandler",
    "filename": os.path.join(TEST_LOG_DIR, f"{os.getpid()}.jsonl"),
    "formatter": "json",
    "encoding": "utf-8",
    "delay": True,
}
LOGGING["root"]["handlers"] = ["console", "file"]  # noqa: F405

# Catalogue tests look at each response's context; the shared-content cache has its
# own test (courses/tests/test_catalogue.py) that turns it on.
COURSE_CATALOGUE_CACHE_SECONDS = 0
