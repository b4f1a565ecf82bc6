"""The `dlgrade` command line: thin click wrappers over `grader.api`.

Nothing at module level imports torch, so `dlgrade --help` and
`dlgrade --version` answer at once; each command imports what it needs.
Errors a user can cause end in one sentence on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .errors import UserError

DEVICE = click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
                      help="Where the student's code runs.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dlgrade")
def cli() -> None:
    """Exact, sandboxed grading of the course's PyTorch exercises.

    Students: `dlgrade check week04`, then `dlgrade submit week04 --student ID`.
    Instructors: `dlgrade grade week04 submissions/ -o out`, `dlgrade report out/week04`.
    """


WEAK = click.option("--weak-sandbox", is_flag=True, help="Grade even where the full sandbox cannot be had "
                    "(see `dlgrade doctor`); every result then says what was missing.")


@cli.command()
@click.argument("week")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the result as JSON.")
@WEAK
@DEVICE
def check(week: str, path: Path | None, json_path: Path | None, weak_sandbox: bool, device: str) -> None:
    """Run the public tests of WEEK on PATH (default: assignments/WEEK)."""
    from . import api

    from .report import print_result

    result = api.check(week=week, path=path, device=device, json_path=json_path, weak_sandbox=weak_sandbox)
    print_result(result, _console())
    sys.exit(0 if result["status"] == "graded" and result["score"] == result["max_score"] else 1)


@cli.command()
@click.argument("week")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--student", required=True, help="Your student id, e.g. au123456.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="The zip to write (default WEEK-ID.zip).")
def submit(week: str, path: Path | None, student: str, output: Path | None) -> None:
    """Check that WEEK's files are complete and pack them into one zip to hand in."""
    from . import api

    out, warnings = api.submit(week=week, path=path, student=student, output=output)
    for w in warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    click.echo(f"wrote {out}")


@cli.command()
@click.argument("week")
@click.argument("submissions", nargs=-1, type=click.Path(path_type=Path))
@click.option("--nbgrader", "nbgrader_dir", type=click.Path(path_type=Path), default=None,
              help="Grade an nbgrader course's submitted/ instead and write its gradebook (see `dlgrade nbgrader`).")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where results go [out; with --nbgrader: DIR/dlgrade].")
@click.option("-j", "--jobs", type=int, default=None, help="Parallel graders (default: CPU cores).")
@click.option("--timeout", type=float, default=None, help="Seconds for one call into student code [20].")
@click.option("--test-timeout", type=float, default=None, help="Seconds for all calls of one test [60].")
@click.option("--submission-timeout", type=float, default=None, help="Seconds for one submission [600].")
@click.option("--memory-mb", type=int, default=None, help="Memory of one worker, MiB [2048].")
@click.option("--output-kb", type=int, default=None, help="What one worker may print, KiB [1024].")
@click.option("--seed", type=int, default=None, help="Seed of the hidden tests' inputs (default: the course's).")
@click.option("--force", is_flag=True, help="Grade again even submissions already graded.")
@click.option("--id-pattern", default=None, help="Regex with a group 'student' for LMS download names.")
@click.option("--bulk", is_flag=True, help="Each zip given holds one entry per student (a zip is one student's "
              "unless it is an LMS bulk download).")
@WEAK
@DEVICE
def grade(week: str, submissions: tuple[Path, ...], nbgrader_dir: Path | None, out_dir: Path | None,
          jobs: int | None, timeout: float | None,
          test_timeout: float | None, submission_timeout: float | None, memory_mb: int | None,
          output_kb: int | None, seed: int | None, force: bool, id_pattern: str | None, bulk: bool,
          weak_sandbox: bool, device: str) -> None:
    """Grade every submission with the public and hidden tests of WEEK.

    Limits not given here come from the course's dlgrade.toml [grading], then the defaults in brackets.
    """
    from . import api

    if bool(submissions) == bool(nbgrader_dir):
        raise UserError("Give either SUBMISSIONS or --nbgrader DIR (exactly one of them).")
    common = dict(week=week, jobs=jobs, timeout=timeout, test_timeout=test_timeout,
                  submission_timeout=submission_timeout, memory_mb=memory_mb, output_kb=output_kb, seed=seed,
                  force=force, device=device, progress=True, weak_sandbox=weak_sandbox)
    if nbgrader_dir:
        if id_pattern or bulk:
            raise UserError("--id-pattern and --bulk do not apply to --nbgrader: its students are the folders "
                            "of submitted/.")
        from .integrations import nbgrader

        graded = nbgrader.grade(nbgrader_dir=nbgrader_dir, out_dir=out_dir, **common)
        click.echo(graded)
        summary = graded.summary
    else:
        summary = api.grade(submissions=list(submissions), out_dir=out_dir or Path("out"), id_pattern=id_pattern,
                            bulk=bulk, **common)
        click.echo(summary)
    if summary.missing:
        click.secho(f"error: {len(summary.missing)} submission(s) got no result ({', '.join(summary.missing)}); "
                    "run the same command again to grade them.", fg="red", err=True)
        sys.exit(2)


