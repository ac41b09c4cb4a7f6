from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.models import Offering
from courses.models import Course, CourseSession
from courses.services import course_next_session_refresh
from courses.tests.factories import CourseFactory, ThemeFactory, make_session
from members.formatting import when_label
from members.tests.factories import GuardianFactory, RegionFactory
from parent_school.tests.factories import ParentSchoolFactory, TermFactory

pytestmark = pytest.mark.django_db

URL = "/courses/"
# A search page on PostgreSQL (courses.selectors.course_catalogue_page): the chosen
# values checked by the filter form, the regions, the courses with free places, the
# search's ranked matches (one statement), every count with the page's ids (one), and
# the page's cards (one); at most 8 (test_catalogue_queries.py).
SEARCH_PAGE_MAX_QUERIES = 8


def titles(response):
    return [c.title for c in response.context["page_obj"]]


def test_published_courses_are_listed_by_next_session(client):
    # given three published courses with sessions at different times, one unpublished
    later = CourseFactory(title="家庭教育指导（后）")
    sooner = CourseFactory(title="家庭教育指导（先）")
    none_yet = CourseFactory(title="暂无场次的课程")
    CourseFactory(title="未发布的课程", is_published=False)
    make_session(later, starts_in=timedelta(days=9))
    make_session(sooner, starts_in=timedelta(days=2))

    # when the catalogue opens
    response = client.get(URL)

    # then the next session comes first, courses without sessions last
    assert response.status_code == 200
    assert titles(response) == [sooner.title, later.title, none_yet.title]
    assert reverse("courses:catalogue") == URL


def test_keyword_search_finds_chinese_substrings_in_title_and_summary(client):
    CourseFactory(title="亲子沟通的艺术", summary="")
    CourseFactory(title="心理健康讲座", summary="帮助孩子学会沟通情绪")
    CourseFactory(title="科学与AI启蒙", summary="人工智能")

    response = client.get(URL, {"q": "沟通"})

    assert sorted(titles(response)) == ["亲子沟通的艺术", "心理健康讲座"]


def test_facets_filter_and_show_counts_per_value(client):
    # given courses with different themes and levels
    law = ThemeFactory(name="法治教育")
    health = ThemeFactory(name="健康教育")
    CourseFactory(title="法治一", themes=[law], level=Course.Level.BASIC, stages=["primary"])
    CourseFactory(title="法治二", themes=[law], level=Course.Level.GENERAL, stages=["junior"])
    CourseFactory(title="健康一", themes=[health], level=Course.Level.BASIC, stages=["primary"])

    # when filtering by a theme
    response = client.get(URL, {"theme": law.pk})

    # then only that theme's courses are listed
    assert sorted(titles(response)) == ["法治一", "法治二"]
    facets = response.context["catalogue"].facets
    # the theme facet ignores its own choice, so other themes stay visible with counts
    theme_counts = {fv.label: fv.count for fv in facets["theme"]}
    assert theme_counts == {"法治教育": 2, "健康教育": 1}
    assert [fv.label for fv in facets["theme"] if fv.selected] == ["法治教育"]
    # other facets count within the chosen theme
    assert {fv.value: fv.count for fv in facets["level"]} == {"basic": 1, "general": 1}
    assert {fv.value: fv.count for fv in facets["stage"]} == {"primary": 1, "junior": 1}
    assert "法治教育（2）" in response.content.decode()

    # and combining facets narrows further
    response = client.get(URL, {"theme": law.pk, "stage": "junior"})
    assert titles(response) == ["法治二"]


def test_level_mode_parent_school_and_term_filters(client):
    school = ParentSchoolFactory(name="上清寺社区家长学校")
    term = TermFactory(code="2026-2027-1")
    target = CourseFactory(
        title="目标课程", parent_school=school, term=term, mode=Course.Mode.ONLINE
    )
    CourseFactory(title="其他课程", mode=Course.Mode.ONLINE)

    params = {"parent_school": school.pk, "term": term.pk, "mode": "online", "level": "general"}
    response = client.get(URL, params)

    assert titles(response) == [target.title]


def test_a_street_matches_parent_schools_in_its_communities(client):
    street = RegionFactory(name="上清寺街道")
    community = RegionFactory(name="中山四路社区", kind="community", parent=street)
    CourseFactory(title="社区课程", parent_school=ParentSchoolFactory(region=community))
    CourseFactory(title="街道课程", parent_school=ParentSchoolFactory(region=street))
    CourseFactory(title="别处课程")

    response = client.get(URL, {"region": street.pk})

    assert sorted(titles(response)) == ["社区课程", "街道课程"]


