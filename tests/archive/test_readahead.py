"""Decompression read ahead in a thread (archive.readahead.ReadAhead): the same bytes in the
same order as the stream itself, the stream's own error raised after exactly the bytes before
it, a stopped reader's thread gone; and a damaged .tar.zst still refused by import."""

import threading

import pytest
import zstandard
from hypothesis import example, given, settings
from hypothesis import strategies as st

import archive
import suite
from archive import ArchiveError
from archive.readahead import ReadAhead


class Source:
    """A stream handing out ``data`` in pieces of the given sizes, raising ``error`` once
    ``fail_at`` bytes are out."""

    def __init__(self, data, pieces, fail_at=None, error=None):
        self.data, self.pieces, self.pos = data, list(pieces) or [7], 0
        self.fail_at, self.error, self.calls = fail_at, error, 0

    def read(self, n):
        if self.fail_at is not None and self.pos >= self.fail_at:
            raise self.error
        size = min(n, self.pieces[self.calls % len(self.pieces)])
        self.calls += 1
        end = self.pos + size
        if self.fail_at is not None:
            end = min(end, self.fail_at)
        out, self.pos = self.data[self.pos:end], end
        return out


def drain(reader, sizes):
    """What ``read(n)`` gives over ``sizes`` (cycled) until the end: the bytes, and the
    exception that ended them (None at b"")."""
    got, i = [], 0
    while True:
        n = sizes[i % len(sizes)]
        i += 1
        try:
            chunk = reader.read(n)
        except ValueError as exc:
            return b"".join(got), exc
        assert len(chunk) <= n or n < 0
        if not chunk and n != 0:
            return b"".join(got), None
        got.append(chunk)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=3000), pieces=st.lists(st.integers(1, 700), max_size=4),
       sizes=st.lists(st.integers(0, 40) | st.integers(1, 1500), min_size=1, max_size=5)
       .filter(lambda s: any(s)),
       chunk=st.sampled_from([1, 100, 512, 4096]), depth=st.integers(1, 3),
       fail=st.none() | st.integers(0, 3000))
@example(data=bytes(range(256)) * 4, pieces=[700], sizes=[10], chunk=4096, depth=2, fail=None)
@example(data=bytes(range(256)) * 4, pieces=[300], sizes=[7, 0, 500], chunk=512, depth=1,
         fail=900)
def test_read_ahead_gives_the_streams_bytes_and_its_error(data, pieces, sizes, chunk, depth,
                                                          fail):
    error = ValueError("damaged") if fail is not None else None
    fail_at = min(fail, len(data)) if fail is not None else None
    want = (data[:fail_at] if fail is not None else data, error)
    with ReadAhead(Source(data, pieces, fail_at, error), chunk, depth) as ahead:
        got = drain(ahead, sizes)
    assert got[0] == want[0]
    assert got[1] is want[1]


def test_read_all_and_zero():
    with ReadAhead(Source(b"abcdef" * 100, [5]), 64, 2) as ahead:
        assert ahead.read(0) == b""
        assert ahead.read(3) == b"abc"
        assert ahead.read(-1) == (b"abcdef" * 100)[3:]
        assert ahead.read(10) == b""


def test_close_stops_the_thread_while_the_queue_is_full():
    before = threading.active_count()
    ahead = ReadAhead(Source(b"x" * 100000, [10]), 10, 2)
    assert ahead.read(5) == b"xxxxx"
    ahead.close()  # the thread waits on a full queue: it must stop, not hang
    assert threading.active_count() == before


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.95])
def test_import_of_a_cut_or_damaged_tar_zst_is_refused_and_leaves_no_job(tmp_path, cut):
    p = suite.init_project(tmp_path / "p")
    for i in range(40):
        p.open_job({"i": i}).init().doc["x"] = "y" * 500
    target = tmp_path / "a.tar.zst"
    archive.export_jobs(p, target)
    data = bytearray(target.read_bytes())
    for name, body in (("cut.tar.zst", data[:int(len(data) * cut)]),
                       ("flip.tar.zst", data[:int(len(data) * cut)] + bytes(64)
                        + data[int(len(data) * cut) + 64:])):
        bad = tmp_path / name
        bad.write_bytes(bytes(body))
        q = suite.init_project(tmp_path / f"q-{name}")
        with pytest.raises(ArchiveError):
            archive.import_jobs(q, bad)
        assert len(q) == 0
    assert zstandard.__version__  # the format under test is the zstandard one
