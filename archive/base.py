"""The archive interface: one writer and one reader per format, recognised by content.

A writer takes members in order (``add_dir``, ``add_file``, ``add_bytes``, ``add_symlink``) and
writes to a temporary path that the caller renames when complete (``add_file`` and
``add_data`` return the member's SHA-256; ``add_bytes``, for the manifest, hashes nothing). A
reader yields members in archive order as ``(Member, stream)``; the stream is valid until the
next member.
"""

import hashlib
import os
from dataclasses import dataclass

from suite.errors import StatepointParsingError, SuiteError

FILE, DIR, SYMLINK, HARDLINK, OTHER = "file", "dir", "symlink", "hardlink", "other"

#: format name -> accepted target endings (the first is canonical)
ENDINGS = {
    "tar.zst": (".tar.zst", ".tzst"),
    "tar.gz": (".tar.gz", ".tgz"),
    "tar.bz2": (".tar.bz2", ".tbz2"),
    "tar.xz": (".tar.xz", ".txz"),
    "tar": (".tar",),
    "zip": (".zip",),
}
FORMATS = ("directory",) + tuple(ENDINGS)


class ArchiveError(SuiteError):
    """A problem with an archive: unreadable, unsafe, inconsistent with its manifest."""


class PathStatepointMismatch(ArchiveError, StatepointParsingError):
    """A path read with the import's schema says another value than the job's state point
    (its file or the manifest); signac's ``StatepointParsingError`` too."""


@dataclass
class Member:
    """One archive member; ``name`` is the raw name as stored (checked by :mod:`.safety`)."""

    name: str
    kind: str
    size: int = 0
    mode: int = 0o644
    mtime: float = 0.0
    linkname: str = ""


def copy_hashed(src, out, chunk_size=1 << 20):
    """Copy the open binary file ``src`` to its end into the binary file ``out``; return the
    SHA-256 (hex) of what was copied. Raises OSError as reading or writing does."""
    digest = hashlib.sha256()
    while chunk := src.read(chunk_size):
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest()


def set_dir_attrs(dirs):
    """Give directories ``[(path, mode or None, mtime or None)]`` their mode and mtime,
    deepest first and once their contents are in place (creating entries changes mtimes); the
    owner keeps ``rwx`` so the tree can still be changed and removed."""
    for path, mode, mtime in sorted(dirs, key=lambda d: -d[0].count(os.sep)):
        if mode is not None:
            os.chmod(path, mode & 0o777 | 0o700)
        if mtime:
            os.utime(path, (mtime, mtime))


def format_from_target(target, explicit=None):
    """The format for an export target: ``explicit`` or the target's ending (none: directory)."""
    if explicit:
        if explicit not in FORMATS:
            raise ArchiveError(f"unknown format {explicit!r}; use one of {', '.join(FORMATS)}")
        return explicit
    name = os.path.basename(os.fspath(target)).lower()
    for fmt, endings in ENDINGS.items():
        if name.endswith(endings):
            return fmt
    if "." in name.lstrip(".") and not os.path.isdir(target):
        ending = name[name.index(".", 1 if name.startswith(".") else 0):]
        raise ArchiveError(
            f"unknown archive ending {ending!r} of {target}; use --format or one of "
            + ", ".join(e for es in ENDINGS.values() for e in es) + " (no ending: a directory)"
        )
    return "directory"


def detect_format(origin):
    """The format of an existing archive, from its content (not its name)."""
    origin = os.fspath(origin)
    if os.path.isdir(origin):
        return "directory"
    try:
        with open(origin, "rb") as f:
            head = f.read(512)
    except FileNotFoundError:
        raise ArchiveError(f"{origin} does not exist") from None
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "tar.zst"
    if head.startswith(b"\x1f\x8b"):
        return "tar.gz"
    if head.startswith(b"BZh"):
        return "tar.bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "tar.xz"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if len(head) == 512 and head[257:262] == b"ustar":
        return "tar"
    raise ArchiveError(
        f"{origin} is not a directory, tar (plain, gz, bz2, xz, zst) or zip archive"
    )


def open_writer(fmt, path, level=None):
    """A writer for ``fmt`` writing to ``path`` (a temporary name chosen by the caller)."""
    if fmt == "directory":
        from .dirformat import DirWriter

        return DirWriter(path)
    if fmt == "zip":
        from .zipformat import ZipWriter

        return ZipWriter(path, level)
    from .tarformat import TarWriter

    return TarWriter(path, fmt, level)


def open_reader(origin):
    """A reader for the archive at ``origin``, whatever its format."""
    fmt = detect_format(origin)
    if fmt == "directory":
        from .dirformat import DirReader

        return DirReader(origin)
    if fmt == "zip":
        from .zipformat import ZipReader

        return ZipReader(origin)
    from .tarformat import TarReader

    return TarReader(origin, fmt)
