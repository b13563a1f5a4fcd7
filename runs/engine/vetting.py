"""Script mode: read an uploaded k6 script's real options before anything runs.

`k6 inspect --execution-requirements` evaluates the script's init code in the
same locked-down environment as a run (no worker env, throw-away directory,
time limit) and reports the VUs and total duration it would need, which are
then held against MAX_VUS and MAX_DURATION.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from django.conf import settings

from k6intel.env import parse_duration_s
from runs.engine import k6, sandbox
from runs.engine.findings import blank_comments, find_problems

MAX_SCRIPT_BYTES = 2 * 1024 * 1024
INSPECT_TIMEOUT_S = 20
INSPECT_CPU_S = 10  # CPU seconds k6 inspect may burn (the script's init code runs in it)
SLOTS_DIR = Path(tempfile.gettempdir()) / "k6intel-inspect-slots"
SLOT_WAIT_S = INSPECT_TIMEOUT_S
SLOT_POLL_S = 0.1
# How the box reports a k6 the kernel killed at its CPU limit (or k6 itself, without the box).
CPU_KILLED = {128 + signal.SIGXCPU, 128 + signal.SIGKILL, -signal.SIGXCPU, -signal.SIGKILL}
ITERATIONS_MAX_DURATION = "10m"  # k6's default maxDuration of the iteration-based executors
FIRST_URL = re.compile(r"""https?://[^\s'"`<>\\)]+""")


class ScriptRejected(ValueError):
    def __init__(self, findings: list[str]) -> None:
        super().__init__("; ".join(findings))
        self.findings = findings


@dataclass(frozen=True)
class ScriptRequirements:
    max_vus: int
    duration_s: int  # the load itself: the longest scenario's start time plus its duration or stages
    target_url: str
    graceful_stop_s: int = 0  # what k6's totalDuration adds on top (gracefulStop, gracefulRampDown)
    executors: tuple[str, ...] = ()


def decode_script(raw: bytes, filename: str) -> str:
    problems = []
    if not filename.endswith(".js"):
        problems.append(f"{filename!r} is not a .js file.")
    if len(raw) > MAX_SCRIPT_BYTES:
        problems.append(f"The script is {len(raw)} bytes; the limit is {MAX_SCRIPT_BYTES} bytes (2 MB).")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"The script is not UTF-8 (invalid byte at offset {exc.start}).")
        text = ""
    if problems:
        raise ScriptRejected(problems)
    return text


def vet_script(raw: bytes, filename: str) -> tuple[str, ScriptRequirements]:
    """Everything a script must pass before it is stored; raises ScriptRejected listing every problem."""
    script = decode_script(raw, filename)
    findings = find_problems(script)
    if findings:
        # k6 would only fail on these (or do what they say); report them all instead.
        raise ScriptRejected([str(finding) for finding in findings])
    return script, inspect_script(script)


def inspect_script(script: str) -> ScriptRequirements:
    workdir = Path(tempfile.mkdtemp(prefix="k6intel-inspect-"))
    try:
        k6.prepare_workdir(workdir, script)
        options = _run_inspect(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _requirements(options, script)


def _run_inspect(workdir: Path) -> dict:
    """`k6 inspect` in the same box as the run, but with no network: k6 never fetches a module itself."""
    inside = sandbox.visible_dir(workdir)
    command = [sandbox.k6_binary(), "inspect", "--execution-requirements", "--include-system-env-vars=false"]
    command = sandbox.wrap([*command, str(inside / k6.SCRIPT_NAME)], workdir, network=False, cpu_limit_s=INSPECT_CPU_S)
    with _inspect_slot():
        try:
            done = subprocess.run(
                command,
                cwd=workdir,
                env=k6.k6_environment(workdir),
                capture_output=True,
                timeout=INSPECT_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise ScriptRejected([f"Reading the script's options took longer than {INSPECT_TIMEOUT_S} s."]) from None
    # The kernel sends SIGXCPU at the soft CPU limit and SIGKILL at the hard one (a second later).
    if done.returncode in CPU_KILLED:
        raise ScriptRejected([f"Reading the script's options used more than {INSPECT_CPU_S} s of CPU."])
    if done.returncode != 0:
        detail = k6.clean_paths(done.stderr.decode("utf-8", "replace"), workdir).strip()
        raise ScriptRejected([f"k6 could not read the script: {detail[-800:]}"])
    return orjson.loads(done.stdout)


@contextmanager
def _inspect_slot() -> Iterator[None]:
    """At most INSPECT_CONCURRENCY inspects at once on this machine, whichever process asks: each runs a
    script's init code. A slot is an exclusive lock on one of as many files; the kernel frees it if its
    holder dies."""
    SLOTS_DIR.mkdir(mode=0o700, exist_ok=True)
    deadline = time.monotonic() + SLOT_WAIT_S
    while True:
        for index in range(settings.INSPECT_CONCURRENCY):
            with open(SLOTS_DIR / f"slot-{index}.lock", "a") as slot:
                try:
                    fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                yield  # the lock goes with the file when the `with` closes it
                return
        if time.monotonic() > deadline:
            raise ScriptRejected(["Other scripts are being checked right now; try again in a minute."])
        time.sleep(SLOT_POLL_S)


def _requirements(options: dict, script: str) -> ScriptRequirements:
    max_vus = int(options.get("maxVUs") or 1)
    total_s = round(parse_duration_s(options.get("totalDuration") or "0s") or 0)
    problems = []
    if max_vus > settings.MAX_VUS:
        problems.append(f"The script needs up to {max_vus} VUs; the limit is MAX_VUS={settings.MAX_VUS}.")
    if total_s > settings.MAX_DURATION_S:
        problems.append(f"The script runs for up to {total_s} s; the limit is MAX_DURATION={settings.MAX_DURATION_S} s.")
    if problems:
        raise ScriptRejected(problems)
    scenarios = (options.get("scenarios") or {}).values()
    load_s = min(total_s, max((_scenario_load_s(scenario) for scenario in scenarios), default=total_s)) or total_s
    match = FIRST_URL.search(blank_comments(script))  # a documentation link in a comment is not the target
    executors = tuple(sorted({str(scenario.get("executor")) for scenario in scenarios}))
    return ScriptRequirements(max_vus, max(load_s, 1), match.group(0) if match else "", max(0, total_s - load_s), executors)


def _scenario_load_s(scenario: dict) -> int:
    """How long a scenario applies load, without the graceful stop k6 adds to its totalDuration."""
    start_s = parse_duration_s(scenario.get("startTime") or "0s") or 0
    if scenario.get("stages"):
        load_s = sum(parse_duration_s(stage.get("duration") or "0s") or 0 for stage in scenario["stages"])
    else:
        # Iteration-based executors end when their iterations are done: maxDuration is their upper bound.
        load_s = parse_duration_s(scenario.get("duration") or scenario.get("maxDuration") or ITERATIONS_MAX_DURATION) or 0
    return round(start_s + load_s)
