"""The API against its own served schema (``/api/v1/schema/``), with schemathesis:
for every operation the schema holds, generated requests (valid and invalid)
never get a 500, and every answer's status code and body are the ones the
schema declares.

The requests go to the Django WSGI application in this process, so they see
the test's database: a small world (a family, its unit with a course session
and an event, bookings, staff; api_world.py) whose ids are mostly used for id
parameters, so endpoints get past 404.
A parent's token calls the parents' endpoints, a unit coordinator's the staff
ones. Fast and reproducible for CI: few examples per operation, derandomized.

Not stateful: django-ninja's schema has no OpenAPI links, which schemathesis'
state machine needs (docs/API.md, "Testing the schema").
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.tests.api_world import fresh_token, make_side

CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application(), config=CONFIG)

# Filled by the ``world`` fixture before each operation's examples run (the hook
# below reads it while hypothesis generates inside the test).
WORLD: dict = {}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Of four generated integers for an id, three become one of side A's ids (found), one
# stays as generated (most likely missing): both answers must match the schema.
OWN_SHARE = 4


@pytest.fixture
def world(db, settings):
    # The WSGI handler closes the database connection when a request ends (as a
    # server's would); inside a test that connection holds the test's transaction,
    # so keep it open, as django.test.Client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    settings.API_RATE_PER_TOKEN = 1_000_000
    settings.API_RATE_PER_IP = 1_000_000
    a = make_side("甲", "13911110001")
    WORLD.update(
        a=a.ids(),
        keys={"parent": fresh_token(a, "parent")[1], "staff": fresh_token(a, "staff")[1]},
    )
    yield WORLD
    WORLD.clear()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _known_id(name: str, value):
    if not WORLD or name not in WORLD["a"] or isinstance(value, bool) or not isinstance(value, int):
        return value  # an invalid value (negative cases) or a name the world does not know
    if value % OWN_SHARE == OWN_SHARE - 1:
        return value
    choices = WORLD["a"][name]
    return choices[(value // OWN_SHARE) % len(choices)]


@schema.hook
def map_path_parameters(context, path_parameters):
    return {name: _known_id(name, value) for name, value in (path_parameters or {}).items()}


@schema.hook
def map_query(context, query):
    if not isinstance(query, dict):
        return query
    return {name: _known_id(name, value) for name, value in query.items()}


@schema.hook
def map_body(context, body):
    # Ids in a JSON body (offering_id, guardian_ids …) name the world's things too.
    if not isinstance(body, dict):
        return body
    mapped = {}
    for name, value in body.items():
        if isinstance(value, list) and name.endswith("_ids"):
            mapped[name] = [_known_id(name, item) for item in value]
        else:
            mapped[name] = _known_id(name, value)
    return mapped


def _principal(case) -> str:
    return "staff" if "staff" in (case.operation.tags or []) else "parent"


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_schema_says(case, world):
    key = world["keys"][_principal(case)]
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)


def test_the_schema_is_walked_at_all():
    # The parametrized test above covers whatever the schema holds; make sure it
    # holds the API (a schema that failed to load would give no operations at all).
    paths = {result.ok().path for result in schema.get_all_operations()}
    assert "/api/v1/me" in paths and len(paths) > 1


def _models_in(annotation, found: set) -> None:
    """Every pydantic model an annotation names, nested ones included."""
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in found:
            return
        found.add(annotation)
        for field in annotation.model_fields.values():
            _models_in(field.annotation, found)
        return
    for argument in typing.get_args(annotation):
        _models_in(argument, found)


def test_no_two_schemas_share_a_name():
    # The served schema keys its components by class name: two ``SessionOut``
    # classes in two modules would silently describe one endpoint with the other's
    # fields (it happened: the catalogue's session and the staff's).
    from api.core import api

    found: set = set()
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                # query and path models are spread into parameters, not components
                bodies = [m for m in operation.models if m.__name__ == "BodyParams"]
                for model in [*operation.response_models.values(), *bodies]:
                    _models_in(model, found)
    wrappers = ("NinjaResponseSchema", "QueryParams", "BodyParams", "PathParams", "Input")
    by_name: dict[str, set[str]] = {}
    for model in found:
        if model.__name__ not in wrappers:
            by_name.setdefault(model.__name__, set()).add(
                f"{model.__module__}.{model.__qualname__}"
            )
    assert {name: sorted(c) for name, c in by_name.items() if len(c) > 1} == {}
