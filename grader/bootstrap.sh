#!/usr/bin/env bash
# Installs what IPC Labs needs from Debian's packages, when it is missing,
# and says what it does. Run by ./grade and ./test (with --test) before
# anything else.
set -euo pipefail

packages=(
  bazel-bootstrap   # Bazel 4.2, the build
  bazel-rules-java  # @rules_java, which Bazel 4 loads even for C++
  doctest-dev       # the C++ test framework
  g++               # the compiler
  bubblewrap        # the sandbox for each test process
  util-linux        # prlimit, setpriv: limits and credentials of each compile
  python3-rich      # the grader's tables and progress
  python3-pytest    # the grader's own tests
  python3-yaml      # reading Gradescope exports (submission_metadata.yml)
  python3-seccomp   # the filter that denies ptrace inside each test sandbox
)

# Python 3.10 (Ubuntu 22.04, Gradescope's default image) has no tomllib:
# the grader reads TOML there with tomli, which tomllib was made from.
if ! /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  packages+=(python3-tomli)
fi

# Only an instructor's checkout renders write-ups (./grade handout), and it
# is the one that holds both the write-ups' sources and solutions/. A starter
# pack has no solutions/ and ships its write-up already rendered; a Gradescope
# bundle has no handouts/. Neither needs pandoc (about 170 MB).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -d "$here/solutions" && -d "$here/handouts" ]]; then
  packages+=(pandoc)
  # ./grade bench --plot (and its test), which draws the handouts' plots;
  # imported only for a plot, so a Gradescope bundle's scoreboard needs none.
  packages+=(python3-matplotlib)
fi

# --test (./test passes it): the test suite also renders the class report
# (grader/classroom/class_report.py) in a real browser, and runs its tests in parallel
# processes (pytest-xdist). Only the suite needs them: ./grade never pulls
# chromium (about 250 MB).
for flag in "$@"; do
  if [[ "$flag" == "--test" ]]; then
    packages+=(chromium python3-pytest-xdist)
    # ...and checks the repository's habits: black, flake8 and mypy for
    # Python, clang-format for C++ (grader/suite.py).
    packages+=(black flake8 mypy clang-format)
    # ...and grades a Gradescope bundle with Python 3.10 (Gradescope's image),
    # which needs tomli to give it (test_export.py skips without it).
    packages+=(python3-tomli)
  fi
done

# --list: say which packages this checkout needs, install nothing.
if [[ " $* " == *" --list "* ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]})); then
  command="apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "IPC Labs needs these Debian packages: ${missing[*]}" >&2
    echo "Install them as root, then run this again:  sudo $command" >&2
    exit 2
  fi
  echo "Installing from Debian's packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    # Package lists may be stale on a fresh machine: refresh once, retry.
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
fi

# POSIX message queues are listed in /dev/mqueue only where an mqueue file
# system is mounted; the harness's leak checks read it there. Containers
# often lack it: mount it when we can, or say how.
if ! grep -qs ' /dev/mqueue mqueue ' /proc/mounts; then
  if [[ $(id -u) -eq 0 ]]; then
    mkdir -p /dev/mqueue && mount -t mqueue mqueue /dev/mqueue ||
      echo "warning: could not mount /dev/mqueue; queue leak checks outside the sandbox will see nothing" >&2
  else
    echo "note: /dev/mqueue is not mounted; as root: mkdir -p /dev/mqueue && mount -t mqueue mqueue /dev/mqueue" >&2
  fi
fi
