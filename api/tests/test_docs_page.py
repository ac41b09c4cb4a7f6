"""The API's docs page and schema: self-hosted, under the site's policy, with the
one narrow exception Swagger UI needs (its icons are data: images), and a
schema that describes every operation with the one error shape."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def _directives(response) -> dict[str, set[str]]:
    policy = response["Content-Security-Policy"]
    return {
        name: set(values)
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def test_the_docs_page_runs_only_the_portals_own_files():
    response = Client().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/static/ninja/") for src in sources), sources
    for src in sources:
        assert finders.find(src.removeprefix("/static/")), f"{src} is not a packaged file"
    # the only inline script is Swagger UI's settings, a JSON data block (never run)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline == [' type="application/json" id="swagger-settings"']
    policy = _directives(response)
    assert policy["script-src"] == {"'self'"} and policy["style-src"] == {"'self'"}
    assert policy["img-src"] == {"'self'", "data:"}


def test_data_images_are_allowed_on_the_docs_page_only():
    client = Client()
    for url in ("/", "/courses/", "/api/v1/me"):
        assert _directives(client.get(url))["img-src"] == {"'self'"}, url


def test_every_operation_declares_the_error_shape_it_answers_with():
    schema = Client().get("/api/v1/schema/").json()
    assert schema["openapi"].startswith("3.")
    assert "ErrorOut" in schema["components"]["schemas"]
    missing = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            errors = {
                code: answer for code, answer in operation["responses"].items() if code >= "400"
            }
            for code, answer in errors.items():
                ref = answer["content"]["application/json"]["schema"].get("$ref", "")
                if not ref.endswith("/ErrorOut"):
                    missing.append(f"{method.upper()} {path} {code}")
    assert missing == []
