"""./grade mutants: the operators, the edits they make, the score and its
staleness, and a small fixed sample per lab graded for real: one mutant the
tests must kill and one equivalent mutant that must survive."""

from __future__ import annotations

import shutil

import pytest

from grader.checks import corpus, mutants
from grader.errors import GraderError
from grader.grading.lab import REPO, Lab, load_lab

# ---- the operators -----------------------------------------------------------


def test_a_cleanup_call_is_deleted_and_a_guarded_one_loses_its_body() -> None:
    assert list(mutants.delete_call("  ::close(fd);")) == [("delete-call", "  // (deleted)")]
    assert list(mutants.delete_call("    if (fd_ >= 0) ::close(fd_);")) == [("delete-call", "    if (fd_ >= 0) {}")]
    assert list(mutants.delete_call("  const int n = ::close(fd);")) == []
    assert list(mutants.delete_call("  return ::close(fd);")) == []
    assert list(mutants.delete_call("  compute(x);")) == []  # not a call whose loss is a known bug


def test_flags_are_dropped_and_added() -> None:
    line = "  const int fd = ::open(path, O_WRONLY | O_NONBLOCK);"
    made = list(mutants.flag(line))
    assert ("drop-flag", "  const int fd = ::open(path, O_WRONLY);") in made
    assert ("add-flag", "  int q = ::mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);") in list(
        mutants.flag("  int q = ::mq_open(name, O_CREAT | O_RDWR, 0600, &attr);")
    )
    assert list(mutants.flag("  action.sa_flags = 0;")) == [("add-flag", "  action.sa_flags = SA_RESTART;")]
    assert list(mutants.flag('  throw_errno("sem_open(O_CREAT | O_EXCL)");')) == []  # a message, not code


def test_a_retry_loop_becomes_one_call_and_eintr_stops_it() -> None:
    assert list(mutants.retry_once("  while (::waitpid(pid, &status, 0) < 0) {")) == [
        ("retry-once", "  if (::waitpid(pid, &status, 0) < 0) {")
    ]
    assert ("stop-on-eintr", "    if (n < 0 && errno == EINTR) break;") in list(
        mutants.retry_once("    if (n < 0 && errno == EINTR) continue;")
    )


def test_comparisons_and_sizes_are_moved_by_one() -> None:
    made = {new for _, new in mutants.off_by_one("  for (size_t i = 0; i + 1 < n; ++i) {")}
    assert made == {"  for (size_t i = 0; i + 1 <= n; ++i) {", "  for (size_t i = 0; i < n; ++i) {"}
    assert list(mutants.off_by_one("  std::vector<char*> argv;")) == []  # a template, not a comparison


def test_two_arguments_of_a_call_are_swapped() -> None:
    assert list(mutants.swap_arguments("  ::dup2(a.get(), STDIN_FILENO);")) == [
        ("swap-arguments", "  ::dup2(STDIN_FILENO, a.get());")
    ]
    assert list(mutants.swap_arguments("  ::close(fd);")) == []
    assert list(mutants.swap_arguments("  std::swap(fd_, other.fd_);")) == []  # the same either way


# ---- generating: edits in the corpus's format ------------------------------------


@pytest.mark.parametrize("name", ["pipe", "fifo", "mq", "shm", "sem", "signals", "channels"])
def test_every_mutant_is_an_edit_that_matches_the_reference_once(name: str, tmp_path) -> None:
    lab = load_lab(name)
    generated = mutants.generate(lab)
    assert len(generated) >= 20, f"{name}: only {len(generated)} mutants"
    assert len({m.id for m in generated}) == len(generated)
    reference = (lab.solution_directory / lab.student_files[0]).read_text()
    for mutant in generated:
        assert reference.count(mutant.change.old) == 1, mutant.diff()
        assert mutant.change.old != mutant.change.new
    assert [m.id for m in mutants.generate(lab)] == [m.id for m in generated]  # the same ids every time
    mutant = generated[0]
    written = corpus.materialize(lab, mutant.as_bug(), tmp_path)
    assert mutant.change.new in (written / mutant.file).read_text()


def test_a_sample_is_the_same_every_time_and_no_larger_than_asked() -> None:
    generated = mutants.generate(load_lab("pipe"))
    first = mutants.sample(generated, 5, "pipe")
    assert len(first) == 5 and first == mutants.sample(generated, 5, "pipe")
    assert mutants.sample(generated, len(generated) + 1, "pipe") == generated


