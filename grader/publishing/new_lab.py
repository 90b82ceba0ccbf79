"""./grade new-lab NAME: a new lab that builds from its first minute.

It writes every file a lab has, around one example function (round_trip,
a message sent through a pipe and read back), and appends NAME to the
course's order in labs/course.toml:

    labs/NAME/BUILD                 lab_public(name = "NAME")
    labs/NAME/NAME_lab.h            the contract: the example function and its comment
    labs/NAME/NAME_lab.cpp          the skeleton: it throws "not implemented"
    labs/NAME/NAME_test_support.h   what the public and hidden tests share
    labs/NAME/public_test.cpp       one public test of the example
    labs/NAME/lab.toml              title, student file, limits, each test's points
    solutions/NAME/BUILD            lab_solution(name = "NAME")
    solutions/NAME/NAME_lab.cpp     the reference of the example
    solutions/NAME/hidden_test.cpp  one hidden test of the example
    solutions/NAME/bugs/README.md   the bug corpus, still to write
    handouts/NAME.md                every section of a write-up, with placeholders

So the skeleton grades 0 and the reference full marks at once, and
`./grade selfcheck NAME` fails only what is still to write: the bug corpus
and the write-up's placeholders.

The templates are strings here rather than files beside this module: one
file shows the whole scaffold, and starter packs, which ship the grader,
leave this one file out (it holds a reference and a hidden test's name).
They are string.Template text, whose fields ($name, $title, ...) are
filled in by scaffold_files: C++, TOML and these write-ups never use `$`.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from grader.atomic import write_atomically
from grader import toml
from grader.publishing import handout
from grader.errors import GraderError
from grader.grading.lab import CATEGORIES, REPO, _course_order
from grader.checks.selfcheck import MIN_BUGS

# What a lab's name becomes: directories, file names (NAME_lab.h), a Bazel
# package and a C++ namespace (NAMElab).
_NAME = re.compile(r"[a-z][a-z0-9_]*")
# C++20's keywords and alternative tokens are not identifiers.
_CPP_KEYWORDS = frozenset(
    """alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
    compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype default
    delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline int long
    mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
    reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch template this
    thread_local throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t while xor
    xor_eq""".split()
)
DEFAULT_TITLE = f"{handout.PLACEHOLDER} the lab's title"
COURSE = Path("labs/course.toml")
_ORDER = re.compile(r"^order\s*=\s*\[[^\]]*\]", re.MULTILINE)


# ---- the templates ----------------------------------------------------------

BUILD = """\
load("//grader/bazel:lab.bzl", "lab_public")

lab_public(name = "$name")
"""

HEADER = """\
#pragma once
// Lab `$name` — $title
//
// Implement the functions declared below in ${name}_lab.cpp. This header is
// the contract the tests use: each function's comment says exactly what it
// must do, and every test checks one of its sentences. Do not change it.

#include <string>
#include <string_view>

namespace ${name}lab {

// ---- EXAMPLE, scaffolded by ./grade new-lab: replace it --------------------
// A function in the shape every function here takes: what it does, what it
// leaves behind (the grader reports each descriptor, child and IPC object a
// test leaves) and what it throws. Replace it with the lab's own functions
// here, in ${name}_lab.cpp, in solutions/$name/${name}_lab.cpp, in the tests
// and in lab.toml.

// Sends `message` through a new unnamed pipe and returns what comes out of
// its read end: writes every byte, closes the write end, then reads until
// end-of-file. Both ends are closed when it returns, whatever happens.
// `message` is at most PIPE_BUF (4096) bytes, so it fits in the pipe: the one
// process writes all of it before it reads.
// Throws std::system_error carrying errno when pipe, write or read fails.
std::string round_trip(std::string_view message);

}  // namespace ${name}lab
"""

SKELETON = """\
// Lab `$name`: your implementation. Read ${name}_lab.h first: it says exactly
// what each function must do. Replace each `throw` below with your code.
//
// Check your work with:   ./grade $name

#include "labs/$name/${name}_lab.h"

#include <stdexcept>

namespace ${name}lab {

// EXAMPLE: the skeleton of the example function; replace it with the lab's own.
std::string round_trip(std::string_view /*message*/) {
  // TODO: pipe(); write every byte; close the write end; read until read()
  // returns 0; close the read end. Headers: <unistd.h>, <cerrno>,
  // <system_error>.
  throw std::logic_error("not implemented: round_trip (${name}_lab.cpp)");
}

}  // namespace ${name}lab
"""

TEST_SUPPORT = """\
#pragma once
// What the $name lab's tests share, the public ones and the hidden ones in
// solutions/$name/: helpers that run the code under test, payloads, fixtures.
// Students get this file with the public tests.
#include "grader/harness/checks.h"
#include "grader/harness/deadline.h"
#include "labs/$name/${name}_lab.h"

