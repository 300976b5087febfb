"""The sync record held as its file's bytes (sync.record): whatever is read, set, deleted and
saved agrees with the record as a plain dict; the file stays JSON that the previous version
reads whole; a record written in one line (before) is read and rewritten in lines; a damaged
line is refused naming the file."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suite
from suite import layout
from suite.errors import CorruptFileError
from sync import record as rec
from sync.replica import Replica, encode_record

ids = st.text("0123456789abcdef", min_size=32, max_size=32)
values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                      | st.floats(allow_nan=False),
                      lambda v: st.lists(v, max_size=3) | st.dictionaries(st.text(max_size=4),
                                                                          v, max_size=3),
                      max_leaves=6)
entries = st.fixed_dictionaries({
    "files": st.dictionaries(st.text(min_size=1, max_size=6),
                             st.lists(st.integers(0, 2**62), min_size=3, max_size=3),
                             max_size=3),
    "doc": st.dictionaries(st.text(max_size=4), values, max_size=3)})
jobs_st = st.dictionaries(ids, entries, max_size=12)
project_docs = st.none() | st.dictionaries(st.text(max_size=4), values, max_size=3)
edits = st.lists(st.tuples(st.sampled_from(["set", "del", "get"]), ids, entries), max_size=10)


def _load(raw):
    return rec.load(raw, "rec.json")


def _plain(jobs):
    return {j: jobs[j] for j in jobs}


@settings(max_examples=150, deadline=None)
@given(jobs_st, project_docs, edits, st.integers(1, 5))
def test_a_record_read_from_bytes_agrees_with_the_dict(jobs, project_doc, changes, size):
    raw = encode_record({"jobs": jobs, "project_doc": project_doc})
    assert json.loads(raw) == {"jobs": jobs, "project_doc": project_doc}  # any JSON reader
    record = _load(raw)
    held = record["jobs"]
    assert isinstance(held, rec.RecordJobs) and not held.upgrade
    assert record["project_doc"] == project_doc and len(held) == len(jobs)
    assert list(held) == sorted(jobs) and _plain(held) == jobs
    model = dict(jobs)
    for what, job_id, entry in changes:
        if what == "set":
            held[job_id] = model[job_id] = entry
        elif what == "del":
            assert held.pop(job_id, None) == model.pop(job_id, None)
        else:
            assert held.get(job_id) == model.get(job_id)
        assert (job_id in held) == (job_id in model) and len(held) == len(model)
    assert _plain(held) == model and sorted(held) == sorted(model)
    # the steady check's ranges: every listed name once, with its entry if the record has one
    names = sorted(model)[::2] + ["f" * 32]
    seen = {}
    for part, got in held.ranges(names, size):
        assert set(got) <= set(part) and not set(part) & set(seen)
        seen.update({j: got.get(j) for j in part})
    assert seen == {j: model.get(j) for j in names}
    assert held.subset(names) == {j: model[j] for j in names if j in model}
    # saved: unchanged lines as they were, the rest encoded; read back the same
    again = encode_record(record)
    assert json.loads(again) == {"jobs": model, "project_doc": project_doc}
    assert again == encode_record({"jobs": model, "project_doc": project_doc})
    assert _plain(_load(again)["jobs"]) == model


@given(jobs_st, project_docs)
@settings(max_examples=50, deadline=None)
def test_a_record_written_in_one_line_is_read_whole_and_marked(jobs, project_doc):
    raw = json.dumps({"jobs": jobs, "project_doc": project_doc}).encode()
    record = _load(raw)
    assert record["project_doc"] == project_doc and _plain(record["jobs"]) == jobs
    assert record["jobs"].upgrade
    assert _load(encode_record(record))["jobs"].upgrade is False


def test_damaged_records_are_refused_naming_the_file():
    raw = encode_record({"jobs": {"a" * 32: {"files": {}, "doc": {}},
                                  "b" * 32: {"files": {}, "doc": {"x": 1}}},
                         "project_doc": None})
    for bad in (raw.replace(b'{"x": 1}', b'{"x": }'),  # not JSON in a line
                raw.replace(b'{"x": 1}}', b'{"x": 1}, "' + b"c" * 32 + b'": {}')):  # two
        held = _load(bad)["jobs"]
        with pytest.raises(CorruptFileError, match="rec.json"):
            held["b" * 32]
        with pytest.raises(CorruptFileError, match="rec.json"):
            list(held.ranges(["a" * 32], 10))
    with pytest.raises(CorruptFileError, match="rec.json"):
        _load(b"[1, 2]")
    with pytest.raises(CorruptFileError, match="rec.json"):
        _load(raw[:-5])
    # lines out of id order (written by hand): read whole, as any JSON
    swapped = raw.split(b"\n")
    swapped[1], swapped[2] = swapped[2].rstrip(b",") + b",", swapped[1].rstrip(b",")
    record = _load(b"\n".join(swapped))
    assert record["jobs"].upgrade and len(record["jobs"]) == 2


def test_a_sync_rewrites_a_one_line_record_in_lines_and_stays_steady(tmp_path):
    """A record left by the previous version (one line) is read, the sync has nothing to do,
    and both sides' copies are rewritten one job a line (the same bytes: the far side's
    digest then names this side's record)."""
    from sync import sync

    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(5):
        lap.open_job({"i": i}).init().doc.step = i
    assert sync(lap, clu.path).exit_status == 0
    paths = [os.path.join(p.path, layout.SUITE_DIR, "sync", f"{Replica(q.path).identity()}.json")
             for p, q in ((lap, clu), (clu, lap))]
    for path in paths:
        with open(path, "rb") as f:
            record = json.load(f)
        with open(path, "w") as f:
            json.dump(record, f)  # as the previous version wrote it
    result = sync(lap, clu.path)
    assert result.exit_status == 0 and result.actions == []
    saved = []
    for path in paths:
        with open(path, "rb") as f:
            saved.append(f.read())
        assert not rec.load(saved[-1], path)["jobs"].upgrade
    assert saved[0] == saved[1] and saved[0].count(b"\n") == 5 + 2
    assert sync(lap, clu.path).actions == []