@cli.group()
def nbgrader() -> None:
    """Run the weeks through nbgrader: build the source notebook, then `dlgrade grade WEEK --nbgrader DIR`."""


@nbgrader.command("build")
@click.argument("week")
@click.option("--course", "course_dir", type=click.Path(path_type=Path), required=True,
              help="The nbgrader course folder (it gets source/WEEK/WEEK.ipynb).")
def nbgrader_build(week: str, course_dir: Path) -> None:
    """Write nbgrader's source notebook of WEEK: solution cells, and a graded test cell per dlgrade test."""
    from .integrations import nbgrader as nbg

    info = nbg.build(week=week, course_dir=course_dir)
    click.echo(f"notebook: {info.notebook} ({len(info.solution_cells)} solution cells, {info.tests} test cells of "
               f"which {info.hidden} hidden, {info.points:g} points)")
    if info.config:
        click.echo(f"config:   {info.config}")
    click.echo(f"next:     cd {course_dir} && nbgrader generate_assignment {info.notebook.stem}")


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "md", "html", "json"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to a file instead of the terminal.")
@click.option("--students", is_flag=True, help="List the students' ids of each common mistake (text; md and html "
              "always list them).")
@click.option("--per-student", "per_student", type=click.Path(path_type=Path), default=None,
              help="Also write every student's feedback into this folder, one file each, in --format "
              "(md or html to release to students; the html class report links to them).")
def report(path: Path, fmt: str, output: Path | None, students: bool, per_student: Path | None) -> None:
    """Render one result, or a class summary for a folder of results."""
    import os

    from . import api
    from . import report as rep

    links = None
    if per_student is not None:
        written = api.report_per_student(path=path, folder=per_student, fmt=fmt, class_report=output)
        click.echo(f"wrote {len(written)} feedback files in {per_student}", err=output is None)
        links = os.path.relpath(per_student, output.parent if output else Path.cwd())
    if output is None and fmt == "text":
        kind, data = api.report_data(path=path)
        if kind == "result":
            rep.print_result(data, _console())
        else:
            rep.print_summary(data, _console(), students=students)
        return
    text = api.report(path=path, fmt=fmt, students=students, links=links)
    if output:
        from .gradebook import atomic_write_text

        atomic_write_text(output, text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("week")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), default=Path("similarity"),
              show_default=True, help="Where pairs.csv and report.html go.")
@click.option("--id-pattern", default=None, help="Regex with a group 'student' for LMS download names.")
@click.option("--bulk", is_flag=True, help="Each zip given holds one entry per student.")
@click.option("--top", type=int, default=20, show_default=True, help="Pairs shown here (all are in pairs.csv).")
def similarity(week: str, submissions: tuple[Path, ...], out_dir: Path, id_pattern: str | None, bulk: bool,
               top: int) -> None:
    """Rank pairs of WEEK's submissions by shared code (copydetect; the week's stub never counts)."""
    from . import api
    from .similarity import ranking_text

    result = api.similarity(week=week, submissions=list(submissions), out_dir=out_dir, id_pattern=id_pattern,
                            bulk=bulk)
    click.echo(ranking_text(result, top=top))
    for student, why in result.skipped:
        click.secho(f"not compared: {student}: {why}", fg="yellow", err=True)
    click.echo(f"{len(result.students)} submissions, {len(result.pairs)} pairs in {result.seconds:.1f} s; "
               f"wrote {result.csv_path} and {result.html_path}")


@cli.command()
@click.argument("target", metavar="TARGET")
@click.argument("week", required=False)
@click.option("--format", "fmt", type=click.Choice(["brightspace", "csv"]), default=None,
              help="For a results PATH: the CSV to write [csv].")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The CSV file, the autograder zip (gradescope) or the folder (otter) to write.")
@click.option("--item", default=None, help="Grade item name for Brightspace (default: the week).")
@click.option("--hidden-visibility", type=click.Choice(["after_published", "after_due_date", "hidden", "visible"]),
              default=None, help="gradescope: when students see the hidden tests' results [after_published].")
@click.option("--weak-sandbox", is_flag=True, help="gradescope, otter: grade in a weak sandbox there (a container "
              "per submission that refuses user namespaces); every result then says what was missing.")
