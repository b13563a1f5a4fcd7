"""Real k6 suites run unmodified: the corpus in runs/tests/suites against raw `k6 run` of the same files.

Each suite is run twice against the same local target: by k6 itself (the
reference, with the same `-e` variables and the network to fetch its remote
module) and through the platform (bundle upload, modules fetched by the
platform, k6 in its box without a network for modules). Request counts,
iterations, every threshold's pass/fail and every custom metric must agree.
"""

from __future__ import annotations

import io
import re
import shutil
import ssl
import subprocess
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from runs.engine import k6
from runs.engine.bundle import unpack
from runs.engine.results import summary_metrics, summary_thresholds
from runs.engine.vetting import ScriptOptions, ScriptRejected
from runs.models import ApiKey, Run, RunArtifact
from runs.pipeline import run_create_again, run_create_from_script, run_execute
from scanners.tests import tls_servers

SUITES = Path(__file__).parent / "suites"
pytestmark = pytest.mark.django_db(transaction=True)


class ModuleHost:
    """A jslib stand-in on loopback, over HTTPS (k6 imports nothing else) with the test CA, counting what it serves."""

    def __init__(self, ca: tls_servers.TestCA) -> None:
        self.requests: list[str] = []
        host = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(SUITES / "modules"), **kwargs)

            def do_GET(self) -> None:
                host.requests.append(self.path)
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        leaf = ca.issue("module-host")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(leaf.cert_path, leaf.key_path)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://{self.address}"


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> tls_servers.TestCA:
    return tls_servers.TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def module_host(settings: Any, tmp_path: Path, test_ca: tls_servers.TestCA) -> Iterator[ModuleHost]:
    host = ModuleHost(test_ca)
    settings.TLS_EXTRA_CA_FILE = str(test_ca.cert_path)  # the platform trusts the test CA for modules
    settings.MODULE_HOSTS = [host.address]
    settings.MODULE_CACHE_DIR = tmp_path / "module-cache"
    yield host
    host.server.shutdown()
    host.server.server_close()


def suite_copy(name: str, tmp_path: Path, module_host: ModuleHost) -> Path:
    """The suite as a team has it on disk (the module host's address filled in)."""
    folder = tmp_path / name
    shutil.copytree(SUITES / name, folder)
    for path in folder.rglob("*.js"):
        path.write_text(path.read_text().replace("{{MODULE_HOST}}", module_host.url))
    return folder


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder)}")  # a folder zipped whole
    return buffer.getvalue()


def tar_gz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname=".")
    return buffer.getvalue()


def raw_k6(
    folder: Path, entry: str, env: dict[str, str], tmp_path: Path, flags: tuple[str, ...] | list[str] = ()
) -> dict[str, Any]:
    """The reference: k6 itself, as the team runs it."""
    summary = tmp_path / f"raw-{folder.name}.json"
    env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    command = [settings.K6_BIN, "run", "--quiet", "--no-usage-report", "--summary-export", str(summary), *env_args, *flags, entry]
    trust = {"SSL_CERT_FILE": settings.TLS_EXTRA_CA_FILE} if settings.TLS_EXTRA_CA_FILE else {}
    done = subprocess.run(command, cwd=folder, capture_output=True, timeout=120, env={"PATH": "/usr/bin:/bin", **trust})
    assert done.returncode in (0, 99), done.stderr.decode()[-2000:]  # 99: a threshold crossed on purpose
    return orjson.loads(summary.read_bytes())


def through_platform(raw: bytes, filename: str, options: ScriptOptions) -> Run:
    run = run_create_from_script("suites", raw, filename, options=options)
    return run_execute(run.pk)


