import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from alliance.celery import app

ROOT = Path(__file__).resolve().parents[2]


def test_china_first_defaults():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]
    assert "portal.middleware.ChinaFirstLocaleMiddleware" in settings.MIDDLEWARE


def test_celery_is_json_only_with_time_limits():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


def _run_settings(module: str, extra_env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": module, **extra_env})
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; {code}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_default_uses_sqlite_and_the_filesystem_broker():
    result = _run_settings(
        "alliance.settings.local",
        {},
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {"DJANGO_ALLOWED_HOSTS": "portal.example.cn"}
    result = _run_settings("alliance.settings.production", env, "print(settings.SECRET_KEY)")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_under_production_settings():
    # The test settings allow async-unsafe ORM calls for Playwright; production never does.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "alliance.settings.production",
            "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-value-1234567890",
            "DJANGO_ALLOWED_HOSTS": "portal.example.cn",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_english_accept_language_still_gets_chinese_until_switched(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert 'lang="zh-CN"' in response.content.decode()

    client.cookies["django_language"] = "en"
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert 'lang="en"' in response.content.decode()


def test_the_filesystem_broker_keeps_its_exchange_tables_under_its_own_folder(tmp_path):
    # A worker (or `make run`) started from any folder binds its queues: the
    # exchange tables go under .celery/, never ./control where it was started.
    code = (
        "from alliance.celery import app; "
        "from kombu import Exchange, Queue; "
        "queue = Queue('settings-test', Exchange('settings-test', type='fanout')); "
        "channel = app.connection().default_channel; "
        "queue(channel).declare(); "
        "print(channel.control_folder)"
    )
    for folder in ("queue", "processed"):  # as `make run` makes them
        (ROOT / ".celery" / folder).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": "alliance.settings.local", "PYTHONPATH": str(ROOT)})
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip())
    assert folder == ROOT / ".celery" / "control"
    assert (folder / "settings-test.exchange").exists()
    assert not (tmp_path / "control").exists()
    (folder / "settings-test.exchange").unlink()
