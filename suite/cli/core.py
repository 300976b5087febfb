"""Core commands: init, job, statepoint, document, find, rm, move, clone, schema, reindex,
check, shell."""

import json
import os
import sys

import click

from suite.jsonio import literal_or_text

from .common import echo_json, progress_bar, project


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False))
def init(path):
    """Create a project in PATH (default: the current directory).

    Refused inside another project's workspace, except inside a job directory (a nested
    project, as signac allows).

    
    Examples:
      suite init
      suite init ~/sweeps/ising
    """
    from suite import init_project

    p = init_project(path)
    click.echo(f"Initialized project in {p.path}")


@click.command(short_help='Print (or create) the job of a state point.')
@click.argument("statepoint")
@click.option("--create", is_flag=True, help="Also create the job directory.")
def job(statepoint, create):
    """Print the id of the job with STATEPOINT (a JSON object); '-' reads it from stdin.

    
    Examples:
      suite job '{"T": 1.5, "L": 32}'
      suite job '{"T": 1.5, "L": 32}' --create
    """
    text = sys.stdin.read() if statepoint == "-" else statepoint
    try:
        sp = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="STATEPOINT") from None
    j = project().open_job(sp)
    if create:
        j.init()
    click.echo(j.id)


@click.command(short_help='Print the state point of each job.')
@click.argument("ids", nargs=-1, required=True)
@click.option("--pretty/--compact", default=True, help="Indent the JSON (default) or not.")
def statepoint(ids, pretty):
    """Print the state point of each job ID (or unique id prefix) as JSON.

    
    Examples:
      suite statepoint 3f2a
      suite statepoint 3f2a 9c01 --compact
    """
    p = project()
    for i in ids:
        sp = p.open_job(id=i).sp()
        click.echo(json.dumps(sp, indent=2 if pretty else None, sort_keys=True))


@click.command(short_help='Print or change the document of each job.')
@click.argument("ids", nargs=-1, required=True)
@click.option("--set", "assignments", nargs=2, multiple=True, metavar="KEY VALUE",
              help="Set KEY (dotted for nested) to VALUE (JSON literal, else a string).")
@click.option("--delete", "deletions", multiple=True, metavar="KEY", help="Delete KEY.")
@click.option("--pretty/--compact", default=True, help="Indent the JSON (default) or not.")
def document(ids, assignments, deletions, pretty):
    """Print (or change with --set/--delete) the document of each job ID.

    
    Examples:
      suite document 3f2a
      suite document 3f2a --set done true --set fit.chi2 0.93
      suite document 3f2a --delete draft
    """
    p = project()
    for i in ids:
        j = p.open_job(id=i)
        for key, value in assignments:
            _set_dotted(j.doc, key, literal_or_text(value))
        for key in deletions:
            _delete_dotted(j.doc, key)
        click.echo(json.dumps(j.doc(), indent=2 if pretty else None, sort_keys=True))


def _set_dotted(doc, key, value):
    *parents, last = key.split(".")
    node = doc
    for part in parents:
        if part not in node or not hasattr(node[part], "keys"):
            node[part] = {}
        node = node[part]
    node[last] = value


def _delete_dotted(doc, key):
    *parents, last = key.split(".")
    node = doc
    for part in parents:
        node = node[part]
    del node[last]


@click.command()
@click.argument("filter", nargs=-1)
@click.option("--sp", "sp_keys", default=None, metavar="KEYS",
              help="Also print these state point keys (comma-separated, dotted); '' for all.")
@click.option("--doc", "doc_keys", default=None, metavar="KEYS",
              help="Also print these document keys (comma-separated, dotted); '' for all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list, or id -> values).")
def find(filter, sp_keys, doc_keys, as_json):
    """Print the ids of the jobs matching FILTER.

    \b
    Grammar (pairs of KEY VALUE; keys are state point keys, 'doc.' for the document):
      suite find a 1 b.c 3           equality (values are JSON literals, else strings)
      suite find 'a.$gt' 1           an operator: $eq $ne $gt $gte $lt $lte $in $nin
                                     $regex $type $exists $near
      suite find doc.done true       a document key
      suite find a                   a bare key at the end: the key exists
      suite find name /^run_/        /.../ is a regular expression
      suite find '{"a": {"$in": [1, 2]}}'   one JSON object is a whole filter

    Jobs whose state point or document cannot be read are named on stderr. An unreadable
    state point leaves the job out of every answer and the exit status is then 3; an
    unreadable document leaves it out of document queries only (exit status unchanged).

    
    Examples:
      suite find T 1.5 --sp L
      suite find doc.done true --json
    """
    from .findjobs import find_jobs

    return find_jobs(filter, sp_keys, doc_keys, as_json)


