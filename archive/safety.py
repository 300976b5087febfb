"""Checks on member names and links from archives (never trust ``tarfile``'s defaults).

Links are checked as the file system would follow them, not one at a time: two links that
each stay inside their job alone (``s/p -> .``, ``s/q -> p/p/../..``) can reach ``/`` together.
"""

from .base import SYMLINK, ArchiveError

#: links followed in one resolution at most (Linux gives ELOOP after 40)
MAX_FOLLOW = 40


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


def check_job_links(job_path, links, names):
    """Refuse the links of one job (``links``: relative name -> (kind, target)) that leave it.

    Symbolic links are resolved through the job's other symbolic links, and refused if any
    step leaves the job, if they end at the job directory itself, or if they loop. A hard link
    must name a regular file of the same job (the reader checked it came earlier in the
    archive). No member (``names``: every relative name in the job) may lie under a link: it
    would be written through it.
    """
    prefix = f"{job_path}/" if job_path else ""
    for rel in names:
        i = rel.find("/")
        while i > 0:
            if rel[:i] in links:
                raise ArchiveError(f"archive member {prefix + rel!r} lies under the link "
                                   f"{prefix + rel[:i]!r} (refused: it would be written "
                                   "through the link)")
            i = rel.find("/", i + 1)
    for rel, (kind, target) in links.items():
        member = prefix + rel
        if kind == SYMLINK:
            parts = _resolve(rel.split("/")[:-1], target, links, member, [0])
            if not parts:
                raise ArchiveError(f"archive member {member!r}: link to {target!r} points at "
                                   "its job's directory itself (refused)")
        elif not target.startswith(prefix) or target == prefix:
            raise ArchiveError(
                f"archive member {member!r}: hard link to {target!r} points outside its job")


def _resolve(parts, target, links, member, follows):
    """The path (a list of names from the job directory) that ``target``, read in the
    directory ``parts``, leads to, following the job's symbolic links."""
    if not target:
        raise ArchiveError(f"archive member {member!r}: link without a target")
    if target.startswith("/"):
        raise ArchiveError(
            f"archive member {member!r}: symbolic link to absolute path {target!r}")
    parts = list(parts)
    for name in target.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            if not parts:
                raise ArchiveError(f"archive member {member!r}: link to {target!r} points "
                                   "outside its job")
            parts.pop()
            continue
        parts.append(name)
        link = links.get("/".join(parts))
        if link is not None and link[0] == SYMLINK:
            follows[0] += 1
            if follows[0] > MAX_FOLLOW:
                raise ArchiveError(f"archive member {member!r}: link to {target!r} goes "
                                   f"through more than {MAX_FOLLOW} links (a loop?)")
            parts = _resolve(parts[:-1], link[1], links, member, follows)
    return parts
