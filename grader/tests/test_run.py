"""Running one test case: every way a test process can end gets its verdict,
and nothing it started survives it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import FAKE_HARNESS
from grader.grading import run
from grader.reports import feedback
from grader.grading.lab import Lab, TestSpec
from grader.grading.run import Status
from grader.grading.score import Grade, score_run
from grader.grading import sandbox as sandbox_module
from grader.grading.sandbox import Sandbox

DOCTEST_SUMMARY = "echo '[doctest] test cases: 1 | 1 passed | 0 failed | 21 skipped'"
PASSED_SUMMARY = (
    f'{DOCTEST_SUMMARY}; report \'{{"event":"case","name":"t","passed":true}}\'; '
    'report \'{"event":"run","cases":1,"failed":0}\''
)
FAILED_SUMMARY = (
    'report \'{"event":"case","name":"t","passed":false}\'; report \'{"event":"run","cases":1,"failed":1}\''
)
REDUCED = Sandbox("reduced", "chosen by the test")


@pytest.fixture(params=["bubblewrap", "reduced"])
def each_sandbox(request, box: Sandbox) -> Sandbox:
    if request.param == "bubblewrap" and not box.isolated:
        pytest.skip(f"bubblewrap unavailable here: {box.reason}")
    return box if request.param == "bubblewrap" else REDUCED


def test_a_passing_test_passes(each_sandbox: Sandbox, fake_binary) -> None:
    result = run.run_test(each_sandbox, fake_binary(PASSED_SUMMARY), "t", timeout=10)
    assert result.status is Status.PASSED


def test_a_failing_check_is_failed(each_sandbox: Sandbox, fake_binary) -> None:
    binary = fake_binary(
        "echo 'x.cpp:3: ERROR: CHECK( 1 == 2 ) is NOT correct!'\n"
        f"echo '[doctest] test cases: 1 | 0 passed | 1 failed |'\n{FAILED_SUMMARY}\nexit 1"
    )
    result = run.run_test(each_sandbox, binary, "t", timeout=10)
    assert result.status is Status.FAILED
    assert "CHECK( 1 == 2 )" in result.output


def test_exit_0_without_a_report_is_not_a_pass(each_sandbox: Sandbox, fake_binary) -> None:
    result = run.run_test(each_sandbox, fake_binary("exit 0"), "t", timeout=10)
    assert result.status is Status.NO_REPORT
    assert "exit()" in result.detail


def test_doctest_s_summary_on_the_output_is_not_a_pass(each_sandbox: Sandbox, fake_binary) -> None:
    result = run.run_test(each_sandbox, fake_binary(f"{DOCTEST_SUMMARY}\nexit 0"), "t", timeout=10)
    assert result.status is Status.NO_REPORT


def test_records_without_the_token_are_forged_and_fail(each_sandbox: Sandbox, fake_binary) -> None:
    # Knows where the channel is, not the token: writes a passing run on it.
    forger = 'printf \'guess {"event":"case","name":"t","passed":true}\\n\' >&"$verdict_records"; ' f"{PASSED_SUMMARY}"
    result = run.run_test(each_sandbox, fake_binary(forger), "t", timeout=10)
    assert result.status is Status.FORGED
    assert "verdict channel" in result.detail


def test_a_pass_of_another_test_case_is_not_this_one_s(each_sandbox: Sandbox, fake_binary) -> None:
    result = run.run_test(each_sandbox, fake_binary(PASSED_SUMMARY), "another", timeout=10)
    assert result.status is Status.FAILED


def test_a_test_that_ran_to_its_end_twice_says_a_child_returned_into_it(each_sandbox: Sandbox, fake_binary) -> None:
    result = run.run_test(each_sandbox, fake_binary(f"{PASSED_SUMMARY}; {PASSED_SUMMARY}"), "t", timeout=10)
    assert result.status is Status.FAILED
    assert "returned into the test" in result.detail


def test_a_pass_followed_by_a_failing_exit_is_not_a_pass(each_sandbox: Sandbox, fake_binary) -> None:
    result = run.run_test(each_sandbox, fake_binary(f"{PASSED_SUMMARY}\nexit 3"), "t", timeout=10)
    assert result.status is Status.FAILED
    assert "exit status 3" in result.detail


def test_a_sandbox_that_cannot_start_is_the_grader_s_failure(
    each_sandbox: Sandbox, fake_binary, monkeypatch, tmp_path: Path
) -> None:
    real = sandbox_module.programs()
    broken = real.inspector.with_name("broken-inspector")  # where the test's uid can run it
    broken.write_text("#!/bin/sh\necho 'the inspector cannot start' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr(sandbox_module, "programs", lambda: sandbox_module.Programs(real.launcher, broken))
    try:
        with pytest.raises(run.SandboxFailed) as failure:
            run.run_test(each_sandbox, fake_binary(PASSED_SUMMARY), "t", timeout=10)
    finally:
        broken.unlink()
    assert "the inspector cannot start" in str(failure.value)


def test_a_crash_names_its_signal(each_sandbox: Sandbox, fake_binary) -> None:
    result = run.run_test(each_sandbox, fake_binary("kill -SEGV $$"), "t", timeout=10)
    assert result.status is Status.CRASHED
    assert "SIGSEGV" in result.detail


def test_a_hang_is_killed_at_its_deadline_with_every_process_it_started(
    each_sandbox: Sandbox, fake_binary, tmp_path: Path
) -> None:
    marker = f"ipclab-hang-{os.getpid()}-{time.monotonic_ns()}"
    # A child in the background, a grandchild in a new session (a daemon),
    # and the test itself waiting forever. Their durations are this test
    # process's own: tests on other workers leave sleeps of their own.
    child, daemon = f"1000.{os.getpid()}", f"1001.{os.getpid()}"
    binary = fake_binary(f"sleep {child} & setsid sleep {daemon} & exec -a {marker} sleep 1002")
    daemons = {f"sleep\x00{child}\x00", f"sleep\x00{daemon}\x00"}
    started = time.monotonic()
    result = run.run_test(each_sandbox, binary, "t", timeout=1.0)
    assert result.status is Status.TIMED_OUT
    assert time.monotonic() - started < 10
    assert "timed out after 1.0 s" in result.detail
    leftovers = [c for c in map(_cmdline, Path("/proc").iterdir()) if c.startswith(marker) or c in daemons]
    assert leftovers == []


def test_a_flood_of_output_is_stopped_and_the_output_capped(each_sandbox: Sandbox, fake_binary) -> None:
    result = run.run_test(each_sandbox, fake_binary("yes flood"), "t", timeout=30)
    assert result.status is Status.FLOODED
    assert len(result.output) < run.KEEP_HEAD + run.KEEP_TAIL + 200
    assert "bytes of output not shown" in result.output


def test_the_bubblewrap_sandbox_has_private_ipc_and_no_repository(box: Sandbox, fake_binary) -> None:
    if not box.isolated:
        pytest.skip(f"bubblewrap unavailable here: {box.reason}")
    probe = fake_binary(
        "touch /dev/shm/x && ls -ld /dev/shm /dev/mqueue && ls /dev/shm; "
        f"test -e {Path(__file__).resolve()} && echo REPOSITORY-VISIBLE; {PASSED_SUMMARY}"
    )
    open("/dev/shm/ipclab-outside-probe", "w").close()
    try:
        result = run.run_test(box, probe, "t", timeout=10)
    finally:
        os.unlink("/dev/shm/ipclab-outside-probe")
    assert result.status is Status.PASSED, result.output
    assert "drwxrwxrwt" in result.output  # /dev/shm is world-writable and sticky
    assert "ipclab-outside-probe" not in result.output
    assert "REPOSITORY-VISIBLE" not in result.output


def _cmdline(process: Path) -> str:
    if not process.name.isdigit():
        return ""
    try:
        return (process / "cmdline").read_text()
    except OSError:
        return ""


def test_an_ordinary_user_gets_the_same_sandbox(box: Sandbox) -> None:
    """The grader run by a user without privileges: bubblewrap still isolates
    (unprivileged user namespaces), or the report says reduced isolation."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become an ordinary user")
    import tempfile

    # A copy of the grader the ordinary user can read, wherever the checkout is.
    with tempfile.TemporaryDirectory() as top:
        _run_as_ordinary_user(Path(top), box)


