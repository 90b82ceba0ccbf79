"""Reports, checked against saved expected output (reviewed by hand) and
against the fields and types Gradescope documents for results.json."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from grader.reports import feedback, machine, markdown, terminal

from grader import atomic
from grader.grading.lab import Lab, TestSpec
from grader.grading.run import Leak, Status
from grader.grading.score import Grade, TestResult
from grader.grading.sandbox import Isolation
from grader.reports.version import grader_version

EXPECTED = Path(__file__).parent / "expected"

SPECS = (
    TestSpec("reader sees EOF once every write end is closed", 6, "eof", "Close every write end."),
    TestSpec("reader blocks on an empty pipe", 4, "blocking", "Do not busy-wait."),
    TestSpec(
        "large messages arrive whole",
        5,
        "boundaries",
        "Loop.",
        depends=("reader sees EOF once every write end is closed",),
    ),
    TestSpec(
        "hidden: sizes around PIPE_BUF", 3, "boundaries", "Loop again.", hidden=True, visibility="after_published"
    ),
    TestSpec("a test the reference fails", 2, "errors", "n/a"),
)
DEMO = Lab(
    name="demo",
    title="A demonstration lab",
    student_files=("demo.cpp",),
    timeout=10,
    tests=SPECS,
    leak_deduction=2,
    max_leak_deduction=6,
)
QUEUE_LEFT = Leak("message queue", "/dev/mqueue/requests", 'mq_unlink("/requests")')


def demo_grade() -> Grade:
    failure = (
        "===============================================================================\n"
        "TEST CASE:  reader blocks on an empty pipe\n\n"
        "public_test.cpp:90: ERROR: CHECK( blocked.yes ) is NOT correct!\n"
        "  values: CHECK( false )\n"
        "  logged: process 12 never blocked in 5000 ms\n\n"
        "===============================================================================\n"
        "[doctest] test cases: 1 | 0 passed | 1 failed | 21 skipped\n"
    )
    results = [
        TestResult(SPECS[0], Status.PASSED, 6, 0.25, leaks=[QUEUE_LEFT]),
        TestResult(SPECS[1], Status.FAILED, 0, 5.5, "failed; the checks that did not hold:", failure),
        TestResult(SPECS[2], Status.SKIPPED, 0, 0, "skipped: depends on 'x', which did not pass"),
        TestResult(SPECS[3], Status.TIMED_OUT, 0, 30, "timed out after 30.0 s; every process of the test was killed"),
        TestResult(
            SPECS[4],
            Status.LAB_BROKEN,
            2,
            0.1,
            "the reference fails this test too (failed); you are not charged for it",
        ),
    ]
    return Grade(lab=DEMO, label="student-42", isolation=Isolation(True), results=results, seconds=36.2)


@pytest.mark.parametrize("fmt", ["json", "gradescope"])
def test_machine_reports_match_the_saved_output(fmt: str) -> None:
    # The grader's version changes with every change to the grader: stripped.
    rendered = machine.render_machine(demo_grade(), fmt).replace(grader_version(), "VERSION")
    expected = EXPECTED / f"demo.{fmt}.json"
    if os.environ.get("IPCLAB_REGENERATE"):
        expected.write_text(rendered)
    assert rendered == expected.read_text()


def test_gradescope_results_have_the_documented_fields_and_types() -> None:
    data = json.loads(machine.render_machine(demo_grade(), "gradescope"))
    assert isinstance(data["score"], (int, float)) and isinstance(data["execution_time"], int)
    assert isinstance(data["output"], str)
    assert data["visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
    for number, test in enumerate(data["tests"], start=1):
        assert set(test) == {
            "name",
            "number",
            "score",
            "max_score",
            "status",
            "output",
            "output_format",
            "name_format",
            "tags",
            "visibility",
        }
        assert test["number"] == str(number)
        assert test["status"] in {"passed", "failed"}
        assert isinstance(test["tags"], list) and all(isinstance(t, str) for t in test["tags"])
        if test["name"] != "Cleanup: what the tests left behind":
            assert 0 <= test["score"] <= test["max_score"]
    assert data["score"] == sum(t["score"] for t in data["tests"])
    assert data["tests"][-1]["score"] == -2 and "mq_unlink" in data["tests"][-1]["output"]


def test_a_leak_costs_its_deduction_once_per_kind_and_is_named_in_the_feedback() -> None:
    grade = demo_grade()
    grade.results[2].leaks = [
        QUEUE_LEFT,
        Leak("zombie process", "process 7 (x) exited but was never reaped", "waitpid"),
    ]
    assert grade.leak_kinds == ["message queue", "zombie process"]
    assert grade.leak_deduction == 4
    assert grade.score == 8 - 4
    assert (
        'left behind — message queue: /dev/mqueue/requests — clean it up with mq_unlink("/requests")'
        in feedback.feedback(grade.results[0])
    )


def test_an_unbuildable_submission_lists_every_test_at_zero() -> None:
    grade = Grade(lab=DEMO, label="s", isolation=Isolation(True), gradable=False, diagnostics="demo.cpp:3:1: error: x")
    data = json.loads(machine.render_machine(grade, "json"))
    assert data["gradable"] is False and data["score"] == 0
    assert [t["score"] for t in data["tests"]] == [0] * len(SPECS)
    assert "demo.cpp:3:1: error" in data["diagnostics"]
    gradescope = json.loads(machine.render_machine(grade, "gradescope"))
    assert "could not be graded" in gradescope["output"]


def test_feedback_keeps_the_evidence_and_drops_doctest_framing() -> None:
    text = feedback.feedback(demo_grade().results[1])
    assert "logged: process 12 never blocked" in text
    assert "[doctest]" not in text and "=====" not in text
    assert text.endswith("hint: Do not busy-wait.")
    assert feedback.feedback(demo_grade().results[0]).startswith("left behind — message queue")


def test_reports_are_written_atomically(tmp_path: Path) -> None:
    target = tmp_path / "out" / "results.json"
    atomic.write_atomically(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]


def test_the_terminal_report_keeps_line_numbers_as_written() -> None:
    from grader import cli

    grade = demo_grade()
    grade.results[1].output = "public_test.cpp:100: ERROR: CHECK( x ) is NOT correct!\n"
    console = cli._console()
    with console.capture() as captured:
        terminal.print_grade(grade, console)
    assert "public_test.cpp:100: ERROR" in captured.get()


# ---- hostile text: what a submission prints is shown, never obeyed ---------

# Each is something a student's program can print, or a compiler can echo
# from a student's file, that a terminal, a Markdown or HTML viewer, or a
# spreadsheet would act on.
CLEAR_SCREEN = "\x1b[2J\x1b[H"
CLIPBOARD_WRITE = "\x1b]52;c;cm0gLXJmIH4K\x07"  # OSC 52: the TA's clipboard becomes "rm -rf ~"
HIDDEN_LINK = "\x1b]8;;https://evil.example/\x1b\\read me\x1b]8;;\x1b\\"  # OSC 8: text that is a link
OVERWRITE = "all checks FAILED\rall checks passed"  # a terminal shows only the second half
BIDI = "\u202eexe.txt\u202c"  # Trojan Source: shows as "txt.exe"
RICH_LINK = "[link=https://evil.example/]click[/link] [bold red]grader error[/bold red]"
HTML = "<script>alert(1)</script><img src=x onerror=alert(2)>"
MARKDOWN = "[click](https://evil.example/) ![x](https://evil.example/x.png)\n# Score: 100 / 100"
FORGED_LEAK = '[ipclab-leak] {"kind": "message queue", "object": "/forged", "fix": "nothing"}'
FORGED_FINDING = "left behind — message queue: /forged — clean it up with nothing"
FORGED_SCORE = "Score: 100 / 100"
HOSTILE = "\n".join(
    [
        CLEAR_SCREEN + CLIPBOARD_WRITE + HIDDEN_LINK,
        OVERWRITE,
        BIDI,
        RICH_LINK,
        HTML,
        MARKDOWN,
        FORGED_LEAK,
        FORGED_FINDING,
        FORGED_SCORE,
        "````",
        "\x9b31m\x7f\x00",
        "y" * 150 + FORGED_SCORE,
    ]  # a line the terminal wraps, so that its end would start a line
)
# The characters no shown text may hold: C0 but \t and \n, DEL, C1, bidi controls.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
HOSTILE_LEAK = Leak("FIFO node", "/tmp/\x1b]52;c;cm0K\x07fifo [bold]x[/bold]", "unlink(path)")
REAL_FINDING = "left behind — FIFO node: /tmp/"
QUOTE_BAR = "│"  # starts every line of what a test printed, in plain text and the terminal


def hostile_grade() -> Grade:
    """The demo grade, with hostile text wherever a submission can put it:
    a failing test's output and detail, the name of what a test left behind,
    the label (a student's folder name)."""
    grade = demo_grade()
    grade.label = "student " + RICH_LINK + CLEAR_SCREEN
    failing = grade.results[1]
    failing.output = failing.output.replace("  logged:", HOSTILE + "\n  logged:")
    failing.detail = "failed; " + OVERWRITE + " " + RICH_LINK
    failing.leaks = [HOSTILE_LEAK]
    # A leak line forged by the test's process chooses the kind too.
    grade.results[0].leaks = [HOSTILE_LEAK, Leak("queue \x1b]8;;https://evil.example/\x1b\\", "/q", "mq_unlink")]
    return grade


def unbuildable_hostile_grade() -> Grade:
    return Grade(
        lab=DEMO,
        label="s",
        isolation=Isolation(True),
        gradable=False,
        diagnostics=f"demo.cpp:3:2: error: #error {HOSTILE}",
    )


def terminal_output(grade: Grade) -> str:
    """What print_grade sends to a colour terminal, escape sequences and all."""
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=120, emoji=False, highlight=False)
    terminal.print_grade(grade, console)
    return out.getvalue()


