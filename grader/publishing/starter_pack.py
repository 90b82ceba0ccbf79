"""Starter packs: what a student unpacks and builds in, one lab each.

A pack is this repository cut down to one lab: the workspace files, the
harness and the grader (without its own tests), labs/<lab>/ with a lab.toml
that lists the public tests only, the write-up with its directives expanded
(Markdown and HTML) and a short README. It never holds solutions/, a hidden
test or a hidden test's name; leaks() proves that of the pack's every file,
down to the reference's own lines of code.

Unpacked, ./grade <lab> grades the student's file against the public tests:
with no solutions/ the lab has no reference (Lab.has_solution is False) and
the grader builds //labs/<lab>:public_suite instead of every test.
"""

from __future__ import annotations

import dataclasses
import gzip
import html
import io
import os
import re
import tarfile
from pathlib import Path

from grader.atomic import write_atomically
from grader import toml
from grader.grading import build as bazel_build
from grader.publishing import handout
from grader.errors import GraderError
from grader.grading.lab import REPO, Lab, _parse

# What a pack takes from the repository besides the lab itself.
ROOT_FILES = ("WORKSPACE", "BUILD", ".bazelrc", ".gitignore", "grade")
TREES = ("third_party", "grader")
# Never shipped: the grader's own tests read solutions/, and the suite runner
# runs them; new_lab.py holds a reference and a hidden test's name; caches
# are not source. Nor the harness's code (but for its main): a pack ships it
# compiled, see grader/harness/BUILD.starter.
LEFT_OUT = re.compile(
    r"^grader/(tests/|suite\.py$|publishing/new_lab\.py$|harness/(BUILD|(?!main\.cpp$)[^/]+\.cpp$))|(^|/)__pycache__/|\.pyc$"
)
HARNESS = REPO / "grader" / "harness"

# A line of reference code counts as solution code when, stripped, it is at
# least this long and is not a comment or punctuation alone.
SOLUTION_LINE_LENGTH = 20
_NOT_CODE = re.compile(r"^(//|/\*|\*|#include)|^[\s{}()\[\];,]*$")

README = """\
# IPC Labs — lab `{lab}`: {title}

Your work goes in {files}; the header beside it, {headers},
is the contract: every function's comment says exactly what is expected.
The write-up is `handouts/{lab}.html` (open it in a browser; the same text is
in `handouts/{lab}.md`).

```sh
./grade {lab}                 # build your file and run the public tests
./grade {lab} --format json   # the same, as JSON
./grade watch {lab}           # grade again on every save: what changed, each time
```

The first run installs what is missing from Debian's packages (it says what,
or prints the `apt-get install` line to run as root) and builds everything
once, which takes a few minutes; after that only your file is recompiled.

Each test runs alone, in its own sandbox, with a deadline. A failing test says
what happened, with the values, and a hint; a test that depends on another you
have not passed yet is skipped and says so: fix the first one first.

This pack runs the {public} public tests ({public_points:g} points). When your work
is graded, {hidden} hidden tests ({hidden_points:g} points) run as well: passing
every public test is a good sign, not a guarantee.

Submit only {submit}; changes to any other file are ignored when your work
is graded.
"""


@dataclasses.dataclass(frozen=True)
class Pack:
    lab: Lab
    files: dict[str, tuple[bytes, int]]  # path inside the pack -> (content, mode)
    mtime: int  # of the newest source: the same files give the same tarball

    @property
    def top(self) -> str:
        """The directory the tarball unpacks into."""
        return f"{self.lab.name}-starter"


def build(lab: Lab, page: str | None = None) -> Pack:
    """The pack's files, in memory. page: the rendered write-up (rendered here when not given)."""
    sources = [*_framework_files(), *_shipped(lab.directory)]
    files = {path.relative_to(REPO).as_posix(): _read(path) for path in sources}
    files[f"labs/{lab.name}/lab.toml"] = (public_lab_toml(lab).encode(), 0o644)
    markdown = handout.expand(lab)
    page = page or handout.to_html(*handout.title_and_body(lab, markdown))
    files[f"handouts/{lab.name}.md"] = (markdown.encode(), 0o644)
    files[f"handouts/{lab.name}.html"] = (page.encode(), 0o644)
    files["README.md"] = (readme(lab).encode(), 0o644)
    files.update(compiled_harness())
    newest = max(p.stat().st_mtime for p in [*sources, *HARNESS.glob("*.cpp"), handout.handout_path(lab)])
    return Pack(lab, dict(sorted(files.items())), int(newest))


