"""Batch schedulers: one module per scheduler beside its jinja2 template.

Built: SLURM. Not built yet: PBS/Torque, LSF, SGE and ``direct``.
"""

import os

from .base import Scheduler, SchedulerError, Submission
from .resources import combine
from .slurm import Slurm

SCHEDULERS = {"slurm": Slurm}


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


__all__ = ["SCHEDULERS", "Scheduler", "SchedulerError", "Slurm", "Submission", "combine",
           "get_scheduler"]
