"""The native inspector (grader/inspector/inspector.cpp), driven on its own:
the report it writes for each way a test binary can behave. The sandboxed
paths through it are in test_run.py and test_adversarial.py; here it runs
bare (--reduced, in a scratch working directory), or in a PID namespace of
its own under bubblewrap's init, as in a sandbox, for what it says about
leftover processes."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import FAKE_HARNESS
from grader.grading import sandbox

CASE = '{"event":"case","name":"t","passed":true}'


@dataclass
class Inspected:
    returncode: int
    records: list[dict]
    lines: list[bytes]  # the report as written, a JSON object a line
    output: str


@pytest.fixture
def inspect(tmp_path: Path):
    """Runs the inspector on a shell script standing in for a test binary."""

    def run(body: str, reduced: bool = True, pid_namespace: bool = False) -> Inspected:
        binary = tmp_path / "tests"
        binary.write_text(FAKE_HARNESS + body + "\n")
        binary.chmod(0o755)
        workdir = tmp_path / "work"
        workdir.mkdir(exist_ok=True)
        report_read, report_write = os.pipe()
        command = [
            str(sandbox.programs().inspector),
            *(["--reduced"] if reduced else []),
            "--report-fd",
            str(report_write),
            str(binary),
        ]
        if pid_namespace:
            command = ["bwrap", "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--", *command]
        # bubblewrap's init outlives the inspector while a process the test
        # left is alive: the output is not waited for, and the leftovers are
        # killed here (the grader kills the sandbox's cgroup and session).
        output = subprocess.DEVNULL if pid_namespace else subprocess.PIPE
        try:
            process = subprocess.run(
                command, pass_fds=(report_write,), cwd=workdir, stdout=output, stderr=output, timeout=30, check=False
            )
        finally:
            os.close(report_write)
            _kill_lingering()
        with os.fdopen(report_read, "rb") as report:
            data = report.read()
        lines = data.splitlines()
        printed = (process.stdout or b"") + (process.stderr or b"")
        return Inspected(
            process.returncode, [json.loads(line) for line in lines], lines, printed.decode(errors="replace")
        )

    return run


# The duration of the processes a test leaves behind on purpose, to find them.
LINGER = f"1000.{os.getpid()}"


def _kill_lingering() -> None:
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == f"sleep\0{LINGER}\0".encode():
                os.kill(int(entry.name), 9)
        except OSError:
            pass


def events(inspected: Inspected) -> list[str]:
    return [record["event"] for record in inspected.records]


def test_the_report_starts_before_the_test_and_ends_with_its_exit_status(inspect) -> None:
    inspected = inspect(f"report '{CASE}'; exit 3")
    assert events(inspected) == ["started", "case", "exit"]
    assert inspected.records[1] == json.loads(CASE)
    assert inspected.records[-1] == {"event": "exit", "status": 3}
    assert inspected.returncode == 3


def test_a_signal_that_ends_the_test_is_reported_and_passed_on(inspect) -> None:
    inspected = inspect("kill -SEGV $$")
    assert inspected.records[-1] == {"event": "exit", "signal": 11}
    assert inspected.returncode == 128 + 11


def test_lines_without_this_runs_token_are_forged(inspect) -> None:
    forger = f"""report '{CASE}'; printf 'guess {CASE}\\n\\nsecond\\r\\n' >&"$verdict_records" """
    inspected = inspect(forger)
    forged = [r for r in inspected.records if r["event"] == "forged"]
    assert forged == [{"event": "forged", "lines": 3, "example": f"guess {CASE}"}]
    assert [r for r in inspected.records if r["event"] == "case"] == [json.loads(CASE)]


@pytest.mark.parametrize("record", ['{"name":"t"}', '["event"]', '{"event":1}', '{"event":"case",}', "not json"])
def test_a_line_with_the_token_that_is_no_record_is_forged(inspect, record: str) -> None:
    inspected = inspect(f"report '{record}'")
    assert events(inspected) == ["started", "forged", "exit"]


def test_every_byte_of_a_record_reaches_the_grader_as_valid_json(inspect) -> None:
    # Invalid UTF-8 and escapes inside a record's strings, invalid UTF-8 and
    # control characters in a forged line: each report line stays valid
    # UTF-8 JSON, with the bytes Python would have replaced by U+FFFD.
    body = (
        r"""report "$(printf '{"event":"case","name":"a\xffb \\u0001 \\"q\\" \xe2\x80\xa6"}')"; """
        r"""printf 'bad \xc0\xaf \x1b[2J\n' >&"$verdict_records" """
    )
    inspected = inspect(body)
    for line in inspected.lines:
        line.decode("utf-8")  # strict: raises on anything invalid
    assert inspected.records[1] == {"event": "case", "name": 'a\ufffdb \x01 "q" \u2026'}
    forged = next(r for r in inspected.records if r["event"] == "forged")
    assert forged["example"] == "bad \ufffd\ufffd \x1b[2J"


def test_a_forged_example_is_cut_at_200_characters(inspect) -> None:
    inspected = inspect("""printf '%0300d\\n' 0 >&"$verdict_records" """)
    forged = next(r for r in inspected.records if r["event"] == "forged")
    assert forged["example"] == "0" * 200


def test_a_flood_on_the_records_pipe_is_capped_not_waited_on(inspect) -> None:
    # 4 MiB of lines without the token: read to the end, kept to 1 MiB.
    inspected = inspect(
        f"""head -c 4194304 /dev/zero | tr '\\0' 'x' | fold -w 1023 >&"$verdict_records"; report '{CASE}'"""
    )
    forged = next(r for r in inspected.records if r["event"] == "forged")
    assert 1000 <= forged["lines"] <= 1030  # 1 MiB of 1024-byte lines
    assert inspected.records[-1] == {"event": "exit", "status": 0}


def test_the_test_binary_inherits_the_verdict_channel_and_not_the_report(inspect) -> None:
    # The listing goes to a file: a $(...) would add bash's pipe to it.
    inspected = inspect(
        """ls /proc/$$/fd > fds; echo "fds: $(tr '\\n' ' ' < fds)"; echo "channel: $verdict_records $verdict_token" """
    )
    fds = set(inspected.output.split("fds: ")[1].split("\n")[0].split())
    channel = set(inspected.output.split("channel: ")[1].split())
    # Standard input, output and error, bash's own for its script, and the two of IPCLAB_VERDICT.
    assert fds - {"0", "1", "2", "255"} == channel and len(channel) == 2, inspected.output


def test_the_test_starts_with_sigpipe_and_sigxfsz_ignored_as_it_always_has(inspect) -> None:
    inspected = inspect("grep SigIgn /proc/$$/status")
    ignored = int(inspected.output.split("SigIgn:")[1].split()[0], 16)
    assert ignored & (1 << (13 - 1)) and ignored & (1 << (25 - 1))


def test_a_binary_that_cannot_be_executed_ends_with_127(inspect, tmp_path: Path) -> None:
    report_read, report_write = os.pipe()
    inspector = str(sandbox.programs().inspector)
    process = subprocess.run(
        [inspector, "--reduced", "--report-fd", str(report_write), str(tmp_path / "missing")],
        pass_fds=(report_write,),
        cwd=tmp_path,
        check=False,
    )
    os.close(report_write)
    with os.fdopen(report_read, "rb") as report:
        records = [json.loads(line) for line in report.read().splitlines()]
    assert records[-1] == {"event": "exit", "status": 127} and process.returncode == 127


def test_a_bad_command_line_is_the_inspectors_own_failure() -> None:
    inspector = str(sandbox.programs().inspector)
    for argv in ([], ["--report-fd"], ["--report-fd", "x", "/bin/true"], ["--reduced", "/bin/true"]):
        process = subprocess.run([inspector, *argv], capture_output=True, text=True, check=False)
        assert process.returncode == 125 and "usage:" in process.stderr, argv


def test_a_report_descriptor_that_is_not_open_is_an_internal_failure(tmp_path: Path) -> None:
    inspector = str(sandbox.programs().inspector)
    process = subprocess.run([inspector, "--reduced", "--report-fd", "999", "/bin/true"], cwd=tmp_path, check=False)
    assert process.returncode == 125


# ---- what the test leaves behind ---------------------------------------------


def test_reduced_isolation_reports_and_removes_only_what_the_test_made(inspect) -> None:
    name = f"ipclab-inspector-test-{uuid.uuid4().hex[:8]}"
    before = Path(f"/dev/shm/{name}-before")
    before.write_text("there before the test")
    try:
        inspected = inspect(
            f"echo x > /dev/shm/{name}-made; echo x > /dev/shm/sem.{name}; mkdir -p d/e; mkfifo d/e/f; "
            "mkfifo real; ln -s real link"
        )
        leaks = {(r["kind"], r["object"], r["fix"]) for r in inspected.records if r["event"] == "leak"}
        assert ("shared memory", f"/dev/shm/{name}-made", f'shm_unlink("/{name}-made")') in leaks
        assert ("semaphore", f"/dev/shm/sem.{name}", f'sem_unlink("/{name}")') in leaks
        fifos = sorted(obj for kind, obj, _ in leaks if kind == "fifo")
        assert [Path(f).name for f in fifos] == ["f", "real"]  # the link is not a FIFO node
        assert len(leaks) == 4
        assert before.exists()
        assert not Path(f"/dev/shm/{name}-made").exists() and not Path(f"/dev/shm/sem.{name}").exists()
    finally:
        before.unlink()


def test_many_leaks_of_one_kind_are_summarised(inspect) -> None:
    inspected = inspect("for i in $(seq 25); do mkfifo fifo$i; done")
    leaks = [r for r in inspected.records if r["event"] == "leak"]
    assert len(leaks) == 21
    assert leaks[-1]["object"] == "\u2026 and 5 more" and leaks[-1]["kind"] == "fifo"


def test_processes_left_running_are_reported_after_a_grace_period(inspect) -> None:
    # One still running when the test ends; one that ends within the grace
    # period (reaped by bubblewrap's init), which is not a leak.
    inspected = inspect(f"sleep {LINGER} & (sleep 0.1 &); exit 0", reduced=False, pid_namespace=True)
    leaks = [r for r in inspected.records if r["event"] == "leak"]
    assert [r["kind"] for r in leaks] == ["process"], leaks
    assert "(sleep) still running after the test ended" in leaks[0]["object"]
    assert inspected.records[-1] == {"event": "exit", "status": 0}


def test_a_zombie_is_reported_as_never_reaped(inspect) -> None:
    # A parent that never waits, alive past the grace period: its ended child is a zombie.
    # The test's own shell gives `sleep 0` a whole second to end: 0.2 s was too short
    # under load, and the child was then still running, not yet a zombie.
    inspected = inspect(f"bash -c 'sleep 0 & exec sleep {LINGER}' & sleep 1; exit 0", reduced=False, pid_namespace=True)
    kinds = sorted(r["kind"] for r in inspected.records if r["event"] == "leak")
    assert kinds == ["process", "zombie process"], inspected.records
