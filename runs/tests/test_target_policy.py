"""The target policy on every IPv6 form that carries an IPv4 address, for submission, analyzers and k6."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.conf import settings as django_settings

from runs.engine.targets import address_rejection, k6_policy_args

FORBIDDEN_FORMS = [
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",  # metadata, mapped
    "::ffff:10.1.2.3",  # private, mapped
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64
    "64:ff9b::a9fe:a9fe",  # NAT64 metadata
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of the metadata address
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1 (obfuscated)
    "64:ff9b:1::1",  # local-use NAT64: the IPv4 inside cannot be located
]


@pytest.fixture
def strict(settings: Any) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = False
    settings.ALLOW_PRIVATE_TARGETS = False
    settings.TARGET_ALLOWLIST = []


@pytest.mark.parametrize("address", FORBIDDEN_FORMS)
def test_every_ipv6_form_of_a_forbidden_ipv4_is_refused(strict: None, address: str) -> None:
    assert address_rejection(ipaddress.ip_address(address)) is not None


def test_metadata_stays_blocked_inside_ipv6_even_when_loopback_and_private_are_allowed(settings: Any) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = settings.ALLOW_PRIVATE_TARGETS = True
    settings.TARGET_ALLOWLIST = ["169.254.0.0/16"]
    reason = address_rejection(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert reason is not None and "metadata" in reason
    assert address_rejection(ipaddress.ip_address("::ffff:10.1.2.3")) is None
    assert address_rejection(ipaddress.ip_address("2606:4700::1111")) is None  # ordinary IPv6 is untouched


def test_k6_is_told_the_ipv6_forms_of_every_blocked_range(strict: None) -> None:
    args = k6_policy_args()
    blacklist = [ipaddress.ip_network(cidr) for cidr in args[args.index("--blacklist-ip") + 1].split(",")]
    for address in map(ipaddress.ip_address, FORBIDDEN_FORMS):
        assert any(address.version == net.version and address in net for net in blacklist), address


def test_loopback_ipv6_is_not_blocked_by_a_zero_network_rule(settings: Any) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = True
    args = k6_policy_args()
    blacklist = [ipaddress.ip_network(cidr) for cidr in args[args.index("--blacklist-ip") + 1].split(",")]
    assert not any(ipaddress.ip_address("::1") in net for net in blacklist if net.version == 6)


class _Recorder:
    """A TCP listener on 127.0.0.1 (where ::ffff:127.0.0.1 leads) counting every connection: the independent witness."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    listener = _Recorder()
    yield listener
    listener.socket.close()


