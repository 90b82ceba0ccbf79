"""Course platforms: the Gradescope bundle (unpacked into a scratch root and
run as Gradescope runs it); PrairieLearn's external grader (its image recipe,
its question, and its grader run on a job laid out as PrairieLearn mounts
it); Autolab's package (run as Tango runs it); each checked against the
fields and layout its documentation gives, and none naming a hidden test."""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from grader import cli
from grader.publishing import export
from grader.reports import autolab as autolab_results, feedback, machine, prairielearn as prairielearn_results
from grader.grading.lab import REPO, Lab, TestSpec, load_lab
from grader.grading.run import Leak, Status
from grader.tests.test_report import demo_grade
from grader.grading.score import Grade, TestResult
from grader.grading.sandbox import Isolation

# Module-scoped fixtures grade once per worker: keep this module on one (./test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("bundle")


PIPE = load_lab("pipe")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("export") / "autograder.zip"
    assert cli.main(["export", "gradescope", "pipe", "--output", str(output)]) == cli.Exit.OK
    return output


def unpacked(bundle: Path, root: Path) -> Path:
    """The bundle as Gradescope lays it out: its files in root/source."""
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as z:
        for info in z.infolist():
            z.extract(info, root / "source")
            os.chmod(root / "source" / info.filename, info.external_attr >> 16 & 0o777)
    return root