def assert_matches_raw(run: Run, reference: dict[str, Any], exact: tuple[str, ...] = ("http_reqs", "iterations")) -> None:
    assert run.status == Run.Status.DONE, (run.error, run.log[-2000:])
    ours, theirs = run.result.metrics, summary_metrics(reference)
    for name in exact:
        assert ours[name]["count"] == theirs[name]["count"], name
    assert run.result.thresholds == summary_thresholds(reference)
    custom = {name for name in theirs if not name.startswith(("http_", "vus", "iteration", "data_", "checks", "group_"))}
    for name in custom:
        if "count" in theirs[name]:
            assert ours[name]["count"] == theirs[name]["count"], name
        if "passes" in theirs[name]:
            assert (ours[name]["passes"], ours[name]["fails"]) == (theirs[name]["passes"], theirs[name]["fails"]), name
        if "value" in theirs[name]:
            assert ours[name]["value"] == theirs[name]["value"], name
        if "p95" in theirs[name]:
            assert ours[name]["p95"] == pytest.approx(theirs[name]["p95"], rel=0.5, abs=20), name
    # Timing, not counting: the two runs are seconds apart on a shared machine.
    assert ours["http_req_duration"]["p95"] == pytest.approx(theirs["http_req_duration"]["p95"], rel=0.3, abs=8)


def test_a_multi_file_suite_with_env_data_and_a_remote_module_runs_as_raw_k6_does(
    module_host: ModuleHost, demo_target: Callable[..., Any], tmp_path: Path
) -> None:
    target = demo_target(latency_min_ms=10, latency_max_ms=30)
    folder = suite_copy("shop", tmp_path, module_host)
    env = {"BASE_URL": target.url, "VUS": "2", "ITERATIONS": "14", "DURATION": "20s", "API_TOKEN": "tok-9f1c2e"}
    reference = raw_k6(folder, "script.js", env, tmp_path)
    module_host.requests.clear()

    run = through_platform(zipped(folder), "shop.zip", ScriptOptions(env=env))

    assert_matches_raw(run, reference)
    assert run.result.metrics["http_reqs"]["count"] == 14
    assert sorted(module_host.requests) == ["/k6-utils/1.4.0/index.js", "/k6-utils/1.4.0/random.js"]  # by the platform
    assert [module["path"] for module in run.spec["modules"]] == [
        f"_modules/{module_host.address.replace(':', '_')}/k6-utils/1.4.0/index.js",
        f"_modules/{module_host.address.replace(':', '_')}/k6-utils/1.4.0/random.js",
    ]
    assert run.spec["env"]["API_TOKEN"] == "••••" and run.spec["env"]["VUS"] == "2"
    stored = Run.objects.filter(pk=run.pk).values_list("spec", "script", "log", "sealed_secrets").get()
    assert "tok-9f1c2e" not in orjson.dumps(stored).decode()
    assert run.target_url == f"{target.url}/"  # where the load went, not the docs link in the comment

    # Cached by URL and checksum: the next upload of the same suite fetches nothing.
    module_host.requests.clear()
    run_create_from_script("suites", zipped(folder), "shop.zip", options=ScriptOptions(env=env))
    assert module_host.requests == []


def test_a_typescript_suite_as_tar_gz_and_as_a_k6_archive(
    module_host: ModuleHost, demo_target: Callable[..., Any], tmp_path: Path
) -> None:
    target = demo_target(latency_min_ms=5, latency_max_ms=15)
    folder = suite_copy("typed", tmp_path, module_host)
    env = {"BASE_URL": target.url}
    reference = raw_k6(folder, "script.ts", env, tmp_path)
    archive = tmp_path / "typed-archive.tar"
    subprocess.run([settings.K6_BIN, "archive", "-O", str(archive), "script.ts"], cwd=folder, check=True, capture_output=True)

    as_tar_gz = through_platform(tar_gz(folder), "typed.tar.gz", ScriptOptions(env=env))
    as_archive = through_platform(archive.read_bytes(), "typed-archive.tar", ScriptOptions(env=env))

    for run in (as_tar_gz, as_archive):
        assert_matches_raw(run, reference)
        assert run.result.metrics["http_reqs"]["count"] == 40
    assert as_archive.spec["k6_archive"] and "interface Target" in as_archive.script


