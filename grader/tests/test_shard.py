"""Sharding a class: which student goes to which shard, and what merging
refuses. (The merged gradebook is compared with an unsharded one, byte for
byte, in test_batch.py, on a graded class.)"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from grader import cli
from grader.classroom import gradebook, shard
from grader.errors import GraderError
from grader.grading.lab import load_lab
from grader.classroom.submission import Submission

PIPE = load_lab("pipe")
CLASS = [Submission(student=f"student-{n:03d}", key=f"student-{n:03d}") for n in range(200)]


def test_every_student_is_in_exactly_one_shard_whatever_the_order() -> None:
    shuffled = CLASS[:]
    random.Random(7).shuffle(shuffled)
    for count in (1, 2, 3, 7):
        slices = [shard.select(CLASS, shard.Shard(k, count)) for k in range(1, count + 1)]
        again = [shard.select(shuffled, shard.Shard(k, count)) for k in range(1, count + 1)]
        assert sorted(s.key for part in slices for s in part) == sorted(s.key for s in CLASS)
        assert [{s.key for s in part} for part in slices] == [{s.key for s in part} for part in again]
        assert all(len(part) > 200 / count / 2 for part in slices), "the slices are roughly even"


def test_a_groups_members_share_a_shard() -> None:
    members = [Submission(student=f"m{n}", key=f"m{n}", group="submission-9") for n in range(5)]
    assert len({shard.shard_of(m, 4) for m in members}) == 1


@pytest.mark.parametrize("text", ["0/3", "4/3", "2", "a/b", "1/0", "-1/2"])
def test_a_shard_is_k_of_n(text: str) -> None:
    with pytest.raises(GraderError, match="is not K/N"):
        shard.Shard.parse(text)
    assert shard.Shard.parse("2/3") == shard.Shard(2, 3)


def fake_shard(directory: Path, index: int, count: int, keys: list[str], everyone: list[str], **changes) -> Path:
    """A shard's output as a batch leaves it: manifest and records, no grading."""
    manifest = {
        "format_version": shard.FORMAT_VERSION,
        "lab": "pipe",
        "grader": shard.grader_version(PIPE),
        "shard": [index, count],
        "layout": "folders",
        "class": shard.class_digest(everyone),
        "students": sorted(keys),
    } | changes
    (directory / gradebook.STATE).mkdir(parents=True)
    (directory / gradebook.STATE / shard.MANIFEST).write_text(json.dumps(manifest))
    for key in keys:
        record = {
            "format_version": gradebook.FORMAT_VERSION,
            "lab": "pipe",
            "key": key,
            "student": key,
            "name": "",
            "platform_id": "",
            "email": "",
            "input": "problem: x",
            "status": gradebook.NOT_GRADABLE,
            "reason": "empty submission",
            "score": 0,
            "max_score": PIPE.max_score,
            "tests": {},
            "leak_deduction": 0,
            "timed_out": [],
            "seconds": 0,
        }
        (directory / gradebook.STATE / f"{key}.json").write_text(json.dumps(record))
    return directory


EVERYONE = ["a", "b", "c"]


def merge(tmp_path: Path, *shards: Path, capsys) -> str:
    assert cli.main(["gradebook", "merge", *map(str, shards), "--output", str(tmp_path / "merged")]) == cli.Exit.ERROR
    assert not (tmp_path / "merged").exists(), "nothing is written"
    return capsys.readouterr().err


def test_merging_refuses_a_missing_shard(tmp_path: Path, capsys) -> None:
    one = fake_shard(tmp_path / "1", 1, 3, ["a"], EVERYONE)
    three = fake_shard(tmp_path / "3", 3, 3, ["c"], EVERYONE)
    assert "shard(s) 2/3 missing" in merge(tmp_path, one, three, capsys=capsys)