def _run_as_ordinary_user(top: Path, box: Sandbox) -> None:
    import shutil
    import subprocess

    tree = top / "tree"
    grader_package = Path(run.__file__).parents[1]
    shutil.copytree(grader_package, tree / "grader", ignore=shutil.ignore_patterns("tests", "harness", "__pycache__"))
    binary = tree / "tests"
    binary.write_text(f"{FAKE_HARNESS}id -u\n{PASSED_SUMMARY}\n")
    # The copy is no Bazel workspace: it gets the launcher and the inspector built.
    built = sandbox_module.programs()
    for program in (built.launcher, built.inspector):
        shutil.copyfile(program, tree / program.name)
    for path in [top, tree, *tree.rglob("*")]:
        path.chmod(0o755)
    script = (
        "from pathlib import Path; from grader.grading import run, sandbox; "
        f"sandbox.programs = lambda: sandbox.Programs(Path('{tree}/launcher'), Path('{tree}/inspector')); "
        "box = sandbox.detect(); "
        f"r = run.run_test(box, Path('{binary}'), 't', 10); print(box.kind, r.status.value, r.output.split()[0])"
    )
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tree), "PYTHONPATH": str(tree)},
    )
    assert result.returncode == 0, result.stderr
    kind, status, uid = result.stdout.split()
    assert status == "passed", result.stderr
    assert kind == box.kind or kind == "reduced"
    assert uid == "65534"  # not dropped further: it has no privileges to drop


