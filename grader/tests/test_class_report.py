"""The class report for staff (grader/classroom/class_report.py), on a small generated
class of the pipe lab graded by ./grade batch, rendered in headless Chromium
from Debian's packages: each section is in the DOM after rendering, with the
gradebook's numbers, and what a submission printed stays text."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader import cli
from grader.classroom import class_report, gradebook
from grader.grading import run
from grader.grading.lab import load_lab
from grader.benchmarks.classes import make_class

# Module-scoped fixtures grade once per worker: keep this module on one (./test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("class-report")

PIPE = load_lab("pipe")
# Few builds (this machine is slow): a full score, a zero, two bugs (one
# leaves zombies), a compile error and a missing file.
KINDS = {"reference", "skeleton", "bug-single_read", "bug-child_never_reaped", "compile-error", "missing"}
CHROMIUM = Path("/usr/bin/chromium")
INJECTED = "<script>alert(1)</script> and <b>bold</b>\x1b[31m"


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("class") / "submissions"
    make_class(root, PIPE, only=KINDS, salt="test_class_report")
    out = tmp_path_factory.mktemp("batch") / "out"
    assert cli.main(["batch", "pipe", str(root), "--out", str(out), "--jobs", "2"]) == cli.Exit.OK
    return out


@pytest.fixture(scope="module")
def injected(graded: Path, tmp_path_factory) -> Path:
    """A copy of the batch whose skeleton printed HTML and a terminal escape
    in its first failing test, rebuilt with ./grade report DIR."""
    out = tmp_path_factory.mktemp("injected") / "out"
    shutil.copytree(graded, out)
    details = class_report.details_path(out, "skeleton-01")
    data = json.loads(details.read_text())
    failing = next(t for t in data["tests"] if t["status"] != "passed")
    failing["output"] = f"{failing['output'].splitlines()[0]}\n{INJECTED}\n"
    details.write_text(json.dumps(data))
    (out / class_report.PAGE).unlink()
    assert cli.main(["report", str(out)]) == cli.Exit.OK
    return out


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed: ./test installs it (grader/bootstrap.sh --test), "
            "or as root: apt-get install -y --no-install-recommends chromium"
        )
    profile.mkdir(parents=True, exist_ok=True)
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # text directly inside, in order

    def all_text(self) -> str:
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and all(
                child.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items()
            ):
                found.append(child)
            found += child.find_all(tag, **attrs)
        return found

    def having(self, attribute: str) -> list[Node]:
        return [n for n in self.find_all() if attribute in n.attrs]


VOID = {"meta", "link", "br", "hr", "img", "input", "source", "wbr", "col", "area", "base", "embed"}


class _Tree(HTMLParser):
    """The DOM as Chromium serialised it, as a tree of Nodes (stdlib only)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].text.append(data)


def rendered(out: Path, profile: Path) -> Node:
    dom = chromium("--dump-dom", (out / class_report.PAGE).as_uri(), profile=profile).stdout
    assert "</html>" in dom, "Chromium rendered the page and dumped its DOM"
    tree = _Tree()
    tree.feed(dom)
    return tree.root


@pytest.fixture(scope="module")
def dom(graded: Path, tmp_path_factory) -> Node:
    return rendered(graded, tmp_path_factory.mktemp("chromium"))


@pytest.fixture(scope="module")
def injected_dom(injected: Path, tmp_path_factory) -> Node:
    return rendered(injected, tmp_path_factory.mktemp("chromium"))


def gradebook_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "gradebook.csv", newline="") as f:
        return list(csv.DictReader(f))


def section(dom: Node, anchor: str) -> Node:
    found = dom.find_all("section", id=anchor)
    assert len(found) == 1, f"one section #{anchor}"
    return found[0]


def test_a_batch_writes_the_class_report_and_its_figures(graded: Path) -> None:
    assert (graded / class_report.PAGE).exists()
    figures = json.loads((graded / class_report.FIGURES).read_text())
    summary = json.loads((graded / "summary.json").read_text())
    assert figures["format_version"] == class_report.FORMAT_VERSION
    for key in ("students", "graded", "not_gradable", "mean", "median", "distribution"):
        assert figures[key] == summary[key], key
    rates = [t["pass_rate"] for t in figures["tests"]]
    assert rates == sorted(rates) and len(rates) == len(PIPE.tests), "every test, worst first"
    assert figures["build_errors"][0]["students"] == [{"key": "compile-error-01", "student": "compile-error-01"}]
    assert sorted(p.stem for p in (graded / class_report.DETAILS).glob("*.json")) == sorted(
        r["student"] for r in gradebook_rows(graded) if r["status"] == "graded" or "does not compile" in r["reason"]
    ), "every student whose files were graded has details"