@click.command(short_help='Delete jobs (or only their files, --clear).')
@click.argument("ids", nargs=-1, required=True)
@click.option("--clear", is_flag=True, help="Only delete the job's files, keep the job.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def rm(ids, clear, yes):
    """Delete the jobs with the given ids (asks first on a terminal unless --yes).

    
    Examples:
      suite rm 3f2a
      suite rm 3f2a 9c01 --clear --yes
    """
    p = project()
    jobs = [p.open_job(id=i) for i in ids]
    if not yes and sys.stdin.isatty():
        click.confirm(f"{'Clear' if clear else 'Delete'} {len(jobs)} job(s)?", abort=True)
    for j in jobs:
        if clear:
            j.clear()
        else:
            j.remove()
        click.echo(j.id)



@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False),
              help="The project to move the jobs into.")
def move(ids, dest):
    """Move the jobs with the given ids into the project at --to.

    
    Examples:
      suite move 3f2a 9c01 --to ../archive-project
    """
    from suite import Project

    p, other = project(), Project(dest)
    for i in ids:
        j = p.open_job(id=i)
        j.move(other)
        click.echo(f"moved {j.id} to {other.path}")


@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False),
              help="The project to copy the jobs into.")
def clone(ids, dest):
    """Copy the jobs with the given ids into the project at --to.

    
    Examples:
      suite clone 3f2a --to ../other-project
    """
    from suite import Project

    p, other = project(), Project(dest)
    for i in ids:
        j = p.open_job(id=i).clone(other)
        click.echo(f"cloned {j.id} to {other.path}")


@click.command()
@click.option("-x", "--exclude-const", is_flag=True, help="Leave out keys with only one value.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {key: {type: [values]}}.")
def schema(exclude_const, as_json):
    """Show every state point key and the values it takes.

    
    Examples:
      suite schema
      suite schema --exclude-const --json
    """
    s = project().detect_schema(exclude_const=exclude_const)
    if as_json:
        echo_json(s.to_json())
    else:
        click.echo("\n".join(f"{key}: {values}" for key, values in s.format_lines()))


@click.command(short_help='Rebuild the index (a cache) from the files.')
def reindex():
    """Drop the index (a cache under .suite/) and rebuild it from the files.

    
    Examples:
      suite reindex
    """
    p = project()
    path = p.index.path
    for suffix in ("", "-journal"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass
    p = type(p)(p.path)  # a fresh object opens a fresh index
    ids = p.index.ids()
    p.index.documents()
    click.echo(f"indexed {len(ids)} jobs in {p.index.path}")
    for _job_id, msg in sorted(p.index.problems.items()):
        click.echo(f"warning: {msg}", err=True)


@click.command(short_help='Report damaged jobs; --repair fixes misnamed ones.')
@click.option("--repair", is_flag=True, help="Move misnamed jobs to their correct id.")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list.")
def check(repair, as_json):
    """Report damaged jobs: unreadable state points or documents, misnamed directories,
    temporary files left by interrupted writes, files or directories that cannot be read.
    One damaged job does not stop the check of the others; the exit status is 1 if any.

    
    Examples:
      suite check
      suite check --repair
    """
    with progress_bar("checking jobs") as update:
        report = project().check_report(repair=repair, progress=update)
    if as_json:
        echo_json([p.__dict__ for p in report.problems])
    else:
        for prob in report.problems:
            tag = "repaired" if prob.repaired else prob.kind
            click.echo(f"{tag}: {prob.message}")
        if not report.problems:
            click.echo("all jobs are valid")
    if not report.ok:
        sys.exit(1)


@click.command(short_help='A Python prompt with `project` (and `job`).')
@click.option("-c", "--command", "command", default=None, help="Run this Python code and exit.")
def shell(command):
    """A Python prompt with `project` (and `job` inside a job directory) defined.

    
    Examples:
      suite shell
      suite shell -c 'print(len(project))'
    """
    import code

    import suite

    p = project()
    names = {"suite": suite, "project": p, "signac": suite}
    try:
        names["job"] = suite.get_job(".")
    except suite.JobNotFoundError:
        pass
    if command is not None:
        exec(compile(command, "<suite shell -c>", "exec"), names)
        return
    banner = f"suite {suite.__version__} — project {p.path}: {len(p)} jobs"
    if "job" in names:
        banner += f"; job {names['job'].id}"
    code.interact(banner=banner, local=names, exitmsg="")
