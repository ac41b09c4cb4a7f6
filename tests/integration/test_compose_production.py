"""docker-compose.yml's profiles, as docker-compose itself reads them (Debian's
docker-compose 1.29; `config` normalises the file): the production profile has nginx
with TLS in front of two web nodes, workers pinned to every queue and exactly one
beat; the development profile keeps the mail catcher. No container is started here:
scripts/scaleout.py runs the same processes directly (tests/integration/test_scaleout.py).
"""

import shutil
import subprocess
from pathlib import Path

import yaml
from django.conf import settings

PROJECT = Path(__file__).resolve().parents[2]


def _services(profile: str) -> dict:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is needed: apt-get install docker-compose (.ci/run does)"
    out = subprocess.run(
        [binary, "-f", "docker-compose.yml", "--env-file", ".env.example"]
        + ["--profile", profile, "config"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    services = yaml.safe_load(out)["services"]
    # what `up` starts with this profile: the services without a profile, and its own
    return {
        name: service
        for name, service in services.items()
        if not service.get("profiles") or profile in service["profiles"]
    }


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_production_runs_two_web_nodes_pinned_workers_and_one_beat_behind_nginx():
    services = _services("production")
    commands = {name: _command(service) for name, service in services.items()}

    web = [name for name, command in commands.items() if command.startswith("gunicorn")]
    assert len(web) >= 2
    beats = [name for name, command in commands.items() if " beat" in command]
    assert beats == ["beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    workers = [command for command in commands.values() if " worker" in command]
    pinned = {command.split(" -Q ")[1].split()[0] for command in workers}
    queues = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert all(" -Q " in command for command in workers)
    assert (
        set().union(*(p.split(",") for p in pinned)) == queues == {"notify", "reports", "default"}
    )
    assert "mailpit" not in services

    nginx = services["nginx-production"]
    template = "/deploy/nginx/production.conf.template:"
    assert any(template in volume for volume in map(str, nginx["volumes"]))
    upstreams = nginx["environment"]["PORTAL_UPSTREAM_SERVERS"]
    assert all(f"server {name}:8000" in upstreams for name in web)
    for name in web:
        environment = services[name]["environment"]
        assert environment["MEDIA_ACCEL_REDIRECT_PREFIX"] == "/protected-media/"
        # uploads on the shared volume, the one nginx serves protected files from
        assert any(str(v).startswith("media:") for v in services[name]["volumes"])
    assert any(str(v).startswith("media:") for v in nginx["volumes"])
    conf = (PROJECT / "deploy/nginx/production.conf.template").read_text(encoding="utf-8")
    assert "proxy_next_upstream error timeout;" in conf
    assert "listen ${PORTAL_HTTPS_LISTEN} ssl;" in conf
    assert "location /protected-media/ {\n        internal;" in conf


def test_development_keeps_the_mail_catcher_and_one_worker_on_every_queue():
    services = _services("dev")
    assert "mailpit" in services
    workers = [s for s in services.values() if " worker" in _command(s)]
    assert len(workers) == 1 and " -Q " not in _command(workers[0])
    assert [name for name, s in services.items() if " beat" in _command(s)] == ["beat"]
    assert "web-1" not in services and "nginx-production" not in services
