"""Handouts: a lab's write-up, handouts/<lab>.md, checked against the rules
in handouts/README.md, its directives expanded, and rendered to one
standalone HTML page with pandoc.

Two directives, each on a line of its own (never inside a code block):

    ::: include PATH from="TEXT" to="TEXT"   the lines of labs/<lab>/PATH's file
                                             from the line holding TEXT up to,
                                             not including, the line holding TEXT
    ::: tests                                the table of graded tests

Code in a write-up is always taken from the lab's own files this way, so it
cannot drift from what students are given; hidden tests appear only as a
count and their points, never by name.

A line holding PLACEHOLDER is text still to write (./grade new-lab writes
them). A write-up with one is a draft: it expands and renders, so selfcheck
can check the starter pack built from it, but it is not fit to publish.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.grading.lab import CATEGORIES, REPO, Lab

HANDOUTS = REPO / "handouts"
STYLE = Path(__file__).with_name("handout.css")

# Level-2 headings every write-up has, in this order.
SECTIONS = ("Goals", "Background", "What you build", "What is graded", "Check your work", "What to submit")
GRADED_SECTION = "What is graded"
# Marks text still to write; what follows it on the line says what to write.
PLACEHOLDER = "TO WRITE:"
_DIRECTIVE = re.compile(r"^:::\s*(\S+)(.*)$")
_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, for messages
    text: str
    in_code: bool  # inside a fenced code block: never a heading or a directive


def handout_path(lab: Lab) -> Path:
    return HANDOUTS / f"{lab.name}.md"


def read_lines(path: Path) -> list[Line]:
    lines, fence = [], None
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        opener = _FENCE.match(text)
        if fence is None and opener:
            lines.append(Line(number, text, True))
            fence = opener.group(1)
        else:
            lines.append(Line(number, text, fence is not None))
            if fence is not None and text.startswith(fence):
                fence = None
    return lines


# ---- checking -------------------------------------------------------------


def problems(lab: Lab, path: Path | None = None, *, drafts: bool = False) -> list[str]:
    """Everything that keeps the write-up (handouts/<lab>.md unless `path` is
    given) from following handouts/README.md; with `drafts`, all but its
    placeholders (text still to write)."""
    path = path or handout_path(lab)
    if not path.exists():
        return [f"handouts/{lab.name}.md does not exist (the format is in handouts/README.md)"]
    lines = read_lines(path)
    found = _section_problems(lines) + _category_problems(lab, lines)
    if not drafts:
        found += _placeholder_problems(lab, lines)
    matches = [(line, _DIRECTIVE.match(line.text)) for line in lines if not line.in_code]
    directives = [(line, match) for line, match in matches if match is not None]
    tests_lines = [line.number for line, match in directives if match.group(1) == "tests"]
    if len(tests_lines) != 1:
        found.append(f"`::: tests` must appear exactly once (under ## {GRADED_SECTION}); found {len(tests_lines)}")
    for line, match in directives:
        try:
            _expand_directive(lab, line, match)
        except GraderError as e:
            found.append(e.message)
    for name in lab.student_files:
        if name not in _section_text(lines, "What to submit"):
            found.append(f"## What to submit does not name the student file {name}")
    return found


def _placeholder_problems(lab: Lab, lines: list[Line]) -> list[str]:
    numbers = [line.number for line in lines for _ in range(line.text.count(PLACEHOLDER))]
    if not numbers:
        return []
    count = f"{len(numbers)} placeholder{'s' if len(numbers) != 1 else ''}"
    distinct = sorted(set(numbers))
    where = f"line{'s' if len(distinct) != 1 else ''} {', '.join(str(n) for n in distinct)}"
    return [
        f"{count} still to write in handouts/{lab.name}.md ({where}): "
        f"replace each {PLACEHOLDER!r} with the text it asks for"
    ]


def _headings(lines: list[Line], level: int) -> list[tuple[int, str]]:
    found = []
    for line in lines:
        match = _HEADING.match(line.text)
        if match and not line.in_code and len(match.group(1)) == level:
            found.append((line.number, match.group(2)))
    return found


def _section_problems(lines: list[Line]) -> list[str]:
    sections = [title for _, title in _headings(lines, 2)]
    missing = [s for s in SECTIONS if s not in sections]
    if missing:
        return [f"missing section(s): {', '.join('## ' + s for s in missing)}"]
    duplicated = [s for s in SECTIONS if sections.count(s) > 1]
    if duplicated:
        return [f"section(s) appearing twice: {', '.join('## ' + s for s in duplicated)}"]
    order = [s for s in sections if s in SECTIONS]
    if order != list(SECTIONS):
        return [f"sections out of order: {' / '.join(order)}; the order is {' / '.join(SECTIONS)}"]
    return []


def _section_lines(lines: list[Line], title: str) -> list[Line]:
    inside, kept = False, []
    for line in lines:
        match = _HEADING.match(line.text)
        if match and not line.in_code and len(match.group(1)) <= 2:
            inside = len(match.group(1)) == 2 and match.group(2) == title
            continue
        if inside:
            kept.append(line)
    return kept


def _section_text(lines: list[Line], title: str) -> str:
    return "\n".join(line.text for line in _section_lines(lines, title))


def _category_problems(lab: Lab, lines: list[Line]) -> list[str]:
    under_graded = [title for _, title in _headings(_section_lines(lines, GRADED_SECTION), 3)]
    used = {t.category for t in lab.tests}
    found = []
    for category, heading in CATEGORIES.items():
        count = under_graded.count(heading)
        if category in used and count != 1:
            tests = sum(t.category == category for t in lab.tests)
            found.append(
                f"## {GRADED_SECTION} needs exactly one `### {heading}` ({tests} test(s) of category "
                f"{category!r}); found {count}"
            )
        if category not in used and count:
            found.append(f"`### {heading}` explains category {category!r}, which no test of the lab uses")
    return found


# ---- expanding ------------------------------------------------------------


def expand(lab: Lab, path: Path | None = None) -> str:
    """The write-up as Markdown with every directive replaced; refuses a
    write-up that does not follow the rules. Placeholders stay as they are:
    render refuses them, unless asked for a draft."""
    path = path or handout_path(lab)
    found = problems(lab, path, drafts=True)
    if found:
        raise GraderError(
            f"handouts/{lab.name}.md does not follow handouts/README.md:\n  " + "\n  ".join(found),
            tip="./grade selfcheck checks every lab's write-up",
        )
    out = []
    for line in read_lines(path):
        match = None if line.in_code else _DIRECTIVE.match(line.text)
        out.append(_expand_directive(lab, line, match) if match else line.text)
    return "\n".join(out) + "\n"


def _expand_directive(lab: Lab, line: Line, match: re.Match[str]) -> str:
    where = f"handouts/{lab.name}.md:{line.number}"
    kind, rest = match.group(1), match.group(2)
    if kind == "tests" and not rest.strip():
        return tests_table(lab)
    if kind == "include":
        return _include(lab, where, rest)
    raise GraderError(
        f"{where}: unknown directive {line.text.strip()!r} (the directives are `::: include` and `::: tests`)"
    )


def _include(lab: Lab, where: str, arguments: str) -> str:
    try:
        words = shlex.split(arguments)
    except ValueError as e:
        raise GraderError(f"{where}: cannot read the include's arguments: {e}") from e
    options = dict(word.split("=", 1) for word in words[1:] if "=" in word)
    if len(words) != 3 or set(options) != {"from", "to"}:
        raise GraderError(f'{where}: write the include as  ::: include PATH from="TEXT" to="TEXT"')
    relative = words[0]
    source = (REPO / relative).resolve()
    if not source.is_relative_to(lab.directory) or not source.is_file():
        raise GraderError(
            f"{where}: {relative} is not a file of labs/{lab.name}/ (a handout shows only what students get)"
        )
    text = source.read_text().splitlines()
    start = _the_line(text, options["from"], where, relative)
    stop = _the_line(text, options["to"], where, relative)
    if stop <= start:
        raise GraderError(f"{where}: in {relative}, to={options['to']!r} comes before from={options['from']!r}")
    snippet = "\n".join(text[start:stop]).strip("\n")
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", snippet)), default=0))
    return f"{fence}cpp\n{snippet}\n{fence}"


def _the_line(text: list[str], wanted: str, where: str, relative: str) -> int:
    matches = [index for index, line in enumerate(text) if wanted in line]
    if len(matches) != 1:
        raise GraderError(f"{where}: {wanted!r} occurs in {len(matches)} lines of {relative}, not exactly one")
    return matches[0]


def tests_table(lab: Lab) -> str:
    """Public tests by name with their points; hidden ones only counted."""
    rows = ["| Test | Behaviour | Points |", "|:-------------------------------|:----------|-----:|"]
    for test in lab.tests:
        if not test.hidden:
            heading = CATEGORIES[test.category]
            rows.append(f"| {_escape(test.name)} | [{heading}](#{anchor(heading)}) | {test.points:g} |")
    hidden = [t for t in lab.tests if t.hidden]
    if hidden:
        count = f"{len(hidden)} hidden test{'s' if len(hidden) != 1 else ''}"
        rows.append(f"| *{count}, run when your work is graded* | | {sum(t.points for t in hidden):g} |")
    rows.append(f"| **Total** | | **{lab.max_score:g}** |")
    if lab.leak_deduction:
        rows.append(
            "| *Taken off: each kind of thing your code leaves behind when a test ends (an open descriptor, "
            "an unreaped child, a name in /dev/shm or /dev/mqueue, …); the report names each one and the call "
            f"that cleans it up* | | −{lab.leak_deduction:g} each, at most −{lab.max_leak_deduction:g} |"
        )
    return "\n".join(rows)


def _escape(text: str) -> str:
    """Plain text in a Markdown table cell: the characters Markdown would act on, escaped."""
    text = re.sub(r"([\\`*\[\]|<>])", r"\\\1", text)
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def anchor(heading: str) -> str:
    """The id pandoc gives a heading (its auto_identifiers rule, for plain words)."""
    return re.sub(r"[^a-z0-9_\-.]", "", heading.lower().replace(" ", "-"))


# ---- rendering ------------------------------------------------------------


def title_and_body(lab: Lab, markdown: str) -> tuple[str, str]:
    """The write-up's first-level heading becomes the page title."""
    first, _, rest = markdown.partition("\n")
    match = _HEADING.match(first)
    if match and len(match.group(1)) == 1:
        return match.group(2).replace("`", ""), rest.lstrip("\n")
    return f"Lab {lab.name}: {lab.title}", markdown


