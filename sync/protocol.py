"""Frames between a sync client and the suite process on the far side.

A frame is a 4-byte big-endian length, a JSON header, an 8-byte length and a payload of raw
bytes (file contents); payloads above 4 KiB are zstandard-compressed (``"z": true``).
"""

import json
import struct

COMPRESS_ABOVE = 4096
#: both sides must speak the same; 2: deltas in batches (signatures, make_deltas); 3: links
#: as [size, mtime, target] in snapshots, write_link, unreadable jobs listed
VERSION = 3


class ProtocolError(Exception):
    """The stream ended or held something that is not a frame."""


def encode_frame(header, payload=b""):
    """The bytes of one frame."""
    if len(payload) > COMPRESS_ABOVE:
        import zstandard

        payload = zstandard.ZstdCompressor(level=3).compress(payload)
        header = {**header, "z": True}
    head = json.dumps(header).encode()
    return b"".join((struct.pack(">I", len(head)), head, struct.pack(">Q", len(payload)),
                     payload))


def split_payload(data, sizes):
    """Cut a payload holding several pieces back into pieces of ``sizes`` bytes."""
    out, pos = [], 0
    for size in sizes:
        out.append(data[pos:pos + size])
        pos += size
    return out


def write_frame(out, header, payload=b""):
    out.write(encode_frame(header, payload))
    out.flush()


def read_frame(stream):
    head_len = _exact(stream, 4)
    if head_len is None:
        return None, b""
    (n,) = struct.unpack(">I", head_len)
    if n > 64 << 20:
        raise ProtocolError("frame header too large")
    header = json.loads(_exact(stream, n, True))
    (m,) = struct.unpack(">Q", _exact(stream, 8, True))
    payload = _exact(stream, m, True) if m else b""
    if header.pop("z", False):
        import zstandard

        payload = zstandard.ZstdDecompressor().decompress(payload, max_output_size=1 << 34)
    return header, payload


def _exact(stream, n, required=False):
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            if not chunks and not required:
                return None
            raise ProtocolError("the connection closed in the middle of a frame")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