namespace ${name}lab::testing {

// The harness's deadline (grader/harness/deadline.h): reaching it means a
// hang, usually an end left open.
using ipclab::kDeadline;

}  // namespace ${name}lab::testing
"""

PUBLIC_TEST = """\
// Lab `$name`: the public tests. Each test case is one graded behaviour; its
// points, category and hint are in lab.toml, under the same name. Run them
// with `./grade $name`.
#include <doctest/doctest.h>

#include <string>

#include "grader/harness/child.h"
#include "labs/$name/${name}_lab.h"
#include "labs/$name/${name}_test_support.h"

using ipclab::Outcome;
using ${name}lab::testing::kDeadline;

TEST_SUITE("$name") {

// EXAMPLE: a test of the example function; replace it with the lab's own.
// The code under test runs in a child with a deadline (grader/harness/child.h),
// so a hang or a crash costs this test alone, and what it leaves behind is
// reported.
TEST_CASE("round_trip returns a short message unchanged") {
  const std::string message = "hello, $name";
  Outcome got = ipclab::run_in_child([&] { return ${name}lab::round_trip(message); }, kDeadline);
  REQUIRE_RETURNED(got);
  CHECK(got.value == message);
}

}  // TEST_SUITE
"""

LAB_TOML = """\
# Lab `$name`: $title
# Every test case of the lab has exactly one entry here, with its points; the
# grader refuses a lab whose entries and test cases disagree.

[lab]
title = $title_toml
student_files = ["${name}_lab.cpp"]
timeout = 30  # seconds per test case; the tests' own deadlines are 10 s

# Each test process's limits; the defaults are grader/grading/sandbox.py's DEFAULT_LIMITS.
[limits]
processes = 64

# ---- EXAMPLE: the example function's tests; replace them with the lab's own ----

[[tests]]
name = "round_trip returns a short message unchanged"
points = 5
category = "ordering"  # ordering boundaries eof blocking nonblocking cleanup errors stress
hint = "Write every byte, then close the write end before reading: read() returns 0 (end-of-file) only once no write end is open, so a reader still holding one waits forever."

# ---- Hidden tests (graded; their sources are in solutions/$name/, never in the starter pack)

[[tests]]
name = "round_trip carries a message of exactly PIPE_BUF bytes"
points = 5
category = "boundaries"
hidden = true
depends = ["round_trip returns a short message unchanged"]
hint = "One read() may return fewer bytes than you asked for: append what each call returns until read() returns 0."

# ---- What a submission leaves behind ----------------------------------------
# Every test reports, by name, the descriptors, children, zombies and IPC
# objects it left; each kind found costs this many points, up to the maximum.
[leaks]
deduction = 2
max_deduction = 6
"""

SOLUTION_BUILD = """\
load("//grader/bazel:lab.bzl", "lab_solution")

lab_solution(name = "$name")
"""

REFERENCE = """\
// Lab `$name`: the reference implementation.
#include "labs/$name/${name}_lab.h"

#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace ${name}lab {
namespace {

[[noreturn]] void throw_errno(const char* call) {
  throw std::system_error(errno, std::generic_category(), call);
}

// Owns one descriptor: every path out of a function closes it.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }
  int get() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_;
};

}  // namespace

