"""What ``suite status`` does for this copy of the project, without click.

The command in :mod:`suite.cli.flow` parses its options with click and calls
:func:`status_here`; :func:`suite.cli.main` calls :func:`show` directly for the plain form
``suite status`` (no option, no argument), which so starts without importing click: click was
a fifth of status's start-up (docs/benchmarks.md, session 11)."""

import sys

from .plain import echo, project

#: jobs from which `suite status` shows its progress on a terminal
STATUS_PROGRESS_MIN = 20000


def plain_args(args):
    """Whether ``args`` are ``status`` alone (every other form is parsed by click, with its
    usage errors and help)."""
    return list(args) == ["status"]


def status_here(ops=(), flt=None, ids=(), last=None, module=None, workers=None):
    """The :class:`~suite.flow.Status` of this copy of the project (a progress line on a
    terminal for large projects), with the scheduler's submitted and running operations;
    a scheduler that cannot be asked is a warning on stderr (the conditions answer).
    ``workers``: forked processes judging the jobs (None: the project's setting; see
    :meth:`suite.flow.Runner.status`).
    Raises :class:`~suite.errors.ProjectNotFoundError` outside a project and
    :class:`~suite.errors.SuiteError` when no workflow loads or an operation is unknown."""
    from suite.flow.submit import runner_for, scheduler_states

    runner = runner_for(project(), module)
    result = runner.status(list(ops) or None, flt, ids,
                           _progress if sys.stderr.isatty() else None, last=last,
                           workers=workers)
    warning = scheduler_states(runner, result)
    if warning:
        echo(f"warning: {warning}", err=True)
    return result


def show():
    """``suite status``: the table of this copy's operations and labels."""
    echo(status_here().format())


def _progress(step, steps, jobs):
    """On a terminal, for large projects: which step of the evaluation is running."""
    if jobs >= STATUS_PROGRESS_MIN:
        what = "labels" if step == steps else f"operation {step}/{steps - 1}"
        sys.stderr.write(f"\rsuite status: {jobs:,} jobs, {what}" + ("\n" if step == steps
                                                                      else ""))
        sys.stderr.flush()
