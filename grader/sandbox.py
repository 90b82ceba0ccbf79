"""Sandbox: how one test process is started, contained and cleaned up.

Setup, in order (see Sandbox.command):
  1. limits       prlimit: CPU seconds, address space, file size, open files, processes
  2. credentials  as root, drop to an unprivileged uid of a pool, so the
                  process limit counts (the kernel exempts root from it)
  3. namespaces   bubblewrap: IPC, PID, mount, network, user, UTS; dies with the grader
  4. file system  read-only /usr and /etc; the test binary and the inspector only;
                  private /tmp, /dev/shm (1777) and /dev/mqueue
  5. environment  cleared, then PATH, HOME, TMPDIR and the run marker
  6. inspector    the test binary's parent inside the sandbox: reports leaks
  7. exec

Where bubblewrap cannot create namespaces, the grader says so and runs the
test with the same limits, credentials, inspector and a scratch working
directory, in a session of its own: the report is marked "reduced
isolation", never silently.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Defaults for every test process; a lab overrides them in lab.toml [limits].
DEFAULT_LIMITS = {
    "cpu_seconds": 60,  # CPU time, all threads; wall time is the test's timeout
    "memory_mb": 2048,  # address space
    "file_size_mb": 64,  # largest file a test may write
    "open_files": 256,
    "processes": 256,  # per uid; each test gets a uid of its own when the grader is root
}

# /tmp and /dev/shm are memory-backed inside the sandbox: a test may fill
# each up to this size, and no further.
TMPFS_BYTES = 512 * 1024 * 1024

# Inside the sandbox.
BINARY_INSIDE = "/lab/tests"
INSPECTOR_INSIDE = "/lab/inspector.py"
INSPECTOR = Path(__file__).with_name("inspector.py")

# Reduced isolation marks each test's processes with this variable in their
# environment, which children and daemons inherit, to find them afterwards.
RUN_MARKER = "IPCLAB_RUN"

# Unprivileged uids for test processes when the grader runs as root; no
# account needs to exist for them.
UID_POOL_START, UID_POOL_SIZE = 61000, 4000
_uids = itertools.count()
_uids_lock = threading.Lock()


def _next_uid() -> int:
    with _uids_lock:
        return UID_POOL_START + next(_uids) % UID_POOL_SIZE


@dataclass(frozen=True)
class TestView:
    """One test's private copy of what it may see; removed after the test."""

    __test__ = False  # not a pytest test class, despite the name
    scratch: Path
    binary: Path
    inspector: Path
    workdir: Path  # the working directory in reduced isolation

    @staticmethod
    def create(binary: Path) -> TestView:
        # Readable by the unprivileged uid the test runs as; the build
        # outputs themselves may sit in a directory it cannot enter.
        scratch = Path(tempfile.mkdtemp(prefix="ipclab-test-"))
        scratch.chmod(0o755)
        view = TestView(scratch, scratch / "tests", scratch / "inspector.py", scratch / "work")
        shutil.copyfile(binary, view.binary)
        shutil.copyfile(INSPECTOR, view.inspector)
        view.binary.chmod(0o555)
        view.inspector.chmod(0o444)
        view.workdir.mkdir(mode=0o1777)
        view.workdir.chmod(0o1777)
        return view

    def remove(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


@dataclass(frozen=True)
class Sandbox:
    kind: str  # "bubblewrap" or "reduced"
    reason: str = ""  # why isolation is reduced
    drop_to_uid: bool = False  # the grader is root and may run tests as another uid
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))

    @property
    def isolated(self) -> bool:
        return self.kind == "bubblewrap"

    def with_limits(self, overrides: dict[str, int]) -> Sandbox:
        return Sandbox(self.kind, self.reason, self.drop_to_uid, {**self.limits, **overrides})

    def command(self, view: TestView, args: list[str], token: str) -> list[str]:
        """The command line that runs the test binary with `args` in this sandbox.

        The caller starts it in a new session, in view.workdir, with
        environment(token), and calls kill_marked(token) when it has ended.
        """
        steps = [*self._limits(), *self._credentials()]
        if self.isolated:
            steps += ["bwrap", *_bubblewrap_setup(view), "--setenv", RUN_MARKER, token, "--"]
            return [*steps, "/usr/bin/python3", "-I", INSPECTOR_INSIDE, BINARY_INSIDE, *args]
        return [*steps, "/usr/bin/python3", "-I", str(view.inspector), "--reduced", str(view.binary), *args]

    def environment(self, view: TestView, token: str) -> dict[str, str]:
        # bubblewrap clears it again inside; reduced isolation uses it as is.
        home = str(view.workdir)
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, RUN_MARKER: token}

    def _limits(self) -> list[str]:
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

    def _credentials(self) -> list[str]:
        if not self.drop_to_uid:
            return []
        uid = _next_uid()
        return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]


def _bubblewrap_setup(view: TestView) -> list[str]:
    return [
        # Namespaces: the tree dies with bwrap, and with the grader.
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        # File system: the system read-only; of the grader, two files.
        *_system_directories(),
        "--ro-bind", str(view.binary), BINARY_INSIDE,
        "--ro-bind", str(view.inspector), INSPECTOR_INSIDE,
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
        # IPC: private, empty, and writable by anyone, as on a real machine.
        "--perms", "1777", "--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm",
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


def kill_marked(token: str) -> int:
    """Kills every process carrying RUN_MARKER=token; returns how many.

    Under bubblewrap the PID namespace takes a test's processes down with
    it, but asynchronously: this sweep also makes sure they are gone before
    the next test starts. In reduced isolation it is the only net; a process
    that scrubs its environment escapes it (the README says so).
    """
    needle = f"{RUN_MARKER}={token}".encode()
    killed = 0
    for _ in range(50):  # processes may fork while we look: look again
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


def detect() -> Sandbox:
    """The strongest sandbox this machine allows, tried once."""
    as_root = os.geteuid() == 0
    if shutil.which("bwrap") is None:
        return Sandbox("reduced", "bubblewrap is not installed (Debian package: bubblewrap)", as_root)
    failure = ""
    for drop in ([True, False] if as_root else [False]):
        box = Sandbox("bubblewrap", drop_to_uid=drop)
        failure = _probe(box)
        if not failure:
            return box
    return Sandbox("reduced", f"bubblewrap cannot create namespaces here: {failure}", as_root)


def _probe(box: Sandbox) -> str:
    """'' when a trivial program runs in `box`, else what went wrong."""
    view = TestView.create(Path("/bin/true"))
    try:
        probe = subprocess.run(
            box.command(view, [], "probe"), env=box.environment(view, "probe"),
            cwd=view.workdir, capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        view.remove()
    return "" if probe.returncode == 0 else (probe.stderr.strip() or f"exit status {probe.returncode}")
