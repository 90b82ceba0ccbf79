"""The adversarial corpus: submissions of the pipe lab that attack the
grader or the machine instead of (or besides) doing the work. Each one does
its damage only in `run_pipeline` with a single stage, so exactly one test —
"run_pipeline runs a single stage" — may fail and every other test must pass:
one bad test never costs another. For each, the verdict must name what
happened; afterwards no process of it is alive, no IPC object, scratch file
or staged copy is left, and the repository is unchanged."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.checks import corpus
from grader.grading import pipeline, run, sandbox, stage
from grader.checks.corpus import Bug, Change
from grader.grading.lab import REPO, load_lab
from grader.grading.stage import STAGE_ROOT

# Module-scoped fixtures grade once per worker: keep this module on one (./test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("attacks")

PIPE = load_lab("pipe")
TARGET = "run_pipeline runs a single stage"
ANCHOR = '  if (stages.empty()) throw std::invalid_argument("run_pipeline: no stages");'
INCLUDES = '#include "labs/pipe/pipe_lab.h"'

# name: (code run when the pipeline has one stage, text the verdict must contain, leak kinds reported)
ATTACKS: dict[str, tuple[str, str, set[str]]] = {
    "fork_bomb": ("for (;;) ::fork();", "timed out after", set()),
    "endless_loop": ("for (volatile unsigned spin = 0;; spin = spin + 1) {}", "timed out after", set()),
    # What a test killed at its deadline leaves is reported, not charged.
    "sleeps_holding_a_semaphore": (
        'sem_t* lock = ::sem_open("/adversary", O_CREAT, 0600, 1); ::sem_wait(lock); ::pause();',
        "timed out after",
        set(),
    ),
    "allocates_without_end": (
        "std::vector<std::unique_ptr<char[]>> hog;"
        " for (;;) { hog.emplace_back(new char[1 << 24]); std::memset(hog.back().get(), 1, 1 << 24); }",
        "std::bad_alloc",
        set(),
    ),
    "fills_memfds_past_the_memory_limit": (  # pages the address-space limit does not count
        "const std::string block(1 << 20, 'x');"
        ' for (int i = 0; i < 64; ++i) { const int fd = ::memfd_create("hog", 0);'
        " for (int j = 0; j < 48; ++j) (void)!::write(fd, block.data(), block.size()); }",
        "more memory than its limit",
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
        'for (int i = 0; i < 300; ++i) ::close(::shm_open(("/leak" + std::to_string(i)).c_str(), O_CREAT | O_RDWR, 0600));'
        " mq_attr small{}; small.mq_maxmsg = 1; small.mq_msgsize = 16;"
        ' for (int i = 0; i < 40; ++i) ::mq_close(::mq_open(("/q" + std::to_string(i)).c_str(), O_CREAT | O_RDWR, 0600, &small));',
        "",
        {"shared memory", "message queue"},
    ),
    "segfaults": ("volatile int* nowhere = nullptr; *nowhere = 1;", "signal 11 (Segmentation fault)", set()),
    "aborts": ("std::abort();", "signal 6 (Aborted)", set()),
    "calls_exit_0": ("std::exit(0);", "exited with status 0 before the code under test returned", set()),
}
HEADERS = """#include <fcntl.h>
#include <sys/mman.h>
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


# The one stage of the target test: run_pipeline({{"sh", "-c", "echo one; exit 7"}}).
TARGET_STAGE = '"echo one; exit 7"'


