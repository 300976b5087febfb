"""``direct``: runs submitted scripts in the background on this machine (a workstation),
with the same tracking: the job id is the process id, and a status file holds the exit status
when the script ends.

Status files live in ``$TMPDIR/suite-direct-<uid>`` (process ids mean something on this
machine only, so a per-machine directory fits better than the project, which may be shared
between machines). That name is predictable, so the directory is trusted only if this user
created it: it is made with ``mkdir`` (which fails if anything is there) mode 0700, and used
only while it is a real directory (not a link), owned by this user, that no one else may
write (one made 0755 by an older suite is accepted: others could read it, not plant in it). Status files are opened without following links and must be regular files of this
user; a process removes any status left under its id by an earlier process before it runs,
and submit returns only once it has (process ids come round again).

A status file is kept for :data:`KEEP_DAYS` days after its job ended, then pruned
(:func:`prune_statuses`, once per process by the first submit or query): long enough for any
``suite status`` a user runs on finished work, and for ``--after`` on a job that ended; a
status older than that belongs to a process id the system has likely given out again.
"""

import contextlib
import os
import re
import signal
import stat
import subprocess
import tempfile
import threading
import time

from suite.jsonio import write_atomic
from suite.process import pid_alive

from .base import Scheduler, SchedulerError

# $1 is the status directory, $0 the script. A dependency that did not end with status 0
# fails this job without running it (a dependency's status file appears before it exits, and
# an unreaped one still answers kill -0). `set -C` (noclobber) creates the status file with
# O_EXCL, so it is never written through a link. The pipe on stdout closes once an earlier
# process's status under this id is gone: submit waits for that (see Direct.submit).
WRAPPER = ('rm -f -- "$1/$$" "$1/$$.tmp"; exec >/dev/null; s=0; {waits}'
           '[ $s = 0 ] && {{ bash "$0" > "$0.out" 2>&1; s=$?; }}; '
           'set -C; echo $s > "$1/$$.tmp" && mv -f -- "$1/$$.tmp" "$1/$$"')
WAIT = ('while [ ! -e "$1/{pid}" ] && kill -0 {pid} 2>/dev/null; do sleep 0.2; done; '
        '[ "$(cat -- "$1/{pid}" 2>/dev/null)" = 0 ] || s=1; ')


def status_dir():
    """This user's private directory for exit statuses (created if missing).

    Raises
    ------
    SchedulerError
        If the path is a link, not a directory, owned by someone else or writable by others
        (someone may have planted it to fake statuses or redirect writes).
    """
    base = os.environ.get("TMPDIR") or tempfile.gettempdir()
    path = os.path.join(base, f"suite-direct-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SchedulerError(f"cannot create the direct scheduler's status directory "
                             f"{path}: {exc.strerror}; set TMPDIR to a directory of yours") \
            from None
    st = os.lstat(path)
    problem = ("a link" if stat.S_ISLNK(st.st_mode) else
               "not a directory" if not stat.S_ISDIR(st.st_mode) else
               f"owned by uid {st.st_uid}" if st.st_uid != os.getuid() else
               f"mode {stat.S_IMODE(st.st_mode):o}" if st.st_mode & 0o022 else None)
    if problem:
        raise SchedulerError(f"{path} is not a private directory of yours ({problem}); it may "
                             "have been planted to fake job statuses: remove it, or set TMPDIR "
                             "to a directory of yours")
    return path


#: days a status file is kept after its job ended (its mtime)
KEEP_DAYS = 7

#: a status file's name, or the temporary one it is written to first
_STATUS_NAME = re.compile(r"[0-9]+(\.tmp)?")

#: status directories this process pruned already
_pruned = set()