def test_leaks_are_reported_by_name_and_removed_in_either_sandbox(each_sandbox: Sandbox, fake_binary) -> None:
    name = f"ipclab-leak-probe-{os.getpid()}"
    binary = fake_binary(
        f"touch /dev/shm/{name} /dev/shm/sem.{name}; mkfifo fifo-{name}; sleep 1000 & {PASSED_SUMMARY}"
    )
    result = run.run_test(each_sandbox, binary, "t", timeout=10)
    assert result.status is Status.PASSED
    sentences = [leak.sentence() for leak in result.leaks]
    assert f'shared memory: /dev/shm/{name} — clean it up with shm_unlink("/{name}")' in sentences
    assert f'semaphore: /dev/shm/sem.{name} — clean it up with sem_unlink("/{name}")' in sentences
    assert any(s.startswith("fifo: ") and s.endswith(f'fifo-{name}")') for s in sentences)
    if each_sandbox.isolated:  # reduced isolation cannot tell its processes from the machine's
        assert any(leak.kind == "process" and "still running" in leak.object for leak in result.leaks)
    assert not os.path.exists(f"/dev/shm/{name}") and not os.path.exists(f"/dev/shm/sem.{name}")


def test_leak_lines_printed_by_the_test_are_output_not_findings(each_sandbox: Sandbox, fake_binary) -> None:
    forged = 'echo \'[ipclab-leak] {"kind": "message queue", "object": "/dev/mqueue/x", "fix": "mq_unlink"}\''
    result = run.run_test(each_sandbox, fake_binary(f"{forged}; {PASSED_SUMMARY}"), "t", timeout=10)
    assert result.leaks == []
    assert "[ipclab-leak]" in result.output  # feedback, shown as what the test printed