def test_merging_refuses_a_shard_given_twice_and_a_student_in_two(tmp_path: Path, capsys) -> None:
    one = fake_shard(tmp_path / "1", 1, 2, ["a"], EVERYONE)
    again = fake_shard(tmp_path / "1b", 1, 2, ["a"], EVERYONE)
    assert "shard 1/2 is given twice" in merge(tmp_path, one, again, capsys=capsys)
    overlapping = fake_shard(tmp_path / "2", 2, 2, ["a", "b", "c"], EVERYONE)
    assert "student 'a' is in two shards" in merge(tmp_path, one, overlapping, capsys=capsys)


def test_merging_refuses_shards_that_do_not_hold_the_whole_class(tmp_path: Path, capsys) -> None:
    one = fake_shard(tmp_path / "1", 1, 2, ["a"], EVERYONE)
    two = fake_shard(tmp_path / "2", 2, 2, ["b"], EVERYONE)
    assert "do not hold the whole class" in merge(tmp_path, one, two, capsys=capsys)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lab", "fifo", "a different lab"),
        ("grader", "0123456789abcdef", "a different grader version"),
        ("class", "another class", "a different class"),
    ],
)
def test_merging_refuses_slices_of_another_lab_grader_or_class(
    tmp_path: Path, capsys, field: str, value: str, message: str
) -> None:
    one = fake_shard(tmp_path / "1", 1, 2, ["a", "b"], EVERYONE)
    two = fake_shard(tmp_path / "2", 2, 2, ["c"], EVERYONE, **{field: value})
    assert message in merge(tmp_path, one, two, capsys=capsys)


def test_merging_refuses_slices_cut_in_different_numbers(tmp_path: Path, capsys) -> None:
    one = fake_shard(tmp_path / "1", 1, 2, ["a", "b"], EVERYONE)
    two = fake_shard(tmp_path / "2", 2, 3, ["c"], EVERYONE)
    assert "different numbers of slices" in merge(tmp_path, one, two, capsys=capsys)


def test_merging_refuses_a_directory_that_is_not_a_shard(tmp_path: Path, capsys) -> None:
    (tmp_path / "plain").mkdir()
    assert "is not the output of a sharded batch" in merge(tmp_path, tmp_path / "plain", capsys=capsys)


def test_merging_refuses_a_shard_that_did_not_finish(tmp_path: Path, capsys) -> None:
    one = fake_shard(tmp_path / "1", 1, 2, ["a", "b"], EVERYONE)
    two = fake_shard(tmp_path / "2", 2, 2, ["c"], EVERYONE)
    (two / gradebook.STATE / "c.json").unlink()
    assert "shard 2/2 did not finish" in merge(tmp_path, one, two, capsys=capsys)


def test_merged_fake_shards_give_one_row_per_student(tmp_path: Path) -> None:
    one = fake_shard(tmp_path / "1", 1, 2, ["a", "c"], EVERYONE)
    two = fake_shard(tmp_path / "2", 2, 2, ["b"], EVERYONE)
    assert cli.main(["gradebook", "merge", str(two), str(one), "--output", str(tmp_path / "merged")]) == cli.Exit.OK
    rows = (tmp_path / "merged" / "gradebook.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["a", "b", "c"]
    assert json.loads((tmp_path / "merged" / "summary.json").read_text())["students"] == 3


def test_a_shards_directory_is_not_resumed_as_another_shard(tmp_path: Path) -> None:
    fake_shard(tmp_path / "1", 1, 2, ["a"], EVERYONE)
    with pytest.raises(GraderError, match="holds shard 1/2, not 2/2"):
        shard.write_manifest(tmp_path / "1", PIPE, shard.Shard(2, 2), "folders", CLASS[:1], CLASS[:1])


def test_a_shards_directory_is_not_resumed_as_the_whole_class(tmp_path: Path) -> None:
    fake_shard(tmp_path / "1", 1, 2, ["a"], EVERYONE)
    with pytest.raises(GraderError, match="holds shard 1/2 of a sharded batch"):
        shard.refuse_unsharded(tmp_path / "1")
    shard.refuse_unsharded(tmp_path / "elsewhere")  # no manifest: nothing to refuse
