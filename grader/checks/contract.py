"""The contract table: each behavioural sentence of a lab's header, the tests
that check it, and a corpus bug or mutant that proves those tests can fail.

The sentences are those of the comments written just above a declaration
in labs/LAB/*.h (the header's preamble of facts is teaching, not contract).
The mapping is kept in solutions/LAB/contract.toml (it names hidden tests,
so it is never shipped):

    [[sentence]]
    text = "A write interrupted by a signal (EINTR) is retried."
    tests = ["write_all retries a write interrupted by a signal"]
    proof = "bug:write_gives_up_on_eintr"     # or "mutant:stop-on-eintr-34b0acf0"

A sentence about what a process must not leave behind ("Closes this side's
ends.") is checked by the leak check that runs after every test; it names
that check as its test, and its proof is a bug or mutant the leak check
caught:

    tests = ["the leak check"]
    proof = "mutant:delete-call-ff00422d"     # killed by "leak: descriptor"

A sentence that names a thing and promises no behaviour ("One request and
its reply.") is marked as such, with why, in place of tests and a proof:

    [[sentence]]
    text = "One request and its reply."
    describes = "names the struct below; its fields' sentences are the contract"

Each entry is checked: the text is in the header word for word, the tests
are in lab.toml, and the proof is a corpus bug that names one of those
tests as failing, or a mutant whose last full run was killed by one of
them. A sentence with no entry, no test or no proof is a gap in the table.
"""

from __future__ import annotations

import re
from grader import toml
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from grader.checks import corpus, mutants
from grader.grading.lab import Lab


# The inspector's check, after every test, of what the test's processes
# left behind: not a test of lab.toml, but a checker a sentence may name.
LEAK_CHECK = "the leak check"


class Standing(str, Enum):
    PROVED = "proved"
    DESCRIPTION = "describes"
    NO_TEST = "gap: no test"
    NO_PROOF = "gap: no proof"


@dataclass(frozen=True)
class Row:
    sentence: str
    tests: tuple[str, ...]
    proof: str
    standing: Standing
    why: str = ""  # a description's reason


@dataclass(frozen=True)
class Table:
    lab: str
    rows: tuple[Row, ...]
    errors: tuple[str, ...]  # entries of contract.toml that do not hold

    @property
    def gaps(self) -> int:
        return sum(1 for r in self.rows if r.standing in (Standing.NO_TEST, Standing.NO_PROOF))


def mapping_file(lab: Lab) -> Path:
    return lab.solution_directory / "contract.toml"


def headers(lab: Lab) -> list[Path]:
    return sorted(p for p in lab.directory.glob("*.h") if not p.name.endswith("_test_support.h"))


def _comment(line: str) -> str | None:
    stripped = line.strip()
    return stripped[2:].strip() if stripped.startswith("//") else None


def _is_example(line: str) -> bool:
    """An indented comment line is a code example or a list, not prose."""
    return line.strip().startswith("//   ")


def _words(text: str) -> str:
    return " ".join(text.split())


def sentences(header_text: str) -> list[str]:
    """The sentences of every comment block that ends just above a
    declaration (a line of code, not a `#` line or a section rule)."""
    found: list[str] = []
    block: list[str] = []
    for line in header_text.splitlines():
        text = _comment(line)
        if text is not None:
            if not _is_example(line):
                block.append(text)
            continue
        stripped = line.strip()
        if block and stripped and not stripped.startswith(("#", "namespace", "}")):
            found += _split(" ".join(b for b in block if not b.startswith("----")))
        block = []
    return [s for s in found if s]


