"""Staging directories a killed sync left in a workspace, removed by the next sync.

A new job is staged in ``workspace/.suite-tmp-sync-<job id>-<pid>/`` and renamed into place
(:meth:`sync.replica.Replica.create_job`, ``copy_local_job``); a local first copy stages up to
a few hundred ahead (:class:`sync.landing.StagedAhead`). A sync killed with SIGKILL cannot
remove them; the next sync of the project does (:func:`remove_dead_staging`), where that is
safe: the name is of that form, the process id in it is not a live process on this machine,
and no other sync of the project holds its lock (one on another machine sharing the
filesystem has process ids this machine does not know).
"""

import fcntl
import os
import re
import shutil

from suite import layout
from suite.process import pid_alive

#: a staging directory's name; group 1 is the process id of the sync that made it
STAGING = re.compile(re.escape(layout.TMP_PREFIX) + r"sync-[0-9a-f]{32}-([0-9]+)")


def staging_name(job_id):
    """The name of this process's staging directory of the job ``job_id``."""
    return f"{layout.TMP_PREFIX}sync-{job_id}-{os.getpid()}"


def _alive(pid):
    """Whether the sync of process ``pid`` may still run (this process's own, a live one, or
    a number that names no process: left alone)."""
    if pid == os.getpid() or not 0 < pid < 1 << 22:  # (Linux's largest pid is 2**22)
        return True
    return pid_alive(pid)


def _other_sync_running(sync_dir, held):
    """Whether a sync other than this process's holds one of the lock files of ``sync_dir``
    (``.suite/sync/<peer>.lock``); ``held``: the peers whose locks this process holds."""
    try:
        names = os.listdir(sync_dir)
    except FileNotFoundError:
        return False
    for name in names:
        if not name.endswith(".lock") or name[:-5] in held:
            continue
        try:
            fd = os.open(os.path.join(sync_dir, name), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return True  # cannot tell: take it as running
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # (the probe's own lock goes with it)
    return False


def remove_dead_staging(workspace, names, sync_dir, held):
    """Remove the staging directories among ``names`` (entries of ``workspace``) whose sync
    is dead: the process id in the name is no live process here, and no other sync holds a
    lock of the project (``sync_dir``, ``held`` as for :func:`_other_sync_running`). Returns
    the names removed. Call it holding this sync's locks. Never raises for a directory that
    cannot be removed (``suite check`` still lists it)."""
    dead = [n for n in names if (m := STAGING.fullmatch(n)) and not _alive(int(m.group(1)))]
    if not dead or _other_sync_running(sync_dir, held):
        return []
    removed = []
    for name in dead:
        path = os.path.join(workspace, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.lexists(path):
                removed.append(name)
    return removed
