"""A sync that lists both sides whole (a first sync, --checksum, --exclude) goes a range of
job ids at a time where there are many jobs (sync.ranges, Sync.RANGE_JOBS; lowered here so
a few dozen jobs span several ranges): what it does and the records it leaves must be what
the whole listing does and leaves on the same input, over each transport (tests/sync/
conftest.py) and in process; a far side without the range operation is listed whole; a sync
killed between ranges leaves a valid record and a rerun completes; its peak memory is a
range's listings, not the whole's."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import suite
import sync
from suite import layout
from sync.engine import Sync
from tests.sync.trees import workspace_tree

JOBS, NEW = 40, 8
MTIME = 10**18  # far from this clock's tick


def _write(job, name, text, mtime_ns=MTIME):
    with open(job.fn(name), "w") as f:
        f.write(text)
    os.utime(job.fn(name), ns=(mtime_ns, mtime_ns))


def _input(root):
    """Two projects never synced: equal jobs, new jobs on each side, a file that differs
    (a conflict without a record), one equal in content with another mtime (hashed), a
    document conflict, a document key on one side, an unreadable document, excluded logs."""
    lap = suite.init_project(root / "laptop")
    clu = suite.init_project(root / "cluster")
    for i in range(JOBS):
        for project in (lap, clu):
            job = project.open_job({"i": i}).init()
            job.doc.step = i
            _write(job, "out.txt", f"result {i}")
            _write(job, "run.log", f"log {i}")
    for i in range(JOBS, JOBS + NEW):
        job = lap.open_job({"i": i}).init()
        job.doc.step = i
        _write(job, "out.txt", f"new here {i}")
        job = clu.open_job({"j": i}).init()
        job.doc.step = i
        _write(job, "out.txt", f"new there {i}")
    _write(clu.open_job({"i": 3}), "out.txt", "RESULT 3 changed")
    _write(clu.open_job({"i": 5}), "out.txt", "result 5", MTIME + 7)
    _write(clu.open_job({"i": 6}), "run.log", "another log 6")
    clu.open_job({"i": 7}).doc.step = 70
    clu.open_job({"i": 9}).doc.extra = [1, 2]
    _write(lap.open_job({"i": 11}), "extra.txt", "only here")
    with open(lap.open_job({"i": 13}).fn(layout.DOCUMENT), "w") as f:
        f.write("{not json")
    return lap, clu


def _copy(root, to):
    shutil.copytree(root, to, symlinks=True)
    return suite.get_project(to / "laptop"), suite.get_project(to / "cluster")


def _records(project):
    where = os.path.join(project.path, layout.SUITE_DIR, "sync")
    if not os.path.isdir(where):
        return {}
    out = {}
    for name in sorted(os.listdir(where)):
        if name.endswith(".json"):
            with open(os.path.join(where, name), "rb") as f:
                out[name] = f.read()
    return sorted(out.values())  # (named by the peer's identity: each copy has its own)


def _result(result, root):
    """The result, each list sorted (a range at a time reports in range order), the
    projects' directory left out of reasons."""
    out = {}
    for key, items in result.to_json().items():
        if isinstance(items, list):
            out[key] = sorted(json.dumps(item, sort_keys=True).replace(str(root), "ROOT")
                              for item in items)
        else:
            out[key] = items
    return out


@pytest.fixture
def ranged(monkeypatch):
    """Whether each sync went in ranges (True) or listed whole (False)."""
    seen, real = [], Sync._sync_in_ranges

    def spy(self, *args):
        went = real(self, *args)
        seen.append(went)
        return went

    monkeypatch.setattr(Sync, "_sync_in_ranges", spy)
    return seen


def _both_ways(tmp_path, monkeypatch, ranged, run, options):
    """Run ``run(lap, clu, **options)`` on two copies of one input: in ranges of 7 jobs
    and whole; assert they did and left the same."""
    source = tmp_path / "input"
    _input(source)
    outcome = {}
    for way, per_range in (("ranges", 7), ("whole", 10**9)):
        monkeypatch.setattr(Sync, "RANGE_JOBS", per_range)
        lap, clu = _copy(source, tmp_path / way)
        ranged.clear()
        result = run(lap, clu.path, **options)
        assert ranged == [way == "ranges"], (way, ranged)
        outcome[way] = (_result(result, tmp_path / way), workspace_tree(lap), workspace_tree(clu),
                        _records(lap), _records(clu), result.exit_status)
    ranges, whole = outcome["ranges"], outcome["whole"]
    for a, b in zip(ranges, whole, strict=True):
        assert a == b
    return outcome["ranges"]


OPTIONS = {
    "plain": {},
    "ids": {"ids": "some"},
    "exclude": {"exclude": ["*.log"]},
    "dry run": {"dry_run": True},
    "checksum": {"checksum": True},
}


