"""The fast paths of queries and iteration (issue 18) give the answers of the slow ones: the
state point cache, the id-only query path and the quick deep copy of ``job.sp()``."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suite
from suite import index, layout, native
from suite.errors import CorruptStatepointError
from suite.index import columns, freshness, keyrows
from suite.query import compile_filter, evaluate
from suite.statepoint import same
from suite.synced import copy_json
from tests.suite.test_query import filters


def truth(project):
    """``{id: state point}`` read from the files: the jobs an iteration must give."""
    out = {}
    for name in os.listdir(project.workspace):
        try:
            with open(os.path.join(project.workspace, name, layout.STATEPOINT)) as f:
                sp = json.load(f)
        except (OSError, ValueError):
            continue
        if layout.is_job_id(name) and isinstance(sp, dict):
            out[name] = sp
    return out


def iterated(project):
    """``{id: state point}`` of the jobs an iteration gives whose state point reads; every
    job directory is iterated (as signac does), one whose file cannot be read raising
    JobsCorruptedError when its state point is read."""
    out, every = {}, []
    for job in suite.get_project(project.path):
        every.append(job.id)
        try:
            out[job.id] = job.sp()
        except suite.JobsCorruptedError:
            continue
    assert every == sorted(n for n in os.listdir(project.workspace) if layout.is_job_id(n))
    return out


def cache_rows(project):
    with sqlite3.connect(project.fn(".suite/index.sqlite")) as db:
        return db.execute("SELECT count(*) FROM spcache").fetchone()[0]


def assert_caches_coherent(project):
    """A stored cache holds what the rows it was made from hold (a stale signature cache
    gives right answers, re-reading documents needlessly: only this shows it)."""
    import marshal

    with sqlite3.connect(project.fn(".suite/index.sqlite")) as db:
        for table, tag, rows in (  # the pieces of the state points and of the documents
                ("spcache", columns.CACHE_TAG, "SELECT id, sp FROM jobs WHERE sp IS NOT NULL "
                 "ORDER BY id"),
                ("sigcache", columns.DOC_TAG, "SELECT id, doc, doc_sig FROM jobs WHERE sp IS "
                 "NOT NULL ORDER BY id")):
            blob = db.execute(f"SELECT blob FROM {table} WHERE tag = ?",
                              (columns.PIECES + tag,)).fetchone()
            if blob is not None:
                n, size, pieces = marshal.loads(blob[0])
                got = list(zip(*columns.load_pieces(pieces), strict=True)) if pieces else []
                # each row: the id, its JSON parsed (None for no text), the rest as it is
                expect = [(r[0], *(None if v is None else json.loads(v) for v in r[1:2]),
                           *r[2:]) for r in db.execute(rows)]
                assert size == columns.PIECE and n == len(got) and got == expect
        docs = db.execute("SELECT blob FROM sigcache WHERE tag = ?",
                          (columns.DOC_TAG,)).fetchone()
        if docs is not None:  # the documents' blob (status): the rows' parsed documents
            ids, values, sigs = marshal.loads(docs[0])
            expect = db.execute("SELECT id, doc, doc_sig FROM jobs WHERE sp IS NOT NULL "
                                "ORDER BY id").fetchall()
            assert list(zip(ids, values, sigs, strict=True)) == [
                (i, None if d is None else json.loads(d), s) for i, d, s in expect]
        for table, rows in (
                ("spcache", "SELECT id, sp FROM jobs WHERE sp IS NOT NULL ORDER BY id"),
                ("sigcache", "SELECT id, sig FROM docsig ORDER BY id")):
            blob = db.execute(f"SELECT blob FROM {table} WHERE tag = ?",
                              (columns.CACHE_TAG,)).fetchone()
            if blob is not None:
                value = marshal.loads(blob[0])
                if columns.is_packed(value):  # the signatures' packed form
                    value = columns.unpack_signatures(*value)
                ids, values = value
                expect = db.execute(rows).fetchall()
                if table == "spcache":
                    expect = [(i, json.loads(v)) for i, v in expect]
                else:
                    expect = [(i, None if v == "none" else tuple(int(x) for x in v.split(":")))
                              for i, v in expect]
                assert len(ids) == len(values) and sorted(zip(ids, values, strict=True)) == expect


def add_behind(project, i):
    """Add a job as another tool (rsync, signac) would: plain files."""
    sp = {"a": i, "b": {"c": i % 3}}
    d = os.path.join(project.workspace, suite.calc_id(sp))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, layout.STATEPOINT), "w") as f:
        json.dump(sp, f)


@pytest.fixture
def cached(tmp_path, monkeypatch):
    monkeypatch.setattr(columns, "SP_CACHE_MIN", 0)
    p = suite.init_project(tmp_path / "p")
    for i in range(6):
        p.open_job({"a": i, "b": {"c": i % 3}}).init()
    return p


@settings(max_examples=30, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["add", "add_behind", "remove", "rmtree",
                                                 "half", "iterate", "age"]),
                                st.integers(0, 12)), max_size=12))
def test_iteration_through_the_cache_matches_the_files(steps):
    """Whatever adds or removes jobs (suite, another tool, in another order; a job caught
    half-written, then complete), an iteration never serves a state point cache older than the
    jobs."""
    root = tempfile.mkdtemp(prefix="suite-cache-")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(columns, "SP_CACHE_MIN", 0)
            p = suite.init_project(os.path.join(root, "p"))
            for op, i in steps:
                _step(p, op, i)
                assert iterated(p) == truth(p)
                assert suite.get_project(p.path).index.statepoints() == truth(p)
                assert_caches_coherent(p)
    finally:
        shutil.rmtree(root)


def _step(p, op, i):
    sp = {"a": i, "b": {"c": i % 3}}
    if op == "add":
        try:
            p.open_job(sp).init()
        except suite.JobsCorruptedError:  # caught half-written ("half"): completed here
            p.open_job(sp).init(force=True)
    elif op == "add_behind":
        add_behind(p, i)
    elif op == "half":  # another tool is writing a new job's state point (not done yet)
        d = os.path.join(p.workspace, suite.calc_id(sp))
        if not os.path.exists(d):
            os.mkdir(d)
            with open(os.path.join(d, layout.STATEPOINT), "w") as f:
                f.write('{"a": ')
    elif op in ("remove", "rmtree"):
        ids = sorted(truth(p))
        if not ids:
            return
        if op == "remove":
            p.open_job(id=ids[i % len(ids)]).remove()
        else:
            shutil.rmtree(os.path.join(p.workspace, ids[i % len(ids)]))
    elif op == "age":
        past = time.time() - 10
        os.utime(p.workspace, (past, past))
    else:
        assert iterated(p) == truth(p)


def test_the_cache_is_stored_and_used(cached):
    assert iterated(cached) == truth(cached)
    assert cache_rows(cached) == 1
    # a cache that says something else than the rows would show: prove it is what is read
    with sqlite3.connect(cached.fn(".suite/index.sqlite")) as db:
        tag, blob = db.execute("SELECT tag, blob FROM spcache").fetchone()
        import marshal

        ids, sps = marshal.loads(blob)
        sps[0] = {"planted": 1}
        db.execute("UPDATE spcache SET blob=?", (marshal.dumps((ids, sps)),))
    assert iterated(cached)[ids[0]] == {"planted": 1}


def test_the_cache_holds_a_repeated_key_once(tmp_path, monkeypatch):
    """The state points of the cache are parsed together: a key that every job has is one
    string, which the blob holds once (a million jobs' cache loads with fewer objects)."""
    import marshal

    monkeypatch.setattr(columns, "SP_CACHE_MIN", 0)
    p = suite.init_project(tmp_path / "p")
    for i in range(40):
        p.open_job({"temperature_kelvin": i, "pressure": {"bar": i % 3}}).init()
    assert iterated(p) == truth(p)
    with sqlite3.connect(p.fn(".suite/index.sqlite")) as db:
        blob = db.execute("SELECT blob FROM spcache").fetchone()[0]
    assert blob.count(b"temperature_kelvin") == 1
    ids, sps = marshal.loads(blob)
    assert len({id(next(iter(sp))) for sp in sps}) == 1
    assert dict(zip(ids, sps, strict=True)) == truth(p)


@pytest.mark.parametrize("blob", [b"garbage", b"", None])
def test_a_damaged_cache_or_another_pythons_is_made_again(cached, blob):
    assert iterated(cached) == truth(cached)
    with sqlite3.connect(cached.fn(".suite/index.sqlite")) as db:
        if blob is None:
            db.execute("UPDATE spcache SET tag='2.7:4'")
        else:
            db.execute("UPDATE spcache SET blob=?", (blob,))
    assert iterated(cached) == truth(cached)
    with sqlite3.connect(cached.fn(".suite/index.sqlite")) as db:
        assert db.execute("SELECT tag FROM spcache").fetchone()[0] == columns.CACHE_TAG


def test_small_projects_store_no_cache(tmp_path):
    p = suite.init_project(tmp_path / "p")
    p.open_job({"a": 1}).init()
    assert iterated(p) == truth(p)
    assert cache_rows(p) == 0


HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def test_a_lock_held_by_another_process_does_not_make_iteration_wait(cached):
    past = time.time() - 10
    os.utime(cached.workspace, (past, past))
    assert iterated(cached) == truth(cached)  # the index is fresh: no write needed
    with sqlite3.connect(cached.fn(".suite/index.sqlite")) as db:
        db.execute("DELETE FROM spcache")
    # held until killed below: an iteration that waited for the lock would take the whole
    # busy timeout (60 s); one that did not, a moment, however loaded the machine (a bound
    # of 10 s against a hold of 30 s was a bet on the load)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, cached.fn(".suite/index.sqlite"),
                               "600"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t = time.monotonic()
        assert iterated(cached) == truth(cached)
        assert time.monotonic() - t < 45  # not the 60 s busy timeout
        assert cache_rows(cached) == 0  # not stored while the other held the lock
    finally:
        holder.kill()
        holder.wait()
    assert iterated(cached) == truth(cached)
    assert cache_rows(cached) == 1


@pytest.fixture
def with_unreadable(sweep):
    """The sweep plus one job with an unreadable state point and one with an unreadable
    document."""
    bad_sp = sweep.open_job({"a": 1, "b": {"c": 9, "d": ""}, "flag": True}).init()
    bad_sp.doc.score = 5
    with open(bad_sp.fn(layout.STATEPOINT), "w") as f:
        f.write("{not json")
    bad_doc = sweep.open_job({"a": 2, "b": {"c": 9, "d": ""}, "flag": True}).init()
    with open(bad_doc.fn(layout.DOCUMENT), "w") as f:
        f.write("[1, ")
    return sweep, bad_sp.id, bad_doc.id


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flt=filters)
def test_id_queries_leave_out_what_the_evaluator_leaves_out(with_unreadable, flt):
    """``find`` takes matching ids from the key index alone and removes the unreadable jobs
    from their own small index: the same answer as evaluating every readable job in Python."""
    p, bad_sp, bad_doc = with_unreadable
    tree = compile_filter(flt)
    docs = {j.id: j.doc() for j in p if j.id != bad_doc}
    expected = sorted(i for i, sp in truth(p).items()
                      if (i in docs or not flt_uses_doc(tree)) and
                      evaluate(tree, sp, docs.get(i, {})))
    assert p.find_jobs(flt, skip_unreadable=True).ids() == expected
    assert bad_sp not in p.find_jobs(flt, skip_unreadable=True).ids()
    with pytest.raises(CorruptStatepointError) as info:  # asked plainly, as signac
        p.find_jobs(flt).ids()
    assert info.value.job_ids == [bad_sp]


