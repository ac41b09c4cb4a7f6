"""Scale-out, proven at a small size: two gunicorn web nodes behind Debian's nginx
(deploy/nginx/production.conf.template) on the test database and Redis; parents sign
in and book through the API while a kiosk checks them in, and one node is killed
with SIGKILL and started again (scripts/scaleout.py; the full-size figures are in
docs/PERFORMANCE.md, "scale-out")."""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.integration.test_http_booking_race import _database_url

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "scaleout.py"


def _scaleout():
    spec = importlib.util.spec_from_file_location("scaleout", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["scaleout"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_web_node_killed_under_load_loses_and_doubles_nothing():
    scaleout = _scaleout()

    result = scaleout.drill(
        database_url=_database_url(),
        redis_url=os.environ["REDIS_URL"],
        parents=6,
        sessions=3,
        duration=15,
    )
    print(result.summary())

    # every booking intended was made exactly once, and every ticket checked in
    assert result.problems == []
    assert result.intended_bookings == 18
    assert result.booking_rows == 18
    assert result.duplicate_bookings == 0 and result.missing_bookings == 0
    assert result.checked_in == 18
    # the only failures are requests in flight on the node when it died
    assert len(result.errors) <= result.in_flight_at_kill
    assert scaleout.errors_only_in_flight(result)
    # every parent is still signed in with the same cookie, on both nodes
    assert result.sessions_still_valid == 6
    assert len(result.nodes_answering_after) == 2
    assert result.requests > 100
    assert all(scaleout.verdict(result).values())
    shutil.rmtree(result.workdir)  # the logs are kept when the test fails