def prune_statuses(directory=None, keep_days=KEEP_DAYS):
    """Remove the status files (and their temporary files left by a killed wrapper) whose jobs
    ended more than ``keep_days`` days ago from ``directory`` (default :func:`status_dir`);
    return how many were removed. Other names are left alone.

    Safe beside other processes: each old file is first renamed to a name of this process's
    own, so two pruners never both remove it, and removed only if it is still the file judged
    old; a new status that took its place meanwhile (a process id given out again) is put back.

    Raises SchedulerError as :func:`status_dir` does."""
    directory = status_dir() if directory is None else directory
    limit = time.time() - keep_days * 86400
    # a name of this thread's own (the dashboard's threads may prune at once)
    tomb = os.path.join(directory, f".pruning-{os.getpid()}-{threading.get_ident()}")
    removed = 0
    with os.scandir(directory) as entries:
        entries = list(entries)
    for e in entries:  # the name a pruner that was killed midway left its file under
        left = re.fullmatch(r"\.pruning-([0-9]+)(-[0-9]+)?", e.name)
        if left and not pid_alive(int(left.group(1))):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(e.path)
    old = [(e.path, st.st_ino) for e in entries if _STATUS_NAME.fullmatch(e.name)
           for st in (_lstat(e),)
           if st and not stat.S_ISDIR(st.st_mode) and st.st_mtime < limit]
    for path, inode in old:
        try:
            os.rename(path, tomb)
        except FileNotFoundError:  # another process pruned it first
            continue
        if os.lstat(tomb).st_ino == inode:
            removed += 1
        else:  # a new status replaced the old one after it was judged: it stays
            try:
                os.link(tomb, path, follow_symlinks=False)
            except FileExistsError:  # a newer one still is there: that one counts
                pass
        os.unlink(tomb)
    return removed


def _lstat(entry):
    """``entry``'s lstat, or None if it is gone (another process pruned it)."""
    try:
        return entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return None


def _prune_once(directory):
    if directory not in _pruned:
        _pruned.add(directory)
        prune_statuses(directory)


class Direct(Scheduler):
    name = "direct"

    @staticmethod
    def present():
        return True

    def submit_command(self, script_path, submission):
        return ["bash", script_path]

    def submit(self, script, submission, directory):
        """Start ``script`` in the background; return its process id, once a status file
        an earlier process left under that id is gone (a query then reads it as running).

        Raises SchedulerError for ``hold``, for an ``after`` id that is not a process id, and
        for a status directory that is not private (:func:`status_dir`)."""
        if submission.hold:
            raise SchedulerError("the direct scheduler cannot hold jobs")
        bad = [p for p in submission.after if not str(p).isdigit()]
        if bad:
            raise SchedulerError(f"--after {bad[0]!r} is not a process id (the direct "
                                 "scheduler's job ids are process ids)")
        statuses = status_dir()
        _prune_once(statuses)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{submission.name}.sh")
        # surrogateescape: an operation name's undecodable bytes go back to those bytes
        write_atomic(path, script.encode("utf-8", "surrogateescape"))
        wrapper = WRAPPER.format(waits="".join(WAIT.format(pid=int(p))
                                               for p in submission.after))
        proc = subprocess.Popen(["bash", "-c", wrapper, path, statuses], start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        # process ids come round again and status files stay: until the wrapper has removed
        # the one an earlier process left under this id, a query would read this job as
        # ended (the wrapper closes the pipe once it has)
        with proc.stdout:
            proc.stdout.read()
        return str(proc.pid)

    def query(self, ids):
        """``{id: state}``: completed or failed by the status file, else running while the
        process lives, else unknown. Raises SchedulerError as :func:`status_dir` does."""
        out = {}
        statuses = status_dir()
        _prune_once(statuses)
        for i in ids:
            code = _read_status(statuses, i)
            if code is not None:
                out[i] = "completed" if code == "0" else "failed"
            elif i.isdigit() and pid_alive(int(i)):
                out[i] = "running"
            else:
                out[i] = "unknown"
        return out

    def cancel(self, ids):
        for i in ids:
            try:
                os.killpg(int(i), signal.SIGTERM)
            except ProcessLookupError:
                pass


def _read_status(directory, job_id):
    """The status file's text, or None if there is none we can believe (a link, not a
    regular file of ours)."""
    if not job_id.isdigit():
        return None
    try:
        fd = os.open(os.path.join(directory, job_id), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # missing, or a link (ELOOP)
        return None
    with os.fdopen(fd) as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            return None
        return f.read().strip()