def test_handle_summary_files_are_kept_as_artifacts_and_its_stdout_is_in_the_log(
    module_host: ModuleHost, demo_target: Callable[..., Any], tmp_path: Path
) -> None:
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    folder = suite_copy("summary", tmp_path, module_host)
    reference = raw_k6(folder, "script.js", {"BASE_URL": target.url}, tmp_path)

    run = through_platform((folder / "script.js").read_bytes(), "script.js", ScriptOptions(env={"BASE_URL": target.url}))

    assert_matches_raw(run, reference)
    artifacts = {artifact.name: bytes(artifact.content) for artifact in RunArtifact.objects.filter(run=run)}
    assert sorted(artifacts) == ["summary.html", "summary.json"]
    ours, theirs = orjson.loads(artifacts["summary.json"]), orjson.loads((folder / "summary.json").read_bytes())
    assert (ours["requests"], ours["verdict"]) == (theirs["requests"], theirs["verdict"]) == (4, "✅ passed")
    assert b"<h1>" in artifacts["summary.html"]
    assert "custom summary: 4 requests" in run.log and "p95 within budget" in run.log


def test_three_scenarios_custom_metrics_and_nested_groups_match_raw_k6(
    module_host: ModuleHost, demo_target: Callable[..., Any], tmp_path: Path
) -> None:
    target = demo_target(latency_min_ms=5, latency_max_ms=15)
    folder = suite_copy("scenarios", tmp_path, module_host)
    reference = raw_k6(folder, "script.js", {"BASE_URL": target.url}, tmp_path)

    run = through_platform((folder / "script.js").read_bytes(), "script.js", ScriptOptions(env={"BASE_URL": target.url}))

    # constant-vus iterates as fast as the target answers: the counts of the fixed-iteration scenarios are exact.
    assert_matches_raw(run, reference, exact=())
    assert run.result.metrics["cart_items"]["count"] == 12 and run.result.metrics["basket_value"]["value"] == 42
    assert {row["metric"]: row["ok"] for row in run.result.thresholds}["checkout_time"] is False
    assert run.verdict == "failed"


def test_overrides_change_the_options_checked_and_run(
    module_host: ModuleHost, demo_target: Callable[..., Any], tmp_path: Path, settings: Any
) -> None:
    target = demo_target(latency_min_ms=1, latency_max_ms=3)
    script = (SUITES / "typed" / "script.ts").read_bytes()
    lib = (SUITES / "typed" / "lib" / "checks.ts").read_bytes()
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("load.ts", script)
        archive.writestr("lib/checks.ts", lib)

    run = through_platform(bundle.getvalue(), "typed.zip", ScriptOptions(env={"BASE_URL": target.url}, vus=3, iterations=5))
    assert run.result.metrics["http_reqs"]["count"] == 5 and run.max_vus == 3 and run.spec["entry"] == "load.ts"

    settings.MAX_VUS = 4
    with pytest.raises(ScriptRejected, match="vus: Give 1 to MAX_VUS=4"):
        run_create_from_script("suites", bundle.getvalue(), "typed.zip", options=ScriptOptions(vus=50))
    settings.MAX_VUS = 200
    with pytest.raises(ScriptRejected, match="needs up to 300 VUs"):  # the env the script reads makes it too big
        script_with_env_vus = (
            b"export const options = { vus: Number(__ENV.VUS), duration: '1s' };\nexport default function () {}\n"
        )
        run_create_from_script("suites", script_with_env_vus, "env.js", options=ScriptOptions(env={"VUS": "300"}))


def test_module_downloads_are_held_to_the_target_policy(module_host: ModuleHost, settings: Any) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = False  # as in production: the module host on loopback is refused
    script = f"import {{ pick }} from '{module_host.url}/k6-utils/1.4.0/random.js';\nexport default function () {{}}\n"
    with pytest.raises(ScriptRejected) as rejected:
        run_create_from_script("suites", script.encode(), "script.js")
    assert "could not be fetched" in str(rejected.value) and "loopback" in str(rejected.value)
    assert module_host.requests == [] and Run.objects.count() == 0


def test_a_cached_module_that_no_longer_matches_its_checksum_is_fetched_again(module_host: ModuleHost, settings: Any) -> None:
    script = f"import {{ pick }} from '{module_host.url}/k6-utils/1.4.0/random.js';\nexport default function () {{ pick(1); }}\n"
    run_create_from_script("suites", script.encode(), "script.js")
    [cached] = Path(settings.MODULE_CACHE_DIR).glob("*.js")
    cached.write_text("export function pick() { return 'tampered'; }")
    run = run_create_from_script("suites", script.encode(), "script.js")
    assert module_host.requests == ["/k6-utils/1.4.0/random.js"] * 2
    assert b"Math.floor" in unpack(bytes(run.bundle))[run.spec["modules"][0]["path"]]


