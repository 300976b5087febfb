"""A large push over a second data stream (sync/datastream.py), over each transport with
the real far processes: the result is one stream's, either stream killed mid-way leaves valid
state that the next sync completes, a failed write on the second names its file and keeps the
first's work, and a far side without the helper gets one stream."""

import os
import sys

import pytest

import suite
from sync.client import Client
from sync.datastream import DataStream
from sync.engine import Sync
from sync.replica import Replica, SyncError

JOBS, SIZE = 8, 256 << 10


@pytest.fixture
def two_streams(monkeypatch):
    """A push of 1 MiB of new files opens the second stream, and the sync waits for it to be
    open before it writes (else which stream carries what is a race); the files each stream
    carried, by name (``job/rel``), as ``sent["second"]`` and ``sent["first"]``."""
    monkeypatch.setattr(Sync, "SECOND_STREAM_MIN", 1 << 20)
    start = Client.start_second

    def start_and_wait(self):
        start(self)
        self._second.wait()

    monkeypatch.setattr(Client, "start_second", start_and_wait)
    sent = {"first": [], "second": []}
    for name in ("write", "write_stream"):  # DataStream's are Client's
        real = getattr(Client, name)

        def spy(self, job_id, rel, *args, real=real):
            sent["second" if isinstance(self, DataStream) else "first"].append(
                f"{job_id}/{rel}")
            return real(self, job_id, rel, *args)
        monkeypatch.setattr(Client, name, spy)
    return sent


def _project_with_jobs(path):
    project = suite.init_project(path)
    for i in range(JOBS):
        job = project.open_job({"i": i}).init()
        job.doc.step = 0
    return project


def _add_files(project, streamed=0):
    """A new random file in each job (``streamed`` of them past the stream limit) and a new
    document key; {job/rel: bytes}."""
    added = {}
    for k, job in enumerate(sorted(project, key=lambda j: j.id)):
        data = os.urandom(SIZE * 3 if k < streamed else SIZE)
        with open(job.fn("new.bin"), "wb") as f:
            f.write(data)
        os.utime(job.fn("new.bin"), ns=(10**18 + k, 10**18 + k))
        job.doc.step = 1
        added[f"{job.id}/new.bin"] = data
    return added


def _tree(project):
    """{job/rel: (bytes, mtime_ns)} of a project's workspace (temporary files included; the
    mtime of copied files only: a state point's and a document's are their writing's)."""
    out = {}
    for job_id in sorted(os.listdir(project.workspace)):
        root = os.path.join(project.workspace, job_id)
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[f"{job_id}/{name}"] = (f.read(), None if name.startswith("signac_")
                                           else os.stat(path).st_mtime_ns)
    return out


