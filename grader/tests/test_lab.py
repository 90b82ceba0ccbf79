"""lab.toml: what a valid lab looks like, and the clear refusals of broken ones."""

from __future__ import annotations

import pytest

from grader.grading import lab as labs
from grader.errors import GraderError

VALID_TEST = """
[[tests]]
name = "{name}"
points = {points}
category = "ordering"
hint = "a hint"
{extra}
"""


def parse(tests: str, header: str = '[lab]\ntitle = "t"\nstudent_files = ["x.cpp"]\n') -> labs.Lab:
    import tomllib

    return labs._parse("demo", tomllib.loads(header + tests), labs.Path("labs/demo/lab.toml"))


def entry(name: str = "a test", points: int = 5, extra: str = "") -> str:
    return VALID_TEST.format(name=name, points=points, extra=extra)


def test_the_pipe_lab_is_valid_and_worth_100_points() -> None:
    pipe = labs.load_lab("pipe")
    assert pipe.max_score == 100
    assert pipe.student_files == ("pipe_lab.cpp",)
    assert any(t.hidden for t in pipe.tests) and any(not t.hidden for t in pipe.tests)


def test_a_hidden_test_defaults_to_gradescope_visibility_after_published() -> None:
    lab = parse(entry(extra="hidden = true"))
    assert lab.tests[0].visibility == "after_published"


def test_an_unknown_lab_names_the_labs_there_are() -> None:
    with pytest.raises(GraderError) as error:
        labs.load_lab("pipes")
    assert "pipe" in (error.value.tip or "")


@pytest.mark.parametrize(
    "tests, complaint",
    [
        (entry("same") + entry("Same"), "declared twice"),
        (entry("a, b"), "may not contain"),
        (entry(extra='depends = ["nowhere"]'), "depends on 'nowhere'"),
        (entry(extra='category = "speed"').replace('category = "ordering"\n', ""), "category 'speed'"),
        ('[[tests]]\nname = "no points"\ncategory = "eof"\nhint = "h"\n', "lacks points"),
        (entry() + "[tests.hints]\ncause = 3\n", "must map each cause to its hint"),
    ],
)
def test_a_broken_lab_toml_is_refused_with_the_reason(tests: str, complaint: str) -> None:
    with pytest.raises(GraderError) as error:
        parse(tests)
    assert complaint in error.value.message


def test_lab_toml_and_the_test_binary_must_agree() -> None:
    lab = parse(entry("declared") + entry("hidden one", extra="hidden = true"))
    labs.check_against_binary(lab, {"declared": False, "hidden one": True})
    with pytest.raises(GraderError) as error:
        labs.check_against_binary(lab, {"declared": False, "hidden one": True, "undeclared": False})
    assert "'undeclared' is in the tests but has no entry" in error.value.message
    with pytest.raises(GraderError) as error:
        labs.check_against_binary(lab, {"declared": True, "hidden one": True})
    assert "hidden = false" in error.value.message


def test_labs_are_listed_in_the_courses_order_then_alphabetically(tmp_path, monkeypatch) -> None:
    for name in ("zeta", "fifo", "alpha", "pipe"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "lab.toml").write_text("")
    (tmp_path / "course.toml").write_text('order = ["pipe", "fifo", "gone"]\n')
    monkeypatch.setattr(labs, "LABS", tmp_path)
    assert labs.available_labs() == ["pipe", "fifo", "alpha", "zeta"]
    (tmp_path / "course.toml").unlink()  # a starter pack has no list
    assert labs.available_labs() == ["alpha", "fifo", "pipe", "zeta"]
    (tmp_path / "course.toml").write_text('order = "pipe"\n')
    with pytest.raises(GraderError, match="order must be a list of lab names"):
        labs.available_labs()


def test_a_hint_for_an_observed_cause_replaces_the_test_s_hint() -> None:
    lab = parse(entry() + '[tests.hints]\n"wrong stage" = "  Return the last stage\'s status.  "\n')
    spec = lab.tests[0]
    assert spec.hints_for(("wrong stage",)) == ["Return the last stage's status."]
    assert spec.hints_for(()) == [spec.hint]
    assert spec.hints_for(("a cause lab.toml does not name",)) == [spec.hint]
