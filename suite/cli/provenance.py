"""Commands log, repeat and provenance: the records of executions, repeating one, the graph."""

import sys

import click

from .common import echo_json, job_option, project


def _warn(problems):
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)


@click.command(short_help="List provenance records of executions (or --diff two).")
@job_option
@click.option("-o", "--operation", default=None, help="Only records of this operation.")
@click.option("--tag", default=None, metavar="T", help="Only records with this tag.")
@click.option("--since", default=None, metavar="DATE",
              help="Only records started at DATE or later (2026-12-01, 2026-12-01T10:30).")
@click.option("--failed", is_flag=True, help="Only failed executions.")
@click.option("--long", "long_", is_flag=True, help="A block per record: code, environment, "
              "outputs with their hashes, traceback.")
@click.option("--json", "fmt", flag_value="json", help="Print JSON.")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV.")
@click.option("--diff", "diff", nargs=2, default=None, metavar="REC1 REC2",
              help="What differs between two records: code, environment, parameters, outputs.")
def log(ids, operation, tag, since, failed, long_, fmt, diff):
    """List the provenance records of the jobs' executions (all jobs, or -j ID), oldest first;
    with --diff REC1 REC2, what differs between two of them (ids or unique prefixes). Log
    lines that cannot be read are named on stderr with their file and line.

    
    Examples:
      suite log -j 3f2a
      suite log -o simulate --failed --since 2026-12-01
      suite log --diff 1a2b 3c4d
    """
    from suite.provenance import logs as rec
    from suite.provenance import report

    proj = project()
    if diff:
        from suite.provenance.compare import diff_records, format_diff

        a, b = (rec.find(proj, d) for d in diff)
        result = diff_records(proj, a, b)
        echo_json(result) if fmt == "json" else click.echo(format_diff(result))
        return
    found = rec.records(proj, ids or None, operation, tag, since, failed)
    _warn(found.problems)
    if fmt == "json":
        echo_json([r.to_dict() for r in found])
    elif fmt == "csv":
        click.echo(report.to_csv(found), nl=False)
    elif long_:
        envs = {r.environment: found.environment(r) for r in found if r.environment}
        click.echo(report.format_long(found, envs))
    elif found:
        click.echo(report.format_short(found))


@click.command(short_help="Run a recorded execution again on a copy; compare the outputs.")
@click.argument("record")
@click.option("--rtol", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Relative tolerance for numbers in JSON files and HDF5 datasets.")
@click.option("--keep", is_flag=True, help="Keep the temporary copy (its path is printed).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--workflow", "module", default=None, metavar="MODULE",
              help="The workflow (default: workflow.py in the project, else project.py).")
def repeat(record, rtol, keep, as_json, module):
    """Run the operation of RECORD again on a copy of its jobs in a temporary directory and
    compare the files it writes with those the record lists: "reproduced", or what differs
    (files; keys of JSON files; HDF5 datasets). The project is left untouched. Exit status 1
    if the outputs differ.

    
    Examples:
      suite repeat 1a2b
      suite repeat 1a2b --rtol 1e-6 --keep
    """
    from suite.provenance.rerun import repeat as do_repeat

    result = do_repeat(project(), record, module=module, rtol=rtol, keep=keep)
    echo_json(result.to_json()) if as_json else click.echo(result.format())
    if not result.reproduced:
        sys.exit(1)


@click.command(short_help="The graph of a job's executions and the files they produced.")
@click.argument("job_id")
@click.option("--format", "fmt", type=click.Choice(["dot", "json", "svg", "png"]), default="dot",
              show_default=True, help="svg and png need graphviz's dot.")
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Write to FILE (default: stdout; svg/png need a file unless piped).")
def provenance(job_id, fmt, output):
    """The provenance graph of job JOB_ID: its executions, the files each produced, and the
    other jobs of aggregate executions whose files went in. As DOT text, JSON, or a picture
    drawn by graphviz's dot (which must be installed: Debian's graphviz package).

    
    Examples:
      suite provenance 3f2a
      suite provenance 3f2a --format svg -o graph.svg
    """
    from suite.provenance.graph import job_graph, render

    data = render(job_graph(project(), job_id), fmt)
    if output:
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(output, mode) as f:
            f.write(data)
    elif isinstance(data, bytes):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        click.echo(data)
