"""Sandbox: how one test process is started, contained and cleaned up.

Setup, in order: namespaces (bubblewrap: IPC, PID, mount, network, user,
UTS), file system view, private /dev/shm and /dev/mqueue, resource limits,
session. Where bubblewrap cannot create namespaces, the grader says so and
runs each test in its own process group with the same resource limits: the
report is then marked "reduced isolation", never silently.
"""

from __future__ import annotations

import os
import signal
import time
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# Defaults for every test process; a lab overrides them in lab.toml [limits].
DEFAULT_LIMITS = {
    "cpu_seconds": 60,  # CPU time, all threads; wall time is the test's timeout
    "memory_mb": 2048,  # address space
    "file_size_mb": 64,  # largest file a test may write
    "open_files": 256,
    "processes": 256,  # enforced only for a non-root user (the kernel exempts root)
}

# Where the test binary appears inside the sandbox.
BINARY_INSIDE = "/lab/tests"


@dataclass(frozen=True)
class Sandbox:
    kind: str  # "bubblewrap" or "reduced"
    reason: str = ""  # why isolation is reduced
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))

    @property
    def isolated(self) -> bool:
        return self.kind == "bubblewrap"

    def with_limits(self, overrides: dict[str, int]) -> Sandbox:
        return Sandbox(self.kind, self.reason, {**self.limits, **overrides})

    def command(self, binary: Path, args: list[str], token: str) -> list[str]:
        """The command line that runs `binary args` in this sandbox.

        The caller starts it in a new session with RUN_MARKER=token in its
        environment, and calls kill_marked(token) when it has ended.
        """
        contained = [str(binary), *args]
        if self.isolated:
            marker = ["--setenv", RUN_MARKER, token]
            contained = ["bwrap", *_bubblewrap_setup(binary), *marker, "--", BINARY_INSIDE, *args]
        return [*self._rlimits(), *contained]

    def _rlimits(self) -> list[str]:
        # prlimit (util-linux) sets them in the child before exec, with no
        # Python code between fork and exec.
        mb = 1024 * 1024
        return [
            "prlimit",
            f"--cpu={self.limits['cpu_seconds']}",
            f"--as={self.limits['memory_mb'] * mb}",
            f"--fsize={self.limits['file_size_mb'] * mb}",
            f"--nofile={self.limits['open_files']}",
            f"--nproc={self.limits['processes']}",
            "--",
        ]


# Reduced isolation marks each test's processes with this variable in their
# environment, which children and daemons inherit, to find them afterwards.
RUN_MARKER = "IPCLAB_RUN"


def kill_marked(token: str) -> int:
    """Kills every process carrying RUN_MARKER=token; returns how many.

    Under bubblewrap the PID namespace takes a test's processes down with
    it, but asynchronously: this sweep also makes sure they are gone before
    the next test starts. In reduced isolation it is the only net; a process
    that scrubs its environment escapes it (the README says so).
    """
    needle = f"{RUN_MARKER}={token}".encode()
    killed = 0
    for _ in range(20):  # processes may fork while we look: look again
        found = [pid for pid in _all_pids() if pid != os.getpid() and needle in _environ(pid)]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.01)  # SIGKILL takes effect asynchronously
    return killed


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def _bubblewrap_setup(binary: Path) -> list[str]:
    return [
        # Namespaces: the tree dies with bwrap, and with the grader.
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        # File system: the system read-only, nothing of the repository but the test binary.
        *_system_directories(),
        "--ro-bind", str(binary), BINARY_INSIDE,
        "--proc", "/proc",
        "--dev", "/dev",
        "--tmpfs", "/tmp",
        # IPC: private, empty, and writable by anyone, as on a real machine.
        "--perms", "1777", "--tmpfs", "/dev/shm",
        "--mqueue", "/dev/mqueue",
        # Environment: nothing from the grader's.
        "--chdir", "/tmp",
        "--clearenv",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
        "--setenv", "TMPDIR", "/tmp",
        "--setenv", "HOME", "/tmp",
    ]  # fmt: skip


def _system_directories() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


def detect() -> Sandbox:
    """The strongest sandbox this machine allows, tried once."""
    if shutil.which("bwrap") is None:
        return Sandbox("reduced", "bubblewrap is not installed (Debian package: bubblewrap)")
    probe = subprocess.run(
        ["bwrap", *_bubblewrap_setup(Path("/bin/true")), "--", BINARY_INSIDE],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return Sandbox("reduced", f"bubblewrap cannot create namespaces here: {probe.stderr.strip()}")
    return Sandbox("bubblewrap")
