"""Write-ups: every lab's follows handouts/README.md and renders to a page
that shows the code of the lab's own files and the public tests only; each
rule of the format is enforced."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from grader import cli
from grader.publishing import handout
from grader.errors import GraderError
from grader.grading.lab import REPO, available_labs, load_lab

LABS = available_labs()
PIPE = load_lab("pipe")
_INCLUDE = re.compile(r'^::: include (\S+) from="([^"]*)" to="([^"]*)"$', re.MULTILINE)


def readable(page: str) -> str:
    """The page's text as a reader sees it: no tags, entities resolved, plain quotes."""
    text = html.unescape(re.sub(r"<[^>]+>", "", page)).replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split())


@pytest.mark.parametrize("name", LABS)
def test_the_write_up_follows_the_format(name: str) -> None:
    assert handout.problems(load_lab(name)) == []


@pytest.mark.parametrize("name", LABS)
def test_included_code_is_the_lab_files_own_text(name: str) -> None:
    lab = load_lab(name)
    source = handout.handout_path(lab).read_text()
    expanded = handout.expand(lab)
    includes = _INCLUDE.findall(source)
    assert includes, "a write-up shows the API from the header"
    for path, start, stop in includes:
        lines = (REPO / path).read_text().splitlines()
        first = next(i for i, line in enumerate(lines) if start in line)
        last = next(i for i, line in enumerate(lines) if stop in line)
        assert "\n".join(lines[first:last]).strip("\n") in expanded
    assert not re.search(r"^:::", expanded, re.MULTILINE)


@pytest.mark.parametrize("name", LABS)
def test_the_page_lists_public_tests_and_only_counts_hidden_ones(name: str) -> None:
    lab = load_lab(name)
    page = handout.render(lab)
    text = readable(page)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "IPC Labs write-ups" in page
    for test in lab.tests:
        assert (test.name in text) != test.hidden, test.name
    hidden = [t for t in lab.tests if t.hidden]
    assert f"{len(hidden)} hidden tests, run when your work is graded {sum(t.points for t in hidden):g}" in text
    assert f"Total {lab.max_score:g}" in text


@pytest.mark.parametrize("name", LABS)
def test_the_table_says_what_leaving_things_behind_costs(name: str) -> None:
    lab = load_lab(name)
    assert lab.leak_deduction > 0
    table = handout.tests_table(lab)
    assert f"−{lab.leak_deduction:g} each, at most −{lab.max_leak_deduction:g}" in table


@pytest.mark.parametrize("name", LABS)
def test_every_category_link_on_the_page_has_its_heading(name: str) -> None:
    page = handout.render(load_lab(name))
    links = set(re.findall(r'href="#([^"]+)"', page))
    assert links, "the tests table links each test to the section explaining it"
    assert links <= set(re.findall(r'id="([^"]+)"', page))


def test_the_index_links_every_write_up_and_pack(tmp_path: Path) -> None:
    assert cli.main(["handout", "--all", "--output", str(tmp_path)]) == cli.Exit.OK
    index = (tmp_path / "index.html").read_text()
    for name in LABS:
        assert f'href="{name}.html"' in index and f'href="{name}-starter.tar.gz"' in index
        assert (tmp_path / f"{name}.html").exists() and (tmp_path / f"{name}-starter.tar.gz").exists()
    assert (tmp_path / "index.html").stat().st_mode & 0o444 == 0o444  # a web server can read it


def test_publishing_needs_labs_or_all(capsys) -> None:
    assert cli.main(["handout"]) == cli.Exit.ERROR
    assert "--all" in capsys.readouterr().err


# ---- each rule, on an edited copy of the pipe write-up ----------------------

ORIGINAL = handout.handout_path(PIPE).read_text()


def problems_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "pipe.md"
    path.write_text(text)
    return handout.problems(PIPE, path)


def edited(old: str, new: str) -> str:
    assert ORIGINAL.count(old) == 1, old
    return ORIGINAL.replace(old, new)


