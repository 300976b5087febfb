"""What a run records besides the operation's own outcome: who and where, the code (git), the
environment (Python and its installed distributions) and the files each execution changed.

Captured once per run (one :class:`Capture` per :class:`~suite.flow.Runner`): the environment
and the code cost tens of milliseconds and do not change while a run lasts. Per execution only
the job directories are scanned, by ``stat``, before and after; only what changed is hashed.

What is kept once per hash (an environment, the diff of a dirty tree) is a *blob line* in the
log of each job that uses it, written with the job's first record that names it::

    {"blob": "env-<hash>", "data": {...}}

The log is what sync merges (as a union of lines) and export carries, so the blobs travel with
the records that name them, and writing one costs no file of its own (a file per job per blob
made a run of a trivial operation twice as slow; see docs/provenance.md).
"""

import contextlib
import functools
import getpass
import hashlib
import json
import os
import platform
import re
import socket
import stat
import subprocess
import sys

from suite import jobfiles, jsonio, layout, native

#: how a blob line starts (readers that want only records skip these without parsing them)
BLOB_PREFIX = b'{"blob": "'
#: the record field that names a blob of each kind (``env-<hash>`` by ``"environment": "<hash>"``)
BLOB_FIELDS = {"env": "environment", "diff": "diff"}
#: scheduler job id variables: SLURM, PBS/Torque, LSF, Grid Engine
SCHEDULER_VARS = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "JOB_ID")
#: the environment variable that turns the extended records off (``off``, ``0``, ``no``)
SWITCH = "SUITE_RECORDS"
#: bytes read at a time when hashing a file (a read allocates this much first: 1 MiB cost
#: 30-130 µs per small file, through mmap and page faults)
CHUNK = 1 << 16
#: entries of a job directory that are never outputs of an operation
NOT_OUTPUTS = (layout.FLOW_LOG, layout.STATEPOINT)
_TEMP = layout.TMP_PREFIX  # layout.is_temp, without a call per entry
#: the scans in C (:func:`flat_sigs`, :func:`flat_changes`, :func:`files_text`,
#: :func:`flat_changes_text`, :func:`record_line`), or None
_native = native.load("suite.provenance._capture")
if _native is not None:  # what its scans leave out, as bytes (as the directory lists names)
    _native.configure(tuple(os.fsencode(name) for name in NOT_OUTPUTS), os.fsencode(_TEMP),
                      os.fsencode(layout.FLOW_LOG))


#: record ids drawn from the system's random source at a time (one ``getrandom`` call instead
#: of one per record: the call and its bytes object were ~1 µs of a record's ~12)
IDS_AT_ONCE = 256
_ids = iter(())  # ids drawn and not handed out yet (a list iterator: next() is atomic)


#: files suite's own writer (:func:`suite.jsonio.write_atomic`) wrote in this process while
#: records are on, ``[(path, bytes, os.stat_result after the rename)]``, emptied after each
#: execution's scan (jsonio appends to it, up to ``jsonio.WRITTEN_MAX``). The scan after
#: hashes those bytes where the file's signature is still that one (the rule by which the
#: scans tell a file unchanged), instead of reading the file back (open, read, close: ~2-3 µs
#: of system time an execution). A list appended to in C: a Python function per write cost
#: ~3,500 instructions.
_written = []


def _forget_ids():
    global _ids
    _ids = iter(())


if hasattr(os, "register_at_fork"):  # a forked child must not hand out its parent's ids
    os.register_at_fork(after_in_child=_forget_ids)


def _draw_ids():
    """Draw :data:`IDS_AT_ONCE` ids, keep all but one for later and return that one. Threads
    drawing at once each keep their own (one's leftovers are dropped, unused)."""
    global _ids
    text = os.urandom(16 * IDS_AT_ONCE).hex()
    _ids = iter([text[k:k + 32] for k in range(32, len(text), 32)])
    return text[:32]


