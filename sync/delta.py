"""Delta transfer: rsync-style signatures, deltas and their application, vectorised with numpy.

The receiver (who holds the old *basis* file) sends a :class:`Signature` of it; the sender, who
holds the new file, calls :func:`make_delta` and ships the result; the receiver calls
:func:`apply_delta` into a temporary file and renames it. See docs/architecture-delta.md.

Weak sums are rsync's a/b pair (mod 2**16 each) over a block of ``L`` bytes::

    a = sum(x[i])        b = sum((L - i) * x[i])        weak = a | b << 16

For every offset at once they come from two prefix sums (in wrapping uint32, which is exact
modulo 2**16): ``a = S1[o+L] - S1[o]`` and ``b = (o+L)*a - (S2[o+L] - S2[o])`` where
``S2`` sums ``j * x[j]``. Strong hashes are XXH64 (8 bytes, as rsync's xxh64); the delta
carries a 16-byte :class:`sync.blocks.FileCheck` of the whole result, which :func:`apply_delta`
checks. The per-block loops (weak sums and hashes of whole blocks) run in C where
``sync._delta`` was built (sync/blocks.py holds their numpy references).
"""

from __future__ import annotations

import io
import math
import struct

from suite.errors import SuiteError

from . import blocks
from .blocks import FileCheck

SIG_MAGIC = b"SSIG"
DELTA_MAGIC = b"SDLT"
#: 2: XXH64 block hashes and the FileCheck of the result (1: blake2b)
VERSION = 2
STRONG_LEN = 8
MIN_BLOCK = 512
MAX_BLOCK = 128 * 1024
WINDOW = 4 * 1024 * 1024  # bytes per numpy pass: small enough for the arrays to stay in cache
_LITERAL_FLUSH = 1024 * 1024
_READ = 1024 * 1024

_OP_END, _OP_COPY, _OP_LITERAL = 0, 1, 2
_SIG_HEADER = struct.Struct("<4sBBIQ")  # magic, version, strong_len, block_size, file_size
_DELTA_HEADER = struct.Struct("<4sBIQ")  # magic, version, block_size, basis_size
_TABLE_BITS = 20  # a 1 MiB lookup table stays in cache
_FIRST_SPAN = 4  # blocks of offsets searched when a copy run breaks (doubling while unmatched)


class DeltaError(SuiteError, ValueError):
    """A malformed signature or delta, or a delta applied to the wrong basis file."""


class DeltaTooLarge(DeltaError):
    """The delta grew past the limit it was asked to stay under (send the whole file)."""


def choose_block_size(size: int) -> int:
    """Block size for a file of ``size`` bytes: about sqrt(size), a multiple of 8, bounded."""
    b = (math.isqrt(max(size, 0)) + 7) // 8 * 8
    return max(MIN_BLOCK, min(MAX_BLOCK, b))


