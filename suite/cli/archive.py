"""Commands export, import and verify."""

import sys

import click

from . import common
from .common import echo_json, filter_option, job_option, progress_bar, project, select_jobs


@click.command(short_help='Export jobs to a directory, tar or zip archive.')
@click.argument("target", type=click.Path())
@click.option("--schema", default=None,
              help="Path schema, e.g. 'T_<T>/<model>' (<key>, <b.c>, <id>; {key} also works). "
                   "Default: key/<key>/... over the keys that vary.")
@filter_option
@job_option
@click.option("--format", "fmt", default=None,
              type=click.Choice(["directory", "tar", "tar.gz", "tar.bz2", "tar.xz", "tar.zst", "zip"]),
              help="Archive format (default: from TARGET's ending; none means a directory).")
@click.option("--level", type=int, default=None, help="Compression level.")
@click.option("--move", is_flag=True, help="Remove the exported jobs from the workspace afterwards.")
@click.option("--force", is_flag=True, help="Replace an existing TARGET.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@common.quiet_option
def export(target, schema, filter_args, ids, fmt, level, move, force, as_json, quiet):
    """Export jobs to TARGET: a directory, .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz, .tar.zst/.tzst
    or .zip, laid out by a path schema, with a manifest (suite-manifest.json) of every job's
    state point and every file's size and SHA-256.

    The archive is written under a temporary name and renamed when complete.

    
    Examples:
      suite export results.tar.zst --schema 'T_<T>/L_<L>'
      suite export out/ -f 'T.$gt 2' --format directory
    """
    from archive import export_jobs

    proj = project(quiet)
    jobs = select_jobs(proj, filter_args, ids) if filter_args or ids else None  # None: every job
    with progress_bar("exporting", quiet) as update:
        result = export_jobs(proj, target, jobs, schema=schema, format=fmt, level=level,
                             move=move, force=force, progress=update)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        echo_json(result.to_json())
    elif not quiet:
        click.echo(f"exported {result.jobs} jobs ({result.files} files, {result.bytes} bytes) "
                   f"to {result.target} [{result.format}, schema {result.schema}]")
    if result.skipped:
        from suite.jobfiles import summary

        click.echo(summary(result.skipped), err=True)


@click.command("import", short_help='Import jobs from a directory, tar or zip archive.')
@click.argument("origin", type=click.Path(exists=True))
@click.option("--schema", default=None,
              help="Read state points from paths with this schema (for trees without manifest "
                   "or state point files); <a:int>, <a:float>, <a:str> force a type.")
@click.option("--dry-run", is_flag=True, help="Show what would be imported; change nothing.")
@click.option("--skip-existing", is_flag=True,
              help="Skip jobs that already exist, even with different content.")
@click.option("--ignore-unmatched", is_flag=True,
              help="Skip paths that do not match --schema instead of stopping.")
@click.option("--sync", "merge", is_flag=True,
              help="Merge into existing jobs with the sync rules (documents key by key; "
                   "differences are conflicts, exit status 3, unless --prefer).")
@click.option("--prefer", type=click.Choice(["local", "remote", "newer"]), default=None,
              help="With --sync: resolve conflicts for the project (local) or the archive "
                   "(remote).")
@click.option("--keep-both", is_flag=True,
              help="With --sync: keep the archive's version of a conflicting file as "
                   "NAME.conflict-archive.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@common.quiet_option
def import_(origin, schema, dry_run, skip_existing, ignore_unmatched, merge, prefer, keep_both,
            as_json, quiet):
    """Import jobs from ORIGIN: a directory, tar (any compression) or zip, recognised by its
    content. With a manifest every file is checked against its hash; each job lands
    atomically, so an interrupted import can simply be run again.

    
    Examples:
      suite import results.tar.zst
      suite import old-runs/ --schema 'T_<T>/L_<L>' --dry-run
      suite import results.zip --sync --prefer newer
    """
    from archive import import_jobs

    if merge:
        from sync import import_merge

        result = import_merge(project(quiet), origin, schema=schema, prefer=prefer,
                              keep_both=keep_both, dry_run=dry_run,
                              ignore_unmatched=ignore_unmatched)
        common.echo_sync_result(result, as_json, quiet)
        sys.exit(result.exit_status)
    if prefer or keep_both:
        raise click.UsageError("--prefer and --keep-both go with --sync")

    with progress_bar("importing", quiet) as update:
        result = import_jobs(project(quiet), origin, schema=schema, dry_run=dry_run,
                             skip_existing=skip_existing, ignore_unmatched=ignore_unmatched,
                             progress=update)
    if as_json:
        echo_json(result.to_json())
        return
    verb = "would import" if dry_run else "imported"
    if not quiet:
        click.echo(f"{verb} {len(result.imported)} jobs; {len(result.skipped)} already present")
    if result.ignored:
        click.echo(f"ignored {len(result.ignored)} file(s) outside any job: "
                   + ", ".join(result.ignored[:5]), err=True)
    if dry_run and not quiet:
        common.echo_lines([f"  + {job_id}" for job_id in result.imported])


@click.command(short_help="Check an archive's files against its manifest.")
@click.argument("origin", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(origin, as_json):
    """Check every file in the archive ORIGIN against its manifest; exit 1 on any mismatch.

    
    Examples:
      suite verify results.tar.zst
    """
    from archive import verify as verify_archive

    result = verify_archive(origin)
    if as_json:
        echo_json(result.to_json())
    else:
        for problem in result.problems:
            click.echo(f"problem: {problem}")
        if result.ok:
            click.echo(f"ok: {result.jobs} jobs, {result.files} files match the manifest")
    if not result.ok:
        sys.exit(1)
