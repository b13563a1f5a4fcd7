"""The box k6 runs in: bubblewrap with a minimal read-only view of the system.

Inside, k6 is user `nobody` in its own user, PID, IPC and UTS namespaces with
no capabilities. It sees /usr, TLS roots and resolver files read-only, its own
binary at /opt/k6/k6, and its throw-away work directory at /sandbox, the only
writable place. The project, `.env`, the worker's /proc and every other file
are simply not there. Outside the box, `setpriv --pdeathsig` ties bubblewrap
(and so k6) to the life of the worker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

INSIDE_DIR = Path("/sandbox")
INSIDE_K6 = "/opt/k6/k6"
NOBODY = "65534"
IGNORE_SIGTERM = ("/bin/sh", "-c", 'trap "" TERM; exec "$@"', "sh")  # the disposition survives exec
READ_ONLY_ETC = ("/etc/ssl", "/etc/ca-certificates", "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf")


def enabled() -> bool:
    return settings.K6_SANDBOX == "bwrap"


def visible_dir(workdir: Path) -> Path:
    """Where k6 sees its work directory."""
    return INSIDE_DIR if enabled() else workdir


def k6_binary() -> str:
    return INSIDE_K6 if enabled() else settings.K6_BIN


def wrap(
    command: list[str], workdir: Path, network: bool = True, cpu_limit_s: int | None = None, uid: int | None = None
) -> list[str]:
    """The full argv that runs `command` (written with inside paths) in the box.

    `network=False` gives the box no network at all (its own empty network namespace); `cpu_limit_s`
    caps the CPU time of everything in it (RLIMIT_CPU, inherited by k6); `uid` is the user (and
    group) the box runs as, seen from outside it: the one the kernel's egress rules match.
    """
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    as_user = [] if uid is None else ["--reuid", str(uid), "--regid", str(uid), "--clear-groups"]
    # The box ignores SIGTERM (k6, a Go program, installs its own handler and stops gracefully): when
    # systemd signals every process of the service, bubblewrap must not die of it and take k6 down
    # before it has written its summary.
    guard = [*IGNORE_SIGTERM, setpriv, *as_user, "--pdeathsig", "KILL", "--"]
    if cpu_limit_s is not None:
        guard = [shutil.which("prlimit") or "/usr/bin/prlimit", f"--cpu={cpu_limit_s}:{cpu_limit_s + 1}", "--", *guard]
    if not enabled():
        return guard + command
    isolation = [] if network else ["--unshare-net"]
    return guard + _bwrap(workdir) + isolation + ["--"] + command


def _bwrap(workdir: Path) -> list[str]:
    args = [shutil.which("bwrap") or "/usr/bin/bwrap"]
    args += ["--unshare-user", "--uid", NOBODY, "--gid", NOBODY, "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--cap-drop", "ALL", "--die-with-parent"]  # the environment is already minimal (k6.k6_environment)
    args += ["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64"]
    args += ["--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in READ_ONLY_ETC:
        args += ["--ro-bind-try", path, path]
    args += ["--ro-bind", settings.K6_BIN, INSIDE_K6, "--bind", str(workdir), str(INSIDE_DIR), "--chdir", str(INSIDE_DIR)]
    return args
