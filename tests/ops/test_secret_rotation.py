"""Rotating DJANGO_SECRET_KEY with the old key in DJANGO_SECRET_KEY_FALLBACKS
(docs/OPERATIONS.md, secrets): families stay signed in; without the fallback
they are all signed out at once."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members.tests.factories import GuardianFactory

pytestmark = pytest.mark.django_db

OLD, NEW = "old-secret-key-" + "x" * 40, "new-secret-key-" + "y" * 40


def _signed_in(client, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    guardian = GuardianFactory()
    client.force_login(guardian.user)
    assert client.get(reverse("portal:my_learning")).status_code == 200
    return guardian


def test_with_the_old_key_as_a_fallback_sessions_survive_the_rotation(client, settings):
    _signed_in(client, settings)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD]
    assert client.get(reverse("portal:my_learning")).status_code == 200


def test_without_the_fallback_everyone_is_signed_out(client, settings):
    _signed_in(client, settings)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, []
    answer = client.get(reverse("portal:my_learning"))
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_the_settings_read_the_fallbacks_from_the_environment(monkeypatch):
    import importlib

    import alliance.settings.base as base

    monkeypatch.setenv("DJANGO_SECRET_KEY_FALLBACKS", f"{OLD},another-old-key")
    try:
        assert importlib.reload(base).SECRET_KEY_FALLBACKS == [OLD, "another-old-key"]
    finally:
        monkeypatch.delenv("DJANGO_SECRET_KEY_FALLBACKS")
        importlib.reload(base)