// EXAMPLE: the reference of the example function; replace it with the lab's own.
std::string round_trip(std::string_view message) {
  int ends[2];
  if (::pipe(ends) != 0) throw_errno("pipe");
  Fd read_end(ends[0]);
  Fd write_end(ends[1]);
  for (std::size_t written = 0; written < message.size();) {
    const ssize_t n = ::write(write_end.get(), message.data() + written, message.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("write");
    written += static_cast<std::size_t>(n);
  }
  write_end.close();  // else the read below never sees end-of-file
  std::string received;
  char buffer[1024];
  for (;;) {
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read");
    if (n == 0) return received;
    received.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace ${name}lab
"""

HIDDEN_TEST = """\
// Lab `$name`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <limits.h>

#include <string>

#include "grader/harness/child.h"
#include "grader/harness/payload.h"
#include "labs/$name/${name}_lab.h"
#include "labs/$name/${name}_test_support.h"

using ipclab::Outcome;
using ${name}lab::testing::kDeadline;

TEST_SUITE("$name (hidden)") {

// EXAMPLE: a hidden test of the example function; replace it with the lab's
// own. A payload in which no block repeats another shows a lost or reordered
// byte, and first_difference says where.
TEST_CASE("round_trip carries a message of exactly PIPE_BUF bytes") {
  const std::string message = ipclab::pattern(PIPE_BUF, /*seed=*/7);
  Outcome got = ipclab::run_in_child([&] { return ${name}lab::round_trip(message); }, kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(got.value == message, ipclab::first_difference(message, got.value));
}

}  // TEST_SUITE
"""

BUGS_README = """\
# The bug corpus of lab `$name`: still to write

Each bug is a realistic mistake, written as a file `BUG.toml` here: exact
edits of the reference (solutions/$name/${name}_lab.cpp) and the tests
it must fail (the format is in grader/checks/corpus.py, examples in
solutions/pipe/bugs/). `./grade selfcheck $name` wants at least $min_bugs, each
failing exactly its tests; `./grade corpus $name` grades them alone.
"""

HANDOUT = """\
# Lab `$name` — $title

## Goals

$to_write one paragraph, "By the end of this lab you can …": what a
student can do afterwards, in the lecture's words (handouts/pipe.md is a model).

## Background

$to_write the mechanism, and the two or three facts from the lecture that
the whole lab rests on, each with the call that shows it.

## What you build

Everything is declared in `labs/$name/${name}_lab.h`, which is the contract the
tests use; you write `labs/$name/${name}_lab.cpp`.

$to_write one paragraph for each part of the header, each followed by
that part, taken from the header itself like the example below (never copied
by hand, so it cannot drift):

::: include labs/$name/${name}_lab.h from="// Sends" to="}  // namespace ${name}lab"

The skeleton compiles as it is; each function throws "not implemented" until
you write it.

## What is graded

::: tests

$graded
## Check your work

```sh
./grade $name
```

builds your file and runs each test alone, in its own sandbox, with a
deadline. A failing test shows the check that failed, with the values, and a
hint; a test that depends on one you have not passed yet is skipped and says
so. The hidden tests run only when your work is graded.

## What to submit

Only `${name}_lab.cpp`. The header and the tests are the lab's: changes to them
are ignored when your work is graded.
"""

# One per category the lab's tests use, under "What is graded".
CATEGORY_SECTION = """\
### $heading

$to_write what the tests of this category send and check, and why it
matters for this mechanism.
"""


# ---- the scaffold -----------------------------------------------------------


@dataclass(frozen=True)
class Scaffold:
    name: str
    files: dict[Path, str]  # path in the repository -> content
    course: str  # labs/course.toml with the lab appended to its order


def check_name(name: str) -> None:
    """Refuses a name that cannot be a lab's: it must be a lowercase C++ identifier."""
    expected = "lowercase letters, digits and _, starting with a letter (such as shm_ring)"
    if not _NAME.fullmatch(name):
        raise GraderError(
            f"{name!r} is not a lowercase C++ identifier, so it cannot name a lab: it becomes the lab's "
            f"directories, its files ({name}_lab.h) and its C++ namespace",
            tip=f"a lab's name is {expected}",
        )
    if "__" in name:
        raise GraderError(
            f"{name!r} holds a double underscore, which C++ reserves for the implementation",
            tip=f"a lab's name is {expected}, with no __",
        )
    if name in _CPP_KEYWORDS:
        raise GraderError(
            f"{name!r} is a C++ keyword, not an identifier, so it cannot name a lab",
            tip=f"a lab's name is {expected}, and not a keyword",
        )


def check_title(title: str) -> None:
    example = '--title "Message queues: a mailbox with priorities"'
    if not title.strip() or any(ord(c) < 32 or ord(c) == 127 for c in title):
        raise GraderError(f"the title {title!r} must be one line of text", tip=example)
    if title.endswith("\\"):
        # It ends a // comment in the header, and would carry the comment on to the next line.
        raise GraderError(f"the title {title!r} may not end with a backslash", tip=example)


def plan(repo: Path, name: str, title: str) -> Scaffold:
    """Every file of the new lab, in memory; refuses what it may not write."""
    check_name(name)
    check_title(title)
    course = repo / COURSE
    if not course.exists():
        raise GraderError(
            f"{COURSE} is missing: a new lab is added to the course's order there",
            tip="run ./grade new-lab in the course repository (a starter pack has no new labs)",
        )
    order = _course_order(course)
    homes = (Path("labs") / name, Path("solutions") / name, Path("handouts") / f"{name}.md")  # of every file written
    taken = [home for home in homes if (repo / home).exists()]
    if taken or name in order:
        where = ", ".join(str(p) for p in taken) or f"{COURSE}'s order"
        raise GraderError(
            f"a lab named {name!r} exists already: {where}",
            tip="choose another name, or remove the old lab's files first",
        )
    return Scaffold(name, scaffold_files(name, title), appended_to_order(course.read_text(), order, name))


def scaffold_files(name: str, title: str) -> dict[Path, str]:
    fields = {
        "name": name,
        "title": title,
        "title_toml": json.dumps(title, ensure_ascii=False),  # a JSON string is a TOML basic string
        "to_write": handout.PLACEHOLDER,
        "min_bugs": str(MIN_BUGS),
    }
    lab_toml = Template(LAB_TOML).substitute(fields)
    graded = "\n".join(Template(CATEGORY_SECTION).substitute(fields, heading=h) for h in _headings_used(lab_toml))
    lab, solution = Path("labs") / name, Path("solutions") / name
    templates = {
        lab / "BUILD": BUILD,
        lab / f"{name}_lab.h": HEADER,
        lab / f"{name}_lab.cpp": SKELETON,
        lab / f"{name}_test_support.h": TEST_SUPPORT,
        lab / "public_test.cpp": PUBLIC_TEST,
        solution / "BUILD": SOLUTION_BUILD,
        solution / f"{name}_lab.cpp": REFERENCE,
        solution / "hidden_test.cpp": HIDDEN_TEST,
        solution / "bugs" / "README.md": BUGS_README,
        Path("handouts") / f"{name}.md": HANDOUT,
    }
    files = {path: Template(text).substitute(fields, graded=graded) for path, text in templates.items()}
    files[lab / "lab.toml"] = lab_toml
    return dict(sorted(files.items()))


def _headings_used(lab_toml: str) -> list[str]:
    """The "What is graded" headings of the categories lab.toml's tests use, in the write-ups' order."""
    used = {test["category"] for test in toml.loads(lab_toml)["tests"]}
    return [heading for category, heading in CATEGORIES.items() if category in used]


def appended_to_order(text: str, order: list[str], name: str) -> str:
    """course.toml's text with `name` last in its order; its comments kept."""
    found = list(_ORDER.finditer(text))
    if len(found) != 1:
        raise GraderError(
            f"{COURSE}: cannot find the one `order = [...]` line to add the lab to",
            tip=f'write it as  order = ["pipe", "fifo"]  and run ./grade new-lab {name} again',
        )
    start, end = found[0].span()
    appended = text[:start] + f"order = {json.dumps([*order, name])}" + text[end:]
    if toml.loads(appended).get("order") != [*order, name]:
        raise GraderError(
            f"{COURSE}: the `order = [...]` line found is not the one TOML reads",
            tip='write the order on one line, such as  order = ["pipe", "fifo"]',
        )
    return appended


def write(repo: Path, scaffold: Scaffold) -> None:
    """Writes the new files, then the course's order. The files are new, so
    a failure part-way removes what was written and leaves the tree as it was."""
    parents = {repo / p for path in scaffold.files for p in path.parents if p != Path(".")}
    made = sorted((d for d in parents if not d.exists()), key=lambda d: len(d.parts))
    written: list[Path] = []
    try:
        for directory in made:
            directory.mkdir()
        for relative, content in scaffold.files.items():
            with (repo / relative).open("x") as out:  # "x": never over a file that appeared since plan()
                written.append(repo / relative)
                out.write(content)
        _replace(repo / COURSE, scaffold.course)
    except OSError as e:
        for path in written:
            path.unlink()
        for directory in reversed(made):
            if directory.exists():
                directory.rmdir()
        raise GraderError(
            f"could not write lab {scaffold.name!r}: {e}; nothing of it is left",
            tip="fix the cause and run the same command again",
        )


def _replace(path: Path, content: str) -> None:
    write_atomically(path, content, mode=path.stat().st_mode & 0o777)


def next_steps(name: str) -> str:
    commands = [
        (f"./grade {name}", "the skeleton: 0 points"),
        (f"./grade {name} --submission solutions/{name}", "the reference: full marks"),
        (f"./grade selfcheck {name}", "fails only the bug corpus and the write-up, still to write"),
    ]
    width = max(len(command) for command, _ in commands)
    lines = ["Next:", *(f"  {command.ljust(width)}   {what}" for command, what in commands)]
    lines += [
        f"Then replace the EXAMPLE (round_trip) in labs/{name}/ and solutions/{name}/ with the lab's own",
        f"functions and tests, write at least {MIN_BUGS} bugs in solutions/{name}/bugs/, and the text of",
        f"each {handout.PLACEHOLDER!r} in handouts/{name}.md, until ./grade selfcheck {name} passes.",
    ]
    return "\n".join(lines)


def main(argv: list[str], repo: Path = REPO) -> int:
    parser = argparse.ArgumentParser(
        prog="./grade new-lab",
        description="Scaffold a new lab around one example function: it builds, its skeleton grades 0, its "
        "reference full marks, and ./grade selfcheck fails only what is still to write.",
    )
    parser.add_argument("name", help="the lab's name: a lowercase C++ identifier, such as shm_ring")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="the lab's title, one line (default: a placeholder)")
    args = parser.parse_args(argv)
    scaffold = plan(repo, args.name, args.title)
    write(repo, scaffold)
    print(f"lab {scaffold.name!r} scaffolded:")
    for path in scaffold.files:
        print(f"  {path}")
    print(f"  {COURSE} ({scaffold.name} appended to order)")
    print(next_steps(scaffold.name))
    return 0
