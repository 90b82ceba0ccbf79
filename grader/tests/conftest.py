"""Shared fixtures for the grader's own tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from grader.grading import sandbox  # noqa: E402


@pytest.fixture(scope="session")
def box() -> sandbox.Sandbox:
    return sandbox.detect()


# What the harness does before main (grader/harness/verdict.cpp), in shell:
# take the verdict channel and the token; `report JSON` sends a record.
FAKE_HARNESS = """#!/bin/bash
report() { :; }
if [[ -n "${IPCLAB_VERDICT:-}" ]]; then
  read -r verdict_records verdict_token <<< "$IPCLAB_VERDICT"
  IFS= read -r token <&"$verdict_token" || true
  report() { printf '%s %s\\n' "$token" "$1" >&"$verdict_records"; }
fi
unset IPCLAB_VERDICT
"""


@pytest.fixture
def fake_binary(tmp_path: Path):
    """Writes a shell script standing in for a doctest binary; it can send
    the harness's records with `report '{"event": ...}'`."""

    def write(body: str) -> Path:
        path = tmp_path / "tests"
        path.write_text(FAKE_HARNESS + body + "\n")
        path.chmod(0o755)
        return path

    return write


# Parallel workers (./test runs pytest-xdist) take tests in collection
# order: the few that take minutes go first, so that no worker is left
# with one of them at the end while the others are idle.
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "long: takes minutes (a whole corpus); scheduled first")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
