"""CPU of the load generator during a run: is k6 (or the machine) the bottleneck?"""

from __future__ import annotations

from typing import Any

import psutil


class CpuSampler:
    """Samples the CPU of k6's process tree and of the whole machine, once per supervisor tick."""

    def __init__(self, pid: int) -> None:
        self.cores = psutil.cpu_count() or 1
        self.root = _process(pid)
        self.k6_percent: list[float] = []
        self.system_percent: list[float] = []
        psutil.cpu_percent()  # the first call only sets the baseline

    def sample(self) -> None:
        if self.root is None:
            return
        try:
            tree = [self.root, *self.root.children(recursive=True)]
            total = sum(process.cpu_percent() for process in tree)
        except psutil.Error:
            return  # k6 has just exited
        # cpu_percent() is per core (up to 100 × cores); keep it as a share of the machine.
        self.k6_percent.append(total / self.cores)
        self.system_percent.append(psutil.cpu_percent())

    def summary(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "k6_cpu_percent_of_machine": _stats(self.k6_percent[1:]),  # the first sample of a process is always 0
            "system_cpu_percent": _stats(self.system_percent[1:]),
        }


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"avg": 0.0, "max": 0.0, "samples": 0}
    return {"avg": round(sum(values) / len(values), 1), "max": round(max(values), 1), "samples": len(values)}
