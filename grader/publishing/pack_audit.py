"""The proof that nothing secret ships in a starter pack: no file of
solutions/, no hidden test's name, and none of the reference's lines of code
(a line counts when, stripped, it is long enough and is not a comment or
punctuation alone), searched for however the pack's files spell them."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

from grader.publishing.pack_files import framework_files, shipped_files

if TYPE_CHECKING:  # starter_pack checks its packs with this module
    from grader.publishing.starter_pack import Pack
from grader.grading.lab import REPO, Lab


# A line of reference code counts as solution code when, stripped, it is at
# least this long and is not a comment or punctuation alone.
SOLUTION_LINE_LENGTH = 20


_NOT_CODE = re.compile(r"^(//|/\*|\*|#include)|^[\s{}()\[\];,]*$")


def solution_lines(lab: Lab) -> set[str]:
    """Non-trivial lines of the lab's solutions/ sources (the reference and
    the hidden tests) that no pack publishes anyway: not within a file of
    labs/<lab>/, nor of the framework every pack ships (see framework_overlap)."""
    published = "\n".join([*_texts(shipped_files(lab.directory)).values(), *_framework_texts().values()])
    return {line for line in _secret_candidates(lab) if line not in published}


def framework_overlap(lab: Lab) -> dict[str, list[str]]:
    """Lines of the lab's solution that the shared framework (harness, grader)
    holds too, each with the files that hold it. Every pack ships them; they
    are worth a look (a harness helper may do a lab's work), not a secret shipped."""
    lab_files = "\n".join(_texts(shipped_files(lab.directory)).values())
    framework = _framework_texts()
    overlap = {}
    for line in sorted(_secret_candidates(lab)):
        holders = [path for path, text in framework.items() if line in text]
        if holders and line not in lab_files:
            overlap[line] = holders
    return overlap


def _secret_candidates(lab: Lab) -> set[str]:
    found = set()
    for path in lab.solution_directory.rglob("*"):
        if path.is_file() and path.suffix in {".cpp", ".cc", ".h", ".hpp"}:
            for line in path.read_text().splitlines():
                code = line.strip()
                if len(code) >= SOLUTION_LINE_LENGTH and not _NOT_CODE.search(code):
                    found.add(code)
    return found


def _texts(paths: list[Path]) -> dict[str, str]:
    return {p.relative_to(REPO).as_posix(): p.read_text(errors="replace") for p in sorted(paths) if p.is_file()}


def _framework_texts() -> dict[str, str]:
    return _texts(framework_files())


def secrets_in(pack: Pack) -> list[str]:
    """Every way the pack gives away what students must not have."""
    lab = pack.lab
    hidden_names = [t.name for t in lab.tests if t.hidden]
    secret_lines = sorted(solution_lines(lab)) if lab.has_solution else []
    found = [f"{path}: a file from solutions/" for path in pack.files if path.startswith("solutions/")]
    for path, (content, _) in pack.files.items():
        text = content.decode("utf-8", errors="replace")
        searchable = _searchable(text)
        found += [f"{path}: names the hidden test {name!r}" for name in hidden_names if _searchable(name) in searchable]
        found += [f"{path}: holds a line of the lab's solution: {line!r}" for line in secret_lines if line in text]
    return found


def _searchable(text: str) -> str:
    """Text as a reader sees it: HTML entities and Markdown escapes resolved,
    typographic quotes made plain, any run of white space one space."""
    text = html.unescape(text).translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\""))
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
    return " ".join(text.split()).lower()
