"""Frames between a sync client and the suite process on the far side.

A frame is a 4-byte big-endian length, a JSON header (an object), an 8-byte length and a
payload of raw bytes (file contents); payloads above 4 KiB are zstandard-compressed
(``"z": true``), unless samples of a large one show it does not shrink. Both sides refuse
frames past :data:`MAX_HEADER` / :data:`MAX_PAYLOAD` (also once decompressed), so a peer
cannot make the other side allocate without bound.
"""

import json
import struct

from .replica import SyncError

COMPRESS_ABOVE = 4096
#: both sides must speak the same; 2: deltas in batches (signatures, make_deltas); 3 was
#: taken by two branches apart (links and write_link; writes that carry what they expect to
#: replace, and locks); 4: both, file states [size, mtime_ns, inode(, link target)]; 5: the
#: operation active_work (work queued or running there); snapshots and records travel as JSON
#: payloads (a million jobs' snapshot is past MAX_HEADER); the far side's workflow
#: (flow_status, flow_submit, flow_run, books, project files); 6: new jobs many to a frame
#: (create_jobs); 7: XXH64 block hashes in deltas, file digests by FileCheck (sync/blocks.py);
#: 8: a pushed job whose state point is not its own is refused alone (create_jobs answers a
#: note with "unreadable"), checked only there; 9: a snapshot ``since`` a record leaves out
#: the jobs steady against it (a sync with nothing to do sends no listing)
VERSION = 9
#: the largest JSON header (snapshots and records travel as payloads)
MAX_HEADER = 64 << 20
#: the largest payload, compressed or not: the engine's batches (32 MiB of files, 64 MiB of
#: deltas plus one of at most 256 MiB) stay well below it
MAX_PAYLOAD = 1 << 30


class ProtocolError(SyncError):
    """The stream ended or held something that is not a frame, or a frame too large."""


def encode_frame(header, payload=b""):
    """The bytes of one frame; :class:`ProtocolError` for a payload past :data:`MAX_PAYLOAD`."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"a frame of {len(payload)} bytes is larger than the protocol "
                            f"allows ({MAX_PAYLOAD} bytes)")
    if len(payload) > COMPRESS_ABOVE and _compressible(payload):
        import zstandard

        payload = zstandard.ZstdCompressor(level=3).compress(payload)
        header = {**header, "z": True}
    head = json.dumps(header).encode()
    return b"".join((struct.pack(">I", len(head)), head, struct.pack(">Q", len(payload)),
                     payload))


#: payloads of at least this many bytes are sampled before they are compressed (a file of
#: exactly 1 MiB included: 100 random ones went through zstd whole, ~0.6 ms each here)
SAMPLE_FROM = 1 << 20
_SAMPLE = 64 << 10


def _compressible(payload):
    """Whether zstd is worth its time on ``payload``: a large one is compressed only if three
    64 KiB samples of it (start, middle, end) shrink by a twentieth (random or already
    compressed data, e.g. 100 MiB of new binary files, went through zstd for nothing)."""
    if len(payload) < SAMPLE_FROM:
        return True
    import zstandard

    z = zstandard.ZstdCompressor(level=3)
    n, view = len(payload), memoryview(payload)
    sample = [view[k:k + _SAMPLE] for k in (0, (n - _SAMPLE) // 2, n - _SAMPLE)]
    return sum(len(z.compress(part)) for part in sample) * 20 < 19 * 3 * _SAMPLE


def dump_json(value):
    """A JSON value as a payload (large ones: snapshots, records)."""
    return json.dumps(value, separators=(",", ":")).encode()


def load_json(payload):
    """The JSON value of a payload; :class:`ProtocolError` for anything that is not JSON."""
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, nested too deeply
        raise ProtocolError(f"a payload is not valid JSON ({exc})") from None


def split_payload(data, sizes):
    """Cut a payload holding several pieces back into pieces of ``sizes`` bytes;
    :class:`ProtocolError` unless ``sizes`` are byte counts that add up to the payload."""
    if not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes) \
            or sum(sizes) != len(data):
        raise ProtocolError("the sizes of a payload's pieces do not add up to the payload")
    out, pos = [], 0
    for size in sizes:
        out.append(data[pos:pos + size])
        pos += size
    return out


def write_frame(out, header, payload=b""):
    out.write(encode_frame(header, payload))
    out.flush()


def read_frame(stream):
    """``(header dict, payload bytes)``, or ``(None, b"")`` at the end of the stream;
    :class:`ProtocolError` for anything that is not a frame within the limits."""
    head_len = _exact(stream, 4)
    if head_len is None:
        return None, b""
    (n,) = struct.unpack(">I", head_len)
    if n > MAX_HEADER:
        raise ProtocolError(f"a frame header of {n} bytes is larger than the protocol allows")
    try:
        header = json.loads(_exact(stream, n, True))
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, nested too deeply
        raise ProtocolError(f"a frame header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ProtocolError("a frame header is not a JSON object")
    (m,) = struct.unpack(">Q", _exact(stream, 8, True))
    if m > MAX_PAYLOAD:
        raise ProtocolError(f"a frame payload of {m} bytes is larger than the protocol allows")
    payload = _exact(stream, m, True) if m else b""
    if header.pop("z", False):
        payload = _decompress(payload)
    return header, payload


def _decompress(payload):
    import zstandard

    try:
        # a size written in the frame is what decompress() allocates, whatever the limit
        declared = zstandard.frame_content_size(payload)
        if declared > MAX_PAYLOAD:
            raise ProtocolError(f"a frame payload would inflate to {declared} bytes, more "
                                "than the protocol allows")
        return zstandard.ZstdDecompressor().decompress(payload, max_output_size=MAX_PAYLOAD)
    except zstandard.ZstdError as exc:
        raise ProtocolError(f"a frame payload is not valid zstandard data ({exc})") from None


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
