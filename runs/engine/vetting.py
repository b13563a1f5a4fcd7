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
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson
from django.conf import settings

from k6intel.env import parse_duration_s
from runs.engine import k6, sandbox
from runs.engine.bundle import Bundle, BundleRejected, read_upload
from runs.engine.findings import BLOCKING_RULES, Finding, find_problems
from runs.engine.jssource import read_source
from runs.engine.modules import resolve_modules
from runs.engine.secrets import SENSITIVE_ENV

INSPECT_TIMEOUT_S = 20
INSPECT_CPU_S = 10  # CPU seconds k6 inspect may burn (the script's init code runs in it)
SLOTS_DIR = Path(tempfile.gettempdir()) / "k6intel-inspect-slots"
SLOT_WAIT_S = INSPECT_TIMEOUT_S
SLOT_POLL_S = 0.1
# How the box reports a k6 the kernel killed at its CPU limit (or k6 itself, without the box).
CPU_KILLED = {128 + signal.SIGXCPU, 128 + signal.SIGKILL, -signal.SIGXCPU, -signal.SIGKILL}
ITERATIONS_MAX_DURATION = "10m"  # k6's default maxDuration of the iteration-based executors
FIRST_URL = re.compile(r"https?://\S+")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_ENV_VARS = 100
MAX_ENV_VALUE_CHARS = 4096
MAX_ITERATIONS = 10_000_000
NO_DEFAULT_VUS = "scenario default has configuration errors: the number of VUs must be more than 0"


@dataclass(frozen=True)
class Located:
    """A finding where it is: for the upload page, which shows the offending line."""

    path: str
    line: int
    message: str
    source: str  # that line of the file


class ScriptRejected(ValueError):
    def __init__(self, findings: list[str], located: list[Located] | None = None) -> None:
        super().__init__("; ".join(findings))
        self.findings = findings  # every problem, as the API and CLI list them ("lib/a.js line 3: …")
        self.located = located or []  # those with a file and line


@dataclass(frozen=True)
class ScriptRequirements:
    max_vus: int
    duration_s: int  # the load itself: the longest scenario's start time plus its duration or stages
    target_url: str
    graceful_stop_s: int = 0  # what k6's totalDuration adds on top (gracefulStop, gracefulRampDown)
    executors: tuple[str, ...] = ()
    scenario_executors: tuple[tuple[str, str], ...] = ()  # (name, executor) of each scenario, for its results


@dataclass(frozen=True)
class ScriptOptions:
    """What a user may set for a script run, like k6's own flags: `--entry`, `-e`, `--vus`, `--duration`, `--iterations`."""

    entry: str = ""
    env: dict[str, str] = field(default_factory=dict)
    vus: int | None = None
    duration: str | None = None
    iterations: int | None = None
    target: str = ""  # the analyzers' target when the user names it (else where the load went)

    def overrides(self) -> dict[str, str | int]:
        values: dict[str, str | int | None] = {"vus": self.vus, "duration": self.duration, "iterations": self.iterations}
        return {name: value for name, value in values.items() if value is not None and value != ""}

    def problems(self) -> dict[str, list[str]]:
        """What is wrong, by field (entry, env, vus, duration, iterations)."""
        problems: dict[str, list[str]] = {}
        if env_problems := _env_problems(self.env):
            problems["env"] = env_problems
        if self.vus is not None and not 1 <= self.vus <= settings.MAX_VUS:
            problems["vus"] = [f"Give 1 to MAX_VUS={settings.MAX_VUS}."]
        if self.duration and (duration_problem := _duration_problem(self.duration)):
            problems["duration"] = [duration_problem]
        if self.iterations is not None and not 1 <= self.iterations <= MAX_ITERATIONS:
            problems["iterations"] = [f"Give 1 to {MAX_ITERATIONS}."]
        return problems


def _duration_problem(duration: str) -> str | None:
    seconds = parse_duration_s(duration)
    if seconds is None or seconds <= 0:
        return f"{duration!r} is not a k6 duration such as 30s, 5m or 1m30s."
    if seconds > settings.MAX_DURATION_S:
        return f"{duration} is longer than MAX_DURATION={settings.MAX_DURATION_S} s."
    return None


def _env_problems(env: dict[str, str]) -> list[str]:
    problems = []
    if len(env) > MAX_ENV_VARS:
        problems.append(f"at most {MAX_ENV_VARS} variables.")
    for key, value in env.items():
        if not ENV_NAME.fullmatch(key):
            problems.append(f"{key!r} is not a variable name (letters, digits and _, not starting with a digit).")
        elif SENSITIVE_ENV.search(key) and key.upper().startswith("K6_"):
            # Sealed values reach k6 through its environment, where a K6_ name would be read as a k6 setting.
            problems.append(
                f"{key} looks like a secret and starts with K6_: rename it (k6 reads K6_ variables as its own settings)."
            )
        if len(value) > MAX_ENV_VALUE_CHARS or "\x00" in value:
            problems.append(f"the value of {key} must be text of at most {MAX_ENV_VALUE_CHARS} characters.")
    return problems


def split_env_pairs(pairs: list[str]) -> dict[str, str]:
    """`KEY=VALUE` strings (as given to `-e`) as a mapping; ValueError names a pair without `=`."""
    env = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise ValueError(f"{pair!r} is not KEY=VALUE.")
        env[key.strip()] = value
    return env


@dataclass(frozen=True)
class VettedSuite:
    bundle: Bundle
    needs: ScriptRequirements