def record_id():
    """A new record id: 32 hex digits of 128 random bits from ``os.urandom``, as unique as
    one call per record (ids are drawn :data:`IDS_AT_ONCE` at a time)."""
    return next(_ids, None) or _draw_ids()


def short_hash(data: bytes) -> str:
    """The name a blob is kept by: 16 hex digits of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:16]


def records_enabled():
    """Whether extended records are on (they are unless ``$SUITE_RECORDS`` is off/0/no)."""
    return os.environ.get(SWITCH, "").lower() not in ("off", "0", "no", "false")


def naming_field(name):
    """``(field, hash, text)`` for the blob ``name``: the record field that names it, its value
    there, and how ``json.dumps`` writes the pair (bytes); None for a kind records do not name."""
    kind, _, digest = name.partition("-")
    field = BLOB_FIELDS.get(kind)
    if field is None or not digest:
        return None
    return field, digest, json.dumps({field: digest})[1:-1].encode()


def blob_line(name, data):
    """The log line keeping ``data`` (JSON-able) under ``name``."""
    return BLOB_PREFIX + name.encode() + b'", "data": ' + json.dumps(
        data, sort_keys=True).encode() + b"}\n"


#: the JSON of a string, as ``json.dumps`` writes it (the same C function)
_text = json.encoder.encode_basestring_ascii


def _file_text(entry):
    """One entry of a record's ``files`` (:meth:`Capture.changes`) as JSON."""
    head = f'{{"job": {_text(entry["job"])}, "path": {_text(entry["path"])}, '
    if len(entry) == 3 and entry.get("removed") is True:
        return head + '"removed": true}'
    if len(entry) == 4 and "size" in entry and "sha256" in entry:
        size, digest = entry["size"], entry["sha256"]
        return (head + f'"size": {"null" if size is None else int(size)}, "sha256": '
                f'{"null" if digest is None else _text(digest)}}}')
    return json.dumps(entry)


def files_text_python(files):
    """A record's ``files`` (:meth:`Capture.changes`) as the JSON of their list's items, joined
    by ``, ``. :func:`files_text` is this, in C where built."""
    return ", ".join([_file_text(f) for f in files])


def _name_version(dist):
    # the header lines only: dist.metadata runs the email parser over the whole file, 8x
    # slower for a few hundred distributions
    try:
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    except (OSError, UnicodeDecodeError):  # a broken installation must not stop a run
        return None, None
    return _header_name_version(text)


#: what str.splitlines breaks lines at besides "\n" (each looked for alone: a search for one
#: character is a memchr, a regular expression's class was 40 % of the environment's capture)
_ODD_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _header_name_version(text):
    """``(Name, Version)`` from the header of a distribution's metadata text: the last of
    each among its lines before the first empty one (:func:`_header_lines_name_version`),
    found by searching (a header holds ~100 lines, classifiers mostly)."""
    # the header ends at the first empty line; splitting the description after it into lines
    # cost half of the environment's capture (1.3 MB of METADATA here)
    header = text.partition("\n\n")[0]
    if any(c in header for c in _ODD_BREAKS):
        return _header_lines_name_version(header)
    if header.startswith("\n"):  # an empty first line: no header
        return None, None
    header = "\n" + header
    out = []
    for key in ("\nName:", "\nVersion:"):
        at = header.rfind(key)
        if at < 0:
            out.append(None)
            continue
        end = header.find("\n", at + 1)
        out.append(header[at + len(key):end if end >= 0 else len(header)].strip())
    return tuple(out)


def _header_lines_name_version(text):
    """:func:`_header_name_version` line by line (its reference)."""
    name = version = None
    for line in text.partition("\n\n")[0].splitlines():
        if not line:
            break
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
    return name, version


