"""The scan after hashes a file suite's own writer wrote in this process from the bytes in hand
(no read back) only while the file's signature (size, mtime, ctime, inode: the rule by which
the scans tell a file unchanged) is the one the writer saw after its rename. Whatever an
operation does to the file after suite wrote it, the record holds the hash of what is on disk;
the C scan and its Python reference agree on any map of written bytes, odd ones included."""

import hashlib
import os
import shutil
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suite
from suite import jsonio, layout, native
from suite.flow import Runner, load_workflow
from suite.provenance import capture, records
from tests.provenance.conftest import other_thread

WORKFLOW = textwrap.dedent('''
    import os
    import shutil

    from suite.flow import Workflow

    class Written(Workflow):
        pass

    def doc_file(job):
        return job.fn("signac_job_document.json")

    @Written.operation
    def plain(job):
        job.doc.v = "aaaa"

    @Written.operation
    def same_tick_rewrite(job):
        job.doc.v = "aaaa"
        with open(doc_file(job), "r+b") as f:  # in place, the same size, at once
            data = f.read().replace(b"aaaa", b"bbbb")
            f.seek(0)
            f.write(data)
            f.truncate()

    @Written.operation
    def rewrite_keeping_mtime(job):
        job.doc.v = "aaaa"
        st = os.stat(doc_file(job))
        with open(doc_file(job), "r+b") as f:
            data = f.read().replace(b"aaaa", b"cccc")
            f.seek(0)
            f.write(data)
            f.truncate()
        os.utime(doc_file(job), ns=(st.st_atime_ns, st.st_mtime_ns))

    @Written.operation
    def delete(job):
        job.doc.v = "aaaa"
        os.remove(doc_file(job))

    @Written.operation
    def rename(job):
        job.doc.v = "aaaa"
        os.rename(doc_file(job), job.fn("moved.json"))

    @Written.operation
    def replace_by_other(job):
        job.doc.v = "aaaa"
        with open(job.fn("other.json"), "wb") as f:  # the same size, another inode
            f.write(open(doc_file(job), "rb").read().replace(b"aaaa", b"dddd"))
        os.replace(job.fn("other.json"), doc_file(job))

    @Written.operation
    def new_directory(job):
        # a reset: the job directory moved aside, a new one made at its path holding the
        # document's inode (a hard link: size, mtime and inode are the writer's)
        job.doc.v = "aaaa"
        aside = job.path + ".old"
        os.rename(job.path, aside)
        os.mkdir(job.path)
        shutil.copy(os.path.join(aside, "signac_statepoint.json"), job.path)
        os.link(os.path.join(aside, "signac_job_document.json"), doc_file(job))
''')

OPERATIONS = ("plain", "same_tick_rewrite", "rewrite_keeping_mtime", "delete", "rename",
              "replace_by_other", "new_directory")


