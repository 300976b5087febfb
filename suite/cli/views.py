"""Commands view and diff."""

import sys

import click

from .common import echo_json, filter_from_options, filter_option, job_option, project
from .plain import name_unreadable


@click.command(short_help='Create or update a linked view of the jobs.')
@click.argument("prefix", required=False, type=click.Path(file_okay=False))
@click.option("--schema", default=None,
              help="Path schema, e.g. '<model>/T_<T>' (default: key/<key>/... over the keys "
                   "that vary, fewest values first).")
@filter_option
@job_option
@click.option("--absolute", is_flag=True, help="Absolute links instead of relative ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def view(prefix, schema, filter_args, ids, absolute, as_json):
    """Create or update a linked view under PREFIX (default: view/ in the project): a readable
    tree of symbolic links into the workspace, laid out by a path schema.

    Running it again updates the view in place; files suite did not create are never removed
    or overwritten (they are reported).

    
    Examples:
      suite view
      suite view by-model --schema '<model>/T_<T>' -f 'L 32'
    """
    from suite.views import create_view

    proj = project()
    jobs = None
    if ids:
        jobs = [proj.open_job(id=i) for i in ids]
        if filter_args:
            # a chosen job whose state point cannot be read stays: the filter cannot judge
            # it, and create_view names it as unreadable (exit 3)
            keep = set(proj.find_jobs(filter_from_options(filter_args),
                                      skip_unreadable=True).ids())
            keep |= set(proj.index.unreadable())
            jobs = [j for j in jobs if j.id in keep]
    result = create_view(proj, prefix, schema=schema, jobs=jobs,
                         filter=filter_from_options(filter_args) if filter_args and not ids
                         else None, absolute=absolute)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"view {result.prefix} [{result.schema}]: {result.created} created, "
                   f"{result.updated} re-pointed, {result.removed} removed, "
                   f"{result.unchanged} unchanged")
    for path in result.conflicts:
        click.echo(f"warning: {path} is in the way (not created by suite); left alone", err=True)
    if result.unreadable:
        name_unreadable(result.unreadable, "left out of the view, could not read")
        sys.exit(3)  # as find's: the view is short of these jobs


@click.command(short_help='Show what differs between jobs or projects.')
@click.argument("ids", nargs=-1)
@filter_option
@click.option("--doc", "document", is_flag=True, help="Compare documents, not state points.")
@click.option("--files", is_flag=True, help="Also compare the files of two jobs.")
@click.option("--against", "dest", default=None, metavar="DEST",
              help="Compare this project with another project: a directory (jobs on one side "
                   "only, documents and files that differ) or a remote name/URL (the plan of "
                   "'suite sync DEST --dry-run'). Nothing is transferred.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff(ids, filter_args, document, files, dest, as_json):
    """Show what differs between jobs: the state point (or --doc document) keys whose values
    are not the same for all of them, one row per job. Types are visible: 1, 1.0 and "1"
    differ; (missing) marks a key a job lacks.

    
    Examples:
      suite diff 3f2a 9c01
      suite diff -f 'L 32' --doc
      suite diff 3f2a 9c01 --files
      suite diff --against cluster
    """
    import suite
    from suite.diff import compare_jobs, diff_files, diff_projects

    proj = project()
    if dest is not None:
        import os

        if not os.path.isdir(dest):
            # a remote (name or URL): the sync plan, computed from snapshots only
            import sync as sync_pkg

            plan = sync_pkg.sync(proj, dest, dry_run=True,
                                 ids=[proj.open_job(id=i).id for i in ids] or None)
            if as_json:
                echo_json(plan.to_json())
            else:
                click.echo(plan.format())
            _warn_skipped([{**s, "job": f"{s['side']} {s['job']}"}
                           for s in plan.unreadable + plan.skipped])
            return
        result = diff_projects(proj, suite.get_project(dest), ids=[
            proj.open_job(id=i).id for i in ids] or None)
        if as_json:
            echo_json(result.to_json())
        else:
            click.echo(result.format())
        _warn_skipped(result.skipped_files)
        return
    jobs = [proj.open_job(id=i) for i in ids]
    if filter_args or not ids:
        found = list(proj.find_jobs(filter_from_options(filter_args)))
        jobs = [j for j in found if not ids or j.id in {x.id for x in jobs}] if ids else found
    if len(jobs) < 2:
        raise suite.SuiteError(f"need at least two jobs to compare, got {len(jobs)}")
    result = compare_jobs(*jobs, document=document)
    file_result = None
    if files:
        if len(jobs) != 2:
            raise suite.SuiteError("--files compares exactly two jobs")
        file_result = diff_files(*jobs)
    if as_json:
        out = result.to_json()
        if file_result is not None:
            out["files"] = file_result.to_json()
        echo_json(out)
    else:
        click.echo(result.format(color=sys.stdout.isatty()))
        if file_result is not None:
            click.echo(file_result.format())
    if file_result is not None:
        _warn_skipped(file_result.skipped)


def _warn_skipped(items):
    from suite.jobfiles import summary

    if items:
        click.echo(summary(items), err=True)
