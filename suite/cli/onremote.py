"""The ``--on REMOTE`` / ``--everywhere`` forms of status, submit and run (see
:mod:`suite.remote`): the commands in :mod:`suite.cli.flow` hand over here."""

import sys

import click

from suite.terminal import visible

from .common import echo_json, project


def on_options(f):
    """--on, --remote-suite and --ssh: where the command runs instead of here."""
    f = click.option("--ssh", "ssh", type=click.Choice(["paramiko", "openssh", "auto", "local"]),
                     default=None, metavar="KIND",
                     help="With --on: the transport (as for 'suite sync').")(f)
    f = click.option("--remote-suite", default=None, metavar="COMMAND",
                     help="With --on: how to run suite there (default: the remote's "
                          "setting, else suite).")(f)
    return click.option("--on", "on", default=None, metavar="REMOTE[,REMOTE...]",
                         help="Do it on these remotes (names or URLs) over SSH, with their "
                              "own workflow file and scheduler.")(f)


def _names(on):
    return [n.strip() for n in on.split(",") if n.strip()]


def status(on, everywhere, options, fmt, remote_suite, ssh):
    """``suite status --on/--everywhere``; exits 6 when a remote was unreachable, else 1
    when one could not answer (its error is shown)."""
    from suite.remote import EXIT_UNREACHABLE, format_everywhere, status_everywhere
    from sync import list_remotes

    proj = project()
    names = sorted(list_remotes(proj)) if everywhere else _names(on)
    table = status_everywhere(proj, names, here=everywhere, options=options,
                              connect={"remote_suite": remote_suite, "ssh": ssh})
    if fmt == "json":
        echo_json(table)
    else:
        click.echo(format_everywhere(table, fmt or "text"))
    if any(v.get("unreachable") for v in table.values()):
        sys.exit(EXIT_UNREACHABLE)
    if any("error" in v for v in table.values()):
        sys.exit(1)


def submit(on, share, options, remote_suite, ssh):
    from suite.remote import submit_on

    results = submit_on(project(), _names(on), share, options,
                        {"remote_suite": remote_suite, "ssh": ssh})
    for result in results:
        if result.error:
            click.echo(f"{result.remote}: error: {result.error}", err=True)
            continue
        if result.push is not None and options.get("pretend"):
            click.echo(f"# push to {result.remote}:")
            click.echo(result.push.format())
        for line in result.output:
            click.echo(line)
        for job in result.held:
            click.echo(f"{result.remote}: not submitted: job {job} has unresolved sync "
                       "conflicts (resolve them with 'suite sync')", err=True)
        echo_skipped(result.remote, result.skipped)
        if not options.get("pretend"):
            by_id = ", ".join(f"{sid} ({visible(' '.join(sorted({p[0] for p in e['pairs']})))})"
                              for sid, e in result.records.items())
            to = f" to {result.scheduler}" if result.scheduler else ""
            click.echo(f"{result.remote}: submitted {len(result.ids)} script(s){to}"
                       + (f": {by_id}" if by_id else ""))
    if any(result.error for result in results):
        sys.exit(1)


def echo_skipped(name, skipped):
    """One line on stderr per operation left alone as queued or running elsewhere."""
    for op, jobs, where, sched_id in skipped:
        click.echo(f"{name}: skipped {visible(op)} on {' '.join(j[:8] for j in jobs)}: queued or "
                   f"running at {where} ({sched_id}); --force submits anyway", err=True)


def run(on, argv, remote_suite, ssh, filter=None, ids=(), module=None):
    """``suite run --on``: push the selected jobs (all if none) and the workflow, run there."""
    from suite.remote import Remote

    names = _names(on)
    if len(names) != 1:
        raise click.UsageError("run --on takes one remote")
    proj = project()
    jobs = None
    if filter is not None or ids:
        jobs = sorted({proj.open_job(id=i).id for i in ids}
                      | (set(proj.find_jobs(filter).ids()) if filter is not None else set()))
    with Remote(proj, names[0], ssh=ssh, remote_suite=remote_suite) as far:
        status = far.run(argv, jobs=jobs, module=module)
    sys.exit(status)