def export(target: str, week: str | None, fmt: str | None, output: Path, item: str | None,
           hidden_visibility: str | None, weak_sandbox: bool) -> None:
    """Write grades for the LMS, or a week as an autograder for Gradescope or otter-grader.

    \b
    dlgrade export PATH [--format brightspace|csv] -o grades.csv      grades in PATH (OUTDIR/WEEK)
    dlgrade export gradescope WEEK -o autograder.zip                  Gradescope's autograder zip
    dlgrade export otter WEEK -o DIR                                  otter-grader tests and autograder.zip

    TARGET is `gradescope`, `otter`, or a results PATH (write ./gradescope for a folder of that name).
    """
    from . import api

    if target in ("gradescope", "otter"):
        if not week:
            raise UserError(f"`dlgrade export {target}` needs the week, e.g. `dlgrade export {target} week04 -o ...`.")
        if fmt or item:
            raise UserError(f"--format and --item are for grades; `dlgrade export {target}` takes WEEK and -o.")
        if target == "gradescope":
            out = api.export_gradescope(week=week, output=output, weak_sandbox=weak_sandbox,
                                        hidden_visibility=hidden_visibility or "after_published")
        else:
            if hidden_visibility:
                raise UserError("--hidden-visibility is for gradescope; otter's tests keep their hidden flags.")
            out = api.export_otter(week=week, out_dir=output, weak_sandbox=weak_sandbox)
        click.echo(f"wrote {out}")
        return
    if week or hidden_visibility or weak_sandbox:
        raise UserError(f"{target} is read as a results folder: WEEK, --hidden-visibility and --weak-sandbox are for "
                        "`dlgrade export gradescope|otter WEEK`.")
    n = api.export(path=Path(target), fmt=fmt or "csv", output=output, item=item)
    click.echo(f"wrote {output} ({n} students)")


@cli.command()
@click.argument("weeks", nargs=-1)
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), help="Where the week's bundle goes (default release/).")
@click.option("--student-bundle", "bundle", type=click.Path(path_type=Path), default=None,
              help="Write the course's student bundle here (and BUNDLE.zip): the engine and the released WEEKS "
                   "(default: every week with a stub).")
@click.option("--repo", default=None, help="URL of the course's public repository, for the bundle's README and "
              "the notebooks' Colab cell.")
def release(weeks: tuple[str, ...], out_dir: Path | None, bundle: Path | None, repo: str | None) -> None:
    """Generate WEEK's stub, notebook, recorded public answers and week bundle; or the whole student bundle."""
    from . import api

    if bundle is not None:
        info = api.student_bundle(out=bundle, weeks=list(weeks) or None, repo=repo)
        click.echo(f"bundle:   {info['bundle']} ({', '.join(info['weeks'])})\nzip:      {info['zip']}")
        return
    if len(weeks) != 1:
        raise UserError("Give one week to release (dlgrade release week04), or --student-bundle OUT.")
    info = api.release(week=weeks[0], out_dir=out_dir)
    click.echo(f"stub:     {info['stub']}\nnotebook: {info['notebook']}\n"
               f"answers:  {info['expected']} ({info['recorded']} recorded)\n"
               f"bundle:   {info['bundle']}\nzip:      {info['zip']}")


@cli.command()
@click.argument("week")
@DEVICE
def verify(week: str, device: str) -> None:
    """Prove WEEK is sound: reference full marks, stubs zero, recordings current."""
    from . import api

    v = api.verify(week=week, device=device)
    for line in v.lines:
        click.echo(line)
    for p in v.problems:
        click.secho(f"problem: {p}", fg="red")
    click.echo(f"{v.week}: {'OK' if v.ok else 'FAILED'}")
    sys.exit(0 if v.ok else 1)


@cli.command()
def doctor() -> None:
    """Say which sandbox isolation features this machine grants the workers; exit 1 when any is missing."""
    from . import api

    info = api.doctor()
    click.echo(f"grading as {info['user']}")
    for name, ok in info["features"].items():
        mark = click.style("yes", fg="green") if ok else click.style("no ", fg="red")
        click.echo(f"  {mark}  {name:16s} {info['descriptions'][name]}")
    click.echo("  always: wall-clock deadlines, RLIMIT_CPU, RLIMIT_DATA, capped output and answers, seeded RNGs, "
               "one torch thread")
    if info["missing"]:
        click.secho(f"grading here would not be isolated: missing {', '.join(info['missing'])}; "
                    f"{info['advice']}", fg="red", err=True)
        sys.exit(1)
    click.echo("every worker is fully isolated here.")


def _console():
    from rich.console import Console

    return Console(highlight=False)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except click.exceptions.Abort:
        sys.exit(130)
    except UserError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        sys.exit(2)
    except OSError as e:   # a path the user gave that cannot be read or written
        where = f" ({e.filename})" if e.filename else ""
        click.secho(f"error: {e.strerror or e}{where}; check the path and that you may write there.", fg="red",
                    err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
