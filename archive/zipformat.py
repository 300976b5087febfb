"""zip archives (deflate); symbolic links are stored as Unix does (mode bits + target)."""

import os
import stat
import time
import zipfile

from suite.jsonio import open_read_quietly

from .base import DIR, FILE, SYMLINK, ArchiveError, Member, copy_hashed

MAX_LINK = 4096  # PATH_MAX: a link target is never longer


_FIRST, _LAST = (1980, 1, 1, 0, 0, 0), (2107, 12, 31, 23, 59, 58)  # what zip's fields hold


class ZipWriter:
    def __init__(self, path, level=None):
        self.path = path
        self.warnings = []  # members whose time zip cannot hold (clamped)
        self._zip = zipfile.ZipFile(path, "x", compression=zipfile.ZIP_DEFLATED,
                                    compresslevel=6 if level is None else level)

    def _date(self, name, mtime):
        """The local date of ``mtime`` as zip stores it, clamped to 1980..2107 (with a
        warning naming the member: zip has no field for other dates)."""
        try:
            date = time.localtime(mtime)[:6]
        except (OverflowError, OSError, ValueError):
            date = _FIRST if mtime < 0 else _LAST
        if _FIRST <= date <= _LAST:
            return date
        clamped = _FIRST if date < _FIRST else _LAST
        self.warnings.append(
            f"{name}: modification time {date[0]}-{date[1]:02}-{date[2]:02} cannot be held "
            f"by zip (1980 to 2107); stored as {clamped[0]}-{clamped[1]:02}-{clamped[2]:02}")
        return clamped

    def add_dir(self, name, mode=0o755, mtime=0):
        """Nothing: signac 2.4's import writes a directory entry as a file (then fails on the
        files in it); the manifest records directories (empty ones, modes, times) instead."""

    def add_symlink(self, name, target, mtime=0):
        info = zipfile.ZipInfo(name, self._date(name, mtime))
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        info.create_system = 3
        self._zip.writestr(info, target.encode())

    def add_bytes(self, name, data, mtime=0):
        info = zipfile.ZipInfo(name, self._date(name, mtime or time.time()))
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self._zip.writestr(info, data)

    def add_file(self, name, src, size, mode=0o644, mtime=0):
        info = zipfile.ZipInfo(name, self._date(name, mtime))
        info.external_attr = (stat.S_IFREG | (mode & 0o7777)) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size = size
        with open_read_quietly(src) as f, self._zip.open(info, "w", force_zip64=size > 2**31) as out:
            return copy_hashed(f, out)

    def close(self):
        self._zip.close()

    def abort(self):
        try:
            self._zip.close()
        except Exception:  # the file is removed anyway
            pass
        if os.path.exists(self.path):
            os.unlink(self.path)


class ZipReader:
    random_access = True

    def __init__(self, path):
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ArchiveError(f"{path}: damaged zip archive: {exc}") from None

    def read(self, name):
        """The bytes of member ``name`` (random access), or None if absent."""
        try:
            return self._zip.read(name)
        except KeyError:
            return None

    def members(self):
        try:
            for info in self._zip.infolist():
                mode = info.external_attr >> 16
                if info.is_dir():
                    yield Member(info.filename.rstrip("/"), DIR, 0, mode & 0o7777 or 0o755,
                                 time.mktime(info.date_time + (0, 0, -1))), None
                elif stat.S_ISLNK(mode):
                    if info.file_size > MAX_LINK:
                        raise ArchiveError(f"archive member {info.filename!r}: a link target of "
                                           f"{info.file_size} bytes (refused)")
                    target = self._zip.read(info).decode("utf-8", "surrogateescape")
                    yield Member(info.filename, SYMLINK, 0, 0o777, 0, target), None
                elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                    yield Member(info.filename, "other", info.file_size), None
                else:
                    # zip keeps local time to 2 seconds
                    mtime = time.mktime(info.date_time + (0, 0, -1))
                    with self._zip.open(info) as stream:
                        yield Member(info.filename, FILE, info.file_size,
                                     mode & 0o7777 or 0o644, mtime), stream
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise ArchiveError(f"{self.path}: damaged zip archive: {exc}") from None
