"""Cgroups: one per test process tree, with limits on memory (shared memory,
tmpfs and memfd pages included, which the address-space rlimit does not
count), processes and CPU, and a complete kill at the end (a process cannot
leave its cgroup without privileges, whatever it does to its environment).

cgroup v2 where it is the machine's only hierarchy, v1 where the machine has
v1 `memory`, `pids` and `cpu` controllers (this course's machines do); where
neither can be used (not root, no controllers), the sandbox falls back to
rlimits alone and says so.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GROUP = "ipclab"  # every test's cgroup is a child of this one
# One test may use one core's worth of CPU time, so a spinning test never
# starves the others (or the grader) on a small machine.
CPU_PERIOD_US = 100_000
CPU_QUOTA_US = 100_000


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    processes: int


@dataclass(frozen=True)
class Hierarchy:
    """Where test cgroups are made: the directories a new cgroup needs, one
    per controller (v1) or one for all (v2)."""

    version: int
    parents: tuple[Path, ...]

    def create(self, limits: Limits) -> TestCgroup:
        name = f"t{uuid.uuid4().hex[:12]}"
        directories = tuple(parent / name for parent in self.parents)
        for directory in directories:
            directory.mkdir()
        group = TestCgroup(self.version, directories)
        group.limit(limits)
        return group


@dataclass(frozen=True)
class TestCgroup:
    __test__ = False  # not a pytest test class, despite the name
    version: int
    directories: tuple[Path, ...]

    def limit(self, limits: Limits) -> None:
        if self.version == 2:
            (group,) = self.directories
            _write(group / "memory.max", limits.memory_bytes)
            _write_if_present(group / "memory.swap.max", 0)
            _write(group / "pids.max", limits.processes)
            _write(group / "cpu.max", f"{CPU_QUOTA_US} {CPU_PERIOD_US}")
            return
        memory, pids, cpu = self.directories
        _write(memory / "memory.limit_in_bytes", limits.memory_bytes)
        # Swap counts too, where the kernel accounts it: set after the limit,
        # which it may not be below.
        _write_if_present(memory / "memory.memsw.limit_in_bytes", limits.memory_bytes)
        _write(pids / "pids.max", limits.processes)
        _write(cpu / "cpu.cfs_period_us", CPU_PERIOD_US)
        _write(cpu / "cpu.cfs_quota_us", CPU_QUOTA_US)

    def procs_files(self) -> list[Path]:
        """The files the sandbox's launcher writes its pid to, before it
        starts anything: every process the test starts is born inside."""
        return [directory / "cgroup.procs" for directory in self.directories]

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the test for going past the
        memory limit."""
        events = self.directories[0] / ("memory.events" if self.version == 2 else "memory.oom_control")
        try:
            for line in events.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def is_empty(self) -> bool:
        """Whether no process is left in it (a removed cgroup was empty)."""
        try:
            return not (self.directories[0] / "cgroup.procs").read_text().split()
        except FileNotFoundError:
            return True
        except OSError:
            return False

    def kill_all(self) -> None:
        """Kills every process in the cgroup, including those forked while
        we look, until it is empty."""
        procs = self.directories[0] / "cgroup.procs"
        for _ in range(200):
            pids = _pids(procs)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)

    def remove(self) -> None:
        """Removes the cgroup once its processes are gone (they die
        asynchronously after SIGKILL)."""
        for directory in self.directories:
            for _ in range(200):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)


def detect() -> tuple[Hierarchy | None, str]:
    """The hierarchy to make test cgroups in, or None and why not."""
    if os.geteuid() != 0:
        return None, "the grader is not root, so it cannot make cgroups"
    if (ROOT / "cgroup.controllers").exists():
        return _v2()
    return _v1()


def _v2() -> tuple[Hierarchy | None, str]:
    wanted = {"memory", "pids", "cpu"}
    available = set((ROOT / "cgroup.controllers").read_text().split())
    if not wanted <= available:
        return None, f"cgroup v2 lacks the controllers {', '.join(sorted(wanted - available))}"
    parent = ROOT / GROUP
    try:
        parent.mkdir(exist_ok=True)
        _write(ROOT / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(wanted)))
        _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(wanted)))
    except OSError as e:
        return None, f"cannot make cgroups under {parent}: {e.strerror}"
    return Hierarchy(2, (parent,)), ""


def _v1() -> tuple[Hierarchy | None, str]:
    parents = []
    for controller in ("memory", "pids", "cpu"):
        top = ROOT / controller
        if not (top / "cgroup.procs").exists():
            return None, f"the machine has no cgroup v1 {controller!r} hierarchy at {top}"
        parent = top / GROUP
        try:
            parent.mkdir(exist_ok=True)
        except OSError as e:
            return None, f"cannot make cgroups under {parent}: {e.strerror}"
        parents.append(parent)
    return Hierarchy(1, tuple(parents)), ""


def _pids(procs: Path) -> list[int]:
    try:
        return [int(line) for line in procs.read_text().split()]
    except (OSError, ValueError):
        return []


def _write(path: Path, value: object) -> None:
    path.write_text(f"{value}\n")


def _write_if_present(path: Path, value: object) -> None:
    if path.exists():
        _write(path, value)
