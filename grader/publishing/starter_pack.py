"""Starter packs: what a student unpacks and builds in, one lab each.

A pack is this repository cut down to one lab: the workspace files, the
harness and the grader (without its own tests), labs/<lab>/ with a lab.toml
that lists the public tests only, the write-up with its directives expanded
(Markdown and HTML) and a short README. It never holds solutions/, a hidden
test or a hidden test's name; pack_audit.secrets_in() proves that of every file,
down to the reference's own lines of code.

Unpacked, ./grade <lab> grades the student's file against the public tests:
with no solutions/ the lab has no reference (Lab.has_solution is False) and
the grader builds //labs/<lab>:public_suite instead of every test.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import tarfile
from pathlib import Path

from grader.atomic import write_atomically
from grader.grading import build as bazel_build
from grader.publishing import handout
from grader.errors import GraderError
from grader.publishing import pack_audit, public_toml
from grader.publishing.pack_files import framework_files, shipped_files
from grader.grading.lab import REPO, Lab

HARNESS = REPO / "grader" / "harness"


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
    sources = [*framework_files(), *shipped_files(lab.directory)]
    files = {path.relative_to(REPO).as_posix(): _read(path) for path in sources}
    files[f"labs/{lab.name}/lab.toml"] = (public_toml.public_lab_toml(lab).encode(), 0o644)
    markdown = handout.expand(lab)
    page = page or handout.to_html(*handout.title_and_body(lab, markdown))
    files[f"handouts/{lab.name}.md"] = (markdown.encode(), 0o644)
    files[f"handouts/{lab.name}.html"] = (page.encode(), 0o644)
    files["README.md"] = (readme(lab).encode(), 0o644)
    files.update(compiled_harness())
    newest = max(p.stat().st_mtime for p in [*sources, *HARNESS.glob("*.cpp"), handout.handout_path(lab)])
    return Pack(lab, dict(sorted(files.items())), int(newest))


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
    found = pack_audit.secrets_in(pack)
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
