"""CPU and memory of the load generator during a run: is k6 (or the machine) the bottleneck, is k6 within its limits?"""

from __future__ import annotations

from typing import Any

import psutil

K6_PROCESS_NAME = "k6"
MIB = 1024 * 1024


class CpuSampler:
    """Samples the CPU of k6 and of the whole machine, once per supervisor tick.

    `pid` is the sandbox k6 runs in (setpriv → bwrap → bwrap → k6): only the processes named k6, and
    anything they start, are counted. psutil measures a process's CPU between two cpu_percent() calls
    on the same Process object, so the objects are kept from tick to tick.
    """

    def __init__(self, pid: int, process_name: str = K6_PROCESS_NAME) -> None:
        self.cores = psutil.cpu_count() or 1
        self.root = _process(pid)
        self.process_name = process_name
        self.tracked: dict[int, psutil.Process] = {}
        self.k6_percent: list[float] = []
        self.system_percent: list[float] = []
        self.k6_rss_bytes = 0  # k6's resident memory at the last sample
        self.k6_max_rss_bytes = 0
        psutil.cpu_percent()  # the first call only sets the baseline

    def sample(self) -> None:
        if self.root is None:
            return
        try:
            k6_percent_of_core = self._k6_percent_of_core()
            self.k6_rss_bytes = sum(process.memory_info().rss for process in self.tracked.values())
        except psutil.Error:
            return  # k6 has just exited
        self.k6_max_rss_bytes = max(self.k6_max_rss_bytes, self.k6_rss_bytes)
        if k6_percent_of_core is not None:
            # cpu_percent() is per core (up to 100 × cores); keep it as a share of the machine.
            self.k6_percent.append(k6_percent_of_core / self.cores)
        self.system_percent.append(psutil.cpu_percent())

    def summary(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "k6_cpu_percent_of_machine": _stats(self.k6_percent),
            "system_cpu_percent": _stats(self.system_percent),
            "k6_max_rss_mb": round(self.k6_max_rss_bytes / MIB, 1),
        }

    def _k6_percent_of_core(self) -> float | None:
        """k6's CPU since the previous tick; None until some k6 process has been seen at two ticks."""
        total, measured = 0.0, False
        still_running: dict[int, psutil.Process] = {}
        for process in self._k6_tree():
            kept = self.tracked.get(process.pid)
            if kept is None or kept != process:  # new, or a reused pid (Process equality includes the start time)
                kept = process
                kept.cpu_percent()  # a Process's first reading is always 0: it only sets the baseline
            else:
                total += kept.cpu_percent()
                measured = True
            still_running[process.pid] = kept
        self.tracked = still_running
        return total if measured else None

    def _k6_tree(self) -> list[psutil.Process]:
        assert self.root is not None
        everything = [self.root, *self.root.children(recursive=True)]
        k6 = [process for process in everything if process.name() == self.process_name]
        descendants = [child for process in k6 for child in process.children(recursive=True)]
        return list({process.pid: process for process in [*k6, *descendants]}.values())


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"avg": 0.0, "max": 0.0, "samples": 0}
    return {"avg": round(sum(values) / len(values), 1), "max": round(max(values), 1), "samples": len(values)}
