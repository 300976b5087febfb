"""Workflows: operations with conditions, labels and provenance, run over a project's jobs.

Two ways to define them. suite's own, ``workflow.py`` in the project directory::

    from suite.flow import Workflow

    class Sweep(Workflow):
        pass

    @Sweep.post.isfile("out.txt")
    @Sweep.operation(cmd=True)
    def simulate(job):
        return "python ../../simulate.py > out.txt"

    @Sweep.pre.after(simulate)
    @Sweep.post.true("analysed")
    @Sweep.operation
    def analyse(job):
        job.doc.analysed = True

and signac-flow's, a ``project.py`` with a :class:`FlowProject` subclass and
``Project().main()`` (see docs/coming-from-signac-flow.md). ``suite status``, ``suite run``,
``suite exec`` and ``suite submit`` run either.
"""

from suite.errors import FlowDefinitionError, OperationFailedError

from . import conditions
from .aggregates import aggregator, get_aggregate_id
from .engine import Runner, Status, load_workflow
from .model import Operation, Workflow
from .project import FlowProject, IgnoreConditions

#: signac-flow names suite.flow does not provide, and what to use instead
UNSUPPORTED = {
    "label": "@Project.label (or @Project.label('name')) on a function of the job",
    "classlabel": "@Project.label on a function of the job",
    "staticlabel": "@Project.label on a function of the job",
    "cmd": "@Project.operation(cmd=True)",
    "with_job": "@Project.operation(with_job=True)",
    "directives": "@Project.operation(directives={...})",
    "init": "write project.py yourself (see docs/coming-from-signac-flow.md)",
    "get_environment": "suite detects the scheduler itself; choose one with SUITE_SCHEDULER",
    "environment": "suite's schedulers package (SUITE_SCHEDULER, templates/)",
    "environments": "suite's schedulers package (SUITE_SCHEDULER, templates/)",
    "redirect_log": "the provenance log suite_flow_log.jsonl",
    "scheduling": "suite's schedulers package",
    "errors": "suite.errors (SuiteError) and suite.flow.OperationFailedError",
}


def __getattr__(name):
    if name == "hooks":  # ``import flow`` then ``flow.hooks.TrackOperations``, as signac-flow
        import importlib

        return importlib.import_module(".hooks", __name__)
    if name in UNSUPPORTED:
        from suite.errors import SuiteError

        raise SuiteError(f"flow.{name} (signac-flow) is not supported by suite.flow: use "
                         f"{UNSUPPORTED[name]}")
    raise AttributeError(f"module 'suite.flow' has no attribute {name!r}")


__all__ = ["aggregator", "FlowDefinitionError", "FlowProject", "get_aggregate_id",
           "IgnoreConditions", "Operation", "OperationFailedError", "Runner", "Status",
           "Workflow", "conditions", "load_workflow"]
