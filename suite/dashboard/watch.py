"""Which job documents changed, told by Linux's inotify, so that a long-running dashboard need
not ``stat`` every document before each page that uses documents.

A :class:`Watcher` watches the workspace (jobs that come) and every job directory (writes in
place, as signac does, and atomic replaces, as suite does, of the document). The index asks it
(:meth:`Watcher.take`) before a document check: it answers either the ids whose documents may
have changed since its last answer, or None, "I cannot tell": then the index stats every
document as it always does. It says None until its watches are set up, then once more (the
check that covers what changed before the watches existed), after the kernel's event queue
overflowed (until it has watched again), and always when inotify is not there (not Linux,
``max_user_watches`` or ``max_user_instances`` used up, ``SUITE_DASHBOARD_INOTIFY=0``), when
the jobs need more watches than its budget (:func:`watch_budget`), or when inotify
cannot see every change: a workspace on a network or cluster file system (NFS, Lustre,
GPFS, ...), where jobs on other nodes write without this kernel knowing.

Correctness does not rest on a thread's timing: :meth:`take` reads every queued event itself
before it answers, and the kernel queues an event before the writer's ``write`` or
``rename`` returns. A background thread reads them too, only so the queue does not overflow.
"""

import ctypes
import ctypes.util
import errno
import logging
import os
import re
import select
import struct
import sys
import threading

from suite import layout
from suite.errors import ConfigError

#: set to 0 to make the dashboard check documents by stat (the fallback) instead
ENV = "SUITE_DASHBOARD_INOTIFY"
#: the most watches the dashboard sets up (see :func:`watch_budget`)
MAX_ENV = "SUITE_DASHBOARD_MAX_WATCHES"
#: the kernel's allowance of watches per user (the second: per user namespace, Linux 5.11+)
LIMIT_FILES = ("/proc/sys/fs/inotify/max_user_watches", "/proc/sys/user/max_inotify_watches")

#: the dashboard's log: why it does not watch, said once
log = logging.getLogger("suite.dashboard")

IN_MODIFY = 0x2
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x1000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
#: in a job directory: the document written in place, replaced, created, deleted, moved away
JOB_MASK = (IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
            | IN_ONLYDIR)
#: in the workspace: job directories that come (a new one is watched) and go
WS_MASK = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF \
    | IN_ONLYDIR
_HEADER = struct.Struct("iIII")
#: the background thread's longest sleep between reads (seconds; close wakes it at once)
POLL_SECONDS = 0.5


#: file systems whose every change passes through this machine's kernel, so inotify sees it;
#: on the others (NFS, Lustre, GPFS, CIFS, FUSE, ...) a job on another node writes unseen
LOCAL_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "f2fs", "zfs", "jfs",
                     "reiserfs", "bcachefs", "overlay", "ramfs"}


def filesystem_of(path):
    """The type of the file system (as /proc/self/mountinfo names it) holding ``path``, or
    None if that cannot be told."""
    real = os.path.realpath(path)
    best, kind = "", None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if "-" not in fields:
                    continue
                # spaces and other bytes in the mount point are octal escapes (\040)
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
                kind_here = fields[fields.index("-") + 1]
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):  # the last of equal ones is on top
                    best, kind = point, kind_here
    except OSError:
        return None
    return kind


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch  # noqa: B018 (present, or AttributeError)
    except (OSError, AttributeError):
        return None
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    return libc