def strings_in(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for key, value in data.items() for s in strings_in(key) + strings_in(value)]
    if isinstance(data, list):
        return [s for value in data for s in strings_in(value)]
    return []


def shown(grade: Grade, fmt: str) -> list[str]:
    """The text a person reads in each format: for JSON, its decoded strings
    (json.dumps writes ESC as \\u001b, and the platform decodes it again)."""
    if fmt == "terminal":
        # Rich's own styling is ESC sequences too: keep only the text.
        return [re.sub(r"\x1b\[[0-9;]*m", "", terminal_output(grade))]
    if fmt == "markdown":
        return [markdown.to_markdown(grade, notes=(f"found {HTML} in {BIDI}",))]
    if fmt == "plain text":
        from grader import cli

        return [cli._plain_text(grade)]
    if fmt == "junit":
        return xml_strings(machine.render_machine(grade, fmt))
    return strings_in(json.loads(machine.render_machine(grade, fmt)))


def xml_strings(document: str) -> list[str]:
    """Every attribute value and text of an XML document, decoded."""
    root = ElementTree.fromstring(document)
    return [s for element in root.iter() for s in (*element.attrib.values(), element.text or "")]


FORMATS = ["terminal", "plain text", "markdown", "json", "gradescope", "prairielearn", "junit"]  # autolab: scores only


