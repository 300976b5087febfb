"""Per-block sums of the delta transfer: XXH64 hashes, rsync's weak sums, a file's check.

Each function runs the native ``sync._delta`` where it was built (suite/native.py) and else
its numpy reference, which stays here and gives the same bytes (tests/sync/test_blocks.py).
XXH64 (seed 0; github.com/Cyan4973/xxHash, doc/xxhash_spec.md) is the block hash, as rsync's
xxh64: cryptographic strength is not needed to confirm a block whose weak sum matched, and
:class:`FileCheck` catches a wrong rebuild. The numpy reference hashes all blocks of a buffer
at once, one step per 32-byte stripe (32 steps for a 1 KiB block).
"""

from __future__ import annotations

import hashlib
import operator
import sys

from suite import native

_native = native.load("sync._delta")
#: whether the C module is in use (else the numpy references below)
NATIVE = _native is not None

_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5

#: bytes per piece of :class:`FileCheck` (each piece's XXH64 goes into a blake2b)
CHECK_PIECE = 4096


def _rotl(x, r):
    import numpy as np

    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _round(acc, words):
    import numpy as np

    acc += words * np.uint64(_P2)
    acc = _rotl(acc, 31)
    acc *= np.uint64(_P1)
    return acc


def _xxh64_rows(rows):
    """XXH64 of each row of a 2-D uint8 array (all rows of one length), as uint64."""
    import numpy as np

    n, length = rows.shape
    stripes = length // 32
    if stripes:
        words = np.ascontiguousarray(rows[:, : stripes * 32]).view("<u8")
        # stripe-major, so each step below reads one contiguous (n, 4) slab
        words = np.ascontiguousarray(words.reshape(n, stripes, 4).transpose(1, 0, 2),
                                     dtype=np.uint64)
        acc = np.empty((n, 4), dtype=np.uint64)
        acc[:] = np.array([(_P1 + _P2) % 2**64, _P2, 0, (-_P1) % 2**64], dtype=np.uint64)
        tmp = np.empty_like(acc)
        p1, p2, r1, r2 = np.uint64(_P1), np.uint64(_P2), np.uint64(31), np.uint64(33)
        for s in range(stripes):  # _round, in place
            np.multiply(words[s], p2, out=tmp)
            acc += tmp
            np.left_shift(acc, r1, out=tmp)
            acc >>= r2
            acc |= tmp
            acc *= p1
        h = _rotl(acc[:, 0].copy(), 1) + _rotl(acc[:, 1].copy(), 7) + \
            _rotl(acc[:, 2].copy(), 12) + _rotl(acc[:, 3].copy(), 18)
        for lane in range(4):
            h ^= _round(np.zeros(n, np.uint64), acc[:, lane].copy())
            h = h * np.uint64(_P1) + np.uint64(_P4)
    else:
        h = np.full(n, _P5, dtype=np.uint64)
    h += np.uint64(length)
    p = stripes * 32
    tail = np.ascontiguousarray(rows[:, p:])
    q = 0
    while length - p - q >= 8:
        word = tail[:, q : q + 8].copy().view("<u8")[:, 0].astype(np.uint64)
        h ^= _round(np.zeros(n, np.uint64), word)
        h = _rotl(h, 27) * np.uint64(_P1) + np.uint64(_P4)
        q += 8
    if length - p - q >= 4:
        word = tail[:, q : q + 4].copy().view("<u4")[:, 0].astype(np.uint64)
        h ^= word * np.uint64(_P1)
        h = _rotl(h, 23) * np.uint64(_P2) + np.uint64(_P3)
        q += 4
    while q < length - p:
        h ^= tail[:, q].astype(np.uint64) * np.uint64(_P5)
        h = _rotl(h, 11) * np.uint64(_P1)
        q += 1
    h ^= h >> np.uint64(33)
    h *= np.uint64(_P2)
    h ^= h >> np.uint64(29)
    h *= np.uint64(_P3)
    h ^= h >> np.uint64(32)
    return h