def watch_budget(environ=os.environ):
    """The most watches a :class:`Watcher` sets up: ``$SUITE_DASHBOARD_MAX_WATCHES``, else
    half the user's allowance (the smaller of :data:`LIMIT_FILES`), which all of the user's
    programs share (editors, IDEs, file managers) and a watch costs up to 1 KiB of kernel
    memory. Raises :class:`ConfigError` when the variable is not a whole number above 0."""
    value = environ.get(MAX_ENV, "").strip()
    if value:
        try:
            budget = int(value)
        except ValueError:
            budget = 0
        if budget < 1:
            raise ConfigError(f"{MAX_ENV}={value!r}: give a whole number of inotify watches "
                              "above 0, or unset it (half of fs.inotify.max_user_watches)")
        return budget
    limits = []
    for name in LIMIT_FILES:
        try:
            with open(name) as f:
                limits.append(int(f.read()))
        except (OSError, ValueError):
            pass
    return max(1, min(limits) // 2) if limits else 4096


class Watcher:
    """Watches the job directories of the workspace ``ws``; see the module's text.

    ``enabled=False`` (or the environment variable ``SUITE_DASHBOARD_INOTIFY=0``) never
    watches: :meth:`take` always answers None. More job directories than ``budget`` (default
    :func:`watch_budget`, which raises :class:`ConfigError` for a bad value) less one (the
    workspace's watch) end watching, at start or when a new job comes. :meth:`start` sets
    the watches up in a background thread; :meth:`close` removes them. ``drain=False`` leaves the events queued
    until :meth:`take` (the kernel's queue may then overflow: for tests of that)."""

    def __init__(self, ws, enabled=True, drain=True, budget=None):
        self.ws = ws
        self.drain = drain
        self.enabled = enabled and os.environ.get(ENV, "1") != "0"
        self.budget = budget or (watch_budget() if self.enabled else 0)
        #: why not watching, once it gave up (for docs and tests), else None
        self.reason = None if self.enabled else "turned off"
        self._lock = threading.Lock()
        self._fd = -1
        self._libc = None
        self._wds = {}  # watch descriptor -> job id ("" for the workspace)
        self._dirty = set()
        self._watching = False  # all job directories watched: answers mean something
        self._full_check = True  # the next answer is None (a stat check of every document)
        self._scan_wanted = threading.Event()
        self._ready = threading.Event()
        self._wake_r = self._wake_w = -1
        self._thread = None
        self._closed = False
        self._given_up = False
        #: times the kernel's event queue overflowed (each: watched anew, all checked once)
        self.overflows = 0

    @property
    def active(self):
        """True while watching: answers other than None are being given."""
        return self._watching and not self._closed

    def start(self):
        """Set the watches up in a background thread (returns at once)."""
        if not self.enabled or self._thread is not None:
            self._ready.set()
            return
        self._thread = threading.Thread(target=self._run, name="suite-dashboard-watch",
                                        daemon=True)
        self._scan_wanted.set()
        self._thread.start()

    def wait_ready(self, timeout=None):
        """Wait until the watches are set up or watching was given up; True if watching."""
        self._ready.wait(timeout)
        return self.active

    def take(self):
        """The ids whose documents may have changed since the last answer (a set, consumed),
        or None: check every document."""
        with self._lock:
            if self._fd >= 0:
                self._drain()
            if not self._watching or self._closed:
                self._dirty.clear()
                return None
            if self._full_check:
                self._full_check = False
                self._dirty.clear()
                return None
            dirty, self._dirty = self._dirty, set()
            return dirty

    def give_back(self, answer):
        """An answer of :meth:`take` whose check failed: it is given again next time."""
        with self._lock:
            if answer is None:
                self._full_check = True
            else:
                self._dirty |= answer

    def close(self):
        """Stop watching (the kernel drops the watches with the descriptor)."""
        with self._lock:
            self._closed = True
            self._watching = False
            if self._wake_w >= 0:
                os.write(self._wake_w, b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        with self._lock:
            self._close_fds()
        self._ready.set()

    # -- the background thread ----------------------------------------------------------
    def _run(self):
        try:
            if not self._open():
                return
            poller = select.poll()
            if self.drain:
                poller.register(self._fd, select.POLLIN)
            poller.register(self._wake_r, select.POLLIN)
            while not self._closed:
                if self._scan_wanted.is_set():
                    self._scan_wanted.clear()
                    self._scan()
                    self._ready.set()
                    continue
                woken = poller.poll(POLL_SECONDS * 1000)
                with self._lock:
                    if self._closed or self._fd < 0:
                        return
                    if any(fd == self._wake_r for fd, _ in woken):
                        os.read(self._wake_r, 64)
                    if self.drain:
                        self._drain()
        except Exception as exc:  # never wrong, only slower: the stat check takes over
            self._give_up(f"watching failed: {exc}")
        finally:
            self._ready.set()

    def _open(self):
        libc = _libc()
        if libc is None:
            self._give_up("inotify is not available on this system")
            return False
        kind = filesystem_of(self.ws)
        if kind not in LOCAL_FILESYSTEMS:
            self._give_up(f"the workspace is on a file system of type {kind or 'unknown'}, "
                          "where inotify would not see writes made on other machines")
            return False
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            self._give_up(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
            return False
        with self._lock:
            if self._closed:
                os.close(fd)
                return False
            self._libc, self._fd = libc, fd
            self._wake_r, self._wake_w = os.pipe()
        return True

    def _scan(self):
        """Watch the workspace, then every job directory in it (again after an overflow:
        adding a watch that exists returns the same descriptor)."""
        with self._lock:
            self._watching = False
            if self._add(self.ws, WS_MASK, "") is None:
                return
        try:
            with os.scandir(self.ws) as it:
                names = [e.name for e in it if layout.is_job_id(e.name)]
        except OSError as exc:
            self._give_up(f"cannot list {self.ws}: {exc}")
            return
        if len(names) + 1 > self.budget:
            self._give_up(self._over_budget(len(names)))
            return
        # in slices: a page asking meanwhile waits for one slice, not for all
        for start in range(0, len(names), 2000):
            with self._lock:
                if self._closed or self._fd < 0:
                    return
                for name in names[start:start + 2000]:
                    if self._add(os.path.join(self.ws, name), JOB_MASK, name) is None \
                            and self._fd < 0:
                        return
        with self._lock:
            if self._fd >= 0 and not self._closed and not self._scan_wanted.is_set():
                self._watching, self._full_check = True, True

    def _add(self, path, mask, job_id):
        """Watch ``path`` (lock held); None if it cannot be (gone: fine; out of watches:
        give up)."""
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(path), mask)
        if wd >= 0:
            self._wds[wd] = job_id
            return wd
        err = ctypes.get_errno()
        if err in (errno.ENOENT, errno.ENOTDIR) and job_id:
            return None  # removed meanwhile, or not a directory
        self._give_up(f"inotify_add_watch {path}: {os.strerror(err)}"
                      + (" (fs.inotify.max_user_watches reached)" if err == errno.ENOSPC
                         else ""), locked=True)
        return None

    def _drain(self):
        """Read every queued event (lock held)."""
        while self._fd >= 0:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError as exc:
                self._give_up(f"reading inotify events: {exc}", locked=True)
                return
            if not data:
                return
            self._events(data)

    def _events(self, data):
        pos, size = 0, _HEADER.size
        while pos + size <= len(data) and self._fd >= 0:  # not after giving up
            wd, mask, _, length = _HEADER.unpack_from(data, pos)
            name = data[pos + size: pos + size + length].rstrip(b"\0").decode(
                "utf-8", "surrogateescape")
            pos += size + length
            if mask & IN_Q_OVERFLOW:
                # events were lost: watch anew (new directories' events may be among them),
                # then check every document once
                self.overflows += 1
                self._watching = False
                self._scan_wanted.set()
                if self._wake_w >= 0:
                    os.write(self._wake_w, b"x")
                continue
            job_id = self._wds.get(wd)
            if mask & IN_IGNORED:
                self._wds.pop(wd, None)
                if job_id == "":
                    self._give_up("the workspace directory was removed", locked=True)
                continue
            if job_id is None:
                continue
            if job_id == "":
                if mask & (IN_DELETE_SELF | IN_MOVE_SELF):
                    self._give_up("the workspace directory was moved or removed", locked=True)
                elif mask & (IN_CREATE | IN_MOVED_TO) and layout.is_job_id(name):
                    # a new job: watched from now on; what it wrote before is read with it
                    self._dirty.add(name)
                    if len(self._wds) >= self.budget:
                        self._give_up(self._over_budget(len(self._wds)), locked=True)
                        return
                    self._add(os.path.join(self.ws, name), JOB_MASK, name)
            elif name == layout.DOCUMENT:
                self._dirty.add(job_id)

    def _over_budget(self, jobs):
        return (f"{jobs} jobs need more than the dashboard's budget of {self.budget} watches "
                "(by default half of fs.inotify.max_user_watches, which all the user's "
                f"programs share; {MAX_ENV} sets it)")

    def _give_up(self, reason, locked=False):
        if not locked:
            with self._lock:
                return self._give_up(reason, locked=True)
        if self._given_up:  # the first reason stands, said once
            return None
        self._given_up = True
        log.warning("suite dashboard: not watching %s for document changes (%s); pages check "
                    "every document by stat", self.ws, reason)
        self.reason = reason
        self._watching = False
        self._closed = True
        self._close_fds()
        self._ready.set()
        return None

    def _close_fds(self):
        for fd in (self._fd, self._wake_r, self._wake_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = self._wake_r = self._wake_w = -1
        self._wds.clear()
