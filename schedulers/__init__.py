"""Batch schedulers: one module per scheduler beside its jinja2 template.

SLURM, PBS/Torque, LSF, SGE and ``direct`` (background processes on a workstation).
"""

import os

from .base import Scheduler, SchedulerError, Submission
from .direct import Direct
from .lsf import LSF
from .pbs import PBS
from .resources import combine
from .sge import SGE
from .slurm import Slurm

#: in detection order; direct (a workstation) last
SCHEDULERS = {"slurm": Slurm, "lsf": LSF, "sge": SGE, "pbs": PBS, "direct": Direct}


def get_scheduler(name=None):
    """The scheduler called ``name``, else ``$SUITE_SCHEDULER``, else the one whose commands
    are present on this machine."""
    name = name or os.environ.get("SUITE_SCHEDULER")
    if name:
        try:
            return SCHEDULERS[name]()
        except KeyError:
            raise SchedulerError(
                f"unknown scheduler {name!r}; available: {', '.join(SCHEDULERS)}") from None
    for cls in SCHEDULERS.values():
        if cls.present():
            return cls()
    raise SchedulerError("no batch scheduler found on this machine (looked for: "
                         f"{', '.join(SCHEDULERS)}); set SUITE_SCHEDULER or --scheduler")


__all__ = ["LSF", "PBS", "SCHEDULERS", "SGE", "Direct", "Scheduler", "SchedulerError", "Slurm",
           "Submission", "combine", "get_scheduler"]