@given(jobs_st, project_docs, jobs_st, project_docs, st.booleans())
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_record_patch_gives_the_new_record_back(old_jobs, old_doc, new_jobs, new_doc, mix):
    """diff then patched rebuild the new record's bytes from the old ones exactly, whatever
    was added, changed and removed (issue #18: the far side is sent only what changed)."""
    if mix:  # the common case: most jobs the same on both
        new_jobs = {**old_jobs, **new_jobs}
    old = rec.encode({"project_doc": old_doc, "jobs": old_jobs})
    new = rec.encode({"project_doc": new_doc, "jobs": new_jobs})
    removed, at, lines = rec.diff(old, new)
    assert rec.patched(old, removed, at, lines) == new
    rec.check_lines(lines, "rec.json")
    # lines the two hold in common are not sent
    assert not set(lines) & set(old.split(b"\n"))


def test_a_record_patch_out_of_order_or_range_is_refused():
    old = rec.encode({"project_doc": None, "jobs": {"a" * 32: {"files": {}, "doc": {}}}})
    n = len(old.split(b"\n"))
    for removed, at, lines in (([1, 0], [], []), ([n], [], []), ([-1], [], []),
                               ([], [0, 0], [b"x", b"y"]), ([], [n + 1], [b"x"]),
                               ([], [0], []), ({0: 1}, [], []), ([True], [], [])):
        with pytest.raises(ValueError):
            rec.patched(old, removed, at, lines)


