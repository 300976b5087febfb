"""Which jobs are steady (nothing moved since the record): the C of sync/_compare.c against its
Python reference, sync.steady.steady_jobs_python, on generated listings and records."""

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import suite
import sync
from suite import native
from sync import steady as steady_mod
from tests.conftest import skip_or_fail

COMPARE = native.load("sync._compare")

# document values where strict equality matters: 1, 1.0 and True differ; NaN is never equal
SCALARS = st.sampled_from([0, 1, 1.0, True, False, None, "1", "", math.nan, -0.0, 2**70])
DOCS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
                    max_leaves=8)
STATE = st.sampled_from([[5, 100, 7], [5, 100, 8], [6, 100, 7], [5, 101, 7], [5, 100, 7, "t"],
                         [5, 100], (5, 100, 7), [5.0, 100, 7], [math.nan, 100, 7], "odd"])
RECORD_STATE = st.sampled_from([[5, 100, 100], [5, 100, 101], [5, 101, 100], [6, 100, 100],
                                [5, 100], (5, 100, 100), [5, 100.0, 100], None, 3])
RELS = st.sampled_from(["a", "b"])


def listing(files, doc, extra):
    job = {"files": files, "doc": doc}
    if extra:
        job["links"] = 1
    return job


@st.composite
def side_and_record(draw):
    ids = draw(st.lists(st.sampled_from(["j1", "j2", "j3", "j4"]), unique=True, max_size=4))
    ljobs, rjobs, base = {}, {}, {}
    shared_doc = draw(DOCS)
    for job_id in ids:
        rels = draw(st.lists(RELS, unique=True, max_size=2))
        if draw(st.booleans()):  # steady by construction, then perhaps changed in one place
            doc = draw(DOCS)
            states = {rel: (draw(st.sampled_from([5, 6])), draw(st.sampled_from([100, 101])))
                      for rel in rels}
            ljobs[job_id] = {"files": {rel: [s, m, 1] for rel, (s, m) in states.items()},
                             "doc": doc}
            rjobs[job_id] = {"files": {rel: [s, m, 2] for rel, (s, m) in states.items()},
                             "doc": copy.deepcopy(doc)}
            base[job_id] = {"files": {rel: [s, m, m] for rel, (s, m) in states.items()},
                            "doc": copy.deepcopy(doc)}
            change = draw(st.integers(0, 6))
            where = draw(st.sampled_from([ljobs, rjobs, base]))[job_id]
            if change == 1:
                where["doc"] = draw(DOCS)
            elif change == 2 and rels:
                where["files"][rels[0]] = draw(st.one_of(STATE, RECORD_STATE))
            elif change == 3:
                where["files"]["new"] = [5, 100, 100]
            elif change == 4:
                where["links"] = 1
            elif change == 5 and where is base[job_id]:
                del where["doc"]
            continue
        # mostly alike, so that many jobs are steady and the odd ones differ in one place
        files = {rel: draw(STATE) for rel in rels}
        same_doc = draw(st.booleans())
        ldoc = shared_doc if same_doc else draw(DOCS)
        ljobs[job_id] = listing(files if draw(st.booleans()) else
                                {rel: draw(STATE) for rel in draw(st.lists(RELS, unique=True,
                                                                            max_size=2))},
                                ldoc, draw(st.integers(0, 9)) == 0)
        if draw(st.integers(0, 5)):
            rdoc = ldoc if draw(st.booleans()) else draw(DOCS)
            rjobs[job_id] = listing(dict(files) if draw(st.booleans()) else
                                    {rel: draw(STATE) for rel in rels}, rdoc,
                                    draw(st.integers(0, 9)) == 0)
        shape = draw(st.integers(0, 12))
        if shape == 0:
            continue  # no record entry
        if shape == 1:
            base[job_id] = draw(st.sampled_from([[], "x", None]))
            continue
        entry = {"files": {rel: draw(RECORD_STATE) for rel in rels}}
        if shape != 2:
            entry["doc"] = ldoc if draw(st.booleans()) else draw(DOCS)
        base[job_id] = entry
    return ljobs, rjobs, base


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the same exception type, or the same answer
        return "raised", type(exc)


@settings(max_examples=400, deadline=None)
@given(data=side_and_record())
def test_steady_jobs_agrees_with_the_python_reference(data):
    if COMPARE is None:
        skip_or_fail("sync._compare is not built here (python setup.py build_ext --inplace)")
    ljobs, rjobs, base = data
    got = outcome(COMPARE.steady_jobs, ljobs, rjobs, base)
    want = outcome(steady_mod.steady_jobs_python, ljobs, rjobs, base)
    if got == ("ok", None):  # a shape the C leaves to the reference
        got = want
    assert got == want
    assert outcome(steady_mod.steady_jobs, ljobs, rjobs, base) == want


def test_steady_jobs_strict_documents_and_bad_arguments():
    if COMPARE is None:
        skip_or_fail("sync._compare is not built here (python setup.py build_ext --inplace)")
    files, rec = {"out": [3, 10, 1]}, {"out": [3, 10, 10]}

    def job(doc):
        return {"files": dict(files), "doc": doc}

    for ldoc, bdoc, steady in [({"x": 1}, {"x": 1}, True), ({"x": 1}, {"x": 1.0}, False),
                               ({"x": True}, {"x": 1}, False), ({"x": [1, {"y": None}]},
                                                                {"x": [1, {"y": None}]}, True),
                               ({"x": math.nan}, {"x": math.nan}, False)]:
        ljobs = {"j": job(ldoc)}
        rjobs = {"j": job(ldoc)}
        base = {"j": {"files": rec, "doc": bdoc}}
        assert COMPARE.steady_jobs(ljobs, rjobs, base) == ({"j"} if steady else set())
        assert steady_mod.steady_jobs_python(ljobs, rjobs, base) == ({"j"} if steady else set())
    nan = math.nan  # one object: still not equal to itself, as in the reference
    base = {"j": {"files": rec, "doc": {"x": nan}}}
    assert COMPARE.steady_jobs({"j": job({"x": nan})}, {"j": job({"x": nan})}, base) == set()
    deep = {}
    for _ in range(suite.statepoint.MAX_DEPTH):
        deep = {"a": deep}
    assert COMPARE.steady_jobs({"j": job(deep)}, {"j": job(deep)},
                               {"j": {"files": rec, "doc": deep}}) == {"j"}
    with pytest.raises(TypeError):
        COMPARE.steady_jobs([], {}, {})
    with pytest.raises(TypeError):
        COMPARE.steady_jobs({}, {})


def test_noop_sync_finds_every_job_steady(tmp_path):
    """Through the public API: a second sync does nothing, decided for every job by the
    steady check (native or not), and a change in one job is still seen."""
    lap = suite.init_project(tmp_path / "lap")
    clu = suite.init_project(tmp_path / "clu")
    for i in range(20):
        job = lap.open_job({"i": i}).init()
        job.doc.x = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(str(i))
    assert sync.sync(lap, clu.path).exit_status == 0
    again = sync.sync(lap, clu.path)
    assert again.actions == [] and again.exit_status == 0
    lap.open_job({"i": 3}).doc.x = 1.0  # 3 -> 1.0: a change strict equality sees
    third = sync.sync(lap, clu.path)
    assert [(a["action"], a["direction"]) for a in third.actions] == [("merge doc", "push")]
    assert clu.open_job({"i": 3}).doc.x == 1.0
    assert type(clu.open_job({"i": 3}).doc.x) is float
