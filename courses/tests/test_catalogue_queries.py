"""The catalogue's one counting query (courses.selectors.course_catalogue_page): a
cold page in at most 8 queries, facet counts equal to a direct count of the
courses after the changes that move them, and page numbers that work as links."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db.models import Q

from bookings.models import Offering
from courses import services
from courses.models import Course
from courses.selectors import facet_values_flat
from courses.tests.factories import CourseFactory, ThemeFactory, make_session, stage
from members.models import Region
from members.tests.factories import RegionFactory
from parent_school.tests.factories import ParentSchoolFactory, TermFactory

pytestmark = pytest.mark.django_db

URL = "/courses/"
# A cold page at most: the chosen theme, school and place checked by the filter
# form (3), the regions (1), the courses with free places (1, shared for 30 s),
# the search's ranked matches (1), the counts with the page's ids (1), the cards (1).
COLD_PAGE_MAX_QUERIES = 8


def _data():
    district = RegionFactory(name="渝中区", kind=Region.Kind.DISTRICT)
    street = RegionFactory(name="上清寺街道", kind=Region.Kind.STREET, parent=district)
    other = RegionFactory(name="解放碑街道", kind=Region.Kind.STREET, parent=district)
    schools = [
        ParentSchoolFactory(name="上清寺家长学校", region=street),
        ParentSchoolFactory(name="解放碑家长学校", region=other),
    ]
    themes = [ThemeFactory(name="亲子沟通"), ThemeFactory(name="法治教育")]
    terms = [TermFactory(code="2026-2027-1"), TermFactory(code="2025-2026-2")]
    courses = []
    for i in range(30):
        course = CourseFactory(
            title=f"{'亲子沟通的技巧' if i % 2 else '法治教育讲座'}{i}",
            summary="和孩子一起学沟通" if i % 3 == 0 else "家庭教育",
            themes=[themes[i % 2]] + ([themes[1]] if i % 5 == 0 else []),
            stages=[["primary"], ["junior"], ["primary", "junior"]][i % 3],
            level=list(Course.Level.values)[i % 4],
            mode=list(Course.Mode.values)[i % 3],
            parent_school=schools[i % 2],
            term=terms[i % 2],
        )
        if i % 4:
            session = make_session(course, capacity=2, starts_in=timedelta(days=1 + i))
            if i % 7 == 0:
                Offering.objects.filter(pk=session.offering_id).update(places_taken=2)
        courses.append(course)
    return {
        "regions": (district, street, other),
        "schools": schools,
        "themes": themes,
        "terms": terms,
        "courses": courses,
    }


def test_a_cold_page_with_three_facets_a_search_and_a_page_takes_at_most_8_queries(
    client, django_assert_max_num_queries
):
    # given courses over every facet, and nothing cached
    data = _data()
    params = {
        "q": "沟通 技巧",
        "theme": data["themes"][0].pk,
        "parent_school": data["schools"][0].pk,
        "region": data["regions"][1].pk,
        "page": "1",
    }
    cache.clear()

    # when a parent asks for it
    with django_assert_max_num_queries(COLD_PAGE_MAX_QUERIES):
        response = client.get(URL, params)

    # then the page is the full one
    assert response.status_code == 200
    page = response.context["page_obj"]
    assert page.paginator.count > 0
    assert len(page) == min(page.paginator.count, 12)


def _direct(params: dict, without: str | None = None):
    """The published courses the filters keep, counted straight from the tables."""
    courses = Course.objects.filter(is_published=True)
    for name, value in params.items():
        if name == without:
            continue
        if name == "theme":
            courses = courses.filter(themes=value)
        elif name == "stage":
            courses = courses.filter(stages__code=value)
        elif name in ("level", "mode"):
            courses = courses.filter(**{name: value})
        elif name in ("parent_school", "term"):
            courses = courses.filter(**{f"{name}_id": value})
        elif name == "region":
            below = {int(value)}
            while True:
                more = set(Region.objects.filter(parent__in=below).values_list("pk", flat=True))
                if more <= below:
                    break
                below |= more
            courses = courses.filter(parent_school__region__in=below)
        elif name == "free":
            courses = courses.filter(
                Q(
                    sessions__offering__status=Offering.Status.OPEN,
                    sessions__offering__places_taken__lt=models_f("sessions__offering__capacity"),
                    sessions__offering__starts_at__gt=now(),
                )
            )
    return courses.distinct()


def models_f(name):
    from django.db.models import F

    return F(name)


def now():
    from django.utils import timezone

    return timezone.now()


def _check_every_count(client, params):
    cache.clear()  # the counts, and the 30 s set of courses with free places
    response = client.get(URL, params)
    catalogue = response.context["catalogue"]
    assert response.context["page_obj"].paginator.count == _direct(params).count()
    assert catalogue.free_count == _direct({**params, "free": "true"}, without=None).count()
    for facet, values in catalogue.facets.items():
        shown = {fv.value: fv.count for fv in facet_values_flat(values)}
        for value, count in shown.items():
            assert count == _direct({**params, facet: value}).count(), (facet, value)
        # and no value with courses is missing (the region tree shows places with courses)
        if facet in ("theme", "stage", "level", "mode", "parent_school", "term"):
            field = {
                "theme": "themes",
                "stage": "stages__code",
                "parent_school": "parent_school_id",
                "term": "term_id",
            }.get(facet, facet)
            present = {
                str(v)
                for v in _direct(params, without=facet).values_list(field, flat=True)
                if v is not None
            }
            assert set(shown) == present, facet


@pytest.mark.parametrize(
    "choice",
    ["none", "theme+stage", "region+level", "school+term+mode", "free"],
)
def test_the_counts_equal_a_direct_count_after_every_change_that_moves_them(client, choice):
    # given the catalogue and a choice of filters
    data = _data()
    params = {
        "none": {},
        "theme+stage": {"theme": str(data["themes"][1].pk), "stage": "primary"},
        "region+level": {"region": str(data["regions"][1].pk), "level": "basic"},
        "school+term+mode": {
            "parent_school": str(data["schools"][1].pk),
            "term": str(data["terms"][0].pk),
            "mode": "offline",
        },
        "free": {"free": "true"},
    }[choice]
    _check_every_count(client, params)
    first, second, third = data["courses"][:3]

    # when a theme and a stage are added and removed
    first.themes.add(data["themes"][1])
    second.themes.remove(data["themes"][0])
    third.stages.add(stage("preschool"))
    _check_every_count(client, params)

    # when a course is taken out of the catalogue, and another changes school and level
    services.course_unpublish(course_id=first.pk, unpublished_by=None)
    Course.objects.filter(pk=second.pk).update(
        parent_school=data["schools"][0], level=Course.Level.BASIC
    )
    _check_every_count(client, params)

    # when sessions are added, filled and cancelled
    session = make_session(third, capacity=1, starts_in=timedelta(days=2))
    _check_every_count(client, params)
    Offering.objects.filter(pk=session.offering_id).update(places_taken=1)
    _check_every_count(client, params)
    for s in data["courses"][4].sessions.all():
        services.course_session_cancel(session=s, cancelled_by=None)
    _check_every_count(client, params)

    # when a school moves to another street
    type(data["schools"][0]).objects.filter(pk=data["schools"][0].pk).update(
        region=data["regions"][2]
    )
    _check_every_count(client, params)


def test_page_numbers_one_to_five_are_links_that_keep_working(client):
    # given 60 courses, in catalogue order
    theme = ThemeFactory(name="家庭阅读")
    for i in range(60):
        course = CourseFactory(title=f"阅读课{i:02d}", themes=[theme])
        make_session(course, starts_in=timedelta(days=1, hours=i))
    order = [f"阅读课{i:02d}" for i in range(60)]

    # when each page is asked by its number, with a filter in the link
    for number in range(1, 6):
        response = client.get(URL, {"theme": theme.pk, "page": number})
        page = response.context["page_obj"]

        # then it holds its twelve courses, and links to its neighbours
        assert [c.title for c in page] == order[(number - 1) * 12 : number * 12]
        assert page.number == number and page.paginator.num_pages == 5
        body = response.content.decode()
        if number < 5:
            assert f"page={number + 1}" in body
        if number > 1:
            assert f"page={number - 1}" in body

    # and numbers out of range or not numbers behave as Django's paginator
    assert client.get(URL, {"page": "99"}).context["page_obj"].number == 5
    assert client.get(URL, {"page": "0"}).context["page_obj"].number == 5
    assert client.get(URL, {"page": "2.0"}).context["page_obj"].number == 1
    assert client.get(URL, {"page": "abc"}).context["page_obj"].number == 1
