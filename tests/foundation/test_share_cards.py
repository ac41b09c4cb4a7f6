"""A course or event link pasted into a chat shows a card: the pages carry the
card that courses.selectors.course_share / events.selectors.event_share decide
(Open Graph tags, a description, the mini-program page), escaped and absolute.
Their HTML validity is checked with the other main pages (test_html_valid.py)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings

from courses.selectors import course_share
from courses.tests.factories import CourseFactory, make_session
from events.selectors import event_share
from events.tests.factories import make_event
from members import formatting
from members.sharing import SHARE_DEFAULT_IMAGE, SHARE_SUMMARY_MAX_CHARS

pytestmark = pytest.mark.django_db
BASE = "https://portal.example.cn"


class _Head(HTMLParser):
    """The <meta> tags of a page: {name or property: content}, and the raw tags."""

    def __init__(self):
        super().__init__()
        self.meta: dict[str, str] = {}
        self.canonical: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and ("name" in attrs or "property" in attrs):
            key = attrs.get("property") or attrs["name"]
            assert key not in self.meta, f"{key} twice"
            self.meta[key] = attrs.get("content", "")
        if tag == "link" and attrs.get("rel") == "canonical":
            self.canonical = attrs["href"]


def _head(response) -> _Head:
    assert response.status_code == 200
    parser = _Head()
    parser.feed(response.content.decode())
    return parser


def _assert_card(meta: dict, *, title: str, path: str, miniprogram_path: str):
    assert meta["og:title"] == title
    assert meta["og:type"] == "article"
    assert meta["og:url"] == f"{BASE}{path}"
    assert meta["og:image"] == f"{BASE}/static/{SHARE_DEFAULT_IMAGE}"
    assert finders.find(SHARE_DEFAULT_IMAGE), "the default share picture is a static file"
    assert meta["description"] == meta["og:description"]
    assert 0 < len(meta["description"]) <= SHARE_SUMMARY_MAX_CHARS
    assert "<" not in meta["description"] and "\n" not in meta["description"]
    assert meta["miniprogram-path"] == miniprogram_path


@override_settings(PORTAL_BASE_URL=BASE + "/")
def test_a_course_page_carries_its_share_card_escaped_and_absolute():
    # given a course whose title and text hold markup and a long description
    course = CourseFactory(
        title='亲子沟通 "第一课" <script>',
        summary="",
        body="<p>孩子不愿意说话怎么办？</p>\n\n" + "本课程帮助家长学会倾听。" * 10,
    )
    make_session(course)
    # when a visitor opens the course page
    response = Client().get(f"/courses/{course.pk}/")
    html = response.content.decode()
    head = _head(response)
    # then the card is there, the title escaped in the markup and whole in the tag
    _assert_card(
        head.meta,
        title='亲子沟通 "第一课" <script>',
        path=f"/courses/{course.pk}/",
        miniprogram_path=f"pages/course/detail?id={course.pk}",
    )
    assert 'content="亲子沟通 &quot;第一课&quot; &lt;script&gt;"' in html
    assert head.meta["description"].startswith("孩子不愿意说话怎么办？ 本课程")
    assert head.meta["description"].endswith("…")
    assert head.canonical == f"{BASE}/courses/{course.pk}/"


@override_settings(PORTAL_BASE_URL=BASE)
def test_an_event_page_card_says_when_and_where_first():
    event = make_event(title="家庭教育讲座", description="青春期的孩子 & 父母。", venue="社区礼堂")
    head = _head(Client().get(f"/events/{event.pk}/"))
    _assert_card(
        head.meta,
        title="家庭教育讲座",
        path=f"/events/{event.pk}/",
        miniprogram_path=f"pages/event/detail?id={event.pk}",
    )
    when = formatting.when_label(event.offering.starts_at)
    assert head.meta["description"] == f"{when} · 社区礼堂｜青春期的孩子 & 父母。"


@override_settings(PORTAL_BASE_URL=BASE)
def test_the_pages_show_what_the_selectors_decided():
    # One place decides a card: the API's answers use the same selectors.
    course = CourseFactory(summary="短简介")
    event = make_event(venue="", online_url="https://meeting.example.cn/1")
    course_meta = _head(Client().get(f"/courses/{course.pk}/")).meta
    event_meta = _head(Client().get(f"/events/{event.pk}/")).meta
    for card, meta in ((course_share(course), course_meta), (event_share(event), event_meta)):
        assert (card.title, card.summary, card.image_url, card.url, card.miniprogram_path) == (
            meta["og:title"],
            meta["og:description"],
            meta["og:image"],
            meta["og:url"],
            meta["miniprogram-path"],
        )
    assert course_share(course).summary == "短简介"
    assert "线上" in event_share(event).summary


@override_settings(COURSE_CATALOGUE_CACHE_SECONDS=30)
def test_the_cached_catalogue_and_the_live_course_page_still_work():
    # given a course, and the catalogue's shared anonymous page
    course = CourseFactory(title="旧名称")
    make_session(course)
    first = Client().get("/courses/")
    again = Client().get("/courses/")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content  # the second came from the shared copy
    assert b'property="og:' not in first.content  # a list page has no card of its own
    # when the course is renamed, then its page's card follows at once (never cached)
    course.title = "新名称"
    course.save(update_fields=["title"])
    assert _head(Client().get(f"/courses/{course.pk}/")).meta["og:title"] == "新名称"
