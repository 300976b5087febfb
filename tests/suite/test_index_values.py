"""Index.document_values (a document key's values of every job, from the key rows) and
Index.document_changes_since (which documents changed, when a watcher says)."""

import json
import math
import sys

import pytest

import suite
from suite.index import keyrows

VALUES = [1, -3, 2 ** 60 + 1, -(2 ** 53) - 1, 0.5, float("nan"), float("inf"), True, False, None,
          "text", "", [1, 2.0, "x"], {"b": 1, "a": [None]}, {}, []]


@pytest.fixture
def project(tmp_path):
    proj = suite.init_project(tmp_path / "p")
    for i, value in enumerate(VALUES):
        job = proj.open_job({"i": i})
        job.init()
        with open(job.fn("signac_job_document.json"), "w") as f:
            json.dump({"x": value, "n": {"m": value}}, f)  # NaN written as signac would
    proj.open_job({"i": -1}).init()  # no document at all
    return proj


def _same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("key", ["x", "n.m"])
def test_values_are_the_documents(project, key):
    values = project.index.document_values(key)
    by_i = {project.open_job(id=j).sp.i: v for j, v in values.items()}
    assert set(by_i) == set(range(len(VALUES)))  # the job without the key is left out
    for i, value in enumerate(VALUES):
        assert _same(by_i[i], value), (i, by_i[i], value)


def test_document_keys_counted(project):
    project.index.refresh(documents=True)
    keys = project.index.document_keys()
    assert keys["x"] == keys["n"] == len(VALUES)
    assert keys["n.m.b"] == keys["n.m.a"] == 1  # inside the one dict value
    project.open_job({"i": 0}).doc = {"y": 1}
    project.index.refresh(documents=True)
    assert project.index.document_keys()["x"] == len(VALUES) - 1


def test_unreadable_left_out_and_capped_read(project, monkeypatch):
    bad = project.open_job({"i": 0})
    with open(bad.fn("signac_job_document.json"), "w") as f:
        f.write("{broken")
    monkeypatch.setattr(keyrows, "DOC_MAX_BYTES", 200)
    big = project.open_job({"i": 1})
    big.doc = {"x": 7, "pad": "y" * 1000}
    values = project.index.document_values("x")
    assert bad.id not in values and bad.id in project.index.problems
    assert values[big.id] == 7


def test_changes_since_without_a_watcher_is_unknown(project):
    index = project.index
    index.refresh(documents=True)
    epoch = index.document_epoch
    assert index.document_changes_since(epoch) == set()
    index.refresh(documents=True)  # a stat check: cannot know what others re-read
    assert index.document_changes_since(epoch) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_changes_since_with_a_watcher(project):
    from suite.dashboard.watch import Watcher

    watcher = Watcher(project.workspace)
    watcher.start()
    try:
        assert watcher.wait_ready(30), watcher.reason
        index = project.index
        index.watch = watcher
        index.refresh(documents=True)  # the first, full check
        epoch = index.document_epoch
        index.refresh(documents=True)
        assert index.document_epoch == epoch  # nothing changed: nothing re-read
        a, b = project.open_job({"i": 2}), project.open_job({"i": 3})
        with open(a.fn("signac_job_document.json"), "w") as f:
            json.dump({"x": 99}, f)
        index.refresh(documents=True)
        b.doc.x = 98
        new = project.open_job({"i": 100})
        new.init()
        assert index.document_values("x")[a.id] == 99
        assert index.document_changes_since(epoch) == {a.id, b.id, new.id}
        assert index.document_values("x")[b.id] == 98
        assert index.document_changes_since(epoch - 1) is None  # before the full check
    finally:
        watcher.close()


def test_ids_follow_jobs_another_connection_indexed(project):
    """ids() lists the jobs again after another process's index changed them, even when that
    process's refresh recorded the workspace as seen (this one's refresh then finds nothing)."""
    here = project.index
    before = here.ids()
    assert here.ids() == before
    other = suite.get_project(project.path)
    import threading

    def elsewhere():  # another Index, another SQLite connection (one per thread)
        new = other.open_job({"i": 500})
        new.init()
        other.index.refresh()
        gone = other.open_job({"i": 3})
        gone.remove()
        other.index.refresh()
        result.extend([new.id, gone.id])

    result = []
    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    new_id, gone_id = result
    after = here.ids()
    assert new_id in after and gone_id not in after
    assert after == sorted(set(before) - {gone_id} | {new_id})
    mine = project.open_job({"i": 501})
    mine.init()
    assert mine.id in here.ids()


def test_canonical_text_is_json_dumps_sorted_and_compact():
    """keyrows.canonical (json's C encoder made directly) writes what json.dumps(sort_keys,
    compact separators) writes of the value with integral floats as integers."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3),
                                                                    inner, max_size=3),
        max_leaves=12)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(values, max_size=3) | st.dictionaries(st.text(max_size=3), values,
                                                          max_size=3))
    def check(value):
        assert keyrows.canonical(value) == json.dumps(keyrows._canon(value), sort_keys=True,
                                                      separators=(",", ":"))

    check()
    assert keyrows.canonical({"b": 1.0, "a": [2.0, "x"]}) == '{"a":[2,"x"],"b":1}'