def _wrapper(tmp_path, name, body):
    """A ``--remote-suite`` script: ``body`` (Python, with ``args`` and ``data``: whether it
    is the second stream's server) runs first, then the real server."""
    script = tmp_path / name
    script.write_text(f"#!{sys.executable}\nimport os, sys\nargs = sys.argv[1:]\n"
                      f"data = '--data' in args\n{body}\n"
                      f"os.execv({sys.executable!r}, [{sys.executable!r}, '-m', 'suite', *args])\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def pushed(transport, tmp_path):
    """This side and a far side with the same jobs, synced; then a new file in each here."""
    lap = _project_with_jobs(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    assert transport.sync(lap, clu.path).exit_status == 0
    return lap, clu


def test_a_large_push_goes_over_two_streams_as_over_one(transport, tmp_path, two_streams,
                                                        monkeypatch):
    from sync import replica

    monkeypatch.setattr(replica, "STREAM_MIN", 512 << 10)  # 2 of the files in chunks
    monkeypatch.setattr(replica, "CHUNK", 100 << 10)
    lap = _project_with_jobs(tmp_path / "laptop")
    far = [suite.init_project(tmp_path / f"cluster{k}") for k in (1, 2)]
    for clu in far:
        assert transport.sync(lap, clu.path).exit_status == 0
    added = _add_files(lap, streamed=2)
    result = transport.sync(lap, far[0].path)
    assert result.exit_status == 0, result.format()
    assert two_streams["second"] and two_streams["first"]
    assert sorted(two_streams["second"] + two_streams["first"]) == sorted(added)
    monkeypatch.setattr(Sync, "SECOND_STREAM_MIN", 1 << 40)  # the same push, one stream
    two_streams["second"].clear()
    result = transport.sync(lap, far[1].path)
    assert result.exit_status == 0, result.format()
    assert not two_streams["second"]
    assert _tree(far[0]) == _tree(far[1]) == _tree(lap)
    here = Replica(str(lap.path))
    records = [here.load_record(Replica(str(clu.path)).identity())["jobs"] for clu in far]
    assert records[0] == records[1]
    for clu in far:  # both records say all is synced: nothing to do
        assert not transport.sync(lap, clu.path).actions


def test_a_far_side_without_the_helper_gets_one_stream(transport, pushed, tmp_path,
                                                       two_streams):
    lap, clu = pushed
    older = _wrapper(tmp_path, "older-suite", "if data:\n"
                     "    sys.stderr.write('Error: No such option: --data\\n')\n"
                     "    sys.exit(2)")
    added = _add_files(lap)
    result = transport.sync(lap, clu.path, remote_suite=older)
    assert result.exit_status == 0, result.format()
    assert not two_streams["second"] and sorted(two_streams["first"]) == sorted(added)
    assert _tree(clu) == _tree(lap)
    assert not transport.sync(lap, clu.path, remote_suite=older).actions


def test_a_failed_write_on_the_second_stream_names_its_file_and_keeps_the_first(
        transport, pushed, tmp_path, two_streams):
    lap, clu = pushed
    # the second stream's server may write no file past 128 KiB (EFBIG: Python ignores
    # SIGXFSZ): each of its writes fails there
    small = _wrapper(tmp_path, "small-suite", "if data:\n    import resource\n"
                     "    resource.setrlimit(resource.RLIMIT_FSIZE, (128 << 10, 128 << 10))")
    added = _add_files(lap)
    with pytest.raises(SyncError, match=r"over the second data stream") as failed:
        transport.sync(lap, clu.path, remote_suite=small)
    assert "File too large" in str(failed.value)
    assert any(f"writing {name} " in str(failed.value) for name in two_streams["second"])
    first, second = set(two_streams["first"]), set(two_streams["second"])
    assert first and second
    there = _tree(clu)
    for name in first:  # the first stream's work is there, whole
        assert there[name][0] == added[name]
    assert not any(name in there for name in second)
    assert not [n for n in there if "suite-tmp" in n]
    two_streams["first"].clear()
    two_streams["second"].clear()
    result = transport.sync(lap, clu.path)  # sends what the second did not write, only
    assert result.exit_status == 0, result.format()
    assert sorted(two_streams["first"] + two_streams["second"]) == sorted(second)
    assert _tree(clu) == _tree(lap)
    assert not transport.sync(lap, clu.path).actions


@pytest.mark.parametrize("stream", ["first", "second"])
def test_a_push_killed_on_either_stream_leaves_valid_state(transport, pushed, tmp_path,
                                                           two_streams, stream):
    """The far server of one stream is killed (SIGKILL) after it has read some of the files
    sent to it; the far project stays valid, and the next sync completes."""
    lap, clu = pushed
    killed = _wrapper(tmp_path, "killed-suite", f"""if data == {stream == 'second'}:
    import signal, subprocess
    child = subprocess.Popen([sys.executable, '-m', 'suite', *args], stdin=subprocess.PIPE)
    left = {400 << 10}
    while left > 0:
        chunk = os.read(0, min(left, 65536))
        if not chunk:
            break
        child.stdin.write(chunk)
        child.stdin.flush()
        left -= len(chunk)
    child.send_signal(signal.SIGKILL)
    child.wait()
    sys.exit(137)""")
    added = _add_files(lap)
    with pytest.raises(SyncError):
        transport.sync(lap, clu.path, remote_suite=killed)
    there = _tree(clu)
    for name, (data, _) in there.items():  # no file half written in place
        if name in added:
            assert data == added[name]
    assert len(suite.get_project(str(clu.path))) == JOBS
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    after = _tree(clu)
    assert {k: v for k, v in after.items() if "suite-tmp" not in k} == _tree(lap)
    assert not transport.sync(lap, clu.path).actions
