"""The pipe transports' streams (sync/transports/pipe.py) with real processes and pipes: a frame
arrives whole however the pipe cuts it, a batch of frames is handed over in one go, and
silence is a timeout."""

import os
import sys
import threading
import time

import pytest

from sync import protocol
from sync.transports.pipe import PIPE_SIZE, Process, Reader

FRAMES = [({"op": "a", "args": [1, "x"]}, b""), ({"op": "b"}, b"small payload"),
          ({"op": "c", "result": None}, os.urandom(5000))]  # compressed (above 4 KiB)


def test_a_frame_cut_anywhere_is_read_whole():
    """Every frame of a stream written in two pieces, cut at each byte in turn (the second
    piece after the reader has taken the first), reads back the same."""
    stream = b"".join(protocol.encode_frame(h, p) for h, p in FRAMES)
    # each byte up to the last frame's payload, then every 97th (the payload is read as one)
    payload_at = len(stream) - len(protocol.encode_frame(*FRAMES[-1])) + 100
    for cut in [*range(1, payload_at), *range(payload_at, len(stream), 97), len(stream) - 1]:
        r, w = os.pipe()
        try:
            reader = Reader(r, timeout=10)
            os.write(w, stream[:cut])

            def rest(w=w, cut=cut):
                time.sleep(0.001)
                os.write(w, stream[cut:])
                os.close(w)

            writer = threading.Thread(target=rest)
            writer.start()
            got = [protocol.read_frame(reader) for _ in FRAMES]
            assert protocol.read_frame(reader) == (None, b"")
            writer.join()
        finally:
            os.close(r)
        assert got == [(h, p) for h, p in FRAMES], cut


def test_silence_in_the_middle_of_a_frame_is_a_timeout():
    r, w = os.pipe()
    try:
        os.write(w, protocol.encode_frame({"op": "a"}, b"x" * 100)[:10])
        reader = Reader(r, timeout=0.3)
        t = time.perf_counter()
        with pytest.raises(TimeoutError):
            protocol.read_frame(reader)
        assert 0.25 < time.perf_counter() - t < 5
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are Linux's")
def test_a_batch_is_handed_over_without_waiting_for_the_far_side(tmp_path):
    """The pipes to the far side hold PIPE_SIZE (a default pipe holds 64 KiB): a batch of
    frames (Client.SEND_BATCH) goes in whole while the far side is busy elsewhere, and what
    the far side sends waits in the pipe rather than stopping it."""
    from sync.client import Client

    assert PIPE_SIZE >= 2 * Client.SEND_BATCH
    go = tmp_path / "go"
    # the far side: writes 512 KiB at once; reads nothing until the test has written its
    # batch (a pause of 3 s was a bet on the load), then everything
    far = ("import os, sys, time; os.write(1, b'y' * (512 << 10)); sys.stderr.write('wrote\\n'); "
           f"sys.stderr.flush()\nwhile not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
           "print(len(sys.stdin.buffer.read()), file=sys.stderr)")
    process = Process([sys.executable, "-c", far], 1.0, "cannot run python")
    try:
        deadline = time.time() + 60
        while b"wrote" not in _stderr(process) and time.time() < deadline:
            time.sleep(0.05)
        assert b"wrote" in _stderr(process)  # all 512 KiB in the pipe, nobody reading yet
        # a TimeoutError after 1 s if it had to wait: the far side reads nothing yet
        process.writer.write(b"x" * (512 << 10))
        go.touch()
        got = 0
        while got < 512 << 10:
            got += len(process.reader.read(1 << 20))
        process.proc.stdin.close()
        assert process.proc.wait(timeout=30) == 0
        assert _stderr(process).split()[-1] == str(512 << 10).encode()
    finally:
        process.close(wait=False)


def _stderr(process):
    process.stderr.seek(0)
    return process.stderr.read()