def _pieces(data, size: int):
    """``(whole pieces as an (n, size) uint8 array, the shorter last piece or None)``."""
    import numpy as np

    # the C module's argument errors, alike: TypeError, OverflowError, ValueError, BufferError
    size = operator.index(size)
    if size > sys.maxsize:
        raise OverflowError("Python int too large to convert to C ssize_t")
    if size < 1:
        raise ValueError("block size must be at least 1")
    view = memoryview(data)
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    x = np.frombuffer(view.cast("B") if view.format != "B" or view.ndim != 1 else view,
                      dtype=np.uint8)
    full = len(x) // size
    rest = x[full * size :]
    whole = x[: full * size].reshape(full, size) if full else x[:0].reshape(0, 0)
    return whole, (rest.reshape(1, -1) if len(rest) else None)


def block_hashes_python(data, size: int) -> bytes:
    """XXH64 of each consecutive piece of ``size`` bytes of ``data`` (the last may be
    shorter), 8 little-endian bytes each: the reference of ``sync._delta.block_hashes``.
    Raises ValueError for ``size`` < 1."""
    import numpy as np

    whole, rest = _pieces(data, size)
    parts = [_xxh64_rows(whole)] if len(whole) else []
    if rest is not None:
        parts.append(_xxh64_rows(rest))
    if not parts:
        return b""
    return np.concatenate(parts).astype("<u8").tobytes()


def block_weak_sums_python(data, size: int) -> bytes:
    """rsync's weak sum (``a | b << 16``, see sync/delta.py) of each consecutive piece of
    ``size`` bytes (the last may be shorter: summed over its own length), 4 little-endian bytes
    each: the reference of ``sync._delta.block_weak_sums``. Raises ValueError for ``size`` < 1."""
    import numpy as np

    parts = []
    for rows in _pieces(data, size):
        if rows is None or not len(rows):
            continue
        length = rows.shape[1]
        a = rows.sum(axis=1, dtype=np.uint32)
        # b = sum((L - i) * x[i]); the products fit in uint32, the sums wrap (exact mod 2**16)
        weights = np.uint32(length) - np.arange(length, dtype=np.uint32)
        b = (rows * weights).sum(axis=1, dtype=np.uint32)
        parts.append((a & np.uint32(0xFFFF)) | ((b & np.uint32(0xFFFF)) << np.uint32(16)))
    if not parts:
        return b""
    return np.concatenate(parts).astype("<u4").tobytes()


block_hashes = _native.block_hashes if _native else block_hashes_python
block_weak_sums = _native.block_weak_sums if _native else block_weak_sums_python


def block_hash(data) -> bytes:
    """The 8-byte XXH64 of ``data`` as one block (empty for empty data)."""
    return block_hashes(data, max(len(data), 1))


class FileCheck:
    """A 16-byte check of a stream's content: blake2b over the XXH64 of each
    :data:`CHECK_PIECE`-byte piece and the length. Fed in pieces of any size; the same bytes
    give the same check however they were split."""

    def __init__(self):
        self._h = hashlib.blake2b(digest_size=16)
        self._carry = b""
        self.length = 0

    def update(self, data) -> None:
        n = len(data)
        if not n:
            return
        self.length += n
        if self._carry:
            need = CHECK_PIECE - len(self._carry)
            self._carry += bytes(data[:need])
            data = memoryview(data)[need:]
            if len(self._carry) < CHECK_PIECE:
                return
            self._h.update(block_hashes(self._carry, CHECK_PIECE))
            self._carry = b""
        whole = len(data) // CHECK_PIECE * CHECK_PIECE
        if whole:
            self._h.update(block_hashes(memoryview(data)[:whole], CHECK_PIECE))
        self._carry = bytes(data[whole:])

    def digest(self) -> bytes:
        h = self._h.copy()
        if self._carry:
            h.update(block_hashes(self._carry, CHECK_PIECE))
        h.update(self.length.to_bytes(8, "little"))
        return h.digest()

    def hexdigest(self) -> str:
        return self.digest().hex()


def stream_check(fileobj) -> str:
    """The hex :class:`FileCheck` of what is left to read in ``fileobj``, read in 1 MiB
    chunks (a job file's digest when comparing by content)."""
    h = FileCheck()
    while chunk := fileobj.read(1 << 20):
        h.update(chunk)
    return h.hexdigest()
