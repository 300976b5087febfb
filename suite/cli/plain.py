"""What the command modules share that needs no click: finding the project and writing a line.

The plain form of ``suite find`` (:mod:`suite.cli.findjobs`) runs without importing click, so
these two live apart from :mod:`suite.cli.common` (whose option declarations need click)."""

import sys


def project(quiet=False):
    """The project containing the current directory (index progress shown on a terminal,
    unless ``quiet``). Raises :class:`~suite.errors.ProjectNotFoundError` outside a project."""
    from suite.project import get_project

    proj = get_project(".")
    if sys.stderr.isatty() and not quiet:
        # the project's, not its index's: a command that never queries (import) then never
        # imports the index
        proj.on_progress = lambda msg: echo(f"suite: {msg}", err=True)
    return proj


def echo(text, err=False):
    """Write ``text`` and a newline, as ``click.echo`` does. Standard output is written
    directly (what suite prints there is ids and JSON, which hold no terminal escapes);
    standard error goes through ``click.echo``, which strips escapes when it is not a
    terminal (its lines can name users' files), so click is imported only when a note or
    problem is shown."""
    if err:
        import click

        click.echo(text, err=True)
        return
    out = sys.stdout
    out.write(f"{text}\n")
    out.flush()


def name_unreadable(reasons, title):
    """On stderr: the jobs of ``reasons`` (``{job id: why}``) a command left out because it
    could not read them, under ``title``, with where to look next."""
    from suite.jobfiles import summary

    items = [{"job": i, "reason": why.removeprefix(f"job {i}: ")} for i, why in reasons.items()]
    echo(summary(items, title=title, noun="job(s) (see 'suite check')"), err=True)