def _environment(name_versions):
    dists = {}
    for name, version in name_versions:
        if name:
            dists.setdefault(name.lower().replace("_", "-"), version)
    return {"python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable, "platform": platform.platform(),
            "machine": platform.machine(), "packages": dict(sorted(dists.items()))}


def environment_python():
    """The Python environment: version, executable, platform and every installed distribution
    with its version, found by ``importlib.metadata``. :func:`environment` gives the same
    (the tests compare the two), faster where it can."""
    import importlib.metadata

    return _environment(map(_name_version, importlib.metadata.distributions()))


def environment():
    """The Python environment: version, executable, platform and every installed distribution
    with its version, as :func:`environment_python` (``importlib.metadata``) finds them.

    Where only the standard path finder finds distributions and every entry of ``sys.path``
    is a directory (or missing), they are found here the way it finds them: importing
    ``importlib.metadata`` (with ``email``, ``zipfile``, ``pathlib``) and its ``pathlib`` per
    file cost ~75 million instructions a run (15-20 ms, where a run of 10,000 trivial
    executions takes ~1.3 s). Otherwise (a zip file on the path, another finder)
    ``importlib.metadata`` answers."""
    found = _metadata_paths()
    if found is None:
        return environment_python()
    return _environment(map(_path_name_version, found))


def _metadata_paths():
    """The metadata directories ``importlib.metadata.distributions()`` reads, in its order
    (its ``MetadataPathFinder`` over ``sys.path``), or None where that is not all it does."""
    import importlib.machinery

    for finder in sys.meta_path:
        if (getattr(finder, "find_distributions", None) is not None
                and finder is not importlib.machinery.PathFinder):
            return None
    out = []
    for root in sys.path:
        if not isinstance(root, str):
            return None
        try:
            children = os.listdir(root or ".")
        except OSError:
            # importlib.metadata then reads it as a zip file: only a file can be one
            if os.path.isfile(root or "."):
                return None
            continue
        except ValueError:  # a NUL in the name
            return None
        base, prefix = os.path.basename(root).lower(), os.path.join(root, "")
        infos, eggs = {}, {}  # by normalized name, in listing order (the finder's groups)
        for child in children:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                key = _normalize(low.rpartition(".")[0].partition("-")[0])
                infos.setdefault(key, []).append(prefix + child)
            elif low == "egg-info" and base.endswith(".egg"):
                key = base.rpartition(".")[0].partition("-")[0].replace("-", "_")
                eggs.setdefault(key, []).append(prefix + child)
        for group in (infos, eggs):
            for paths in group.values():
                out += paths
    return out


def _normalize(name):
    # importlib.metadata's Prepared.normalize, to group as it does
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


#: what PathDistribution.read_text takes for "no such file" (it then reads the next name)
_NO_TEXT = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def _read_text(path):
    """A file's text as ``pathlib.Path.read_text(encoding="utf-8")`` gives it (universal
    newlines), or None where PathDistribution.read_text gives None."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except _NO_TEXT:
        return None
    text = data.decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _path_name_version(path):
    """:func:`_name_version` of the distribution whose metadata directory is ``path``."""
    try:
        text = (_read_text(path + os.sep + "METADATA")
                or _read_text(path + os.sep + "PKG-INFO") or "")
    except (OSError, UnicodeDecodeError):  # a broken installation must not stop a run
        return None, None
    return _header_name_version(text)


def git_state(path):
    """``(commit, dirty, diff)`` of the git repository holding ``path``; ``(None, None, None)``
    outside one. One ``git status`` call; a second (``git diff``) only for a dirty tree.
    Untracked files do not make a tree dirty (and are not listed: a workspace may hold
    millions)."""
    try:
        out = subprocess.run(["git", "-C", path, "status", "--porcelain=v2", "--branch",
                              "--untracked-files=no"], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None, None, None
    if out.returncode != 0:
        return None, None, None
    commit, dirty = None, False
    for line in out.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split()[2]
            commit = None if oid == "(initial)" else oid
        elif line[:2] in ("1 ", "2 ", "u "):
            dirty = True
    diff = None
    if dirty:
        try:
            diff = subprocess.run(["git", "-C", path, "diff", "HEAD", "--binary"],
                                  capture_output=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            diff = None
    return commit, dirty, diff


def scheduler_job_id():
    """The batch scheduler's id of the job this process runs in, or None."""
    for var in SCHEDULER_VARS:
        value = os.environ.get(var)
        if value:
            return value
    return None