def test_the_page_is_one_file_that_needs_no_network(graded: Path) -> None:
    page = (graded / class_report.PAGE).read_text()
    lowered = page.lower()
    for outside in ("<script", "<link", "@import", "url(", "http://", "https://", "src="):
        assert outside not in lowered, f"the page holds {outside!r}"
    assert '<meta name="viewport"' in page, "it reads on a phone"
    assert "@media print" in page and "@media (max-width" in page


def test_the_page_says_it_is_for_staff_and_names_hidden_tests(dom: Node) -> None:
    (staff,) = dom.find_all(id="staff")
    assert "For course staff only" in staff.all_text()
    names = {row.attrs["data-test"] for row in section(dom, "tests").find_all("tr") if "data-test" in row.attrs}
    assert names == {t.name for t in PIPE.tests}
    assert any(t.hidden for t in PIPE.tests) and len(section(dom, "tests").find_all(class_="hidden-badge")) == sum(
        t.hidden for t in PIPE.tests
    )


def test_the_pass_rate_of_each_test_is_the_gradebook_s(graded: Path, dom: Node) -> None:
    rows = [r for r in gradebook_rows(graded) if r["status"] == gradebook.GRADED]
    shown = {row.attrs["data-test"]: row for row in section(dom, "tests").find_all("tr") if "data-test" in row.attrs}
    for spec in PIPE.tests:
        passed = sum(float(r[spec.name]) >= spec.points for r in rows)
        row = shown[spec.name]
        assert (int(row.attrs["data-passed"]), int(row.attrs["data-graded"])) == (passed, len(rows)), spec.name
        assert f"{passed} / {len(rows)}" in row.all_text(), "the numbers are on the page, not only in attributes"
    rates = [int(r.attrs["data-passed"]) / int(r.attrs["data-graded"]) for r in shown.values()]
    assert rates == sorted(rates), "worst first"


def test_each_category_counts_the_passing_runs_of_its_tests(graded: Path, dom: Node) -> None:
    rows = [r for r in gradebook_rows(graded) if r["status"] == gradebook.GRADED]
    shown = {
        r.attrs["data-category"]: r for r in section(dom, "categories").find_all("tr") if "data-category" in r.attrs
    }
    assert set(shown) == {t.category for t in PIPE.tests}
    for category, row in shown.items():
        tests = [t for t in PIPE.tests if t.category == category]
        passed = sum(float(r[t.name]) >= t.points for r in rows for t in tests)
        assert (int(row.attrs["data-passed"]), int(row.attrs["data-runs"])) == (
            passed,
            len(rows) * len(tests),
        ), category


def test_the_histogram_counts_every_student_once(graded: Path, dom: Node) -> None:
    (svg,) = section(dom, "distribution").find_all("svg")
    bars = {g.attrs["data-bucket"]: int(g.attrs["data-count"]) for g in svg.find_all("g", class_="bar")}
    scores = [float(r["score"]) for r in gradebook_rows(graded)]
    assert bars == gradebook.distribution(PIPE, scores)
    assert (
        sum(bars.values()) == len(scores) and bars["100"] == 1 and bars["0-9"] == 3
    )  # skeleton, compile error, missing
    assert len(svg.find_all("rect")) == len(bars), "one bar per bucket, drawn as SVG"


def test_the_facts_give_the_not_gradable_count_mean_and_median(graded: Path, dom: Node) -> None:
    facts = {
        n.attrs["data-fact"]: n.find_all("dd")[0].all_text() for n in section(dom, "distribution").having("data-fact")
    }
    summary = json.loads((graded / "summary.json").read_text())
    assert facts["not gradable"] == "2" == str(summary["not_gradable"])
    assert facts["mean"] == f"{summary['mean']:g} / 100" and facts["median"] == f"{summary['median']:g} / 100"


def test_build_errors_are_grouped_by_the_first_error_with_links_to_feedback(graded: Path, dom: Node) -> None:
    (group,) = section(dom, "not-gradable").having("data-build-error")
    assert group.attrs["data-build-error"] == "error: expected ';' before 'all'", "the place is not part of the group"
    assert group.attrs["data-count"] == "1"
    (link,) = group.find_all("a")
    assert link.attrs["href"] == "feedback/compile-error-01.md" and (graded / link.attrs["href"]).exists()
    assert "error: expected ';'" in group.find_all("pre")[0].all_text(), "an example of the compiler's output"
    reasons = {n.attrs["data-reason"] for n in section(dom, "not-gradable").having("data-reason")}
    assert reasons == {"pipe_lab.cpp is missing"}


