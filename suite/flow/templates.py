"""signac-flow's script templates: a project's ``templates/script.sh`` that starts with
``{% extends base_script %}`` and fills signac-flow's blocks renders the submission scripts.

``base_script`` is suite's ``signac-flow-base.sh.j2``: signac-flow's blocks (header,
preamble, tasks, project_header, custom_content, body, pre_operation, footer) placed inside the
scheduler's own template, so the scheduler directives stay suite's. Variables: ``project``
(``path``), ``operations`` (each ``name``, ``id``, ``cmd``, ``directives``), ``parallel``,
``id``, ``np_global``, ``directives``; filters ``quote_argument`` and ``format_timedelta``.
Anything else signac-flow offers (``environment``, its other filters) is refused with a
one-line error naming it.
"""

import datetime
import shlex

BASE = "signac-flow-base.sh.j2"


def format_timedelta(delta, style="HH:MM:SS"):
    """A walltime (hours, or a timedelta) as HH:MM:SS (signac-flow's filter)."""
    if not isinstance(delta, datetime.timedelta):
        delta = datetime.timedelta(hours=float(delta))
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def render_flow_template(scheduler, submission, project, template, parallel, operations):
    """The script for ``submission`` from the project's signac-flow ``template``.

    Raises SchedulerError naming what the template uses that suite does not provide."""
    from schedulers import SchedulerError

    if submission.tasks:
        raise SchedulerError(f"templates/{template} (signac-flow) cannot render job arrays; "
                             "submit without --array")
    np_values = [op["directives"].get("np") or 1 for op in operations] or [1]
    context = {"base_script": BASE, "project": {"path": project.path}, "operations": operations,
               "parallel": parallel, "id": submission.name,
               "np_global": sum(np_values) if parallel else max(np_values)}
    try:
        return scheduler.render(submission, project.path, template, context,
                                {"quote_argument": shlex.quote,
                                 "format_timedelta": format_timedelta})
    except SchedulerError as exc:
        text = str(exc)
        if "undefined" in text or "No filter named" in text or "No test named" in text:
            raise SchedulerError(f"templates/{template} uses something signac-flow provides "
                                 f"and suite.flow does not ({text.split(': ', 2)[-1]}); "
                                 "supported: the blocks header, preamble, tasks, "
                                 "project_header, custom_content, body, pre_operation, footer; "
                                 "variables project, operations, parallel, id, np_global, "
                                 "directives; filters quote_argument, format_timedelta") \
                from None
        raise