def _user():
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else None


class Capture:
    """A run's provenance context: the fields every record of the run shares, the blobs they
    name, and the before/after scans of job directories.

    With ``enabled`` False (or ``$SUITE_RECORDS=off``) records hold what suite always wrote:
    operation, jobs, times, status, error, host, suite version and commit."""

    def __init__(self, project_path, reason=None, tags=(), enabled=None):
        self.path = project_path
        self.reason = reason
        self.tags = list(tags or ())
        self.enabled = records_enabled() if enabled is None else enabled
        if self.enabled:
            jsonio.written = _written
        self._base = None
        self._shared = {}  # (enabled, reason, tags) -> the fields every record shares, encoded
        self._blobs = []
        self._thread = None
        self._git_state = None  # (commit, dirty, diff) from the thread start() began
        #: ids of jobs whose log did not exist at their last :meth:`scan` (their first
        #: record needs every blob: nothing to read to find out)
        self.fresh = set()

    def start(self):
        """Begin running ``git`` in a thread: a process, which the thread waits for without
        the interpreter lock, so it overlaps with the run's condition evaluation. The
        environment's scan is Python and stays for :meth:`base` in the caller: in the thread
        it passed the lock back and forth with the first executions (thousands of futex
        calls in a run)."""
        import threading

        if self._base is None and self._thread is None:
            self._thread = threading.Thread(target=self._git, name="suite-capture",
                                            daemon=True)
            self._thread.start()

    def _git(self):
        try:
            self._git_state = git_state(self.path)
        except Exception:  # git_state runs again in base(), which then raises
            self._git_state = None

    def base(self):
        """The fields shared by every record of this run (computed on first use)."""
        if self._thread is not None:  # git, begun by start()
            self._thread.join()
            self._thread = None
        if self._base is None:
            got, self._git_state = self._git_state, None
            commit, dirty, diff = got if got is not None else git_state(self.path)
            base = {"git_commit": commit}
            if self.enabled:
                env = environment()
                env_hash = short_hash(json.dumps(env, sort_keys=True).encode())
                self._blobs = [(f"env-{env_hash}", blob_line(f"env-{env_hash}", env))]
                base.update(user=_user(), scheduler_job_id=scheduler_job_id(),
                            git_dirty=dirty, environment=env_hash, diff=None)
                if diff:
                    base["diff"] = short_hash(diff)
                    # a diff is bytes; surrogateescape keeps any that are not UTF-8
                    text = diff.decode("utf-8", "surrogateescape")
                    self._blobs.append((f"diff-{base['diff']}",
                                        blob_line(f"diff-{base['diff']}", text)))
            self._base = base
        return self._base

    def entry(self, fields):
        """A record: the run's shared fields, a new unique id, the reason and tags, and
        ``fields``."""
        base = self.base()
        if not self.enabled:
            return {"git_commit": base["git_commit"], **fields}
        return {"id": record_id(), **base, "reason": self.reason,
                "tags": list(self.tags), **fields}

    def line(self, operation, jobs, start, end, status, error=None, traceback=None,
             files=None):
        """The record of one execution as a log line (bytes): what :meth:`entry` holds (with
        ``duration``), plus the host and suite version. ``jobs`` are job ids, ``start`` and
        ``end`` seconds since the epoch, ``files`` what :meth:`changes` found (or its text,
        from :meth:`changes_text`).

        The fields every record of the run shares are encoded once (again when the reason or
        tags change); each execution's own fill one f-string: ``json.dumps`` of a dict of them
        cost twice as much (its per-call setup), ~5 µs per execution. The keys are not sorted
        across the two parts, which readers ignore."""
        shared = self._shared.get((self.enabled, self.reason, tuple(self.tags)))
        if shared is None:
            shared = self._shared_text()
        start, end = float(start), float(end)
        if self.enabled and traceback is None and isinstance(files, str):
            # a run's usual record as one f-string: one join, no intermediate texts (the
            # general case below made five); record_id inlined (~200 instructions a call)
            return line_text(next(_ids, None) or _draw_ids(), operation, jobs, start, end,
                             status, error, files, shared)
        text = (f'{{"id": "{record_id()}", ' if self.enabled else "{") + (
            f'"operation": {_text(operation)}, "jobs": [{", ".join(map(_text, jobs))}], '
            f'"start": {start!r}, "end": {end!r}, "duration": {end - start!r}, '
            f'"status": {_text(status)}, "error": {"null" if error is None else _text(error)}')
        if traceback is not None:
            text += f', "traceback": {_text(traceback)}'
        if files is not None:
            text += f', "files": [{files if isinstance(files, str) else files_text(files)}]'
        return (text + ", " + shared + "}\n").encode()

    def _shared_text(self):
        """The fields every record of the run shares, as JSON without its braces (made once
        per reason and tags)."""
        key = (self.enabled, self.reason, tuple(self.tags))
        shared = self._shared.get(key)
        if shared is None:
            import suite

            fields_of_all = self.entry({"host": socket.gethostname(),
                                        "suite_version": suite.__version__})
            fields_of_all.pop("id", None)
            shared = self._shared[key] = json.dumps(fields_of_all, sort_keys=True)[1:-1]
        return shared

    def record_line(self, operation, jobs, start, end, status, error, before):
        """:meth:`changes_text` then :meth:`line` (without a traceback) in one step: for one
        job with records on, the scan after and the line are one C call (:func:`record_line`;
        two Python calls, the files' text as a str and the line's f-string cost ~2,000
        instructions an execution). ``before`` is :meth:`scan`'s."""
        if before is None or len(jobs) != 1 or not self.enabled:
            files = self.changes_text(jobs, before)
            return self.line(operation, [j.id for j in jobs], start, end, status, error,
                             None, files)
        job = jobs[0]
        job_id, path = job.id, job.path  # after the operation: it may have moved its job
        start, end = float(start), float(end)
        old = before.get(job_id, {})
        shared = self._shared.get((True, self.reason, tuple(self.tags)))
        found = record_line(next(_ids, None) or _draw_ids(), operation, [job_id], start, end,
                            status, error, job_id, path, old, _written,
                            shared if shared is not None else self._shared_text())
        _written.clear()
        if found is None:  # subdirectories or links: compare whole stat trees
            files = files_text(_tree_changes(job_id, path, old))
            return self.line(operation, [job_id], start, end, status, error, None, files)
        return found

    def blobs(self):
        """``[(name, blob line)]`` every job of this run's records must hold in its log
        (empty when records are off)."""
        self.base()
        return self._blobs if self.enabled else []

    def scan(self, jobs):
        """Before an execution: ``{job id: {rel: (size, mtime_ns, ctime_ns, inode)}}``, or None when
        records are off."""
        if not self.enabled:
            return None
        out, fresh = {}, self.fresh
        for job in jobs:
            job_id, path = job.id, job.path  # properties: each a call
            found = flat_sigs(path)
            if found is None:  # subdirectories or links: the whole tree, as jobfiles walks it
                tree = _walk_tree(path)
                has_log = os.path.lexists(os.path.join(path, layout.FLOW_LOG))
            else:
                tree, has_log = found
            out[job_id] = tree
            if has_log:
                fresh.discard(job_id)
            else:
                fresh.add(job_id)
        return out

    def changes_text(self, jobs, before):
        """After an execution: the files of ``jobs`` created or modified since ``before``
        (:meth:`scan`), each ``{"job", "path", "size", "sha256"}``, removed files as ``{"job",
        "path", "removed": true}``, as the record's ``files`` text (:func:`files_text`), for
        :meth:`line`: a flat job directory's entries go from the scan to the text in one call,
        without a dict per file. None when ``before`` is None."""
        if before is None:
            return None
        if len(jobs) == 1:  # the common case: no list to join
            job = jobs[0]
            job_id, path = job.id, job.path
            old = before.get(job_id, {})
            found = flat_changes_text(job_id, path, old, _written)
            _written.clear()
            if found is None:  # subdirectories or links: compare whole stat trees
                found = files_text(_tree_changes(job_id, path, old))
            return found
        parts = []
        for job in jobs:
            job_id, path = job.id, job.path
            old = before.get(job_id, {})
            found = flat_changes_text(job_id, path, old, _written)
            if found is None:
                found = files_text(_tree_changes(job_id, path, old))
            if found:
                parts.append(found)
        _written.clear()
        return ", ".join(parts)