@pytest.mark.parametrize(
    "old, new, complaint",
    [
        ("## Goals", "## Aims", "missing section(s): ## Goals"),
        ("## Check your work", "## What to submit\n\nsoon\n\n## Check your work", "appearing twice: ## What to submit"),
        ("## Background", "## Backdrop", "missing section(s): ## Background"),
        ("### Blocking", "### Blocking calls", "exactly one `### Blocking`"),
        ("### Stress", "### Stress\n\nmore\n\n### Stress", "exactly one `### Stress`"),
        ("### Stress", "### Non-blocking calls\n\nnone\n\n### Stress", "which no test of the lab uses"),
        ("::: tests", "", "`::: tests` must appear exactly once"),
        ("::: tests", "::: test", "unknown directive '::: test'"),
        ('from="// ---- Part 1"', 'from="pipe"', "occurs in"),
        ('to="// ---- Part 2"', 'to="// ---- Part 0"', "occurs in 0 lines"),
        ('from="// ---- Part 2" to="// ---- Part 3"', 'from="// ---- Part 3" to="// ---- Part 2"', "comes before"),
        ("::: include labs/pipe/pipe_lab.cpp", "::: include solutions/pipe/pipe_lab.cpp", "not a file of labs/pipe/"),
        ("Only `pipe_lab.cpp`.", "Only your file.", "does not name the student file pipe_lab.cpp"),
    ],
)
def test_a_write_up_breaking_a_rule_is_refused_with_the_reason(
    tmp_path: Path, old: str, new: str, complaint: str
) -> None:
    found = problems_of(edited(old, new), tmp_path)
    assert any(complaint in p for p in found), found


def test_sections_out_of_order_are_refused(tmp_path: Path) -> None:
    goals = ORIGINAL.index("## Goals")
    background = ORIGINAL.index("## Background")
    build = ORIGINAL.index("## What you build")
    swapped = ORIGINAL[:goals] + ORIGINAL[background:build] + ORIGINAL[goals:background] + ORIGINAL[build:]
    assert any("out of order" in p for p in problems_of(swapped, tmp_path))


def test_a_directive_inside_a_code_block_is_shown_not_expanded(tmp_path: Path) -> None:
    text = edited("## What to submit", "```\n::: tests\n::: anything\n```\n\n## What to submit")
    path = tmp_path / "pipe.md"
    path.write_text(text)
    assert handout.problems(PIPE, path) == []
    assert "```\n::: tests\n::: anything\n```" in handout.expand(PIPE, path)


def test_expanding_a_broken_write_up_is_an_error_with_a_tip(tmp_path: Path) -> None:
    path = tmp_path / "pipe.md"
    path.write_text(edited("::: tests", ""))
    with pytest.raises(GraderError) as error:
        handout.expand(PIPE, path)
    assert "does not follow handouts/README.md" in error.value.message and "selfcheck" in (error.value.tip or "")


@pytest.mark.parametrize("name", LABS)
def test_every_image_is_inside_the_page(name: str) -> None:
    # A page is copied alone (dist/, a starter pack): an image it only
    # linked to would be missing there.
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', handout.render(load_lab(name)))
    assert all(source.startswith("data:") for source in sources), sources
    if name == "channels":
        assert sources, "the channels write-up shows the benchmark's plot"


# ---- placeholders: text still to write ----------------------------------------


def with_placeholders(tmp_path: Path) -> Path:
    """The pipe write-up with two placeholders in Goals and one in Background."""
    text = edited(
        "## Background\n",
        f"{handout.PLACEHOLDER} a second goal. {handout.PLACEHOLDER} a third.\n\n"
        f"## Background\n\n{handout.PLACEHOLDER} one more fact.\n",
    )
    path = tmp_path / "pipe.md"
    path.write_text(text)
    return path


def test_placeholders_are_counted_with_their_lines(tmp_path: Path) -> None:
    path = with_placeholders(tmp_path)
    lines = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if handout.PLACEHOLDER in line]
    assert len(lines) == 2
    assert handout.problems(PIPE, path) == [
        f"3 placeholders still to write in handouts/pipe.md (lines {lines[0]}, {lines[1]}): "
        "replace each 'TO WRITE:' with the text it asks for"
    ]
    assert handout.problems(PIPE, path, drafts=True) == []


def test_one_placeholder_is_one(tmp_path: Path) -> None:
    found = problems_of(edited("## Background\n", f"{handout.PLACEHOLDER} why.\n\n## Background\n"), tmp_path)
    assert len(found) == 1 and found[0].startswith("1 placeholder still to write in handouts/pipe.md (line ")


def test_a_draft_expands_and_renders_but_is_never_published(tmp_path: Path, monkeypatch) -> None:
    path = with_placeholders(tmp_path)
    assert f"{handout.PLACEHOLDER} one more fact." in handout.expand(PIPE, path)
    monkeypatch.setattr(handout, "HANDOUTS", tmp_path)
    with pytest.raises(GraderError) as error:
        handout.render(PIPE)
    assert "is a draft, not fit to publish: 3 placeholders still to write" in error.value.message
    assert f"{handout.PLACEHOLDER} one more fact." in readable(handout.render(PIPE, draft=True))
