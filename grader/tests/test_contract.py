"""The contract table: sentences come from the header's declaration
comments, and every entry of contract.toml is checked against the header,
lab.toml, the bug corpus and the last mutation run."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks import contract, corpus
from grader.grading.lab import load_lab

HEADER = """#pragma once
// Preamble: facts to teach, not a contract.

namespace demo {

// ---- Part 1 ----

// Writes every byte. A write interrupted by a signal (EINTR) is retried.
//   example();  // an indented example is not prose
void write_all(int fd);

}  // namespace demo
"""


def test_sentences_are_those_just_above_a_declaration() -> None:
    assert contract.sentences(HEADER) == ["Writes every byte.", "A write interrupted by a signal (EINTR) is retried."]


def write_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    mapping = tmp_path / "contract.toml"
    mapping.write_text(body)
    monkeypatch.setattr(contract, "mapping_file", lambda _: mapping)


def entry(text: str, tests: list[str], proof: str) -> str:
    quoted = ", ".join(f'"{t}"' for t in tests)
    return f'[[sentence]]\ntext = "{text}"\ntests = [{quoted}]\nproof = "{proof}"\n'


EINTR = "A write interrupted by a signal (EINTR) is retried."
EINTR_TEST = "write_all retries a write interrupted by a signal"


def test_a_sentence_with_its_tests_and_a_bug_that_fails_them_is_proved(tmp_path, monkeypatch) -> None:
    write_mapping(tmp_path, monkeypatch, entry(EINTR, [EINTR_TEST], "bug:write_gives_up_on_eintr"))
    table = contract.table(load_lab("pipe"))
    assert table.errors == ()
    row = next(r for r in table.rows if r.sentence == EINTR)
    assert row.standing is contract.Standing.PROVED
    assert table.gaps == len(table.rows) - 1  # every other sentence is unmapped: a gap
    assert f"[proved] {EINTR} → {EINTR_TEST} → bug:write_gives_up_on_eintr" in contract.summary(table)


@pytest.mark.parametrize(
    "body, complaint",
    [
        (entry("A write is retried forever.", [EINTR_TEST], ""), "not in labs/pipe's header word for word"),
        (entry(EINTR, ["no such test"], ""), "names tests lab.toml does not declare"),
        (entry(EINTR, [EINTR_TEST], "bug:no_such_bug"), "no corpus bug 'no_such_bug'"),
        (entry(EINTR, [EINTR_TEST], "bug:single_read"), "is not expected to fail any of"),
        (entry(EINTR, [EINTR_TEST], "mutant:no-such-mutant"), "no mutant 'no-such-mutant'"),
        (entry(EINTR, [EINTR_TEST], "a hunch"), "neither bug:NAME nor mutant:ID"),
    ],
)
def test_an_entry_that_does_not_hold_is_an_error(body: str, complaint: str, tmp_path, monkeypatch) -> None:
    write_mapping(tmp_path, monkeypatch, body)
    table = contract.table(load_lab("pipe"))
    assert len(table.errors) == 1 and complaint in table.errors[0], table.errors


def test_a_sentence_without_a_proof_is_a_gap(tmp_path, monkeypatch) -> None:
    write_mapping(tmp_path, monkeypatch, entry(EINTR, [EINTR_TEST], ""))
    row = next(r for r in contract.table(load_lab("pipe")).rows if r.sentence == EINTR)
    assert row.standing is contract.Standing.NO_PROOF


@pytest.mark.parametrize("name", ["pipe", "fifo", "mq", "shm", "sem", "signals", "channels"])
def test_every_lab_s_contract_file_holds(name: str) -> None:
    assert contract.table(load_lab(name)).errors == ()


WRITES = "Writes every byte of `data` to `fd`, however many write() calls it takes."


def test_a_description_is_no_gap_and_says_why(tmp_path, monkeypatch) -> None:
    write_mapping(tmp_path, monkeypatch, f'[[sentence]]\ntext = "{WRITES}"\ndescribes = "a summary"\n')
    table = contract.table(load_lab("pipe"))
    row = next(r for r in table.rows if r.sentence == WRITES)
    assert table.errors == () and row.standing is contract.Standing.DESCRIPTION
    assert table.gaps == len(table.rows) - 1
    assert f"[describes] {WRITES} — a summary" in contract.summary(table)


def test_a_description_with_tests_is_an_error(tmp_path, monkeypatch) -> None:
    body = f'[[sentence]]\ntext = "{WRITES}"\ndescribes = "a summary"\ntests = ["{EINTR_TEST}"]\n'
    write_mapping(tmp_path, monkeypatch, body)
    table = contract.table(load_lab("pipe"))
    assert len(table.errors) == 1 and "marked as a description but names tests" in table.errors[0]


def test_a_sentence_the_leak_check_proves(tmp_path, monkeypatch) -> None:
    """A bug that leaves something behind proves a sentence checked by the
    leak check; one that only fails tests does not."""
    closes = "Closes the descriptor (mq_close); the owner also removes the name"
    lab = load_lab("mq")
    text = next(s for s in contract._header_sentences(lab) if s.startswith(closes))
    leaky = next(b.name for b in corpus.load_bugs(lab) if b.leaks)
    tight = next(b.name for b in corpus.load_bugs(lab) if not b.leaks)
    write_mapping(tmp_path, monkeypatch, entry(text, [contract.LEAK_CHECK], f"bug:{leaky}"))
    table = contract.table(lab)
    assert table.errors == () and next(r for r in table.rows if r.sentence == text).standing is contract.Standing.PROVED
    write_mapping(tmp_path, monkeypatch, entry(text, [contract.LEAK_CHECK], f"bug:{tight}"))
    assert "is not expected to fail any of" in contract.table(lab).errors[0]