@pytest.mark.parametrize("make", [hostile_grade, unbuildable_hostile_grade], ids=["graded", "unbuildable"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_passes_a_raw_control_character_from_the_submission_through(fmt: str, make) -> None:
    for text in shown(make(), fmt):
        found = RAW_CONTROL.findall(text)
        assert not found, f"{fmt}: raw {found!r} in {text!r}"


@pytest.mark.parametrize("make", [hostile_grade, unbuildable_hostile_grade], ids=["graded", "unbuildable"])
def test_the_terminal_shows_escape_sequences_and_rich_markup_as_written(make) -> None:
    printed = terminal_output(make())
    for sequence in ("\x1b[2J", "\x1b]52;", "\x1b]8;", "\x07", "\r"):
        assert sequence not in printed, f"{sequence!r} reached the terminal"
    text = shown(make(), "terminal")[0]
    assert "\\x1b[2J" in text and "\\x1b]52;c;" in text and "\\x0d" in text and "\\u202e" in text
    assert "[link=https://evil.example/]click[/link] [bold red]grader error[/bold red]" in text


def test_output_that_forges_grader_lines_is_shown_only_as_what_the_test_printed() -> None:
    """A line of output that looks like a leak finding or a score is quoted:
    in plain text and the terminal, every line of the test's output starts
    with the quote bar, and no line of the grader's does."""
    grade = hostile_grade()
    for text in (feedback.feedback(grade.results[1]), shown(grade, "terminal")[0], shown(grade, "plain text")[0]):
        lines = text.splitlines()
        for forged in (FORGED_LEAK, FORGED_FINDING, FORGED_SCORE):
            posing = [line for line in lines if forged in line and not line.lstrip().startswith(QUOTE_BAR)]
            assert not posing, f"{forged!r} shown as the grader's: {posing}"
        assert any(line.lstrip().startswith(REAL_FINDING) for line in lines), "the real finding is the grader's"
    assert "the test printed:" in feedback.feedback(grade.results[1])


def rendered_markdown(grade: Grade, notes: tuple[str, ...] = ()) -> str:
    from markdown_it import MarkdownIt

    # html=True: render as the most permissive viewer would.
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown.to_markdown(grade, notes))


@pytest.mark.parametrize("make", [hostile_grade, unbuildable_hostile_grade], ids=["graded", "unbuildable"])
def test_markdown_feedback_renders_hostile_text_as_text(make) -> None:
    html = rendered_markdown(make(), notes=(f"found {HTML} {MARKDOWN} in upload_2.cpp",))
    assert "<script" not in html and "<img" not in html and "<a " not in html, html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "shown, not dropped"
    headings = re.findall(r"<h\d>(.*?)</h\d>", html)
    assert not [h for h in headings if "Score" in h or "100" in h], headings


def test_markdown_feedback_quotes_the_tests_output_apart_from_the_graders_findings() -> None:
    text = markdown.to_markdown(hostile_grade())
    fence = re.search(r"^(`{3,})text$", text.split("The test printed:", 1)[1], re.MULTILINE)
    assert fence, "the output is a code block labelled as what the test printed"
    outside = re.sub(r"^(`{3,})text\n.*?^\1$", "", text, flags=re.MULTILINE | re.DOTALL)
    for forged in (FORGED_LEAK, "/forged", FORGED_SCORE, "<script>"):
        assert forged not in outside, f"{forged!r} outside the quoted output"
    assert "left behind — FIFO node" in outside, "the grader's own finding is outside it"


def test_gradescope_is_told_to_show_every_text_as_plain_text() -> None:
    """Gradescope renders a top-level output as HTML by default
    ("simple_format"): the submission's diagnostics are in it."""
    data = json.loads(machine.render_machine(unbuildable_hostile_grade(), "gradescope"))
    assert data["output_format"] == "text"
    assert data["test_output_format"] == "text" and data["test_name_format"] == "text"
    assert all(t["output_format"] == "text" and t["name_format"] == "text" for t in data["tests"])


def test_machine_reports_carry_the_same_safe_text_as_the_feedback() -> None:
    grade = hostile_grade()
    expected = feedback.feedback(grade.results[1])
    assert not RAW_CONTROL.search(expected)
    for fmt in ("json", "gradescope", "prairielearn"):
        assert expected in strings_in(json.loads(machine.render_machine(grade, fmt))), fmt


def test_the_gradebook_neither_runs_a_students_formula_nor_passes_a_control_character(tmp_path: Path) -> None:
    from grader.classroom import gradebook
    from grader.classroom.unpack import Submission

    hostile = Submission(
        student="=cmd|' /C calc'!A0",
        name='=HYPERLINK("https://evil.example/","click")',
        platform_id="@SUM(A1)",
        email="+1\x1b]52;c;cm0K\x07@example.com",
        key="hostile-01",
        notes=(f"found {HTML}",),
    )
    grade = unbuildable_hostile_grade()
    gradebook.write_student(tmp_path, hostile, grade, *gradebook.row_status(grade))
    gradebook.write_class(tmp_path, DEMO, "gradescope", [hostile])
    for name in ("gradebook.csv", "canvas.csv"):
        text = (tmp_path / name).read_text()
        assert not RAW_CONTROL.search(text.replace("\n", "")), name
        for row in list(csv.reader(io.StringIO(text)))[1:]:
            for cell in row:
                numeric = re.fullmatch(r"-?[0-9.]+", cell)
                assert numeric or not cell.startswith(("=", "+", "-", "@", "\t")), f"{name}: {cell!r}"
    feedback = (tmp_path / "feedback" / "hostile-01.md").read_text()
    assert not RAW_CONTROL.search(feedback) and "<script>" not in feedback.split("```")[0]


def test_a_long_comparison_is_summarised_by_size_and_first_difference() -> None:
    expected, got = "ab" * 300, "ab" * 100 + "zz"
    summary = feedback.feedback_output(f'  values: CHECK( "{got}" == "{expected}" )\n  logged: x')
    assert summary.splitlines()[0] == (
        "values: CHECK( <202 characters> == <600 characters> ) — first difference at character 200: 'zz' against 'abababababababab'"
    )
    assert summary.splitlines()[1] == "  logged: x"


def test_binary_bytes_in_a_comparison_are_never_shown() -> None:
    line = "  values: CHECK( t\ufffd+\\x11p\\x19 == x )"
    assert feedback.feedback_output(line) == "values: CHECK( … binary bytes, not shown … )"
    assert feedback.feedback_output("  values: CHECK( 1 == 2 )") == "values: CHECK( 1 == 2 )"


def test_the_hint_is_the_one_for_the_cause_the_test_observed() -> None:
    spec = TestSpec(
        "status",
        3,
        "errors",
        "Return the last stage's status.",
        hints=(("sigpipe", "141 is 128 + SIGPIPE: an earlier stage's status."),),
    )
    seen = TestResult(spec, Status.FAILED, 0, 1.0, "failed", observed=("sigpipe",))
    assert "hint: 141 is 128 + SIGPIPE: an earlier stage's status." in feedback.feedback(seen)
    assert "Return the last stage's status." not in feedback.feedback(seen)
    unseen = TestResult(spec, Status.FAILED, 0, 1.0, "failed")
    assert "hint: Return the last stage's status." in feedback.feedback(unseen)


# ---- Gradescope's results.json, JUnit XML, and secret tests ----------------

# What a secret test is and does: none of it may reach a student while it is secret.
SECRET_NAME = "SECRET-NAME: a reader that never wakes"
SECRET_OUTPUT = "SECRET-OUTPUT printed by the hidden test"
SECRET_HINT = "SECRET-HINT: call sem_unlink"
SECRET_LEAK = Leak("semaphore", "/dev/shm/sem.SECRET-OBJECT", 'sem_unlink("/SECRET-OBJECT")')
SECRETS = ("SECRET-NAME", "SECRET-OUTPUT", "SECRET-HINT", "SECRET-OBJECT")


def secret_grade() -> Grade:
    """The demo lab with one more hidden test, which fails, prints, has a
    hint and leaks an object no visible test leaks."""
    spec = TestSpec(SECRET_NAME, 7, "cleanup", SECRET_HINT, hidden=True, visibility="after_due_date")
    lab = Lab(
        name="demo",
        title=DEMO.title,
        student_files=DEMO.student_files,
        timeout=10,
        tests=(*SPECS, spec),
        leak_deduction=2,
        max_leak_deduction=6,
    )
    grade = demo_grade()
    grade.lab = lab
    grade.results.append(
        TestResult(
            spec,
            Status.FAILED,
            0,
            1.0,
            "failed; the checks that did not hold:",
            f"TEST CASE:  {SECRET_NAME}\n{SECRET_OUTPUT}\n",
            [SECRET_LEAK],
        )
    )
    return grade


def student_texts(fmt: str, grade: Grade) -> list[str]:
    """What a student reads of a report while hidden tests are hidden: in
    Gradescope, the top level and every entry whose visibility is "visible"
    (Gradescope holds back the others itself)."""
    if fmt == "gradescope":
        data = json.loads(machine.render_machine(grade, fmt))
        entries = [t for t in data["tests"] if t["visibility"] == "visible"]
        return strings_in({k: v for k, v in data.items() if k != "tests"}) + strings_in(entries)
    if fmt == "markdown":
        return [markdown.to_markdown(grade)]
    return xml_strings(machine.render_machine(grade, fmt))


@pytest.mark.parametrize("fmt", ["gradescope", "markdown", "junit"])
def test_a_secret_tests_name_output_hint_and_findings_reach_no_student(fmt: str) -> None:
    for text in student_texts(fmt, secret_grade()):
        for secret in SECRETS:
            assert secret not in text, f"{fmt}: {secret} in {text!r}"


@pytest.mark.parametrize("fmt", ["gradescope", "markdown", "junit"])
def test_no_total_a_student_reads_counts_a_secret_test(fmt: str) -> None:
    """The visible tests are worth 17 and earn 8, less 4 for two kinds of
    leak; with the two secret tests the lab is worth 27: no 27 may be shown."""
    grade = secret_grade()
    assert grade.max_score == 27 and grade.leak_deduction == 4
    texts = " ".join(student_texts(fmt, grade))
    assert not re.search(r"\b27\b", texts), texts
    expected = {"gradescope": "demo: 4 / 17 on the tests shown now", "markdown": "Score on the tests shown: 4 / 17"}
    if fmt == "junit":
        properties = {
            p.get("name"): p.get("value")
            for p in ElementTree.fromstring(machine.render_machine(grade, fmt)).iter("property")
        }
        assert (properties["score"], properties["max_score"], properties["secret_tests_left_out"]) == ("4", "17", "2")
    else:
        assert expected[fmt] in texts


def test_gradescope_still_gets_the_secret_test_under_its_visibility_and_the_whole_score() -> None:
    data = json.loads(machine.render_machine(secret_grade(), "gradescope"))
    entry = next(t for t in data["tests"] if t["name"] == SECRET_NAME)
    assert (
        entry["visibility"] == "after_due_date" and SECRET_OUTPUT in entry["output"] and SECRET_HINT in entry["output"]
    )
    assert data["score"] == 4 and data["score"] == sum(t["score"] for t in data["tests"])
    leaks = next(t for t in data["tests"] if t["name"] == "Cleanup: what the tests left behind")
    assert leaks["score"] == -4 and "1 finding(s) in tests not shown yet" in leaks["output"]


def test_without_secret_tests_the_summary_gives_the_whole_score() -> None:
    data = json.loads(machine.render_machine(demo_grade(), "gradescope"))
    public = Grade(
        lab=Lab(name="p", title="t", student_files=("p.cpp",), timeout=1, tests=SPECS[:2]),
        label="s",
        isolation=Isolation(True),
        results=demo_grade().results[:2],
    )
    assert json.loads(machine.render_machine(public, "gradescope"))["output"] == "p: 6 / 10"
    assert "on the tests shown now" in data["output"]


def test_a_test_the_reference_fails_shows_on_gradescope_as_passed_with_full_points() -> None:
    data = json.loads(machine.render_machine(demo_grade(), "gradescope"))
    broken = next(t for t in data["tests"] if t["name"] == "a test the reference fails")
    assert (broken["status"], broken["score"], broken["max_score"]) == ("passed", 2, 2)


def test_gradescope_extra_data_names_the_grader_version_and_the_isolation() -> None:
    grade = demo_grade()
    grade.isolation = Isolation(False, "bubblewrap cannot create a user namespace here")
    data = json.loads(machine.render_machine(grade, "gradescope"))
    extra = data["extra_data"]
    assert re.fullmatch(r"\d+\.\d+\+[0-9a-f]{12}", extra["grader_version"])
    assert extra["isolation"] == {"full": False, "level": "reduced: bubblewrap cannot create a user namespace here"}
    assert "Tests ran in reduced isolation: bubblewrap cannot create a user namespace here" in data["output"]
    assert "reduced isolation" not in json.loads(machine.render_machine(demo_grade(), "gradescope"))["output"]


def test_a_compilers_angle_brackets_reach_gradescope_as_text_to_show_as_written() -> None:
    """Gradescope's default output format renders HTML: std::vector<int>
    would be eaten as a tag. The diagnostics arrive verbatim, marked text."""
    diagnostics = (
        "demo.cpp:3:10: error: no match for 'operator<<' (operand types are 'std::ostream' and 'std::vector<int>')"
    )
    grade = Grade.not_gradable(DEMO, "s", Isolation(True), diagnostics)
    data = json.loads(machine.render_machine(grade, "gradescope"))
    assert diagnostics in data["output"]
    assert (data["output_format"], data["test_output_format"], data["test_name_format"]) == ("text", "text", "text")
    assert all(t["output_format"] == "text" and t["name_format"] == "text" for t in data["tests"])


def junit_tree(grade: Grade) -> ElementTree.Element:
    return ElementTree.fromstring(machine.render_machine(grade, "junit"))


def test_junit_has_the_layout_of_the_jenkins_schema() -> None:
    """junit-10.xsd: <testsuites> holds <testsuite> (name and tests required;
    failures, errors, skipped, time optional), whose <properties> come
    first, then <testcase> elements (name required; classname, time), each
    holding at most one of <skipped>, <error>, <failure> (message, type),
    and <system-out>."""
    root = junit_tree(demo_grade())
    assert root.tag == "testsuites" and [child.tag for child in root] == ["testsuite"]
    suite = root[0]
    assert [child.tag for child in suite][0] == "properties"
    assert {child.tag for child in suite[1:]} <= {"testcase", "system-out"}
    for attribute in ("tests", "failures", "errors", "skipped"):
        assert suite.get(attribute) == root.get(attribute) and suite.get(attribute).isdigit()
    float(suite.get("time"))
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [s.name for s in SPECS if not s.secret]
    outcomes = [[e.tag for e in case if e.tag != "system-out"] for case in cases]
    assert outcomes == [[], ["failure"], ["skipped"], ["error"]]
    assert all(set(case.attrib) == {"classname", "name", "time"} and float(case.get("time")) >= 0 for case in cases)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == (
        "4",
        "1",
        "1",
        "1",
    )


def test_junit_failures_carry_the_feedback_and_a_passed_tests_leaks_go_to_its_output() -> None:
    cases = {c.get("name"): c for c in junit_tree(demo_grade()).iter("testcase")}
    failure = cases["reader blocks on an empty pipe"].find("failure")
    assert (
        failure.get("type") == "failed"
        and "never blocked in 5000 ms" in failure.text
        and "hint: Do not busy-wait." in failure.text
    )
    assert "mq_unlink" in cases["reader sees EOF once every write end is closed"].find("system-out").text
    assert cases["a test the reference fails"].find("error").get("type") == "lab broken"


def test_junit_for_an_unbuildable_submission_fails_every_shown_test_and_gives_why() -> None:
    grade = Grade.not_gradable(DEMO, "s", Isolation(True), "demo.cpp:1:1: error: expected ';' <here>")
    suite = junit_tree(grade)[0]
    assert suite.get("failures") == str(len([s for s in SPECS if not s.secret]))
    assert "expected ';' <here>" in suite.find("system-out").text
