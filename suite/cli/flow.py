"""Commands status, run and exec (workflows)."""

import sys

import click

from suite.terminal import visible

from . import onremote
from .common import echo_json, echo_lines, filter_from_options, filter_option, job_option, project
from .onremote import on_options
from .statusplain import status_here

workflow_option = click.option(
    "--workflow", "module", default=None, metavar="MODULE",
    help="The workflow: a .py file or a module name (default: workflow.py in the project, "
         "else its signac-flow project.py).")


def record_options(f):
    """--reason and --tag: kept in every provenance record of the run."""
    f = click.option("--tag", "tags", multiple=True, metavar="T",
                     help="A tag for the provenance records (repeatable; suite log --tag).")(f)
    return click.option("--reason", default=None, metavar="TEXT",
                        help="Why this run: kept in its provenance records.")(f)


def _runner(module, reason=None, tags=()):
    from suite.flow.submit import runner_for

    runner = runner_for(project(), module)
    runner.capture.reason, runner.capture.tags = reason, list(tags)
    return runner


@click.command(short_help='Per operation: eligible, submitted, running, complete.')
@click.option("-o", "--operation", "ops", multiple=True, help="Only these operations.")
@filter_option
@job_option
@click.option("--detailed", is_flag=True, help="Also one line per job.")
@click.option("--json", "fmt", flag_value="json", help="Print JSON.")
@click.option("--markdown", "fmt", flag_value="markdown", help="Print a Markdown table.")
@click.option("--html", "fmt", flag_value="html", help="Print an HTML table.")
@click.option("--last/--no-last", default=None,
              help="Show the last execution per operation (default: for up to 20,000 jobs; "
                   "it reads every job's log).")
@click.option("--parallel", "workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Judge the jobs in N forked processes (1: in this one). Default: the "
                   "project's status_parallelization setting (none, process, or N); else "
                   "one process per core, at most two, from 10,000 jobs on.")
@workflow_option
@click.option("--everywhere", is_flag=True,
              help="This project and every named remote, in one table (exit 6 if one was "
                   "unreachable, 1 if one could not answer).")
@on_options
def status(ops, filter_args, ids, detailed, fmt, last, workers, module, everywhere, on,
           remote_suite, ssh):
    """Show, per operation, how many jobs are eligible, submitted (queued or held), running and
    complete, and the labels, and each operation's last execution (status, start, job,
    provenance record); --detailed adds a line per job. Submitted and running come from
    one query to the scheduler for the submissions recorded at submit time; if it fails, a
    warning says so and the conditions alone answer. A submission book that cannot be read
    is a warning naming the file, the conditions answer, and the exit status is 3. With -f,
    jobs whose state point cannot be read (the filter cannot judge them) are left out, named
    on stderr, and the exit status is 3, as find's.

    With --on REMOTE or --everywhere (this project and every named remote): one table, a
    row per operation and location. Exit status 6 when a remote could not be reached (the
    others are still shown), 1 when one could not answer.

    
    Examples:
      suite status
      suite status -o simulate --detailed
      suite status --everywhere
    """
    if on or everywhere:
        if detailed:
            raise click.UsageError("--detailed lists this copy's jobs; it does not go with "
                                   "--on or --everywhere (run it there: suite status "
                                   "--detailed)")
        return onremote.status(on, everywhere, {
            "ops": list(ops), "filter": filter_from_options(filter_args) if filter_args
            else None, "ids": list(ids), "module": module, "last": bool(last)}, fmt,
            remote_suite, ssh)
    result, code = status_here(ops, filter_from_options(filter_args) if filter_args else None,
                               ids, last, module, workers)
    if fmt == "json":
        echo_json(result.to_json())
    elif fmt == "html":
        click.echo(result.to_html())
    else:
        click.echo(result.format(detailed=detailed, markdown=fmt == "markdown"))
    if code:
        sys.exit(code)


@click.command(short_help='Run the eligible operations here and now.')
@click.option("-o", "--operation", "ops", multiple=True, help="Only these operations.")
@filter_option
@job_option
@click.option("-n", "--num", type=int, default=None, help="Run at most N operations.")
@click.option("--order", type=click.Choice(["none", "by-job", "cyclic", "random"]),
              default="none", help="Order of execution.")
@click.option("--timeout", type=float, default=None, help="Seconds a command may run.")
@click.option("--num-passes", type=int, default=1,
              help="Re-evaluate conditions and run again, up to N times.")