def to_html(title: str, markdown: str) -> str:
    """One standalone page, its stylesheet and images inside (an image named
    in the write-up is read from handouts/): it reads the same wherever it
    is copied."""
    style = f"<style>\n{STYLE.read_text()}</style>"
    command = [
        "pandoc",
        "--from=markdown",
        "--to=html5",
        "--standalone",
        "--self-contained",
        f"--resource-path={HANDOUTS}",
        "--metadata",
        f"title={title}",
        "--metadata",
        "lang=en",
        "--variable",
        f"header-includes={style}",
    ]
    try:
        result = subprocess.run(command, input=markdown, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError as e:
        raise GraderError("pandoc is not installed", tip="run ./grade once as root: it installs pandoc") from e
    if result.returncode != 0:
        raise GraderError(f"pandoc failed on {title!r}: {result.stderr.strip()}")
    return result.stdout


def render(lab: Lab, *, draft: bool = False) -> str:
    """The write-up as its page; a write-up with placeholders left only as a
    draft (selfcheck checks the starter pack with it; nothing publishes it)."""
    markdown = expand(lab)
    unwritten = [] if draft else _placeholder_problems(lab, read_lines(handout_path(lab)))
    if unwritten:
        raise GraderError(
            f"the write-up is a draft, not fit to publish: {unwritten[0]}",
            tip="./grade selfcheck checks every lab's write-up",
        )
    title, body = title_and_body(lab, markdown)
    return to_html(title, body)


INDEX = """\
Each lab teaches one inter-process communication mechanism of Linux. Read
the write-up, download the starter pack, unpack it and grade your work in it:

```sh
tar xzf LAB-starter.tar.gz && cd LAB-starter
./grade LAB
```

The first run installs what is missing from Debian's packages and builds
everything once; after that only your file is recompiled.

| Lab | Write-up | Tests | Starter pack |
|:------|:------------------------------|:--------------|:-------------------|
"""


def index_page(labs: list[Lab]) -> str:
    """dist/index.html: every lab's write-up and starter pack, for a course website."""
    rows = []
    for lab in labs:
        public = [t for t in lab.tests if not t.hidden]
        hidden = len(lab.tests) - len(public)
        tests = f"{len(public)} public" + (f" + {hidden} hidden" if hidden else "") + f", {lab.max_score:g} points"
        rows.append(
            f"| `{lab.name}` | [{_escape(lab.title)}]({lab.name}.html) | {tests} "
            f"| [{lab.name}-starter.tar.gz]({lab.name}-starter.tar.gz) |"
        )
    return to_html("IPC Labs", INDEX + "\n".join(rows) + "\n")