def test_has_free_seats_and_date_range(client):
    full = CourseFactory(title="已满课程")
    session = make_session(full, capacity=1, starts_in=timedelta(days=5))
    Offering.objects.filter(pk=session.offering_id).update(places_taken=1)
    free = CourseFactory(title="有空位课程")
    make_session(free, capacity=5, starts_in=timedelta(days=20))

    response = client.get(URL, {"free": "true"})
    assert titles(response) == ["有空位课程"]
    assert response.context["catalogue"].free_count == 1

    day = (timezone.localtime() + timedelta(days=5)).date()
    response = client.get(URL, {"date_from": day.isoformat(), "date_to": day.isoformat()})
    assert titles(response) == ["已满课程"]


@pytest.mark.parametrize(
    "query",
    [
        "?page=abc",
        "?page=-1",
        "?page=99999",
        "?theme=999999",
        "?theme=abc",
        "?parent_school=1%27%20OR%201=1",
        "?region=<script>alert(1)</script>",
        "?q=<script>alert(1)</script>",
        "?stage=university&level=nope&mode=&term=0",
        "?date_from=2026-13-45&date_to=yesterday",
        "?free=maybe",
        "?q=" + "长" * 500,
        "?theme=1&theme=2",
        "?page=1.5&unknown=1",
    ],
)
def test_nonsense_in_the_query_string_gives_a_normal_page(client, query):
    CourseFactory(title="正常课程")

    response = client.get(URL + query)

    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "正常课程" in body or "没有符合条件的课程" in body


def _bulk_courses(count: int):
    """Many courses with a theme and a session each, inserted in bulk."""
    school = ParentSchoolFactory()
    term = TermFactory()
    theme = ThemeFactory(name="家庭教育指导")
    courses = Course.objects.bulk_create(
        [
            Course(
                title=f"批量课程{i}",
                summary="家庭教育",
                audience=Course.Audience.PARENTS,
                level=Course.Level.GENERAL,
                mode=Course.Mode.OFFLINE,
                parent_school=school,
                term=term,
                is_published=True,
            )
            for i in range(count)
        ]
    )
    Course.themes.through.objects.bulk_create(
        [Course.themes.through(course_id=c.pk, theme_id=theme.pk) for c in courses]
    )
    start = timezone.now() + timedelta(days=1)
    offerings = Offering.objects.bulk_create(
        [
            Offering(
                kind=Offering.Kind.COURSE_SESSION,
                title=c.title,
                unit=school.host_unit,
                starts_at=start + timedelta(minutes=i),
                ends_at=start + timedelta(minutes=i, hours=2),
                capacity=20,
            )
            for i, c in enumerate(courses)
        ]
    )
    CourseSession.objects.bulk_create(
        [CourseSession(course=c, offering=o) for c, o in zip(courses, offerings, strict=True)]
    )
    # Bulk loads bypass the session service, so they refresh the catalogue order themselves.
    course_next_session_refresh(course_ids=[c.pk for c in courses])
    return theme


def _count_queries(client, params) -> int:
    cache.clear()  # measure the full page, facet counts included
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_number_of_queries_is_the_same_for_10_and_1000_courses(
    client, django_assert_max_num_queries
):
    # given 10 courses
    theme = _bulk_courses(10)
    params = {"theme": theme.pk, "q": "批量课程", "free": "true", "page": "1"}
    with django_assert_max_num_queries(SEARCH_PAGE_MAX_QUERIES):
        client.get(URL, params)
    small = _count_queries(client, params)

    # when there are 1,000 more
    _bulk_courses(1000)
    large = _count_queries(client, params)

    # then the page costs exactly the same number of queries
    assert small == large
    with django_assert_max_num_queries(SEARCH_PAGE_MAX_QUERIES):
        response = client.get(URL, params)
    assert len(response.context["page_obj"]) == 12


def test_facet_counts_are_shared_for_a_minute_and_cards_stay_live(client):
    # given a course with free places, counted once
    theme = _bulk_courses(3)
    params = {"theme": theme.pk}
    first = _count_queries(client, params)

    # when the same filters are asked again
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params)

    # then the facet counts come from the cache: fewer queries, same numbers
    assert len(captured.captured_queries) < first
    facet = response.context["catalogue"].facets["theme"]
    assert [(fv.label, fv.count) for fv in facet if fv.selected] == [(theme.name, 3)]