@pytest.fixture
def proj(tmp_path):
    p = suite.init_project(tmp_path / "project")
    for i in range(12):
        p.open_job({"x": i}).init()
    with open(p.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    return p


def sha(data):
    return hashlib.sha256(data).hexdigest()


def on_disk(job):
    """{name: sha256} of the job's files but the log and the state point."""
    out = {}
    for name in os.listdir(job.path):
        if name not in (layout.FLOW_LOG, layout.STATEPOINT):
            with open(os.path.join(job.path, name), "rb") as f:
                out[name] = sha(f.read())
    return out


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_record_holds_what_is_on_disk(proj, operation, monkeypatch):
    monkeypatch.setattr(jsonio, "written", None)
    monkeypatch.setenv(capture.SWITCH, "on")
    Runner(load_workflow(proj), proj).run([operation])
    for job in proj:
        (rec,) = records(proj, ids=[job.id], operation=operation)
        listed = {f["path"]: f["sha256"] for f in rec.files if not f.get("removed")}
        assert listed == on_disk(job), (operation, job.id)
        assert all(f["size"] == os.path.getsize(job.fn(f["path"]))
                   for f in rec.files if not f.get("removed"))


def test_the_writer_leaves_its_bytes_and_the_signature_after_its_rename(proj, monkeypatch):
    # the signature must be the file's as the scan after sees it (the change time after the
    # rename): else the shortcut would never apply
    monkeypatch.setattr(jsonio, "written", None)
    monkeypatch.setattr(capture, "_written", [])
    capture.Capture(proj.path, enabled=True)
    job = next(iter(proj))
    job.doc.v = 1
    path = job.fn(layout.DOCUMENT)
    ((where, data, st),) = capture._written
    assert where == path
    with open(path, "rb") as f:
        assert data == f.read()
    assert capture._sig(st) == capture._sig(os.lstat(path))


def test_records_off_leave_no_bytes_and_the_list_is_bounded(proj, monkeypatch):
    monkeypatch.setattr(jsonio, "written", None)
    monkeypatch.setattr(capture, "_written", [])
    capture.Capture(proj.path, enabled=False)
    job = next(iter(proj))
    job.doc.v = 1
    assert capture._written == []
    capture.Capture(proj.path, enabled=True)
    job.doc.big = "x" * jsonio.WRITTEN_BYTES  # a large write's bytes are not held
    assert capture._written == []
    del job.doc.big
    capture._written.clear()
    for i in range(jsonio.WRITTEN_MAX + 10):  # writes outside any execution: kept up to a bound
        job.doc.v = i
    assert len(capture._written) == jsonio.WRITTEN_MAX
    assert jsonio.WRITTEN_BYTES == capture.CHUNK  # what the scan would take


class Stat:
    """What the scan takes of an ``os.stat_result``."""

    def __init__(self, sig):
        self.st_size, self.st_mtime_ns, self.st_ctime_ns, self.st_ino = sig


def stat_result(sig):
    """An ``os.stat_result`` (the type the writer hands over) holding ``sig``'s four fields
    (any values: the C scan reads them from the items where it can)."""
    n = os.stat_result.n_fields
    probe = os.stat_result(range(10**6, 10**6 + n))  # item i holds 10**6 + i
    values = [0] * n
    for field, value in zip(("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino"), sig,
                            strict=True):
        values[getattr(probe, field) - 10**6] = value
    return os.stat_result(values)


def scans():
    """The scan after in C (where built) and its Python reference."""
    out = [capture.flat_changes_text_python]
    if native.load("suite.provenance._capture") is not None:
        out.append(capture.flat_changes_text)
    return out


def test_bytes_in_hand_are_hashed_only_while_the_signature_holds(tmp_path):
    # proves the shortcut is taken (other bytes than the file's, with its signature: their
    # hash) and refused when the signature moved (the file's own hash)
    path = tmp_path / "doc.json"
    path.write_bytes(b'{"v": 1}')
    sig = capture._sig(os.lstat(path))
    for scan in scans():
        for old in ({}, {"doc.json": (0, 0, 0, 0)}, {"doc.json": [0]}):  # new, changed, odd
            got = scan("j", str(tmp_path), dict(old), [(str(path), b"XYZ", os.lstat(path))])
            assert sha(b"XYZ") in got and '"size": 8' in got, (scan, old)
        # the last write of a name counts; another directory's file is not this one's
        got = scan("j", str(tmp_path), {}, [(str(path), b"XYZ", Stat(sig)),
                                            (str(path), b"ABC", Stat(sig)),
                                            (str(tmp_path / "x" / "doc.json"), b"Q", Stat(sig))])
        assert sha(b"ABC") in got
        moved = (sig[0], sig[1], sig[2] + 1, sig[3])
        got = scan("j", str(tmp_path), {}, [(str(path), b"XYZ", Stat(moved))])
        assert sha(b'{"v": 1}') in got
        os.utime(path, ns=(sig[1], sig[1]))  # the same mtime set again: the ctime moves
        got = scan("j", str(tmp_path), {}, [(str(path), b"XYZ", Stat(sig))])
        assert sha(b'{"v": 1}') in got
        sig = capture._sig(os.lstat(path))


# what the list of written files may hold: the file's bytes or others, its signature or
# another, items of the wrong shape, paths elsewhere (all but the right ones are left out)
SIG = st.sampled_from(["real", "other", "float", "huge", "missing"])
DATA = st.sampled_from([b"", b"XYZ", b"real", bytearray(b"x"), b"x" * (capture.CHUNK + 1)])
NAMES = st.sampled_from(["a.json", "b", "é.txt", os.fsdecode(b"\xff.bin"), "gone"])
WHERE = st.sampled_from(["here", "sub", "other", "odd"])
ITEM = st.one_of(st.tuples(WHERE, NAMES, DATA, SIG),
                 st.sampled_from([None, 5, "text", (b"x",), ["p", b"x", None]]))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.dictionaries(NAMES.filter(lambda n: n != "gone"), st.binary(max_size=40),
                             max_size=4),
       items=st.lists(ITEM, max_size=6), olds=st.booleans(), odd_old=st.booleans(),
       kind_of_st=st.sampled_from(["attributes", "stat_result"]),
       threads=st.booleans())
