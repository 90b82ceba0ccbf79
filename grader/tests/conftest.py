"""Shared fixtures for the grader's own tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from grader import sandbox  # noqa: E402


@pytest.fixture(scope="session")
def box() -> sandbox.Sandbox:
    return sandbox.detect()


@pytest.fixture
def fake_binary(tmp_path: Path):
    """Writes a shell script standing in for a doctest binary."""

    def write(body: str) -> Path:
        path = tmp_path / "tests"
        path.write_text("#!/bin/bash\n" + body + "\n")
        path.chmod(0o755)
        return path

    return write
