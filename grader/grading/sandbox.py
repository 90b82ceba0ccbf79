"""Sandbox: how one test process is started, contained and cleaned up.

Setup, in order (see Sandbox.launch):
  1. cgroup       as root, a cgroup of the test's own: memory (shared memory,
                  tmpfs and memfd included), processes, one core of CPU (cgroup.py)
  2. limits       CPU seconds, address space, file size, open files, processes;
                  soft and hard, set while root, so the test can never raise them
  3. credentials  as root, drop to an unprivileged uid leased host-wide, so the
                  process limit counts (the kernel exempts root from it) and no
                  other grader on the machine uses the same uid at the same time;
                  supplementary groups cleared, real, effective and saved ids set
  4. namespaces   bubblewrap: IPC, PID, mount, network, user, UTS; no nested
                  user namespaces; dies with the grader
  5. filters      seccomp: ptrace, process_vm_readv and process_vm_writev fail
  6. file system  read-only /usr and /etc; the test binary and the inspector only;
                  private sized /tmp, /dev/shm (1777) and /dev/mqueue; then / and
                  /dev read-only, so nothing else in the sandbox is writable
  7. environment  cleared, then PATH, HOME, TMPDIR and the run marker
  8. inspector    the test binary's parent inside the sandbox: the only process
                  that reports to the grader, on a descriptor of its own
  9. exec

Steps 1 to 3 are the launcher's (grader/inspector/launcher.cpp), one native
process that execs bubblewrap when they are done: the cgroup is joined and
the limits set while it is still root, and only then are the credentials
dropped, so no process of the test is ever outside its cgroup or its limits,
nor ever root. bubblewrap makes the namespaces and loads the filter last,
just before it execs the inspector (grader/inspector/inspector.cpp), which
starts the test binary. Both programs are native because they run once per
test: their start-up is every test's cost (grader/benchmarks/sandbox_overhead.py).

Where bubblewrap cannot create namespaces, the grader says so and runs the
test with the same limits, credentials, inspector and a scratch working
directory, in a session of its own: the report is marked "reduced
isolation", never silently.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import functools
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.grading import bubblewrap, build, cgroup
from grader.errors import GraderError

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
INSPECTOR_INSIDE = "/lab/inspector"

# The native programs of every sandbox, built by Bazel before the first test.
PROGRAMS_TARGET = "//grader/inspector:all"

# Reduced isolation marks each test's processes with this variable in their
# environment, which children and daemons inherit, to find them afterwards.
RUN_MARKER = "IPCLAB_RUN"

# Unprivileged uids for test processes when the grader runs as root; no
# account needs to exist for them. A uid is leased for one test with a lock
# file that every grader on the machine shares (flock: released when the
# grader dies), so two graders never count each other's processes.
UID_POOL_START, UID_POOL_SIZE = 61000, 4000
UID_LEASES = Path("/run/ipclab/uid-leases")

# System calls no test needs and an attack on the grader would: reading or
# writing another process's memory (the inspector's, the harness's).
DENIED_SYSCALLS = ("ptrace", "process_vm_readv", "process_vm_writev")


@dataclass(frozen=True)
class UidLease:
    uid: int
    lock: int  # the open lock file; closing it ends the lease

    def release(self) -> None:
        os.close(self.lock)


def lease_uid() -> UidLease:
    UID_LEASES.mkdir(parents=True, exist_ok=True, mode=0o700)
    start = random.randrange(UID_POOL_SIZE)
    for offset in range(UID_POOL_SIZE):
        uid = UID_POOL_START + (start + offset) % UID_POOL_SIZE
        lock = os.open(UID_LEASES / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            continue
        return UidLease(uid, lock)
    raise GraderError(
        f"all {UID_POOL_SIZE} test uids from {UID_POOL_START} are leased by graders on this machine",
        tip=f"wait for other graders to finish, or look for stale ones holding locks in {UID_LEASES}",
    )


@dataclass(frozen=True)
class Programs:
    """The launcher and the inspector, where a test's unprivileged uid can
    run them (Bazel's outputs may sit in a directory it cannot enter)."""

    launcher: Path
    inspector: Path


_INSTALLING = threading.Lock()  # a batch grades on threads: one build, one install


def programs(already_built: bool = False) -> Programs:
    """The launcher and the inspector: built by Bazel and installed once per
    grader process, in a directory of its own, read-only for everyone and
    removed when the process ends. already_built: the caller has just built
    PROGRAMS_TARGET together with its own targets (one Bazel command, not
    two: each command has a fixed cost even when nothing changed, see
    grader/benchmarks/regrade.py)."""
    global _programs
    with _INSTALLING:
        if _programs is None:
            if not already_built:
                build_programs()
            _programs = _install()
        return _programs


_programs: Programs | None = None


def build_programs() -> None:
    built = build.build(PROGRAMS_TARGET)
    if not built.ok:
        raise GraderError(
            f"the sandbox's launcher and inspector do not build:\n{built.diagnostics}",
            tip=f"build them by hand to see why: bazel build {PROGRAMS_TARGET}",
        )


def _install() -> Programs:
    directory = Path(tempfile.mkdtemp(prefix="ipclab-sandbox-"))
    directory.chmod(0o755)
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    installed = {}
    for name in ("launcher", "inspector"):
        installed[name] = directory / name
        shutil.copyfile(build.REPO / "bazel-bin" / "grader" / "inspector" / name, installed[name])
        installed[name].chmod(0o555)
    return Programs(**installed)


@dataclass
class Confinement:
    """What one test run holds: its uid lease and its cgroup."""

    lease: UidLease | None
    group: cgroup.TestCgroup | None

    def end(self) -> None:
        """Kills every process of the test still alive."""
        if self.group:
            self.group.kill_all()

    def out_of_memory(self) -> bool:
        return bool(self.group and self.group.out_of_memory())


@dataclass(frozen=True)
class Launch:
    """A command line and the descriptors it must inherit; close() after
    the process has started."""

    argv: list[str]
    fds: tuple[int, ...]
    to_close: tuple[int, ...] = ()

    def close(self) -> None:
        for fd in self.to_close:
            os.close(fd)


@dataclass(frozen=True)
class TestView:
    """One test's own view of the test binary, and its scratch working
    directory (in reduced isolation); removed after the test."""

    __test__ = False  # not a pytest test class, despite the name
    scratch: Path
    binary: Path
    workdir: Path  # the working directory in reduced isolation

    @staticmethod
    def create(binary: Path) -> TestView:
        # Reachable by the unprivileged uid the test runs as; the build
        # outputs themselves may sit in a directory it cannot enter.
        scratch = Path(tempfile.mkdtemp(prefix="ipclab-test-"))
        scratch.chmod(0o755)
        view = TestView(scratch, scratch / "tests", scratch / "work")
        _link_or_copy(binary, view.binary)
        view.workdir.mkdir(mode=0o1777)
        view.workdir.chmod(0o1777)
        return view

    def remove(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def _link_or_copy(binary: Path, target: Path) -> None:
    """A hard link to `binary` when it is already read-only and executable
    for everyone, else a copy made so.

    A link is as safe as a copy: under bubblewrap the test sees it through a
    read-only bind mount (no write, no chmod); in reduced isolation the test
    runs as a leased uid that neither owns nor may write it, or, without
    one, as the grader's uid, which could change the original by its own
    path anyway. A link saves copying megabytes per test."""
    if binary.stat().st_mode & 0o777 == 0o555:
        try:
            os.link(binary, target)
            return
        except OSError:
            pass  # another file system, or links refused: copy
    shutil.copyfile(binary, target)
    target.chmod(0o555)


@dataclass(frozen=True)
class Isolation:
    """What a grade's tests ran in, as reports say it."""

    full: bool  # bubblewrap's namespaces, filters and file system
    reason: str = ""  # why it is reduced, when it is

    def __str__(self) -> str:
        return "bubblewrap" if self.full else f"reduced: {self.reason}"

    def weakened(self, why: str) -> Isolation:
        """The same isolation, with one more thing it did not hold."""
        return Isolation(False, f"{self.reason}; {why}" if self.reason else why)


@dataclass(frozen=True)
class Sandbox:
    kind: str  # "bubblewrap" or "reduced"
    reason: str = ""  # why isolation is reduced
    drop_to_uid: bool = False  # the grader is root and may run tests as another uid
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    cgroups: cgroup.Hierarchy | None = None  # None: rlimits only
    cgroups_missing: str = ""  # why there are no cgroups, when there are none

    @property
    def isolated(self) -> bool:
        return self.kind == "bubblewrap"

    @property
    def isolation(self) -> Isolation:
        return Isolation(self.isolated, self.reason)

    def with_limits(self, overrides: dict[str, int]) -> Sandbox:
        return Sandbox(
            self.kind, self.reason, self.drop_to_uid, {**self.limits, **overrides}, self.cgroups, self.cgroups_missing
        )

    @contextlib.contextmanager
    def confinement(self) -> Iterator[Confinement]:
        """A uid and a cgroup for one test run, given back when it ends."""
        lease = lease_uid() if self.drop_to_uid else None
        group = None
        try:
            if self.cgroups:
                limits = cgroup.Limits(self.limits["memory_mb"] * 1024 * 1024, self.limits["processes"])
                group = self.cgroups.create(limits)
            yield Confinement(lease, group)
        finally:
            if group:
                group.kill_all()
                group.remove()
            if lease:
                lease.release()

    def launch(self, view: TestView, args: list[str], token: str, report_fd: int, held: Confinement) -> Launch:
        """The command line that runs the test binary with `args` in this
        sandbox, with the inspector reporting on `report_fd`.

        The caller starts it in a new session, in view.workdir, with
        environment(token), passing launch.fds; then calls launch.close(),
        and kill_marked(token) when it has ended.
        """
        if held.group and (self.isolated or held.lease):
            _CONTAINED[token] = held.group
        native = programs()
        steps = [str(native.launcher), *self._cgroup(held), *self._limits(), *self._credentials(held), "--"]
        if not self.isolated:
            argv = [*steps, str(native.inspector), "--reduced", "--report-fd", str(report_fd), str(view.binary), *args]
            return Launch(argv, (report_fd,))
        filter_fd = seccomp_filter()
        steps += [
            "bwrap",
            *_bubblewrap_setup(view, native),
            "--seccomp",
            str(filter_fd),
            "--setenv",
            RUN_MARKER,
            token,
            "--",
        ]
        argv = [*steps, INSPECTOR_INSIDE, "--report-fd", str(report_fd), BINARY_INSIDE, *args]
        return Launch(argv, (report_fd, filter_fd), to_close=(filter_fd,))

    def environment(self, view: TestView, token: str) -> dict[str, str]:
        # bubblewrap clears it again inside; reduced isolation uses it as is.
        home = str(view.workdir)
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, RUN_MARKER: token}

    # The launcher's options: it applies them in its own process before it
    # execs bubblewrap, with no Python code between fork and exec.

    def _cgroup(self, held: Confinement) -> list[str]:
        if not held.group:
            return []
        return [arg for procs in held.group.procs_files() for arg in ("--cgroup", str(procs))]

    def _limits(self) -> list[str]:
        mb = 1024 * 1024
        return [
            "--limit",
            f"cpu={self.limits['cpu_seconds']}",
            "--limit",
            f"as={self.limits['memory_mb'] * mb}",
            "--limit",
            f"fsize={self.limits['file_size_mb'] * mb}",
            "--limit",
            f"nofile={self.limits['open_files']}",
            "--limit",
            f"nproc={self.limits['processes']}",
        ]

    def _credentials(self, held: Confinement) -> list[str]:
        return ["--uid", str(held.lease.uid)] if held.lease else []


def seccomp_filter() -> int:
    """A pipe holding the compiled filter, for bwrap --seccomp: a new pipe
    per test, as bwrap reads the descriptor to its end."""
    read_end, write_end = os.pipe()
    os.write(write_end, _compiled_filter())  # a few hundred bytes: fits in the pipe
    os.close(write_end)
    return read_end


@functools.cache
def _compiled_filter() -> bytes:
    """The BPF program of the filter, compiled once per grader process: it is
    the same for every test."""
    import seccomp  # Debian's python3-seccomp; only the bubblewrap sandbox needs it

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    with tempfile.TemporaryFile() as compiled:
        rules.export_bpf(compiled)
        compiled.seek(0)
        return compiled.read()


def _bubblewrap_setup(view: TestView, native: Programs) -> list[str]:
    return [
        # Namespaces: the tree dies with bwrap, and with the grader; the test
        # cannot make user namespaces of its own (which could mount file
        # systems outside every size limit).
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        # File system: the system read-only; of the grader, two files.
        *bubblewrap.system_directories(etc=True),
        "--ro-bind",
        str(view.binary),
        BINARY_INSIDE,
        "--ro-bind",
        str(native.inspector),
        INSPECTOR_INSIDE,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(TMPFS_BYTES),
        "--tmpfs",
        "/tmp",
        # IPC: private, empty, and writable by anyone, as on a real machine.
        "--perms",
        "1777",
        "--size",
        str(TMPFS_BYTES),
        "--tmpfs",
        "/dev/shm",
        "--mqueue",
        "/dev/mqueue",
        # Nothing else is writable: / and /dev are tmpfs that bubblewrap made.
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        # Environment: nothing from the grader's.
        "--chdir",
        "/tmp",
        *bubblewrap.clean_environment("/usr/local/bin:/usr/bin:/bin"),
    ]


# Runs whose every process was born in a cgroup it cannot leave: the test
# ran unprivileged (a leased uid, or bubblewrap's user namespace, with no
# cgroup file system inside), and moving a process needs write access to a
# cgroup.procs file, which is root's. By token, until kill_marked looks.
_CONTAINED: dict[str, cgroup.TestCgroup] = {}


def kill_marked(token: str) -> int:
    """Kills every process carrying RUN_MARKER=token; returns how many.

    Under bubblewrap the PID namespace takes a test's processes down with
    it, but asynchronously: this sweep also makes sure they are gone before
    the next test starts. In reduced isolation it is the only net; a process
    that scrubs its environment escapes it (the README says so).

    A run contained in a cgroup that is now empty (Confinement.end emptied
    it) has no process left anywhere: no sweep of every process's
    environment on the machine, which costs milliseconds per test.
    """
    group = _CONTAINED.pop(token, None)
    if group and group.is_empty():
        return 0
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
    hierarchy, missing = cgroup.detect()
    if shutil.which("bwrap") is None:
        return Sandbox(
            "reduced",
            "bubblewrap is not installed (Debian package: bubblewrap)",
            as_root,
            cgroups=hierarchy,
            cgroups_missing=missing,
        )
    try:
        import seccomp  # noqa: F401  (only whether it imports)
    except ImportError:
        return Sandbox(
            "reduced",
            "python3-seccomp is not installed (Debian package: python3-seccomp)",
            as_root,
            cgroups=hierarchy,
            cgroups_missing=missing,
        )
    failure = ""
    for drop in [True, False] if as_root else [False]:
        box = Sandbox("bubblewrap", drop_to_uid=drop, cgroups=hierarchy, cgroups_missing=missing)
        failure = _probe(box)
        if not failure:
            return box
    return Sandbox(
        "reduced",
        f"bubblewrap cannot create namespaces here: {failure}",
        as_root,
        cgroups=hierarchy,
        cgroups_missing=missing,
    )


def _probe(box: Sandbox) -> str:
    """'' when a trivial program runs in `box`, else what went wrong."""
    view = TestView.create(Path("/bin/true"))
    report_read, report_write = os.pipe()
    try:
        with box.confinement() as held:
            launch = box.launch(view, [], "probe", report_write, held)
            try:
                probe = subprocess.run(
                    launch.argv,
                    pass_fds=launch.fds,
                    env=box.environment(view, "probe"),
                    cwd=view.workdir,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            finally:
                launch.close()
    finally:
        os.close(report_read)
        os.close(report_write)
        view.remove()
    return "" if probe.returncode == 0 else (probe.stderr.strip() or f"exit status {probe.returncode}")
