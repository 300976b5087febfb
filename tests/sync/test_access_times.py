"""A sync's listings (a flat job's scan_dir, a nested job's walk) leave the access times of
the job directories and files as they were, on both sides, as the index's readers do
(suite.jsonio.open_quietly): a sync with nothing to do reads nothing of the user's."""

import os

import pytest

import suite
import sync
from suite import dirscan, native
from sync.listing import list_jobs_python
from tests.access_times import OLD, age, aged_project, moved


def _rel(paths):
    return [p.split("workspace" + os.sep, 1)[1] for p in paths]


@pytest.mark.parametrize("pure", [False, True], ids=["native", "python"])
def test_a_sync_with_nothing_to_do_leaves_access_times(tmp_path, monkeypatch, pure):
    if pure:  # the reference listings, as where the C modules are not built
        monkeypatch.setattr("sync.listing.scan_dir", dirscan.scan_dir_python)
        monkeypatch.setattr("sync.replica.list_jobs", list_jobs_python)
    elif native.load("suite._fsstat") is None:
        pytest.skip("the native modules are not built")
    lap, _ = aged_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    assert sync.sync(lap, clu.path).exit_status == 0
    # (the sync after a first copy checks each state point once, by read_json: not asked)
    assert sync.sync(lap, clu.path).actions == []
    here, there = age(lap), age(clu)
    assert sync.sync(lap, clu.path).actions == []
    assert (_rel(moved(here)), _rel(moved(there))) == ([], [])
    # a change on one side: the document copied is read here and replaced there (a new
    # file); nothing else is read
    lap.open_job({"i": 0}).doc.step = "changed"
    here, there = age(lap), age(clu)
    assert sync.sync(lap, clu.path).exit_status == 0
    doc = lap.open_job({"i": 0}).fn("signac_job_document.json")
    assert moved(here) in ([], [doc])
    assert moved(there) == [clu.open_job({"i": 0}).fn("signac_job_document.json")]


def test_scan_dir_leaves_the_directory_access_time(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    d = str(tmp_path / "d")
    os.utime(d, ns=(OLD, os.stat(d).st_mtime_ns))
    for scan in {dirscan.scan_dir, dirscan.scan_dir_python}:
        assert [e[0] for e in scan(d)] == ["f"]
        assert os.stat(d).st_atime_ns == OLD
