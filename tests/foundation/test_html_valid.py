"""Every main page is valid HTML, as the W3C Nu HTML Checker (vnu.jar) reads it.

The pages are rendered with the test client and checked in ONE java run (the
checker takes seconds to start). The jar comes from npm (vnu-jar) through
`make tools`; without it (or without Java) this test fails rather than skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.pages import build_site, form_error_pages, main_pages

VNU_JAR = Path(
    os.environ.get("VNU_JAR", settings.BASE_DIR / ".tools/node_modules/vnu-jar/build/dist/vnu.jar")
)

# A page the checker must reject (a <ul> inside a <p>, aria-labelledby on a plain
# <div>, aria-describedby naming a missing id): proves that the run can fail.
CANARY = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>t</title></head>
<body><p><span class="helptext"><ul><li>密码</li></ul></span></p>
<div aria-labelledby="x">课程</div><input id="a" aria-describedby="nowhere"></body></html>"""


def _vnu(paths: list[Path]) -> list[dict]:
    java = shutil.which("java")
    if java is None or not VNU_JAR.is_file():
        pytest.fail(
            f"The Nu HTML Checker needs Java 17+ and {VNU_JAR}: run `make tools` "
            "(npm install --ignore-scripts vnu-jar into .tools/)."
        )
    run = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--format", "json", "--stdout", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(run.stdout)["messages"]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@pytest.mark.django_db
def test_the_main_pages_are_valid_html(tmp_path):
    # given the portal's main pages, as a visitor, a parent and a coordinator see them
    site = build_site()
    clients: dict[str | None, Client] = {}
    files: dict[Path, str] = {}
    for number, page in enumerate(main_pages(site)):
        if page.user not in clients:
            clients[page.user] = Client()
            if page.user is not None:
                clients[page.user].force_login(site.users[page.user])
        response = clients[page.user].get(page.url)
        assert response.status_code == 200, (page.name, page.url, response.status_code)
        assert response["Content-Type"].startswith("text/html"), page.name
        path = tmp_path / f"{number:02d}-{_slug(page.name)}.html"
        path.write_bytes(response.content)
        files[path] = f"{page.name} ({page.url})"
    for number, (page, data) in enumerate(form_error_pages(site), start=len(files)):
        if page.user not in clients:
            clients[page.user] = Client()
            if page.user is not None:
                clients[page.user].force_login(site.users[page.user])
        response = clients[page.user].post(page.url, data)
        # 200: the form is shown again with its errors (not a redirect, not a 500)
        assert response.status_code == 200, (page.name, page.url, response.status_code)
        assert b'class="errorlist' in response.content, page.name
        path = tmp_path / f"{number:02d}-{_slug(page.name)}.html"
        path.write_bytes(response.content)
        files[path] = f"{page.name} (POST {page.url})"
    canary = tmp_path / "zz-canary.html"
    canary.write_text(CANARY, encoding="utf-8")

    # when the checker reads them all in one run
    messages = _vnu([*files, canary])

    # then it can fail (the canary's errors are found) ...
    errors = [m for m in messages if m.get("type") == "error"]
    canary_errors = [m for m in errors if m.get("url", "").endswith("zz-canary.html")]
    assert len(canary_errors) >= 3, messages
    # ... and finds no error on any page
    by_page = [
        f"{files[path]} line {m.get('lastLine')}: {m.get('message')} [{m.get('extract', '')}]"
        for m in errors
        for path in files
        if m.get("url", "").endswith("/" + path.name)
    ]
    unmatched = [
        m
        for m in errors
        if m not in canary_errors
        and not any(m.get("url", "").endswith("/" + p.name) for p in files)
    ]
    assert by_page == [] and unmatched == [], "\n".join(by_page) or unmatched