def _framework_files() -> list[Path]:
    """What every pack ships, whatever its lab."""
    return [REPO / name for name in ROOT_FILES] + [p for tree in TREES for p in _shipped(REPO / tree)]


def compiled_harness() -> dict[str, tuple[bytes, int]]:
    """The harness as a pack ships it: a BUILD file importing one static
    library, built here. Some of the harness's code is a lab's answer
    (write a whole buffer, read to the end, reap a child); headers say what
    it does, and that is all a student needs of it."""
    built = bazel_build.build("//grader/harness:archive")
    if not built.ok:
        raise GraderError(f"the harness does not build, so no starter pack can ship it:\n{built.diagnostics}")
    # Every part of the harness (one cc_library per header) in one archive.
    archive = REPO / "bazel-bin" / "grader" / "harness" / "libharness.a"
    return {
        "grader/harness/BUILD": _read(HARNESS / "BUILD.starter"),
        "grader/harness/libharness.a": (archive.read_bytes(), 0o644),
    }


def _shipped(directory: Path) -> list[Path]:
    return [
        p for p in sorted(directory.rglob("*")) if p.is_file() and not LEFT_OUT.search(p.relative_to(REPO).as_posix())
    ]


def _read(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), 0o755 if os.access(path, os.X_OK) else 0o644


def readme(lab: Lab) -> str:
    public = [t for t in lab.tests if not t.hidden]
    hidden = [t for t in lab.tests if t.hidden]
    headers = [Path(name).with_suffix(".h").name for name in lab.student_files]
    return README.format(
        lab=lab.name,
        title=lab.title,
        files=_listed(lab, lab.student_files),
        headers=_listed(lab, [h for h in headers if (lab.directory / h).exists()]),
        public=len(public),
        public_points=sum(t.points for t in public),
        hidden=len(hidden),
        hidden_points=sum(t.points for t in hidden),
        submit=" and ".join(f"`{name}`" for name in lab.student_files),
    )


def _listed(lab: Lab, names: list[str] | tuple[str, ...]) -> str:
    return " and ".join(f"`labs/{lab.name}/{name}`" for name in names)


# ---- lab.toml without hidden entries --------------------------------------


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


# ---- proving nothing secret is shipped ------------------------------------


def solution_lines(lab: Lab) -> set[str]:
    """Non-trivial lines of the lab's solutions/ sources (the reference and
    the hidden tests) that no pack publishes anyway: not within a file of
    labs/<lab>/, nor of the framework every pack ships (see framework_overlap)."""
    published = "\n".join([*_texts(_shipped(lab.directory)).values(), *_framework_texts().values()])
    return {line for line in _secret_candidates(lab) if line not in published}


def framework_overlap(lab: Lab) -> dict[str, list[str]]:
    """Lines of the lab's solution that the shared framework (harness, grader)
    holds too, each with the files that hold it. Every pack ships them; they
    are worth a look (a harness helper may do a lab's work), not a leak."""
    lab_files = "\n".join(_texts(_shipped(lab.directory)).values())
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
    return _texts(_framework_files())


def leaks(pack: Pack) -> list[str]:
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


# ---- the tarball ----------------------------------------------------------


def tarball(pack: Pack) -> bytes:
    """The pack as a .tar.gz, byte for byte the same for the same files."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = {Path(pack.top, p).parent for p in pack.files}
        for directory in sorted({d.as_posix() for path in directories for d in (path, *path.parents)} - {"."}):
            tar.addfile(_entry(directory, tarfile.DIRTYPE, 0o755, pack.mtime))
        for path, (content, mode) in pack.files.items():
            entry = _entry(f"{pack.top}/{path}", tarfile.REGTYPE, mode, pack.mtime, len(content))
            tar.addfile(entry, io.BytesIO(content))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="") as out:
        out.write(raw.getvalue())  # mtime=0: the gzip header carries no date
    return compressed.getvalue()


def _entry(name: str, kind: bytes, mode: int, mtime: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write(pack: Pack, directory: Path) -> Path:
    """Writes <lab>-starter.tar.gz into `directory`, refusing a pack that leaks."""
    found = leaks(pack)
    if found:
        raise GraderError(
            f"the starter pack of {pack.lab.name!r} would give away the solution:\n  " + "\n  ".join(found),
            tip="keep solution code and hidden test names out of labs/, handouts/ and grader/",
        )
    target = directory / f"{pack.top}.tar.gz"
    write_public_file(target, tarball(pack))
    return target


def write_public_file(path: Path, content: bytes) -> None:
    """Written atomically, readable by everyone: dist/ is for a web server."""
    write_atomically(path, content, mode=0o644)
