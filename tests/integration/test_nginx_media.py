"""Behind the reverse proxy: the docker-compose nginx configuration
(deploy/nginx/portal.conf.template), run with Debian's nginx in front of a test
server, serves lesson videos with ranges after Django has checked access.

Django answers the lesson's video URL with X-Accel-Redirect (MEDIA_ACCEL_REDIRECT_PREFIX);
nginx serves the bytes and the Range: 206 with Content-Range, 416 outside the file.
The internal location and the media folder cannot be reached from outside.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import time
from pathlib import Path
from string import Template

import pytest
from django.urls import reverse

from courses.tests.factories import TEST_VIDEO, CourseFactory, OnlineLessonFactory

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = PROJECT / "deploy" / "nginx" / "portal.conf.template"
VIDEO = TEST_VIDEO.read_bytes()
SIZE = len(VIDEO)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def nginx(live_server, settings, tmp_path):
    """Debian's nginx with the compose file's server block, in front of live_server."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).exists(), "nginx is needed: apt-get install nginx-light (.ci/run does)"
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    port = _free_port()
    upstream = live_server.url.removeprefix("http://")
    server = Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        PORTAL_UPSTREAM=upstream, PORTAL_LISTEN=f"127.0.0.1:{port}", PORTAL_MEDIA_ROOT=media
    )
    (tmp_path / "portal.conf").write_text(server, encoding="utf-8")
    # The main file the official image brings (mime types, temp folders), cut down.
    (tmp_path / "nginx.conf").write_text(
        f"""
user root;
worker_processes 1;
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/portal.conf;
}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [binary, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _get(port, path, **headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": "localhost", **headers})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_nginx_serves_the_lesson_video_with_ranges_after_django_checks_access(nginx):
    lesson = OnlineLessonFactory(uploaded=True)
    hidden = OnlineLessonFactory(uploaded=True, course=CourseFactory(is_published=False))
    url = reverse("courses:lesson_video", args=[lesson.pk])

    # the whole file
    response, body = _get(nginx, url)
    assert response.status == 200
    assert body == VIDEO
    assert response.getheader("Content-Type") == "video/webm"
    assert response.getheader("Accept-Ranges") == "bytes"
    assert response.getheader("X-Accel-Redirect") is None  # nginx keeps it to itself

    # a range, as a browser asks when it starts or seeks
    response, body = _get(nginx, url, Range="bytes=100-299")
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes 100-299/{SIZE}"
    assert body == VIDEO[100:300]
    response, body = _get(nginx, url, Range="bytes=-64")
    assert response.status == 206 and body == VIDEO[-64:]

    # a range outside the file
    response, _body = _get(nginx, url, Range=f"bytes={SIZE}-")
    assert response.status == 416
    assert response.getheader("Content-Range") == f"bytes */{SIZE}"

    # Django still decides who may see it; the files have no address of their own
    assert _get(nginx, reverse("courses:lesson_video", args=[hidden.pk]))[0].status == 404
    assert _get(nginx, f"/protected-media/{lesson.video_file.name}")[0].status == 404
    assert _get(nginx, "/protected-media/lessons/")[0].status == 404
    assert _get(nginx, "/media/lessons/")[0].status == 404
    assert _get(nginx, f"/media/{lesson.video_file.name}")[0].status == 404

    # the poster goes the same way
    response, body = _get(nginx, reverse("courses:lesson_poster", args=[lesson.pk]))
    assert response.status == 200 and response.getheader("Content-Type") == "image/png"


@pytest.mark.browser
def test_the_video_plays_and_seeks_through_nginx_on_a_phone(nginx, browser):
    lesson = OnlineLessonFactory(uploaded=True)
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{nginx}" + reverse("courses:lesson", args=[lesson.pk]))
        page.wait_for_function("document.getElementById('lesson-video').readyState >= 1")
        page.evaluate(
            "() => { const v = document.getElementById('lesson-video');"
            " v.muted = true; return v.play(); }"
        )
        page.wait_for_timeout(1500)
        assert page.evaluate("() => document.getElementById('lesson-video').currentTime") > 0.5
        # seeking needs ranges: the player jumps and goes on from there
        page.evaluate("() => { document.getElementById('lesson-video').currentTime = 12; }")
        page.wait_for_timeout(1200)
        state = page.evaluate(
            "() => { const v = document.getElementById('lesson-video');"
            " return [v.currentTime, v.paused, v.seekable.length]; }"
        )
        assert state[0] > 12 and state[1] is False and state[2] == 1
    finally:
        page.wait_for_load_state("networkidle")
        context.close()