def _options(name, tmp_path):
    options = dict(OPTIONS[name])
    if options.get("ids") == "some":  # every third job of each side, by id
        source = _input(tmp_path / "ids-of")
        ids = sorted({j.id for p in source for j in p})
        options["ids"] = ids[::3]
    return options


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_first_sync_in_ranges_does_what_the_whole_listing_does(transport, tmp_path,
                                                                 monkeypatch, ranged, name):
    result, lap_tree, clu_tree, lap_records, clu_records, status = _both_ways(
        tmp_path, monkeypatch, ranged, transport.sync, _options(name, tmp_path))
    flat = json.dumps(result)
    if name == "plain":
        assert status == 3  # the conflicts
        assert "copy job" in flat and "merge doc" in flat
        assert result["conflicts"] and result["unreadable"]
        assert lap_records and lap_records == clu_records
    if name == "dry run":
        assert not lap_records and not clu_records


def test_a_first_sync_in_ranges_in_process(tmp_path, monkeypatch, ranged):
    """Both projects on this machine (no far process): the same."""
    _, lap_tree, clu_tree, lap_records, _, _ = _both_ways(
        tmp_path, monkeypatch, ranged, lambda lap, path, **o: sync.sync(lap, str(path), **o),
        {})
    assert lap_records
    assert {k for k in lap_tree if not k.endswith(("run.log", "extra.txt"))} <= set(clu_tree)


def test_a_far_side_without_the_range_operation_is_listed_whole(transport, tmp_path,
                                                                monkeypatch, ranged):
    """A far suite of before the operation (its server does not know it: it answers an
    error) is listed whole, as before, and the sync is the same."""
    older = tmp_path / "older-suite"
    older.write_text(f"#!{sys.executable}\nimport sync.ops\n"
                     "del sync.ops.OPS['snapshot_range']\n"
                     "from suite.cli import console\nconsole()\n")
    older.chmod(0o755)
    monkeypatch.setattr(Sync, "RANGE_JOBS", 7)
    lap, clu = _input(tmp_path / "pair")
    result = transport.sync(lap, clu.path, remote_suite=str(older))
    assert ranged == [False]
    assert result.exit_status == 3, result.format()
    assert "copy job" in result.format()
    ranged.clear()
    again = transport.sync(lap, clu.path, remote_suite=str(older))
    assert not [a for a in again.actions if a["action"] == "copy job"], again.format()


KILLED = """
import os, signal, sys
import suite, sync
from sync.engine import Sync
Sync.RANGE_JOBS = 7
real = Sync._decide
def decide(self, ids, *args):
    done = real(self, ids, *args)
    if done >= {after}:  # a few ranges in: killed as a power cut would
        self._save(args[2], args[3], args[4])
        os.kill(os.getpid(), signal.SIGKILL)
    return done
Sync._decide = decide
sync.sync(suite.get_project(sys.argv[1]), sys.argv[2], ssh="local",
          remote_suite=sys.executable + " -m suite")
"""


def test_a_first_sync_killed_between_ranges_leaves_a_record_and_completes(tmp_path,
                                                                          monkeypatch, ranged):
    """SIGKILL between two ranges (after the record was saved there): the record is valid
    and holds the ranges done, marked as not the far side's; a rerun goes in ranges too (the
    far side holds no record of this side) and completes what is left, as an uninterrupted
    sync; the mark goes with the far side's save."""
    source = tmp_path / "input"
    _input(source)
    lap, clu = _copy(source, tmp_path / "killed")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", KILLED.format(after=20), str(lap.path),
                           str(clu.path)], env=env, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    [raw] = _records(lap)
    record = json.loads(raw)
    assert 0 < len(record["jobs"]) < JOBS + 2 * NEW
    assert _unsent(lap) and not _unsent(clu) and not _records(clu)
    time.sleep(0.01)
    monkeypatch.setattr(Sync, "RANGE_JOBS", 7)
    rerun = sync.sync(lap, str(clu.path), ssh="local",
                      remote_suite=f"{sys.executable} -m suite")
    assert rerun.exit_status == 3, rerun.format()
    assert ranged == [True]
    assert not _unsent(lap) and not _unsent(clu)
    whole_lap, whole_clu = _copy(source, tmp_path / "whole")
    sync.sync(whole_lap, str(whole_clu.path), ssh="local",
              remote_suite=f"{sys.executable} -m suite")
    assert workspace_tree(lap) == workspace_tree(whole_lap) and workspace_tree(clu) == workspace_tree(whole_clu)
    assert _records(lap) == _records(whole_lap)
    assert sync.sync(lap, str(clu.path)).actions == []


