"""Checks on member names and links from archives (never trust ``tarfile``'s defaults)."""

import posixpath

from .base import DIR, FILE, HARDLINK, SYMLINK, ArchiveError


def clean_name(name):
    """The normalised relative POSIX path of a member, or :class:`ArchiveError` if it is
    absolute, climbs out with ``..``, or holds characters no file name may hold."""
    if not name or "\x00" in name:
        raise ArchiveError(f"archive member {name!r}: empty name or NUL character")
    if "\\" in name:
        raise ArchiveError(f"archive member {name!r}: backslash in name (refused)")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"archive member {name!r}: absolute path (refused)")
    parts = name.split("/")
    if "" not in parts and "." not in parts and ".." not in parts:
        return name  # already normal (the usual case)
    parts = [p for p in parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ArchiveError(f"archive member {name!r}: '..' in path (refused)")
    if not parts:
        return ""
    return "/".join(parts)


def check_member(member, job_root):
    """Refuse devices, fifos, and links that leave the job directory ``job_root``."""
    if member.kind not in (FILE, DIR, SYMLINK, HARDLINK):
        raise ArchiveError(f"archive member {member.name!r}: devices and fifos are refused")
    if member.kind in (SYMLINK, HARDLINK):
        name = clean_name(member.name)
        target = member.linkname
        if not target:
            raise ArchiveError(f"archive member {member.name!r}: link without a target")
        if member.kind == SYMLINK:
            if target.startswith("/"):
                raise ArchiveError(
                    f"archive member {member.name!r}: symbolic link to absolute path {target!r}")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        else:  # hard links name another member, relative to the archive root
            resolved = posixpath.normpath(clean_name(target))
        if job_root is None or not (resolved + "/").startswith(job_root + "/") or \
                resolved == job_root:
            raise ArchiveError(
                f"archive member {member.name!r}: link to {target!r} points outside its job")