def line_text(record_id, operation, jobs, start, end, status, error, files, shared):
    """A record's line (bytes) with records on and no traceback: the id and ``shared`` (the
    run's fields, :meth:`Capture.line`) put in as they are, ``files`` the text of its files
    (:func:`files_text`), the strings as JSON, ``start``, ``end`` and their difference by
    ``repr``."""
    return (f'{{"id": "{record_id}", "operation": {_text(operation)}, "jobs": '
            f'[{", ".join(map(_text, jobs))}], "start": {start!r}, "end": {end!r}, '
            f'"duration": {end - start!r}, "status": {_text(status)}, "error": '
            f'{"null" if error is None else _text(error)}, "files": [{files}], '
            f'{shared}}}\n').encode()


def record_line_python(record_id, operation, jobs, start, end, status, error, job_id, root,
                       old, written, shared):
    """:func:`line_text` with the files :func:`flat_changes_text_python` finds in the flat
    job directory ``root`` (None where that gives None). :func:`record_line` is this, in C
    where built."""
    files = flat_changes_text_python(job_id, root, old, written)
    if files is None:
        return None
    return line_text(record_id, operation, jobs, start, end, status, error, files, shared)


def _entry(job_id, path, rel, size, written=None, st=None):
    """A created or modified file of a record: size (from the hash's read when None) and
    SHA-256 (None if it vanished). ``written``: :func:`_written_names`' map, ``st`` the
    file's ``lstat`` if taken."""
    if written:
        known = _written_bytes(written, rel, path, st)
        if known is not None:
            return {"job": job_id, "path": rel, "size": known[0],
                    "sha256": hashlib.sha256(known[1]).hexdigest()}
    digest = _digest(path)
    if digest is not None and size is None:
        size = digest[0]
    return {"job": job_id, "path": rel, "size": size,
            "sha256": None if digest is None else digest[1]}


