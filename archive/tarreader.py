"""A streaming tar reader (ustar, pax, GNU long names) over any decompressed byte stream.

``tarfile`` builds a TarInfo object, a file object and several small reads per member, which is
most of the time of importing many small files; this reader parses headers from a large
buffer and hands out each member's data as a slice of it. Unlike ``tarfile``, a damaged header
or a stream that ends before the end-of-archive block is an error, never a silent end.
"""

import math

from .base import DIR, FILE, HARDLINK, OTHER, SYMLINK, ArchiveError, Member

BLOCK = 512
CHUNK = 1 << 20
#: the largest extended header (pax records, GNU long name or link) read into memory; names
#: are at most a few KiB, so larger ones are refused rather than read
MAX_HEADER = 1 << 20
_ZERO_BLOCK = bytes(BLOCK)

_KINDS = {b"0": FILE, b"\x00": FILE, b"7": FILE, b"5": DIR, b"2": SYMLINK, b"1": HARDLINK}
# types whose data follows the header (as tarfile: regular files, and unknown types)
_NO_DATA = (b"1", b"2", b"3", b"4", b"5", b"6")
_PAX, _PAX_GLOBAL, _SOLARIS_PAX = b"x", b"g", b"X"
_LONGNAME, _LONGLINK = b"L", b"K"
_GNU_TYPES = (_LONGNAME, _LONGLINK, b"S")


class DamagedArchive(ArchiveError):
    """The tar stream itself is malformed (bad header, early end)."""

    def __init__(self, why):
        super().__init__(f"damaged or truncated archive: {why}")
        self.why = why


def _text(raw):
    """A NUL-terminated field as text (undecodable bytes kept as surrogates, as tarfile)."""
    end = raw.find(b"\x00")
    if end >= 0:
        raw = raw[:end]
    return raw.decode("utf-8", "surrogateescape")


def _number(raw):
    """A numeric header field: octal text, or GNU base-256 for large values."""
    if raw[-1] == 0:
        try:
            return int(raw[:-1], 8)  # the usual form: zero-padded digits and a NUL
        except ValueError:
            pass
    if raw[0] in (0x80, 0xFF):
        value = int.from_bytes(raw[1:], "big")
        if raw[0] == 0xFF:
            value -= 1 << (8 * (len(raw) - 1))
        return value
    end = raw.find(b"\x00")
    text = (raw[:end] if end >= 0 else raw).strip()
    try:
        return int(text or b"0", 8)
    except ValueError:
        raise DamagedArchive(f"invalid number {raw!r} in a tar header") from None


def _checksum_ok(block):
    stored = _number(block[148:156])
    unsigned = sum(block) - sum(block[148:156]) + 256  # the field itself counts as spaces
    if stored == unsigned:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block[:148]) + 256 + \
        sum(b - 256 if b > 127 else b for b in block[156:])  # some old tars sum signed chars
    return stored == signed


def _pax_records(data):
    """``{key: value}`` of a pax extended header."""
    out, pos, n = {}, 0, len(data)
    while pos < n and data[pos] != 0:
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space]) if space > pos else 0
        except ValueError:
            raise DamagedArchive("invalid pax extended header") from None
        if length <= 0 or pos + length > n or data[pos + length - 1] != 0x0A:
            raise DamagedArchive("invalid pax extended header")
        key, sep, value = data[space + 1:pos + length - 1].partition(b"=")
        if not sep:
            raise DamagedArchive("invalid pax extended header")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


_FAST_KINDS = {b"0": FILE, b"5": DIR, b"2": SYMLINK, b"1": HARDLINK}


def _ordinary(block):
    """The member of a plain ustar header as suite and GNU tar write most of them (type
    file, directory or link; numbers as zero-padded octal ended by NUL; no prefix field; a
    right checksum), parsed in one go; None for anything else, which the general parser
    then reads (or refuses)."""
    kind = _FAST_KINDS.get(block[156:157])
    if kind is None or len(block) < BLOCK or block[345] or block[107] or block[135] \
            or block[147] or block[154]:
        return None
    try:
        mode, size = int(block[100:107], 8), int(block[124:135], 8)
        mtime, check = int(block[136:147], 8), int(block[148:154], 8)
    except ValueError:
        return None
    if check != sum(block) - sum(block[148:156]) + 256:  # the field counts as 8 spaces
        return None
    end = block.find(0, 0, 100)
    name = block[:end if end >= 0 else 100].decode("utf-8", "surrogateescape")
    if block[157]:
        end = block.find(0, 157, 257)
        linkname = block[157:end if end >= 0 else 257].decode("utf-8", "surrogateescape")
    else:
        linkname = ""
    if kind == DIR:
        name = name.rstrip("/")
    if size < 0:
        return None
    return Member(name, kind, size, mode, mtime, linkname)


