"""An operation without postconditions is complete once it succeeded, by the job's log; status
and run learn that from what the log gained since they last read it (the cache
``.suite/flow/succeeded.sqlite``), not from the job's whole history (issue #17/#18). The cache
must agree with a whole read whatever happened to the log in between."""

import itertools
import json
import os
import subprocess
import sys
import textwrap

import pytest

from suite.flow import Runner, load_workflow
from suite.flow.provenance import completed_operations
from suite.flow.succeeded import CACHE
from suite.provenance.logs import read_log

LOG = "suite_flow_log.jsonl"
WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class W(Workflow):
        pass

    @W.operation
    def first(job):
        pass

    @W.pre.succeeded(first)
    @W.operation
    def second(job):
        pass

    @W.operation
    def third(job):
        pass
''')
OPS = ("first", "second", "third")
# starts that go up, down and repeat: which record is the latest must be chosen, ties included
STARTS = itertools.cycle([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0])


@pytest.fixture
def proj(project):
    for a in range(3):
        project.open_job({"a": a}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    return project


def runner(proj):
    return Runner(load_workflow(proj), proj)


def line(job, op, status="success", old=False):
    """A record line as suite writes it (``old``: as versions before record ids wrote it)."""
    start = next(STARTS)
    rec = {"operation": op, "jobs": [job.id], "start": start, "end": start + 1, "status": status,
           "host": "h", "suite_version": "0.1"}
    if not old:
        rec.update(id=os.urandom(16).hex(), user="u", environment="0" * 16, files=[])
    return (json.dumps(rec, sort_keys=True) + "\n").encode()


def append(job, data):
    with open(job.fn(LOG), "ab") as f:
        f.write(data)


def complete_counts(r):
    return {n: c["complete"] for n, c in r.status().operations.items()}


def expected_counts(proj):
    done = [completed_operations(j) for j in proj]
    return {n: sum(n in d for d in done) for n in OPS}


def time(start):
    return start if isinstance(start, int | float) else 0  # "noon" orders as no start


def expected_last(proj, ids):
    """Each operation's latest record by a whole read of every log (in the order ``ids``; of
    equal starts the first), as status shows it."""
    found = {}
    for job_id in ids:
        for rec in read_log(os.path.join(proj.workspace, job_id, LOG))[0]:
            op = rec.operation
            if op and (op not in found or time(rec.start) > time(found[op].start)):
                found[op] = rec
    return {op: {"id": r.id, "status": r.status, "start": r.start, "end": r.end,
                 "jobs": r.jobs} for op, r in found.items() if op in OPS}


def agrees(proj):
    """A new runner's status (as a new `suite status` sees it) equals a whole read of every
    log, the last-execution column included; returns that runner."""
    r = runner(proj)
    assert complete_counts(r) == expected_counts(proj)
    for job in proj:
        assert r.succeeded.of(job) == completed_operations(job)
    out = r.status(last=True)  # rows checked for `of` alone, now read for their records
    assert out.last == expected_last(proj, out.jobs.ids)
    out = runner(proj).status(last=True)  # rows as the file keeps them
    assert out.last == expected_last(proj, out.jobs.ids)
    return r


def test_status_does_not_read_a_long_history_again(proj):
    job = proj.open_job({"a": 0})
    append(job, b"".join(line(job, "third") for _ in range(3000)))  # 3,000 runs
    size = os.path.getsize(job.fn(LOG))
    assert size > 500_000
    r = runner(proj)
    assert complete_counts(r)["third"] == 1
    assert r.succeeded.bytes_read == size  # once, whole
    r = runner(proj)
    assert complete_counts(r)["third"] == 1
    assert r.succeeded.bytes_read == 0  # unchanged: a stat
    append(job, line(job, "first"))
    r = runner(proj)
    assert complete_counts(r) == {"first": 1, "second": 0, "third": 1}
    assert r.succeeded.bytes_read < 2000  # the last line read before, and the new one
    assert os.path.exists(proj.fn(CACHE))


def test_run_reads_the_new_records_only(proj):
    job = proj.open_job({"a": 0})
    append(job, b"".join(line(job, "third") for _ in range(2000)))
    runner(proj).status()
    r = runner(proj)
    done = r.run(ops=["first", "second"], num_passes=2)
    # second waits for first's record, written in the first pass and read in the second
    assert sorted(op for op, _, _ in done) == ["first"] * 3 + ["second"] * 3
    assert r.succeeded.bytes_read < 20_000
    agrees(proj)


def test_agrees_after_appends_old_records_and_corrupt_lines(proj):
    jobs = list(proj)
    agrees(proj)
    append(jobs[0], line(jobs[0], "first", old=True))  # an older version's record
    append(jobs[1], line(jobs[1], "first", status="failure") + b"not json\n"
           + b'\xff\xfe{"status": "success"}\n' + b"[1, 2]\n")
    agrees(proj)
    append(jobs[1], line(jobs[1], "second"))
    append(jobs[2], b'{"blob": "env-0000000000000000", "data": {}}\n' + line(jobs[2], "third"))
    r = agrees(proj)
    assert complete_counts(r) == {"first": 1, "second": 1, "third": 1}


def test_agrees_after_a_sync_replaces_the_log(proj):
    job = proj.open_job({"a": 0})
    append(job, line(job, "first") + line(job, "third"))
    agrees(proj)
    with open(job.fn(LOG), "rb") as f:
        ours = f.read().splitlines(keepends=True)
    # the union of the two copies' lines, theirs first: a new file renamed over the log
    merged = [line(job, "second")] + ours
    tmp = job.fn(".suite-tmp-log")
    with open(tmp, "wb") as f:
        f.write(b"".join(merged))
    os.replace(tmp, job.fn(LOG))
    r = agrees(proj)
    assert r.succeeded.of(job) == {"first", "second", "third"}


def test_a_log_rewritten_in_place_is_read_whole(proj):
    job = proj.open_job({"a": 0})
    append(job, line(job, "first") + line(job, "third"))
    agrees(proj)
    with open(job.fn(LOG), "r+b") as f:  # the same inode, other lines, longer
        f.write(line(job, "second") * 3)
    r = agrees(proj)
    assert r.succeeded.of(job) == {"second"}


def test_agrees_after_truncation(proj):
    job = proj.open_job({"a": 0})
    append(job, line(job, "first"))
    keep = os.path.getsize(job.fn(LOG))
    append(job, line(job, "third") * 5)
    agrees(proj)
    os.truncate(job.fn(LOG), keep)
    r = agrees(proj)
    assert r.succeeded.of(job) == {"first"}


def test_a_cut_last_line_is_counted_once_it_is_whole(proj):
    job = proj.open_job({"a": 0})
    append(job, line(job, "first"))
    agrees(proj)
    whole = line(job, "third")
    append(job, whole[:40])  # a write seen half way (or cut short by a kill)
    r = agrees(proj)
    assert "third" not in r.succeeded.of(job)
    r = agrees(proj)  # unchanged since: the cut line is still not taken as read
    append(job, whole[40:])
    r = agrees(proj)
    assert r.succeeded.of(job) == {"first", "third"}


def test_a_last_line_without_its_newline_counts_as_a_whole_read_counts_it(proj):
    job = proj.open_job({"a": 0})
    append(job, line(job, "first").rstrip(b"\n"))
    r = agrees(proj)
    assert r.succeeded.of(job) == {"first"}
    append(job, b"\n" + line(job, "third"))
    agrees(proj)


def test_a_corrupt_cache_file_is_ignored_and_rebuilt(proj):
    job = proj.open_job({"a": 0})
    append(job, line(job, "first"))
    agrees(proj)
    with open(proj.fn(CACHE), "wb") as f:
        f.write(b"not a database" * 100)
    agrees(proj)
    import sqlite3

    db = sqlite3.connect(proj.fn(CACHE))
    assert db.execute("SELECT count(*) FROM logs").fetchone()[0] == 1  # rebuilt
    db.close()
    size = os.path.getsize(proj.fn(CACHE))
    assert size > 4096
    with open(proj.fn(CACHE), "r+b") as f:  # a database whose pages after the first are junk
        f.seek(4096)
        f.write(b"\xa5" * (size - 4096))
    append(job, line(job, "third"))
    agrees(proj)
    agrees(proj)


def test_cache_rows_that_do_not_check_are_not_trusted(proj):
    import sqlite3

    job = proj.open_job({"a": 0})
    append(job, line(job, "first"))
    agrees(proj)
    db = sqlite3.connect(proj.fn(CACHE))
    # a row claiming "third" whose last line is not the log's: found out once the log grows
    db.execute("UPDATE logs SET ops = ?, crc = crc + 1", (json.dumps(["third"]),))
    db.commit()
    append(job, line(job, "second"))
    agrees(proj)
    db.execute("UPDATE logs SET ops = 'not json', offset = -5")
    db.commit()
    agrees(proj)
    db.execute("DROP TABLE logs")
    db.commit()
    agrees(proj)
    assert db.execute("SELECT count(*) FROM logs").fetchone()[0] == 1  # made again (one job has a log)
    db.execute("ALTER TABLE logs RENAME COLUMN crc TO other")
    db.commit()
    agrees(proj)
    assert db.execute("SELECT count(*) FROM logs").fetchone()[0] == 1
    db.close()


def test_cli_status(proj):
    job = proj.open_job({"a": 0})
    append(job, line(job, "third") * 500)
    out = subprocess.run(["suite", "status"], cwd=proj.path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert _row(out.stdout, "third") == ["2", "0", "0", "1"]
    assert os.path.exists(proj.fn(CACHE))
    append(job, line(job, "first"))
    out = subprocess.run(["suite", "status"], cwd=proj.path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert _row(out.stdout, "first") == ["2", "0", "0", "1"]
    assert _row(out.stdout, "second") == ["1", "0", "0", "0"]
    with open(proj.fn(CACHE), "wb") as f:
        f.write(b"\0" * 4096)
    out = subprocess.run(["suite", "status"], cwd=proj.path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert _row(out.stdout, "first") == ["2", "0", "0", "1"]


def _row(text, op):
    for row in text.splitlines():
        if row.split()[:1] == [op]:
            return row.split()[1:]
    raise AssertionError(f"no row {op} in {text}")


WORKER = textwrap.dedent('''
    import json, os, sys
    import suite
    from suite.flow import Runner, load_workflow
    proj = suite.get_project(sys.argv[1])
    tag = sys.argv[2]
    flow = load_workflow(proj)
    for k in range(40):
        for job in proj:
            rec = {"operation": f"{tag}{k % 7}", "jobs": [job.id], "status": "success"}
            with open(job.fn("suite_flow_log.jsonl"), "ab") as f:
                f.write((json.dumps(rec) + "\\n").encode())
        Runner(flow, proj).status()
