"""Helpers shared by the command modules: finding the project, reading filters, output."""

import contextlib
import json
import sys

import click

from .plain import project  # noqa: F401  (the command modules take it from here)


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


def echo_sync_result(result, as_json=False, quiet=False):
    """Print a sync (or ``import --sync``) result: JSON, the whole report, or with ``quiet``
    only its conflicts and the jobs it left alone, which need the user."""
    if as_json:
        echo_json(result.to_json())
        return
    for line in result.format().splitlines():
        if not quiet or line.startswith(("CONFLICT ", "REFUSED ", "ACTIVE ")):
            click.echo(line)


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


#: seconds between two redraws of a progress bar: redrawing once per job made a terminal
#: export of 20,000 jobs 30-50 % slower
REDRAW_INTERVAL = 0.1

quiet_option = click.option(
    "-q", "--quiet", is_flag=True,
    help="No progress bar and no report; errors (and conflicts) are still shown.")


@contextlib.contextmanager
def progress_bar(label, quiet=False):
    """``with progress_bar(label) as update:`` -- ``update(done, total, nbytes=None)`` draws a
    bar on a terminal, at most every REDRAW_INTERVAL seconds (the last state is drawn at the
    end); off a terminal or with ``quiet``, ``update`` is None."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    import time

    state = {"bar": None, "drawn": 0.0, "pending": None}

    def draw(done, total, nbytes):
        if state["bar"] is None:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr,
                                             show_pos=True)
            state["bar"].__enter__()
        bar = state["bar"]
        if nbytes is not None:
            bar.label = f"{label} ({nbytes / 1e6:.1f} MB)"
        bar.update(done - bar.pos)
        state["drawn"], state["pending"] = time.monotonic(), None

    def update(done, total, nbytes=None):
        if time.monotonic() - state["drawn"] >= REDRAW_INTERVAL:
            draw(done, total, nbytes)
        else:
            state["pending"] = (done, total, nbytes)

    try:
        yield update
    finally:
        if state["pending"] is not None:
            draw(*state["pending"])
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)
