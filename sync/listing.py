"""A job's files as a sync snapshot lists them: ``{rel: [size, mtime_ns, inode]}`` and
``[size, mtime_ns, inode, target]`` for the links kept inside the job, under the link policy
of :mod:`suite.jobfiles`.

Most job directories are flat (a state point, a document and a few files): those are listed
with one :func:`suite.dirscan.scan_dir` call, which gives every entry's lstat at once (native
where built). A job with a subdirectory is walked by :func:`list_files_walk`, the reference
that the flat path must agree with (tests/sync/test_listing.py).
"""

import os
import stat

from suite import jobfiles, layout, native
from suite.dirscan import scan_dir
from suite.jsonio import open_quietly

_listing = native.load("sync._listing")

#: a job with more files than this is listed by :func:`list_files` (as _listing.c does)
MAX_FILES = 64


def list_jobs_python(workspace, names, skip, marker, docs=None):
    """``(listed, rest)``: ``listed[name] = {file: [size, mtime_ns, inode]}`` for each job
    directory ``workspace/name`` whose entries (leaving out the names in ``skip`` and names
    containing ``marker``; no directory at all) are all regular files everyone may read, at
    most :data:`MAX_FILES` of them (lstat; an entry removed while listed is left out); ``rest``
    lists the other names in order (a subdirectory, a link, a special or unreadable file,
    more files, any error), for :func:`list_files`. With ``docs`` (a dict), ``listed[name]``
    is a snapshot's job: ``{"files": files, "doc": docs.get(name, {})}``. Raises OSError
    when ``workspace`` cannot be opened, TypeError for ``docs`` neither a dict nor None. The
    reference of ``sync._listing.list_jobs``."""
    if docs is not None and not isinstance(docs, dict):
        raise TypeError("list_jobs: docs must be a dict or None")
    os.close(os.open(workspace, os.O_RDONLY | os.O_DIRECTORY))
    listed, rest = {}, []
    for name in names:
        files = None if "/" in name or "\x00" in name or not name else \
            _simple_job(f"{workspace}/{name}", skip, marker)
        if files is None:
            rest.append(name)
        else:
            listed[name] = files if docs is None else {"files": files,
                                                       "doc": docs.get(name, {})}
    return listed, rest


#: a job directory is opened as the C opens it: never through a link
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _simple_job(path, skip, marker):
    files = {}
    try:
        fd = open_quietly(path, _DIR_FLAGS)  # a listing: the access time stays
    except OSError:
        return None
    try:
        with os.scandir(fd) as it:
            for entry in it:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):  # walked, whatever its name
                    return None
                if marker in name or name in skip:
                    continue
                if not entry.is_file(follow_symlinks=False):
                    return None
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o444 != 0o444 or \
                        len(files) == MAX_FILES or len(os.fsencode(name)) > 255:
                    return None
                files[name] = [st.st_size, st.st_mtime_ns, st.st_ino]
    except OSError:
        return None
    finally:
        os.close(fd)
    return files


#: :func:`list_jobs_python`'s answers, from C where the native module was built
list_jobs = list_jobs_python if _listing is None else _listing.list_jobs


def excluder(globs):
    """Whether a path (or its last name) matches one of ``globs`` (--exclude)."""
    import fnmatch

    def excluded(rel):
        return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(rel.rpartition("/")[2], g)
                   for g in globs)

    return excluded


def list_files(root, out, skipped, skip, exclude):
    """``out[rel] = [size, mtime_ns, inode]`` for the files below the job directory ``root``,
    and ``[size, mtime_ns, inode, target]`` for links kept inside it (the inode tells a
    write whether its target is still the listed one); what is skipped (links that leave,
    fifos, unreadable files; ``""`` for a job directory that cannot be listed) goes to
    ``skipped[rel] = reason``. ``skip`` names files at the top left out, ``exclude`` globs.
    Returns the number of links. Raises FileNotFoundError when ``root`` is gone and the
    OSError of any other failure to list it."""
    try:
        entries = scan_dir(root)
    except PermissionError:  # the directory, or (no search permission) its entries
        skipped[""] = jobfiles.UNREADABLE
        return 0
    is_temp, readable = layout.is_temp, jobfiles.readable
    # kept apart until the end: a subdirectory found half-way hands the job to the walk
    files, held, links, root_real = {}, {}, 0, None
    for name, mode, size, mtime, _ctime, ino in entries:
        if mode & 0o170000 == stat.S_IFREG:
            if name in skip or is_temp(name):
                continue
            if mode & 0o444 == 0o444:  # readable by anyone: no system call
                files[name] = [size, mtime, ino]
                continue
            path = f"{root}/{name}"
            try:
                st = os.lstat(path)
            except FileNotFoundError:  # removed since the scan: not there
                continue
            if readable(path, st):
                files[name] = [size, mtime, ino]
            else:
                held[name] = jobfiles.UNREADABLE
        elif stat.S_ISDIR(mode):
            # not flat: the walk lists every level (rare; the flat path must agree with it)
            return list_files_walk(root, out, skipped, skip, exclude)
        elif name in skip or is_temp(name):
            continue
        elif stat.S_ISLNK(mode):
            if root_real is None:
                root_real = os.path.realpath(root)
            try:
                target = jobfiles.carried_target(f"{root}/{name}", root, root_real)
            except FileNotFoundError:  # removed since the scan
                continue
            if target is None:
                held[name] = jobfiles.LINK_LEAVES
            else:
                files[name] = [size, mtime, ino, target]
                links += 1
        else:
            held[name] = jobfiles.SPECIAL
    if exclude:
        excluded = excluder(exclude)
        for rel in [r for r in files if excluded(r)]:
            if len(files.pop(rel)) == 4:
                links -= 1
        for rel in [r for r in held if excluded(r)]:
            del held[rel]
    out.update(files)
    skipped.update(held)
    return links


def list_files_walk(root, out, skipped, skip, exclude):
    """:func:`list_files` by :func:`suite.jobfiles.walk` and a ``stat`` per entry: the
    reference, and the listing of jobs with subdirectories."""
    excluded = excluder(exclude) if exclude else None
    links = 0
    readable = jobfiles.readable
    for rel, entry, target in jobfiles.walk(root, skipped, skip):
        if excluded is not None and excluded(rel):
            continue
        st = entry.stat(follow_symlinks=False)
        if target is not None:
            out[rel] = [st.st_size, st.st_mtime_ns, st.st_ino, target]
            links += 1
        elif st.st_mode & 0o444 == 0o444 or readable(f"{root}/{rel}", st):  # first: no call
            out[rel] = [st.st_size, st.st_mtime_ns, st.st_ino]
        else:
            skipped[rel] = jobfiles.UNREADABLE
    if excluded is not None and skipped:
        # "" (the job directory cannot be listed) is never excluded: its files would look gone
        for rel in [r for r in skipped if r and excluded(r)]:
            del skipped[rel]
    return links
