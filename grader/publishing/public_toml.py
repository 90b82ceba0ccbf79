"""A lab's lab.toml as a starter pack ships it: every hidden [[tests]] entry cut
out with the comment lines just above it (and its [tests.hints]), the rest,
comments included, unchanged, and checked to describe exactly the public
tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from grader import toml
from grader.errors import GraderError
from grader.grading.lab import Lab, _parse


def public_lab_toml(lab: Lab) -> str:
    """labs/<lab>/lab.toml with every hidden [[tests]] entry removed, and the
    comment lines just above each: the rest, comments included, unchanged."""
    stripped = strip_hidden((lab.directory / "lab.toml").read_text())
    check_public(lab, stripped)
    return stripped


def strip_hidden(source: str) -> str:
    kept = "".join(block for block in _blocks(source) if not _is_hidden(block))
    return kept.rstrip("\n") + "\n"


def _blocks(text: str) -> list[str]:
    """The file cut before each table header, the comments and blank lines
    right above a header going with it; a test's sub-table ([tests.hints])
    stays with its test."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for index, line in enumerate(lines):
        if line.lstrip().startswith("[") and not line.lstrip().startswith("[tests.") and index:
            start = index
            while start > starts[-1] and _comment_or_blank(lines[start - 1]):
                start -= 1
            while not lines[start].strip():
                start += 1  # blank lines stay where they are
            starts.append(start)
    starts.append(len(lines))
    return ["".join(lines[a:b]) for a, b in zip(starts, starts[1:]) if a < b]


def _comment_or_blank(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _is_hidden(block: str) -> bool:
    body = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("#"))
    if not body.lstrip().startswith("[[tests]]"):
        return False
    try:
        return bool(toml.loads(body)["tests"][0].get("hidden", False))
    except toml.TOMLDecodeError as e:
        raise GraderError(f"cannot cut lab.toml into its [[tests]] entries here: {body[:80]!r}: {e}") from e


def check_public(lab: Lab, text: str) -> None:
    """The stripped file must describe exactly the lab's public tests."""
    try:
        public = _parse(lab.name, toml.loads(text), Path(f"labs/{lab.name}/lab.toml (public)"))
    except (toml.TOMLDecodeError, GraderError) as e:
        message = e.message if isinstance(e, GraderError) else str(e)
        raise GraderError(
            f"lab {lab.name!r}: lab.toml without its hidden tests is not valid: {message}",
            tip="a public test may not depend on a hidden one",
        ) from e
    if public != dataclasses.replace(lab, tests=tuple(t for t in lab.tests if not t.hidden)):
        raise GraderError(f"lab {lab.name!r}: removing the hidden tests from lab.toml changed more than that")