class Signature:
    """Per-block weak sums (uint32 array) and strong hashes of a basis file.

    The last block may be shorter than ``block_size`` (``file_size % block_size`` bytes).
    """

    def __init__(self, block_size, file_size, weak, strong, strong_len=STRONG_LEN):
        self.block_size = block_size
        self.file_size = file_size
        self.weak = weak  # numpy uint32 array, one per block
        self.strong = strong  # bytes, strong_len per block
        self.strong_len = strong_len

    @property
    def n_blocks(self) -> int:
        return -(-self.file_size // self.block_size)

    def block_length(self, index: int) -> int:
        return min(self.block_size, self.file_size - index * self.block_size)

    def strong_of(self, index: int) -> bytes:
        n = self.strong_len
        return self.strong[index * n : (index + 1) * n]

    def to_bytes(self) -> bytes:
        """Compact binary form: versioned header, weak sums, strong hashes."""
        header = _SIG_HEADER.pack(
            SIG_MAGIC, VERSION, self.strong_len, self.block_size, self.file_size
        )
        return header + self.weak.astype("<u4", copy=False).tobytes() + self.strong

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Parse and validate :meth:`to_bytes` output; raise :class:`DeltaError` if malformed."""
        import numpy as np

        data = bytes(data)
        if len(data) < _SIG_HEADER.size:
            raise DeltaError(f"malformed signature: {len(data)} bytes, shorter than its header")
        magic, version, strong_len, block_size, file_size = _SIG_HEADER.unpack_from(data)
        if magic != SIG_MAGIC:
            raise DeltaError("malformed signature: bad magic (not a suite signature)")
        if version != VERSION:
            raise DeltaError(f"signature version {version} not supported (this suite reads "
                             f"{VERSION}): install the same suite version on both machines")
        if strong_len != STRONG_LEN:
            raise DeltaError(f"malformed signature: strong hash length {strong_len}")
        if not MIN_BLOCK <= block_size <= MAX_BLOCK:
            raise DeltaError(f"malformed signature: block size {block_size} out of range")
        n = -(-file_size // block_size)
        expected = _SIG_HEADER.size + n * (4 + strong_len)
        if len(data) != expected:
            raise DeltaError(
                f"malformed signature: {len(data)} bytes, expected {expected} for a "
                f"{file_size}-byte file in blocks of {block_size}"
            )
        off = _SIG_HEADER.size
        weak = np.frombuffer(data, dtype="<u4", count=n, offset=off).astype(np.uint32)
        strong = data[off + 4 * n :]
        return cls(block_size, file_size, weak, strong, strong_len)


_ARANGE = None


def _arange(n: int):
    """0 .. n-1 as uint32, cached: allocating fresh large arrays costs more than the arithmetic."""
    global _ARANGE
    import numpy as np

    if _ARANGE is None or len(_ARANGE) < n:
        _ARANGE = np.arange(max(n, WINDOW + MAX_BLOCK + 1), dtype=np.uint32)
    return _ARANGE[:n]


def _prefix_sums(x, which: int):
    """S1 (which=1: sum of x[:k]) or S2 (which=2: sum of j*x[j] for j < k), wrapping uint32."""
    import numpy as np

    s = np.empty(len(x) + 1, dtype=np.uint32)
    s[0] = 0
    body = s[1:]
    body[:] = x
    if which == 2:
        body *= _arange(len(x))
    np.add.accumulate(body, out=body)
    return s


def weak_sums_all(buf, length: int):
    """Weak sums of ``buf[o:o+length]`` for every offset ``o`` (0 .. len(buf) - length)."""
    import numpy as np

    x = np.frombuffer(buf, dtype=np.uint8)
    n = len(x) - length + 1
    if n <= 0:
        return np.zeros(0, np.uint32)
    s = _prefix_sums(x, 1)
    a = np.subtract(s[length:], s[:n])
    s = _prefix_sums(x, 2)
    # b = (o + length) * a - (S2[o+length] - S2[o]), all modulo 2**32
    b = np.multiply(_arange(length + n)[length:], a)
    b -= s[length:]
    b += s[:n]
    a &= np.uint32(0xFFFF)
    b <<= np.uint32(16)
    a |= b
    return a


def weak_sum_reference(data: bytes) -> int:
    """The weak sum of ``data`` computed byte by byte (the definition, for tests)."""
    n = len(data)
    a = sum(data) & 0xFFFF
    b = sum((n - i) * v for i, v in enumerate(data)) & 0xFFFF
    return a | b << 16


def _read_full(fileobj, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = fileobj.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def signature(fileobj, block_size=None) -> Signature:
    """Signature of the (basis) file open for binary reading; streams it in bounded memory.

    ``block_size`` defaults to :func:`choose_block_size` of the file's size (found by seeking;
    a non-seekable stream needs an explicit block size). Raises :class:`DeltaError`.
    """
    import numpy as np

    block_size, total, weak, strong = _signature_parts(fileobj, block_size)
    return Signature(block_size, total, np.frombuffer(weak, dtype="<u4").astype(np.uint32),
                     strong)


def signature_bytes(fileobj, block_size=None) -> bytes:
    """``signature(fileobj, block_size).to_bytes()`` without numpy: the far side of a push
    only sends signatures, and importing numpy for that cost it 0.1 s of CPU per sync.
    Raises :class:`DeltaError`."""
    block_size, total, weak, strong = _signature_parts(fileobj, block_size)
    return _SIG_HEADER.pack(SIG_MAGIC, VERSION, STRONG_LEN, block_size, total) + weak + strong


def _signature_parts(fileobj, block_size):
    """``(block size, file size, weak sums as little-endian uint32 bytes, strong hashes)``
    of :func:`signature`."""
    if block_size is None:
        try:
            start = fileobj.tell()
            fileobj.seek(0, io.SEEK_END)
            size = fileobj.tell() - start
            fileobj.seek(start)
        except (OSError, AttributeError, io.UnsupportedOperation) as error:
            raise DeltaError("signature of a non-seekable stream needs block_size") from error
        block_size = choose_block_size(size)
    if not MIN_BLOCK <= block_size <= MAX_BLOCK:
        raise DeltaError(f"block size {block_size} out of range {MIN_BLOCK}..{MAX_BLOCK}")
    per_read = max(1, WINDOW // block_size) * block_size
    weaks, strongs, total = [], [], 0
    while True:
        buf = _read_full(fileobj, per_read)
        if not buf:
            break
        total += len(buf)
        # whole blocks, and a short last one only at the end of the file
        weaks.append(blocks.block_weak_sums(buf, block_size))
        strongs.append(blocks.block_hashes(buf, block_size))
        if len(buf) % block_size:
            break
    return block_size, total, b"".join(weaks), b"".join(strongs)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _Encoder:
    """Writes instructions into one zstd stream, coalescing copies and buffering literals."""

    def __init__(self, sig: Signature, level: int, limit=None):
        import zstandard

        self.limit = limit

        self.out = io.BytesIO()
        self.out.write(_DELTA_HEADER.pack(DELTA_MAGIC, VERSION, sig.block_size, sig.file_size))
        self.z = zstandard.ZstdCompressor(level=level).compressobj()
        self.copy = None  # pending (start, count)
        self.literal = bytearray()
        self.digest = FileCheck()
        self.total = 0
        self.sig = sig

    def _write(self, data):
        chunk = self.z.compress(data)
        if chunk:
            self.out.write(chunk)
            if self.limit is not None and self.out.tell() > self.limit:
                raise DeltaTooLarge(f"the delta exceeds {self.limit} bytes")

    def _flush_copy(self):
        if self.copy:
            start, count = self.copy
            self._write(bytes([_OP_COPY]) + _varint(start) + _varint(count))
            self.copy = None

    def _flush_literal(self, keep: int = 0):
        n = len(self.literal) - keep
        if n > 0:
            self._write(bytes([_OP_LITERAL]) + _varint(n))
            self._write(bytes(self.literal[:n]))
            del self.literal[:n]

    def add_literal(self, data):
        if not len(data):
            return
        self._flush_copy()
        self.literal += data
        self.digest.update(data)
        self.total += len(data)
        if len(self.literal) > _LITERAL_FLUSH:
            # keep one block's worth back: the file's tail may still match the short last block
            self._flush_literal(keep=self.sig.block_size)

    def add_copy(self, index: int, data, count: int = 1):
        """``count`` basis blocks from ``index`` on, whose bytes are ``data``."""
        self._flush_literal()
        self.digest.update(data)
        self.total += len(data)
        if self.copy and self.copy[0] + self.copy[1] == index:
            self.copy = (self.copy[0], self.copy[1] + count)
        else:
            self._flush_copy()
            self.copy = (index, count)

    def finish(self) -> bytes:
        sig = self.sig
        tail_len = sig.file_size % sig.block_size
        if tail_len and not self.copy and len(self.literal) >= tail_len:
            tail = bytes(self.literal[-tail_len:])
            if blocks.block_hash(tail) == sig.strong_of(sig.n_blocks - 1):
                del self.literal[-tail_len:]
                self._flush_literal()
                self.copy = (sig.n_blocks - 1, 1)
        self._flush_literal()
        self._flush_copy()
        self._write(bytes([_OP_END]) + _varint(self.total) + self.digest.digest())
        self.out.write(self.z.flush())
        return self.out.getvalue()


def make_delta(sig: Signature, fileobj, level: int = 3, limit=None) -> bytes:
    """Delta turning the basis described by ``sig`` into the file open in ``fileobj``;
    :class:`DeltaTooLarge` once it would exceed ``limit`` bytes (memory stays bounded).

    The new file is read in windows of :data:`WINDOW` bytes (plus an overlap of less than one
    block); weak sums for every offset of a window are computed at once, candidates looked up
    in a table, confirmed by the strong hash, and matched greedily from left to right.
    """
    import numpy as np

    if not isinstance(sig, Signature):
        raise DeltaError("make_delta needs a Signature (use Signature.from_bytes)")
    bs = sig.block_size
    enc = _Encoder(sig, level, limit)
    n_full = sig.file_size // bs
    index = None  # built when a copy run first breaks (an unchanged file never needs it)
    expected = 0  # block that would extend the current copy run (files often start alike)
    carry = b""
    eof = False
    while not eof:
        chunk = _read_full(fileobj, WINDOW)
        eof = len(chunk) < WINDOW
        buf = carry + chunk
        view = memoryview(buf)
        n_off = len(buf) - bs + 1  # offsets whose whole block is in the buffer
        pos = 0
        # weak sums are computed only once a copy run breaks, and only for the offsets from
        # there up to cand_end: a small edit in a large file costs a few blocks' sums, not the
        # window's; a region without a match doubles the next one (rewritten files)
        cand, cand_end, span = None, 0, _FIRST_SPAN * bs
        i = 0
        while n_full and pos < n_off:
            # fast path: the next bytes continue the current copy run (unchanged regions);
            # the whole run is one call to the encoder
            if 0 <= expected < n_full:
                start, first = pos, expected
                pos, expected = _extend_run(view, pos, expected, sig, n_full)
                if pos > start:
                    enc.add_copy(first, view[start:pos], expected - first)
                    continue
            if cand is None or pos >= cand_end:
                index = index or _BlockIndex(sig, n_full)
                cand_end = min(n_off, pos + span)
                cand, cand_weak = index.candidates(
                    weak_sums_all(view[pos : cand_end + bs - 1], bs))
                cand += pos
            i = int(np.searchsorted(cand, pos))
            match = None
            while i < len(cand):
                o = int(cand[i])
                block = view[o : o + bs]
                match = index.first(cand_weak[i], blocks.block_hash(block))
                if match is not None:
                    break
                i += 1
            if match is None:
                if cand_end >= n_off:
                    break
                enc.add_literal(view[pos:cand_end])  # no block starts in there
                pos, span = cand_end, span * 2
                continue
            enc.add_literal(view[pos:o])
            enc.add_copy(match, block)
            expected = match + 1
            pos, span = o + bs, _FIRST_SPAN * bs
        if eof:
            enc.add_literal(view[pos:])
            carry = b""
        else:
            limit = max(n_off, 0)
            if pos < limit:
                enc.add_literal(view[pos:limit])
                expected = -1
                pos = limit
            carry = bytes(view[pos:])
        del view
    return enc.finish()


# blocks hashed per call while a copy run goes on: a call of the numpy reference costs about
# as much for 256 blocks as for 8 (one step per 32-byte stripe), one of the C module does not
_RUN_FIRST, _RUN_MOST = (8, 1024) if blocks.NATIVE else (256, 1024)


def _extend_run(view, pos: int, expected: int, sig: Signature, n_full: int):
    """``(pos, expected)`` past the blocks of ``view`` from ``pos`` on that equal the basis's
    blocks from ``expected`` on: hashed many per call (a few first, doubling while they
    match), so an unchanged region costs a few calls, and a change right after it a few
    blocks' hashes."""
    import numpy as np

    bs, n = sig.block_size, _RUN_FIRST
    while expected < n_full:
        k = min(n, n_full - expected, (len(view) - pos) // bs)
        if k <= 0:
            break
        got = blocks.block_hashes(view[pos : pos + k * bs], bs)
        want = sig.strong[expected * STRONG_LEN : (expected + k) * STRONG_LEN]
        if got == want:
            pos, expected, n = pos + k * bs, expected + k, min(2 * n, _RUN_MOST)
            continue
        same = np.frombuffer(got, "<u8") == np.frombuffer(want, "<u8")
        m = int(np.argmin(same))  # the first block that differs
        return pos + m * bs, expected + m
    return pos, expected


class _BlockIndex:
    """The basis's whole blocks by weak sum: which offsets' sums are some block's, and the
    first block (lowest index) with a given weak sum and strong hash."""

    def __init__(self, sig: Signature, n_full: int):
        import numpy as np

        weak = sig.weak[:n_full]
        self.sig = sig
        self.order = np.argsort(weak, kind="stable")  # equal sums stay in block order
        self.sorted = weak[self.order]
        # a table ~8x the blocks (at most 1 MiB): cheap to build per file, few false hits
        self.bits = min(_TABLE_BITS, max(10, n_full.bit_length() + 3))
        self.table = np.zeros(1 << self.bits, dtype=bool)
        self.table[self._slot(weak)] = True

    def _slot(self, weak):
        import numpy as np

        mixed = weak * np.uint32(2654435761)  # Knuth's multiplicative hash, wrapping
        return mixed >> np.uint32(32 - self.bits)

    def candidates(self, weak):
        """``(offsets, their weak sums as a list)`` of the entries of ``weak`` that are some
        block's weak sum."""
        import numpy as np

        cand = np.flatnonzero(self.table[self._slot(weak)])
        w = weak[cand]
        at = np.minimum(np.searchsorted(self.sorted, w), len(self.sorted) - 1)
        keep = self.sorted[at] == w
        return cand[keep], w[keep].tolist()

    def first(self, weak: int, strong: bytes):
        """The lowest block index with this weak sum and strong hash, or None."""
        import numpy as np

        lo = int(np.searchsorted(self.sorted, weak, "left"))
        hi = int(np.searchsorted(self.sorted, weak, "right"))
        for index in sorted(self.order[lo:hi].tolist()):
            if self.sig.strong_of(index) == strong:
                return index
        return None


def _read_varint(reader, what: str) -> int:
    shift, value = 0, 0
    while True:
        byte = reader.read(1)
        if not byte:
            raise DeltaError(f"malformed delta: truncated in {what}")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
        shift += 7
        if shift > 63:
            raise DeltaError(f"malformed delta: {what} too large")


def _copy_hashed(src, length, out, digest, short):
    """Copy ``length`` bytes of ``src`` to ``out`` and into ``digest``; return ``length``.
    Raises DeltaError(``short``) if ``src`` ends before."""
    left = length
    while left:
        data = src.read(min(left, _READ))
        if not data:
            raise DeltaError(short)
        out.write(data)
        digest.update(data)
        left -= len(data)
    return length


def apply_delta(basis_fileobj, delta_bytes, out_fileobj) -> int:
    """Write the new file rebuilt from the basis (open for binary reading, seekable) and a delta.

    Every instruction is validated; a malformed delta, or one made against a different basis,
    raises :class:`DeltaError` (the output is then incomplete: write to a temporary file and
    rename it only on success). Returns the number of bytes written.
    """
    import zstandard

    delta_bytes = bytes(delta_bytes)
    if len(delta_bytes) < _DELTA_HEADER.size:
        raise DeltaError("malformed delta: shorter than its header")
    magic, version, bs, basis_size = _DELTA_HEADER.unpack_from(delta_bytes)
    if magic != DELTA_MAGIC:
        raise DeltaError("malformed delta: bad magic (not a suite delta)")
    if version != VERSION:
        raise DeltaError(f"delta version {version} not supported (this suite reads {VERSION}): "
                         "install the same suite version on both machines")
    if not MIN_BLOCK <= bs <= MAX_BLOCK:
        raise DeltaError(f"malformed delta: block size {bs} out of range")
    n_blocks = -(-basis_size // bs)
    try:
        basis_fileobj.seek(0, io.SEEK_END)
        actual = basis_fileobj.tell()
    except (OSError, AttributeError, io.UnsupportedOperation) as error:
        raise DeltaError("apply_delta needs a seekable basis file") from error
    if actual != basis_size:
        raise DeltaError(
            f"delta was made against a {basis_size}-byte basis but the basis file has "
            f"{actual} bytes; compute a new signature and delta"
        )
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(delta_bytes[_DELTA_HEADER.size :]))
    digest = FileCheck()
    written = 0
    try:
        while True:
            op = raw.read(1)
            if not op:
                raise DeltaError("malformed delta: truncated (no end marker)")
            op = op[0]
            if op == _OP_COPY:
                start = _read_varint(raw, "copy start")
                count = _read_varint(raw, "copy count")
                if count == 0 or start + count > n_blocks:
                    raise DeltaError(
                        f"malformed delta: copy of blocks {start}..{start + count - 1} but the "
                        f"basis has {n_blocks} blocks"
                    )
                basis_fileobj.seek(start * bs)
                written += _copy_hashed(
                    basis_fileobj, min((start + count) * bs, basis_size) - start * bs,
                    out_fileobj, digest, "basis file ended early while applying a delta")
            elif op == _OP_LITERAL:
                written += _copy_hashed(raw, _read_varint(raw, "literal length"), out_fileobj,
                                        digest, "malformed delta: literal data truncated")
            elif op == _OP_END:
                total = _read_varint(raw, "total length")
                expect = raw.read(16)
                if total != written:
                    raise DeltaError(
                        f"malformed delta: rebuilt {written} bytes, the delta says {total}"
                    )
                if expect != digest.digest():
                    raise DeltaError(
                        "rebuilt file does not match the delta's checksum (wrong or changed "
                        "basis file?); transfer the whole file instead"
                    )
                if raw.read(1):
                    raise DeltaError("malformed delta: data after the end marker")
                return written
            else:
                raise DeltaError(f"malformed delta: unknown instruction {op}")
    except zstandard.ZstdError as error:
        raise DeltaError(f"malformed delta: compressed stream is corrupt ({error})") from error


def file_digest(path) -> str:
    """Hex :class:`sync.blocks.FileCheck` (128-bit) of a file's content."""
    with open(path, "rb") as f:
        return blocks.stream_check(f)


def compress_file(src_fileobj, out_fileobj, level: int = 3) -> None:
    """Whole-file transfer form: zstd-compress a stream into another (bounded memory)."""
    import zstandard

    zstandard.ZstdCompressor(level=level).copy_stream(src_fileobj, out_fileobj)


def decompress(src_fileobj, out_fileobj) -> None:
    """Inverse of :func:`compress_file`; raises :class:`DeltaError` on corrupt input."""
    import zstandard

    try:
        zstandard.ZstdDecompressor().copy_stream(src_fileobj, out_fileobj)
    except zstandard.ZstdError as error:
        raise DeltaError(f"corrupt compressed data: {error}") from error
