"""Lesson videos are served by a view that checks who may see them, with HTTP
range requests (206, Content-Range, 416) in the embedded default and handed to
nginx by X-Accel-Redirect behind the proxy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from courses.streaming import RangeNotSatisfiable, byte_range
from courses.tests.factories import TEST_POSTER, TEST_VIDEO, CourseFactory, OnlineLessonFactory

pytestmark = pytest.mark.django_db

VIDEO = TEST_VIDEO.read_bytes()
SIZE = len(VIDEO)


@pytest.fixture
def lesson(lesson_media):
    return OnlineLessonFactory(uploaded=True)


def get(client, lesson, **headers):
    return client.get(reverse("courses:lesson_video", args=[lesson.pk]), headers=headers)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_whole_video_without_a_range(client, lesson):
    response = get(client, lesson)
    assert response.status_code == 200
    assert response["Content-Type"] == "video/webm"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(SIZE)
    assert response["Content-Disposition"] == "inline"
    assert "Content-Range" not in response
    assert body(response) == VIDEO


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=0-0", 0, 0),
        ("bytes=100-", 100, SIZE - 1),
        ("bytes=-50", SIZE - 50, SIZE - 1),
        (f"bytes=1000-{SIZE * 10}", 1000, SIZE - 1),  # past the end: up to the end
        (f"bytes=-{SIZE * 2}", 0, SIZE - 1),  # a suffix longer than the file: all of it
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),
        (" bytes = 10-19 ", 10, 19),
    ],
)
def test_a_range_gets_206_with_exactly_those_bytes(client, lesson, header, first, last):
    response = get(client, lesson, Range=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == VIDEO[first : last + 1]


@pytest.mark.parametrize(
    "header",
    [
        f"bytes={SIZE}-",
        f"bytes={SIZE + 5}-{SIZE + 10}",
        "bytes=-0",
        "bytes=5-2",
        "bytes=abc",
        "bytes=",
        "bytes=-",
        "bytes=1-2,x",
    ],
)
def test_a_range_outside_the_file_or_malformed_gets_416(client, lesson, header):
    response = get(client, lesson, Range=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"


def test_several_ranges_or_another_unit_get_the_whole_file(client, lesson):
    for header in ("bytes=0-9,20-29", "items=0-5"):
        response = get(client, lesson, Range=header)
        assert response.status_code == 200
        assert body(response) == VIDEO


def test_if_range_serves_the_range_only_for_the_same_file(client, lesson):
    etag = get(client, lesson)["ETag"]
    assert get(client, lesson, Range="bytes=0-9", If_Range=etag).status_code == 206
    stale = get(client, lesson, Range="bytes=0-9", If_Range='"0-0"')
    assert stale.status_code == 200 and body(stale) == VIDEO
    modified = get(client, lesson)["Last-Modified"]
    assert get(client, lesson, Range="bytes=0-9", If_Range=modified).status_code == 206
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert get(client, lesson, Range="bytes=0-9", If_Range=old).status_code == 200


def test_a_cached_copy_is_confirmed_with_304(client, lesson):
    etag = get(client, lesson)["ETag"]
    response = get(client, lesson, If_None_Match=etag)
    assert response.status_code == 304
    assert response.content == b""


def test_head_gives_the_headers_without_the_bytes(client, lesson):
    url = reverse("courses:lesson_video", args=[lesson.pk])
    response = client.head(url, headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response["Content-Length"] == "100"
    assert response.content == b""
    assert client.post(url).status_code == 405


def test_the_poster_is_served_too(client, lesson):
    response = client.get(reverse("courses:lesson_poster", args=[lesson.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert body(response) == TEST_POSTER.read_bytes()


def test_only_lessons_the_visitor_may_see_are_served(client, lesson_media):
    hidden = OnlineLessonFactory(uploaded=True, course=CourseFactory(is_published=False))
    outside = OnlineLessonFactory()  # an outside link: no file here
    assert get(client, hidden).status_code == 404
    assert get(client, outside).status_code == 404
    assert client.get(reverse("courses:lesson_poster", args=[outside.pk])).status_code == 404
    assert client.get("/courses/lessons/999999/video/").status_code == 404


def test_a_file_missing_on_disk_is_404_not_500(client, lesson):
    lesson.video_file.storage.delete(lesson.video_file.name)
    assert get(client, lesson).status_code == 404


def test_the_media_folder_is_neither_served_nor_listed(client, lesson):
    # uploads are reached only through the lesson views, never by their path
    assert client.get("/media/lessons/").status_code == 404
    assert client.get(f"/media/{lesson.video_file.name}").status_code == 404


def test_behind_nginx_the_view_hands_the_file_over_with_x_accel_redirect(client, settings, lesson):
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    response = get(client, lesson, Range="bytes=0-99")
    # Django answers 200 with no body; nginx serves the bytes and the range
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{lesson.video_file.name}"
    assert response["Content-Type"] == "video/webm"
    assert response.content == b""
    hidden = OnlineLessonFactory(uploaded=True, course=CourseFactory(is_published=False))
    assert get(client, hidden).status_code == 404  # the access check stays in Django


def test_byte_range_parsing():
    assert byte_range("bytes=0-9", 100) == (0, 9)
    assert byte_range("bytes=90-", 100) == (90, 99)
    assert byte_range("bytes=-10", 100) == (90, 99)
    assert byte_range("bytes=0-1,5-6", 100) is None
    assert byte_range("lines=1-2", 100) is None
    for bad in ("bytes=100-", "bytes=-0", "bytes=3-1", "bytes=x-1", "bytes=0-9;", "bytes=1--2"):
        with pytest.raises(RangeNotSatisfiable):
            byte_range(bad, 100)
    with pytest.raises(RangeNotSatisfiable):
        byte_range("bytes=-5", 0)  # an empty file has no byte to give


def test_a_lesson_needs_a_playable_file_or_an_outside_link(lesson_media):
    from django.core.exceptions import ValidationError

    course = CourseFactory()
    with pytest.raises(ValidationError, match="请上传视频文件或填写外部视频链接"):
        OnlineLessonFactory.build(course=course, video_url="").full_clean()
    with pytest.raises(ValidationError) as error:
        OnlineLessonFactory.build(
            course=course, video_file="lessons/a.exe", poster="lessons/posters/p.svg"
        ).full_clean()
    assert set(error.value.message_dict) == {"video_file", "poster"}
    OnlineLessonFactory.build(course=course, video_file="lessons/a.mp4").full_clean()