def _written_names(written, root):
    """``{name: (bytes, signature)}`` of the files directly in ``root`` among ``written``
    (:data:`_written`' items; the last write of a name counts). An item is taken where it is
    a tuple ``(str path, bytes of at most CHUNK, st)``, the path is ``root``, the separator
    and a name (both encodable as UTF-8), and ``st``'s ``st_size``, ``st_mtime_ns``,
    ``st_ctime_ns`` and ``st_ino`` are ints; any other item is left out."""
    out, prefix = {}, root + os.sep
    for item in written:
        if type(item) is not tuple or len(item) != 3:
            continue
        path, data, st = item
        if (type(path) is not str or not path.startswith(prefix) or type(data) is not bytes
                or len(data) > CHUNK):
            continue
        name = path[len(prefix):]
        try:
            path.encode()
            sig = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        except (UnicodeEncodeError, AttributeError):
            continue
        if (name and os.sep not in name and all(type(v) is int for v in sig)
                and all(-2**63 <= v < 2**63 for v in sig[:3]) and 0 <= sig[3] < 2**64):
            out[name] = (data, sig)  # (ints in the C scan's range)
    return out


def _written_bytes(written, rel, path, st=None):
    """``(size, bytes)`` of the file ``rel`` (at ``path``) from ``written`` (``{name: (bytes,
    signature)}``, :func:`_written_names`) where that holds it and the file is a regular file
    whose signature (its ``lstat``: ``st``, or taken here) is that one; else None (the caller
    reads the file). The size is the ``lstat``'s."""
    known = written.get(rel)
    if known is None:
        return None
    if st is None:
        try:
            st = os.lstat(path)
        except OSError:
            return None
    if not stat.S_ISREG(st.st_mode) or _sig(st) != known[1]:
        return None
    return st.st_size, known[0]


