"""Executing k6: a locked-down `k6 run` with a wall-clock limit enforced from outside.

The child gets an explicit minimal environment (never the worker's), an empty
config file, no REST API, a throw-away working directory, its own process
group and a parent-death signal, so it can neither read the worker's secrets
through its environment nor outlive the worker.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
from django.conf import settings

from runs.engine import egress, prometheus, sandbox
from runs.engine.k6_codes import K6Exit, describe_exit
from runs.engine.k6_log import LogCapture
from runs.engine.memory_ceiling import MemoryCeiling, memory_ceiling
from runs.engine.secrets import MASK, SECRETS_FILE
from runs.engine.segments import segment_arguments
from runs.engine.targets import k6_policy_args

logger = logging.getLogger(__name__)

SCRIPT_NAME = "script.js"  # a builder script, or a single uploaded file
OUTPUT_DIR = ".k6intel"  # the platform's own files beside the suite's (bundle.RESERVED_DIR)
SUMMARY_NAME = f"{OUTPUT_DIR}/summary.json"
SAMPLES_NAME = f"{OUTPUT_DIR}/samples.csv"
CONFIG_NAME = f"{OUTPUT_DIR}/config.json"
OVERRIDE_ENV = {"vus": "K6_VUS", "duration": "K6_DURATION", "iterations": "K6_ITERATIONS"}
MAX_ARTIFACTS = 20
MAX_ARTIFACT_BYTES = 5 * 1024 * 1024
MAX_ARTIFACTS_TOTAL_BYTES = 20 * 1024 * 1024
TREND_STATS = "avg,min,med,max,p(90),p(95),p(99)"
TICK_S = 0.5
# After SIGTERM, k6 finishes its summary; this is how long it gets before SIGKILL.
STOP_GRACE_S = 20
SHUTDOWN_SIGNAL_DELAY_S = 3.0  # a worker's shutdown: how long k6 may take to stop on its own SIGTERM first


@dataclass(frozen=True)
class K6Outcome:
    exit: K6Exit
    stopped_by: str | None  # "deadline", "interrupted", or the tick callback's reason ("cancel", "over_limit", "shutdown")
    elapsed_s: float
    workdir: Path
    log: LogCapture

    @property
    def summary_path(self) -> Path:
        return self.workdir / SUMMARY_NAME

    @property
    def samples_path(self) -> Path:
        return self.workdir / SAMPLES_NAME


# Called every tick while k6 runs (with the elapsed seconds and k6's output so far); returning a
# reason ("cancel", "over_limit") asks k6 to stop.
TickCallback = Callable[[float, LogCapture], str | None]


@dataclass(frozen=True)
class Launch:
    """What k6 is told beside its files: the entry, `-e` variables and the vus/duration/iterations overrides.

    Secret variables reach k6 through its process environment (readable only by its own user), never its
    command line; the overrides too, as K6_VUS/K6_DURATION/K6_ITERATIONS: the same layer for `k6 inspect`
    (which has no such flags) and `k6 run`, so the options checked are the options run.
    """

    entry: str = SCRIPT_NAME
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str | int] = field(default_factory=dict)
    run_id: str = ""  # labels the run's series where its metrics are also exported (runs/engine/prometheus.py)
    metrics_url: str = ""  # the run's own Prometheus remote-write endpoint, when it named one
    segment: tuple[int, int] = (0, 1)  # (index, count): this process's share of a split run (runs/engine/segments.py)
    # Where k6 pushes its aggregated samples (runs/engine/remotewrite); empty: it writes every sample to CSV.
    samples_url: str = ""

    def arguments(self) -> list[str]:
        system_env = "true" if self.secret_env else "false"
        return [
            f"--include-system-env-vars={system_env}",
            *(arg for key, value in self.env.items() for arg in ("-e", f"{key}={value}")),
        ]

    def environment(self) -> dict[str, str]:
        # Secret names never start with K6_ (vetting refuses them): k6 would read them as its own settings.
        overrides = {OVERRIDE_ENV[name]: str(value) for name, value in self.overrides.items() if value not in (None, "")}
        secrets = {key: value for key, value in self.secret_env.items() if not key.upper().startswith("K6_")}
        if self.samples_url:
            outputs = prometheus.samples_environment(self.samples_url)
        else:
            outputs = prometheus.output_environment(self.metrics_url)
        return {**secrets, **overrides, **outputs}

    def output_arguments(self, inside: Path) -> list[str]:
        """Where k6 sends its samples: the worker's remote-write receiver (lean), or CSV plus, when the run
        exports its metrics, the Prometheus endpoint (k6 has one remote-write output: the two exclude each
        other, runs/pipeline.py)."""
        if self.samples_url:
            return ["--out", "experimental-prometheus-rw"]
        return [
            "--out",
            f"csv={inside / SAMPLES_NAME}",
            *prometheus.output_arguments(self.run_id, self.metrics_url, self.segment),
        ]


def prepare_workdir(workdir: Path, files: dict[str, bytes] | str) -> None:
    """The suite's files (or a builder's one script) and the platform's output folder."""
    workdir.mkdir(parents=True, exist_ok=True)
    for path, content in ({SCRIPT_NAME: files.encode()} if isinstance(files, str) else files).items():
        destination = workdir / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
    (workdir / OUTPUT_DIR).mkdir(exist_ok=True)
    (workdir / CONFIG_NAME).write_text("{}", encoding="utf-8")


