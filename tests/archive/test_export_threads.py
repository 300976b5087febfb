"""Export with its threads (the native walk ahead in a worker thread, compression in a thread of
its own) writes the same archive, byte for byte, as the serial export and as the pure-Python
one, and fails the same way, leaving no archive and no thread behind."""

import hashlib
import json
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archive
from archive import sink, tarformat
from suite import layout, native
from tests.archive.test_native_tar import ENTRY, make_tree, need

tarpack = native.load("archive._tarpack")

# more jobs than tarformat.AHEAD_MIN, so the worker thread walks them
N = 90


def threads():
    """The threads of this process (Linux), or None."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def back_to(before):
    """Whether the threads are no more than ``before`` again (None: not known here). A
    joined Python thread can still be leaving the kernel's list for a moment (the rest of
    its exit, which a loaded machine may put off), so look until a generous deadline."""
    if before is None:
        return True
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if threads() <= before:
            return True
        time.sleep(0.01)
    return False


# ---- the C iterator against pack_tree, job by job ----

JOB = st.one_of(
    st.tuples(st.just("tree"), st.lists(ENTRY, max_size=6)),
    st.tuples(st.sampled_from(["missing", "no state point", "link", "prefix not UTF-8",
                               "big file", "mid files"]), st.just([])),
)


def make_job(root, kind, entries):
    """A job directory at ``root`` of the given kind; its prefix in the archive."""
    prefix = os.path.basename(root)
    if kind == "missing":
        return prefix
    os.makedirs(root)
    with open(os.path.join(root, layout.STATEPOINT), "w") as f:
        f.write('{"a": 1}')
    if kind == "tree":
        make_tree(root, entries)
    elif kind == "no state point":
        os.unlink(os.path.join(root, layout.STATEPOINT))
    elif kind == "link":
        os.symlink(layout.STATEPOINT, os.path.join(root, "link"))
    elif kind == "prefix not UTF-8":
        prefix += "-\udcff"
    elif kind == "big file":
        with open(os.path.join(root, "big"), "wb") as f:
            f.write(b"b" * ((1 << 20) + 1))
    elif kind == "mid files":  # hashed by hashlib where the CPU has no SHA-NI
        for i in range(3):
            with open(os.path.join(root, f"m{i}"), "wb") as f:
                f.write(os.urandom(2048 + i * 3000))
    return prefix


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(jobs=st.lists(JOB, max_size=12), ahead=st.sampled_from([1, 2, 3, 64]),
       defer=st.booleans())
def test_pack_trees_gives_what_pack_tree_gives(tmp_path_factory, jobs, ahead, defer):
    mod = need()
    tmp = tmp_path_factory.mktemp("trees")
    roots, prefixes = [], []
    for k, (kind, entries) in enumerate(jobs):
        root = str(tmp / f"job{k}")
        roots.append(root)
        prefixes.append(make_job(root, kind, entries))
    mod._defer_hashes(defer)
    try:
        serial = [mod.pack_tree(r, p, layout.TMP_PREFIX, layout.STATEPOINT)
                  for r, p in zip(roots, prefixes, strict=True)]
        for way in (0, ahead):
            got = list(mod.pack_trees(roots, prefixes, layout.TMP_PREFIX, layout.STATEPOINT,
                                      way))
            assert got == serial
    finally:
        mod._defer_hashes(False)
    for (kind, _), packed in zip(jobs, serial, strict=True):  # the declined ones: None
        assert (packed is None) == (kind not in ("tree", "mid files"))


def test_pack_trees_hashes_as_hashlib_with_and_without_sha_ni(tmp_path):
    mod = need()
    root = tmp_path / "job"
    root.mkdir()
    (root / layout.STATEPOINT).write_bytes(b"{}")
    data = {f"f{size}": os.urandom(size) for size in (0, 100, 2047, 2048, 5000, 1 << 20)}
    for name, content in data.items():
        (root / name).write_bytes(content)
    data[layout.STATEPOINT] = b"{}"
    expected = {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                for n, d in sorted(data.items())}
    for defer in (False, True):
        mod._defer_hashes(defer)
        try:
            [packed] = mod.pack_trees([str(root)], ["job"], layout.TMP_PREFIX,
                                      layout.STATEPOINT, 4)
        finally:
            mod._defer_hashes(False)
        assert json.loads(packed[1]) == expected


def test_pack_trees_refuses_arguments_as_pack_tree_does(tmp_path):
    mod = need()
    args = (layout.TMP_PREFIX, layout.STATEPOINT)
    with pytest.raises(ValueError):
        mod.pack_trees(["a", "b"], ["a"], *args)
    with pytest.raises(ValueError):
        mod.pack_trees(["a"], ["a"], *args, -1)
    with pytest.raises(TypeError):
        mod.pack_trees(["a"], [b"a"], *args)
    for bad in (5, "a\x00b"):
        with pytest.raises(type(_raised(mod.pack_tree, bad, "a", *args))):
            mod.pack_trees([bad], ["a"], *args)
    with pytest.raises(TypeError):
        mod.pack_trees(5, ["a"], *args)
    assert list(mod.pack_trees([], [], *args, 8)) == []


def _raised(fn, *args):
    try:
        fn(*args)
    except Exception as exc:  # the comparison is the point: any type must agree
        return exc
    raise AssertionError("no exception")


def test_pack_trees_stops_its_worker_when_closed_or_dropped(tmp_path):
    mod = need()
    roots = []
    for k in range(200):
        root = tmp_path / f"j{k}"
        root.mkdir()
        (root / layout.STATEPOINT).write_bytes(b"{}")
        roots.append(str(root))
    names = [os.path.basename(r) for r in roots]
    before = threads()
    it = mod.pack_trees(roots, names, layout.TMP_PREFIX, layout.STATEPOINT, 4)
    assert next(it)[2] == 1
    if before is not None:
        assert threads() == before + 1  # the worker
    it.close()
    assert list(it) == []
    assert back_to(before)
    it = mod.pack_trees(roots, names, layout.TMP_PREFIX, layout.STATEPOINT, 4)
    next(it)
    del it  # waiting for room: the dealloc wakes and joins it
    assert back_to(before)


# ---- whole exports: threaded, serial and pure Python write the same bytes ----

@pytest.fixture
def many(project):
    """N jobs: most plain, some the native walk declines (links, a file over 1 MiB), some
    with files large enough that the writer flushes between and inside native jobs."""
    for i in range(N):
        job = project.open_job({"i": i, "tag": "x" * (i % 3)}).init()
        job.doc["i"] = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"{i}\n" * (i % 50))
        if i % 17 == 3:
            os.symlink("out.txt", job.fn("latest"))
        if i % 23 == 5:
            os.makedirs(job.fn("sub/empty"))
            with open(job.fn("sub/mid.bin"), "wb") as f:
                f.write(os.urandom(600_000))
        if i == 44:
            with open(job.fn("big.bin"), "wb") as f:
                f.write(os.urandom((1 << 20) + 100))
    return project


WAYS = ("threads", "serial", "pure")


def export_by(way, project, target, monkeypatch, **kwargs):
    """``archive.export_jobs`` with its threads, without them, or by the pure-Python walk;
    returns (result, the most threads seen during the export)."""
    with monkeypatch.context() as m:
        if way == "serial":
            m.setattr(native, "two_cores", lambda: False)
        if way == "pure":
            m.setattr(tarformat, "_tarpack", None)
        seen = []
        progress = kwargs.pop("progress", None)

        def watch(done, total, nbytes):
            seen.append(threads() or 0)
            if progress is not None:
                progress(done, total, nbytes)

        result = archive.export_jobs(project, target, progress=watch, **kwargs)
        return result, max(seen)


@pytest.mark.parametrize("ending", [".tar", ".tar.zst", ".tar.gz"])
def test_threaded_export_writes_the_bytes_of_the_serial_one(many, tmp_path, monkeypatch,
                                                            ending):
    if tarpack is None or not native.two_cores():
        pytest.skip("the threaded export needs archive._tarpack and two cores")
    before = threads()
    out, most = {}, {}
    for way in WAYS:  # the same name: gzip's header holds the (temporary) file's name
        target = tmp_path / way / f"x{ending}"
        result, most[way] = export_by(way, many, target, monkeypatch)
        out[way] = (target.read_bytes(), {k: v for k, v in result.to_json().items()
                                          if k != "target"})
        assert back_to(before)  # every thread ended with the export
    if before is not None:
        # the worker ran (it cannot have finished by the first job: it is at most 64 ahead);
        # zstandard's own workers come and go with their compressor, so only a plain tar's
        # counts are compared
        assert most["threads"] > before
        if ending == ".tar":
            assert most["threads"] > most["serial"]
    assert out["threads"] == out["serial"] == out["pure"]
    assert out["threads"][1]["jobs"] == N and len(out["threads"][1]["skipped"]) == 0
    assert archive.verify(tmp_path / "threads" / f"x{ending}").jobs == N


@pytest.mark.parametrize("way", WAYS)
def test_threaded_export_fails_as_the_serial_one_and_leaves_nothing(many, tmp_path,
                                                                    monkeypatch, way):
    """A job the walker reaches with its state point file gone: the same ArchiveError
    naming the job and what to do, whichever way, no archive, no thread left."""
    jobs = sorted(many, key=lambda j: j.sp["i"])
    broken = jobs[70]
    os.unlink(broken.fn(layout.STATEPOINT))
    before = threads()
    with pytest.raises(archive.ArchiveError) as exc:
        export_by(way, many, tmp_path / "x.tar.zst", monkeypatch, jobs=jobs)
    assert str(exc.value) == (f"job {broken.id}: {layout.STATEPOINT} is missing; "
                              "run 'suite check'")
    assert os.listdir(tmp_path) == ["project"]
    assert back_to(before)


@pytest.mark.parametrize("way", WAYS)
def test_interrupted_threaded_export_leaves_nothing(many, tmp_path, monkeypatch, way):
    def interrupt(done, total, nbytes):  # Ctrl-C with the walker ahead of the loop
        if done == 60:
            raise KeyboardInterrupt

    before = threads()
    with pytest.raises(KeyboardInterrupt):
        export_by(way, many, tmp_path / "k.tar.zst", monkeypatch, progress=interrupt)
    assert os.listdir(tmp_path) == ["project"]
    assert back_to(before)


# ---- the compression thread ----

def test_sink_writes_in_order_and_closes(tmp_path):
    import zstandard

    path = tmp_path / "out.zst"
    raw = open(path, "wb")
    out = sink.ThreadedSink(zstandard.ZstdCompressor().stream_writer(raw, closefd=False),
                            depth=2)
    chunks = [os.urandom(100) * k for k in range(1, 60)]
    for chunk in chunks:
        out.write(chunk)
    out.close()
    raw.close()
    with open(path, "rb") as f:
        assert zstandard.ZstdDecompressor().stream_reader(f).read() == b"".join(chunks)


def test_sink_raises_the_writers_error_in_the_writing_thread(tmp_path):
    """A full disk (/dev/full) in the compression thread: the next write or the close raises
    the same OSError; abort stops the thread."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    before = threads()
    full = open("/dev/full", "wb", buffering=0)
    out = sink.ThreadedSink(full, depth=2)
    out.write(b"x" * 10)
    with pytest.raises(OSError) as exc:
        for _ in range(100):  # the error arrives once the thread has written
            out.write(b"x" * 10)
        out.close()
    assert exc.value.errno == 28  # ENOSPC
    out.abort()
    full.close()
    assert back_to(before)


