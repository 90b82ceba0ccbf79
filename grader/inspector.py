"""Runs inside a test's sandbox as the parent of the test binary; when the
test has ended, it reports what the test left behind, one line each:

    [ipclab-leak] {"kind": "message queue", "object": "/dev/mqueue/q", "fix": "mq_unlink(\"/q\")"}

Under bubblewrap the sandbox's /dev/shm, /dev/mqueue and /tmp are private,
so everything found there is the test's. In reduced isolation they are the
machine's: the inspector compares with what was there before the test, and
removes what the test created, so the machine is left as it was.

This file runs on its own (python3 -I inspector.py [--reduced] BINARY ARGS…):
it imports nothing from the grader.
"""

from __future__ import annotations

import json
import os
import stat
import sys

MAX_PER_KIND = 20  # hundreds of leaked objects are summarised, not listed


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
    """Processes of the sandbox other than bubblewrap's init and ourselves."""
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


def main(argv: list[str]) -> int:
    reduced = argv[:1] == ["--reduced"]
    command = argv[1:] if reduced else argv
    before = ipc_objects() | fifo_nodes(os.getcwd()) if reduced else set()
    child = os.fork()
    if child == 0:
        os.execv(command[0], command)
    _, status = os.waitpid(child, 0)
    left = (ipc_objects() | fifo_nodes(os.getcwd())) - before
    findings = [describe_object(path) for path in sorted(left)]
    if not reduced:
        findings += leftover_processes({1, os.getpid()})
    else:
        for path in left:
            remove(path)
    sys.stdout.flush()
    lines = "".join(f"[ipclab-leak] {json.dumps(f, ensure_ascii=False)}\n" for f in summarised(findings))
    os.write(1, lines.encode())
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