@click.option("--pretend", is_flag=True, help="Print what would run; run nothing.")
@click.option("--parallel", type=int, default=1, metavar="N",
              help="Run up to N operations at once (threads; commands run as processes).")
@click.option("--progress", is_flag=True,
              help="Show how many operations have run (on stderr; a live line on a terminal).")
@record_options
@workflow_option
@on_options
@click.pass_context
def run(ctx, ops, filter_args, ids, num, order, timeout, num_passes, pretend, parallel,
        progress, reason, tags, module, on, remote_suite, ssh):
    """Run the eligible operations on the selected jobs, here and now. Each execution is
    recorded in the job's suite_flow_log.jsonl; failures are reported and the exit status
    is 1.

    
    Examples:
      suite run
      suite run -o simulate -f 'T 1.5' --parallel 2
      suite run --pretend
    """
    import sys

    if on:  # the same options, given to the far side's suite run
        return onremote.run(on, _far_argv(ctx, ("on", "remote_suite", "ssh")), remote_suite,
                            ssh, filter_from_options(filter_args) if filter_args else None,
                            ids, module)
    runner = _runner(module, reason, tags)
    shown = []  # --pretend's line per operation, printed in one write (see echo_lines)
    done = runner.run(list(ops) or None, filter_from_options(filter_args) if filter_args
                      else None, ids, num, order, timeout, num_passes, pretend,
                      shown.append if pretend else click.echo,
                      parallel, _progress_printer() if progress else None)
    echo_lines(shown)
    failed = [d for d in done if d[2] == "failure"]
    if not pretend:
        click.echo(f"ran {len(done)} operation(s); {len(failed)} failed")
    elif not done:
        click.echo("nothing to run: no operation is eligible", err=True)
    for name, job_id, _ in failed:
        click.echo(f"failed: {visible(name)} on {job_id} (see its suite_flow_log.jsonl)",
                   err=True)
    if failed:
        sys.exit(1)


def _far_argv(ctx, leave):
    """The command line's own options (those not in ``leave``) as the far side takes them."""
    argv = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name in leave or value in (None, False, ()) or value == param.default:
            continue
        flag = max(param.opts, key=len)
        for item in (value if param.multiple else [value]):
            argv += [flag] if param.is_flag else [flag, str(item)]
    return argv


def _progress_printer():
    """A progress callback: a line rewritten in place on a terminal, else a line a second."""
    import sys
    import time

    live = sys.stderr.isatty()
    last = [0.0]

    def show(done, total, failed):
        now = time.monotonic()
        if done != total and now - last[0] < (0.1 if live else 1.0):
            return
        last[0] = now
        text = f"suite run: {done}/{total} operations, {failed} failed"
        if live:
            click.echo("\r" + text + ("\n" if done == total else ""), err=True, nl=False)
        else:
            click.echo(text, err=True)

    return show


@click.command("exec", short_help='Run an operation on the given jobs, eligible or not.')
@click.argument("operation")
@click.argument("ids", nargs=-1)
@record_options
@workflow_option
def exec_(operation, ids, reason, tags, module):
    """Run OPERATION (or a group) on the given jobs (all jobs if none), whatever its
    conditions say; an aggregate operation runs once on all of them together.

    
    Examples:
      suite exec simulate 3f2a 9c01
      suite exec analyze --reason 'new fit'
    """
    import sys

    runner = _runner(module, reason, tags)
    jobs = [runner.project.open_job(id=i) for i in ids] or list(runner.project)
    group = runner.flow.group_table.get(operation)
    if group is not None:
        units = [tuple(jobs)] if group.aggregator is not None else [(j,) for j in jobs]
        statuses = [runner.execute_group(group, unit) for unit in units]
    else:
        op = runner.operation(operation)
        units = [tuple(jobs)] if op.aggregator is not None else [(j,) for j in jobs]
        statuses = [runner.execute(op, unit) for unit in units]
    click.echo(f"ran {visible(operation)} on {len(jobs)} job(s); "
               f"{statuses.count('failure')} failed")
    if "failure" in statuses:
        sys.exit(1)


@click.command(short_help='Submit eligible operations to the batch scheduler.')
@click.option("-o", "--operation", "ops", multiple=True, help="Only these operations.")
@filter_option
@job_option
@click.option("-n", "--num", type=int, default=None, help="Submit at most N operations.")
@click.option("--bundle", type=int, default=1, help="Operations per submitted script.")
@click.option("--parallel", is_flag=True, help="Run a bundle's operations side by side.")
@click.option("--array", is_flag=True,
              help="Submit scripts that ask for the same resources as one job array "
                   "(slurm, sge).")
