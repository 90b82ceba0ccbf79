"""Runs inside a test's sandbox as the parent of the test binary, and is
the only process there that speaks to the grader: on its own descriptor
(--report-fd), never on the test's output. It sends one JSON object a line:

    {"event": "started"}                      before the test binary starts
    {"event": "case", "name": ..., ...}       the harness's records (verdict.h)
    {"event": "leak", "kind": "message queue", "object": "/dev/mqueue/q", "fix": "mq_unlink(\"/q\")"}
    {"event": "forged", "lines": 2, "example": ...}   lines without this run's token
    {"event": "exit", "status": 0} or {"event": "exit", "signal": 11}
    {"event": "internal error", "why": ...}   the inspector's own failure

The test binary gets the records pipe and a pipe holding a fresh token in
IPCLAB_VERDICT (see grader/harness/verdict.h); a record without the token was
written by something other than the harness. This process is not dumpable,
so no process of the test can open its descriptors or its memory through
/proc, and the sandbox's seccomp filter denies ptrace.

Under bubblewrap the sandbox's /dev/shm, /dev/mqueue and /tmp are private,
so everything found there is the test's. In reduced isolation they are the
machine's: the inspector compares with what was there before the test, and
removes what the test created, so the machine is left as it was.

This file runs on its own (python3 -I inspector.py [--reduced] --report-fd N
BINARY ARGS…): it imports nothing from the grader.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import stat
import sys
import time
import traceback

MAX_PER_KIND = 20  # hundreds of leaked objects are summarised, not listed
GRACE_STEPS, GRACE_STEP_SECONDS = 25, 0.02  # half a second for dying processes to go
# The harness sends a few records a test; more than this is the test
# writing on the channel, and the rest is read and dropped.
MAX_RECORD_BYTES = 1024 * 1024
PR_SET_DUMPABLE = 4


def ipc_objects() -> set[str]:
    found = set()
    for directory in ("/dev/shm", "/dev/mqueue"):
        try:
            found.update(f"{directory}/{name}" for name in os.listdir(directory))
        except OSError:
            pass
    return found


def fifo_nodes(top: str) -> set[str]:
    found = set()
    for root, _, files in os.walk(top):
        for name in files:
            path = os.path.join(root, name)
            try:
                if stat.S_ISFIFO(os.lstat(path).st_mode):
                    found.add(path)
            except OSError:
                pass
    return found


def describe_object(path: str) -> dict[str, str]:
    name = os.path.basename(path)
    if path.startswith("/dev/mqueue/"):
        return {"kind": "message queue", "object": path, "fix": f'mq_unlink("/{name}")'}
    if name.startswith("sem."):
        return {"kind": "semaphore", "object": path, "fix": f'sem_unlink("/{name[4:]}")'}
    if path.startswith("/dev/shm/"):
        return {"kind": "shared memory", "object": path, "fix": f'shm_unlink("/{name}")'}
    return {"kind": "fifo", "object": path, "fix": f'unlink("{path}")'}


def leftover_processes(own: set[int]) -> list[dict[str, str]]:
    """Processes of the sandbox other than bubblewrap's init and ourselves
    that are still there after a grace period: processes the test killed at
    its end (a timed-out child's group) are reaped by bubblewrap's init
    asynchronously, and are not leaks."""
    found = _processes(own)
    for _ in range(GRACE_STEPS):
        if not found:
            break
        time.sleep(GRACE_STEP_SECONDS)
        found = _processes(own)
    return found


def _processes(own: set[int]) -> list[dict[str, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in own:
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                fields = stat_file.read().rsplit(")", 1)
            command = fields[0].split("(", 1)[1]
            state = fields[1].split()[0]
        except (OSError, IndexError):
            continue  # it ended while we looked
        if state == "Z":
            found.append({"kind": "zombie process", "object": f"process {entry} ({command}) exited but was never reaped",
                          "fix": "waitpid for every child you start"})  # fmt: skip
        else:
            found.append({"kind": "process", "object": f"process {entry} ({command}) still running after the test ended",
                          "fix": "waitpid for every child; never leave a daemon behind (setsid, double fork)"})  # fmt: skip
    return found


def summarised(findings: list[dict[str, str]]) -> list[dict[str, str]]:
    by_kind: dict[str, list[dict[str, str]]] = {}
    for finding in findings:
        by_kind.setdefault(finding["kind"], []).append(finding)
    kept = []
    for kind, items in by_kind.items():
        kept += items[:MAX_PER_KIND]
        if len(items) > MAX_PER_KIND:
            kept.append({"kind": kind, "object": f"… and {len(items) - MAX_PER_KIND} more", "fix": items[0]["fix"]})
    return kept


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class Grader:
    """The descriptor on which the grader reads this inspector's report."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_inheritable(fd, False)  # never the test's

    def send(self, record: dict[str, object]) -> None:
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]