''')


def test_two_processes_updating_at_once(proj):
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, proj.path, tag],
                              stderr=subprocess.PIPE, text=True) for tag in ("p", "q")]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    r = agrees(proj)
    assert all(len(r.succeeded.of(j)) == 14 for j in proj)
    assert r.succeeded.bytes_read < sum(os.path.getsize(j.fn(LOG)) for j in proj)


FLOW_PROJECT = textwrap.dedent('''
    from suite.flow import FlowProject

    class P(FlowProject):
        pass

    @P.post.true("a")
    @P.operation
    def a(job):
        job.doc.a = True

    @P.pre.succeeded(a)
    @P.post.true("b")
    @P.operation
    def b(job):
        job.doc.b = True
''')


def test_flow_project_status_and_run(proj, tmp_path):
    import importlib.util
    import io

    path = tmp_path / "flowproject.py"
    path.write_text(FLOW_PROJECT)
    spec = importlib.util.spec_from_file_location("flowproject_succeeded", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fp = mod.P.get_project(proj.path)
    job = fp.open_job({"a": 0})
    append(job, b"".join(line(job, "third") for _ in range(1000)) + line(job, "a"))
    out = io.StringIO()
    fp.print_status(file=out, all_ops=True)
    assert _row(out.getvalue(), "b") == ["1", "0", "0", "0"]
    assert os.path.exists(proj.fn(CACHE))
    other = fp.open_job({"a": 1})
    append(other, line(other, "a"))
    fp.run(names=["b"])
    assert sorted(j.sp.a for j in fp if j.doc.get("b")) == [0, 1]
    r = agrees(proj)
    assert r.succeeded.bytes_read == 0  # run's pass left the cache up to date


def test_a_group_run_in_parallel_threads(proj):
    with open(proj.fn("workflow.py"), "a") as f:
        f.write("\nboth = W.make_group('both')\nboth(first)\nboth(second)\n")
    for job in proj:
        append(job, line(job, "third") * 200)
    r = runner(proj)
    done = r.run(ops=["both"], parallel=3)  # each group's steps judged in a thread of its own
    assert sorted(status for _, _, status in done) == ["success"] * 3
    assert all(completed_operations(j) == {"first", "second", "third"} for j in proj)
    agrees(proj)


def test_rows_of_removed_jobs_are_dropped(project, monkeypatch):
    import sqlite3

    import suite.flow.succeeded as succeeded

    monkeypatch.setattr(succeeded, "BY_ID", 2)  # the whole file is loaded from 3 jobs on
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    for a in range(4):
        job = project.open_job({"a": a}).init()
        append(job, line(job, "first"))
    agrees(project)
    project.open_job({"a": 0}).remove()
    runner(project).status(ids=[project.open_job({"a": 1}).id])  # a selection: kept
    db = sqlite3.connect(project.fn(CACHE))
    assert db.execute("SELECT count(*) FROM logs").fetchone()[0] == 4
    agrees(project)
    assert db.execute("SELECT count(*) FROM logs").fetchone()[0] == 3
    db.close()


def test_the_last_execution_column_reads_only_new_bytes(proj):
    job = proj.open_job({"a": 0})
    append(job, b"".join(line(job, "third") for _ in range(3000)))
    size = os.path.getsize(job.fn(LOG))
    r = runner(proj)
    assert r.status(last=True).last["third"]["status"] == "success"
    assert r.succeeded.bytes_read == size  # once, whole
    r = runner(proj)
    last = r.status(last=True).last
    assert r.succeeded.bytes_read == 0  # unchanged: a stat
    assert last == expected_last(proj, [j.id for j in proj])
    new = line(job, "first", status="failure")
    append(job, new)
    r = runner(proj)
    last = r.status(last=True).last
    assert r.succeeded.bytes_read < 2000  # the last line read before, and the new one
    assert last["first"]["status"] == "failure"
    assert last["first"]["id"] == json.loads(new)["id"]


def test_aggregate_records_and_records_without_a_start(proj):
    jobs = list(proj)
    both = [j.id for j in jobs[:2]]
    aggregate = json.dumps({"id": "a" * 32, "operation": "second", "jobs": both, "start": 7.0,
                            "status": "success"}).encode() + b"\n"
    for job in jobs[:2]:  # each job of the aggregate keeps its record
        append(job, aggregate)
    append(jobs[2], b'{"operation": "second", "status": "failure"}\n')  # no start, no id
    append(jobs[2], b'{"operation": "first", "start": "noon", "status": "success"}\n')
    agrees(proj)
    last = runner(proj).status(last=True).last
    assert last["second"]["jobs"] == both and last["second"]["start"] == 7.0


def test_a_cache_of_the_previous_version_is_rebuilt_not_misread(proj):
    import sqlite3

    job = proj.open_job({"a": 0})
    append(job, line(job, "first"))
    st = os.stat(job.fn(LOG))
    os.makedirs(os.path.dirname(proj.fn(CACHE)), exist_ok=True)
    db = sqlite3.connect(proj.fn(CACHE))  # version 1: no records kept, and a row that lies
    db.executescript(
        "CREATE TABLE logs (id TEXT PRIMARY KEY, ino INTEGER, dev INTEGER, size INTEGER, "
        "ctime INTEGER, offset INTEGER, last INTEGER, crc INTEGER, ops TEXT) WITHOUT ROWID; "
        "PRAGMA user_version=1")
    db.execute("INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?)",
               (job.id, st.st_ino, st.st_dev, st.st_size, st.st_ctime_ns, st.st_size,
                json.dumps(["third"])))
    db.commit()
    r = agrees(proj)
    assert r.succeeded.of(job) == {"first"}
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.close()


def _flow_project(proj, tmp_path, name):
    import importlib.util

    path = tmp_path / f"{name}.py"
    path.write_text(FLOW_PROJECT)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.P, path


def test_flow_project_per_job_calls_read_each_log_once(proj, tmp_path):
    # signac-flow users loop `for job in project: project.get_job_status(job)`: the second
    # call (and the second loop) must not read a job's history again
    P, _ = _flow_project(proj, tmp_path, "flowproject_per_job")
    for job in proj:
        append(job, b"".join(line(job, "third") for _ in range(2000)) + line(job, "a"))
    sizes = sum(os.path.getsize(j.fn(LOG)) for j in proj)
    fp = P.get_project(proj.path)
    cache = fp.succeeded_cache
    first = [fp.get_job_status(j) for j in fp]
    done = [sorted(fp.completed_operations(j)) for j in fp]
    assert cache.bytes_read == sizes  # each log once, whole
    assert [fp.get_job_status(j) for j in fp] == first
    assert [sorted(fp.completed_operations(j)) for j in fp] == done
    assert cache.bytes_read == sizes  # unchanged logs: a stat each
    assert all(s["operations"]["b"]["eligible"] for s in first)  # pre.succeeded(a), by the log
    job = proj.open_job({"a": 0})
    append(job, line(job, "b", status="failure"))
    assert fp.get_job_status(job)["operations"]["b"]["eligible"]
    assert cache.bytes_read - sizes < 2000  # the last line read before, and the new one
    for j in proj:
        assert cache.of(j) == completed_operations(j)
    fresh = P.get_project(proj.path)  # another project object: the same answers
    assert [fresh.get_job_status(j) for j in fresh] == [fp.get_job_status(j) for j in fp]
    agrees(proj)


def test_flow_project_saves_what_it_learnt_at_exit(proj, tmp_path):
    _, path = _flow_project(proj, tmp_path, "flowproject_exit")
    for job in proj:
        append(job, b"".join(line(job, "third") for _ in range(500)) + line(job, "a"))
    script = textwrap.dedent(f'''
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("fp", {str(path)!r})
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        fp = mod.P.get_project({proj.path!r})
        print(sum(fp.get_job_status(j)["operations"]["b"]["eligible"] for j in fp))
    ''')
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "3"
    r = agrees(proj)  # the next process finds every log read
    assert r.succeeded.bytes_read == 0


def test_a_save_skipped_for_a_busy_lock_keeps_what_it_learnt_for_the_next(proj):
    """``save`` never waits for another writer: what it could not store stays in memory and the
    next save stores it (a long-lived FlowProject would otherwise lose it for good)."""
    import sqlite3

    for j in proj:
        append(j, line(j, "first"))
    r = runner(proj)
    r.status()  # learns every log and saves
    for j in proj:
        append(j, line(j, "third"))
    r.succeeded.of(next(iter(proj)))  # nothing yet: status reads them
    holder = sqlite3.connect(proj.fn(CACHE), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing the cache
    try:
        r.status()  # learns the new lines; its save is skipped
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    r.succeeded.save()  # the lock is free now: what was learnt is stored
    fresh = runner(proj)
    assert complete_counts(fresh) == expected_counts(proj)
    assert fresh.succeeded.bytes_read == 0  # every log's rows were stored: nothing re-read


def test_a_log_removed_between_its_stat_and_its_read_means_nothing_succeeded(proj, monkeypatch):
    """Another process removes the log (the job) after the stat, before the open: as with no
    log, nothing succeeded and no records show, rather than an error."""
    from suite.flow import succeeded

    job = proj.open_job({"a": 0})
    append(job, line(job, "first"))
    r = runner(proj)

    def open_after_removal(path, *a, **kw):
        os.unlink(path)  # what the other process did in between
        return open(path, *a, **kw)

    monkeypatch.setattr(succeeded, "open", open_after_removal, raising=False)
    assert r.succeeded.of(job) == frozenset()
    append(job, line(job, "first"))
    assert r.succeeded.latest(proj.workspace, [job.id]) == {}
