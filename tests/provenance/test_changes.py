"""Which files a record lists: created, modified, removed, renamed, also when size and
modification time do not change, in flat and nested job directories, and when the operation
fails."""

import hashlib
import os
import textwrap

import pytest

import suite
from suite.flow import Runner, load_workflow
from suite.provenance import records

WORKFLOW = textwrap.dedent('''
    import os

    from suite.flow import Workflow

    class Changes(Workflow):
        pass

    def rewrite(path, data):
        """Rewrite ``path`` in place (same inode) and give it back its modification time,
        as `cp -p`, `tar` or a file system with coarse timestamps would."""
        st = os.stat(path)
        with open(path, "r+b") as f:
            f.write(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    @Changes.operation
    def same_size(job):
        rewrite(job.fn("data.txt"), job.doc.get("next", "BBBB").encode())

    @Changes.operation
    def shuffle(job):
        with open(job.fn("scratch.tmp"), "w") as f:  # created and deleted: never an output
            f.write("x")
        os.remove(job.fn("scratch.tmp"))
        os.rename(job.fn("data.txt"), job.fn("moved.txt"))  # same inode, size and mtime
        os.remove(job.fn("gone.txt"))

    @Changes.operation
    def nested_same_size(job):
        rewrite(job.fn("sub/deep/data.txt"), b"BBBB")
        with open(job.fn("sub/new.txt"), "w") as f:
            f.write("new")

    @Changes.operation
    def chmod_only(job):
        os.chmod(job.fn("data.txt"), 0o600)

    @Changes.operation
    def odd_text(job):
        with open(job.fn('na\\u00efve "q"\\n.txt'), "w") as f:
            f.write("odd")
        with open(os.path.join(os.fsencode(job.path), b"\\xff.bin"), "wb") as f:
            f.write(b"raw")
        raise ValueError('said "no"\\n\\tthen \\u00fcn\\u00efcode \\\\ \\u2603')

    @Changes.operation
    def old_stamps(job):
        # a new file stamped long before the run (`cp -p`, `tar -x`), an existing one replaced
        # by rename with a file of the same size and stamp, one deleted and made again with
        # the same bytes and stamp (a file system may give it the same inode number)
        path = job.fn("copied.txt")
        with open(path, "w") as f:
            f.write("copy")
        os.utime(path, ns=(10**18, 10**18))
        with open(job.fn("swap.tmp.new"), "w") as f:
            f.write("ZZZZ")
        os.utime(job.fn("swap.tmp.new"), ns=(10**18, 10**18))
        os.replace(job.fn("swap.tmp.new"), job.fn("swap.txt"))
        os.remove(job.fn("again.txt"))
        with open(job.fn("again.txt"), "w") as f:
            f.write("AAAA")
        os.utime(job.fn("again.txt"), ns=(10**18, 10**18))

    @Changes.operation
    def half_done(job):
        with open(job.fn("partial.txt"), "w") as f:
            f.write("part")
        raise RuntimeError("stopped half way")
''')