def test_the_cli_runs_a_bundle_with_env_overrides_and_a_named_target(
    module_host: ModuleHost, demo_target: Callable[..., Any], tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    target = demo_target(latency_min_ms=5, latency_max_ms=15)
    folder = suite_copy("shop", tmp_path, module_host)
    env = {"BASE_URL": target.url, "VUS": "1", "ITERATIONS": "3", "API_TOKEN": "tok-cli-77"}
    # k6's own flags win over the script's options: the reference gets the same overrides.
    reference = raw_k6(folder, "script.js", env, tmp_path, ["--vus", "2", "--iterations", "9"])
    bundle = tmp_path / "shop.zip"
    bundle.write_bytes(zipped(folder))
    env_flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]

    call_command("loadtest", f"{target.url}/", "--script", str(bundle), *env_flags, "--vus", "2", "--iterations", "9", "--json")

    document = orjson.loads(capsysbinary.readouterr().out)
    run = Run.objects.get(pk=document["id"])
    assert_matches_raw(run, reference)
    assert (run.result.metrics["http_reqs"]["count"], run.max_vus, run.target_url) == (9, 2, f"{target.url}/")
    assert (run.spec["vus"], run.spec["iterations"], run.spec["env"]["API_TOKEN"]) == (2, 9, "••••")
    assert "tok-cli-77" not in orjson.dumps(document).decode()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["-e", "NOEQUALS"], "'NOEQUALS' is not KEY=VALUE"),
        (["-e", "1BAD=x"], "'1BAD' is not a variable name"),
        (["--vus", "0"], "vus: Give 1 to MAX_VUS"),
        (["--duration", "soon"], "'soon' is not a k6 duration"),
        (["--entry", "nope.js"], "'nope.js' is not in the bundle"),
    ],
)
def test_the_cli_says_what_to_fix_in_script_options(flags: list[str], message: str, tmp_path: Path) -> None:
    script = tmp_path / "script.js"
    script.write_text("export default function () {}\n")
    with pytest.raises(CommandError, match=re.escape(message)) as error:
        call_command("loadtest", "--script", str(script), *flags)
    assert error.value.returncode == 2 and Run.objects.count() == 0


