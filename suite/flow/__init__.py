"""Workflows: operations with conditions, labels and provenance, run over a project's jobs.

Define them in ``workflow.py`` in the project directory::

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

Built so far: operations (functions or commands), conditions, labels, hooks, provenance,
directives, ``suite status``, ``suite run``, ``suite exec`` and ``suite submit`` (SLURM).
Groups (``Flow.make_group``) and aggregation (``aggregator``) too.
"""

from . import conditions
from .aggregates import aggregator
from .engine import Runner, Status, load_workflow
from .model import Operation, Workflow

FlowProject = Workflow  # the name signac-flow users know

__all__ = ["aggregator", "FlowProject", "Operation", "Runner", "Status", "Workflow", "conditions",
           "load_workflow"]
