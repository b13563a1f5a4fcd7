"""The CPU sampler measures k6 itself, not the idle sandbox around it, with real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from runs.engine.resources import CpuSampler

SPIN_S = 2.5
TICK_S = 0.5  # as k6.TICK_S
SPIN = f"import time\nend = time.monotonic() + {SPIN_S}\nwhile time.monotonic() < end: pass"
SLEEP = f"import time; time.sleep({SPIN_S})"


@pytest.fixture
def k6_named_python(tmp_path: Path) -> Path:
    """A Python interpreter whose process is named k6, as the sandbox's innermost process is."""
    link = tmp_path / "k6"
    link.symlink_to(sys.executable)
    return link


@pytest.fixture
def sandbox(k6_named_python: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _sandboxed(k6_named_python: Path, wrapper_code: str, k6_code: str) -> subprocess.Popen[bytes]:
    """A wrapper process (standing in for setpriv/bwrap) that runs a child named k6 and waits for it."""
    wrapper = f"import subprocess\nchild = subprocess.Popen([{str(k6_named_python)!r}, '-c', {k6_code!r}])\n{wrapper_code}\nchild.wait()"
    return subprocess.Popen([sys.executable, "-c", wrapper])


def _sample_while_running(process: subprocess.Popen[bytes]) -> dict:
    sampler = CpuSampler(process.pid)
    while process.poll() is None:
        time.sleep(TICK_S)
        sampler.sample()
    return sampler.summary()


def test_a_busy_k6_inside_an_idle_sandbox_is_measured(k6_named_python: Path, sandbox: list) -> None:
    sandbox.append(_sandboxed(k6_named_python, "", SPIN))
    summary = _sample_while_running(sandbox[-1])
    k6_cpu = summary["k6_cpu_percent_of_machine"]
    cores = psutil.cpu_count()
    assert cores is not None
    # A spinning loop holds one core; > 20 % of one core leaves room for a loaded test machine.
    assert k6_cpu["samples"] >= 3
    assert k6_cpu["avg"] > 20 / cores, summary
    assert k6_cpu["max"] <= 100 and summary["cores"] == cores
    assert set(summary["system_cpu_percent"]) == {"avg", "max", "samples"}


def test_a_busy_sandbox_around_an_idle_k6_is_not_counted(k6_named_python: Path, sandbox: list) -> None:
    sandbox.append(_sandboxed(k6_named_python, SPIN, SLEEP))
    summary = _sample_while_running(sandbox[-1])
    k6_cpu = summary["k6_cpu_percent_of_machine"]
    cores = psutil.cpu_count()
    assert cores is not None
    assert k6_cpu["samples"] >= 3 and k6_cpu["max"] < 10 / cores, summary
