"""Build: our own targets (the reference, the tests, the harness) with Bazel,
in the repository's one output base; a submission's objects, compiled by
grader/grading/compile.py outside Bazel, are only linked here. A link error is the
student's verdict (the linker's diagnostics, trimmed); whether a failure is
the student's or the grader's is read from Bazel's build event protocol,
never from its stderr."""

from __future__ import annotations

import enum
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.grading.lab import REPO

# Lines of compiler output kept in feedback; the first errors are the ones
# that matter, the rest are usually consequences.
MAX_DIAGNOSTIC_LINES = 60

BAZEL_FLAGS = ["--color=no", "--curses=no", "--noshow_progress", "--show_result=0"]
# A link of the tests with one submission takes a few seconds; waiting for
# Bazel's server lock (another grade's link) is most of this.
LINK_TIMEOUT = 600

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


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    diagnostics: str = ""


class LinkOutcome(enum.Enum):
    LINKED = "linked"
    FAILED = "failed"  # the linker refused the student's objects: their verdict


@dataclass(frozen=True)
class Linked:
    outcome: LinkOutcome
    diagnostics: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is LinkOutcome.LINKED


def bazel(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["bazel", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as e:
        raise GraderError("bazel is not installed", tip="run ./grade once as root: it installs bazel-bootstrap") from e
    except subprocess.TimeoutExpired as e:
        raise GraderError(f"bazel did not finish within {timeout:.0f} s: {' '.join(args)}") from e


def build(*targets: str) -> BuildResult:
    """Builds our own targets (the reference, the tests, the harness, the
    sandbox's programs) in one Bazel command: any failure here is the lab's
    or the machine's, and callers say so."""
    result = bazel("build", *BAZEL_FLAGS, *targets)
    if result.returncode == 0:
        return BuildResult(ok=True)
    return BuildResult(ok=False, diagnostics=trim_diagnostics(result.stderr))


def build_all(targets: list[str]) -> None:
    """Builds many targets in one invocation, using every core; failures are
    left for each target's own link() to judge."""
    if targets:
        bazel("build", *BAZEL_FLAGS, "--keep_going", *targets)


def link(target: str, timeout: float = LINK_TIMEOUT) -> Linked:
    """Links a staged submission's objects with the already built tests.

    The verdict comes from Bazel's structured result (the build event
    protocol), never from its stderr, which the student's symbol names reach:
    only a failed link action (CppLink) of `target` itself is the student's;
    anything else that fails — Bazel's own error, a crash, our tests not
    building — is the grader's, and never charged.
    """
    with tempfile.TemporaryDirectory(prefix="ipclab-bep-") as scratch:
        events_file = Path(scratch) / "events.json"
        result = bazel("build", *BAZEL_FLAGS, f"--build_event_json_file={events_file}", target, timeout=timeout)
        events = _read_events(events_file)
    judged = judge(events, target)
    if judged is Judgement.SUCCEEDED:
        if result.returncode != 0:
            raise GraderError(
                f"Bazel reported success building {target} but exited with status {result.returncode}", tip=_NOT_THEIRS
            )
        return Linked(LinkOutcome.LINKED)
    if judged is Judgement.LINK_FAILED:
        return Linked(LinkOutcome.FAILED, link_diagnostics(result.stderr))
    failed = ", ".join(f"{a.get('type', '?')} {a.get('label', '?')}" for a in failed_actions(events)) or "none"
    raise GraderError(
        f"Bazel failed to link {target} for a reason other than the student's objects ({judged.value}; "
        f"failed actions: {failed}):\n" + trim_diagnostics(result.stderr),
        tip=_NOT_THEIRS,
    )


def harness_objects(objects: Path) -> list[Path]:
    """Every part of the harness (a cc_library per header) and its main, but
    not the harness's own tests, which no submission is linked with."""
    return [o for o in objects.glob("*/*.o") if not o.parent.name.endswith("_test")]


def test_objects(lab) -> list[Path]:
    """The objects the tests bring to a submission's link (the lab's tests,
    the harness and its main), as Bazel built them: what they define, a
    submission must not define again (grader/grading/symbols.py)."""
    bin_directory = REPO / "bazel-bin"
    found = [
        *(bin_directory / "labs" / lab.name / "_objs" / "public_tests").glob("*.o"),
        *(bin_directory / "solutions" / lab.name / "_objs" / "hidden_tests").glob("*.o"),
        *harness_objects(bin_directory / "grader" / "harness" / "_objs"),
    ]
    prebuilt = REPO / "grader" / "harness" / "libharness.a"  # a starter pack's harness
    return sorted(found) + ([prebuilt] if prebuilt.exists() else [])


_NOT_THEIRS = "this is not the submission's doing: grade it again (./grade batch --resume retries it)"


class Judgement(enum.Enum):
    SUCCEEDED = "the build succeeded"
    LINK_FAILED = "the submission's link failed"
    OTHER_ACTION_FAILED = "an action other than the submission's link failed"
    BAZEL_FAILED = "Bazel itself failed"
    NO_RESULT = "Bazel wrote no build result"


def judge(events: list[dict], target: str) -> Judgement:
    """What the build event protocol says happened. Bazel 4.2 writes one JSON
    object per line; a failed action has an `action` payload with its type
    (mnemonic) and label, and the build ends with a `finished` payload whose
    exitCode names the outcome (SUCCESS, BUILD_FAILURE, ...)."""
    finished = next((e["finished"] for e in events if "finished" in e), None)
    if finished is None:
        return Judgement.NO_RESULT
    exit_name = finished.get("exitCode", {}).get("name", "SUCCESS")  # proto3 leaves out a default
    if exit_name == "SUCCESS":
        return Judgement.SUCCEEDED
    if exit_name != "BUILD_FAILURE":
        return Judgement.BAZEL_FAILED
    failed = failed_actions(events)
    if not failed:
        return Judgement.BAZEL_FAILED  # e.g. an analysis error: no action ran
    if all(a.get("type") == "CppLink" and a.get("label") == target for a in failed):
        return Judgement.LINK_FAILED
    return Judgement.OTHER_ACTION_FAILED


def failed_actions(events: list[dict]) -> list[dict]:
    return [e["action"] for e in events if "action" in e and not e["action"].get("success", False)]


def _read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a crashed server leaves a cut line: what came before still counts
    return events


# The linker names the object and source of each error
# ("bazel-out/.../hidden_test.pic.o:hidden_test.cpp:function X: error: ..."):
# the students need only the error itself.
_LINKER_CONTEXT = re.compile(r"^\S*\.o:.*?: (?=(error|warning): )")
_WHERE_FIRST = re.compile(r";\s*\S*\.o:.*first defined here$")


def link_diagnostics(stderr: str) -> str:
    """The linker's errors, each once, without the objects' paths: what a
    student must do is in the error (define this function, define that one
    only once)."""
    seen: set[str] = set()
    kept = []
    for line in trim_diagnostics(stderr).splitlines():
        if line.startswith(("collect2:", "Target ", "Use --verbose", "link ", "linking ")):
            continue
        line = _WHERE_FIRST.sub("", _LINKER_CONTEXT.sub("", line))
        if line not in seen:
            seen.add(line)
            kept.append(line)
    return "\n".join(kept).strip()


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
