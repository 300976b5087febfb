"""What ``suite status`` does for this copy of the project, without click.

The command in :mod:`suite.cli.flow` parses its options with click and calls
:func:`status_here`; :func:`suite.cli.main` calls :func:`show` directly for the plain form
``suite status`` (no option, no argument), which so starts without importing click: click was
a fifth of status's start-up (docs/benchmarks.md, session 11)."""

import sys

from .plain import echo, name_unreadable, project

#: exit status of a status shown without what a damaged submission book would have added (as
#: `suite find`'s when a job's state point cannot be read)
EXIT_INCOMPLETE = 3

#: jobs from which `suite status` shows its progress on a terminal
STATUS_PROGRESS_MIN = 20000


def plain_args(args):
    """Whether ``args`` are ``status`` alone (every other form is parsed by click, with its
    usage errors and help)."""
    return list(args) == ["status"]


def status_here(ops=(), flt=None, ids=(), last=None, module=None, workers=None):
    """``(status, exit status)``: the :class:`~suite.flow.Status` of this copy of the
    project (a progress line on a terminal for large projects), with the scheduler's
    submitted and running operations. A scheduler that cannot be asked is a warning on stderr
    (the conditions answer; exit status 0); so is a submission book that cannot be read, with
    exit status :data:`EXIT_INCOMPLETE` (submitted and running are then unknown); so are the
    jobs a filter left out because their state point cannot be read (named on stderr).
    ``workers``: forked processes judging the jobs (None: the project's setting; see
    :meth:`suite.flow.Runner.status`).
    Raises :class:`~suite.errors.ProjectNotFoundError` outside a project and
    :class:`~suite.errors.SuiteError` when no workflow loads or an operation is unknown."""
    from suite.errors import CorruptFileError
    from suite.flow.book import damage_warning
    from suite.flow.submit import runner_for, scheduler_states

    runner = runner_for(project(), module)
    result = runner.status(list(ops) or None, flt, ids,
                           _progress if sys.stderr.isatty() else None, last=last,
                           workers=workers)
    code = 0
    try:
        warning = scheduler_states(runner, result)
    except CorruptFileError as exc:  # the book: the conditions still answer
        warning, code = damage_warning(exc), EXIT_INCOMPLETE
    if warning:
        echo(f"warning: {warning}", err=True)
    if result.unreadable:  # a filter left them out: named, as `suite find` names them
        name_unreadable(result.unreadable, "left out by the filter, could not read")
        code = EXIT_INCOMPLETE
    return result, code


def show():
    """``suite status``: the table of this copy's operations and labels; returns the exit
    status (:func:`status_here`)."""
    result, code = status_here()
    echo(result.format())
    return code


def _progress(step, steps, jobs):
    """On a terminal, for large projects: which step of the evaluation is running."""
    if jobs >= STATUS_PROGRESS_MIN:
        what = "labels" if step == steps else f"operation {step}/{steps - 1}"
        sys.stderr.write(f"\rsuite status: {jobs:,} jobs, {what}" + ("\n" if step == steps
                                                                      else ""))
        sys.stderr.flush()
