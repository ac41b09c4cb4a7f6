"""Booking forms for courses and events pre-select family members the same way and
say plainly whether a child is included (bookings/party.py, the shared partial)."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from bookings import services
from bookings.models import Booking
from bookings.party import attendee_label, guardian_label, party_for_form
from courses.models import Course
from courses.tests.factories import CourseFactory, make_session
from events.models import Event
from events.tests.factories import make_event
from members.tests.factories import ChildFactory, GuardianFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def family(client):
    """王妈妈 (signed in), a phone-only father without a display name, and 小明."""
    mother = GuardianFactory(user=UserFactory(display_name="王妈妈"), relation="mother")
    father = GuardianFactory(
        family=mother.family,
        relation="father",
        phone="13800001234",
        user=UserFactory(username="u6eebf07aa0fb", display_name="", phone="13800001234"),
    )
    child = ChildFactory(family=mother.family, nickname="小明", stage="primary")
    client.force_login(mother.user)
    return mother, father, child


def test_people_are_named_without_the_generated_username(family):
    mother, father, _child = family
    assert guardian_label(mother) == "王妈妈"
    assert guardian_label(father) == "138****1234"
    nameless = GuardianFactory(phone="", user=UserFactory(display_name="", phone=None))
    assert guardian_label(nameless) == nameless.get_relation_display()


@pytest.mark.parametrize(
    ("audience", "children_ticked"),
    [
        (Course.Audience.PARENTS, False),
        (Course.Audience.PARENT_CHILD, True),
        (Course.Audience.STUDENTS, True),
        (Event.Audience.PARENTS, False),
        (Event.Audience.FAMILIES, True),
        (Event.Audience.EDUCATORS, False),
    ],
)
def test_the_signed_in_guardian_is_ticked_and_children_follow_the_audience(
    family, audience, children_ticked
):
    mother, father, child = family
    party = party_for_form(
        guardians=[mother, father], children=[child], me_guardian_id=mother.pk, audience=audience
    )
    assert [(m.pk, m.checked, m.is_me) for m in party.guardians] == [
        (mother.pk, True, True),
        (father.pk, False, False),
    ]
    assert [(m.pk, m.checked) for m in party.children] == [(child.pk, children_ticked)]
    assert party.children_expected is children_ticked


def _checked(page: str) -> set[tuple[str, str]]:
    """(name, value) of the ticked checkboxes of the booking form."""
    return set(re.findall(r'<input type="checkbox" name="(\w+)" value="(\d+)"[^>]* checked>', page))


def _summary(page: str) -> str:
    return re.search(r'<p class="party-summary"[^>]*>([^<]*)</p>', page).group(1)


def test_course_and_event_forms_tick_the_same_people_for_a_parents_audience(client, family):
    mother, father, child = family
    course = CourseFactory(audience=Course.Audience.PARENTS)
    make_session(course)
    event = make_event(audience=Event.Audience.PARENTS)

    course_page = client.get(reverse("courses:detail", args=[course.pk])).content.decode()
    event_page = client.get(reverse("events:detail", args=[event.pk])).content.decode()

    # the same people are ticked on both forms (each under its own field names)
    assert _checked(course_page) == {("guardian", str(mother.pk))}
    assert _checked(event_page) == {("guardians", str(mother.pk))}
    for page in (course_page, event_page):
        assert "我（王妈妈）" in page
        assert "138****1234（爸爸）" in page and "u6eebf07aa0fb" not in page
        assert "小明（孩子 · " in page
        # and it is plain that the child is not included
        assert "默认不带孩子" in page
        assert _summary(page) == "本次报名 1 人：我（不带孩子）"
        assert page.count("js/party-summary.js") == 1


def test_for_a_family_audience_the_child_is_ticked_and_the_summary_says_so(client, family):
    mother, _father, child = family
    course = CourseFactory(audience=Course.Audience.PARENT_CHILD)
    make_session(course)
    make_session(course)  # two forms on the page, one script
    event = make_event(audience=Event.Audience.FAMILIES)

    course_page = client.get(reverse("courses:detail", args=[course.pk])).content.decode()
    event_page = client.get(reverse("events:detail", args=[event.pk])).content.decode()

    assert {("child", str(child.pk)), ("guardian", str(mother.pk))} == _checked(course_page)
    assert {("children", str(child.pk)), ("guardians", str(mother.pk))} == _checked(event_page)
    for page in (course_page, event_page):
        assert "已为您勾选孩子" in page
        assert _summary(page) == "本次报名 2 人：我、小明（含孩子 1 人）"
    assert course_page.count("js/party-summary.js") == 1


def test_a_family_without_children_is_told_the_booking_is_for_parents_only(client):
    guardian = GuardianFactory(user=UserFactory(display_name="李爸爸"))
    client.force_login(guardian.user)
    event = make_event(audience=Event.Audience.FAMILIES)

    page = client.get(reverse("events:detail", args=[event.pk])).content.decode()

    assert "家庭里还没有孩子的信息，本次只为家长报名。" in page
    assert f'href="{reverse("members:child_add")}"' in page


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_booking_message_says_whether_a_child_is_included(client, family):
    mother, _father, child = family
    with_child = make_session(CourseFactory(), capacity=5)
    without = make_session(CourseFactory(), capacity=5)
    event = make_event()

    first = client.post(
        reverse("courses:book", args=[with_child.pk]),
        {"guardian": [mother.pk], "child": [child.pk]},
    )
    second = client.post(reverse("courses:book", args=[without.pk]), {"guardian": [mother.pk]})
    third = client.post(reverse("events:register", args=[event.pk]), {"guardians": [mother.pk]})

    # (each response adds its message to the ones not shown yet: the last is its own)
    assert _messages(first)[-1] == "报名成功！已为 2 人保留名额（含孩子 1 人）。"
    assert _messages(second)[-1] == "报名成功！已为 1 人保留名额（不含孩子）。"
    assert _messages(third)[-1].endswith("共 1 人（不含孩子）。")
    assert Booking.objects.filter(family=mother.family, status="confirmed").count() == 3


def test_attendees_read_as_the_family_says_them(family):
    mother, father, child = family
    session = make_session(CourseFactory())

    booking = services.booking_create(
        offering_id=session.offering_id,
        family=mother.family,
        booked_by=mother.user,
        guardian_ids=[mother.pk, father.pk],
        child_ids=[child.pk],
    )
    labels = sorted(attendee_label(a, me_guardian_id=mother.pk) for a in booking.attendees.all())
    assert labels == sorted(["我", "138****1234", "小明（孩子）"])