def _unsent(project):
    """The marks of records saved here the far side may not hold (sync.replica)."""
    where = os.path.join(project.path, layout.SUITE_DIR, "sync")
    return sorted(n for n in os.listdir(where) if n.endswith(".unsent")) \
        if os.path.isdir(where) else []


class _Stopped(Exception):
    pass


def test_a_sync_stopped_before_the_far_save_goes_in_ranges_next(tmp_path, monkeypatch,
                                                                 ranged):
    """A sync stopped after its final save here, before the far side saved (the far side
    holds another record, here none): the next sync lists both sides in ranges, not the far
    side whole, and ends as an uninterrupted sync; a far save refused leaves the mark."""
    source = tmp_path / "input"
    _input(source)
    lap, clu = _copy(source, tmp_path / "stopped")
    monkeypatch.setattr(Sync, "RANGE_JOBS", 7)
    real = Sync._save_far

    def stop(self, *args):
        raise _Stopped

    monkeypatch.setattr(Sync, "_save_far", stop)
    with pytest.raises(_Stopped):
        sync.sync(lap, str(clu.path), ssh="local", remote_suite=f"{sys.executable} -m suite")
    assert _records(lap) and not _records(clu) and _unsent(lap)
    monkeypatch.setattr(Sync, "_save_far", real)
    ranged.clear()
    rerun = sync.sync(lap, str(clu.path), ssh="local",
                      remote_suite=f"{sys.executable} -m suite")
    assert ranged == [True], rerun.format()
    assert not _unsent(lap) and _records(lap) == _records(clu)
    whole_lap, whole_clu = _copy(source, tmp_path / "whole")
    sync.sync(whole_lap, str(whole_clu.path), ssh="local",
              remote_suite=f"{sys.executable} -m suite")
    assert workspace_tree(lap) == workspace_tree(whole_lap) and workspace_tree(clu) == workspace_tree(whole_clu)
    assert _records(lap) == _records(whole_lap)
    ranged.clear()
    steady = sync.sync(lap, str(clu.path), ssh="local", remote_suite=f"{sys.executable} -m suite")
    assert ranged == [] and steady.actions == []  # the far side holds this side's record


def _equal_jobs(tmp_path):
    """1,500 jobs of a few files each, indexed (as a user's project has it), to copy."""
    lap = suite.init_project(tmp_path / "laptop")
    for i in range(1500):
        job = lap.open_job({"i": i, "pad": "x" * 40}).init()
        job.doc.update({"step": i, "note": "y" * 40})
        _write(job, "out.txt", f"result {i}")
    list(lap)
    return lap


def _pair(lap, tmp_path, name):
    """Two copies of ``lap``, never synced: the project here and the far one's path."""
    shutil.copytree(lap.workspace, tmp_path / name / "workspace", symlinks=True)
    shutil.copytree(os.path.join(lap.path, ".signac"), tmp_path / name / ".signac")
    here = suite.init_project(tmp_path / f"{name}-here")
    shutil.rmtree(here.workspace)
    shutil.copytree(lap.workspace, here.workspace, symlinks=True)
    return here, str(tmp_path / name)


def test_a_resumed_first_sync_holds_a_range(tmp_path, monkeypatch):
    """A first sync of equal copies stopped half-way (its record saved here, none there),
    then run again over a far process: the rerun's peak here is a fraction of a first sync
    listing whole (before, the far side, asked what moved since a record it does not hold,
    listed whole and this side held that listing decoded)."""
    import tracemalloc

    lap = _equal_jobs(tmp_path)
    far = f"{sys.executable} -m suite"

    def traced(run):
        tracemalloc.start()
        try:
            return run(), tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    here, there = _pair(lap, tmp_path, "whole")
    monkeypatch.setattr(Sync, "RANGE_JOBS", 10**9)
    sync.sync(here, there, ssh="local", remote_suite=far, dry_run=True)  # imports, caches
    whole, whole_peak = traced(lambda: sync.sync(here, there, ssh="local", remote_suite=far))

    here, there = _pair(lap, tmp_path, "resumed")
    monkeypatch.setattr(Sync, "RANGE_JOBS", 100)
    real = Sync._decide

    def stop_half_way(self, ids, *args):
        done = real(self, ids, *args)
        if done >= 700:  # saved here, then stopped as a sync killed would be
            self._save(args[2], args[3], args[4])
            raise _Stopped
        return done

    monkeypatch.setattr(Sync, "_decide", stop_half_way)
    with pytest.raises(_Stopped):
        sync.sync(here, there, ssh="local", remote_suite=far)
    monkeypatch.setattr(Sync, "_decide", real)
    resumed, resumed_peak = traced(lambda: sync.sync(here, there, ssh="local", remote_suite=far))
    assert whole.exit_status == resumed.exit_status == 0
    assert whole.actions == resumed.actions == []
    assert _records(here) == _records(suite.get_project(tmp_path / "whole-here"))
    # (1,500 jobs: 0.38 of it here; on base the far listing is whole, decoded here: 0.81)
    assert resumed_peak < whole_peak * 0.55, (resumed_peak, whole_peak)