def test_a_record_patch_with_a_line_that_is_not_an_entry_is_refused(tmp_path):
    """The far side checks the lines it is sent as it checks a whole record (JSON, one job's
    entry each) and writes nothing when one is not; a patch onto another record, or whose
    result is not the digest named, is answered False: the whole record must follow."""
    from sync.replica import record_digest

    project = suite.init_project(tmp_path / "p")
    replica = Replica(project.path)
    peer = "b" * 32
    record = {"project_doc": None, "jobs": {"a" * 32: {"files": {}, "doc": {"x": 1}}}}
    replica.save_record(peer, record)
    path = tmp_path / "p" / layout.SUITE_DIR / "sync" / f"{peer}.json"
    old = path.read_bytes()
    good = rec.encode({"project_doc": None, "jobs": {**record["jobs"],
                                                     "c" * 32: {"files": {}, "doc": {}}}})
    removed, at, lines = rec.diff(old, good)
    base, digest = record_digest(old), record_digest(good)
    assert replica.patch_record(peer, "0" * 64, digest, removed, at, lines) is False
    assert replica.patch_record(peer, base, "0" * 64, removed, at, lines) is False
    assert replica.patch_record(peer, base, digest, [len(old)], at, lines) is False
    assert path.read_bytes() == old
    bad = old.replace(b'{"x": 1}', b'{"x": 1')
    removed, at, lines = rec.diff(old, bad)
    with pytest.raises(CorruptFileError, match=str(path)):
        replica.patch_record(peer, base, record_digest(bad), removed, at, lines)
    assert path.read_bytes() == old
    assert replica.patch_record(peer, base, digest, *rec.diff(old, good)) is True
    assert path.read_bytes() == good
    os.unlink(path)  # no record there: the whole one must go
    assert replica.patch_record(peer, base, digest, *rec.diff(old, good)) is False


def _reference(jobs, project_doc):
    """The record's bytes by their definition (sync.record's module docstring): the other
    keys on the first line, one job a line in id order, by json.dumps."""
    head = json.dumps({"project_doc": project_doc}, allow_nan=True)[:-1] + ', "jobs": {\n'
    lines = [f'"{j}": {json.dumps(jobs[j], allow_nan=True)}' for j in sorted(jobs)]
    return (head + ",\n".join(lines) + ("\n" if lines else "") + "}}\n").encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs_st, project_docs, st.lists(ids, max_size=4), st.booleans(), edits)
def test_a_record_encoded_from_held_lines_is_the_definitions_bytes(jobs, project_doc, cuts,
                                                                   resumed, changes):
    """A first sync (nothing held) or one resumed (the lines of a saved record held, the
    ids below the first cut) goes through the ids a range at a time, holding each range's
    entries as lines (RecordJobs.hold_as_bytes); saved between the ranges and at the end,
    after entries set and deleted among the lines held, the record is byte for byte what
    its definition gives (the encoder joins the held lines as views, not copies)."""
    cuts = sorted(set(cuts))
    bounds = list(zip(["", *cuts], [*cuts, None], strict=True))
    first = cuts[0] if cuts else None
    model = {j: e for j, e in jobs.items() if resumed and first is not None and j < first}
    if model:
        held = _load(_reference(model, project_doc))["jobs"]
    else:
        held = rec.RecordJobs.from_dict({})
    record = {"project_doc": project_doc, "jobs": held}
    for lo, hi in bounds:
        for job_id in sorted(jobs):
            if job_id not in model and lo <= job_id and (hi is None or job_id < hi):
                held[job_id] = model[job_id] = jobs[job_id]
        held.hold_as_bytes(lo, hi)
        assert rec.encode(record) == _reference(model, project_doc)
    for what, job_id, entry in changes:
        if what == "set":
            held[job_id] = model[job_id] = entry
        elif what == "del":
            held.pop(job_id, None)
            model.pop(job_id, None)
        held.hold_as_bytes("", None)
        assert rec.encode(record) == _reference(model, project_doc)
    assert _plain(held) == model
    assert rec.encode({"jobs": dict(model), "project_doc": project_doc}) == \
        _reference(model, project_doc)
    assert rec.encode({"jobs": model}) == _reference(model, None).replace(
        b'{"project_doc": null, ', b"{", 1)
