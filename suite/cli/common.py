"""Helpers shared by the command modules: finding the project, reading filters, output."""

import contextlib
import json
import sys

import click


def project():
    """The project containing the current directory (index progress shown on a terminal)."""
    from suite.project import get_project

    proj = get_project(".")
    if sys.stderr.isatty():
        proj.index.on_progress = lambda msg: click.echo(f"suite: {msg}", err=True)
    return proj


def filter_from(args):
    """Parse FILTER arguments in the short grammar (or one JSON object)."""
    from suite.query import parse_cli_filter

    return parse_cli_filter(args)


def filter_from_options(values):
    """Turn ``-f`` option values into one filter: each value is split like a shell line
    (``-f 'a 1' -f 'b.c.$gt 2'``), or one value is a whole JSON object."""
    import shlex

    values = list(values)
    if len(values) == 1 and values[0].lstrip().startswith("{"):
        return filter_from(values)
    tokens = [t for v in values for t in shlex.split(v)]
    return filter_from(tokens)


def select_jobs(proj, filter_values=(), ids=()):
    """Jobs chosen by ``-f FILTER`` values and ``-j ID`` options (all jobs if neither)."""
    chosen = None
    if ids:
        chosen = {proj.open_job(id=i).id for i in ids}
    jobs = proj.find_jobs(filter_from_options(filter_values)) if filter_values or not ids else [
        proj.open_job(id=i) for i in sorted(chosen)]
    return [j for j in jobs if chosen is None or j.id in chosen]


def echo_json(data):
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def parse_value(text):
    """A JSON literal, or the text itself as a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


filter_option = click.option(
    "-f", "--filter", "filter_args", multiple=True,
    help="Filter in the short grammar, repeatable: -f 'a 1' -f 'b.c.$gt 2', or one JSON object "
    "(see 'suite find --help').",
)
job_option = click.option(
    "-j", "--job-id", "ids", multiple=True, help="A job id (or unique prefix); repeatable."
)


@contextlib.contextmanager
def progress_bar(label):
    """``with progress_bar(label) as update:`` -- ``update(done, total, nbytes=None)`` draws a
    bar on a terminal; off a terminal ``update`` is None (quiet)."""
    if not sys.stderr.isatty():
        yield None
        return
    state = {"bar": None}

    def update(done, total, nbytes=None):
        if state["bar"] is None:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr,
                                             show_pos=True)
            state["bar"].__enter__()
        bar = state["bar"]
        bar.update(done - bar.pos)
        if nbytes is not None:
            bar.label = f"{label} ({nbytes / 1e6:.1f} MB)"

    try:
        yield update
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)
