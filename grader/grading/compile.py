"""Compile: a submission's files become object files here, outside Bazel, in
a sandbox that sees only its inputs.

Setup, in order (see _command):
  1. limits       prlimit: CPU seconds, address space, file size, processes
  2. credentials  as root, drop to an unprivileged uid (COMPILE_UID)
  3. namespaces   bubblewrap: every namespace unshared, no network; dies with the grader
  4. file system  read-only /usr (with the /bin, /lib* links); /src holds the
                  student's files and the lab's headers, copied; /out is the
                  only writable directory besides a small /tmp. No repository,
                  no output base, no .git, no solutions/, no other student,
                  no /etc.
  5. environment  cleared, then PATH, HOME and TMPDIR
  6. marker       a shell prints STARTED on stdout and then runs the
                  compiler with its stdout sent to stderr: the marker proves
                  the sandbox was set up before any student input was read,
                  so a failure without it is the grader's, never the student's;
                  afterwards the shell prints the compiler's CPU time (times)
  7. exec         g++ -std=c++20 -Wall -Wextra -c, with a wall-clock deadline
                  that kills the whole tree

Going past a limit is the student's verdict ("compilation took longer than
60 s"), not a grader error: the limits are generous for every honest file.
Where bubblewrap cannot create namespaces (sandbox.detect says so), the
compiler runs with the same limits and uid in a scratch directory: it can
then read, by absolute path, whatever that uid may read on the host, and
the grade says "reduced".
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from grader.errors import GraderError
from grader.grading import bubblewrap
from grader.grading.lab import Lab

# Limits of one student compile; a lab may override each in lab.toml
# [limits] (compile_seconds = 90, ...). The labs' references compile in
# under 5 s and 300 MiB: these leave room for a slow machine under load.
COMPILE_LIMITS = {
    "compile_seconds": 60,  # wall clock, the whole compile
    "compile_cpu_seconds": 60,  # CPU time, every process of the compiler
    "compile_memory_mb": 2048,  # address space of each compiler process
    "compile_file_size_mb": 256,  # largest file it may write (the object file)
}
# A backstop only: nothing in a source file can start a process, and each
# compile has about six (bwrap twice, sh, g++, cc1plus, as). The count is
# per uid, and every compile on the host shares COMPILE_UID, so the bound
# is generous: hitting it would fail an honest compile.
COMPILE_PROCESSES = 1024
# /tmp inside the sandbox, for the compiler's temporary files.
TMPFS_BYTES = 256 * 1024 * 1024

# The uid compiles run as when the grader is root: outside the test uid
# pool (sandbox.UID_POOL_START..+SIZE), so no test's process count sees it.
# No account needs to exist for it.
COMPILE_UID = 60999

COMPILER = "/usr/bin/g++"
# The same as STUDENT_COPTS in grader/bazel/copts.bzl (test_compile.py checks).
COMPILE_FLAGS = ["-std=c++20", "-Wall", "-Wextra", "-D_GLIBCXX_ASSERTIONS"]
SOURCE_INSIDE = "/src"
OUTPUT_INSIDE = "/out"
STARTED = "STARTED"
# Runs inside the sandbox: the marker, then the compiler, whose stdout goes
# to stderr so that nothing it prints can look like ours, then the CPU time
# of the compiler's processes (the shell's `times`: its own, then its
# children's, each "user system").
_LAUNCH = ["/bin/sh", "-c", f'printf "{STARTED}\\n"; "$@" 1>&2; status=$?; times; exit $status', "sh"]
_TIMES = re.compile(r"(\d+)m([\d.]+)s")
# cc1plus's own words when an allocation fails under the address-space limit.
_OUT_OF_MEMORY = re.compile(r"out of memory allocating|virtual memory exhausted|std::bad_alloc")


class Outcome(enum.Enum):
    COMPILED = "compiled"
    FAILED = "failed"  # the compiler's errors
    TIMED_OUT = "timed out"  # the wall-clock limit
    OUT_OF_CPU = "out of CPU time"
    OUT_OF_MEMORY = "out of memory"


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    cpu_seconds: int
    memory_mb: int
    file_size_mb: int

    @staticmethod
    def of(lab: Lab) -> Limits:
        values = {**COMPILE_LIMITS, **{k: v for k, v in lab.limits.items() if k in COMPILE_LIMITS}}
        return Limits(
            wall_seconds=float(values["compile_seconds"]),
            cpu_seconds=int(values["compile_cpu_seconds"]),
            memory_mb=int(values["compile_memory_mb"]),
            file_size_mb=int(values["compile_file_size_mb"]),
        )


@dataclass(frozen=True)
class Box:
    """How compiles are contained on this machine: the same primitives as the
    test sandbox, so sandbox.detect's answer holds for them too."""

    isolated: bool  # bubblewrap works here
    drop_to_uid: bool  # the grader is root
    reason: str = ""  # why isolation is reduced


