"""Build: compile with Bazel, in the repository's one output base, so a warm
re-grade recompiles only the student's file. A compile error is a verdict
(the compiler's diagnostics, trimmed), never a grader crash."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.lab import REPO

# Lines of compiler output kept in feedback; the first errors are the ones
# that matter, the rest are usually consequences.
MAX_DIAGNOSTIC_LINES = 60

BAZEL_FLAGS = ["--color=no", "--curses=no", "--noshow_progress", "--show_result=0"]

# Bazel's own chatter, which says nothing about the student's code.
_NOISE = re.compile(
    r"^(INFO:|Loading|Analyzing|Target |FAILED: Build|ERROR: Build did NOT|Use --sandbox_debug|\[\d"
    r"|\d+\.\d+: src/main/tools/|  \(cd |  exec env|    [A-Z_]+=)"
)
# Bazel's line for a failed action, e.g. "ERROR: /repo/_stage/s/pipe/BUILD:4:15:
# Compiling _stage/s/pipe/pipe_lab.cpp failed: (Exit 1): gcc failed: ..."
_FAILED_ACTION = re.compile(r"^ERROR: \S+: (\w+) (\S+) failed: .*$")
# Where a staged file lives, shown to students as just its name.
_STAGE_PREFIX = re.compile(r"(\S*/)?_stage/[^/\s]+/[^/\s]+/")


# Bazel failing before the compiler ran: the machine's fault, never the student's.
_NOT_THE_CODE = re.compile(r"Mount target '[^']*' does not exist|src/main/tools/\S+: .*(failed|error)|Server terminated abruptly")


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    diagnostics: str = ""


def bazel(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["bazel", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as e:
        raise GraderError("bazel is not installed", tip="run ./grade once as root: it installs bazel-bootstrap") from e
    except subprocess.TimeoutExpired as e:
        raise GraderError(f"bazel did not finish within {timeout:.0f} s: {' '.join(args)}") from e


def build(target: str, hide: list[Path] = ()) -> BuildResult:
    """hide: directories the compiler must not see (solutions/, other
    submissions), even through an absolute #include path. What it hides must
    already be built: the reference and its tests are built first."""
    result = bazel("build", *BAZEL_FLAGS, *_blocked(hide), target)
    if result.returncode == 0:
        return BuildResult(ok=True)
    trouble = _NOT_THE_CODE.search(result.stderr)
    if trouble:
        raise GraderError(f"Bazel failed to build {target} before compiling anything: {trouble.group(0)}",
                          tip="this is not the submission's doing: grade it again (./grade batch --resume retries it)")
    return BuildResult(ok=False, diagnostics=trim_diagnostics(result.stderr))


def build_all(targets: list[str], hide: list[Path] = ()) -> None:
    """Builds many targets in one invocation, using every core; failures are
    left for each target's own build() to report."""
    if targets:
        bazel("build", *BAZEL_FLAGS, *_blocked(hide), "--keep_going", *targets)


def _blocked(paths: list[Path]) -> list[str]:
    return [f"--sandbox_block_path={path}" for path in paths if path.exists()]


def trim_diagnostics(stderr: str) -> str:
    execroot = re.compile(r"/\S*/execroot/ipc_labs/")
    lines = []
    for line in stderr.splitlines():
        if _NOISE.match(line):
            continue
        action = _FAILED_ACTION.match(line)
        if action:
            line = f"{action.group(1).lower()} {action.group(2)} failed:"
        lines.append(_STAGE_PREFIX.sub("", execroot.sub("", line)))
    if len(lines) > MAX_DIAGNOSTIC_LINES:
        dropped = len(lines) - MAX_DIAGNOSTIC_LINES
        lines = lines[:MAX_DIAGNOSTIC_LINES] + [f"... {dropped} more lines; fix the first errors first"]
    return "\n".join(lines).strip()