def test_a_leak_is_found_whatever_the_test_prints_before_the_report(each_sandbox: Sandbox, fake_binary) -> None:
    # One byte without a newline used to glue itself to the leak line.
    name = f"ipclab-glued-{os.getpid()}"
    result = run.run_test(
        each_sandbox, fake_binary(f"printf x; touch /dev/shm/{name}; {PASSED_SUMMARY}"), "t", timeout=10
    )
    assert [leak.object for leak in result.leaks] == [f"/dev/shm/{name}"]
    assert not os.path.exists(f"/dev/shm/{name}")


LISTING = """echo 'printed by a global'
report '{"event":"listing","count":2}'
report '{"event":"listed","name":"public one","file":"labs/pipe/public_test.cpp"}'
report '{"event":"listed","name":"hidden one","file":"solutions/pipe/hidden_test.cpp"}'"""


def test_a_listing_runs_sandboxed_and_ignores_what_is_printed_around_it(each_sandbox: Sandbox, fake_binary) -> None:
    assert run.list_tests(each_sandbox, fake_binary(LISTING)) == {"public one": False, "hidden one": True}


def test_a_binary_that_exits_before_listing_says_so(each_sandbox: Sandbox, fake_binary) -> None:
    with pytest.raises(run.ListingFailed) as failure:
        run.list_tests(each_sandbox, fake_binary("echo 'bye'; exit 3"))
    assert "exit status 3" in failure.value.detail
    assert "bye" in failure.value.output


def test_what_processes_killed_at_the_test_s_deadline_left_is_said_and_not_deducted(
    each_sandbox: Sandbox, fake_binary
) -> None:
    # The kill is what stopped any clean-up (a destructor that would have
    # unlinked it), so the leak is reported but not charged.
    name = f"ipclab-killed-{os.getpid()}"
    killed = 'report \'{"event":"killed at deadline","pid":7}\''
    binary = fake_binary(f"touch /dev/shm/{name}; {killed}; {FAILED_SUMMARY}; exit 1")
    result = run.run_test(each_sandbox, binary, "t", timeout=10)
    assert result.status is Status.FAILED and result.killed_at_deadline
    assert [leak.object for leak in result.leaks] == [f"/dev/shm/{name}"]
    spec = TestSpec("t", 5, "cleanup", "Unlink what you make.")
    lab = Lab("demo", "demo", ("demo.cpp",), 1.0, (spec,), leak_deduction=2, max_leak_deduction=6)
    graded = Grade(lab=lab, label="student", isolation=each_sandbox.isolation, results=[score_run(spec, result, None)])
    assert graded.leak_kinds == [] and graded.leak_deduction == 0
    assert "left behind by processes killed at the test's deadline (no clean-up could run, so not deducted)" in (
        feedback.feedback(graded.results[0])
    )


def test_the_same_object_left_by_several_processes_is_one_finding() -> None:
    leak = '{"event":"leak","kind":"descriptor","object":"fd 4 (pipe:[7])","fix":"close(4)"}'
    parsed = run.parse_report("\n".join([leak, leak, leak, '{"event":"exit","status":0}']).encode())
    assert [(x.object, x.processes) for x in parsed.leaks] == [("fd 4 (pipe:[7])", 3)]
    assert (
        parsed.leaks[0].sentence() == "descriptor: fd 4 (pipe:[7]) (in each of 3 processes) — clean it up with close(4)"
    )


def test_a_run_the_grader_killed_is_not_charged_for_what_it_left() -> None:
    spec = TestSpec("t", 5, "cleanup", "Unlink what you make.")
    lab = Lab("demo", "demo", ("demo.cpp",), 1.0, (spec,), leak_deduction=2, max_leak_deduction=6)
    left = [run.Leak("message queue", "/dev/mqueue/q", 'mq_unlink("/q")')]
    for status, charged in ((Status.TIMED_OUT, []), (Status.FLOODED, []), (Status.FAILED, ["message queue"])):
        graded = Grade(
            lab=lab,
            label="student",
            isolation=REDUCED.isolation,
            results=[score_run(spec, run.TestRun("t", status, "", 1.0, leaks=left), None)],
        )
        assert graded.leak_kinds == charged, status
