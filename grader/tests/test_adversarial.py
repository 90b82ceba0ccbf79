"""The adversarial corpus: submissions of the pipe lab that attack the
grader or the machine instead of (or besides) doing the work. Each one does
its damage only in `run_pipeline` with a single stage, so exactly one test —
"run_pipeline runs a single stage" — may fail and every other test must pass:
one bad test never costs another. For each, the verdict must name what
happened; afterwards no process of it is alive, no IPC object, scratch file
or staged copy is left, and the repository is unchanged."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from grader import corpus, pipeline, run, sandbox
from grader.corpus import Bug, Change
from grader.lab import REPO, load_lab
from grader.stage import STAGE_LOCK, STAGE_ROOT

PIPE = load_lab("pipe")
TARGET = "run_pipeline runs a single stage"
ANCHOR = '  if (stages.empty()) throw std::invalid_argument("run_pipeline: no stages");'
INCLUDES = '#include "labs/pipe/pipe_lab.h"'

# name: (code run when the pipeline has one stage, text the verdict must contain, leak kinds reported)
ATTACKS: dict[str, tuple[str, str, set[str]]] = {
    "fork_bomb": ("for (;;) ::fork();", "timed out after", set()),
    "endless_loop": ("for (volatile unsigned spin = 0;; spin = spin + 1) {}", "timed out after", set()),
    "sleeps_holding_a_semaphore": (
        'sem_t* lock = ::sem_open("/adversary", O_CREAT, 0600, 1); ::sem_wait(lock); ::pause();',
        "timed out after",
        {"semaphore"},
    ),
    "allocates_without_end": (
        "std::vector<std::unique_ptr<char[]>> hog;"
        " for (;;) { hog.emplace_back(new char[1 << 24]); std::memset(hog.back().get(), 1, 1 << 24); }",
        "std::bad_alloc",
        set(),
    ),
    "floods_the_output": (
        "const std::string line(65536, 'x'); for (;;) (void)!::write(2, line.data(), line.size());",
        "wrote more than 16 MiB of output",
        set(),
    ),
    "fills_a_file": (  # the test captures stdout in a file: the file size limit stops it
        "const std::string line(65536, 'x'); for (;;) (void)!::write(1, line.data(), line.size());",
        "signal 25 (File size limit exceeded)",
        set(),
    ),
    "closes_stdout": ("::close(1); ::close(2);", 'run.output == "one\\n"', set()),
    "kills_its_parent": ("::kill(::getppid(), SIGKILL); ::pause();", "SIGKILL", {"process"}),
    "signals_every_process": ("::kill(-1, SIGKILL); ::pause();", "SIGKILL", set()),
    "leaves_a_daemon": (
        "if (::fork() == 0) { ::setsid(); if (::fork() == 0) { ::pause(); } ::_exit(0); } ::wait(nullptr);",
        "",
        {"process"},
    ),
    "deletes_repository_files": (
        "std::error_code ignored;"
        ' std::filesystem::remove_all("{REPO}/labs", ignored);'
        ' std::filesystem::remove("{REPO}/README.md", ignored);'
        ' std::ofstream("{REPO}/grade") << "overwritten";'
        ' std::filesystem::remove_all("../../..", ignored);',
        "",
        set(),
    ),
    "reads_solutions_at_run_time": (
        'if (std::ifstream("{REPO}/solutions/pipe/hidden_test.cpp")) return 99;',
        "",
        set(),
    ),
    "leaves_hundreds_of_ipc_objects": (
        "for (int i = 0; i < 300; ++i) ::close(::shm_open((\"/leak\" + std::to_string(i)).c_str(), O_CREAT | O_RDWR, 0600));"
        " mq_attr small{}; small.mq_maxmsg = 1; small.mq_msgsize = 16;"
        " for (int i = 0; i < 40; ++i) ::mq_close(::mq_open((\"/q\" + std::to_string(i)).c_str(), O_CREAT | O_RDWR, 0600, &small));",
        "",
        {"shared memory", "message queue"},
    ),
    "segfaults": ("volatile int* nowhere = nullptr; *nowhere = 1;", "signal 11 (Segmentation fault)", set()),
    "aborts": ("std::abort();", "signal 6 (Aborted)", set()),
    "calls_exit_0": ("std::exit(0);", "exited with status 0 before the code under test returned", set()),
}
HEADERS = """#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
"""


def attack(name: str, code: str, leaks: set[str]) -> Bug:
    inject = f"{ANCHOR}\n  if (stages.size() == 1) {{ {code.replace('{REPO}', str(REPO))} }}"
    changes = (Change("pipe_lab.cpp", ANCHOR, inject), Change("pipe_lab.cpp", INCLUDES, HEADERS + INCLUDES))
    fails = frozenset({TARGET}) if code.count("return 99") == 0 and name not in QUIET else frozenset()
    return Bug(name, "", fails, {}, changes, frozenset(leaks))


RACY_LEAKS = {"fork_bomb": {"process", "zombie process"}}

# Attacks that leave the test itself passing: their damage is elsewhere.
QUIET = {"leaves_a_daemon", "deletes_repository_files", "leaves_hundreds_of_ipc_objects"}


def repository_state() -> tuple[str, str]:
    status = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True)
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    digest = hashlib.sha256()
    for name in filter(None, tracked):
        path = REPO / name.decode()
        digest.update(name + (path.read_bytes() if path.is_file() else b"<missing>"))
    return status.stdout, digest.hexdigest()


ADVERSARY_OBJECTS = ("/dev/shm/leak", "/dev/shm/sem.adversary", "/dev/mqueue/q")


def leftovers(tokens: list[str], views: list[Path]) -> dict[str, list[str]]:
    """What this module's runs left on the machine. Other graders may be at
    work on the same machine, so only what is provably ours is looked at:
    processes carrying one of our run markers, our scratch directories, and
    the IPC names the attacks use."""
    markers = [f"IPCLAB_RUN={t}".encode() for t in tokens]
    processes = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if any(m in environ for m in markers):
                processes.append(entry.name)
    objects = [
        f"{d}/{n}" for d in ("/dev/shm", "/dev/mqueue") if os.path.isdir(d) for n in os.listdir(d)
        if f"{d}/{n}".startswith(ADVERSARY_OBJECTS)
    ]  # fmt: skip
    return {
        "processes": processes,
        "ipc objects": objects,
        "scratch": [str(v) for v in views if v.exists()],
        # The lock that orders staging is the grader's, not a staged copy.
        "staged": [str(p) for p in STAGE_ROOT.glob("*") if p != STAGE_LOCK],
    }


@pytest.fixture(scope="module")
def verdicts(box, tmp_path_factory):
    tokens: list[str] = []
    views: list[Path] = []
    real_uuid, real_create = run.uuid.uuid4, sandbox.TestView.create

    def recorded_uuid():
        value = real_uuid()
        tokens.append(value.hex)
        return value

    def recorded_view(binary):
        view = real_create(binary)
        views.append(view.scratch)
        return view

    repository_before = repository_state()
    reference = pipeline.prepare_reference(PIPE, box)
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run.uuid, "uuid4", recorded_uuid)
        patch.setattr(sandbox.TestView, "create", staticmethod(recorded_view))
        for name, (code, _, leaks) in ATTACKS.items():
            bug = attack(name, code, leaks)
            directory = tmp_path_factory.mktemp(name)
            corpus.materialize(PIPE, bug, directory)
            results[name] = corpus.check_bug(PIPE, bug, directory, reference, box)
    return results, repository_before, repository_state(), leftovers(tokens, views), len(tokens)


@pytest.mark.parametrize("name", ATTACKS)
def test_each_attack_costs_only_its_own_test_and_gets_a_precise_verdict(verdicts, name: str) -> None:
    results = verdicts[0]
    verdict = results[name]
    if name in RACY_LEAKS:
        # A fork bomb's processes are killed with their process group; one
        # forked at that very moment may outlive it for the inspector to see.
        reported = set(verdict.grade.leak_kinds)
        assert ATTACKS[name][2] <= reported <= ATTACKS[name][2] | RACY_LEAKS[name], reported
        verdict.wrong_leaks = ""
    assert verdict.ok, verdict.problems()
    expected_text = ATTACKS[name][1]
    target = next(r for r in verdict.grade.results if r.spec.name == TARGET)
    from grader.report import feedback

    assert expected_text in feedback(target), feedback(target)


def test_after_the_attacks_the_machine_and_the_repository_are_as_they_were(verdicts) -> None:
    _, repository_before, repository_after, left, runs = verdicts
    assert runs >= len(ATTACKS) * len(PIPE.tests) - 5  # the check looked at every run (a few were skipped)
    assert repository_after == repository_before
    assert left == {"processes": [], "ipc objects": [], "scratch": [], "staged": []}


def test_an_include_of_the_solutions_by_path_does_not_compile(box, tmp_path: Path) -> None:
    reference = pipeline.prepare_reference(PIPE, box)
    for path in ("solutions/pipe/hidden_test.cpp", f"{REPO}/solutions/pipe/hidden_test.cpp"):
        sneaky = Bug("includes_solutions", "", frozenset(), {}, (Change("pipe_lab.cpp", INCLUDES, f'#include "{path}"\n{INCLUDES}'),))
        directory = tmp_path / str(abs(hash(path)))
        directory.mkdir()
        corpus.materialize(PIPE, sneaky, directory)
        grade = pipeline.grade(PIPE, directory, f"sneaky-{directory.name}", reference, box)
        assert not grade.gradable
        assert "No such file or directory" in grade.diagnostics
        assert "TEST_CASE" not in grade.diagnostics  # not a line of the hidden tests leaked


# Code in a global object's constructor runs before main: when the grader
# lists the test cases, before any test. (code, gradable, text the diagnostics must contain)
BEFORE_MAIN: dict[str, tuple[str, bool, str]] = {
    "prints_before_main": ('std::puts("hello from a global"); std::fputs("and from stderr\\n", stderr);', True, ""),
    "exits_before_main": (
        'std::error_code ignored; std::filesystem::remove_all("{REPO}/labs", ignored); std::exit(3);',
        False,
        "ended (exit status 3) without listing its test cases",
    ),
    "fork_bomb_before_main": ("for (;;) ::fork();", False, "timed out after 5.0 s"),
    "crashes_before_main": ("volatile int* nowhere = nullptr; *nowhere = 1;", False, "SIGSEGV"),
}


PRINTS_INTO_ITS_OUTPUT = "run_pipeline gives each stage only descriptors 0 1 and 2"


@pytest.mark.parametrize("name", BEFORE_MAIN)
def test_code_before_main_is_graded_in_the_sandbox_with_a_verdict_of_its_own(
    box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    code, gradable, expected = BEFORE_MAIN[name]
    monkeypatch.setattr(run, "LISTING_TIMEOUT", 5.0)
    reference = pipeline.prepare_reference(PIPE, box)
    global_object = f"namespace {{ struct BeforeMain {{ BeforeMain() {{ {code.replace('{REPO}', str(REPO))} }} }} before_main; }}\n"
    bug = Bug(name, "", frozenset(), {}, (Change("pipe_lab.cpp", INCLUDES, f"{HEADERS}#include <cstdio>\n{INCLUDES}\n{global_object}"),))
    corpus.materialize(PIPE, bug, tmp_path)
    before = repository_state()
    grade = pipeline.grade(PIPE, tmp_path, f"before-main-{name}", reference, box)
    assert repository_state() == before
    assert grade.gradable is gradable, grade.diagnostics
    if gradable:
        # Listed and graded. The one test that fails does so honestly: it
        # runs the test binary as a stage and checks its output, which now
        # holds the greeting.
        assert [r.spec.name for r in grade.results if not r.passed] == [PRINTS_INTO_ITS_OUTPUT]
        return
    assert expected in grade.diagnostics
    assert "runs before main" in grade.diagnostics