def _removed(job_id, old, present):
    gone = [rel for rel in old if rel not in present]
    return [{"job": job_id, "path": rel, "removed": True} for rel in sorted(gone)]


def flat_changes_python(job_id, root, old, written=None):
    """The file entries of :meth:`Capture.changes` for a flat job directory, in one pass:
    new files are hashed without a ``stat`` (their size comes with the read), files that were
    there before are ``stat``ed and hashed if their signature moved; sorted by path, then the
    files of ``old`` (:func:`flat_sigs`) no longer there. None when the directory holds a
    subdirectory or a link. ``written`` (:data:`_written`' list, or None): a file to hash
    that suite's writer wrote, whose signature is still the one it saw, is hashed from those
    bytes, not read (:func:`_written_names`, :func:`_written_bytes`; a new one is then
    ``lstat``ed). :func:`flat_changes` is this, in C where built (without ``written``).
    Raises OSError (NotADirectoryError, PermissionError) naming the directory or the entry."""
    written = _written_names(written, root) if written else None
    out, still = [], set()  # still: files of ``old`` that are still there
    prefix = root + os.sep  # os.path.join costs as much as the stat per file
    try:
        with _scandir(root) as it:
            for entry in it:
                name = entry.name
                if name in NOT_OUTPUTS or _TEMP in name:
                    continue
                if not entry.is_file(follow_symlinks=False):
                    return None
                sig = old.get(name)
                if sig is None:
                    out.append(_entry(job_id, prefix + name, name, None, written))
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed while we looked
                    continue
                still.add(name)
                if _sig(st) != sig:
                    out.append(_entry(job_id, prefix + name, name, st.st_size, written, st))
    except FileNotFoundError:  # the operation removed the job directory
        pass
    if len(out) > 1:
        out.sort(key=lambda e: e["path"])
    if len(still) < len(old):
        out.extend(_removed(job_id, old, still))
    return out


def flat_changes_text_python(job_id, root, old, written=None):
    """:func:`files_text` of :func:`flat_changes_python` in one step (None where that is
    None). :func:`flat_changes_text` is this, in C where built."""
    found = flat_changes_python(job_id, root, old, written)
    return None if found is None else files_text_python(found)


def _tree_changes(job_id, root, old):
    # called when flat_changes found a subdirectory or a link: straight to the walk
    new = _walk_tree(root)
    prefix = root + os.sep
    out = [_entry(job_id, prefix + rel, rel, sig[0])
           for rel, sig in sorted(new.items()) if old.get(rel) != sig]
    return out + _removed(job_id, old, new)


def file_sha256(path):
    """SHA-256 of a file's content (of a link's target text for a link), or None if it
    vanished."""
    digest = _digest(path)
    return None if digest is None else digest[1]


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
#: O_NOATIME where the system has it (jsonio.open_quietly: listings and reads for hashes
#: leave access times)
_NOATIME = getattr(os, "O_NOATIME", 0)