def collect_artifacts(
    workdir: Path, inputs: dict[str, bytes] | str, secret_texts: list[str]
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Files the run wrote beside its suite (handleSummary's): (name, bytes) kept, and notes on those left out.

    Secret values are masked in them as in the log.
    """
    given = {SCRIPT_NAME: inputs.encode()} if isinstance(inputs, str) else inputs
    kept: list[tuple[str, bytes]] = []
    notes: list[str] = []
    total_bytes = 0
    for path in sorted(workdir.rglob("*")):
        name = path.relative_to(workdir).as_posix()
        if name.split("/", 1)[0] in (OUTPUT_DIR, SECRETS_FILE) or path.is_symlink() or not path.is_file():
            continue
        size_bytes = path.stat().st_size
        if size_bytes > MAX_ARTIFACT_BYTES:
            notes.append(f"{name} ({size_bytes} bytes) is larger than {MAX_ARTIFACT_BYTES} bytes and was not kept.")
            continue
        content = path.read_bytes()
        if given.get(name) == content:
            continue
        if len(kept) == MAX_ARTIFACTS or total_bytes + len(content) > MAX_ARTIFACTS_TOTAL_BYTES:
            notes.append(
                f"At most {MAX_ARTIFACTS} files and {MAX_ARTIFACTS_TOTAL_BYTES} bytes written are kept; {name} and later ones were not."
            )
            break
        total_bytes += len(content)
        for secret in secret_texts:
            content = content.replace(secret.encode(), MASK.encode())
        kept.append((name, content))
    return kept, notes


def _secrets_in_memory(workdir: Path, secrets: dict[str, Any]) -> int:
    """The credentials in an anonymous in-memory file that only k6 inherits; `secrets.json` is a link to it.

    Nothing plain ever rests on disk: a worker killed mid-run leaves a dangling link, and the memory
    goes with the last process holding it (k6).
    """
    fd = os.memfd_create("k6intel-secrets")
    os.write(fd, orjson.dumps(secrets))
    (workdir / SECRETS_FILE).symlink_to(f"/proc/self/fd/{fd}")  # k6 is passed the same descriptor number
    return fd


def k6_command(workdir: Path, launch: Launch) -> list[str]:
    inside = sandbox.visible_dir(workdir)
    return [
        sandbox.k6_binary(),
        "run",
        "--no-usage-report",
        *launch.arguments(),
        "--address",
        "",
        "--config",
        str(inside / CONFIG_NAME),
        "--summary-export",
        str(inside / SUMMARY_NAME),
        "--summary-trend-stats",
        TREND_STATS,
        *launch.output_arguments(inside),
        *segment_arguments(*launch.segment),
        "--no-color",
        # No --quiet: without a terminal k6 writes a progress line each second, which is the live log.
        *k6_policy_args(),
        str(inside / launch.entry),
    ]


def k6_environment(workdir: Path, launch: Launch | None = None) -> dict[str, str]:
    """The whole environment k6 sees. Nothing from the worker leaks in."""
    inside = str(sandbox.visible_dir(workdir))
    return {
        **(launch.environment() if launch else {}),
        "PATH": "/usr/bin:/bin",
        "HOME": inside,
        "TMPDIR": inside,
        "XDG_CONFIG_HOME": inside,
        "LANG": "C.UTF-8",
        "K6_NO_USAGE_REPORT": "true",
        "K6_AUTO_EXTENSION_RESOLUTION": "false",
        # Flush samples twice a second so live progress trails k6 by well under a second.
        "K6_CSV_SAVE_INTERVAL": "500ms",
    }


def execute(
    workdir: Path,
    budget_s: int,
    on_tick: TickCallback,
    on_start: Callable[[int], None] = lambda pid: None,
    secrets: dict[str, Any] | None = None,
    launch: Launch | None = None,
) -> K6Outcome:
    """Run k6 for at most `budget_s` (planned load and graceful stop) plus K6_GRACE_S."""
    deadline_s = budget_s + settings.K6_GRACE_S
    started = time.monotonic()
    log = LogCapture(settings.MAX_LOG_BYTES)
    ceiling = memory_ceiling(f"k6intel-{workdir.name}", settings.K6_MAX_MEMORY_MB)
    secrets_fd = _secrets_in_memory(workdir, secrets) if secrets else None
    try:
        process = _spawn(workdir, launch or Launch(), ceiling, egress.k6_uid(), () if secrets_fd is None else (secrets_fd,))
    finally:
        if secrets_fd is not None:
            os.close(secrets_fd)  # k6 holds its own copy of the descriptor now
    assert process.stdout is not None
    log.start(process.stdout)
    try:
        on_start(process.pid)
        stopped_by = _supervise(process, started, deadline_s, lambda elapsed_s: on_tick(elapsed_s, log))
    except Exception:
        # Anything going wrong here (the task's soft time limit included)
        # stops k6 gracefully so that its summary is still written.
        logger.warning("stopping k6 (pid %s) after an interruption", process.pid, exc_info=True)
        stop(process)
        stopped_by = "interrupted"
    log.join()
    process.stdout.close()
    if ceiling.was_hit():
        stopped_by = "memory_ceiling"
    ceiling.remove()
    return K6Outcome(describe_exit(process.returncode), stopped_by, time.monotonic() - started, workdir, log)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (k6 writes its summary and exits 105), then SIGKILL if it lingers."""
    ask_to_stop(process.pid)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _spawn(
    workdir: Path, launch: Launch, ceiling: MemoryCeiling, uid: int | None, pass_fds: tuple[int, ...]
) -> subprocess.Popen[bytes]:
    # The parent-death signal is set by setpriv, which then execs the sandbox:
    # no Python code runs between fork and exec.
    if uid is not None:  # k6 reads the suite, writes its summary and samples, and handleSummary its files
        for path in (workdir, *workdir.rglob("*")):
            os.chown(path, uid, uid, follow_symlinks=False)
    return subprocess.Popen(
        ceiling.wrap(sandbox.wrap(k6_command(workdir, launch), workdir, uid=uid)),
        cwd=workdir,
        env=k6_environment(workdir, launch),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,  # read by LogCapture: nothing of the log lands in the box or on disk
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
        pass_fds=pass_fds,
    )


def _supervise(
    process: subprocess.Popen[bytes], started: float, deadline_s: float, on_tick: Callable[[float], str | None]
) -> str | None:
    stopped_by: str | None = None
    stop_sent_at: float | None = None
    signal_at: float | None = None  # when k6 gets its SIGTERM from here
    while process.poll() is None:
        elapsed = time.monotonic() - started
        stop_reason = on_tick(elapsed)
        if stop_sent_at is None and (stop_reason or elapsed > deadline_s):
            stopped_by = stop_reason or "deadline"
            stop_sent_at = elapsed
            # systemd signals every process of the worker, k6 too, and a second SIGTERM makes k6 abort without
            # its summary: on a shutdown k6 gets a moment to stop by itself first (it needs some milliseconds).
            signal_at = elapsed + (SHUTDOWN_SIGNAL_DELAY_S if stopped_by == "shutdown" else 0.0)
        if signal_at is not None and elapsed >= signal_at:
            ask_to_stop(process.pid)
            signal_at = None
        elif stop_sent_at is not None and elapsed - stop_sent_at > STOP_GRACE_S:
            signal_group(process.pid, signal.SIGKILL)
        _wait(process, TICK_S)
    on_tick(time.monotonic() - started)
    return stopped_by


def _wait(process: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def ask_to_stop(pid: int) -> None:
    """SIGTERM to k6 itself: the sandbox would die of it at once and take k6 down unfinished."""
    try:
        inside = [child for child in psutil.Process(pid).children(recursive=True) if child.name() == "k6"]
    except psutil.NoSuchProcess:
        return
    for k6_process in inside or [psutil.Process(pid)]:
        try:
            k6_process.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Signal k6's whole process group; False when it is already gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def kill_leftover(pid: int) -> bool:
    """SIGKILL a k6 process group left behind by a dead worker, if it is still k6 (or its sandbox)."""
    try:
        with open(f"/proc/{pid}/comm") as comm:
            if comm.read().strip() not in ("k6", "bwrap") or os.getpgid(pid) != pid:
                return False
    except (FileNotFoundError, ProcessLookupError):
        return False
    return signal_group(pid, signal.SIGKILL)


def clean_paths(text: str, workdir: Path) -> str:
    """Drop the throw-away directory from k6's messages, so they read `script.js:12`."""
    for directory in {str(workdir), str(sandbox.visible_dir(workdir))}:
        text = text.replace(f"file://{directory}/", "").replace(f"{directory}/", "")
    return text