def flt_uses_doc(tree):
    from suite.query import uses_document

    return uses_document(tree)


def test_find_cli_leaves_out_unreadable_jobs(with_unreadable, monkeypatch):
    p, bad_sp, bad_doc = with_unreadable
    monkeypatch.chdir(p.path)
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-m", "suite", "find", "b.c", "9"], env=env,
                         capture_output=True, text=True)
    assert out.stdout.split() == [bad_doc]
    assert out.returncode == 3 and bad_sp in out.stderr
    out = subprocess.run([sys.executable, "-m", "suite", "find", "doc.score", "5"], env=env,
                         capture_output=True, text=True)
    assert out.stdout.split() == []


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=12,
)


def _containers(value, out):
    if isinstance(value, (dict, list)):
        out.append(value)
        for v in (value.values() if isinstance(value, dict) else value):
            _containers(v, out)
    return out


@given(value=json_values)
def test_copy_json_is_a_deep_copy(value):
    copy = copy_json(value)
    assert copy == value
    assert json.dumps(copy) == json.dumps(value)  # same key order too
    mine, theirs = _containers(copy, []), _containers(value, [])
    assert not {id(c) for c in mine} & {id(c) for c in theirs}



@given(sp=st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_canonical_text_is_json_dumps_sorted(sp):
    """statepoint.canonical encodes with one reused C encoder; its bytes and id must be
    json.dumps(sp, sort_keys=True)'s, the rule signac's ids follow (non-ASCII, floats,
    nesting included)."""
    import hashlib

    from suite.statepoint import canonical

    text = json.dumps(sp, sort_keys=True).encode()
    assert canonical(sp) == (text, hashlib.md5(text).hexdigest())


def doc_truth(project, key, value):
    """Ids whose document file (read now) has ``key`` equal to ``value``."""
    out = []
    for name in truth(project):
        try:
            with open(os.path.join(project.workspace, name, layout.DOCUMENT)) as f:
                doc = json.load(f)
        except FileNotFoundError:
            doc = {}
        if doc.get(key) == value:
            out.append(name)
    return sorted(out)


def _check_doc_queries(p):
    fresh = suite.get_project(p.path)
    for value in range(3):
        assert fresh.find_jobs({"doc.x": value}).ids() == doc_truth(p, "x", value)
    assert_caches_coherent(p)
    # every state point and document at once (status), through the whole-column caches
    ids, sps, docs, sigs = suite.get_project(p.path).index.job_columns()
    assert dict(zip(ids, sps, strict=True)) == truth(p) and ids == sorted(truth(p))
    assert docs == [doc_file(p, i) for i in ids]
    assert_caches_coherent(p)
    # ... and in pieces, as forked status workers load them: every run of pieces, joined, is
    # that run of the columns (a size that cuts the jobs anywhere; the size kept in the caches)
    for size in (2, columns.PIECE):
        found = suite.get_project(p.path).index
        n, sp_pieces, doc_pieces = found.job_column_pieces(size)
        assert n == len(ids) and len(sp_pieces) == len(doc_pieces) == -(-n // size)
        for k in range(len(sp_pieces)):
            got = found.job_columns_of_pieces(sp_pieces[k:k + 2], doc_pieces[k:k + 2])
            part = slice(k * size, (k + 2) * size)
            assert list(got) == [ids[part], sps[part], docs[part], sigs[part]]
    assert_caches_coherent(p)


def doc_file(project, job_id):
    try:
        with open(os.path.join(project.workspace, job_id, layout.DOCUMENT)) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


#: examples per way of checking (30 unless named). In two processes every query forks the
#: test process (two forks a query, ~1,000 a run), and in this VM a fork and exit of a
#: 200 MB pytest cost ~25 ms of CPU: 36 s of CI's 16 min. Its rows are checked by the same
#: function as "relative to the workspace" (30 examples); what the fork adds (two halves,
#: marshal, the join, a failed child) is tested in tests/suite/test_index.py
DOC_QUERY_EXAMPLES = {"in two processes": 10}

DOC_STEPS = st.lists(st.tuples(st.sampled_from(["set", "in_place", "rename", "delete", "add",
                                                "remove", "query"]),
                               st.integers(0, 9), st.integers(0, 2)), max_size=14)


@pytest.mark.parametrize("check", ["relative to the workspace", "by full path",
                                   "in two processes", "in two threads"])
def test_document_queries_through_the_signature_cache_match_the_files(check):
    """Documents written by suite, rewritten in place or replaced by rename by other tools
    (signac, editors), deleted; jobs added and removed: a document query answers from the
    files as they are now, with the signatures read from their cache; whichever way the
    freshness check stats the documents (the full path is the fallback where ``stat`` takes
    no directory descriptor; the packed signatures in C, in one thread or two)."""

    @settings(max_examples=DOC_QUERY_EXAMPLES.get(check, 30), deadline=None)
    @given(steps=DOC_STEPS)
    def queries_after(steps):
        _doc_queries_after(check, steps)

    queries_after()


def _doc_queries_after(check, steps):
    root = tempfile.mkdtemp(prefix="suite-sigs-")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(columns, "SP_CACHE_MIN", 0)
            if check in ("by full path", "in two processes"):  # the rows, not the packed C
                mp.setattr(freshness, "_packed_changed", lambda value, ws: None)
            if check == "by full path":
                mp.setattr(freshness, "stat_changed", freshness.stat_changed_by_path)
            elif check == "in two processes":
                mp.setattr(freshness, "PARALLEL_STAT_MIN", 2)
            elif check == "in two threads":  # the packed signatures' check, where built
                mp.setattr(native, "THREADS_MIN", 2)
            p = suite.init_project(os.path.join(root, "p"))
            for i in range(6):
                p.open_job({"a": i}).init().doc.x = i % 3
            for op, i, x in steps:
                ids = sorted(truth(p))
                target = os.path.join(p.workspace, ids[i % len(ids)]) if ids else None
                fn = target and os.path.join(target, layout.DOCUMENT)
                if op == "set" and target:
                    p.open_job(id=ids[i % len(ids)]).doc.x = x
                elif op == "in_place" and target:
                    # another length than before, so the size tells even within a clock tick
                    old = os.path.getsize(fn) if os.path.exists(fn) else 0
                    text = json.dumps({"x": x, "pad": "p" * (old % 7 + 1)})
                    with open(fn, "a+") as f:
                        f.seek(0)
                        f.truncate()
                        f.write(text)
                elif op == "rename" and target:
                    with open(fn + ".tmp", "w") as f:
                        json.dump({"x": x}, f)
                    os.replace(fn + ".tmp", fn)
                elif op == "delete" and target and os.path.exists(fn):
                    os.unlink(fn)
                elif op == "add":
                    p.open_job({"a": 10 + i}).init().doc.x = x
                elif op == "remove" and target:
                    shutil.rmtree(target)
                _check_doc_queries(p)
            _check_doc_queries(p)
            with sqlite3.connect(p.fn(".suite/index.sqlite")) as db:
                assert sorted(db.execute("SELECT tag FROM sigcache")) == [
                    (columns.CACHE_TAG,), (columns.DOC_TAG,), (columns.PIECES + columns.DOC_TAG,)]
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize("share", [1.0, 0.5, 0.1])
def test_columns_read_whole_or_by_id_agree(with_unreadable, monkeypatch, share):
    """Many ids read a column whole and pick; few look each up: the same maps (ids that
    are not jobs, unreadable documents and state points included)."""
    p, bad_sp, bad_doc = with_unreadable
    big = p.open_job({"a": 3, "b": {"c": 9, "d": ""}, "flag": True}).init()
    big.doc.update({f"k{i}": i for i in range(20)})  # over the key cap set below
    monkeypatch.setattr(keyrows, "DOC_MAX_KEYS", 10)
    if os.path.exists(p.index.path):
        os.unlink(p.index.path)
    p = suite.get_project(p.path)
    ids = sorted(truth(p)) + [bad_sp, "0" * 32]
    ids = ids[:max(1, int(len(ids) * share))] + [bad_sp, bad_doc, "0" * 32]
    monkeypatch.setattr(index, "COLUMN_SCAN_MIN", 10 ** 9)
    by_id = (p.index.statepoints(ids), p.index.documents(ids))
    monkeypatch.setattr(index, "COLUMN_SCAN_MIN", 0)
    whole = (p.index.statepoints(ids), p.index.documents(ids))
    assert whole == by_id
    assert bad_sp not in whole[0] and "0" * 32 not in whole[0]
    assert set(whole[0]) == set(ids) & set(truth(p))
    if big.id in ids:
        assert whole[1][big.id]["k19"] == 19


@pytest.mark.parametrize("size", [1, 2, 5, columns.PIECE])
def test_column_pieces_are_the_columns(with_unreadable, monkeypatch, size):
    """The whole columns in pieces (forked status workers each load theirs): joined, any run
    of them is that run of :meth:`job_columns`, an unreadable document and one over the caps
    (read from its file) included, stored or not; pieces of the two kinds that do not hold
    the same jobs, or that do not load, are refused (ValueError)."""
    p, _, _ = with_unreadable
    big = p.open_job({"a": 3, "b": {"c": 9, "d": ""}, "flag": True}).init()
    big.doc.update({f"k{i}": i for i in range(20)})  # over the key cap set below
    monkeypatch.setattr(keyrows, "DOC_MAX_KEYS", 10)
    monkeypatch.setattr(columns, "SP_CACHE_MIN", 0)
    if os.path.exists(p.index.path):
        os.unlink(p.index.path)
    for _ in range(2):  # made, then (at the cache's size) from the stored rows
        found = suite.get_project(p.path).index
        n, sp_pieces, doc_pieces = found.job_column_pieces(size)
        whole = found.job_columns()
        assert n == len(whole[0]) > 3 and big.id in whole[0]
        assert whole[2][whole[0].index(big.id)]["k19"] == 19
        for k in range(len(sp_pieces)):
            part = slice(k * size, (k + 3) * size)
            assert list(found.job_columns_of_pieces(sp_pieces[k:k + 3], doc_pieces[k:k + 3])) \
                == [c[part] for c in whole]
    with sqlite3.connect(p.index.path) as db:
        stored = {t for (t,) in db.execute("SELECT tag FROM spcache UNION SELECT tag FROM "
                                           "sigcache")}
    assert (columns.PIECES + columns.CACHE_TAG in stored) == (size == columns.PIECE)
    assert found.job_columns_of_pieces([], []) == ([], [], [], [])
    if len(sp_pieces) > 1:
        with pytest.raises(ValueError):
            found.job_columns_of_pieces(sp_pieces[:1], doc_pieces[1:2])
    with pytest.raises(ValueError):
        found.job_columns_of_pieces(sp_pieces[:1], [b"not marshal"])
    with pytest.raises(ValueError):
        found.job_columns_of_pieces(sp_pieces[:1], [])
    with pytest.raises(ValueError):
        found.job_columns_of_pieces(sp_pieces[:1], sp_pieces[:1])  # two lists, not three


def _flatten_reference(job_id, src, data, prefix, out):
    """The index's key rows as first written (isinstance chains): the oracle."""
    for key, value in data.items():
        name = prefix + key
        if value is None:
            out.append((job_id, src, name, index.T_NULL, None, None))
        elif isinstance(value, bool):
            out.append((job_id, src, name, index.T_BOOL, int(value), None))
        elif isinstance(value, int) and abs(value) <= 2**53:
            out.append((job_id, src, name, index.T_INT, float(value), None))
        elif isinstance(value, int):
            near = float(value) if abs(value) < 2**1024 - 2**970 else None  # else overflows
            out.append((job_id, src, name, index.T_BIGINT, near, keyrows.sortable_int(value)))
        elif isinstance(value, float):
            out.append((job_id, src, name, index.T_FLOAT, value, None))
        elif isinstance(value, str):
            out.append((job_id, src, name, index.T_STR, None, value))
        elif isinstance(value, list):
            out.append((job_id, src, name, index.T_LIST, None, index.canonical(value)))
        elif isinstance(value, dict):
            out.append((job_id, src, name, index.T_DICT, None, index.canonical(value)))
            _flatten_reference(job_id, src, value, name + ".", out)


class _Str(str):
    pass


class _Int(int):
    pass


@given(value=st.dictionaries(st.text(max_size=3), st.one_of(
    json_values, st.integers(min_value=-2**1100, max_value=2**1100),
    st.builds(_Str, st.text(max_size=2)), st.builds(_Int, st.integers()),
    st.floats(allow_nan=True)), max_size=5))
def test_key_rows_are_those_of_the_reference(value):
    fast, slow = [], []
    keyrows.flatten("i", 1, value, "", fast)
    _flatten_reference("i", 1, value, "", slow)
    assert repr(fast) == repr(slow)  # repr: NaN rows compare equal too


def test_a_document_written_into_a_half_written_job_keeps_its_problem(tmp_path):
    """A job whose state point cannot be read stays listed (and out of every answer) when a
    document appears in it: the document's reading must not clear the state point's problem."""
    p = suite.init_project(tmp_path / "p")
    p.open_job({"a": 1}).init()
    d = os.path.join(p.workspace, suite.calc_id({"a": 2}))
    os.mkdir(d)
    with open(os.path.join(d, layout.STATEPOINT), "w") as f:
        f.write('{"a": ')
    assert p.find_jobs({"a": 1}, skip_unreadable=True).ids() and list(p.index.problems) == [os.path.basename(d)]
    with open(os.path.join(d, layout.DOCUMENT), "w") as f:
        f.write('{"x": 1}')
    fresh = suite.get_project(p.path)
    assert fresh.find_jobs({"doc.x": 1}, skip_unreadable=True).ids() == []
    assert list(fresh.index.problems) == [os.path.basename(d)]
    out = subprocess.run([sys.executable, "-m", "suite", "find", "doc.x", "1"], cwd=p.path,
                         capture_output=True, text=True)
    assert out.returncode == 3 and os.path.basename(d) in out.stderr


def test_iterated_jobs_are_the_jobs_open_job_makes(tmp_path):
    """Jobs made from the index's rows (no ``__init__``) have every slot of a job made the
    ordinary way, and behave the same: state point views, moves, documents."""
    from suite.job import Job, jobs_from_index

    project = suite.init_project(tmp_path)
    for i in range(3):
        project.open_job({"a": i, "b": {"c": [i]}}).doc.x = i
    made = {j.id: j for j in project}
    assert len(made) == 3
    for job_id, job in made.items():
        ordinary = Job(project, id=job_id, _trusted_sp=json.loads(json.dumps(job.sp())))
        for name in Job.__slots__:
            assert getattr(job, name) == getattr(ordinary, name), name
        assert job == project.open_job(id=job_id)
    assert next(iter(jobs_from_index(project, [("0" * 32, {"z": 1})]))).path == os.path.join(
        project.workspace, "0" * 32)
    job = made[project.open_job({"a": 1, "b": {"c": [1]}}).id]
    assert job.sp.b.c == [1] and job.sp.b.c[0] == 1 and job.doc.x == 1
    with pytest.raises(AttributeError):
        getattr(job.sp, "missing")  # noqa: B009 (an attribute read is what is tested)
    job.sp.a = 7  # moves the job: the view of an iterated job writes through
    assert job.id == project.open_job({"a": 7, "b": {"c": [1]}}).id
    assert os.path.isdir(job.path) and project.open_job(id=job.id).doc.x == 1


statepoint_values = st.dictionaries(
    st.text(max_size=4), st.one_of(
        json_values, st.integers(min_value=-2**200, max_value=2**200),
        st.sampled_from([-0.0, 0.0, 1e308, -1e308, 5e-324, 2**63, -2**63 - 1, 1.0, 1, True])),
    min_size=1, max_size=5)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sps=st.lists(statepoint_values, min_size=1, max_size=6))
def test_cached_state_points_are_those_json_decodes_from_the_files(sps):
    """The state points served from the marshal cache are the files' JSON exactly: same types
    (``1`` is not ``1.0``, ``-0.0`` keeps its sign), huge integers, unicode keys, and the key
    order of the file's text (visible in ``job.sp()``'s printing)."""
    root = tempfile.mkdtemp(prefix="suite-spjson-")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(columns, "SP_CACHE_MIN", 0)
            p = suite.init_project(os.path.join(root, "p"))
            texts = {}
            for sp in sps:  # written as another tool would: the key order is the file's
                d = os.path.join(p.workspace, suite.calc_id(sp))
                os.makedirs(d, exist_ok=True)
                texts[os.path.basename(d)] = json.dumps(sp, ensure_ascii=False)
                with open(os.path.join(d, layout.STATEPOINT), "w", encoding="utf-8") as f:
                    f.write(texts[os.path.basename(d)])
            for _ in range(2):  # the first iteration stores the cache, the second reads it
                got = {j.id: j.sp() for j in suite.get_project(p.path)}
                assert got.keys() == texts.keys()
                for job_id, text in texts.items():
                    assert same(got[job_id], json.loads(text))
                    assert json.dumps(got[job_id], ensure_ascii=False) == text
            assert cache_rows(p) == 1
    finally:
        shutil.rmtree(root)