@pytest.mark.django_db
def test_api_and_scan_refuse_a_mapped_loopback_and_nothing_is_fetched(
    strict: None, api: Any, recorder: _Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.management import call_command

    url = f"http://[::ffff:127.0.0.1]:{recorder.port}/secret"
    response = api("user").post("/api/run", {"url": url, "vus": 1, "duration": "1s"}, format="json")
    assert response.status_code == 400 and "127.0.0.1 (inside ::ffff:7f00:1) is a loopback" in str(response.json())
    for kind in ("headers", "pagetest", "lighthouse"):  # (TLS skips any plain-http URL before looking)
        with pytest.raises(SystemExit) as exit:
            call_command("scan", kind, url, "--json")
        assert exit.value.code == 3  # skipped
        outcome = orjson.loads(capsys.readouterr().out)
        assert outcome["status"] == "skipped" and "inside ::ffff:7f00:1" in outcome["summary"], kind
    assert recorder.connections == 0


def test_k6_itself_refuses_a_mapped_loopback(strict: None, tmp_path: Path, recorder: _Recorder) -> None:
    script = tmp_path / "script.js"
    script.write_text(
        "import http from 'k6/http';\nexport const options = { iterations: 1 };\n"
        f"export default function () {{ console.log('ERR=' + http.get('http://[::ffff:127.0.0.1]:{recorder.port}/').error); }}\n"
    )
    policy = k6_policy_args()
    done = subprocess.run(
        [django_settings.K6_BIN, "run", "--no-usage-report", *policy, str(script)], capture_output=True, text=True, timeout=60
    )
    assert "ERR=" in done.stderr + done.stdout and recorder.connections == 0


def test_k6_inspect_has_no_network_for_a_module_url_built_at_run_time(recorder: _Recorder) -> None:
    from runs.engine.vetting import ScriptRejected, vet_upload

    # Built at run time and in capitals: no static check can read it; only the box's missing network stops it.
    script = (
        f"const where = ['HT', 'TPS://127.0.0.1:{recorder.port}/lib.js'].join('').toLowerCase();\n"
        "const lib = require(where);\nexport default function () {}\n"
    )
    with pytest.raises(ScriptRejected) as rejected:
        vet_upload(script.encode(), "remote.js")
    assert "k6 could not read the script" in str(rejected.value)
    assert recorder.connections == 0


# Init code that only `k6 run` follows (a clock, a random number): inspect never sees this require().
RUN_TIME_REQUIRE = (
    "const where = ['https://127.0.0.1:{port}/lib', '.js'];\n"
    "if (Date.now() > 0) {{ try {{ require(where.join('')); }} catch (e) {{ console.log('MODULE: ' + e); }} }}\n"
    "export const options = {{ iterations: 1 }};\nexport default function () {{}}\n"
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("firewall", [True, False], ids=["kernel rules", "k6 alone"])
def test_k6_run_reaches_no_blocked_address_for_a_module_whatever_its_init_code_decides(
    strict: None, settings: Any, recorder: _Recorder, make_run: Any, firewall: bool
) -> None:
    from runs.pipeline import run_execute

    settings.RUN_POST_STAGES = []
    settings.K6_EGRESS_FIREWALL = firewall
    run = run_execute(make_run(RUN_TIME_REQUIRE.format(port=recorder.port), planned_duration_s=5).pk)
    assert "MODULE: " in run.log and "couldn't be retrieved" in run.log, run.log
    if firewall:
        assert recorder.connections == 0
    else:  # what the kernel's rules are for: k6's own --blacklist-ip leaves its module loader alone
        assert recorder.connections >= 1


def test_the_egress_rules_leave_dns_to_the_machines_resolver_open(strict: None) -> None:
    from runs.engine.egress import k6_uid

    uid = k6_uid()
    assert uid == django_settings.K6_UID, "the worker runs as root here: the rules must be in place"
    # The resolver usually sits at a private address the rules block for everything but port 53.
    lookup = "import socket; print(socket.getaddrinfo('pypi.org', 443)[0][4][0])"
    as_k6 = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "/usr/bin/python3", "-c", lookup]
    done = subprocess.run(as_k6, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and ipaddress.ip_address(done.stdout.strip()), done.stderr


def test_k6_inspect_has_a_cpu_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from runs.engine import vetting

    monkeypatch.setattr(vetting, "INSPECT_CPU_S", 1)
    with pytest.raises(vetting.ScriptRejected, match="more than 1 s of CPU"):
        vetting.vet_upload(b"while (true) {}\nexport default function () {}\n", "spin.js")


def test_inspect_slots_are_shared_by_every_process_on_the_machine(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from runs.engine import vetting

    settings.INSPECT_CONCURRENCY = 1
    monkeypatch.setattr(vetting, "SLOT_WAIT_S", 0.5)
    vetting.SLOTS_DIR.mkdir(mode=0o700, exist_ok=True)
    # Another process (a second web worker, say) holds the only slot.
    hold = f"import fcntl, sys, time\nf = open({str(vetting.SLOTS_DIR / 'slot-0.lock')!r}, 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n"
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(vetting.ScriptRejected, match="being checked right now"):
            vetting.vet_upload(b"export default function () {}\n", "wait.js")
    finally:
        holder.kill()
        holder.wait()
    # Its death frees the slot: no stale lock survives a crash.
    assert vetting.vet_upload(b"export default function () {}\n", "free.js").needs.max_vus == 1
