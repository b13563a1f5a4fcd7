"""Deployment files and production settings hold together."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("docker-compose is missing; scripts/sysdeps.sh installs it.")


def test_compose_file_validates_and_has_every_service(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SECRET_KEY=x\n")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    done = subprocess.run([*compose_command(), "config"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert set(config["services"]) == {"mysql", "redis", "web", "worker-k6", "worker-analyzers", "beat"}
    command = config["services"]["worker-k6"]["command"]
    assert "-Q k6 -c 1" in (command if isinstance(command, str) else " ".join(command))
    assert all("healthcheck" in config["services"][name] for name in ("mysql", "redis", "web", "worker-k6"))
    assert {"mysql-data", "results"} <= set(config["volumes"])


PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "p" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_SSL_REDIRECT": "true",
    "ALLOWED_HOSTS": "k6intel.example.com",
    "DATABASE_URL": "mysql://k6intel:secret@db.example.com:3306/k6intel",
}


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = {**os.environ, **PRODUCTION_ENV}
    env.pop("ALLOW_LOOPBACK_TARGETS", None)  # production's own default
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _setting(name: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("ALLOW_LOOPBACK_TARGETS", "DATABASE_URL")}
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**environment, "DJANGO_SETTINGS_MODULE": "k6intel.settings", **env},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_loopback_targets_are_allowed_by_default_only_in_embedded_mode() -> None:
    assert _setting("ALLOW_LOOPBACK_TARGETS") == "True"  # embedded: the demo target works
    assert _setting("ALLOW_LOOPBACK_TARGETS", DATABASE_URL="sqlite:////tmp/k6intel-embedded.sqlite3") == "True"
    assert _setting("ALLOW_LOOPBACK_TARGETS", DATABASE_URL="mysql://u:p@db:3306/k6intel") == "False"
    env = {**os.environ, **PRODUCTION_ENV, "ALLOW_LOOPBACK_TARGETS": "true"}
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "k6intel.W003" in done.stdout + done.stderr


def test_bad_setting_stops_start_up_with_its_name() -> None:
    env = {**os.environ, "MAX_VUS": "lots"}
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "MAX_VUS='lots' is not a whole number" in done.stderr


def test_daphne_without_debug_serves_the_collected_static_files() -> None:
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "p" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert collected.returncode == 0, collected.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daphne = [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "k6intel.asgi:application"]
    server = subprocess.Popen(daphne, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                chart_library = httpx.get(f"{base}/static/vendor/uplot/dist/uPlot.iife.min.js")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "daphne did not start"
                time.sleep(0.2)
        assert chart_library.status_code == 200 and "uPlot" in chart_library.text
        assert httpx.get(f"{base}/static/vendor/uplot/LICENSE").status_code == 200
        assert httpx.get(f"{base}/static/k6intel/app.css").headers["content-type"].startswith("text/css")
    finally:
        server.terminate()
        server.wait(timeout=20)