@dataclass(frozen=True)
class Compiled:
    outcome: Outcome
    objects: tuple[Path, ...] = ()
    diagnostics: str = ""  # the compiler's output, paths as the student knows them

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.COMPILED


@dataclass(frozen=True)
class Workspace:
    """One compile's private directories, outside the repository."""

    root: Path
    sources: Path  # bound read-only at /src
    output: Path  # bound writable at /out

    @staticmethod
    def create() -> Workspace:
        root = Path(tempfile.mkdtemp(prefix="ipclab-compile-"))
        # Traversable, not listable, by the compile uid; the name is random.
        root.chmod(0o711)
        workspace = Workspace(root, root / "src", root / "out")
        workspace.sources.mkdir(mode=0o755)
        workspace.output.mkdir()
        workspace.output.chmod(0o777)  # the compile uid writes its objects here
        return workspace

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def object_name(source: str) -> str:
    return Path(source).with_suffix(".o").name


# Compiling first (batch --compile-first, the bug corpus) compiles many
# submissions in parallel before each is graded; the grade then takes its
# result from here, once. In memory only: nothing of a submission outlives
# the grader process, and an entry is removed when it is used.
_remembered: dict[str, tuple[Compiled, dict[str, bytes]]] = {}
_remembered_lock = threading.Lock()


def compile_files(
    lab: Lab, files: dict[str, Path], workspace: Workspace, box: Box, limits: Limits, remember: bool = False
) -> Compiled:
    """Compiles each .cpp of `files` (name -> the student's copy) into
    workspace.output; stops at the first that does not compile. remember:
    keep the result for the next compile of exactly these inputs (once)."""
    _fill(lab, files, workspace)
    key = _inputs_key(workspace, box, limits)
    with _remembered_lock:
        earlier = None if remember else _remembered.pop(key, None)
    if earlier is not None:
        for name, content in earlier[1].items():
            (workspace.output / name).write_bytes(content)
        return replace(earlier[0], objects=tuple(workspace.output / n for n in earlier[1]))
    compiled = _compile_all(files, workspace, box, limits)
    if remember:
        with _remembered_lock:
            _remembered[key] = (compiled, {p.name: p.read_bytes() for p in compiled.objects})
    return compiled