def test_a_mutant_shows_as_a_diff() -> None:
    mutant = next(m for m in mutants.generate(load_lab("pipe")) if m.operator == "retry-once")
    diff = mutant.diff()
    assert "- " in diff and "+ " in diff and "retry-once" in diff and "pipe_lab.cpp:" in diff


# ---- the score, its floor, its staleness -------------------------------------------


def result(**outcomes: str) -> mutants.Result:
    verdicts = {i: {"outcome": o} for i, o in outcomes.items()}
    return mutants.Result("pipe", {"reference": "r", "tests": "t", "harness": "h"}, verdicts, generated=len(verdicts))


EQUIVALENT = {"b": mutants.Equivalent("b", "does the same")}


def test_the_score_counts_killed_over_non_equivalent_mutants_that_built() -> None:
    judged = result(a="killed", b="survived", c="stillborn", d="killed", e="survived")
    assert judged.score(EQUIVALENT) == (2, 3)
    assert judged.survivors(EQUIVALENT) == ["e"]
    assert judged.to_json(EQUIVALENT)["score"] == round(2 / 3, 4)


def test_selfcheck_fails_a_survivor_a_score_below_the_floor_and_a_stale_marking() -> None:
    with pytest.raises(mutants.BelowStandard) as failed:
        mutants.verdict_line(result(a="killed", e="survived"), EQUIVALENT, 1.0, ["gone-1234"], [])
    message = str(failed.value)
    assert "below the lab's floor 100%" in message and "surviving mutants: e" in message and "gone-1234" in message
    line = mutants.verdict_line(result(a="killed", b="survived", c="stillborn"), EQUIVALENT, 1.0, [], [])
    assert line.startswith("1/1 killed (100%, floor 100%)") and "1 stillborn, 1 equivalent" in line
    assert "stale" not in line and "surviving" not in line
    # At or above the floor, a survivor is shown but does not fail the lab.
    line = mutants.verdict_line(result(a="killed", e="survived"), {}, 0.5, [], [])
    assert line.startswith("1/2 killed (50%, floor 50%)") and "surviving mutants: e" in line


def test_a_result_made_on_other_files_is_shown_stale_not_failed() -> None:
    line = mutants.verdict_line(result(a="killed"), {}, 1.0, [], ["tests", "harness"])
    assert "stale: the tests, the harness changed since this run" in line
    assert "./grade mutants pipe" in line
    # A changed reference makes old markings stale too: reported, not failed.
    line = mutants.verdict_line(result(a="killed"), {}, 1.0, ["gone-1234"], ["reference"])
    assert "stale: the reference changed" in line and "no longer mutants of the reference: gone-1234" in line


def test_a_result_is_stale_once_a_test_file_changes() -> None:
    lab = load_lab("pipe")
    made = mutants.Result("pipe", mutants.fingerprint(lab))
    assert mutants.staleness(lab, made) == []
    made.fingerprint["tests"] = "an older one"
    assert mutants.staleness(lab, made) == ["tests"]


def test_an_equivalent_marking_needs_a_reason(tmp_path, monkeypatch) -> None:
    marks = tmp_path / "mutants.toml"
    marks.write_text('[[equivalent]]\nid = "x"\nwhy = ""\n')
    monkeypatch.setattr(mutants, "equivalents_file", lambda _: marks)
    monkeypatch.setattr(mutants, "REPO", tmp_path)
    with pytest.raises(GraderError, match="has no `why`"):
        mutants.load_equivalents(load_lab("pipe"))


def test_every_marking_names_a_mutant_of_the_reference() -> None:
    for name in ("pipe", "fifo", "mq", "shm", "sem", "signals", "channels"):
        lab = load_lab(name)
        assert mutants.stale_markings(lab, mutants.generate(lab)) == [], name


# ---- the fixed sample, graded for real ---------------------------------------------

