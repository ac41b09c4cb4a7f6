"""The Celery application.

Settings come from Django's settings under the ``CELERY_`` namespace, so the
broker follows ``REDIS_URL`` (Redis) or, without it, kombu's filesystem
transport (see ``alliance/settings/base.py`` for why).
"""

import os

from celery import Celery
from celery.signals import setup_logging

from alliance.logging import connect_celery_signals
from alliance.replica import connect_celery_signals as connect_replica_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings.local")

app = Celery("alliance")
app.config_from_object("django.conf:settings", namespace="CELERY")


@setup_logging.connect
def _use_django_logging(*args, **kwargs):
    # Workers log through Django's LOGGING so that web and worker logs look alike.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


# Tasks carry the request id of the request (or task) that queued them, and their
# log lines show it (alliance/logging.py).
connect_celery_signals()
# Export tasks read from the read replica when there is one (alliance/replica.py).
connect_replica_signals()

app.autodiscover_tasks()
