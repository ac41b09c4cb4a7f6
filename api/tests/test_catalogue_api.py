"""The catalogue through the API: the /courses/ page's facets, search and order,
paged by a keyset cursor that holds when courses are added; a course and a
session with live free places; unpublished and unknown ids are 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client

from api.catalogue import CatalogueOut
from bookings.models import Offering
from courses.tests.factories import CourseFactory, make_session
from courses.tests.test_catalogue import _bulk_courses
from courses.tests.test_catalogue_queries import _data

pytestmark = pytest.mark.django_db

URL = "/api/v1/catalogue/courses"
PAGE = "/courses/"
# As the page (courses/tests/test_catalogue_queries.py): the chosen values checked by
# the filter form (3), the regions, the counts with the page's ids, the cards, and
# the search's and free places' shared parts.
COLD_MAX_QUERIES = 8
WARM_MAX_QUERIES = 5


@pytest.fixture(autouse=True)
def _no_shared_pages(settings):
    settings.COURSE_CATALOGUE_CACHE_SECONDS = 0  # the page's context, rendered each time
    cache.clear()


def _page(client, params):
    response = client.get(PAGE, params)
    assert response.status_code == 200
    return response.context


def _all_api_ids(client, params, *, limit=5):
    ids, cursor = [], None
    while True:
        answer = client.get(
            URL, {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        )
        assert answer.status_code == 200, answer.content
        body = answer.json()
        ids.extend(item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return ids, body


def _facets_plain(facets):
    def plain(values):
        return [(v.value, v.label, v.count, v.selected, plain(v.children)) for v in values]

    return {name: plain(values) for name, values in facets.items()}


def _facets_json(facets):
    def plain(values):
        return [
            (v["value"], v["label"], v["count"], v["selected"], plain(v["children"]))
            for v in values
        ]

    return {name: plain(values) for name, values in facets.items()}


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"q": "沟通 技巧"},
        {"theme": "first-theme", "mode": "offline"},
        {"region": "street", "free": "true"},
        {"q": "法治", "parent_school": "second-school", "stage": "junior"},
    ],
)
def test_the_api_lists_what_the_page_lists_with_the_same_facet_counts(query):
    # given courses over every facet
    data = _data()
    refs = {
        "first-theme": data["themes"][0].pk,
        "street": data["regions"][1].pk,
        "second-school": data["schools"][1].pk,
    }
    params = {name: refs.get(value, value) for name, value in query.items()}
    client = Client()

    # when the page and the API are asked the same question
    context = _page(client, {**params, "page": 1})
    total = context["page_obj"].paginator.count
    page_ids = [c.pk for c in context["page_obj"]]
    for number in range(2, context["page_obj"].paginator.num_pages + 1):
        page_ids += [c.pk for c in _page(client, {**params, "page": number})["page_obj"]]
    api_ids, last = _all_api_ids(client, params, limit=5)

    # then the API's pages, end to end, are the page's cards in the page's order
    assert total > 0
    assert api_ids == page_ids
    assert len(api_ids) == total == last["total"] == len(set(api_ids))
    assert _facets_json(last["facets"]) == _facets_plain(context["catalogue"].facets)
    assert last["free_count"] == context["catalogue"].free_count


def test_the_cursor_holds_when_courses_are_added_while_a_client_pages():
    # given 9 courses, and a client that has read the first page of 4
    courses = [CourseFactory(title=f"课程{i}") for i in range(9)]
    for i, course in enumerate(courses[:6]):
        make_session(course, starts_in=timedelta(days=2 + i))
    client = Client()
    first = client.get(URL, {"limit": 4}).json()
    seen = [item["id"] for item in first["items"]]

    # when a course that sorts first and one that sorts last are added meanwhile
    soonest = CourseFactory(title="新开的课")
    make_session(soonest, starts_in=timedelta(hours=30))
    CourseFactory(title="没有场次的新课")
    rest, cursor = [], first["next_cursor"]
    while cursor:
        body = client.get(URL, {"limit": 4, "cursor": cursor}).json()
        rest += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]

    # then no course is shown twice or skipped; the one before the cursor is not shown
    before = {c.pk for c in courses}
    assert len(seen + rest) == len(set(seen + rest))
    assert before <= set(seen + rest)
    assert soonest.pk not in rest


def test_a_ranked_search_pages_in_rank_order_without_gaps():
    # given courses that match a search better or worse, many with equal ranks
    for i in range(7):
        course = CourseFactory(title=f"亲子沟通技巧{i}", summary="沟通")
        if i % 2:
            make_session(course, starts_in=timedelta(days=1 + i))
    for i in range(6):
        CourseFactory(title=f"家庭教育{i}", summary="谈谈沟通")
    client = Client()

    # when the results are read 3 at a time
    ids, last = _all_api_ids(client, {"q": "亲子沟通"}, limit=3)

    # then they are the page's results in its order
    page_ids = [c.pk for c in _page(client, {"q": "亲子沟通"})["page_obj"]]
    assert ids == page_ids and len(ids) == last["total"] >= 7


def test_a_cursor_is_for_its_own_query_only():
    for i in range(4):
        CourseFactory(title=f"课程{i}")
    client = Client()
    cursor = client.get(URL, {"limit": 2}).json()["next_cursor"]
    answer = client.get(URL, {"limit": 2, "cursor": cursor, "mode": "online"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_cursor" and "cursor" in answer.json()["fields"]
    assert client.get(URL, {"cursor": "nonsense"}).status_code == 400


def test_a_catalogue_page_takes_the_same_few_queries_for_3_or_40_courses(
    django_assert_max_num_queries,
):
    client = Client()
    data = _data()
    params = {
        "q": "沟通 技巧",
        "theme": data["themes"][0].pk,
        "parent_school": data["schools"][0].pk,
        "region": data["regions"][1].pk,
    }
    cache.clear()
    with django_assert_max_num_queries(COLD_MAX_QUERIES):
        cold = client.get(URL, {**params, "limit": 3})
    assert cold.status_code == 200 and len(cold.json()["items"]) == 3
    _bulk_courses(40)
    cache.clear()
    with django_assert_max_num_queries(COLD_MAX_QUERIES):
        many = client.get(URL, {"limit": 40})
    assert len(many.json()["items"]) == 40
    # Warm: the facet counts are shared, as for the page.
    with django_assert_max_num_queries(WARM_MAX_QUERIES):
        assert client.get(URL, {"limit": 40}).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"theme": "abc"}, "theme"),
        ({"theme": "99999999"}, "theme"),
        ({"date_from": "tomorrow"}, "date_from"),
        ({"level": "<script>"}, "level"),
        ({"limit": "many"}, "limit"),
        ({"limit": "100000000000000000000000"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"q": "a\x00b"}, "q"),
    ],
)
def test_bad_parameters_are_a_4xx_naming_the_field_never_a_500(params, field):
    CourseFactory()
    answer = Client().get(URL, params)
    assert 400 <= answer.status_code < 500
    body = answer.json()
    assert field in body["fields"] and body["message"]


def test_a_course_shows_its_upcoming_sessions_with_live_free_places_and_share_card():
    course = CourseFactory(title="亲子沟通的艺术", summary="学会倾听孩子")
    session = make_session(course, capacity=5)
    Offering.objects.filter(pk=session.offering_id).update(places_taken=3)
    make_session(course, starts_in=-timedelta(days=3))  # over: not listed

    body = Client().get(f"{URL}/{course.pk}").json()

    assert body["title"] == "亲子沟通的艺术"
    assert [s["id"] for s in body["sessions"]] == [session.pk]
    row = body["sessions"][0]
    assert row["free_places"] == 2 and row["capacity"] == 5
    assert row["decision"]["can_book"] is True and row["decision"]["my_booking"] is None
    share = body["share"]
    assert share["title"] == "亲子沟通的艺术"
    assert share["miniprogram_path"] == f"pages/course/detail?id={course.pk}"
    assert share["image_url"].startswith("http") and share["url"].endswith(f"/courses/{course.pk}/")


def test_a_session_shows_live_free_places():
    session = make_session(CourseFactory(), capacity=4)
    client = Client()
    assert client.get(f"/api/v1/catalogue/sessions/{session.pk}").json()["free_places"] == 4
    Offering.objects.filter(pk=session.offering_id).update(places_taken=4)
    body = client.get(f"/api/v1/catalogue/sessions/{session.pk}").json()
    assert body["free_places"] == 0 and body["decision"]["joins_waiting_list"] is True


@pytest.mark.parametrize("path", ["courses", "sessions"])
def test_unpublished_unknown_and_huge_ids_are_404_or_422(path):
    hidden = CourseFactory(is_published=False)
    session = make_session(hidden)
    thing = hidden.pk if path == "courses" else session.pk
    client = Client()
    assert client.get(f"/api/v1/catalogue/{path}/{thing}").status_code == 404
    assert client.get(f"/api/v1/catalogue/{path}/987654321").status_code == 404
    assert client.get(f"/api/v1/catalogue/{path}/99999999999999999999999").status_code == 422
    assert client.get(f"/api/v1/catalogue/{path}/abc").status_code == 422


def test_the_answer_matches_its_declared_schema():
    data = _data()
    body = Client().get(URL, {"region": data["regions"][0].pk, "limit": 3}).json()
    assert CatalogueOut.model_validate(body).model_dump(mode="json")["items"][0]["id"]
    assert body["facets"]["region"][0]["children"]  # the region tree, nested


def test_the_answer_is_shared_for_the_catalogues_seconds_like_the_pages_content(
    settings, django_assert_num_queries
):
    settings.COURSE_CATALOGUE_CACHE_SECONDS = 30
    course = CourseFactory(title="共享的课")
    client = Client()
    first = client.get(URL).content
    with django_assert_num_queries(0):
        again = client.get(URL)
    assert again.content == first and again["Content-Type"].startswith("application/json")
    # Another question, or the course's own answer, is its own and live.
    assert client.get(URL, {"limit": 1}).json()["items"][0]["id"] == course.pk
    settings.COURSE_CATALOGUE_CACHE_SECONDS = 0
    CourseFactory(title="新课")
    assert client.get(URL).json()["total"] == 2