# Per lab: a mutant the tests must kill, one that does not compile, and an
# equivalent one (marked in the lab's mutants.toml) that must survive every
# test; None where every surviving mutant got a test that kills it.
SAMPLE: dict[str, tuple[str, str, str | None]] = {
    "pipe": ("off-by-one-17a8241d", "swap-arguments-72831de3", "off-by-one-fb920f89"),
    "fifo": ("off-by-one-17a6612d", "swap-arguments-328e30e7", "off-by-one-5204db2b"),
    "mq": ("drop-flag-c4c7e920", "swap-arguments-0ffd45aa", None),
    "shm": ("drop-flag-72ff5baa", "swap-arguments-0672fabe", "off-by-one-c0fc4e9b"),
    "sem": ("drop-flag-caa71d6a", "retry-once-8a6db15f", "off-by-one-e8b6b43a"),
    "signals": ("off-by-one-c0b90c55", "retry-once-2917330d", "off-by-one-39bd35a1"),
    # A surviving channels mutant runs all 57 tests, a minute and more: none here.
    "channels": ("off-by-one-69bedfc5", "swap-arguments-03728ce3", None),
}


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_the_sample_mutants_are_killed_stillborn_and_surviving_as_expected(name: str, box) -> None:
    lab: Lab = load_lab(name)
    killed_id, stillborn_id, equivalent_id = SAMPLE[name]
    expected = {killed_id: mutants.Outcome.KILLED, stillborn_id: mutants.Outcome.STILLBORN}
    if equivalent_id is not None:
        assert equivalent_id in mutants.load_equivalents(lab)
        expected[equivalent_id] = mutants.Outcome.SURVIVED
    chosen = [m for m in mutants.generate(lab) if m.id in expected]
    assert {m.id for m in chosen} == set(expected), "a sample mutant is no longer a mutant of the reference"
    judged: dict[str, mutants.Judged] = {}
    mutants.judge_all(lab, chosen, box, 2, lambda j: judged.__setitem__(j.mutant.id, j))
    assert {i: j.outcome for i, j in judged.items()} == expected, judged
    assert judged[killed_id].by  # the test that killed it


# ---- resuming ------------------------------------------------------------------------


def test_resume_skips_the_mutants_judged_against_the_same_files(tmp_path, monkeypatch) -> None:
    lab = load_lab("pipe")
    monkeypatch.setattr(mutants, "PROGRESS_DIRECTORY", tmp_path / "progress")
    monkeypatch.setattr(mutants, "result_file", lambda _: tmp_path / "result.json")
    graded: list[list[str]] = []

    def pretend_to_grade(_lab, todo, _sandbox, _jobs, record) -> None:
        graded.append([m.id for m in todo])
        for mutant in todo:
            record(mutants.Judged(mutant, mutants.Outcome.KILLED, "a test"))

    monkeypatch.setattr(mutants, "judge_all", pretend_to_grade)
    everything = [m.id for m in mutants.generate(lab)]
    mutants.run(lab, None, count=3)  # type: ignore[arg-type]
    assert len(graded[-1]) == 3 and not (tmp_path / "result.json").exists()  # a sample is not a full result
    result, _ = mutants.run(lab, None, resume=True)  # type: ignore[arg-type]
    assert sorted(graded[-1]) == sorted(set(everything) - set(graded[0]))
    assert len(result.verdicts) == len(everything) and (tmp_path / "result.json").exists()
    mutants.run(lab, None, resume=True)  # type: ignore[arg-type]
    assert graded[-1] == []
    monkeypatch.setattr(mutants, "fingerprint", lambda _: {"reference": "changed", "tests": "t", "harness": "h"})
    mutants.run(lab, None, resume=True)  # type: ignore[arg-type]
    assert sorted(graded[-1]) == sorted(everything)  # judged against other files: all again


def test_the_fingerprint_ignores_what_builds_no_test(tmp_path, monkeypatch) -> None:
    """The contract table, the bug corpus and the benchmark are edited
    without changing a verdict: they must not make a mutation run stale.
    (On a copy of the lab: other tests read and build the real files.)"""
    from grader.grading import lab as lab_module

    for part in ("labs", "solutions"):
        shutil.copytree(REPO / part / "channels", tmp_path / part / "channels")
    lab = load_lab("channels")
    monkeypatch.setattr(lab_module, "LABS", tmp_path / "labs")
    monkeypatch.setattr(lab_module, "SOLUTIONS", tmp_path / "solutions")
    monkeypatch.setattr(mutants, "REPO", tmp_path)
    before = mutants.fingerprint(lab)
    solution = tmp_path / "solutions" / "channels"
    for path in (solution / "contract.toml", solution / "bench" / "bench.h", next((solution / "bugs").glob("*"))):
        path.write_text((path.read_text() if path.exists() else "") + "\n# edited\n")
        assert mutants.fingerprint(lab) == before, path
    (solution / "hidden_test.cpp").write_text((solution / "hidden_test.cpp").read_text() + "\n// edited\n")
    assert mutants.fingerprint(lab)["tests"] != before["tests"]
