import pytest

pytestmark = pytest.mark.django_db


def test_choosing_english_sets_the_cookie_and_returns_to_the_page(client):
    response = client.get("/language/", {"language": "en", "next": "/courses/"})
    assert response.status_code == 302
    assert response["Location"] == "/courses/"
    assert response.cookies["django_language"].value == "en"
    assert 'lang="en"' in client.get("/").content.decode()


def test_unknown_languages_and_foreign_next_urls_are_ignored(client):
    response = client.get("/language/", {"language": "xx", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert "django_language" not in response.cookies


def test_pages_for_anonymous_visitors_carry_no_csrf_token(client):
    body = client.get("/").content.decode()
    assert "csrfmiddlewaretoken" not in body
    assert 'action="/language/"' in body