def test_failed_compressed_export_leaves_no_archive(many, tmp_path, monkeypatch):
    """An error of the compression thread ends the export like any other: no archive."""
    if not native.two_cores():
        pytest.skip("the compression thread needs two cores")

    class Failing:
        def __init__(self, out):
            self._out = out

        def write(self, data):
            raise OSError(28, "No space left on device")

        def close(self):
            self._out.close()

    real = sink.ThreadedSink.__init__

    def init(self, out, depth=sink.DEPTH):
        real(self, Failing(out), depth)

    monkeypatch.setattr(sink.ThreadedSink, "__init__", init)
    before = threads()
    with pytest.raises(OSError) as exc:
        archive.export_jobs(many, tmp_path / "x.tar.zst")
    assert exc.value.errno == 28
    assert os.listdir(tmp_path) == ["project"]
    assert back_to(before)


def test_pure_python_export_needs_no_native_module(many, tmp_path, monkeypatch):
    monkeypatch.setenv("SUITE_PURE_PYTHON", "1")
    assert native.load("archive._tarpack") is None
    result = archive.export_jobs(many, tmp_path / "p.tar.zst")
    assert result.jobs == N and archive.verify(tmp_path / "p.tar.zst").jobs == N


def test_small_export_starts_no_thread(project, tmp_path):
    job = project.open_job({"a": 1}).init()
    with open(job.fn("x"), "w") as f:
        f.write("x")
    before = threads()
    seen = []
    archive.export_jobs(project, tmp_path / "s.tar.zst",
                        progress=lambda *a: seen.append(threads()))
    if before is not None:
        assert seen == [before]

