"""The entries of a job directory that are the job's own, under one link policy shared by sync,
export and ``diff --files``.

A symbolic link whose target is relative, stays inside its job as written and, resolved
(through any chain of links), exists inside its job is one of the job's entries and is carried as a link: never followed, never
descended into. Any other link (absolute, leaving the job, dangling, a chain that leaves) is
skipped and listed, as are fifos, sockets and devices (reading a fifo would wait forever) and
directories this process cannot list. Skipped items are reported, never an error.
"""

import os
import stat

from . import layout
from .dirscan import listed, open_listing

LINK_LEAVES = "link leaves the job"
SPECIAL = "not a regular file (fifo, socket or device)"
UNREADABLE = "cannot be read (permission denied)"


def inside(path, root):
    """Whether the normalised ``path`` is ``root`` or below it."""
    return path == root or path.startswith(root + os.sep)


def carried_target(path, root, root_real):
    """The target text of the link at ``path`` in the job directory ``root`` (``root_real``
    its real path) if it is carried, else None: relative, staying inside the job as written
    (the other side checks that) and resolved through any chain, and existing."""
    target = os.readlink(path)
    if os.path.isabs(target) or \
            not inside(os.path.normpath(os.path.join(os.path.dirname(path), target)), root):
        return None
    real = os.path.realpath(path)
    if not inside(real, root_real):
        return None
    return target if os.path.exists(real) else None  # dangling, or a loop


def walk(root, skipped, leave_out=()):
    """Yield ``(rel, DirEntry, link target or None)`` for the regular files and carried links
    below the job directory ``root`` (temporary files of writes in progress and the names in
    ``leave_out`` at the top left out); what is skipped goes to ``skipped[rel] = reason``.
    Costs one ``scandir`` per directory (it is the hot path of a sync with nothing to do);
    only links are resolved. Each directory is listed through a descriptor opened without
    moving its access time (:func:`suite.dirscan.listed`): the entry's ``path`` is its
    name alone (join ``root`` and ``rel``) and its ``stat()`` holds until the walk moves on.
    Raises the OSError of ``root`` itself (FileNotFoundError, NotADirectoryError); a
    directory below it that cannot be listed is skipped."""
    root_real = None
    is_temp = layout.is_temp
    stack = [(root, "", leave_out)]
    while stack:
        dirpath, prefix, leave = stack.pop()
        try:
            fd = open_listing(dirpath)
        except PermissionError:
            skipped[prefix.rstrip("/")] = UNREADABLE
            continue
        with listed(fd, dirpath) as it:
            for entry in it:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((dirpath + os.sep + name, prefix + name + "/", ()))
                elif name in leave or is_temp(name):
                    continue
                elif entry.is_file(follow_symlinks=False):
                    yield prefix + name, entry, None
                elif entry.is_symlink():
                    if root_real is None:
                        root_real = os.path.realpath(root)
                    target = carried_target(dirpath + os.sep + name, root, root_real)
                    if target is None:
                        skipped[prefix + name] = LINK_LEAVES
                    else:
                        yield prefix + name, entry, target
                else:
                    skipped[prefix + name] = SPECIAL


_EUID = os.geteuid() if hasattr(os, "geteuid") else None


def readable(path, st):
    """Whether this process may read the regular file ``path`` with lstat ``st``: the mode
    bits answer without a system call when they allow it; otherwise ``access`` decides (it
    knows root's privileges and ACLs)."""
    if st.st_mode & 0o444 == 0o444 or _EUID is None:
        return True
    if st.st_uid == _EUID:
        bit = stat.S_IRUSR
    elif st.st_gid == os.getegid() or st.st_gid in os.getgroups():
        bit = stat.S_IRGRP
    else:
        bit = stat.S_IROTH
    return bool(st.st_mode & bit) or os.access(path, os.R_OK, effective_ids=True)


def summary(items, limit=5, title="skipped", noun="item(s)"):
    """One short paragraph for ``items`` (dicts with ``job``, ``path`` and ``reason``): the
    count, then the first ``limit``; thousands of skipped files must not flood a terminal."""
    if not items:
        return ""
    lines = [f"{title} {len(items)} {noun}:"]
    for item in items[:limit]:
        where = f"{item['job']}/{item['path']}" if item.get("path") else item["job"]
        lines.append(f"  {where}: {item['reason']}")
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more (--json lists all)")
    return "\n".join(lines)