def test_failure_causes_are_grouped_by_what_the_grader_observed(dom: Node) -> None:
    causes = section(dom, "causes")
    (reaps,) = [a for a in causes.find_all("article") if a.attrs["data-test"] == "ask_child reaps its child"]
    groups = {g.attrs["data-cause"]: g for g in reaps.having("data-cause")}
    assert {
        'failed check: CHECK( outcome.value == "" )',
        "left a zombie process",
        "skipped: a test it depends on failed",
    } <= set(groups)
    zombie = groups["left a zombie process"]
    assert [a.attrs["data-key"] for a in zombie.find_all("a")] == ["bug-child_never_reaped-01"]
    assert "waitpid" in zombie.find_all("pre")[0].all_text(), "one example, with the call that cleans up"
    for group in groups.values():
        assert int(group.attrs["data-count"]) == len(group.find_all("a")), "the count is the students listed"


def test_leak_kinds_across_the_class_name_who_left_them(dom: Node) -> None:
    kinds = {g.attrs["data-leak"]: g for g in section(dom, "leaks").having("data-leak")}
    assert set(kinds) == {"zombie process"}
    assert [a.attrs["href"] for a in kinds["zombie process"].find_all("a")] == ["feedback/bug-child_never_reaped-01.md"]


def test_html_a_submission_printed_shows_as_text(injected: Path, injected_dom: Node) -> None:
    page = (injected / class_report.PAGE).read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not injected_dom.find_all("script"), "no script element after rendering"
    examples = [p.all_text() for p in section(injected_dom, "causes").find_all("pre")]
    shown = [text for text in examples if "alert(1)" in text]
    assert (
        shown and "<script>alert(1)</script> and <b>bold</b>\\x1b[31m" in shown[0]
    ), "the text itself, escape made visible"
    assert not [b for b in section(injected_dom, "causes").find_all("b")], "no <b> from the submission"


def test_the_report_rebuilds_from_the_directory_alone_byte_for_byte(graded: Path, tmp_path: Path) -> None:
    copy = tmp_path / "out"
    shutil.copytree(graded, copy)
    (copy / class_report.PAGE).unlink()
    (copy / class_report.FIGURES).unlink()
    assert cli.main(["report", str(copy)]) == cli.Exit.OK
    assert (copy / class_report.PAGE).read_bytes() == (graded / class_report.PAGE).read_bytes()
    assert (copy / class_report.FIGURES).read_bytes() == (graded / class_report.FIGURES).read_bytes()


def test_a_directory_that_holds_no_batch_is_refused_with_a_tip(tmp_path: Path, capsys) -> None:
    assert cli.main(["report", str(tmp_path)]) == cli.Exit.ERROR
    err = capsys.readouterr().err
    assert "does not hold a batch" in err and "--out" in err


def test_chromium_renders_a_screenshot_of_the_page(graded: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    page = (graded / class_report.PAGE).as_uri()
    chromium(f"--screenshot={png}", "--window-size=1200,2400", page, profile=tmp_path / "profile")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_control_characters_and_markup_never_reach_the_page_raw() -> None:
    assert class_report.safe_text('<a href="x">\x1b[0m\u202e') == "&lt;a href=&quot;x&quot;&gt;\\x1b[0m\\u202e"
    assert class_report.safe_text("one\ntwo") == "one\\x0atwo"
    assert class_report.safe_text("one\ntwo", multiline=True) == "one\ntwo"


def test_a_cause_names_the_signal_the_status_or_the_check_that_failed() -> None:
    assert (
        class_report.cause(run.Status.CRASHED, run._crash(11, out_of_memory=False)) == "crashed by signal 11 (SIGSEGV)"
    )
    for status in (run.Status.TIMED_OUT, run.Status.FLOODED, run.Status.NO_REPORT, run.Status.FORGED):
        assert class_report.cause(status, "whatever it printed") == status.value
    failed = "failed; the checks that did not hold:\nx_test.cpp:9: ERROR: CHECK( blocked.yes ) is NOT correct!\n"
    assert class_report.cause(run.Status.FAILED, failed) == "failed check: CHECK( blocked.yes )"
    assert class_report.cause(run.Status.FAILED, "failed; the checks that did not hold:\n") == "failed checks"


def test_a_problem_is_grouped_by_its_kind_without_each_student_s_own_part() -> None:
    assert (
        class_report._kind_of_problem("pipe_lab.cpp is missing (the submission holds README.txt)")
        == "pipe_lab.cpp is missing"
    )
    assert (
        class_report._kind_of_problem("handin.zip refused: path leaving the directory: ../../pipe_lab.cpp")
        == "handin.zip refused: path leaving the directory"
    )