def ended(run_id: Any, timeout_s: float = 90) -> Run:
    """The run once the embedded executor has finished it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if run.is_terminal:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end within {timeout_s} s")


def test_the_api_takes_a_bundle_with_env_and_overrides_from_a_trusted_key(
    module_host: ModuleHost, demo_target: Callable[..., Any], tmp_path: Path, api: Any, keys: dict[str, Any], settings: Any
) -> None:
    settings.REDIS_URL = None  # embedded execution: the accepted run runs in this process
    ApiKey.objects.filter(pk=keys["user"][0].pk).update(is_trusted=True)  # CI: no captcha
    target = demo_target(latency_min_ms=5, latency_max_ms=15)
    folder = suite_copy("scenarios", tmp_path, module_host)
    reference = raw_k6(folder, "script.js", {"BASE_URL": target.url}, tmp_path)
    data = {
        "project_name": "suites",
        "file": SimpleUploadedFile("scenarios.tar.gz", tar_gz(folder)),
        "env": orjson.dumps({"BASE_URL": target.url}).decode(),
    }

    accepted = api("user").post("/api/runjs", data, format="multipart")

    assert accepted.status_code == 202, accepted.content
    run = ended(accepted.json()["run_id"])
    assert_matches_raw(run, reference, exact=())
    document = api("user").get(f"/api/result/{run.pk}").json()
    assert document["config"]["spec"]["env"] == {"BASE_URL": target.url}

    typed = suite_copy("typed", tmp_path, module_host)
    repeated = {
        "project_name": "suites",
        "file": SimpleUploadedFile("typed.zip", zipped(typed)),
        "env": [f"BASE_URL={target.url}", "SESSION_KEY=s3cr3t-v4lue"],
        "vus": 1,
        "iterations": 3,
    }
    accepted = api("user").post("/api/runjs", repeated, format="multipart")
    assert accepted.status_code == 202, accepted.content
    run = ended(accepted.json()["run_id"])
    assert run.result.metrics["http_reqs"]["count"] == 3 and run.spec["env"]["SESSION_KEY"] == "••••"
    assert "s3cr3t-v4lue" not in api("user").get(f"/api/result/{run.pk}").content.decode()


@pytest.mark.parametrize(
    "fields, wrong",
    [
        ({"env": ["NOPE"]}, "env"),
        ({"env": '{"A": 1}'}, "env"),
        ({"vus": 0}, "vus"),
        ({"duration": "forever"}, "duration"),
        ({"target_url": "http://169.254.169.254/"}, "target_url"),
    ],
)
def test_the_api_names_the_script_option_to_fix(api: Any, keys: dict[str, Any], fields: dict[str, Any], wrong: str) -> None:
    ApiKey.objects.filter(pk=keys["user"][0].pk).update(is_trusted=True)
    data = {"project_name": "suites", "file": SimpleUploadedFile("s.js", b"export default function () {}"), **fields}
    refused = api("user").post("/api/runjs", data, format="multipart")
    assert refused.status_code == 400 and wrong in refused.json()["error"]["fields"], refused.content
    assert Run.objects.count() == 0


def test_the_upload_form_runs_a_bundle_then_runs_it_again_with_its_options(
    module_host: ModuleHost, demo_target: Callable[..., Any], tmp_path: Path, settings: Any
) -> None:
    settings.REDIS_URL = None
    staff = get_user_model().objects.create_user("lead", password="pw-lead-1", is_staff=True)  # no captcha
    client = Client()
    client.force_login(staff)
    target = demo_target(latency_min_ms=5, latency_max_ms=10)
    folder = suite_copy("shop", tmp_path, module_host)
    env_text = f"BASE_URL={target.url}\nITERATIONS=4\nAPI_TOKEN=tok-form-5"
    form = {"project_name": "shop", "file": SimpleUploadedFile("shop.zip", zipped(folder)), "env": env_text, "vus": "2"}

    first = client.post("/runs/upload", form)

    assert first.status_code == 302, first.content.decode()[-3000:]
    run = ended(first["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert run.result.metrics["http_reqs"]["count"] == 4 and run.max_vus == 2
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "API_TOKEN=••••" in page and "--vus 2" in page and "k6-utils/1.4.0/index.js" in page
    again_form = client.get(f"/runs/upload?from={run.pk}").content.decode()
    assert f"BASE_URL={target.url}" in again_form and "API_TOKEN=</textarea>" in again_form and "tok-form-5" not in again_form

    module_host.requests.clear()
    again = client.post(
        "/runs/upload", {"project_name": "shop", "again": str(run.pk), "env": env_text.replace("4", "6"), "vus": "2"}
    )

    assert again.status_code == 302, again.content.decode()[-3000:]
    rerun = ended(again["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert rerun.result.metrics["http_reqs"]["count"] == 6 and rerun.spec["filename"] == "shop.zip"
    assert module_host.requests == []  # the stored files hold their modules already


def test_handle_summary_files_download_from_the_page_and_the_api_as_attachments(
    module_host: ModuleHost, demo_target: Callable[..., Any], api: Any, keys: dict[str, Any]
) -> None:
    target = demo_target(latency_min_ms=1, latency_max_ms=3)
    run = run_create_from_script(
        "suites",
        (SUITES / "summary" / "script.js").read_bytes(),
        "script.js",
        options=ScriptOptions(env={"BASE_URL": target.url}),
    )
    Run.objects.filter(pk=run.pk).update(api_key=keys["user"][0])
    run = run_execute(run.pk)
    listing = api("user").get(f"/api/result/{run.pk}").json()["artifacts"]
    assert [row["name"] for row in listing] == ["summary.html", "summary.json"]

    served = api("user").get(listing[0]["url"])
    assert served.status_code == 200 and b"<h1>" in b"".join(served.streaming_content if served.streaming else [served.content])
    assert served["Content-Type"] == "application/octet-stream" and "attachment" in served["Content-Disposition"]
    assert served["Content-Security-Policy"] == "sandbox"
    assert api("other").get(listing[0]["url"]).status_code == 404  # another key's run
    missing = api("user").get(f"/api/runs/{run.pk}/artifacts/nope.txt")
    assert missing.status_code == 404 and "it kept summary.html, summary.json" in missing.json()["error"]["message"]


class Recorder:
    """Loopback HTTP that keeps every request body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                recorder.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_secret_variables_reach_the_script_and_nothing_else() -> None:
    recorder = Recorder()
    secret = "pw-7c1f9e3a"
    script = b"""import http from 'k6/http';
export const options = { iterations: 1 };
export default function () { http.post(__ENV.SINK, `${__ENV.DB_PASSWORD}|${__ENV.K6_ENVIRONMENT}|${__ENV.PLAIN}`); console.log(`using ${__ENV.DB_PASSWORD}`); }
export function handleSummary() { return { 'env.txt': `${__ENV.DB_PASSWORD}` }; }
"""
    env = {"SINK": recorder.url, "DB_PASSWORD": secret, "K6_ENVIRONMENT": "staging", "PLAIN": "visible"}
    try:
        run = through_platform(script, "script.js", ScriptOptions(env=env))
    finally:
        recorder.server.shutdown()
        recorder.server.server_close()

    assert recorder.bodies == [f"{secret}|staging|visible".encode()]
    assert run.spec["env"] == {"SINK": recorder.url, "DB_PASSWORD": "••••", "K6_ENVIRONMENT": "staging", "PLAIN": "visible"}
    assert "using ••••" in run.log and secret not in run.log
    assert bytes(RunArtifact.objects.get(run=run).content) == "••••".encode()
    # Sealed values reach k6 through its own environment; a K6_ name (which would configure k6) as -e.
    launch = k6.Launch("script.js", {"PLAIN": "visible"}, {"DB_PASSWORD": secret})
    assert secret not in " ".join(launch.arguments()) and launch.environment() == {"DB_PASSWORD": secret}


