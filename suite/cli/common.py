"""Helpers shared by the command modules: finding the project, reading filters, output."""

import json

import click

from .plain import project  # noqa: F401  (the command modules take it from here)
from .progress import progress_bar  # noqa: F401  (likewise)


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
    """Jobs chosen by ``-f FILTER`` values and ``-j ID`` options (all jobs if neither).
    Jobs whose state point cannot be read are left out of a filter's answer: the caller
    names them (export warns that it did not consider them)."""
    chosen = None
    if ids:
        chosen = {proj.open_job(id=i).id for i in ids}
    jobs = proj.find_jobs(filter_from_options(filter_values), skip_unreadable=True) \
        if filter_values or not ids else [
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
    lines = result.format().splitlines()
    if quiet:
        lines = [line for line in lines if line.startswith(("CONFLICT ", "REFUSED ", "ACTIVE "))]
    echo_lines(lines)


def echo_lines(lines):
    """Print ``lines`` (a line a job, say) as ``click.echo`` would, in one write: on a
    terminal, where standard output is line-buffered, echoing each was a write (and a
    terminal's redraw) per line: 20,000 for a first sync of 20,000 jobs."""
    if lines:
        click.echo("\n".join(lines))


filter_option = click.option(
    "-f", "--filter", "filter_args", multiple=True,
    help="Filter in the short grammar, repeatable: -f 'a 1' -f 'b.c.$gt 2', or one JSON object "
    "(see 'suite find --help').",
)
job_option = click.option(
    "-j", "--job-id", "ids", multiple=True, help="A job id (or unique prefix); repeatable."
)


quiet_option = click.option(
    "-q", "--quiet", is_flag=True,
    help="No progress bar and no report; errors (and conflicts) are still shown.")