def vet_upload(raw: bytes, filename: str, launch: k6.Launch | None = None) -> VettedSuite:
    """Everything an upload must pass before it is stored; raises ScriptRejected listing every problem at once.

    The bundle is read, its remote modules fetched into it, every file checked; then, unless a finding
    would only make it fail, `k6 inspect` reads the options it will really run with (env and overrides
    included) and they are held against the limits.
    """
    launch = launch or k6.Launch()
    try:
        bundle = read_upload(raw, filename, "" if launch.entry == k6.SCRIPT_NAME else launch.entry)
    except BundleRejected as exc:
        raise ScriptRejected(exc.problems) from None
    problems = _undecodable(bundle)
    findings = [Finding(p.path, p.line, "module_fetch", p.message) for p in resolve_modules(bundle)] + find_problems(bundle)
    problems += [str(finding) for finding in findings]
    located = _located(bundle, findings)
    if problems and (any(finding.rule in BLOCKING_RULES | {"module_fetch"} for finding in findings) or not findings):
        raise ScriptRejected(problems, located)  # k6 would only fail on these
    try:
        needs = inspect_bundle(bundle, replace(launch, entry=bundle.entry))
    except ScriptRejected as exc:
        problems += exc.findings
    if problems:
        raise ScriptRejected(problems, located)
    return VettedSuite(bundle, needs)


def _located(bundle: Bundle, findings: list[Finding]) -> list[Located]:
    sources = dict(bundle.scripts())
    located = []
    for finding in findings:
        lines = sources.get(finding.path, b"").decode("utf-8", "replace").splitlines()
        source = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        located.append(Located(finding.path, finding.line, finding.message, source.strip()[:300]))
    return located


def _undecodable(bundle: Bundle) -> list[str]:
    problems = []
    for path, source in bundle.scripts():
        try:
            source.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{path} is not UTF-8 (invalid byte at offset {exc.start}).")
    return problems


def inspect_bundle(bundle: Bundle, launch: k6.Launch) -> ScriptRequirements:
    workdir = Path(tempfile.mkdtemp(prefix="k6intel-inspect-"))
    try:
        k6.prepare_workdir(workdir, bundle.files)
        try:
            options = _run_inspect(workdir, launch)
        except ScriptRejected as exc:
            if "vus" in launch.overrides or not any(NO_DEFAULT_VUS in finding for finding in exc.findings):
                raise
            # `k6 run` defaults to 1 VU through its --vus flag, which `k6 inspect` lacks: the script
            # (iterations or a duration, no VUs) is fine; read it with the 1 VU it will run with.
            options = _run_inspect(workdir, replace(launch, overrides={**launch.overrides, "vus": 1}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _requirements(options, bundle)


def _run_inspect(workdir: Path, launch: k6.Launch) -> dict:
    """`k6 inspect` in the same box as the run, but with no network: k6 never fetches a module itself."""
    inside = sandbox.visible_dir(workdir)
    command = [sandbox.k6_binary(), "inspect", "--execution-requirements", *launch.arguments()]
    command = sandbox.wrap([*command, str(inside / launch.entry)], workdir, network=False, cpu_limit_s=INSPECT_CPU_S)
    with _inspect_slot():
        try:
            done = subprocess.run(
                command,
                cwd=workdir,
                env=k6.k6_environment(workdir, launch),
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


def _requirements(options: dict, bundle: Bundle) -> ScriptRequirements:
    max_vus = int(options.get("maxVUs") or 1)
    total_s = round(parse_duration_s(options.get("totalDuration") or "0s") or 0)
    problems = []
    if max_vus > settings.MAX_VUS:
        problems.append(f"The script needs up to {max_vus} VUs; the limit is MAX_VUS={settings.MAX_VUS}.")
    if total_s > settings.MAX_DURATION_S:
        problems.append(f"The script runs for up to {total_s} s; the limit is MAX_DURATION={settings.MAX_DURATION_S} s.")
    if problems:
        raise ScriptRejected(problems)
    named = options.get("scenarios") or {}
    scenarios = named.values()
    load_s = min(total_s, max((_scenario_load_s(scenario) for scenario in scenarios), default=total_s)) or total_s
    executors = tuple(sorted({str(scenario.get("executor")) for scenario in scenarios}))
    by_name = tuple(sorted((name, str(scenario.get("executor"))) for name, scenario in named.items()))
    return ScriptRequirements(max_vus, max(load_s, 1), _first_url(bundle), max(0, total_s - load_s), executors, by_name)


def _first_url(bundle: Bundle) -> str:
    """Until the samples say where the load went: the first URL written in the entry's code (never a comment)."""
    strings = read_source(bundle.entry_source().encode(), bundle.entry).strings
    return next((literal.value for literal in strings if FIRST_URL.fullmatch(literal.value)), "")


def _scenario_load_s(scenario: dict) -> int:
    """How long a scenario applies load, without the graceful stop k6 adds to its totalDuration."""
    start_s = parse_duration_s(scenario.get("startTime") or "0s") or 0
    if scenario.get("stages"):
        load_s = sum(parse_duration_s(stage.get("duration") or "0s") or 0 for stage in scenario["stages"])
    else:
        # Iteration-based executors end when their iterations are done: maxDuration is their upper bound.
        load_s = parse_duration_s(scenario.get("duration") or scenario.get("maxDuration") or ITERATIONS_MAX_DURATION) or 0
    return round(start_s + load_s)
