"""tar archives, plain or compressed with gzip, bzip2, xz or zstandard (multi-threaded)."""

import bz2
import gzip
import hashlib
import lzma
import os

from suite import layout, native
from suite.jsonio import open_read_quietly

from . import tarreader, tarwriter
from .base import ArchiveError
from .sink import ThreadedSink

CHUNK = 1 << 20
#: the per-file loop of export in C (None: not built, or SUITE_PURE_PYTHON)
_tarpack = native.load("archive._tarpack")


#: jobs the native walk may run ahead of the export's loop (its worker thread's queue)
AHEAD = 64
#: from this many jobs on the walk runs in a worker thread (where :func:`walk_ahead`)
AHEAD_MIN = 64


def walk_ahead(jobs):
    """Whether the native walk of ``jobs`` job directories runs in a worker thread beside
    the export's Python: where the process has two cores and the jobs are many."""
    return jobs >= AHEAD_MIN and native.two_cores()


class TarWriter:
    """Streams members into a (compressed) tar file."""

    def __init__(self, path, fmt, level=None):
        self.path = path
        self._raw = open(path, "xb")
        self._zst = None
        if fmt == "tar":
            self._out = self._raw
        elif fmt == "tar.gz":
            # no name in the header (as `tar -czf` writes): the file open is a temporary
            # one, and its name (with the process id) made two exports differ
            self._out = gzip.GzipFile(filename="", fileobj=self._raw, mode="wb", mtime=0,
                                      compresslevel=6 if level is None else level)
        elif fmt == "tar.bz2":
            self._out = bz2.BZ2File(self._raw, "wb", compresslevel=9 if level is None else level)
        elif fmt == "tar.xz":
            self._out = lzma.LZMAFile(self._raw, "wb", preset=6 if level is None else level)
        elif fmt == "tar.zst":
            import zstandard

            cctx = zstandard.ZstdCompressor(level=3 if level is None else level, threads=-1)
            self._out = cctx.stream_writer(self._raw, closefd=False)
        else:
            raise ArchiveError(f"not a tar format: {fmt}")
        if self._out is not self._raw and native.two_cores():
            self._out = ThreadedSink(self._out)  # compression beside the walk and the Python
        self._buf = []
        self._buffered = 0
        self._packer = None

    def _write(self, data):
        # many small writes into the compressor cost more than one larger one
        self._buf.append(data)
        self._buffered += len(data)
        if self._buffered >= CHUNK:
            self._flush()

    def _flush(self):
        if self._buf:
            self._out.write(b"".join(self._buf))
            self._buf, self._buffered = [], 0

    def add_dir(self, name, mode=0o755, mtime=0):
        self._write(tarwriter.member_header(name + "/", 0, mode, mtime, "dir"))

    def add_symlink(self, name, target, mtime=0):
        self._write(tarwriter.member_header(name, 0, 0o777, mtime, "symlink", target))

    def add_bytes(self, name, data, mtime=0):
        """Add a file member of ``data`` (the manifest: no hash taken, none is asked for)."""
        self._add_member(name, data, 0o644, mtime)

    def add_data(self, name, data, mode=0o644, mtime=0):
        """Add a file member whose content the caller has read; return its SHA-256 (hex)."""
        self._add_member(name, data, mode, mtime)
        return hashlib.sha256(data).hexdigest()

    def _add_member(self, name, data, mode, mtime):
        size = len(data)
        header = tarwriter.member_header(name, size, mode, mtime, "file")
        buf = self._buf
        buf.append(header)
        buf.append(data)
        pad = -size % tarwriter.BLOCK
        if pad:
            buf.append(tarwriter.ZEROS[:pad])
        self._buffered += len(header) + size + pad
        if self._buffered >= CHUNK:
            self._flush()

    def job_trees(self, roots, names):
        """The native loop over the job directories ``roots`` written as ``names``, in that
        order: an iterator giving for each job ``(files as manifest JSON text, number of
        files, links (None), dirs, bytes)`` once its members are written, or None where that
        loop does not apply (a job without its state point file, with links, special or big
        files, odd names: nothing was written; the caller exports that job by the Python walk,
        the reference, before taking the next). None where the loop is not built. A worker
        thread walks ahead where it pays (:func:`walk_ahead`)."""
        if _tarpack is None:
            return None
        self._packer = _tarpack.pack_trees(roots, names, layout.TMP_PREFIX, layout.STATEPOINT,
                                           AHEAD if walk_ahead(len(roots)) else 0)
        return self._written(self._packer)

    def _written(self, packer):
        for packed in packer:
            if packed is None:
                yield None
                continue
            data, files_text, count, dirs, total = packed
            self._buf.append(data)  # not kept in a local: _flush starts a new list
            self._buffered += len(data)
            if self._buffered >= CHUNK:
                self._flush()
            yield files_text, count, None, dirs, total

    def add_file(self, name, src, size, mode=0o644, mtime=0):
        """Copy the file ``src`` of ``size`` bytes; return its SHA-256 (hex)."""
        digest = hashlib.sha256()
        self._write(tarwriter.member_header(name, size, mode, mtime, "file"))
        with open_read_quietly(src) as f:
            left = size
            while left:
                chunk = f.read(min(left, CHUNK))
                if not chunk:
                    raise ArchiveError(f"{src} shrank while it was being exported; export again")
                digest.update(chunk)
                self._write(chunk)
                left -= len(chunk)
            if f.read(1):
                raise ArchiveError(f"{src} grew while it was being exported; export again")
        self._write(tarwriter.padding(size))
        return digest.hexdigest()

    def close(self):
        self._stop_packer()
        self._write(tarwriter.END)
        self._flush()
        self._out.close()
        if self._out is not self._raw:
            self._raw.close()

    def _stop_packer(self):
        if self._packer is not None:
            self._packer.close()  # the worker thread ends now, not when garbage is collected
            self._packer = None

    def abort(self):
        try:
            self._stop_packer()
            if isinstance(self._out, ThreadedSink):
                self._out.abort()
            # dropped now, not with the traceback that may keep this writer: zstandard's
            # worker threads end with its compressor
            self._out = self._buf = None
            self._raw.close()
        finally:
            if os.path.exists(self.path):
                os.unlink(self.path)


