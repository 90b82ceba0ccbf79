"""JUnit XML: one Grade as the test report CI systems and dashboards read
(Jenkins, GitLab, GitHub Actions' test reporters): the layout of the Ant/
Jenkins JUnit schema, junit-10.xsd, the one pytest writes.

    <testsuites name tests failures errors skipped time>
      <testsuite name tests failures errors skipped time>
        <properties><property name value/>…</properties>
        <testcase classname name time>
          <failure type message>feedback</failure> | <error …/> | <skipped message/>
        </testcase> …
      </testsuite>
    </testsuites>

One testcase per lab test that students may see. A secret test (visibility
other than "visible") is left out whole, name, output and hint, and no
count or total includes it: a property says how many were left out. A test
the reference fails too is an <error> (the lab's fault, not the student's);
a test skipped for its prerequisite is <skipped>; every other failure is a
<failure> whose text is the test's feedback.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from grader.grading.run import Status
from grader.grading.score import Grade, TestResult
from grader.reports import feedback
from grader.reports.untrusted import escape_controls


def to_junit(grade: Grade) -> str:
    results = [r for r in feedback.not_graded_results(grade) if not r.spec.secret]
    outcomes = [_outcome(r) for r in results]
    counts = {kind: str(outcomes.count(kind)) for kind in ("failure", "error", "skipped")}
    seconds = f"{sum(r.seconds for r in results):.3f}"
    totals = {
        "tests": str(len(results)),
        "failures": counts["failure"],
        "errors": counts["error"],
        "skipped": counts["skipped"],
        "time": seconds,
    }
    root = ElementTree.Element("testsuites", {"name": grade.lab.name, **totals})
    suite = ElementTree.SubElement(root, "testsuite", {"name": grade.lab.name, **totals})
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in _properties(grade, results):
        ElementTree.SubElement(properties, "property", {"name": name, "value": value})
    for r, outcome in zip(results, outcomes):
        case = ElementTree.SubElement(
            suite,
            "testcase",
            {"classname": f"{grade.lab.name}.{r.spec.category}", "name": r.spec.name, "time": f"{r.seconds:.3f}"},
        )
        if not outcome and r.leaks:  # passed, and left something behind: a finding, not a failure
            ElementTree.SubElement(case, "system-out").text = feedback.leak_feedback(r)
        elif outcome == "skipped":
            ElementTree.SubElement(case, "skipped", {"message": escape_controls(r.detail)})
        elif outcome:
            element = ElementTree.SubElement(
                case, outcome, {"type": feedback.status_text(r), "message": escape_controls(r.detail)}
            )
            element.text = feedback.feedback(r)
    if not grade.gradable:
        ElementTree.SubElement(suite, "system-out").text = "the submission could not be graded:\n" + escape_controls(
            grade.diagnostics
        )
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def _outcome(result: TestResult) -> str:
    """ "" for a pass, else the element that says how it went."""
    if result.passed:
        return ""
    if result.status is Status.LAB_BROKEN:
        return "error"
    if result.status is Status.SKIPPED:
        return "skipped"
    return "failure"


def _properties(grade: Grade, shown: list[TestResult]) -> list[tuple[str, str]]:
    """The score of the tests shown (never a total counting a secret test),
    how many tests were left out, and what the tests ran in."""
    left_out = sum(t.secret for t in grade.lab.tests)
    earned = max(0.0, sum(r.score for r in shown) - grade.leak_deduction)
    return [
        ("submission", escape_controls(grade.label)),
        ("score", f"{earned:g}"),
        ("max_score", f"{sum(r.spec.points for r in shown):g}"),
        ("leak_deduction", f"{grade.leak_deduction:g}"),
        ("secret_tests_left_out", str(left_out)),
        ("isolation", escape_controls(str(grade.isolation))),
    ]