def test_a_first_sync_in_ranges_holds_a_range(tmp_path, monkeypatch):
    """The peak of a first sync of equal copies (everything hashed, every entry made) in
    ranges is a fraction of the whole listing's (a million jobs: 2.9 GB whole): a range's
    listings and the record's entries as bytes."""
    import tracemalloc

    lap = _equal_jobs(tmp_path)

    def peak(per_range, name):
        here, there = _pair(lap, tmp_path, name)
        monkeypatch.setattr(Sync, "RANGE_JOBS", per_range)
        sync.sync(here, there, dry_run=True)  # imports and caches first
        tracemalloc.start()
        try:
            result = sync.sync(here, there)
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole, whole_peak = peak(10**9, "whole")
    ranges, ranges_peak = peak(100, "ranges")
    assert whole.exit_status == ranges.exit_status == 0
    assert whole.actions == ranges.actions == []
    # (1,500 jobs: 0.39 of it here; on base there are no ranges: the whole listing's peak)
    assert ranges_peak < whole_peak * 0.5, (ranges_peak, whole_peak)


def test_a_record_sent_in_lines_is_checked_without_decoding_it_whole(tmp_path):
    """The far side checks a record sent to it (it must stay JSON any reader takes) a range
    of lines at a time: a valid one is written as it came; a missing comma between lines,
    a comma after the last, a line that is not one job's entry are refused, nothing
    written."""
    import io

    from sync import protocol, record, server

    project = suite.init_project(tmp_path / "cluster")
    jobs = {f"{k:032x}": {"files": {"a": [1, 2, 3]}, "doc": {"k": k}} for k in range(30)}
    raw = record.encode({"project_doc": {}, "jobs": jobs})
    lines = raw.split(b"\n")
    no_comma = b"\n".join([*lines[:5], lines[5].rstrip(b","), *lines[6:]])
    last_comma = b"\n".join([*lines[:-3], lines[-3] + b",", *lines[-2:]])
    two_in_one = b"\n".join([*lines[:5], lines[5] + b" " + lines[6], *lines[7:]])
    broken = b"\n".join([*lines[:5], lines[5][:-6] + b",", *lines[6:]])
    assert json.loads(raw)["jobs"] == jobs
    for bad in (no_comma, last_comma, broken):
        with pytest.raises(ValueError):
            json.loads(bad)
    # JSON, but not a record in lines: its reader (record.load) would fail on it later
    assert len(json.loads(two_in_one)["jobs"]) == 30
    peer = "a" * 32
    where = os.path.join(project.path, layout.SUITE_DIR, "sync", f"{peer}.json")
    for payload, ok in ((raw, True), (no_comma, False), (last_comma, False),
                        (two_in_one, False), (broken, False)):
        if os.path.exists(where):
            os.unlink(where)
        requests = io.BytesIO(b"".join(protocol.encode_frame(h, p) for h, p in [
            ({"op": "save_record", "args": [peer]}, payload), ({"op": "close"}, b"")]))
        answers = io.BytesIO()
        assert server.serve(str(project.path), requests, answers) == 0
        answers.seek(0)
        header, _ = protocol.read_frame(answers)
        header, _ = protocol.read_frame(answers) if "version" in header else (header, None)
        assert header["ok"] is ok, (payload[:200], header)
        if ok:
            with open(where, "rb") as f:
                assert f.read() == raw
        else:
            assert "not valid JSON" in header["error"] and not os.path.exists(where)


def test_progress_in_ranges_counts_every_job_once_and_ends_exact(tmp_path, monkeypatch):
    """Progress in ranges: each job once, in order; the total (those done, the range's, the
    most either side has left) never below what is done, and exact at the end."""
    monkeypatch.setattr(Sync, "RANGE_JOBS", 7)
    lap, clu = _input(tmp_path / "pair")
    calls = []
    result = sync.sync(lap, str(clu.path), progress=lambda done, total: calls.append(
        (done, total)))
    assert result.exit_status == 3
    everyone = {j.id for p in (lap, clu) for j in p} - {lap.open_job({"i": 13}).id}
    assert [done for done, _ in calls] == list(range(1, len(everyone) + 1))
    assert all(done <= total for done, total in calls)
    assert calls[-1] == (len(everyone), len(everyone))
