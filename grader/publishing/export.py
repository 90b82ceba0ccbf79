"""Export: a lab's grader as a Gradescope autograder bundle, so a course can
grade on a platform that already scales.

The bundle (a zip whose root Gradescope unpacks into /autograder/source):

    setup.sh         run once when Gradescope builds the image: says what it
                     does on the image's system (Debian 12, Ubuntu 22.04 or
                     24.04; another is refused unless IPCLAB_ANY_OS=1), installs
                     the packages through grader/bootstrap.sh (the one list),
                     then builds the lab's reference and tests, and the sandbox's
                     launcher and inspector, into the image, and leaves
                     solutions/ readable to root alone
    run_autograder   run per submission: ./grade autograde LAB on
                     /autograder/submission, writing /autograder/results/results.json,
                     with /autograder/submission_metadata.json where there is one
    grade, WORKSPACE, BUILD, .bazelrc, third_party/, grader/ (without its
    tests), labs/LAB/, solutions/LAB/ (reference and hidden tests; not the bug corpus)

IPCLAB_AUTOGRADER_ROOT replaces /autograder, to try a bundle in a scratch root.
The zip is deterministic: sorted entries, fixed timestamps.

The same files make PrairieLearn's external grader (prairielearn_package:
an image recipe, its entrypoint and an example question) and Autolab's
package (autolab_package: autograde-Makefile and autograde.tar, for Tango).
"""

from __future__ import annotations

import html
import io
import json
import math
import stat
import tarfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.grading.lab import REPO, Lab
from grader.reports import autolab

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image:
# it has the network then, and grading has none. What it does depends on the
# image's system (/etc/os-release); `setup.sh --check` only says it.
set -euo pipefail
source_dir="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
os_release="${{IPCLAB_OS_RELEASE:-/etc/os-release}}"
ID="" VERSION_ID="" PRETTY_NAME="an unknown system"
# shellcheck source=/dev/null
[[ -r "$os_release" ]] && source "$os_release"
case "$ID $VERSION_ID" in
  "debian 12")
    plan="Debian 12: Debian's packages (Bazel 4.2, Python 3.11), as on the course machines" ;;
  "ubuntu 22.04")
    plan="Ubuntu 22.04, Gradescope's default image: Ubuntu's packages (Bazel 3.5, rich 11.2; Python 3.10, which reads TOML with python3-tomli)" ;;
  "ubuntu 24.04")
    plan="Ubuntu 24.04: Ubuntu's packages (Python 3.12)" ;;
  *)
    if [[ "${{IPCLAB_ANY_OS:-}}" != 1 ]]; then
      echo "setup.sh: $PRETTY_NAME is not a system this autograder is made for (Debian 12, Ubuntu 22.04 or Ubuntu 24.04)." >&2
      echo "Choose one of those as the base image in the assignment's autograder settings, or set IPCLAB_ANY_OS=1 at the top of setup.sh to try the same apt packages (best effort)." >&2
      exit 1
    fi
    plan="$PRETTY_NAME, best effort (IPCLAB_ANY_OS=1): the same apt packages as on Debian and Ubuntu" ;;
esac
echo "setup.sh: $plan; then the lab's reference, tests and the sandbox's tools are built into the image."
[[ "${{1:-}}" == "--check" ]] && exit 0
# The packages IPC Labs needs: the one list is in grader/bootstrap.sh.
"$source_dir/grader/bootstrap.sh"
# WORKSPACE takes @rules_java from the bazel-rules-java package.
if [[ ! -f /usr/share/bazel/rules/java/WORKSPACE ]]; then
  echo "setup.sh: bazel-rules-java installed no /usr/share/bazel/rules/java/WORKSPACE, where WORKSPACE looks for @rules_java." >&2
  echo "Look for it with: dpkg -L bazel-rules-java | grep WORKSPACE, and change the path in WORKSPACE to match." >&2
  exit 1