def test_a_secret_named_like_a_k6_setting_is_refused_before_anything_runs() -> None:
    with pytest.raises(ScriptRejected, match="K6_API_TOKEN looks like a secret and starts with K6_"):
        run_create_from_script(
            "suites", b"export default function () {}\n", "s.js", options=ScriptOptions(env={"K6_API_TOKEN": "x"})
        )
    assert Run.objects.count() == 0


def test_run_again_keeps_a_bundle_that_is_all_in_one_folder(
    module_host: ModuleHost, demo_target: Callable[..., Any], tmp_path: Path
) -> None:
    target = demo_target(latency_min_ms=1, latency_max_ms=2)
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:  # suite/tests/… : one folder is stripped, `tests/` stays
        archive.writestr(
            "suite/tests/script.js",
            "import { go } from './lib.js';\nexport const options = { iterations: 2 };\nexport default go;\n",
        )
        archive.writestr(
            "suite/tests/lib.js", f"import http from 'k6/http';\nexport function go() {{ http.get('{target.url}/'); }}\n"
        )
    first = run_create_from_script("suites", bundle.getvalue(), "suite.zip", options=ScriptOptions(entry="tests/script.js"))
    again = run_create_again(first, ScriptOptions())
    assert again.spec["entry"] == "tests/script.js" and sorted(unpack(bytes(again.bundle))) == ["tests/lib.js", "tests/script.js"]
    assert run_execute(again.pk).result.metrics["http_reqs"]["count"] == 2


def test_a_failing_module_is_fetched_once_however_often_it_is_imported(module_host: ModuleHost) -> None:
    imports = "".join(f"import m{i} from '{module_host.url}/missing/lib.js';\n" for i in range(50))
    with pytest.raises(ScriptRejected) as rejected:
        run_create_from_script("suites", (imports + "export default function () {}\n").encode(), "s.js")
    assert module_host.requests == ["/missing/lib.js"] and "answered 404" in str(rejected.value)