class TarReader:
    """Reads members in archive order (streaming: compressed data is read once)."""

    random_access = False
    #: ``members(fast)`` lets a caller take plain members from the buffer (TarStream.members)
    takes_fast_scan = True

    def __init__(self, path, fmt):
        self.path = path
        self.fmt = fmt

    def _decompressed(self, raw):
        if self.fmt == "tar.zst":
            import zstandard

            return zstandard.ZstdDecompressor().stream_reader(raw, closefd=False,
                                                              read_across_frames=True)
        if self.fmt == "tar.gz":
            return gzip.GzipFile(fileobj=raw, mode="rb")
        if self.fmt == "tar.bz2":
            return bz2.BZ2File(raw, "rb")
        if self.fmt == "tar.xz":
            return lzma.LZMAFile(raw, "rb")
        return raw

    def members(self, fast=None):
        with open(self.path, "rb") as raw:
            stream = self._decompressed(raw)
            ahead = None
            if self.fmt == "tar.zst" and native.two_cores():
                # decompressed in a second thread a few chunks ahead, as tar's zstd child does
                from .readahead import ReadAhead

                stream = ahead = ReadAhead(stream)
            try:
                yield from tarreader.TarStream(stream).members(fast)
            except tarreader.DamagedArchive as exc:
                raise ArchiveError(f"{self.path}: {exc}") from None
            except (EOFError, OSError, lzma.LZMAError) as exc:
                raise ArchiveError(f"{self.path}: damaged or truncated archive: {exc}") from None
            except Exception as exc:
                if type(exc).__module__.startswith("zstandard"):
                    raise ArchiveError(f"{self.path}: damaged zstandard stream: {exc}") from None
                raise
            finally:
                if ahead is not None:
                    ahead.close()  # before the file closes under its thread