@click.option("--pretend", is_flag=True,
              help="Print the scripts and submit commands; contact no scheduler.")
@click.option("--hold", is_flag=True, help="Submit held (release with the scheduler).")
@click.option("--after", "after", multiple=True, metavar="ID",
              help="Start only after scheduler job ID completed successfully.")
@click.option("--scheduler", "scheduler_name", default=None,
              help="slurm, pbs, lsf, sge or direct (default: $SUITE_SCHEDULER, else by host "
                   "name, else by the commands present).")
@click.option("--template", "template_name", default=None, metavar="NAME",
              help="Render scripts with templates/NAME (or a shipped template) instead of "
                   "the scheduler's own.")
@click.argument("flags", nargs=-1, type=click.UNPROCESSED)
@record_options
@workflow_option
@on_options
@click.option("--share", default=None, metavar="A=N,B=M",
              help="With several --on remotes: their shares of the operations (default equal).")
@click.option("--force", is_flag=True,
              help="Submit even what the book knows queued or running at another location.")
def submit(ops, filter_args, ids, num, bundle, parallel, array, pretend, hold, after,
           scheduler_name, template_name, flags, reason, tags, module, on, remote_suite, ssh,
           share, force):
    """Submit eligible operations to the batch scheduler; anything after -- is passed to it.

    Operations already queued or running are never submitted again.

    
    Examples:
      suite submit --pretend
      suite submit -o simulate --bundle 4 --parallel
      suite submit --on cluster -n 100
    """
    from schedulers import get_scheduler
    from suite.flow.submit import submit as do_submit

    if on:
        return onremote.submit(on, share, {
            "ops": list(ops), "filter": filter_from_options(filter_args) if filter_args
            else None, "ids": list(ids) or None, "num": num, "bundle": bundle,
            "parallel": parallel, "pretend": pretend, "hold": hold, "after": list(after),
            "flags": list(flags), "scheduler": scheduler_name, "template": template_name,
            "array": array, "module": module, "reason": reason, "tags": list(tags),
            "force": force}, remote_suite, ssh)
    runner = _runner(module, reason, tags)
    scheduler = get_scheduler(scheduler_name, template_name)
    skipped = []
    done = do_submit(runner, scheduler, list(ops) or None,
                     filter_from_options(filter_args) if filter_args else None, ids, num,
                     bundle, parallel, pretend, hold, list(after), list(flags), module,
                     click.echo, array, force=force, skipped=skipped)
    onremote.echo_skipped("here", skipped)
    if not pretend:
        click.echo(f"submitted {len(done)} script(s): {' '.join(done)}")
    elif not done:
        click.echo("nothing to submit: no eligible operation that is not already queued or "
                   "running", err=True)


@click.group(short_help="Scheduler script templates of this project.")
def template():
    """Scheduler script templates of this project (templates/ in the project).

    
    Examples:
      suite template create slurm
    """


@template.command("create", short_help='Write templates/<scheduler>.sh.j2 to edit.')
@click.option("--scheduler", "scheduler_name", default=None,
              help="slurm, pbs, lsf, sge or direct (default: detected).")
@click.option("--force", is_flag=True, help="Replace an existing template.")
def template_create(scheduler_name, force):
    """Write templates/<scheduler>.sh.j2 extending the shipped template, with the blocks to
    fill in (module load lines, site flags).

    
    Examples:
      suite template create slurm
      suite template create pbs --force
    """
    import os

    from schedulers import get_scheduler
    from suite.errors import DestinationExistsError

    proj = project()
    name = get_scheduler(scheduler_name).name
    path = os.path.join(proj.path, "templates", f"{name}.sh.j2")
    if os.path.exists(path) and not force:
        raise DestinationExistsError(f"{path} exists; pass --force to replace it")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(TEMPLATE.format(name=name))
    click.echo(f"wrote {path}")


TEMPLATE = """{{% extends "suite/{name}.sh.j2" %}}
{{# Site settings for {name}. The shipped template is suite/{name}.sh.j2; blocks: header
   (scheduler directives), environment, body. `suite submit --pretend` shows the result. #}}
{{% block header %}}
{{{{ super() }}}}
{{# e.g. a partition or account line for this cluster #}}
{{% endblock %}}
{{% block environment %}}
{{# e.g. module load gcc openmpi #}}
{{{{ super() }}}}
{{% endblock %}}
"""