def test_the_catalogue_order_moves_on_when_a_session_starts(client):
    # given course A whose only upcoming session is sooner than course B's
    a = CourseFactory(title="先开课")
    b = CourseFactory(title="后开课")
    session_a = make_session(a, starts_in=timedelta(days=1))
    make_session(a, starts_in=timedelta(days=30))
    make_session(b, starts_in=timedelta(days=10))
    assert titles(client.get(URL))[:2] == ["先开课", "后开课"]

    # when A's first session starts and the beat sweep runs
    Offering.objects.filter(pk=session_a.offering_id).update(
        starts_at=timezone.now() - timedelta(minutes=5)
    )
    Course.objects.filter(pk=a.pk).update(next_session_at=timezone.now() - timedelta(minutes=5))
    from courses.tasks import course_next_session_sweep

    moved = course_next_session_sweep.delay().get()

    # then only the stale course was recomputed, and B now comes first
    assert moved == 1
    a.refresh_from_db()
    assert a.next_session_at > timezone.now() + timedelta(days=29)
    assert titles(client.get(URL))[:2] == ["后开课", "先开课"]


def test_the_catalogue_content_is_shared_between_visitors_for_a_few_seconds(client, settings):
    # given the shared-content cache on, as in production
    settings.COURSE_CATALOGUE_CACHE_SECONDS = 30
    course = CourseFactory(title="家庭教育指导")
    make_session(course, starts_in=timedelta(days=3))
    first = client.get(URL, {"q": "家庭"})
    assert "家庭教育指导" in first.content.decode()

    # when another visitor asks the same page
    with CaptureQueriesContext(connection) as captured:
        again = client.get(URL, {"q": "家庭"})

    # then it is served without touching the database, and reads the same
    assert captured.captured_queries == []
    assert again.content.decode().count("家庭教育指导") == first.content.decode().count(
        "家庭教育指导"
    )

    # and another language or another query string is rendered on its own
    english = client.get(URL, {"q": "家庭"}, HTTP_COOKIE="django_language=en")
    assert 'lang="en"' in english.content.decode()
    assert "家庭教育指导" not in client.get(URL, {"q": "不存在的课程"}).content.decode()


def test_anonymous_visitors_share_the_whole_page_but_signed_in_users_never_get_it(client, settings):
    # given the cache on and a published course
    settings.COURSE_CATALOGUE_CACHE_SECONDS = 30
    make_session(CourseFactory(title="家庭教育指导"), starts_in=timedelta(days=3))
    anonymous_first = client.get(URL)

    # when a second anonymous visitor and a signed-in parent ask the same page
    with CaptureQueriesContext(connection) as captured:
        anonymous_again = client.get(URL)
    parent = GuardianFactory(user__display_name="王妈妈").user
    client.force_login(parent)
    signed_in = client.get(URL)

    # then the anonymous page is shared as is, with no token or cookie in it
    assert captured.captured_queries == []
    assert anonymous_again.content == anonymous_first.content
    assert "csrfmiddlewaretoken" not in anonymous_first.content.decode()
    assert "Cookie" in anonymous_again["Vary"]
    assert not anonymous_again.cookies
    # and the parent gets their own header (sign-out form), never the shared page
    assert "王妈妈" not in anonymous_first.content.decode()
    assert "csrfmiddlewaretoken" in signed_in.content.decode()


def test_cards_show_the_live_next_session_and_whether_seats_are_free(client):
    # given a full course and one with free places
    full = CourseFactory(title="已满课程")
    session = make_session(full, capacity=1, starts_in=timedelta(days=5))
    Offering.objects.filter(pk=session.offering_id).update(places_taken=1)
    make_session(CourseFactory(title="有空位课程"), capacity=5, starts_in=timedelta(days=6))

    # when the catalogue opens
    response = client.get(URL)

    # then each card says so, with its next session in Shanghai time
    cards = {c.title: c for c in response.context["page_obj"]}
    assert cards["已满课程"].has_free is False
    assert cards["有空位课程"].has_free is True
    assert cards["已满课程"].next_start == session.offering.starts_at
    body = response.content.decode()
    assert "已满，可候补" in body and "有空位" in body
    assert when_label(session.offering.starts_at) in body  # 12月3日 周三 18:00


def test_the_filter_panel_counts_its_own_filters_not_the_search_words(client):
    # given a course, searched for by a word and then also filtered by its level
    course = CourseFactory(title="亲子沟通的技巧")

    # when the catalogue is searched only, then also filtered
    searched = client.get(URL, {"q": "沟通"})
    filtered = client.get(URL, {"q": "沟通", "level": course.level})

    # then only the panel's own filter is counted in its badge, and the lessons are linked
    assert searched.context["active_filters"] == 0
    assert "已选" not in searched.content.decode()
    assert filtered.context["active_filters"] == 1
    assert "已选 1 项" in filtered.content.decode()
    assert reverse("courses:lessons") in searched.content.decode()
