"""The Content-Security-Policy header: what it allows, nonces, and the shared catalogue."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.shortcuts import render
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.safestring import mark_safe

import courses.views
from courses.tests.factories import CourseFactory, make_session
from members.tests.factories import GuardianFactory

pytestmark = pytest.mark.django_db

CATALOGUE = reverse("courses:catalogue")


def _directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_pages_allow_only_the_portals_own_origin(client):
    # when any page is asked, as a visitor or as a parent, and a page that is not found
    home = client.get("/")
    missing = client.get("/no-such-page/")
    client.force_login(GuardianFactory().user)
    family = client.get(reverse("members:family"))

    for response in (home, missing, family):
        # then the policy names only 'self' (and 'none'), with no inline scripts
        policy = _directives(response)
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'"
        assert policy["style-src"] == "'self'"
        assert policy["object-src"] == "'none'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["base-uri"] == "'self'" and policy["form-action"] == "'self'"
        assert "unsafe" not in response["Content-Security-Policy"]


def test_an_inline_style_carries_the_responses_own_nonce(client):
    # given a parent downloading their data as a standalone HTML page (styles inline)
    client.force_login(GuardianFactory().user)

    # when it is downloaded twice
    first = client.get(reverse("members:my_data_html"))
    second = client.get(reverse("members:my_data_html"))

    # then each copy's <style> carries the nonce its own header allows
    nonces = []
    for response in (first, second):
        tag = re.search(r'<style nonce="([^"]+)">', response.content.decode())
        assert tag is not None
        assert f"'nonce-{tag.group(1)}'" in _directives(response)["style-src"]
        nonces.append(tag.group(1))
    assert nonces[0] != nonces[1]


def _script(request) -> str:
    return f'<script nonce="{request.csp_nonce}">var shown = 1;</script>'


def _body_with_script(name, context, request):
    # the shared body (courses/_catalogue_body.html) with an inline script
    return mark_safe(render_to_string(name, context, request=request) + _script(request))


def _page_with_script(request, *args, **kwargs):
    # the page around it (courses/catalogue.html) with an inline script
    response = render(request, *args, **kwargs)
    response.content += _script(request).encode()
    return response


@pytest.mark.parametrize(
    "part, fake", [("render_to_string", _body_with_script), ("render", _page_with_script)]
)
def test_a_catalogue_page_that_used_a_nonce_is_never_shared(
    client, settings, monkeypatch, part, fake
):
    # given the shared catalogue cache on, and a catalogue whose shared body, or
    # the page around it, has an inline script with a nonce
    settings.COURSE_CATALOGUE_CACHE_SECONDS = 30
    make_session(CourseFactory(title="家庭教育指导"), starts_in=timedelta(days=3))
    monkeypatch.setattr(courses.views, part, fake)
    first = client.get(CATALOGUE)

    # when a second anonymous visitor asks the same page
    second = client.get(CATALOGUE)

    # then each response carries its own nonce, the one its own header allows:
    # no copy with an older nonce was shared
    nonces = []
    for response in (first, second):
        in_page = re.findall(r'<script nonce="([^"]+)">', response.content.decode())
        assert len(in_page) == 1
        assert f"'nonce-{in_page[0]}'" in _directives(response)["script-src"]
        nonces.append(in_page[0])
    assert nonces[0] != nonces[1]


def test_a_catalogue_page_without_a_nonce_is_still_shared(client, settings):
    # given the cache on (the pages use no nonce: their scripts are static files)
    settings.COURSE_CATALOGUE_CACHE_SECONDS = 30
    make_session(CourseFactory(title="家庭教育指导"), starts_in=timedelta(days=3))
    client.get(CATALOGUE)

    # when the page is asked again, it comes from the shared copy with the policy
    with CaptureQueriesContext(connection) as captured:
        again = client.get(CATALOGUE)
    assert captured.captured_queries == []
    assert _directives(again)["script-src"] == "'self'"
