"""./grade — the one entry point.

    ./grade                      every lab at a glance: one table, its reference
                                 and skeleton graded (--details: each grade in full)
    ./grade LAB [options]        grade one submission of LAB
    ./grade watch LAB [--submission DIR]
                                 grade again on every save, and say what changed
    ./grade list                 the labs in this repository
    ./grade corpus [LAB ...]     grade each lab's bug corpus: every bug must
                                 fail exactly the tests it names
    ./grade selfcheck [LAB ...]  is each lab fit to publish? one table
    ./grade new-lab NAME [--title TITLE]
                                 scaffold a lab that builds, around one example
    ./grade mutants LAB [--jobs N] [--resume] [--sample K]
                                 mutation analysis of the reference: the
                                 mutants no test kills, with their diff
    ./grade handout LAB ... | --all [--output DIR]
                                 write-ups (HTML) and starter packs into dist/
    ./grade batch LAB SUBMISSIONS --out DIR
                                 grade a whole class: gradebook, feedback, summary
    ./grade batch LAB SUBMISSIONS --out DIR --shard K/N
                                 grade one slice of a class, on one of N machines
    ./grade gradebook merge DIR ... --output DIR
                                 join the slices into the class's gradebook
    ./grade report DIR           rebuild a batch's class report for staff
                                 (DIR/report.html) from its output directory
    ./grade export gradescope LAB --output autograder.zip
                                 a Gradescope autograder bundle of this grader
    ./grade export prairielearn|autolab LAB [--output DIR]
                                 PrairieLearn's external grader (image recipe,
                                 entrypoint, info.json); Autolab's autograde
                                 Makefile and tar
    ./grade autograde LAB SUBMISSION --format F
                                 grade one submission as a course platform hands
                                 it over (files at any depth, or an archive)
    ./grade bench channels [--submission DIR] [--plot FILE.png|.svg]
                                 the lab's benchmark: reference and submission
                                 beside the machine's own limits

main(argv) is a plain function the tests call; ./grade is a thin wrapper.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from enum import IntEnum
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader import watch
from grader.bench import measure as bench, report as bench_report
from grader.checks import corpus, mutants, selfcheck
from grader.classroom import class_report, gradebook, shard
from grader.grading import pipeline, sandbox
from grader.publishing import autograde as autograding, export, handout, starter_pack
from grader.reports import machine, terminal
from grader import atomic
from grader import overview as lab_overview
from grader.errors import GraderError
from grader.grading.lab import REPO, Lab, available_labs, load_lab
from grader.reports.untrusted import terminal_text


class Exit(IntEnum):
    OK = 0
    LAB_BROKEN = 1  # a lab's reference fails, or its skeleton scores: fix the lab
    ERROR = 2  # the grader could not do its job (never the student's fault)


def main(argv: list[str]) -> int:
    err = _console(stderr=True)
    try:
        if not argv or argv == ["--details"]:
            return overview(_console(), details=bool(argv))
        if argv[0] in COMMANDS:
            return COMMANDS[argv[0]](argv[1:])
        return grade_one(parse_grade_args(argv))
    except GraderError as e:
        # A message can quote a submission (a compiler's words, a file name
        # from an archive): never parsed as markup, controls escaped.
        err.print(Text("error: ", style="bold red") + terminal_text(e.message), soft_wrap=True)
        if e.tip:
            err.print(
                Text("tip: ", style="bold") + terminal_text(e.tip), soft_wrap=True
            )  # never break a sentence tests or tools look for
        return Exit.ERROR


def list_labs(_: list[str]) -> int:
    print("\n".join(available_labs()))
    return Exit.OK


def check_corpus(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./grade corpus", description="Grade every lab's bug corpus.")
    parser.add_argument("labs", nargs="*", help="labs to check (default: all)")
    _add_jobs(parser, "bugs graded at once")
    args = parser.parse_args(argv)
    console = _console()
    box = detect_sandbox()
    verdicts = []
    for name in args.labs or available_labs():
        lab = load_lab(name)
        if not lab.has_solution:
            raise GraderError(
                f"lab {name!r} has no solutions/ here, so no bug corpus",
                tip="the corpus is the instructor's: run this in the course repository, not a starter pack",
            )
        with console.status(f"{name}: grading the bug corpus …"):
            verdicts += [(lab, v) for v in corpus.check_lab(lab, box, args.jobs)]
    terminal.print_corpus(verdicts, console)
    return Exit.OK if all(v.ok for _, v in verdicts) else Exit.LAB_BROKEN


def self_check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./grade selfcheck",
        description="Check that each lab is fit to publish: reference, skeleton, lab.toml, bug corpus, "
        "hidden tests, handout and starter pack.",
    )
    parser.add_argument("labs", nargs="*", help="labs to check (default: all)")
    _add_jobs(parser, "tests, and bugs of the corpus, graded at once")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=selfcheck.STEP_NAMES,
        metavar="CHECK",
        help="leave a check out (repeatable): " + ", ".join(repr(n) for n in selfcheck.STEP_NAMES),
    )
    args = parser.parse_args(argv)
    console = _console()
    labs = [load_lab(name) for name in args.labs or available_labs()]
    _refuse_starter_pack(labs, "./grade selfcheck checks each lab's reference, corpus and hidden tests")
    box = detect_sandbox()
    checks = []
    for lab in labs:
        checks += selfcheck.check_lab(lab, box, console, args.jobs, frozenset(args.skip))
    selfcheck.print_table(checks, console)
    return Exit.OK if all(c.ok for c in checks) else Exit.LAB_BROKEN


DIST = REPO / "dist"


def publish(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./grade handout",
        description="Render each lab's write-up to HTML and build its starter pack; "
        "--all also writes index.html linking them.",
    )
    parser.add_argument("labs", nargs="*", help="the labs to publish")
    parser.add_argument("--all", action="store_true", help="every lab, and the index page")
    parser.add_argument("--output", type=Path, default=DIST, help="where to write (default: dist/)")
    args = parser.parse_args(argv)
    if bool(args.labs) == args.all:
        raise GraderError(
            "name the labs to publish, or pass --all", tip="./grade handout pipe   or   ./grade handout --all"
        )
    labs = [load_lab(name) for name in (available_labs() if args.all else args.labs)]
    console = _console()
    for lab in labs:
        html = handout.render(lab)
        page = args.output / f"{lab.name}.html"
        starter_pack.write_public_file(page, html.encode())
        pack = starter_pack.write(starter_pack.build(lab, html), args.output)
        console.print(f"{lab.name}: {_shown(page)}, {_shown(pack)} ({pack.stat().st_size / 1024:.0f} KiB)")
    if args.all:
        index = args.output / "index.html"
        starter_pack.write_public_file(index, handout.index_page(labs).encode())
        console.print(f"index: {_shown(index)}")
    return Exit.OK


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def grade_batch(argv: list[str]) -> int:
    # Imported here, not at the top: batch's progress display needs rich 12,
    # and a course platform's image may have an older rich (Ubuntu 22.04's
    # is 11.2) on a grading path that never runs a batch.
    from grader.classroom import batch

    parser = argparse.ArgumentParser(
        prog="./grade batch",
        description="Grade a whole class: DIR/gradebook.csv, DIR/canvas.csv, DIR/summary.json, "
        "DIR/results/<student>.json (Gradescope), DIR/feedback/<student>.md, and the class report for staff, "
        "DIR/report.html (rebuilt by ./grade report DIR).",
    )
    parser.add_argument("lab", help="the lab: " + ", ".join(available_labs()))
    parser.add_argument(
        "submissions",
        type=Path,
        help="a folder of student folders, a Gradescope export, " "a Canvas download, or a .zip/.tar.gz of one",
    )
    parser.add_argument("--out", type=Path, required=True, help="where the gradebook and feedback go")
    _add_jobs(parser, "students graded at once")
    parser.add_argument(
        "--test-jobs",
        type=_positive,
        default=batch.Options.test_jobs,
        metavar="M",
        help=f"tests of one student run at once (default: {batch.Options.test_jobs})",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted batch: grade only what is missing"
    )
    parser.add_argument(
        "--compile-first",
        action="store_true",
        help="compile and link every submission before grading any (may help on a machine with many cores)",
    )
    parser.add_argument(
        "--shard",
        type=shard.Shard.parse,
        metavar="K/N",
        help="grade only the K-th of N slices of the class (for several machines; join the slices "
        "with ./grade gradebook merge)",
    )
    parser.add_argument(
        "--canvas-assignment",
        type=gradebook.check_canvas_assignment,
        metavar='"TITLE (ID)"',
        help="canvas.csv's column: the Canvas assignment to update, named as Canvas's gradebook export "
        'names it, such as "Lab 1 (1234)" (default: the lab\'s name, which Canvas imports as a new '
        "assignment)",
    )
    args = parser.parse_args(argv)
    lab = load_lab(args.lab)
    console = _console()
    options = batch.Options(
        jobs=args.jobs,
        test_jobs=args.test_jobs,
        resume=args.resume,
        compile_first=args.compile_first,
        shard=args.shard,
        canvas_assignment=args.canvas_assignment,
    )
    outcome = batch.run(lab, args.submissions, args.out, options, detect_sandbox(), console)
    terminal.print_batch(outcome.summary, console)
    if outcome.graded_now:
        rate = 60 * outcome.graded_now / outcome.seconds
        stages = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in outcome.stages.items())
        console.print(
            f"built and ran {outcome.graded_now} submissions in {outcome.seconds:.0f} s ({stages}): "
            f"{rate:.1f} per minute with --jobs {args.jobs}"
        )
    console.print(f"gradebook: {args.out / 'gradebook.csv'}; feedback: {args.out / 'feedback'}/")
    console.print(f"class report (for staff): {args.out / class_report.PAGE}")
    if outcome.summary["grader_errors"]:
        raise GraderError(
            f"the grader failed on {outcome.summary['grader_errors']} student(s); their rows say why",
            tip="fix the cause, then run the same command with --resume: only they are graded again",
        )
    return Exit.OK


def merge_gradebooks(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./grade gradebook",
        description="merge: join the output directories of ./grade batch … --shard K/N, one per shard, into the "
        "output an unsharded batch writes (gradebook.csv, canvas.csv and summary.json byte for byte the same).",
    )
    parser.add_argument("action", choices=("merge",))
    parser.add_argument("shards", nargs="+", type=Path, metavar="DIR", help="the --out of every shard")
    parser.add_argument("--output", type=Path, required=True, help="a new directory for the whole class")
    args = parser.parse_args(argv)
    data = shard.merge(args.shards, args.output)
    terminal.print_batch(data, _console())
    print(f"gradebook: {args.output / 'gradebook.csv'}; feedback: {args.output / 'feedback'}/")
    return Exit.OK


def rebuild_class_report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./grade report",
        description="Rebuild a batch's class report for course staff from its output directory alone: "
        "DIR/report.html (one self-contained page: score distribution, pass rates per test and category, "
        "failure causes, leaks, build errors, each group's students linked to their feedback) and "
        "DIR/class_report.json (the same figures).",
    )
    parser.add_argument("out", type=Path, metavar="DIR", help="the --out directory of a ./grade batch run")
    args = parser.parse_args(argv)
    page = class_report.write(args.out)
    print(f"class report (for staff): {page}")
    return Exit.OK


EXPORT_DEFAULTS = {"gradescope": "autograder.zip", "prairielearn": "prairielearn-{lab}", "autolab": "autolab-{lab}"}


def export_bundle(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./grade export", description="Export a lab's grader to a course platform.")
    parser.add_argument("platform", choices=tuple(EXPORT_DEFAULTS))
    parser.add_argument("lab", help="the lab: " + ", ".join(available_labs()))
    parser.add_argument(
        "--output",
        type=Path,
        help="what to write (default: autograder.zip for gradescope, "
        "the directory prairielearn-LAB or autolab-LAB for the others)",
    )
    parser.add_argument("--image", help="prairielearn: the image name info.json gives (default: ipclabs/LAB-grader)")
    args = parser.parse_args(argv)
    lab = load_lab(args.lab)
    if not lab.has_solution:
        raise GraderError(f"lab {lab.name!r} has no solutions/ here: the bundle needs the reference and hidden tests")
    output: Path = args.output or Path(EXPORT_DEFAULTS[args.platform].format(lab=lab.name))
    if args.platform == "gradescope":
        files = export.gradescope_bundle(lab, output)
        print(
            f"{output}: Gradescope autograder for {lab.name} ({files} files); upload it as the assignment's autograder"
        )
        return Exit.OK
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise GraderError(
            f"{output} already exists and is not an empty directory",
            tip="remove it, or pass another --output: a package is written whole, never over an old one",
        )
    if args.platform == "prairielearn":
        package = export.prairielearn_package(lab, output, args.image or f"ipclabs/{lab.name}-grader")
        print(
            f"{output}: PrairieLearn external grader for {lab.name} ({package.files} files): build {output}/Dockerfile, "
            f"push the image, and copy {output}/question/ into the course's questions/"
        )
    else:
        package = export.autolab_package(lab, output)
        print(
            f"{output}: Autolab autograder for {lab.name} ({package.files} files in autograde.tar): upload "
            "autograde-Makefile and autograde.tar to the assessment"
        )
    for note in package.notes:
        print(f"note: {note}")
    return Exit.OK


def autograde(argv: list[str]) -> int:
    """What a course platform runs: one submission as the platform delivers
    it, always a result file, even when the submission is unusable."""
    parser = argparse.ArgumentParser(
        prog="./grade autograde", description="Grade one submission as a course platform hands it over."
    )
    parser.add_argument("lab", help="the lab: " + ", ".join(available_labs()))
    parser.add_argument("submission", type=Path, help="the platform's submission folder (or an archive)")
    parser.add_argument(
        "--format", choices=("gradescope", "prairielearn", "autolab", "json", "junit"), default="gradescope"
    )
    parser.add_argument("--output", type=Path, help="the result file (default: standard output)")
    parser.add_argument(
        "--metadata",
        type=Path,
        metavar="JSON",
        help="Gradescope's submission_metadata.json: applies the lab's late penalty and submission "
        "limit (lab.toml [submissions]); with --format gradescope",
    )
    args = parser.parse_args(argv)
    text = autograding.results(load_lab(args.lab), args.submission, args.format, detect_sandbox(), args.metadata)
    _emit(text, args.output)
    return Exit.OK


def _emit(text: str, output: Path | None) -> None:
    if output:
        atomic.write_atomically(output, text)
    else:
        sys.stdout.write(text)


def scaffold_lab(argv: list[str]) -> int:
    try:
        from grader.publishing import new_lab  # here, not at the top: starter packs leave it out
    except ModuleNotFoundError as e:
        if e.name != "grader.publishing.new_lab":
            raise
        raise GraderError("./grade new-lab writes a lab into the course repository; this is a starter pack") from e
    return new_lab.main(argv)


def watch_lab(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./grade watch",
        description="Grade on every save of the student's file(s) and say what changed since the last grade: "
        "the score, tests now passing or failing, leaks come or gone, or the compiler's errors. Ctrl-C stops.",
    )
    parser.add_argument("lab", help="the lab: " + ", ".join(available_labs()))
    parser.add_argument("--submission", type=Path, help="directory holding the student file(s) (default: labs/LAB)")
    parser.add_argument(
        "--max-grades", type=int, metavar="N", help="stop after N grades (for tests and scripts; default: until Ctrl-C)"
    )
    _add_jobs(parser, "tests run at once, each in a sandbox of its own")
    args = parser.parse_args(argv)
    if args.max_grades is not None and args.max_grades < 1:
        raise GraderError(f"--max-grades {args.max_grades}: at least one grade is made")
    lab = load_lab(args.lab)
    submission = submission_directory(lab, args.submission or lab.directory)
    # A label of its own: a ./grade LAB in another terminal stages elsewhere.
    session = watch.Watch(
        lab, submission.resolve(), f"watch {args.submission or f'labs/{lab.name}'}", args.max_grades, args.jobs
    )
    console = _console()
    try:
        session.run(detect_sandbox(), console)
    except KeyboardInterrupt:
        console.print(f"stopped after {len(session.grades)} grade(s)")  # the grade under way unstaged itself
    return Exit.OK


def submission_directory(lab: Lab, submission: Path) -> Path:
    """`submission`, once it is known to be a directory."""
    if not submission.is_dir():
        raise GraderError(
            f"the submission {submission} is not a directory",
            tip=f"pass the directory that holds {', '.join(lab.student_files)}",
        )
    return submission


def run_bench(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./grade bench",
        description="Measure a lab's channels (latency, throughput) for the reference and a submission, beside "
        "baselines of this machine measured in the same run; every figure also as a ratio to its baseline.",
    )
    parser.add_argument("lab", help="the lab: " + ", ".join(name for name in available_labs() if name in bench.BENCHES))
    parser.add_argument(
        "--submission", type=Path, help="directory holding the student file(s) (default: the reference alone)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="what standard output gets")
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    parser.add_argument("--plot", type=Path, help="write the throughput plot here (.png or .svg)")
    parser.add_argument("--quick", action="store_true", help="short measurements (noisier figures, same shape)")
    parser.add_argument(
        "--repetitions", type=_positive, metavar="N", help="runs of every case (default: 5, or 2 with --quick)"
    )
    args = parser.parse_args(argv)
    lab = load_lab(args.lab)
    if args.submission is not None:
        submission_directory(lab, args.submission)
    if args.plot is not None and args.plot.suffix not in (".png", ".svg"):
        raise GraderError(f"--plot {args.plot}: the plot is a .png or a .svg file")
    options = bench.Options(
        submission=args.submission,
        label=str(args.submission or ""),
        quick=args.quick,
        repetitions=args.repetitions or bench.DEFAULT_REPETITIONS[args.quick],
    )
    console = _console(stderr=args.format == "json")
    with console.status("benchmark …") as status:
        data = bench.run_bench(
            lab, options, detect_sandbox(), progress=lambda what: status.update(f"benchmark: {what}")
        )
    text = json.dumps(data, indent=2) + "\n"
    if args.format == "json":
        sys.stdout.write(text)
    else:
        bench_report.print_report(data, console)
    if args.output:
        atomic.write_atomically(args.output, text)
        console.print(f"report: {args.output}")
    if args.plot:
        bench_report.plot(data, args.plot)
        console.print(f"plot: {args.plot}")
    return Exit.OK


def mutants_of(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./grade mutants", description="Mutation analysis of a lab's reference.")
    parser.add_argument("lab", help="the lab whose reference is mutated")
    _add_jobs(parser, "mutants graded at once (each one test at a time)")
    parser.add_argument(
        "--resume", action="store_true", help="keep the verdicts of the last run, if made on the same files"
    )
    parser.add_argument("--sample", type=_positive, metavar="K", help="grade K mutants, the same K each time")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    lab = load_lab(args.lab)
    _refuse_starter_pack([lab], "./grade mutants mutates the lab's reference")
    console = _console()
    with console.status(f"{lab.name}: grading mutants …") as status:
        done: list[mutants.Judged] = []

        def judged(verdict: mutants.Judged) -> None:
            done.append(verdict)
            status.update(f"{lab.name}: {len(done)} mutants graded …")

        result, chosen = mutants.run(
            lab,
            detect_sandbox(),
            args.jobs,
            args.resume,
            args.sample,
            on_judged=judged,
        )
    equivalent = mutants.load_equivalents(lab)
    stale = mutants.stale_markings(lab, mutants.generate(lab))
    if args.format == "json":
        print(json.dumps({**result.to_json(equivalent), "stale_markings": stale}, indent=1, sort_keys=True))
    else:
        mutants.print_report(result, {m.id: m for m in chosen}, equivalent, stale, console)
    return Exit.OK if not result.survivors(equivalent) and not stale else Exit.LAB_BROKEN


COMMANDS = {
    "list": list_labs,
    "bench": run_bench,
    "corpus": check_corpus,
    "selfcheck": self_check,
    "new-lab": scaffold_lab,
    "mutants": mutants_of,
    "handout": publish,
    "batch": grade_batch,
    "report": rebuild_class_report,
    "gradebook": merge_gradebooks,
    "export": export_bundle,
    "autograde": autograde,
    "watch": watch_lab,
}


def parse_grade_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./grade",
        description=(
            "Grade one submission of a lab. With no arguments: one table of every lab, its reference and skeleton "
            "graded."
        ),
        # The command list is the module's docstring: one list, for readers and for --help.
        epilog="commands (each has --help):\n" + __doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("lab", help="the lab to grade: " + ", ".join(available_labs()))
    parser.add_argument("--submission", type=Path, help="directory holding the student file(s) (default: labs/LAB)")
    parser.add_argument("--format", choices=("text", *machine.MACHINE_FORMATS), default="text")
    parser.add_argument("--output", type=Path, help="write the report to this file instead of standard output")
    _add_jobs(parser, "tests run at once, each in a sandbox of its own")
    return parser.parse_args(argv)


def _add_jobs(parser: argparse.ArgumentParser, what: str) -> None:
    cores = os.cpu_count() or 1
    parser.add_argument("--jobs", type=_positive, default=cores, help=f"{what} (default: the cores, {cores})")


def _positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def grade_one(args: argparse.Namespace) -> int:
    lab = load_lab(args.lab)
    submission = submission_directory(lab, args.submission or lab.directory)
    box = detect_sandbox()
    console = _console(stderr=args.format != "text" and args.output is None)
    with console.status(f"building {lab.name} …"):
        reference = pipeline.prepare_reference(lab, box)
        grade = pipeline.grade(
            lab, submission.resolve(), str(args.submission or f"labs/{lab.name}"), reference, box, args.jobs
        )
    if args.format == "text" and args.output is None:
        terminal.print_grade(grade, console)
    else:
        text = machine.render_machine(grade, args.format) if args.format != "text" else _plain_text(grade)
        if args.output:
            atomic.write_atomically(args.output, text)
            console.print(f"{lab.name}: {grade.score:g} / {grade.max_score:g} — report written to {args.output}")
        else:
            sys.stdout.write(text)
    return Exit.LAB_BROKEN if grade.broken_tests else Exit.OK


def overview(console: Console, details: bool = False) -> int:
    labs = [load_lab(name) for name in available_labs()]
    _refuse_starter_pack(labs, "./grade with no arguments compares each lab's reference with its skeleton")
    standings = lab_overview.grade_labs(labs, detect_sandbox(), console, os.cpu_count() or 1)
    if details:
        lab_overview.print_details(standings, console)
    lab_overview.print_table(standings, console)
    return Exit.OK if all(s.healthy for s in standings) else Exit.LAB_BROKEN


def _refuse_starter_pack(labs: list[Lab], what: str) -> None:
    """A starter pack has no solutions/: say so instead of failing on it."""
    if labs and not any(lab.has_solution for lab in labs):
        raise GraderError(
            f"{what}, and there is no solutions/ here: this is a starter pack",
            tip="grade your work with " + " or ".join(f"./grade {lab.name}" for lab in labs),
        )


def _console(stderr: bool = False) -> Console:
    # No emoji codes: doctest's "file.cpp:100:" must not become a 💯.
    return Console(stderr=stderr, highlight=False, emoji=False, width=_width())


def _width() -> int | None:
    # Reports piped to a file or a CI log get room for the test names.
    return None if sys.stdout.isatty() else 120


_sandbox_warned = False


def detect_sandbox() -> sandbox.Sandbox:
    global _sandbox_warned
    box = sandbox.detect()
    if _sandbox_warned:
        return box
    if not box.isolated:
        _console(stderr=True).print(f"[yellow]warning:[/] reduced isolation — {box.reason}")
    if not box.cgroups:
        _console(stderr=True).print(
            f"[yellow]warning:[/] no cgroup per test — {box.cgroups_missing}; memory, processes and CPU "
            "are bounded by rlimits alone, which do not count shared memory or tmpfs files"
        )
    _sandbox_warned = True
    return box


def _plain_text(grade) -> str:
    console = Console(record=True, width=120, file=open("/dev/null", "w"), emoji=False, highlight=False)
    terminal.print_grade(grade, console)
    return console.export_text()