@pytest.fixture
def proj(tmp_path):
    p = suite.init_project(tmp_path / "project")
    p.open_job({"x": 1}).init()
    with open(p.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    return p


def sha(data):
    return hashlib.sha256(data).hexdigest()


def listed(proj, operation):
    (rec,) = records(proj, operation=operation)
    return rec, {f["path"]: f for f in rec.files}


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def test_same_size_same_mtime_rewrite_is_listed_with_its_new_hash(proj):
    job = next(iter(proj))
    write(job.fn("data.txt"), b"AAAA")
    os.utime(job.fn("data.txt"), ns=(10**18, 10**18))  # an old file, long before the run
    Runner(load_workflow(proj), proj).run(["same_size"])
    _, files = listed(proj, "same_size")
    assert files == {"data.txt": {"job": job.id, "path": "data.txt", "size": 4,
                                  "sha256": sha(b"BBBB")}}


def test_rewrite_in_the_same_clock_tick_as_the_file_before(proj):
    # written just before the run and rewritten (same size, same mtime) by the operation: the
    # change time may fall in the same tick of the file system's clock as the write before
    # it, so the stat alone cannot tell; every record must still list the file
    job = next(iter(proj))
    runner = Runner(load_workflow(proj), proj)
    op = runner.operation("same_size")
    for i in range(40):
        job.doc["next"] = f"{i:04d}"
        write(job.fn("data.txt"), b"AAAA")
        runner.execute(op, (job,))
    with runner.log.background():
        pass
    found = records(proj, operation="same_size")
    assert len(found) == 40
    for i, rec in enumerate(found):
        files = {f["path"]: f.get("sha256") for f in rec.files}
        assert files.get("data.txt") == sha(f"{i:04d}".encode()), i


def test_created_deleted_renamed_within_one_operation(proj):
    job = next(iter(proj))
    write(job.fn("data.txt"), b"AAAA")
    write(job.fn("gone.txt"), b"AAAA")
    Runner(load_workflow(proj), proj).run(["shuffle"])
    _, files = listed(proj, "shuffle")
    assert files == {
        "moved.txt": {"job": job.id, "path": "moved.txt", "size": 4, "sha256": sha(b"AAAA")},
        "data.txt": {"job": job.id, "path": "data.txt", "removed": True},
        "gone.txt": {"job": job.id, "path": "gone.txt", "removed": True}}


def test_nested_directories_same_size_rewrite_and_new_file(proj):
    job = next(iter(proj))
    write(job.fn("sub/deep/data.txt"), b"AAAA")
    os.utime(job.fn("sub/deep/data.txt"), ns=(10**18, 10**18))
    write(job.fn("sub/keep.txt"), b"keep")
    Runner(load_workflow(proj), proj).run(["nested_same_size"])
    _, files = listed(proj, "nested_same_size")
    assert files == {
        "sub/deep/data.txt": {"job": job.id, "path": "sub/deep/data.txt", "size": 4,
                              "sha256": sha(b"BBBB")},
        "sub/new.txt": {"job": job.id, "path": "sub/new.txt", "size": 3,
                        "sha256": sha(b"new")}}


def test_a_failed_operation_lists_what_it_wrote(proj):
    job = next(iter(proj))
    Runner(load_workflow(proj), proj).run(["half_done"])
    rec, files = listed(proj, "half_done")
    assert rec.status == "failure" and "stopped half way" in rec.error
    assert files == {"partial.txt": {"job": job.id, "path": "partial.txt", "size": 4,
                                     "sha256": sha(b"part")}}


def test_a_permission_change_alone_lists_the_file_with_its_unchanged_hash(proj):
    job = next(iter(proj))
    write(job.fn("data.txt"), b"AAAA")
    write(job.fn("other.txt"), b"CCCC")
    Runner(load_workflow(proj), proj).run(["chmod_only"])
    _, files = listed(proj, "chmod_only")
    assert files == {"data.txt": {"job": job.id, "path": "data.txt", "size": 4,
                                  "sha256": sha(b"AAAA")}}


def test_text_fields_keep_quotes_newlines_and_any_character(proj):
    # the record line is put together by hand (not json.dumps of a dict): what JSON must
    # escape comes back as it was, in the error, the traceback and the file names
    job = next(iter(proj))
    Runner(load_workflow(proj), proj).run(["odd_text"])
    rec, files = listed(proj, "odd_text")
    message = 'said "no"\n\tthen \u00fcn\u00efcode \\ \u2603'
    assert rec.status == "failure" and rec.error == f"ValueError: {message}"
    assert rec.traceback.rstrip().endswith(f"ValueError: {message}")
    assert rec.jobs == [job.id] and rec.operation == "odd_text"
    assert abs(rec.duration - (rec.end - rec.start)) < 1e-9
    undecodable = os.fsdecode(b"\xff.bin")  # a lone surrogate: JSON keeps it escaped
    assert files == {
        'na\u00efve "q"\n.txt': {"job": job.id, "path": 'na\u00efve "q"\n.txt', "size": 3,
                                "sha256": sha(b"odd")},
        undecodable: {"job": job.id, "path": undecodable, "size": 3, "sha256": sha(b"raw")}}
    with open(job.fn("suite_flow_log.jsonl"), "rb") as f:
        assert all(line.isascii() for line in f)  # as json.dumps wrote it


def test_new_replaced_and_recreated_files_with_old_stamps_are_listed(proj):
    # what a rule by times alone would miss: each file's modification time is from 2001
    job = next(iter(proj))
    write(job.fn("swap.txt"), b"AAAA")
    write(job.fn("again.txt"), b"AAAA")
    write(job.fn("still.txt"), b"SSSS")
    for name in ("swap.txt", "again.txt", "still.txt"):
        os.utime(job.fn(name), ns=(10**18, 10**18))
    Runner(load_workflow(proj), proj).run(["old_stamps"])
    _, files = listed(proj, "old_stamps")
    assert files == {
        "copied.txt": {"job": job.id, "path": "copied.txt", "size": 4, "sha256": sha(b"copy")},
        "swap.txt": {"job": job.id, "path": "swap.txt", "size": 4, "sha256": sha(b"ZZZZ")},
        "again.txt": {"job": job.id, "path": "again.txt", "size": 4, "sha256": sha(b"AAAA")}}