def test_c_and_python_agree_on_any_written_list(tmp_path_factory, files, items, olds, odd_old,
                                                kind_of_st, threads):
    # kind_of_st: the signature from an os.stat_result's items, or by attribute; threads:
    # another thread alive (the scan then releases the interpreter lock around its calls)
    if len(scans()) < 2:
        pytest.skip("the C module is not built")
    root = tmp_path_factory.mktemp("w")
    old = {}
    for name, data in files.items():
        with open(os.path.join(os.fsencode(root), os.fsencode(name)), "wb") as f:
            f.write(data)
        if olds:  # a scan before that knew it (with another signature: changed)
            old[name] = (0, 0, 0, 0) if not odd_old else [0]
    written = []
    for item in items:
        if not (type(item) is tuple and len(item) == 4):
            written.append(item)
            continue
        where, name, data, kind = item
        try:
            sig = capture._sig(os.lstat(os.path.join(os.fsencode(root), os.fsencode(name))))
        except FileNotFoundError:
            sig = (1, 2, 3, 4)
        sig = {"real": sig, "other": (sig[0], sig[1], sig[2], sig[3] + 1),
               "float": (sig[0], float(sig[1]), sig[2], sig[3]),
               "huge": (sig[0], sig[1], sig[2], 2**64 + sig[3]), "missing": None}[kind]
        path = {"here": os.path.join(str(root), name), "sub": os.path.join(str(root), "s", name),
                "other": os.path.join(str(root) + "x", name), "odd": str(root) + os.sep}[where]
        make = {"attributes": Stat, "stat_result": stat_result}[kind_of_st]
        written.append((path, data, object() if sig is None else make(sig)))
    python, native_scan = scans()
    want = python("j", str(root), dict(old), list(written))
    with other_thread(threads):
        assert native_scan("j", str(root), dict(old), list(written)) == want
    shutil.rmtree(root)


def test_stat_results_are_read_by_item_as_by_attribute(tmp_path):
    # the writer's os.stat_result is read from its items (where the module found them at
    # import); what the file's lstat gives by attribute must be what they hold
    mod = native.load("suite.provenance._capture")
    if mod is None:
        pytest.skip("the C module is not built")
    if sys.implementation.name == "cpython":
        assert mod.STAT_ITEMS is not None
    path = tmp_path / "doc.json"
    path.write_bytes(b'{"v": 1}')
    real = os.lstat(path)
    for given_st in (real, stat_result(capture._sig(real)), Stat(capture._sig(real))):
        assert sha(b"XYZ") in capture.flat_changes_text("j", str(tmp_path), {},
                                                        [(str(path), b"XYZ", given_st)])
    moved = stat_result((real.st_size, real.st_mtime_ns, real.st_ctime_ns, real.st_ino + 1))
    assert sha(b'{"v": 1}') in capture.flat_changes_text("j", str(tmp_path), {},
                                                         [(str(path), b"XYZ", moved)])