def attack(name: str, code: str, leaks: set[str]) -> Bug:
    # Only the target test's own pipeline (other tests run one stage too).
    inject = f"{ANCHOR}\n  if (stages.size() == 1 && stages[0].back() == {TARGET_STAGE}) {{ {code.replace('{REPO}', str(REPO))} }}"
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
        f"{d}/{n}"
        for d in ("/dev/shm", "/dev/mqueue")
        if os.path.isdir(d)
        for n in os.listdir(d)
        if f"{d}/{n}".startswith(ADVERSARY_OBJECTS)
    ]
    return {
        "processes": processes,
        "ipc objects": objects,
        "scratch": [str(v) for v in views if v.exists()],
        # This process's slots (stage.stage names them by pid): parallel
        # test workers stage their own beside them.
        "staged": [str(p) for p in STAGE_ROOT.glob(stage.process_slot("*"))],
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
            results[name] = corpus.check_bug(PIPE, bug, directory, reference, box, jobs=2)
    return results, repository_before, repository_state(), leftovers(tokens, views), len(tokens)


@pytest.mark.long
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
    from grader.reports.feedback import feedback

    assert expected_text in feedback(target), feedback(target)


@pytest.mark.long
def test_after_the_attacks_the_machine_and_the_repository_are_as_they_were(verdicts) -> None:
    _, repository_before, repository_after, left, runs = verdicts
    assert runs >= len(ATTACKS) * len(PIPE.tests) - 5  # the check looked at every run (a few were skipped)
    assert repository_after == repository_before
    assert left == {"processes": [], "ipc objects": [], "scratch": [], "staged": []}


def test_an_include_of_the_solutions_by_path_does_not_compile(box, tmp_path: Path) -> None:
    reference = pipeline.prepare_reference(PIPE, box)
    for path in ("solutions/pipe/hidden_test.cpp", f"{REPO}/solutions/pipe/hidden_test.cpp"):
        sneaky = Bug(
            "includes_solutions",
            "",
            frozenset(),
            {},
            (Change("pipe_lab.cpp", INCLUDES, f'#include "{path}"\n{INCLUDES}'),),
        )
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
    global_object = (
        f"namespace {{ struct BeforeMain {{ BeforeMain() {{ {code.replace('{REPO}', str(REPO))} }} }} before_main; }}\n"
    )
    bug = Bug(
        name,
        "",
        frozenset(),
        {},
        (Change("pipe_lab.cpp", INCLUDES, f"{HEADERS}#include <cstdio>\n{INCLUDES}\n{global_object}"),),
    )
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


# ---- The build: a student's compile sees only its inputs (issue 12, classes 2, 4, 5) ----


def with_code(directory: Path, code: str, lab=PIPE) -> Path:
    """The reference with `code` added at file scope: a submission that
    would score full marks if the attack went unnoticed."""
    source = (lab.solution_directory / "pipe_lab.cpp").read_text()
    (directory / "pipe_lab.cpp").write_text(
        source.replace(INCLUDES, f"{HEADERS}#include <unistd.h>\n{INCLUDES}\n{code}\n", 1)
    )
    return directory


def _git_head() -> Path:
    git_dir = subprocess.run(
        ["git", "rev-parse", "--absolute-git-dir"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return Path(git_dir.stdout.strip()) / "HEAD"


def _output_base() -> Path:
    info = subprocess.run(["bazel", "info", "output_base"], cwd=REPO, capture_output=True, text=True, check=True)
    return Path(info.stdout.strip())


def _secrets() -> dict[str, tuple[Path, str]]:
    """name: (a file the build must not read, text of it that must not leak)."""
    reference = REPO / "bazel-bin" / "solutions" / "pipe" / "reference_tests"
    in_output_base = (
        _output_base()
        / "execroot"
        / "ipc_labs"
        / "bazel-out"
        / "k8-fastbuild"
        / "bin"
        / "solutions"
        / "pipe"
        / "reference_tests"
    )
    shadow = Path("/etc/shadow")
    shadow_line = shadow.read_text().splitlines()[0] if shadow.exists() else "root:"
    return {
        "etc_shadow": (shadow, shadow_line),
        "git_head": (_git_head(), "ref: refs/heads"),
        "readme": (REPO / "README.md", (REPO / "README.md").read_text().splitlines()[0]),
        "reference_binary": (reference, "ELF"),
        "reference_in_output_base": (in_output_base, "ELF"),
    }


@pytest.fixture(scope="module")
def reference(box) -> pipeline.Reference:
    return pipeline.prepare_reference(PIPE, box)


@pytest.mark.parametrize("how", ["incbin", "include"])
@pytest.mark.parametrize("secret", ["etc_shadow", "git_head", "readme", "reference_binary", "reference_in_output_base"])
def test_the_build_cannot_read_the_machine_the_repository_or_the_reference(
    reference, box, tmp_path: Path, secret: str, how: str
) -> None:
    path, content = _secrets()[secret]
    assert path.exists(), f"the test needs {path} to exist"
    code = f'asm(".incbin \\"{path}\\"");' if how == "incbin" else f'#include "{path}"'
    grade = pipeline.grade(PIPE, with_code(tmp_path, code), f"reads-{secret}-{how}", reference, box)
    assert not grade.gradable, "the build read a file it must not see"
    assert "No such file" in grade.diagnostics or "not found" in grade.diagnostics, grade.diagnostics
    assert content not in grade.diagnostics
    assert str(REPO / "_stage") not in grade.diagnostics


def test_a_student_file_cannot_include_the_test_framework(reference, box, tmp_path: Path) -> None:
    listener = (
        "#include <doctest/doctest.h>\n"
        "struct Rewrites : doctest::IReporter {};  // would set testCaseSuccess before the harness reports"
    )
    grade = pipeline.grade(PIPE, with_code(tmp_path, listener), "includes-doctest", reference, box)
    assert not grade.gradable
    assert "doctest/doctest.h: No such file or directory" in grade.diagnostics, grade.diagnostics


# Evaluating this takes the compiler minutes: each call stays under g++'s
# constexpr limits (2^18 iterations per loop, 2^25 operations per call),
# and there are many calls, each with arguments of its own.
COMPILE_BOMB = """
constexpr unsigned long long bomb(unsigned long long seed) {
  unsigned long long x = seed;
  for (unsigned long long i = 0; i < 1000; ++i)
    for (unsigned long long j = 0; j < 1000; ++j) x += i ^ j ^ (x >> 3);
  return x;
}
""" + "".join(
    f"static_assert(bomb({k}) != 1);\n" for k in range(100)
)


def test_a_compile_bomb_is_stopped_as_the_students_verdict_and_blocks_no_classmate(
    reference, box, tmp_path: Path
) -> None:
    bomb_lab = dataclasses.replace(PIPE, limits={**PIPE.limits, "compile_seconds": 20})
    (tmp_path / "bomb").mkdir()
    bomber = with_code(tmp_path / "bomb", COMPILE_BOMB)
    honest = tmp_path / "honest"
    honest.mkdir()
    corpus.materialize(PIPE, Bug("honest", "", frozenset(), {}, (Change("pipe_lab.cpp", INCLUDES, INCLUDES),)), honest)
    bombed: dict[str, object] = {}

    def grade_the_bomb() -> None:
        try:
            bombed["grade"] = pipeline.grade(bomb_lab, bomber, "compile-bomb", reference, box)
        except Exception as e:  # noqa: BLE001 — reported below
            bombed["error"] = e

    thread = threading.Thread(target=grade_the_bomb)
    thread.start()
    time.sleep(1.0)  # the bomb's compiler is running
    started = time.monotonic()
    graded = pipeline.grade(PIPE, honest, "beside-the-bomb", reference, box)
    honest_seconds = time.monotonic() - started
    assert thread.is_alive(), f"the honest grade ({honest_seconds:.1f} s) waited for the bomb's compile to end"
    assert graded.gradable and graded.score == graded.max_score, graded.diagnostics
    thread.join()
    assert "error" not in bombed, f"the bomb became a grader error: {bombed.get('error')!r}"
    grade = bombed["grade"]
    assert not grade.gradable
    assert "compilation took longer than 20 s" in grade.diagnostics, grade.diagnostics


@pytest.mark.parametrize(
    "text",
    [
        "src/main/tools/linux-sandbox-pid1.cc:123: mount failed",
        "Server terminated abruptly (error code: 14, error message: 'Socket closed')",
        "Mount target '/work/x' does not exist",
    ],
)
def test_a_compile_error_that_looks_like_bazel_failing_is_the_students_verdict(
    reference, box, tmp_path: Path, text: str
) -> None:
    grade = pipeline.grade(PIPE, with_code(tmp_path, f'#error "{text}"'), "looks-like-bazel", reference, box)
    assert not grade.gradable
    assert text.split(":")[0] in grade.diagnostics and "#error" in grade.diagnostics


# name: (code at file scope, text the refusal must contain)
REFUSED: dict[str, tuple[str, str]] = {
    "defines_write": (
        'extern "C" ssize_t write(int fd, const void* data, size_t size) { return ::syscall(1, fd, data, size); }',
        "defines `write`, which the C or C++ library already defines",
    ),
    "defines_a_weak_write": (
        'extern "C" __attribute__((weak)) ssize_t write(int fd, const void* data, size_t size) { return ::syscall(1, fd, data, size); }',
        "defines `write`",
    ),
    "defines_malloc": (
        'extern "C" void* malloc(size_t size) noexcept { return ::sbrk(static_cast<intptr_t>(size)); }',
        "defines `malloc`",
    ),
    "defines_memcpy": (
        'extern "C" void* memcpy(void* to, const void* from, size_t n) noexcept {'
        " auto* t = static_cast<char*>(to); auto* f = static_cast<const char*>(from); while (n--) *t++ = *f++; return to; }",
        "defines `memcpy`",
    ),
    "defines_main": ("int main() { return 0; }", "defines `main`, which the tests already define"),
    "defines_doctest": (
        "namespace doctest { void forged_result() {} }",
        "defines `doctest::forged_result()`, in the test framework's namespace doctest",
    ),
    "defines_ipclab": (
        "namespace ipclab { void forged_verdict() {} }",
        "defines `ipclab::forged_verdict()`, in the grading harness's namespace ipclab",
    ),
    "uses_ipclab": (
        "namespace ipclab { void report_leaks(); } void pipelab_helper() { ipclab::report_leaks(); }",
        "uses `ipclab::report_leaks()`",
    ),
    "preinit_array": (
        "static void before_everything() {}\n"
        '__attribute__((section(".preinit_array"), used)) static void (*early)() = before_everything;',
        "puts a function in .preinit_array",
    ),
    "ifunc": (
        'extern "C" { static void chosen_impl() {} static void (*choose())() { return chosen_impl; }'
        ' void chosen() __attribute__((ifunc("choose"))); }',
        "defines `chosen` as a GNU indirect function (ifunc)",
    ),
    "local_ifunc": (
        'static void local_impl() {} extern "C" { static void (*local_choose())() { return local_impl; } }'
        ' static void local_choice() __attribute__((ifunc("local_choose"), used));',
        "defines `local_choice()` as a GNU indirect function (ifunc)",
    ),
    "irelative_by_asm": (
        'extern "C" void* early_resolver() { return nullptr; }'
        ' asm(".pushsection .data\\n.balign 8\\n1: .quad 0\\n.reloc 1b, R_X86_64_IRELATIVE, early_resolver\\n.popsection");',
        "has an IRELATIVE relocation",
    ),
    "preinit_array_by_type": (
        "static void early_by_type() {}"
        ' asm(".pushsection .early,\\"aw\\",@preinit_array\\n.balign 8\\n.quad _ZL13early_by_typev\\n.popsection");'
        " [[gnu::used]] static void (*keep_early)() = early_by_type;",
        "puts a function in .preinit_array",
    ),
    "versioned_write": (
        'extern "C" ssize_t my_write(int fd, const void* data, size_t size) { return ::syscall(1, fd, data, size); }'
        ' asm(".symver my_write, write@@GLIBC_2.2.5");',
        "defines `write@@GLIBC_2.2.5`, which the C or C++ library already defines",
    ),
}


@pytest.mark.parametrize("name", REFUSED)
def test_an_object_that_would_interpose_on_the_harness_is_refused_by_name(
    reference, box, tmp_path: Path, name: str
) -> None:
    code, expected = REFUSED[name]
    grade = pipeline.grade(PIPE, with_code(tmp_path, code), f"refused-{name}", reference, box)
    assert not grade.gradable, f"{name} was linked and graded"
    assert "the grader refuses to link your code" in grade.diagnostics, grade.diagnostics
    assert expected in grade.diagnostics, grade.diagnostics


def test_a_missing_function_is_the_students_link_error(reference, box, tmp_path: Path) -> None:
    source = (PIPE.directory / "pipe_lab.cpp").read_text()
    start = source.index("std::string read_all(int /*fd*/)")
    end = source.index("\n}\n", start) + 3
    (tmp_path / "pipe_lab.cpp").write_text(source[:start] + source[end:])
    grade = pipeline.grade(PIPE, tmp_path, "no-read-all", reference, box)
    assert not grade.gradable
    assert "do not link with the tests" in grade.diagnostics
    assert "undefined reference to 'pipelab::read_all" in grade.diagnostics
    assert "bazel-out" not in grade.diagnostics and "DOCTEST_ANON" not in grade.diagnostics


def test_a_graded_submission_leaves_no_object_and_no_linked_tests(reference, box, tmp_path: Path) -> None:
    corpus.materialize(PIPE, Bug("plain", "", frozenset(), {}, (Change("pipe_lab.cpp", INCLUDES, INCLUDES),)), tmp_path)
    grade = pipeline.grade(PIPE, tmp_path, "outputs-removed", reference, box)
    assert grade.gradable
    slot = stage.process_slot("outputs-removed")
    assert not (STAGE_ROOT / slot).exists()
    assert not (REPO / "bazel-bin" / "_stage" / slot).exists()


# ---- Forged verdicts: the skeleton (every function throws) plus code that
# tries to make the grader believe its tests passed. Each must score 0.

SKELETON = (REPO / "labs" / "pipe" / "pipe_lab.cpp").read_text()
DOCTEST_PASSED_LINE = "[doctest] test cases: 1 | 1 passed | 0 failed | 21 skipped"
# Acts in test runs only, not in the listing, so that the tests do run.
IN_A_TEST_RUN = 'std::ifstream("/proc/self/cmdline").rdbuf() && [] { std::ifstream c("/proc/self/cmdline"); std::string s((std::istreambuf_iterator<char>(c)), {}); return s.find("--test-case=") != std::string::npos; }()'
FORGERIES: dict[str, str] = {
    # doctest's one-passed summary, then a clean exit, before any test runs.
    "prints_a_pass_from_a_global_constructor": f"""
namespace {{ struct Forge {{ Forge() {{
  if ({IN_A_TEST_RUN}) {{ std::puts("{DOCTEST_PASSED_LINE}"); std::fflush(stdout); std::_Exit(0); }}
}} }} forge; }}""",
    # The real test fails; an exit handler prints a pass and exits 0.
    "prints_a_pass_from_an_atexit_handler": f"""
namespace {{ struct Forge {{ Forge() {{
  std::atexit([] {{ std::puts("{DOCTEST_PASSED_LINE}"); std::fflush(stdout); std::_Exit(0); }});
}} }} forge; }}""",
    # Finds the verdict channel (a pipe it did not open) and writes a
    # passing record for the test it is in, then exits 0.
    "writes_records_on_the_verdict_channel": f"""
namespace {{ struct Forge {{ Forge() {{
  if (!({IN_A_TEST_RUN})) return;
  std::ifstream c("/proc/self/cmdline"); std::string s((std::istreambuf_iterator<char>(c)), {{}});
  const auto at = s.find("--test-case=") + 12; const std::string name = s.substr(at, s.find('\\0', at) - at);
  const std::string forged = "{{\\"event\\":\\"case\\",\\"name\\":\\"" + name + "\\",\\"passed\\":true}}\\n"
                             "{{\\"event\\":\\"run\\",\\"cases\\":1,\\"failed\\":0}}\\n";
  for (int fd = 3; fd < 256; ++fd) {{ struct stat st{{}}; if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) (void)!::write(fd, forged.data(), forged.size()); }}
  std::_Exit(0);
}} }} forge; }}""",
    # Leak lines printed without a newline in front, or forged as findings
    # of a leak that is not there.
    "prints_forged_leak_lines": """
namespace { struct Forge { Forge() {
  std::printf("x[ipclab-leak] {\\"kind\\":\\"message queue\\",\\"object\\":\\"/dev/mqueue/forged\\",\\"fix\\":\\"mq_unlink\\"}\\n");
  std::fflush(stdout);
} } forge; }""",
}
FORGERY_HEADERS = "#include <sys/stat.h>\n#include <unistd.h>\n#include <cstdio>\n#include <cstdlib>\n#include <fstream>\n#include <iterator>\n#include <string>\n"


@pytest.mark.parametrize("name", FORGERIES)
def test_a_skeleton_that_forges_its_verdict_scores_nothing(box, tmp_path: Path, name: str) -> None:
    reference = pipeline.prepare_reference(PIPE, box)
    (tmp_path / "pipe_lab.cpp").write_text(FORGERY_HEADERS + SKELETON + FORGERIES[name] + "\n")
    grade = pipeline.grade(PIPE, tmp_path, f"forger-{name}", reference, box)
    assert grade.gradable, grade.diagnostics
    assert [r.spec.name for r in grade.results if r.passed] == []
    assert grade.score == 0
    assert not any("forged" in leak.object for r in grade.results for leak in r.leaks)
    if name == "writes_records_on_the_verdict_channel":
        assert {r.status for r in grade.results if r.status is not run.Status.SKIPPED} == {run.Status.FORGED}


# ---- What a test process can reach: nothing of the grader's, and nothing
# without a bound. Probed with Python inside the sandbox (it is in /usr).


def _probe(box: sandbox.Sandbox, fake_binary, code: str, **limits: int) -> run.TestRun:
    script = fake_binary(f"/usr/bin/python3 -I -c {shlex.quote(code)} && echo probe-ended")
    return run.run_test(box.with_limits(limits), script, "t", timeout=60)


PTRACE = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
# This probe is the test binary's child: its grandparent is the inspector.
parent = int(open(f"/proc/{os.getppid()}/stat").read().rsplit(")", 1)[1].split()[1])
print("ptrace", libc.ptrace(16, parent, 0, 0), ctypes.get_errno())  # PTRACE_ATTACH
iov = (ctypes.c_char * 8)()
local = (ctypes.c_void_p * 2)(ctypes.cast(iov, ctypes.c_void_p), 8)
print("process_vm_readv", libc.process_vm_readv(parent, local, 1, local, 1, 0), ctypes.get_errno())
for what in ("mem", "fd/3", "fd/4", "environ"):
    try:
        open(f"/proc/{parent}/{what}", "rb").close(); print(what, "opened")
    except OSError as e:
        print(what, "refused", e.errno)
"""


def test_the_test_process_cannot_trace_or_open_its_inspector(box, fake_binary) -> None:
    if not box.isolated:
        pytest.skip(f"bubblewrap unavailable here: {box.reason}")
    result = _probe(box, fake_binary, PTRACE)
    assert "ptrace -1 1\n" in result.output  # EPERM
    assert "process_vm_readv -1 1\n" in result.output
    assert "opened" not in result.output, result.output


WRITES = """
import os, subprocess

for path in ("/x", "/dev/x", "/lab/x", "/usr/x", "/etc/x"):
    try:
        open(path, "w").close(); print(path, "written")
    except OSError as e:
        print(path, "refused", e.errno)
print("unshare", subprocess.run(["unshare", "--user", "--map-root-user", "true"], capture_output=True).returncode)
"""


def test_nothing_is_writable_but_the_sized_scratch_places_and_no_namespace_can_be_made(box, fake_binary) -> None:
    if not box.isolated:
        pytest.skip(f"bubblewrap unavailable here: {box.reason}")
    result = _probe(box, fake_binary, WRITES)
    assert "written" not in result.output, result.output
    assert "unshare 0" not in result.output and "unshare" in result.output, result.output


# Pages of memory that the address-space limit does not see: memfds and
# files in the sandbox's tmpfs, never mapped; each under the file size
# limit. 400 MiB under a 128 MiB limit.
HOG = "block = b'x' * (1 << 20)\nfor i in range(20):\n    f = {}\n    for _ in range(20): os.write(f, block)"
MEMORY_HOGS = {
    "memfd": HOG.format("os.memfd_create(f'hog{i}')"),
    "dev_shm": HOG.format("os.open(f'/dev/shm/hog{i}', os.O_CREAT | os.O_WRONLY)"),
    "tmp": HOG.format("os.open(f'/tmp/hog{i}', os.O_CREAT | os.O_WRONLY)"),
}


@pytest.mark.parametrize("where", MEMORY_HOGS)
def test_memory_outside_the_address_space_limit_is_bounded(box, fake_binary, where: str) -> None:
    if not box.cgroups:
        pytest.skip(f"no cgroups here: {box.cgroups_missing}")
    result = _probe(box, fake_binary, "import os\n" + MEMORY_HOGS[where], memory_mb=128)
    assert "probe-ended" not in result.output, result.output  # the hog was stopped, not the shell
    assert result.status is run.Status.CRASHED, (result.status, result.detail)
    assert "more memory than its limit" in result.detail


def test_two_graders_never_lease_the_same_test_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("only a root grader drops tests to leased uids")
    monkeypatch.setattr(sandbox, "UID_POOL_SIZE", 4)
    held = [sandbox.lease_uid() for _ in range(3)]
    try:
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "from grader.grading import sandbox; sandbox.UID_POOL_SIZE = 4\n"
                "first = sandbox.lease_uid(); print(first.uid)\n"
                "try:\n    sandbox.lease_uid()\nexcept Exception as e:\n    print(type(e).__name__)",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        for lease in held:
            lease.release()
    uid, second = other.stdout.split()
    assert int(uid) not in {lease.uid for lease in held}
    assert second == "GraderError"  # the pool of 4 was used up: said, not shared


def test_an_honest_student_graded_beside_the_attackers_keeps_the_exact_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch, --jobs 2: the honest student beside forgers, a memory hog,
    a fork bomb, a build that reads the machine and a compile bomb."""
    import csv
    import json

    from grader import cli
    from grader.grading import compile as compiler

    monkeypatch.setitem(compiler.COMPILE_LIMITS, "compile_seconds", 20)
    root = tmp_path / "class"
    (root / "honest").mkdir(parents=True)
    (root / "honest" / "pipe_lab.cpp").write_bytes((PIPE.solution_directory / "pipe_lab.cpp").read_bytes())
    for name, code in FORGERIES.items():
        (root / name).mkdir()
        (root / name / "pipe_lab.cpp").write_text(FORGERY_HEADERS + SKELETON + code + "\n")
    for name in ("fills_memfds_past_the_memory_limit", "fork_bomb"):
        (root / name).mkdir()
        corpus.materialize(PIPE, attack(name, *ATTACKS[name][::2]), root / name)
    for name, code in {"compile_bomb": COMPILE_BOMB, "reads_etc_shadow": 'asm(".incbin \\"/etc/shadow\\"");'}.items():
        (root / name).mkdir()
        with_code(root / name, code)
    out = tmp_path / "out"
    assert cli.main(["batch", "pipe", str(root), "--out", str(out), "--jobs", "2"]) == cli.Exit.OK
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert float(rows["honest"]["score"]) == PIPE.max_score, rows["honest"]
    assert all(float(rows[name]["score"]) == 0 for name in FORGERIES), rows
    assert float(rows["fork_bomb"]["score"]) < PIPE.max_score
    assert float(rows["fills_memfds_past_the_memory_limit"]["score"]) < PIPE.max_score
    assert (
        rows["compile_bomb"]["status"] == "not gradable" and "took longer than 20 s" in rows["compile_bomb"]["reason"]
    )
    assert rows["reads_etc_shadow"]["status"] == "not gradable"
    honest = json.loads((out / "results" / "honest.json").read_text())
    print(f"the honest student's grade took {honest['execution_time']:.1f} s beside the attackers")


def test_a_leak_deduction_cannot_be_evaded_by_output_glued_to_it(box, tmp_path: Path) -> None:
    """One byte without a newline, written at exit, used to glue itself to
    the inspector's leak line, which then no longer started with the prefix."""
    reference = pipeline.prepare_reference(PIPE, box)
    evader = attack(
        "leaves_an_object_then_glues_output", '::close(::shm_open("/leak-evader", O_CREAT | O_RDWR, 0600));', set()
    )
    corpus.materialize(PIPE, evader, tmp_path)
    source = tmp_path / "pipe_lab.cpp"
    source.write_text(
        source.read_text()
        + '\nnamespace { struct Glue { Glue() { std::atexit([] { (void)!::write(1, "x", 1); }); } } glue; }\n'
    )
    grade = pipeline.grade(PIPE, tmp_path, "leak-evader", reference, box)
    assert grade.leak_kinds == ["shared memory"], grade.leak_kinds
    assert grade.leak_deduction == PIPE.leak_deduction
    # The byte also lands in the output of the test that execs the binary
    # as a stage: that one fails honestly, as in BEFORE_MAIN.
    assert [r.spec.name for r in grade.results if not r.passed] == [PRINTS_INTO_ITS_OUTPUT]


# ---- attack classes 7 and 5 (issue 12): what a submission prints, shown to people

# Printed by the code under test before it fails: a clear screen, an OSC 52
# clipboard write, an OSC 8 link, a carriage return over a failure, rich
# markup, HTML, a leak line and a leak finding and a score of its own making.
FORGED_FINDING = "left behind — shared memory: /forged-finding — clean it up with shm_unlink"
INJECTS_OUTPUT = (  # on stderr: the code runs in a child whose stdout the test captures
    r'std::fputs("\x1b[2J\x1b[H\x1b]52;c;cm0gLXJmIH4K\x07\x1b]8;;https://evil.example/\x1b\\read me\x1b]8;;\x1b\\\n", stderr);'
    r' std::fputs("all checks FAILED\rall checks passed\n", stderr);'
    r' std::fputs("[link=https://evil.example/]click[/link] [bold red]grader error[/bold red] <script>alert(1)</script>\n", stderr);'
    r' std::fputs("[ipclab-leak] {\"kind\": \"message queue\", \"object\": \"/forged\", \"fix\": \"nothing\"}\n", stderr);'
    f' std::fputs("{FORGED_FINDING}\\n", stderr); std::fputs("Score: 100 / 100\\n", stderr);'
    r" std::abort();"
)
# A compile error that quotes the same into the diagnostics (raw bytes in the source).
INJECTS_DIAGNOSTICS = (
    '#error "\x1b]8;;https://evil.example/\x1b\\\\ [link=https://evil.example/]click[/link] \x1b[2J"\n'
)


def what_people_see(grade, tmp_path: Path) -> dict[str, str]:
    """Every rendering of a grade a person reads: the terminal (with colour),
    the plain text of autograde, the Markdown feedback, the decoded strings
    of each JSON report, the gradebook's files."""
    from grader import cli
    from grader.classroom import gradebook
    from grader.reports import machine, markdown
    from grader.tests.test_report import strings_in, terminal_output
    from grader.classroom.unpack import Submission

    seen = {
        "terminal": terminal_output(grade),
        "plain text": cli._plain_text(grade),
        "markdown": markdown.to_markdown(grade),
    }
    for fmt in ("json", "gradescope", "prairielearn"):
        seen[fmt] = "\n".join(strings_in(json.loads(machine.render_machine(grade, fmt))))
    student = Submission("attacker", key="attacker")
    gradebook.write_student(tmp_path, student, grade, *gradebook.row_status(grade))
    gradebook.write_class(tmp_path, PIPE, "folders", [student])
    for name in ("gradebook.csv", "canvas.csv", "feedback/attacker.md"):
        seen[name] = (tmp_path / name).read_text()
    return seen


def test_what_a_submission_prints_reaches_every_report_as_text_and_never_as_the_graders(box, tmp_path: Path) -> None:
    from grader.tests.test_report import RAW_CONTROL

    reference = pipeline.prepare_reference(PIPE, box)
    bug = attack("injects_output", INJECTS_OUTPUT, set())
    (tmp_path / "src").mkdir()
    corpus.materialize(PIPE, bug, tmp_path / "src")
    grade = pipeline.grade(PIPE, tmp_path / "src", "injects-output", reference, box)
    target = next(r for r in grade.results if r.spec.name == TARGET)
    assert not target.passed and "all checks FAILED" in target.output, target.output
    for where, text in what_people_see(grade, tmp_path / "out").items():
        if where != "terminal":  # rich's own colours are ESC sequences: checked below
            assert not RAW_CONTROL.search(text.replace("\n", "").replace("\t", "")), f"{where}: {text!r}"
        if where in ("markdown", "feedback/attacker.md"):
            # Quoted is inside a fenced code block.
            text = re.sub(r"^(`{3,})text\n.*?^\1$", "", text, flags=re.MULTILINE | re.DOTALL)
        for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines():  # without rich's colours
            if FORGED_FINDING in line or "Score: 100 / 100" in line or "[ipclab-leak]" in line:
                assert line.lstrip().startswith("│"), f"{where}: {line!r} is not quoted as the test's output"
    shown = what_people_see(grade, tmp_path / "again")
    for sequence in ("\x1b[2J", "\x1b]52;", "\x1b]8;", "\x07", "\r"):
        assert sequence not in shown["terminal"], f"{sequence!r} reached the terminal"
    assert "[link=https://evil.example/]click[/link]" in shown["terminal"]
    assert "\\x1b]52;c;" in shown["gradescope"] and "<script>" in shown["gradescope"]


def test_a_compile_error_quoting_markup_and_escapes_is_shown_as_text(box, tmp_path: Path) -> None:
    from grader.tests.test_report import RAW_CONTROL

    reference = pipeline.prepare_reference(PIPE, box)
    bug = Bug(
        "injects_diagnostics", "", frozenset(), {}, (Change("pipe_lab.cpp", INCLUDES, INJECTS_DIAGNOSTICS + INCLUDES),)
    )
    (tmp_path / "src").mkdir()
    corpus.materialize(PIPE, bug, tmp_path / "src")
    grade = pipeline.grade(PIPE, tmp_path / "src", "injects-diagnostics", reference, box)
    assert not grade.gradable and "#error" in grade.diagnostics, grade.diagnostics
    shown = what_people_see(grade, tmp_path / "out")
    for where, text in shown.items():
        if where != "terminal":
            assert not RAW_CONTROL.search(text.replace("\n", "").replace("\t", "")), f"{where}: {text!r}"
    for sequence in ("\x1b[2J", "\x1b]8;"):
        assert sequence not in shown["terminal"], f"{sequence!r} reached the terminal"
    assert "[link=https://evil.example/]click[/link]" in shown["terminal"]


def test_a_grader_error_quoting_a_submission_prints_its_markup_and_escapes_as_text(monkeypatch, capsys) -> None:
    """Attack class 5's markup: a compile error that the build takes for its
    own failure reaches the TA as a GraderError; its text is the student's."""
    from grader import cli
    from grader.errors import GraderError

    message = "bazel: internal error: \x1b]8;;https://evil.example/\x1b\\[link=https://evil.example/]click[/link]\x1b]8;;\x1b\\ \x1b[2J"

    def fails(_: list[str]) -> int:
        raise GraderError(message, tip="[bold]re-run[/bold] \x1b]52;c;cm0K\x07")

    monkeypatch.setitem(cli.COMMANDS, "list", fails)
    monkeypatch.setenv("FORCE_COLOR", "1")  # as on a TA's terminal: rich writes links and colours
    assert cli.main(["list"]) == cli.Exit.ERROR
    err = capsys.readouterr().err
    for sequence in ("\x1b[2J", "\x1b]52;", "\x1b]8;", "\x07"):
        assert sequence not in err, f"{sequence!r} reached the terminal"
    assert "[link=https://evil.example/]click[/link]" in err and "[bold]re-run[/bold]" in err


def test_a_batch_shows_a_hostile_file_name_in_the_submissions_as_text(tmp_path: Path, monkeypatch, capsys) -> None:
    from grader import cli

    submissions = tmp_path / "submissions"
    (submissions / "alice").mkdir(parents=True)  # empty: not gradable, so nothing is built
    (submissions / "[link=https:evil.example][bold red]click me \x1b]52;c;cm0K\x07 \x1b[2J").write_text(
        ""
    )  # no "/" in a name
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert cli.main(["batch", "pipe", str(submissions), "--out", str(tmp_path / "out")]) == cli.Exit.OK
    out = capsys.readouterr().out
    for sequence in ("\x1b[2J", "\x1b]52;", "\x1b]8;", "\x07"):
        assert sequence not in out, f"{sequence!r} reached the terminal"
    assert "[link=https:evil.example][bold red]click me" in out and "\\x1b]52;c;" in out
