"""Limits that hold while k6 runs, whatever the script decides at run time: VUs, memory, log size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runs.engine.k6_log import MAX_LINE_BYTES
from runs.models import Run
from runs.pipeline import run_execute

pytestmark = pytest.mark.django_db(transaction=True)


def test_more_vus_than_were_vetted_stop_the_run_with_the_reason(make_run: Callable[..., Run], settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    # Vetted for 2 VUs; at run time the script asks for 6 (as one that reads its options from a
    # file or a random number could).
    script = "import { sleep } from 'k6';\nexport const options = { vus: 6, duration: '20s' };\nexport default function () { sleep(0.1); }\n"
    run = run_execute(make_run(script, planned_duration_s=20, max_vus=2).pk)
    assert run.status == "failed" and run.verdict == "not_graded"
    assert "the test ran 6 VUs, more than the 2 its options declared" in run.error
    assert run.result.delivery["actual_duration_s"] < 10  # stopped early, not at its planned end


def test_k6_over_its_memory_ceiling_is_stopped(make_run: Callable[..., Run], settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    settings.K6_MAX_MEMORY_MB = 150
    script = (
        "const hoard = [];\nexport const options = { vus: 1, duration: '30s' };\n"
        "export default function () { for (let i = 0; i < 20; i++) hoard.push('x'.repeat(1024 * 1024) + i); }\n"
    )
    run = run_execute(make_run(script, planned_duration_s=30).pk)
    # Whichever is first: the kernel's ceiling (a cgroup, where the worker may make one) or the supervisor.
    assert run.status == "failed" and "K6_MAX_MEMORY_MB=150" in run.error, run.error
    assert run.result.delivery["actual_duration_s"] < 20


def test_the_kernel_ceiling_stops_an_allocation_faster_than_a_supervisor_tick(tmp_path: Any) -> None:
    import subprocess
    import sys

    from runs.engine.memory_ceiling import memory_ceiling

    ceiling = memory_ceiling(f"k6intel-test-{tmp_path.name}", 100)
    if ceiling.path is None:
        pytest.fail("no writable cgroup here: the kernel ceiling cannot be tested (the supervisor's still holds)")
    hog = [sys.executable, "-c", "blocks = [bytearray(10**6) for _ in range(400)]; print('survived')"]
    try:
        done = subprocess.run(ceiling.wrap(hog), capture_output=True, text=True, timeout=60)
        assert "survived" not in done.stdout and done.returncode != 0 and ceiling.was_hit()
    finally:
        ceiling.remove()


def test_a_flood_of_output_keeps_a_bounded_log_with_cut_lines(make_run: Callable[..., Run], settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    settings.MAX_LOG_BYTES = 200_000
    script = (
        "export const options = { vus: 1, iterations: 300 };\n"
        "export default function () { console.log('y'.repeat(100000)); console.log('short line ' + __ITER); }\n"
    )
    run = run_execute(make_run(script).pk)
    assert run.status == "done", run.error
    assert len(run.log.encode()) < settings.MAX_LOG_BYTES + 1000  # head and tail within the limit, plus the gap note
    assert "bytes of log omitted" in run.log and "short line 299" in run.log  # the end is kept
    assert max(len(line) for line in run.log.splitlines()) <= MAX_LINE_BYTES + 200
    assert "[line cut]" in run.log
