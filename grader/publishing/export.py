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
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from grader.grading.lab import REPO, Lab

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
        files += [p.relative_to(REPO) for p in (REPO / tree).rglob("*") if p.is_file() and _carried(p.relative_to(REPO))]
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
