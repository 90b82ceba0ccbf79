"""Course platforms: the Gradescope bundle (unpacked into a scratch root and
run as Gradescope runs it), and the results formats of PrairieLearn and
Autolab, each checked against the fields its documentation gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader.publishing import export
from grader.reports import report
from grader.grading.lab import REPO, load_lab
from grader.tests.test_report import demo_grade
from grader.grading.score import Grade
from grader.grading.sandbox import Isolation

# Module-scoped fixtures grade once per worker: keep this module on one (./test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("bundle")


PIPE = load_lab("pipe")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("export") / "autograder.zip"
    assert cli.main(["export", "gradescope", "pipe", "--output", str(output)]) == cli.Exit.OK
    return output


def test_the_bundle_has_gradescopes_two_scripts_at_its_root(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    for script in ("setup.sh", "run_autograder", "grade", "grader/bootstrap.sh"):
        assert script in names and modes[script] & 0o111, f"{script} is in the bundle and executable"
    assert {"WORKSPACE", ".bazelrc", "labs/pipe/lab.toml", "solutions/pipe/hidden_test.cpp",
            "solutions/pipe/pipe_lab.cpp", "grader/harness/BUILD", "third_party/rules_cc/WORKSPACE"} <= names  # fmt: skip
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
        listed = subprocess.run([str(checkout / "grader/bootstrap.sh"), "--list"], capture_output=True, text=True, check=True)
        return listed.stdout.split()

    assert "bubblewrap" in needed(tmp_path) and "pandoc" not in needed(tmp_path)
    assert "pandoc" in needed(REPO)


def test_the_same_lab_gives_the_same_bundle(bundle: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    export.gradescope_bundle(PIPE, again)
    assert again.read_bytes() == bundle.read_bytes()


@pytest.mark.long
def test_run_autograder_grades_the_submission_as_gradescope_hands_it_over(bundle: Path, tmp_path: Path) -> None:
    """The bundle on its own: unpacked into a scratch root, with its own Bazel
    workspace, it grades a submission in a subfolder, hidden tests included."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as z:
        for info in z.infolist():
            z.extract(info, root / "source")
            os.chmod(root / "source" / info.filename, info.external_attr >> 16 & 0o777)
    (root / "submission" / "my-work").mkdir(parents=True)
    shutil.copyfile(REPO / "solutions" / "pipe" / "pipe_lab.cpp", root / "submission" / "my-work" / "pipe_lab.cpp")
    try:
        run = subprocess.run(
            [str(root / "source" / "run_autograder")], env={**os.environ, "IPCLAB_AUTOGRADER_ROOT": str(root)},
            capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
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


# ---- PrairieLearn and Autolab ---------------------------------------------


def test_prairielearn_results_have_the_documented_fields() -> None:
    data = json.loads(report.render_machine(demo_grade(), "prairielearn"))
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
    grade = Grade(lab=demo_grade().lab, label="s", isolation=Isolation(True), gradable=False, diagnostics="demo.cpp:3:1: error: x")
    data = json.loads(report.render_machine(grade, "prairielearn"))
    assert data["gradable"] is False
    assert data["format_errors"] == ["demo.cpp:3:1: error: x"]


def test_the_autolab_autoresult_is_one_line_of_scores_per_problem() -> None:
    grade = demo_grade()
    line = report.render_machine(grade, "autolab")
    assert line.count("\n") == 1 and line.endswith("\n")
    data = json.loads(line)
    assert set(data) == {"scores", "scoreboard"}
    assert list(data["scores"]) == list(report.autolab_problems(grade.lab)) == ["eof", "blocking", "boundaries", "errors", "leaks"]
    assert data["scores"] == {"eof": 6, "blocking": 0, "boundaries": 0, "errors": 2, "leaks": -2}
    assert data["scoreboard"] == [grade.score, *data["scores"].values()]


def test_autograde_for_autolab_ends_with_the_autoresult(tmp_path: Path, capsys) -> None:
    (tmp_path / "submission").mkdir()
    assert cli.main(["autograde", "pipe", str(tmp_path / "submission"), "--format", "autolab"]) == cli.Exit.OK
    lines = capsys.readouterr().out.strip().splitlines()
    assert "Not gradable" in "\n".join(lines[:-1])
    assert json.loads(lines[-1])["scores"] == dict.fromkeys(report.autolab_problems(PIPE), 0.0)