def test_the_bundle_has_gradescopes_two_scripts_at_its_root(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    for script in ("setup.sh", "run_autograder", "grade", "grader/bootstrap.sh"):
        assert script in names and modes[script] & 0o111, f"{script} is in the bundle and executable"
    assert {
        "WORKSPACE",
        ".bazelrc",
        "labs/pipe/lab.toml",
        "solutions/pipe/hidden_test.cpp",
        "solutions/pipe/pipe_lab.cpp",
        "grader/harness/BUILD",
        "third_party/rules_cc/WORKSPACE",
    } <= names
    assert not [n for n in names if n.startswith("grader/tests/") or "/bugs/" in n or "__pycache__" in n]


def test_setup_installs_the_packages_through_bootstrap_not_a_copy_of_its_list(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as z:
        setup = z.read("setup.sh").decode()
    assert '"$source_dir/grader/bootstrap.sh"' in setup
    assert "apt-get" not in setup and "doctest-dev" not in setup
    assert subprocess.run(["bash", "-n"], input=setup, text=True, check=False).returncode == 0


def test_the_bundle_needs_no_pandoc_but_an_instructors_checkout_does(bundle: Path, tmp_path: Path) -> None:
    """pandoc renders write-ups; the autograder image never does, and should
    not carry its 170 MB."""
    with zipfile.ZipFile(bundle) as z:
        z.extractall(tmp_path)
    (tmp_path / "grader/bootstrap.sh").chmod(0o755)

    def needed(checkout: Path) -> list[str]:
        listed = subprocess.run(
            [str(checkout / "grader/bootstrap.sh"), "--list"], capture_output=True, text=True, check=True
        )
        return listed.stdout.split()

    assert "bubblewrap" in needed(tmp_path) and "pandoc" not in needed(tmp_path)
    assert "pandoc" in needed(REPO)


def test_the_same_lab_gives_the_same_bundle(bundle: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    export.gradescope_bundle(PIPE, again)
    assert again.read_bytes() == bundle.read_bytes()


@pytest.mark.long
def test_run_autograder_grades_the_submission_as_gradescope_hands_it_over(bundle: Path, tmp_path: Path) -> None:
    """The bundle on its own, as Gradescope runs it: unpacked into a scratch
    root, setup.sh builds it in a Bazel workspace of its own and locks the
    hidden sources away, then run_autograder grades a submission in a
    subfolder, hidden tests included."""
    root = unpacked(bundle, tmp_path / "autograder")
    (root / "submission" / "my-work").mkdir(parents=True)
    shutil.copyfile(REPO / "solutions" / "pipe" / "pipe_lab.cpp", root / "submission" / "my-work" / "pipe_lab.cpp")
    try:
        setup = subprocess.run(
            [str(root / "source" / "setup.sh")], capture_output=True, text=True, timeout=1800, check=False
        )
        assert setup.returncode == 0, setup.stderr[-3000:]
        assert "setup.sh: Debian 12" in setup.stdout
        assert (root / "source" / "solutions").stat().st_mode & 0o077 == 0, "the hidden tests are root's alone"
        run = subprocess.run(
            [str(root / "source" / "run_autograder")],
            env={**os.environ, "IPCLAB_AUTOGRADER_ROOT": str(root)},
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    finally:
        # The scratch workspace's Bazel server and output base go with it.
        subprocess.run(["bazel", "clean", "--expunge"], cwd=root / "source", capture_output=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 100
    assert len(results["tests"]) == len(PIPE.tests)
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}


def test_autograde_writes_a_result_for_an_unusable_submission(tmp_path: Path) -> None:
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "pipe.cpp").write_text("// misnamed\n")
    out = tmp_path / "results.json"
    assert cli.main(["autograde", "pipe", str(tmp_path / "submission"), "--output", str(out)]) == cli.Exit.OK
    results = json.loads(out.read_text())
    assert results["score"] == 0
    assert "pipe_lab.cpp is missing; found pipe.cpp" in results["output"]


def test_autograde_writes_junit_without_the_hidden_tests(tmp_path: Path) -> None:
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "pipe.cpp").write_text("// misnamed\n")
    out = tmp_path / "report.xml"
    assert (
        cli.main(["autograde", "pipe", str(tmp_path / "submission"), "--format", "junit", "--output", str(out)])
        == cli.Exit.OK
    )
    suite = ElementTree.parse(out).getroot().find("testsuite")
    shown = [t.name for t in PIPE.tests if not t.secret]
    assert [case.get("name") for case in suite.iter("testcase")] == shown
    assert suite.get("tests") == suite.get("failures") == str(len(shown))
    assert not [t.name for t in PIPE.tests if t.secret and t.name in out.read_text()]
    assert "pipe_lab.cpp is missing; found pipe.cpp" in suite.find("system-out").text


# ---- Gradescope's images: setup.sh per system, Python 3.10, rich 11.2 -------

# Gradescope's autograder specification: the fields of results.json, and of each test.
RESULTS_FIELDS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}
TEST_FIELDS = {
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
OUTPUT_FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def check_gradescope_results(data: dict) -> None:
    """Only documented fields, each of its documented type and range; the
    score, here or on every test, is the one field Gradescope requires."""
    assert set(data) <= RESULTS_FIELDS, set(data) - RESULTS_FIELDS
    assert isinstance(data["score"], (int, float)) and data["score"] >= 0
    assert isinstance(data.get("execution_time", 0), int) and isinstance(data.get("output", ""), str)
    assert {data.get(k, "visible") for k in ("visibility", "stdout_visibility")} <= VISIBILITIES
    formats = {data[k] for k in ("output_format", "test_output_format", "test_name_format") if k in data}
    assert formats <= OUTPUT_FORMATS and isinstance(data.get("extra_data", {}), dict)
    for test in data.get("tests", []):
        assert set(test) <= TEST_FIELDS, set(test) - TEST_FIELDS
        assert isinstance(test["score"], (int, float)) and isinstance(test.get("max_score", 0), (int, float))
        assert (
            test.get("status", "passed") in {"passed", "failed"} and test.get("visibility", "visible") in VISIBILITIES
        )
        assert {test[k] for k in ("output_format", "name_format") if k in test} <= OUTPUT_FORMATS


@pytest.mark.parametrize(
    "os_release, says",
    [
        (
            'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
            "Debian 12: Debian's packages (Bazel 4.2",
        ),
        ('ID=ubuntu\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"', "Ubuntu 22.04, Gradescope's default image"),
        (
            'ID=ubuntu\nVERSION_ID="24.04"\nPRETTY_NAME="Ubuntu 24.04 LTS"',
            "Ubuntu 24.04: Ubuntu's packages (Python 3.12)",
        ),
    ],
)
def test_setup_says_what_it_does_on_each_system_it_is_made_for(
    bundle: Path, tmp_path: Path, os_release: str, says: str
) -> None:
    root = unpacked(bundle, tmp_path / "autograder")
    (tmp_path / "os-release").write_text(os_release + "\n")
    run = subprocess.run(
        [str(root / "source" / "setup.sh"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "IPCLAB_OS_RELEASE": str(tmp_path / "os-release")},
    )
    assert run.returncode == 0 and says in run.stdout, run.stdout + run.stderr


def test_setup_refuses_another_system_unless_told_to_try(bundle: Path, tmp_path: Path) -> None:
    root = unpacked(bundle, tmp_path / "autograder")
    (tmp_path / "os-release").write_text('ID=centos\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"\n')
    env = {**os.environ, "IPCLAB_OS_RELEASE": str(tmp_path / "os-release")}
    refused = subprocess.run(
        [str(root / "source" / "setup.sh"), "--check"], capture_output=True, text=True, env=env, check=False
    )
    assert refused.returncode == 1
    assert (
        "CentOS Linux 7 (Core) is not a system this autograder is made for (Debian 12, Ubuntu 22.04 or Ubuntu 24.04)"
        in refused.stderr
    )
    tried = subprocess.run(
        [str(root / "source" / "setup.sh"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        env={**env, "IPCLAB_ANY_OS": "1"},
    )
    assert tried.returncode == 0 and "best effort" in tried.stdout


# Debian's pure-Python packages that the grader imports, put on a Python 3.10's path.
SHIM_PACKAGES = ("rich", "pygments", "markdown_it", "mdurl", "tomli")
DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")


@pytest.fixture(scope="module")
def python310(tmp_path_factory) -> tuple[Path, Path]:
    """(a Python 3.10, a folder with rich and tomli for it), or the test is
    skipped, saying what is missing."""
    found = sorted(Path("/root/.pyenv/versions").glob("3.10.*/bin/python3")) or [
        Path(p) for p in [shutil.which("python3.10")] if p
    ]
    if not found:
        pytest.skip(
            "no Python 3.10 here (looked in /root/.pyenv/versions/3.10.*/bin and on PATH): "
            "the bundle's Python path on Gradescope's Ubuntu 22.04 is not tested"
        )
    missing = [name for name in ("rich", "tomli") if not (DIST_PACKAGES / name).is_dir()]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not in {DIST_PACKAGES} (Debian: python3-{' python3-'.join(missing)}): "
            "nothing to give Python 3.10"
        )
    shim = tmp_path_factory.mktemp("python310-path")
    for name in SHIM_PACKAGES:
        if (DIST_PACKAGES / name).is_dir():
            (shim / name).symlink_to(DIST_PACKAGES / name)
    return found[-1], shim


def run_bundle_with(python: tuple[Path, Path], root: Path) -> subprocess.CompletedProcess[str]:
    interpreter, shim = python
    env = {
        **os.environ,
        "IPCLAB_AUTOGRADER_ROOT": str(root),
        "IPCLAB_PYTHON": str(interpreter),
        "PYTHONPATH": str(shim),
    }
    return subprocess.run(
        [str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=1800, check=False
    )


def test_run_autograder_under_python_3_10_writes_valid_results(bundle: Path, tmp_path: Path, python310) -> None:
    """Gradescope's default image has Python 3.10: no tomllib there. A
    misnamed file is graded without a build, so this runs the whole Python
    path of run_autograder, from ./grade to results.json."""
    root = unpacked(bundle, tmp_path / "autograder")
    (root / "submission").mkdir()
    (root / "submission" / "pipe.cpp").write_text("// misnamed\n")
    run = run_bundle_with(python310, root)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    check_gradescope_results(results)
    assert results["score"] == 0 and "pipe_lab.cpp is missing; found pipe.cpp" in results["output"]
    assert len(results["tests"]) == len(PIPE.tests)


def test_run_autograder_under_python_3_10_applies_the_submission_limit(bundle: Path, tmp_path: Path, python310) -> None:
    """An instructor's [submissions] in the bundle's lab.toml, and
    Gradescope's metadata beside the submission: over the limit, the
    previous results come back with a message, and nothing is built."""
    root = unpacked(bundle, tmp_path / "autograder")
    lab_toml = root / "source" / "labs" / "pipe" / "lab.toml"
    lab_toml.write_text(lab_toml.read_text() + "\n[submissions]\nmax = 1\n")
    (root / "submission").mkdir()
    last = {"score": 55.0, "output": "pipe: 55 / 100", "tests": []}
    (root / "submission_metadata.json").write_text(
        json.dumps(
            {
                "created_at": "2026-03-01T10:00:00.000000-08:00",
                "assignment": {"due_date": "2026-03-02T23:59:00.000000-08:00"},
                "previous_submissions": [
                    {"submission_time": "2026-02-28T10:00:00.000000-08:00", "score": 55.0, "results": last}
                ],
            }
        )
    )
    run = run_bundle_with(python310, root)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    check_gradescope_results(results)
    assert results["score"] == 55 and results["output"].startswith("This is submission 2; 1 are graded.")


# rich's API, as of 11.2.0 (Ubuntu 22.04's python3-rich): checked against
# rich's own sources at tag v11.2.0. MofNCompleteColumn came in 12.0.0.
RICH_11_2 = {
    "rich.console": {"Console"},
    "rich.table": {"Table"},
    "rich.text": {"Text"},
    "rich.progress": {
        "Progress",
        "ProgressColumn",
        "BarColumn",
        "TextColumn",
        "SpinnerColumn",
        "TimeElapsedColumn",
        "TimeRemainingColumn",
    },
}


def test_the_grading_path_imports_no_rich_newer_than_11_2(python310) -> None:
    """The modules run_autograder's command loads (under Python 3.10, as on
    Gradescope) import only names rich 11.2 has, and not batch."""
    interpreter, shim = python310
    listing = "import sys, grader.cli; print('\\n'.join(sorted(m for m in sys.modules if m.startswith('grader.'))))"
    loaded = subprocess.run(
        [str(interpreter), "-c", listing],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": f"{REPO}:{shim}"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "grader.reports.terminal" in loaded and "grader.classroom.batch" not in loaded
    used = {
        (node.module, alias.name)
        for module in loaded
        for node in ast.walk(ast.parse(_source_of(module).read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rich")
        for alias in node.names
    }
    newer = sorted(f"{m}.{name}" for m, name in used if name not in RICH_11_2.get(m, set()))
    assert not newer, f"not in rich 11.2, yet imported on the grading path: {newer}"
    assert ("rich.console", "Console") in used, "the check sees the imports it checks"


def _source_of(module: str) -> Path:
    """A module's file in this repository: a package's is its __init__.py."""
    path = REPO / module.replace(".", "/")
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def test_batch_itself_is_what_needs_rich_12() -> None:
    """The check above can fail: batch's progress column is not in rich 11.2."""
    source = ast.parse((REPO / "grader" / "classroom" / "batch.py").read_text())
    names = {
        alias.name
        for node in ast.walk(source)
        if isinstance(node, ast.ImportFrom) and node.module == "rich.progress"
        for alias in node.names
    }
    assert "MofNCompleteColumn" in names and "MofNCompleteColumn" not in RICH_11_2["rich.progress"]


# ---- PrairieLearn and Autolab ---------------------------------------------


def test_prairielearn_results_have_the_documented_fields() -> None:
    data = json.loads(machine.render_machine(demo_grade(), "prairielearn"))
    assert data["gradable"] is True
    assert 0.0 <= data["score"] <= 1.0
    assert data["score"] == pytest.approx(demo_grade().score / demo_grade().max_score)
    assert isinstance(data["message"], str)
    for test in data["tests"]:
        assert set(test) == {"name", "description", "points", "max_points", "message", "output"}
        if test["description"] != "cleanup":
            assert 0 <= test["points"] <= test["max_points"]
    assert sum(t["points"] for t in data["tests"]) == demo_grade().score
    assert data["tests"][-1]["points"] == -2  # the demo's leaked queue
    assert "logged: process 12 never blocked" in data["tests"][1]["output"]


def test_prairielearn_marks_an_unbuildable_submission_not_gradable() -> None:
    grade = Grade(
        lab=demo_grade().lab, label="s", isolation=Isolation(True), gradable=False, diagnostics="demo.cpp:3:1: error: x"
    )
    data = json.loads(machine.render_machine(grade, "prairielearn"))
    assert data["gradable"] is False
    assert data["format_errors"] == ["demo.cpp:3:1: error: x"]


def test_the_autolab_autoresult_is_one_line_of_scores_per_problem() -> None:
    grade = demo_grade()
    line = machine.render_machine(grade, "autolab")
    assert line.count("\n") == 1 and line.endswith("\n")
    data = json.loads(line)
    assert set(data) == {"scores", "scoreboard"}
    assert (
        list(data["scores"])
        == list(autolab_results.autolab_problems(grade.lab))
        == ["eof", "blocking", "boundaries", "errors", "leaks"]
    )
    assert data["scores"] == {"eof": 6, "blocking": 0, "boundaries": 0, "errors": 2, "leaks": -2}
    assert data["scoreboard"] == [grade.score, *data["scores"].values()]


def test_autograde_for_autolab_ends_with_the_autoresult(tmp_path: Path, capsys) -> None:
    (tmp_path / "submission").mkdir()
    assert cli.main(["autograde", "pipe", str(tmp_path / "submission"), "--format", "autolab"]) == cli.Exit.OK
    lines = capsys.readouterr().out.strip().splitlines()
    assert "Not gradable" in "\n".join(lines[:-1])
    assert json.loads(lines[-1])["scores"] == dict.fromkeys(autolab_results.autolab_problems(PIPE), 0.0)


# ---- hidden tests never leak, in either format --------------------------

SECRET_SPEC = TestSpec(
    "hidden: the secret ordering case", 4, "ordering", "The secret hint.", hidden=True, visibility="after_published"
)
PUBLIC_SPEC = TestSpec("a public test", 6, "eof", "The public hint.")
SECRET_LAB = Lab(
    name="secret",
    title="A lab with a hidden test",
    student_files=("s.cpp",),
    timeout=10,
    tests=(PUBLIC_SPEC, SECRET_SPEC),
    leak_deduction=1,
    max_leak_deduction=3,
)
SECRET_WORDS = ("the secret ordering case", "The secret hint", "SECRET-OUTPUT", "secret-object")


def secret_grade() -> Grade:
    results = [
        TestResult(PUBLIC_SPEC, Status.FAILED, 0, 1.0, "failed; the checks that did not hold:", "public output"),
        TestResult(
            SECRET_SPEC,
            Status.FAILED,
            0,
            1.0,
            "failed; the checks that did not hold:",
            "SECRET-OUTPUT here",
            leaks=[Leak("shared memory", "/dev/shm/secret-object", 'shm_unlink("/secret-object")')],
        ),
    ]
    return Grade(lab=SECRET_LAB, label="s", isolation=Isolation(True), results=results)


def test_prairielearn_shows_hidden_tests_as_one_line_without_name_output_or_hint() -> None:
    text = machine.render_machine(secret_grade(), "prairielearn")
    for word in SECRET_WORDS:
        assert word not in text, word
    data = json.loads(text)
    assert [t["name"] for t in data["tests"]] == [
        "a public test",
        feedback.HIDDEN_TESTS,
        "Cleanup: what the tests left behind",
    ]
    hidden = data["tests"][1]
    assert (hidden["points"], hidden["max_points"]) == (0, 4)
    assert "0 of 1 passed" in hidden["message"] and hidden["output"] == ""
    assert "public output" in data["tests"][0]["output"] and "The public hint." in data["tests"][0]["output"]
    assert "1 finding(s) in hidden tests" in data["tests"][2]["output"]


def test_autolab_names_no_hidden_test_in_its_feedback_or_autoresult() -> None:
    grade = secret_grade()
    text = autolab_results.autolab_feedback(grade) + machine.render_machine(grade, "autolab")
    for word in SECRET_WORDS:
        assert word not in text, word
    assert "a public test" in text and "Hidden tests: 0 of 1 passed, 0 / 4 points" in text
    assert json.loads(text.splitlines()[-1])["scores"] == {"ordering": 0, "eof": 0, "leaks": -1}


def test_prairielearn_results_stay_under_one_megabyte_and_say_they_were_cut() -> None:
    grade = secret_grade()
    # Control characters are escaped twice over (\x01 → "\\x01" → JSON): the cut must count bytes as written.
    grade.results[0].output = ("x\x01" * 400_000 + "\n") * 2
    grade.results[0].detail = "é" * 300_000
    text = machine.render_machine(grade, "prairielearn")
    assert len(text.encode()) < prairielearn_results.PRAIRIELEARN_LIMIT
    data = json.loads(text)
    assert "cut to keep the results under PrairieLearn's 1 MB limit" in data["message"]
    assert "characters cut: PrairieLearn keeps results under 1 MB" in data["tests"][0]["output"]
    small = json.loads(machine.render_machine(secret_grade(), "prairielearn"))
    assert "cut" not in small["message"]


def test_prairielearn_cuts_a_long_compiler_error_too() -> None:
    grade = Grade(lab=PIPE, label="s", isolation=Isolation(True), gradable=False, diagnostics="error: x\n" * 200_000)
    data = json.loads(machine.render_machine(grade, "prairielearn"))
    assert len(json.dumps(data, indent=2).encode()) < prairielearn_results.PRAIRIELEARN_LIMIT
    assert data["format_errors"][0].startswith("error: x\n") and data["format_errors"][0].endswith("under 1 MB")


# ---- the PrairieLearn package -----------------------------------------------

# PrairieLearn's infoQuestion schema: what externalGradingOptions may hold
# (additionalProperties is false), and the question's required fields.
EXTERNAL_GRADING_OPTIONS = {
    "comment",
    "enabled",
    "image",
    "entrypoint",
    "serverFilesCourse",
    "timeout",
    "enableNetworking",
    "environment",
}
QUESTION_REQUIRED = {"uuid", "type", "title", "topic"}


@pytest.fixture(scope="module")
def prairielearn(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("prairielearn") / "pipe"
    assert (
        cli.main(["export", "prairielearn", "pipe", "--output", str(output), "--image", "course/pipe-grader"])
        == cli.Exit.OK
    )
    return output


def test_the_prairielearn_image_is_built_from_debian_with_the_reference_prebuilt(prairielearn: Path) -> None:
    dockerfile = (prairielearn / "Dockerfile").read_text()
    assert re.search(r"^FROM debian:\S+$", dockerfile, re.M)
    assert "/ipclab/grader/bootstrap.sh" in dockerfile, "packages come from the one list, Debian's"
    assert "bazel build" in dockerfile and "//solutions/pipe:reference_tests" in dockerfile
    for carried in (
        "ipclab/grade",
        "ipclab/solutions/pipe/pipe_lab.cpp",
        "ipclab/solutions/pipe/hidden_test.cpp",
        "ipclab/labs/pipe/lab.toml",
    ):
        assert (prairielearn / carried).is_file(), carried
    assert (
        not list((prairielearn / "ipclab").glob("solutions/pipe/bugs"))
        and not (prairielearn / "ipclab/grader/tests").exists()
    )
    entrypoint = prairielearn / "ipclab" / export.ENTRYPOINT
    assert entrypoint.stat().st_mode & 0o111
    assert "-m grader.publishing.prairielearn pipe" in entrypoint.read_text()
    assert subprocess.run(["bash", "-n", str(entrypoint)], check=False).returncode == 0


def test_the_prairielearn_question_has_a_timeout_that_fits_the_lab(prairielearn: Path) -> None:
    info = json.loads((prairielearn / "question" / "info.json").read_text())
    assert QUESTION_REQUIRED <= set(info) and info["gradingMethod"] == "External"
    options = info["externalGradingOptions"]
    assert set(options) <= EXTERNAL_GRADING_OPTIONS
    assert options["image"] == "course/pipe-grader"
    assert options["entrypoint"] == f"/ipclab/{export.ENTRYPOINT}"
    timeout = options["timeout"]
    assert isinstance(timeout, int) and export.PRAIRIELEARN_DEFAULT_TIMEOUT < timeout <= export.PRAIRIELEARN_MAX_TIMEOUT
    slowest = max(PIPE.timeout_of(t) for t in PIPE.tests)
    assert (
        timeout >= export.BUILD_ALLOWANCE + sum(PIPE.timeout_of(t) for t in PIPE.tests) / export.GRADER_CORES > slowest
    )
    assert 'file-names="pipe_lab.cpp"' in (prairielearn / "question" / "question.html").read_text()


def test_prairielearn_never_gets_a_timeout_over_its_maximum() -> None:
    channels = load_lab("channels")
    assert export.prairielearn_timeout(channels) == export.PRAIRIELEARN_MAX_TIMEOUT


def test_an_export_never_writes_over_an_old_package(prairielearn: Path, capsys) -> None:
    assert cli.main(["export", "prairielearn", "pipe", "--output", str(prairielearn)]) == cli.Exit.ERROR
    assert "is not an empty directory" in capsys.readouterr().err


def grade_directory(root: Path, files: dict[str, bytes], data: dict | None = None) -> Path:
    for name, contents in files.items():
        (root / "student" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "student" / name).write_bytes(contents)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "data.json").write_text(json.dumps(data or {"params": {}, "submitted_answers": {}}))
    return root


def run_prairielearn(root: Path) -> dict:
    """What the image's entrypoint runs, on a job laid out as PrairieLearn mounts it."""
    run = subprocess.run(
        [sys.executable, "-m", "grader.publishing.prairielearn", "pipe"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "IPCLAB_GRADE_ROOT": str(root)},
        timeout=1800,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_the_prairielearn_grader_grades_a_real_submission_in_a_grade_directory(tmp_path: Path) -> None:
    reference = (REPO / "solutions" / "pipe" / "pipe_lab.cpp").read_bytes()
    results = run_prairielearn(grade_directory(tmp_path / "grade", {"pipe_lab.cpp": reference}))
    assert results["gradable"] is True and results["score"] == 1.0
    hidden = [t for t in PIPE.tests if t.hidden]
    assert len(results["tests"]) == len(PIPE.tests) - len(hidden) + 1
    assert results["tests"][-1]["name"] == feedback.HIDDEN_TESTS
    assert results["tests"][-1]["points"] == results["tests"][-1]["max_points"] == sum(t.points for t in hidden)
    text = json.dumps(results)
    assert not [t.name for t in hidden if t.name in text or t.hint in text]


def test_the_prairielearn_grader_takes_files_from_data_json_and_never_fails_silently(tmp_path: Path) -> None:
    """A custom element's files come base64-encoded in submitted_answers._files;
    a path leaving the job is not written."""
    data = {
        "submitted_answers": {
            "_files": [
                {"name": "../escape.cpp", "contents": base64.b64encode(b"x").decode()},
                {"name": "notes.txt", "contents": base64.b64encode(b"hello").decode()},
            ]
        }
    }
    root = grade_directory(tmp_path / "grade", {}, data)
    results = run_prairielearn(root)
    assert results["gradable"] is False
    assert "pipe_lab.cpp is missing" in results["format_errors"][0] and "notes.txt" in results["format_errors"][0]
    assert not (tmp_path / "escape.cpp").exists()


@pytest.mark.long
def test_the_exported_entrypoint_grades_a_job_in_its_own_workspace(prairielearn: Path, tmp_path: Path) -> None:
    """The package on its own, as the image runs it (without Docker here):
    its entrypoint, its own Bazel workspace, a job laid out as /grade."""
    source = tmp_path / "ipclab"
    shutil.copytree(prairielearn / "ipclab", source)
    reference = (REPO / "solutions" / "pipe" / "pipe_lab.cpp").read_bytes()
    root = grade_directory(tmp_path / "grade", {"pipe_lab.cpp": reference})
    try:
        run = subprocess.run(
            [str(source / export.ENTRYPOINT)],
            env={**os.environ, "IPCLAB_GRADE_ROOT": str(root)},
            capture_output=True,
            text=True,
            timeout=3000,
            check=False,
        )
    finally:
        subprocess.run(["bazel", "clean", "--expunge"], cwd=source, capture_output=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["gradable"] is True and results["score"] == 1.0
    assert results["tests"][-1]["name"] == feedback.HIDDEN_TESTS


# ---- the Autolab package ----------------------------------------------------


@pytest.fixture(scope="module")
def autolab(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("autolab") / "pipe"
    assert cli.main(["export", "autolab", "pipe", "--output", str(output)]) == cli.Exit.OK
    return output


def test_the_autolab_package_is_a_makefile_and_a_tar_of_the_grader(autolab: Path, capsys, tmp_path: Path) -> None:
    assert sorted(p.name for p in autolab.iterdir()) == ["autograde-Makefile", "autograde.tar"]
    with tarfile.open(autolab / "autograde.tar") as archive:
        names = set(archive.getnames())
        assert all(m.isfile() and m.name.startswith("ipclab/") and m.uid == 0 for m in archive.getmembers())
        assert archive.getmember("ipclab/grade").mode & 0o111
    assert {
        "ipclab/grade",
        "ipclab/WORKSPACE",
        "ipclab/solutions/pipe/hidden_test.cpp",
        "ipclab/labs/pipe/lab.toml",
    } <= names
    assert not [n for n in names if "/bugs/" in n or n.startswith("ipclab/grader/tests/")]
    makefile = (autolab / "autograde-Makefile").read_text()
    assert re.search(r"^autograde:$", makefile, re.M), "the first target is what make runs"
    again = tmp_path / "again"
    export.autolab_package(PIPE, again)
    assert (again / "autograde.tar").read_bytes() == (autolab / "autograde.tar").read_bytes()


def test_the_autolab_export_prints_the_problems_to_create(tmp_path: Path, capsys) -> None:
    assert cli.main(["export", "autolab", "pipe", "--output", str(tmp_path / "out")]) == cli.Exit.OK
    printed = capsys.readouterr().out
    for problem, points in autolab_results.autolab_problems(PIPE).items():
        assert f"{problem} ({points:g})" in printed
    assert not [t.name for t in PIPE.tests if t.name in printed]


def run_tango_job(package: Path, job: Path, handin: dict[str, bytes]) -> list[str]:
    """As Tango does: the Makefile, the tar and the handin in one directory, then make."""
    job.mkdir()
    shutil.copyfile(package / "autograde-Makefile", job / "Makefile")
    shutil.copyfile(package / "autograde.tar", job / "autograde.tar")
    for name, contents in handin.items():
        (job / name).write_bytes(contents)
    try:
        run = subprocess.run(["make"], cwd=job, capture_output=True, text=True, timeout=3000, check=False)
    finally:
        if list((job / "ipclab").glob("bazel-*")):  # the job's own workspace built: its Bazel server and output base go
            subprocess.run(["bazel", "clean", "--expunge"], cwd=job / "ipclab", capture_output=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout.strip().splitlines()


def test_a_tango_job_ends_with_the_autoresult_for_an_unusable_handin(autolab: Path, tmp_path: Path) -> None:
    lines = run_tango_job(autolab, tmp_path / "job", {"handin.cpp": b"// not the lab's file\n"})
    result = json.loads(lines[-1])
    assert result["scores"] == dict.fromkeys(autolab_results.autolab_problems(PIPE), 0.0)
    assert "pipe_lab.cpp is missing (the submission holds handin.cpp)" in "\n".join(lines[:-1])


@pytest.mark.long
def test_a_tango_job_grades_a_real_handin_and_names_no_hidden_test(autolab: Path, tmp_path: Path) -> None:
    lines = run_tango_job(
        autolab, tmp_path / "job", {"pipe_lab.cpp": (REPO / "solutions/pipe/pipe_lab.cpp").read_bytes()}
    )
    result = json.loads(lines[-1])
    assert result["scores"] == autolab_results.autolab_problems(PIPE) and result["scoreboard"][0] == PIPE.max_score
    hidden = [t for t in PIPE.tests if t.hidden]
    assert not [t.name for t in hidden if t.name in "\n".join(lines)]
    assert any(line.startswith(f"{feedback.HIDDEN_TESTS}: {len(hidden)} of {len(hidden)} passed") for line in lines)