@contextlib.contextmanager
def _scandir(root):
    """``os.scandir(root)`` that leaves the directory's access time (the entries of a
    descriptor opened with O_NOATIME, where the system has it); raises what ``os.scandir``
    raises, naming the directory or the entry's path as its errors do."""
    if not _NOATIME:
        with os.scandir(root) as it:
            yield it
        return
    fd = jsonio.open_quietly(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with os.scandir(fd) as it:
            yield it
    except OSError as exc:  # a descriptor's listing names the descriptor, or a bare name
        if type(exc.filename) is int and exc.filename == fd:
            exc.filename = root
        elif type(exc.filename) is str and exc.filename and os.sep not in exc.filename:
            exc.filename = os.path.join(root, exc.filename)
        raise
    finally:
        os.close(fd)


def _digest(path):
    """``(size, SHA-256)`` of a file's content (of a link's target text for a link), or None
    if it vanished."""
    try:
        # os.open/os.read: for the small files most operations write, the io stack of open()
        # costs more than the hashing; O_NOFOLLOW spares an lstat to tell links apart
        try:
            fd = jsonio.open_quietly(path, _READ_FLAGS)
        except OSError:
            if not os.path.islink(path):
                raise
            target = os.fsencode(os.readlink(path))
            return len(target), hashlib.sha256(target).hexdigest()
        try:
            chunk = os.read(fd, CHUNK)
            size, h = len(chunk), hashlib.sha256(chunk)
            while len(chunk) == CHUNK:  # a short read is the end of a regular file
                chunk = os.read(fd, CHUNK)
                size += len(chunk)
                h.update(chunk)
        finally:
            os.close(fd)
        return size, h.hexdigest()
    except OSError:
        return None


def flat_sigs_python(root):
    """``({name: (size, mtime_ns, ctime_ns, inode)}, has_log)`` of a flat job directory: its
    files but the log, the state point and temporary files, and whether it holds a log; None
    when it holds a subdirectory or a link (the common flat job takes this alone, twice as
    fast as a walk). A missing directory (the operation removed it) is empty.
    :func:`flat_sigs` is this, in C where built. Raises OSError (NotADirectoryError,
    PermissionError) naming the directory or the entry."""
    sigs, has_log = {}, False
    try:
        with _scandir(root) as it:
            for entry in it:
                name = entry.name
                if name in NOT_OUTPUTS or _TEMP in name:
                    has_log = has_log or name == layout.FLOW_LOG
                    continue
                if not entry.is_file(follow_symlinks=False):
                    return None
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed while we looked: not there
                    continue
                sigs[name] = _sig(st)
    except FileNotFoundError:  # the job directory itself is gone
        pass
    return sigs, has_log


def _walk_tree(root):
    """``{rel: (size, mtime_ns, ctime_ns, inode)}`` of the job's own files (:mod:`suite.jobfiles`)
    but the log and the state point."""
    out = {}
    try:
        for rel, entry, _ in jobfiles.walk(root, {}, NOT_OUTPUTS):
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:  # removed while we looked: not there
                continue
            out[rel] = _sig(st)
    except FileNotFoundError:
        pass
    return out


def _sig(st):
    # the change time too: a rewrite that keeps size and modification time (`cp -p`, `tar`,
    # os.utime) still moves it, and nothing can set it back
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


# the C functions where built, each the same as its Python reference (the tests compare them)
if _native is None:
    flat_sigs, flat_changes = flat_sigs_python, flat_changes_python
    files_text, flat_changes_text = files_text_python, flat_changes_text_python
    record_line = record_line_python
else:
    flat_sigs, flat_changes = _native.flat_sigs, _native.flat_changes
    files_text = functools.partial(_native.files_text, _file_text)
    flat_changes_text = _native.flat_changes_text
    record_line = _native.record_line
