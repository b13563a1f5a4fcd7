"""A kernel memory ceiling for k6, where the machine lets us set one (a writable cgroup, v1 or v2).

The supervisor's own check (K6_MAX_MEMORY_MB against k6's resident memory,
once per tick) is always there; a cgroup adds a hard limit that a script
allocating faster than a tick cannot outrun. Without the rights to create
cgroups (an unprivileged worker) this quietly does nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")
CGROUP_V2 = Path("/sys/fs/cgroup")
MIB = 1024 * 1024
SWEEP_AFTER_S = 600


@dataclass(frozen=True)
class MemoryCeiling:
    path: Path | None  # the run's cgroup, or None when none could be made
    version: int = 0

    def wrap(self, command: list[str]) -> list[str]:
        """The command, started inside the cgroup: the shell joins it, then becomes the command (no race)."""
        if self.path is None:
            return command
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *command]

    def was_hit(self) -> bool:
        """Whether the kernel had to stop k6 at the ceiling."""
        if self.path is None:
            return False
        try:
            if self.version == 1:
                return int((self.path / "memory.failcnt").read_text()) > 0
            events = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0)) > 0
        except (OSError, ValueError):
            return False

    def remove(self) -> None:
        if self.path is not None:
            try:
                self.path.rmdir()
            except OSError:
                log.warning("could not remove the cgroup %s", self.path)


def memory_ceiling(name: str, limit_mb: int) -> MemoryCeiling:
    for version, root, limit_file in ((1, CGROUP_V1_MEMORY, "memory.limit_in_bytes"), (2, CGROUP_V2, "memory.max")):
        if version == 2 and not (root / "cgroup.controllers").exists():
            continue
        _sweep(root)
        path = root / name
        try:
            path.mkdir()
        except OSError:
            continue
        try:
            (path / limit_file).write_text(str(limit_mb * MIB))
            return MemoryCeiling(path, version)
        except OSError:
            path.rmdir()
    return MemoryCeiling(None)


def _sweep(root: Path) -> None:
    """Remove the empty cgroups of runs whose worker died before cleaning up (a cgroup in use cannot be removed).

    Young ones are left alone: between its creation and k6 joining it, a new run's cgroup is empty too.
    """
    now_s = time.time()
    for stale in root.glob("k6intel-*"):
        try:
            if now_s - stale.stat().st_mtime > SWEEP_AFTER_S:
                stale.rmdir()
        except OSError:
            continue