fi
echo "setup.sh: building with $(bazel --version 2>/dev/null || echo 'bazel (version unknown)')"
# Built into the image, the reference, the tests and the sandbox's launcher
# and inspector are not rebuilt per submission: grading then compiles only
# the student's file.
cd "$source_dir"
bazel build --color=no --curses=no //solutions/{lab}:reference_tests //solutions/{lab}:tests //grader/inspector:all
# The hidden tests' sources and the reference, for root alone: where the
# container lets bubblewrap create no namespace, a test (run as another
# uid) sees the image's files, and must not read these. Grading runs as root.
chmod -R go-rwx "$source_dir/solutions"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: it grades the files in
# $root/submission and writes $root/results/results.json. Gradescope's
# submission_metadata.json, where there is one, applies the lab's late
# penalty and submission limit (lab.toml [submissions]).
set -euo pipefail
root="${{IPCLAB_AUTOGRADER_ROOT:-/autograder}}"
mkdir -p "$root/results"
cd "$root/source"
metadata=()
[[ -f "$root/submission_metadata.json" ]] && metadata=(--metadata "$root/submission_metadata.json")
exec ./grade autograde {lab} "$root/submission" --format gradescope --output "$root/results/results.json" "${{metadata[@]}}"
"""

# Fixed timestamps: the same lab gives the same bundle, byte for byte.
EPOCH = (1980, 1, 1, 0, 0, 0)


def bundle_files(lab: Lab) -> list[Path]:
    """The repository files the bundle carries, relative to the repository."""
    files = [Path(name) for name in ("WORKSPACE", "BUILD", ".bazelrc", "grade")]
    for tree in ("third_party", "grader", f"labs/{lab.name}", f"solutions/{lab.name}"):
        files += [
            p.relative_to(REPO) for p in (REPO / tree).rglob("*") if p.is_file() and _carried(p.relative_to(REPO))
        ]
    return sorted(files)


def _carried(relative: Path) -> bool:
    parts = relative.parts
    if "__pycache__" in parts or relative.suffix == ".pyc":
        return False
    if parts[:2] == ("grader", "tests"):
        return False  # the grader's own tests
    return not (parts[0] == "solutions" and "bugs" in parts)  # the bug corpus is for instructors


def gradescope_bundle(lab: Lab, output: Path) -> int:
    """Writes the bundle; returns how many files it holds."""
    files = bundle_files(lab)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.partial")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        _add(bundle, "setup.sh", SETUP.format(lab=lab.name).encode(), executable=True)
        _add(bundle, "run_autograder", RUN_AUTOGRADER.format(lab=lab.name).encode(), executable=True)
        for relative in files:
            mode = (REPO / relative).stat().st_mode
            _add(bundle, relative.as_posix(), (REPO / relative).read_bytes(), executable=bool(mode & stat.S_IXUSR))
    temporary.replace(output)
    return len(files) + 2


def _add(bundle: zipfile.ZipFile, name: str, data: bytes, executable: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, data)


# ---- PrairieLearn --------------------------------------------------------

# PrairieLearn's documented limits on externalGradingOptions.timeout: 30 s
# when unset, at most 600 s.
PRAIRIELEARN_DEFAULT_TIMEOUT = 30
PRAIRIELEARN_MAX_TIMEOUT = 600
# Compiling the student's file and linking it (the reference is in the image).
BUILD_ALLOWANCE = 120
# Tests run at once in the grading container (autograde runs one per core);
# PrairieLearn's graders give a job about this many.
GRADER_CORES = 2
ENTRYPOINT = "prairielearn-entrypoint"
IMAGE_SOURCE = "/ipclab"

DOCKERFILE = """\
# PrairieLearn's external grader for the IPC Labs lab {lab}
# (./grade export prairielearn {lab}). Grading runs without a network:
# everything is installed from Debian's packages and built here.
FROM debian:12-slim
COPY ipclab {source}
# The Debian packages IPC Labs needs: the one list is in grader/bootstrap.sh.
RUN apt-get update -q \\
    && {source}/grader/bootstrap.sh \\
    && rm -rf /var/lib/apt/lists/*
# The reference, the tests and the sandbox's launcher and inspector, built
# into the image: grading then compiles and links only the student's file.
WORKDIR {source}
RUN bazel build --color=no --curses=no //solutions/{lab}:reference_tests //solutions/{lab}:tests //grader/inspector:all \\
    && bazel shutdown
"""

PRAIRIELEARN_ENTRYPOINT = """\
#!/usr/bin/env bash
# PrairieLearn runs this for every submission: it grades the student's files
# in $root/student (or those $root/data/data.json carries) and writes
# $root/results/results.json. IPCLAB_GRADE_ROOT replaces /grade.
set -euo pipefail
source_dir="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
cd "$source_dir"
"$source_dir/grader/bootstrap.sh"
PYTHONPATH="$source_dir" exec /usr/bin/python3 -m grader.publishing.prairielearn {lab}
"""

QUESTION_HTML = """\
<pl-question-panel>
  <p>{title}: submit {files}.</p>
  <pl-file-upload file-names="{files}"></pl-file-upload>
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""


def prairielearn_timeout(lab: Lab, cores: int = GRADER_CORES) -> int:
    """Seconds for externalGradingOptions.timeout: the build, then every
    test running to its own timeout, `cores` at a time, so that even a
    submission that hangs in every test gets its results file; never above
    PrairieLearn's maximum."""
    tests = math.ceil(sum(lab.timeout_of(t) for t in lab.tests) / cores)
    return min(PRAIRIELEARN_MAX_TIMEOUT, BUILD_ALLOWANCE + tests)


def prairielearn_info(lab: Lab, image: str) -> dict:
    """An example question's info.json (PrairieLearn's infoQuestion schema)."""
    return {
        # The same lab gives the same question id on every export.
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ipclabs:{lab.name}")),
        "title": f"{lab.name}: {lab.title}",
        "topic": "Inter-process communication",
        "tags": ["ipc", lab.name],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "image": image,
            "entrypoint": f"{IMAGE_SOURCE}/{ENTRYPOINT}",
            "timeout": prairielearn_timeout(lab),
        },
    }


@dataclass(frozen=True)
class Package:
    directory: Path
    files: int  # files of the grader carried
    notes: tuple[str, ...] = ()  # what the instructor should know


def prairielearn_package(lab: Lab, output: Path, image: str) -> Package:
    """Writes output/Dockerfile, output/ipclab/ (the grader, with its
    entrypoint) and output/question/ (info.json, question.html)."""
    source = output / "ipclab"
    files = _copy_tree(lab, source)
    _write(source / ENTRYPOINT, PRAIRIELEARN_ENTRYPOINT.format(lab=lab.name), executable=True)
    _write(output / "Dockerfile", DOCKERFILE.format(lab=lab.name, source=IMAGE_SOURCE))
    info = prairielearn_info(lab, image)
    _write(output / "question" / "info.json", json.dumps(info, indent=2) + "\n")
    files_attribute = html.escape(
        ", ".join(name.replace(",", "\\,") for name in lab.student_files)
    )  # pl-file-upload's CSV list
    _write(
        output / "question" / "question.html", QUESTION_HTML.format(title=html.escape(lab.title), files=files_attribute)
    )
    worst = BUILD_ALLOWANCE + math.ceil(sum(lab.timeout_of(t) for t in lab.tests) / GRADER_CORES)
    notes: tuple[str, ...] = ()
    if worst > PRAIRIELEARN_MAX_TIMEOUT:
        notes = (
            f"a submission that hangs in every test needs about {worst} s, more than PrairieLearn's "
            f"{PRAIRIELEARN_MAX_TIMEOUT} s maximum: such a job times out without results",
        )
    return Package(output, files + 1, notes)


def _copy_tree(lab: Lab, target: Path) -> int:
    files = bundle_files(lab)
    for relative in files:
        mode = (REPO / relative).stat().st_mode
        _write_bytes(target / relative, (REPO / relative).read_bytes(), executable=bool(mode & stat.S_IXUSR))
    return len(files)


def _write(path: Path, text: str, executable: bool = False) -> None:
    _write_bytes(path, text.encode(), executable)


def _write_bytes(path: Path, data: bytes, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o755 if executable else 0o644)


# ---- Autolab -------------------------------------------------------------

AUTOLAB_SOURCE = "ipclab"
# Tango copies this in as "Makefile", beside autograde.tar and the handin,
# and runs make as its unprivileged user (autodriver); what make prints is
# the feedback, and Autolab reads the autoresult from its last line.
AUTOGRADE_MAKEFILE = """\
# Autolab autograder for the IPC Labs lab {lab} (./grade export autolab {lab}).
# Tango runs `make` in the job's directory, which holds this Makefile,
# autograde.tar and the student's handin; the last line printed is the
# autoresult ({{"scores": {{...}}}}).
autograde:
\t@rm -rf {source} submission && mkdir submission
\t@tar xf autograde.tar
\t@for f in *; do case "$$f" in Makefile|autograde-Makefile|autograde.tar|{source}|submission) ;; *) cp -R "$$f" submission/ ;; esac; done
\t@cd {source} && ./grade autograde {lab} ../submission --format autolab

.PHONY: autograde
"""


def autolab_package(lab: Lab, output: Path) -> Package:
    """Writes output/autograde-Makefile and output/autograde.tar (the
    grader under ipclab/); deterministic, like the Gradescope bundle."""
    files = bundle_files(lab)
    _write(output / "autograde-Makefile", AUTOGRADE_MAKEFILE.format(lab=lab.name, source=AUTOLAB_SOURCE))
    temporary = output / ".autograde.tar.partial"
    with tarfile.open(temporary, "w", format=tarfile.PAX_FORMAT) as archive:
        for relative in files:
            mode = (REPO / relative).stat().st_mode
            _add_to_tar(
                archive,
                f"{AUTOLAB_SOURCE}/{relative.as_posix()}",
                (REPO / relative).read_bytes(),
                executable=bool(mode & stat.S_IXUSR),
            )
    temporary.replace(output / "autograde.tar")
    problems = ", ".join(f"{name} ({points:g})" for name, points in autolab.autolab_problems(lab).items())
    return Package(output, len(files), (f"create these problems in the assessment, in this order: {problems}",))


def _add_to_tar(archive: tarfile.TarFile, name: str, data: bytes, executable: bool) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o755 if executable else 0o644
    info.mtime = 315532800  # 1980-01-01, as the zip's timestamps
    info.uname = info.gname = ""
    archive.addfile(info, io.BytesIO(data))