def _split(text: str) -> list[str]:
    return [_words(s) for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", _words(text))]


def comment_text(lab: Lab) -> str:
    """Every comment of the lab's headers, as one line of words; examples
    and lists are left out, as the table's sentences leave them out."""
    return _words(
        " ".join(
            t
            for p in headers(lab)
            for line in p.read_text().splitlines()
            if (t := _comment(line)) and not _is_example(line)
        )
    )


def table(lab: Lab) -> Table:
    path = mapping_file(lab)
    entries = toml.loads(path.read_text()).get("sentence", []) if path.exists() else []
    everything = comment_text(lab)
    declared = {t.name for t in lab.tests}
    bugs = {b.name: b for b in corpus.load_bugs(lab)} if corpus.bugs_directory(lab).is_dir() else {}
    result = mutants.load_result(mutants.result_file(lab))
    errors: list[str] = []
    mapped: dict[str, Row] = {}
    for entry in entries:
        text, tests, proof = _words(entry.get("text", "")), tuple(entry.get("tests", [])), entry.get("proof", "")
        if text not in everything:
            errors.append(f"contract.toml: not in labs/{lab.name}'s header word for word: {text!r}")
            continue
        why = _words(entry.get("describes", ""))
        if why:
            if tests or proof:
                errors.append(f"contract.toml: {text!r} is marked as a description but names tests or a proof")
                continue
            mapped[text] = Row(text, (), "", Standing.DESCRIPTION, why)
            continue
        unknown = [t for t in tests if t not in declared and t != LEAK_CHECK]
        if unknown:
            errors.append(f"contract.toml: {text!r} names tests lab.toml does not declare: {unknown}")
            continue
        wrong = _proof_problem(proof, tests, bugs, result) if proof else ""
        if wrong:
            errors.append(f"contract.toml: {text!r}: {wrong}")
            continue
        standing = Standing.NO_TEST if not tests else Standing.NO_PROOF if not proof else Standing.PROVED
        mapped[text] = Row(text, tests, proof, standing)
    rows = [mapped.pop(s, Row(s, (), "", Standing.NO_TEST)) for s in _unique(_header_sentences(lab))]
    rows += list(mapped.values())  # sentences of the preamble that an entry names on purpose
    return Table(lab.name, tuple(rows), tuple(errors))


def _header_sentences(lab: Lab) -> list[str]:
    return [s for p in headers(lab) for s in sentences(p.read_text())]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _proof_problem(
    proof: str, tests: tuple[str, ...], bugs: dict[str, corpus.Bug], result: mutants.Result | None
) -> str:
    kind, _, name = proof.partition(":")
    if kind == "bug":
        if name not in bugs:
            return f"no corpus bug {name!r} in bugs/"
        caught_by_leak_check = LEAK_CHECK in tests and bool(bugs[name].leaks)
        if not bugs[name].fails & set(tests) and not caught_by_leak_check:
            return f"bug {name!r} is not expected to fail any of {list(tests)}"
        return ""
    if kind == "mutant":
        if result is None or name not in result.verdicts:
            return f"no mutant {name!r} in the last full mutation run"
        verdict = result.verdicts[name]
        killer = str(verdict.get("by", "")).rsplit(" (", 1)[0]
        if killer.startswith("leak: "):
            killer = LEAK_CHECK
        if verdict.get("outcome") != mutants.Outcome.KILLED.value or killer not in tests:
            return f"mutant {name!r} was not killed by one of {list(tests)} (outcome {verdict.get('outcome')}, by {killer!r})"
        return ""
    return f"proof {proof!r} is neither bug:NAME nor mutant:ID"


def summary(contract: Table) -> str:
    """selfcheck's detail: counts, then one line per sentence."""
    proved = sum(1 for r in contract.rows if r.standing is Standing.PROVED)
    described = sum(1 for r in contract.rows if r.standing is Standing.DESCRIPTION)
    counts = f"{proved} proved, {_count(described, 'description')}, {_count(contract.gaps, 'gap')}"
    lines = [f"{_count(len(contract.rows), 'sentence')}: {counts}"]
    for row in contract.rows:
        lines.append(f"[{row.standing.value}] {row.sentence}{_evidence(row)}")
    return "\n".join(lines)


def _evidence(row: Row) -> str:
    if row.standing is Standing.PROVED:
        return f" → {'; '.join(row.tests)} → {row.proof}"
    if row.standing is Standing.DESCRIPTION:
        return f" — {row.why}"
    return ""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
