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


def get_scheduler(name=None, template=None):
    """The scheduler called ``name``, else ``$SUITE_SCHEDULER``, else the one this host's
    name is known for (:mod:`schedulers.hosts`), else the one whose commands are present.

    ``template`` (a file name in ``<project>/templates/`` or a shipped one) replaces the
    scheduler's own template; a host entry may name one too."""
    from . import hosts

    name = name or os.environ.get("SUITE_SCHEDULER")
    entry = None
    if not name:
        entry = hosts.match()
        name = entry["scheduler"] if entry else None
    if name:
        try:
            scheduler = SCHEDULERS[name]()
        except KeyError:
            where = f" (host entry {entry['pattern']!r})" if entry else ""
            raise SchedulerError(f"unknown scheduler {name!r}{where}; available: "
                                 f"{', '.join(SCHEDULERS)}") from None
    else:
        scheduler = next((cls() for cls in SCHEDULERS.values() if cls.present()), None)
        if scheduler is None:
            raise SchedulerError("no batch scheduler found on this machine (looked for: "
                                 f"{', '.join(SCHEDULERS)}); set SUITE_SCHEDULER or --scheduler")
    scheduler.template = template or (entry or {}).get("template") or scheduler.template
    return scheduler


__all__ = ["LSF", "PBS", "SCHEDULERS", "SGE", "Direct", "Scheduler", "SchedulerError", "Slurm",
           "Submission", "combine", "get_scheduler"]