def _inputs_key(workspace: Workspace, box: Box, limits: Limits) -> str:
    """Everything the compile's result depends on."""
    digest = hashlib.sha256(repr((COMPILER, COMPILE_FLAGS, box, limits)).encode())
    for path in sorted(p for p in workspace.sources.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(workspace.sources)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _compile_all(files: dict[str, Path], workspace: Workspace, box: Box, limits: Limits) -> Compiled:
    objects = []
    for name in files:
        if not name.endswith(".cpp"):
            continue  # a header the student writes: included, not compiled
        compiled = _compile_one(name, workspace, box, limits)
        if not compiled.ok:
            return compiled
        objects.append(workspace.output / object_name(name))
    return Compiled(Outcome.COMPILED, tuple(objects))


def _fill(lab: Lab, files: dict[str, Path], workspace: Workspace) -> None:
    """/src: the student's files, and the lab's headers where the student's
    `#include "labs/<lab>/<header>.h"` finds them. Copies, readable by the
    compile uid: the repository itself is never bound."""
    headers = workspace.sources / "labs" / lab.name
    headers.mkdir(parents=True, mode=0o755)
    (workspace.sources / "labs").chmod(0o755)
    headers.chmod(0o755)
    for header in sorted(lab.directory.glob("*.h")):
        shutil.copyfile(header, headers / header.name)
        (headers / header.name).chmod(0o444)
    for name, source in files.items():
        shutil.copyfile(source, workspace.sources / name)
        (workspace.sources / name).chmod(0o444)


def _compile_one(name: str, workspace: Workspace, box: Box, limits: Limits) -> Compiled:
    output = object_name(name)
    inside = Path(SOURCE_INSIDE) if box.isolated else workspace.sources
    into = Path(OUTPUT_INSIDE) if box.isolated else workspace.output
    compiler = [COMPILER, *COMPILE_FLAGS, f"-I{inside}", "-c", name, "-o", str(into / output)]
    finished = _run(_command(workspace, box, limits, compiler), workspace, limits)
    diagnostics = _student_paths(finished.stderr, workspace)
    if not finished.marker:  # first: a sandbox that hung before the compiler is ours too
        raise GraderError(
            f"the compile sandbox did not start (exit status {finished.returncode}): {finished.stderr.strip()[:500]}",
            tip="this is not the submission's doing: check bwrap, prlimit and setpriv, then grade it again",
        )
    if finished.timed_out:
        return Compiled(
            Outcome.TIMED_OUT,
            diagnostics=(
                f"compilation took longer than {limits.wall_seconds:.0f} s, the limit for one compile, and was stopped. "
                "Code that makes the compiler work this long (deep template or constexpr recursion, huge "
                "static tables) cannot be graded: compute at run time instead."
            ),
        )
    if finished.returncode in (126, 127):  # the shell could not run the compiler
        raise GraderError(
            f"the compiler {COMPILER} could not be run in the compile sandbox: {finished.stderr.strip()[:500]}",
            tip="install g++ (Debian package g++), then grade again",
        )
    if finished.returncode == 0:
        return Compiled(Outcome.COMPILED)
    if finished.cpu_seconds >= limits.cpu_seconds - 0.5:  # the kernel stops it at the limit
        return Compiled(
            Outcome.OUT_OF_CPU,
            diagnostics=(
                f"compilation used more than {limits.cpu_seconds} s of CPU time, the limit for one compile, and was "
                "stopped. Code that makes the compiler work this long cannot be graded: compute at run time instead."
            ),
        )
    if _OUT_OF_MEMORY.search(finished.stderr):
        return Compiled(
            Outcome.OUT_OF_MEMORY,
            diagnostics=(
                f"the compiler ran out of memory (limit {limits.memory_mb} MiB) and stopped. Code that makes the "
                "compiler build huge tables or instantiate templates without end cannot be graded."
                + (f"\n{diagnostics}" if diagnostics else "")
            ),
        )
    return Compiled(
        Outcome.FAILED,
        diagnostics=diagnostics or f"the compiler failed (exit status {finished.returncode}) without a message",
    )


def _command(workspace: Workspace, box: Box, limits: Limits, compiler: list[str]) -> list[str]:
    steps = [*_limits(limits), *_credentials(box)]
    if box.isolated:
        steps += ["bwrap", *_bubblewrap_setup(workspace), "--"]
    return [*steps, *_LAUNCH, *compiler]


def _limits(limits: Limits) -> list[str]:
    mb = 1024 * 1024
    return [
        "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.memory_mb * mb}",
        f"--fsize={limits.file_size_mb * mb}",
        f"--nproc={COMPILE_PROCESSES}",
        "--core=0",
        "--",
    ]


def _credentials(box: Box) -> list[str]:
    if not box.drop_to_uid:
        return []
    return ["setpriv", f"--reuid={COMPILE_UID}", f"--regid={COMPILE_UID}", "--clear-groups", "--"]


def _bubblewrap_setup(workspace: Workspace) -> list[str]:
    return [
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        *bubblewrap.system_directories(etc=False),
        "--ro-bind",
        str(workspace.sources),
        SOURCE_INSIDE,
        "--bind",
        str(workspace.output),
        OUTPUT_INSIDE,
        "--dev",
        "/dev",  # /dev/null for the compiler driver; no disks
        "--size",
        str(TMPFS_BYTES),
        "--tmpfs",
        "/tmp",
        *_test_framework_hidden(),
        # Nothing else is writable, and no namespace of its own to mount in.
        "--remount-ro",
        "/",
        "--unshare-user",
        "--disable-userns",
        "--chdir",
        SOURCE_INSIDE,
        *bubblewrap.clean_environment("/usr/bin:/bin", LC_ALL="C"),  # LC_ALL: diagnostics in ASCII quotes
    ]


# Headers a student file must not include: the test framework's. Student code
# that could name doctest's internals could register a listener and rewrite
# a test's result before the harness reports it (symbols.py refuses the
# symbols too; this makes the include itself fail, with a clear message).
HIDDEN_HEADERS = (Path("/usr/include/doctest"),)


def _test_framework_hidden() -> list[str]:
    return [arg for path in HIDDEN_HEADERS if path.is_dir() for arg in ("--tmpfs", str(path))]


@dataclass(frozen=True)
class _Finished:
    returncode: int
    stderr: str
    marker: bool  # the sandbox was set up and the compiler started
    timed_out: bool
    cpu_seconds: float  # the compiler's processes, as the shell that ran them counts


def _run(command: list[str], workspace: Workspace, limits: Limits) -> _Finished:
    """Runs the compile with its output in files (no pipe to fill), and
    kills the whole tree at the deadline."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=workspace.sources,
                env=_environment(),
                start_new_session=True,
            )
        except FileNotFoundError as e:
            raise GraderError(
                f"cannot start the compile sandbox: {e.filename} is not installed",
                tip="install util-linux (prlimit, setpriv) and bubblewrap",
            ) from e
        status, timed_out = _wait(process, limits.wall_seconds)
        out.seek(0)
        err.seek(0)
        stdout = out.read(4096).decode(errors="replace")
        stderr = err.read(256 * 1024).decode(errors="replace")
    returncode = os.waitstatus_to_exitcode(status)
    return _Finished(returncode, stderr, stdout.startswith(STARTED), timed_out, _children_cpu(stdout))


def _children_cpu(stdout: str) -> float:
    times = [int(m) * 60 + float(s) for m, s in _TIMES.findall(stdout)]
    return sum(times[2:4]) if len(times) >= 4 else 0.0


def _wait(process: subprocess.Popen[bytes], seconds: float) -> tuple[int, bool]:
    """Waits for the compile to end, on a pidfd (no polling delay), and
    kills the whole tree at the deadline."""
    ended = os.pidfd_open(process.pid)
    try:
        timed_out = not select.select([ended], [], [], seconds)[0]
    finally:
        os.close(ended)
    if timed_out:
        # bwrap's sandbox dies with it (--die-with-parent); without
        # bubblewrap the compiler is in this process group.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
    return status, timed_out


def _environment() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/tmp", "TMPDIR": "/tmp"}


def _student_paths(text: str, workspace: Workspace) -> str:
    """The compiler names files as the sandbox sees them: show the student's
    own names (pipe_lab.cpp, labs/pipe/pipe_lab.h)."""
    text = text.replace(f"{workspace.sources}/", "")
    return re.sub(rf"(?<![\w/.]){SOURCE_INSIDE}/", "", text)