def not_dumpable() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0)")


def start_test(command: list[str], token: str) -> tuple[int, int]:
    """Starts the test binary with the verdict channel; returns its pid and
    the read end of its records pipe."""
    records, records_end = os.pipe()
    token_pipe, token_end = os.pipe()
    os.write(token_end, token.encode())  # fits in the pipe: the child reads it
    os.close(token_end)
    child = os.fork()
    if child == 0:
        try:
            os.close(records)
            os.set_inheritable(records_end, True)
            os.set_inheritable(token_pipe, True)
            environment = {**os.environ, "IPCLAB_VERDICT": f"{records_end} {token_pipe}"}
            os.execve(command[0], command, environment)
        finally:
            os._exit(127)
    os.close(records_end)
    os.close(token_pipe)
    return child, records


def collect_records(child: int, records: int) -> tuple[int, bytes]:
    """Reads the records pipe until the test binary has ended; returns its
    wait status and what was read. Processes the test left behind may hold
    the pipe open: the end of the test binary is the end of its records."""
    received = bytearray()
    ended = os.pidfd_open(child)
    try:
        while True:
            ready, _, _ = select.select([records, ended], [], [])
            if records in ready and not _read_into(records, received):
                _, status = os.waitpid(child, 0)
                return status, bytes(received)
            if ended in ready:
                _, status = os.waitpid(child, 0)
                os.set_blocking(records, False)
                while _read_into(records, received):
                    pass
                return status, bytes(received)
    finally:
        os.close(ended)
        os.close(records)


def _read_into(fd: int, received: bytearray) -> bool:
    """False at end of file or when nothing is left to read now."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return False
    if len(received) < MAX_RECORD_BYTES:
        received += chunk[: MAX_RECORD_BYTES - len(received)]
    return bool(chunk)


def authentic_records(received: bytes, token: str) -> tuple[list[dict[str, object]], list[str]]:
    """The harness's records, and the lines that were not (without the token,
    or not a JSON object with an event)."""
    records, forged = [], []
    prefix = f"{token} ".encode()
    for line in received.splitlines():
        record = None
        if line.startswith(prefix):
            try:
                record = json.loads(line[len(prefix):].decode("utf-8", errors="replace"))
            except ValueError:
                record = None
        if isinstance(record, dict) and isinstance(record.get("event"), str):
            records.append(record)
        else:
            forged.append(line.decode("utf-8", errors="replace")[:200])
    return records, forged


def exit_record(status: int) -> dict[str, object]:
    if os.WIFSIGNALED(status):
        return {"event": "exit", "signal": os.WTERMSIG(status)}
    return {"event": "exit", "status": os.WEXITSTATUS(status)}


def inspect(grader: Grader, reduced: bool, command: list[str]) -> int:
    not_dumpable()
    grader.send({"event": "started"})
    before = ipc_objects() | fifo_nodes(os.getcwd()) if reduced else set()
    token = os.urandom(16).hex()
    child, records = start_test(command, token)
    status, received = collect_records(child, records)
    left = (ipc_objects() | fifo_nodes(os.getcwd())) - before
    findings = [describe_object(path) for path in sorted(left)]
    if not reduced:
        findings += leftover_processes({1, os.getpid()})
    else:
        for path in left:
            remove(path)
    harness, forged = authentic_records(received, token)
    for record in harness:
        grader.send(record)
    for finding in summarised(findings):
        grader.send({"event": "leak", **finding})
    if forged:
        grader.send({"event": "forged", "lines": len(forged), "example": forged[0]})
    grader.send(exit_record(status))
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main(argv: list[str]) -> int:
    reduced = argv[:1] == ["--reduced"]
    argv = argv[1:] if reduced else argv
    if argv[:1] != ["--report-fd"] or len(argv) < 3:
        print("usage: inspector.py [--reduced] --report-fd N BINARY ARGS...", file=sys.stderr)
        return 125
    grader = Grader(int(argv[1]))
    try:
        return inspect(grader, reduced, argv[2:])
    except Exception:  # the inspector's own failure: never the student's
        grader.send({"event": "internal error", "why": traceback.format_exc(limit=4)})
        return 125


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
