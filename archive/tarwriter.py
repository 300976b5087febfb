"""A small, fast tar (ustar + pax) writer: one header per member, built from bytes.

``tarfile`` spends most of an export of 30,000 small files building TarInfo objects and
looking up user names; suite writes the headers itself and streams file data.
"""

BLOCK = 512


def _octal(value, width):
    return f"{value:0{width - 1}o}".encode() + b"\x00"


_TAIL = b"ustar\x0000" + b"\x00" * 64 + _octal(0, 8) * 2 + b"\x00" * 155
_IDS = _octal(0, 8) * 2  # uid, gid


_CONST_SUM = sum(b" " * 8) + sum(_TAIL)  # checksum field (as spaces) and the fixed tail


def _header(name, size, mode, mtime, typeflag, linkname=""):
    # the checksum is the sum of all bytes: the NUL padding adds nothing, so only the
    # variable fields are summed (not the whole 512-byte block)
    nb = name.encode()[:100]
    lb = linkname.encode()[:100] if linkname else b""
    fields = b"%07o\x00%s%011o\x00%011o\x00" % (mode & 0o7777, _IDS, size, int(mtime))
    check = sum(nb) + sum(fields) + typeflag[0] + sum(lb) + _CONST_SUM
    return b"".join((
        nb.ljust(100, b"\x00"), fields, b"%06o\x00 " % check, typeflag, lb.ljust(100, b"\x00"),
        _TAIL,
    )).ljust(BLOCK, b"\x00")


def _pax(name, linkname, size, mtime):
    records = b""
    for key, value in (("path", name), ("linkpath", linkname)):
        if value and len(value.encode()) > 100 or (value and not value.isascii()):
            records += _pax_record(key, value)
    if size >= MAX_NUMBER:
        records += _pax_record("size", str(size))
    if not 0 <= mtime < MAX_NUMBER:
        records += _pax_record("mtime", str(mtime))
    return records


def _pax_record(key, value):
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode() + body


#: the 11 octal digits of ustar's size and mtime fields hold values below this (8 GiB; a time
#: before 2242-03-16); past it, and for times before 1970, a pax record holds the value
MAX_NUMBER = 8**11

_FLAGS = {"file": b"0", "dir": b"5", "symlink": b"2", "hardlink": b"1"}

# the common header (ASCII name of at most 100 bytes, no link) is two pieces: the first 148
# bytes (name, numbers) formatted per member, and everything after the checksum, fixed per
# type flag and prepared once together with the sum of its bytes
_NAME_PAD = bytes(100)
_AFTER = {flag: (flag + bytes(100) + _TAIL).ljust(BLOCK - 156, b"\x00")
          for flag in _FLAGS.values()}
_AFTER_SUM = {flag: sum(after) + sum(b" " * 8) for flag, after in _AFTER.items()}


def member_header(name, size, mode, mtime, kind, linkname=""):
    """The header block(s) for one member; ``kind`` is file, dir, symlink or hardlink."""
    flag = _FLAGS[kind]
    mtime = int(mtime // 1)  # whole seconds (floor: before 1970 too)
    if len(name) <= 100 and not linkname and size < MAX_NUMBER and 0 <= mtime < MAX_NUMBER \
            and name.isascii():  # the common case: no pax record
        nb = name.encode()
        head = b"%s%s%07o\x00%s%011o\x00%011o\x00" % (nb, _NAME_PAD[len(nb):], mode & 0o7777,
                                                      _IDS, size, mtime)
        return b"%s%06o\x00 %s" % (head, sum(head) + _AFTER_SUM[flag], _AFTER[flag])
    out = b""
    pax = _pax(name, linkname, size, mtime)
    # values the ustar fields cannot hold are 0 there: readers take them from the pax record
    if not 0 <= mtime < MAX_NUMBER:
        mtime = 0
    if pax:
        out += _header("././@PaxHeader", len(pax), 0o644, mtime, b"x")
        out += pax + b"\x00" * (-len(pax) % BLOCK)
    return out + _header(name, size if size < MAX_NUMBER else 0, mode, mtime, flag, linkname)


ZEROS = b"\x00" * BLOCK


def padding(size):
    """Zero bytes that complete the last block of a member's data."""
    return ZEROS[:-size % BLOCK]


END = b"\x00" * (2 * BLOCK)