class TarStream:
    """Members of the tar data read from ``source`` (an object with ``read(n)``)."""

    def __init__(self, source):
        self._src = source
        self._buf = b""
        self._pos = 0
        self._left = 0  # unread data bytes of the current member
        self._pad = 0  # padding after the current member's data

    def _take(self, n):
        """The next ``n`` bytes (fewer only at the end of the stream)."""
        pos = self._pos
        end = pos + n
        if end <= len(self._buf):
            self._pos = end
            return self._buf[pos:end]
        parts = [self._buf[pos:]]
        have = len(parts[0])
        self._buf, self._pos = b"", 0
        while have < n:
            chunk = self._src.read(max(CHUNK, n - have))
            if not chunk:
                break
            need = n - have
            if len(chunk) > need:
                parts.append(chunk[:need])
                self._buf, self._pos = chunk, need
                have = n
            else:
                parts.append(chunk)
                have += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _refill(self):
        """Read a chunk more into the buffer, after what is left of it."""
        chunk = self._src.read(CHUNK)
        if chunk:
            self._buf, self._pos = self._buf[self._pos:] + chunk, 0

    def _skip(self, n):
        while n > 0:
            avail = len(self._buf) - self._pos
            if avail >= n:
                self._pos += n
                return
            n -= avail
            self._buf, self._pos = self._src.read(max(CHUNK, min(n, 1 << 24))), 0
            if not self._buf:
                raise DamagedArchive("unexpected end of data")

    def _block_data(self, size):
        """A whole (small) member body such as a pax header, without its padding."""
        data = self._take(size)
        if len(data) < size:
            raise DamagedArchive("unexpected end of data")
        self._skip(-size % BLOCK)
        return data

    def read(self, n=-1):
        """Up to ``n`` bytes (all when negative) of the current member's data."""
        if n < 0 or n > self._left:
            n = self._left
        if n == 0:
            return b""
        data = self._take(n)
        self._left -= len(data)
        if len(data) < n:
            raise DamagedArchive("unexpected end of data")
        return data

    def read_declared(self):
        """The current member's whole data (a tar member never holds more than it declares)."""
        return self.read(self._left)

    def members(self, fast=None):
        """Yield ``(Member, self)``: read the member's data from ``self`` before the next.

        ``fast(buffer, pos)``, if given, is called before each header: it may take plain
        members from the buffered data itself (see archive.importer.scan) and returns the
        position after them; this reader goes on from there."""
        glob = {}
        while True:
            if self._left or self._pad:
                self._skip(self._left + self._pad)
                self._left = self._pad = 0
            if fast is not None and not glob:
                if len(self._buf) - self._pos < CHUNK // 2:
                    self._refill()  # so that few members straddle the buffer's end
                self._pos = fast(self._buf, self._pos)
            block = self._take(BLOCK)
            if not glob:
                member = _ordinary(block)
                if member is not None:
                    if member.kind == FILE:
                        self._left, self._pad = member.size, -member.size % BLOCK
                    yield member, self
                    continue
            pax, longname, longlink = None, None, None
            while True:  # extended headers apply to the next ordinary header
                if block is None:
                    block = self._take(BLOCK)
                if len(block) < BLOCK:
                    raise DamagedArchive("the archive ends without its end-of-archive block")
                if block == _ZERO_BLOCK:
                    return  # end of archive (what follows is padding)
                if not _checksum_ok(block):
                    raise DamagedArchive("a tar header has a bad checksum")
                typeflag = block[156:157]
                size = _number(block[124:136])
                if size > MAX_HEADER and typeflag in (_PAX, _SOLARIS_PAX, _PAX_GLOBAL,
                                                      *_GNU_TYPES[:2]):
                    raise ArchiveError(
                        f"archive member {_text(block[:100])!r}: an extended header of {size} "
                        f"bytes, larger than the {MAX_HEADER} bytes suite reads (refused)")
                if typeflag in (_PAX, _SOLARIS_PAX):
                    pax = {**(pax or {}), **_pax_records(self._block_data(size))}
                elif typeflag == _PAX_GLOBAL:
                    glob.update(_pax_records(self._block_data(size)))
                elif typeflag == _LONGNAME:
                    longname = _text(self._block_data(size))
                elif typeflag == _LONGLINK:
                    longlink = _text(self._block_data(size))
                else:
                    break
                block = None
            name = _text(block[:100])
            linkname = _text(block[157:257])
            if typeflag not in _GNU_TYPES and block[345] != 0:
                name = _text(block[345:500]) + "/" + name  # ustar prefix
            if typeflag == b"\x00" and name.endswith("/"):
                typeflag = b"5"
            if longname is not None:
                name = longname
            if longlink is not None:
                linkname = longlink
            headers = {**glob, **pax} if pax is not None else glob
            mtime = _number(block[136:148])
            if headers:
                if any(k.startswith("GNU.sparse.") for k in headers):
                    raise ArchiveError(f"archive member {name!r}: sparse files are not supported")
                name = headers.get("path", name)
                linkname = headers.get("linkpath", linkname)
                if "size" in headers:
                    try:
                        size = int(headers["size"])
                    except ValueError:
                        raise DamagedArchive("invalid size in a pax header") from None
                if "mtime" in headers:
                    try:
                        mtime = float(headers["mtime"])
                        if not math.isfinite(mtime):
                            raise ValueError
                    except ValueError:
                        raise DamagedArchive("invalid mtime in a pax header") from None
            if size < 0:
                raise DamagedArchive(f"member {name!r} has a negative size")
            kind = _KINDS.get(typeflag, OTHER)
            if typeflag not in _NO_DATA:
                self._left, self._pad = size, -size % BLOCK
            if kind == DIR:
                name = name.rstrip("/")
            yield Member(name, kind, size, _number(block[100:108]), mtime, linkname), self
