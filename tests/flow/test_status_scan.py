"""status over the index's rows a chunk at a time: what each chunk path must keep."""

import gc
import json
import tracemalloc

import pytest

from suite.flow import Runner, Workflow, scan
from suite.index import keyrows


class W(Workflow):
    pass


@W.label
def started(job):
    return "step" in job.doc


@W.pre.true("step")
@W.post.isfile("out.txt")
@W.operation
def second(job):
    pass


@pytest.fixture
def chunks_of_two(monkeypatch):
    monkeypatch.setattr(scan, "CHUNK", 2)


def _jobs(project, n):
    for i in range(n):
        job = project.open_job({"i": i}).init()
        if i % 2:
            job.doc.step = i
        if i % 3 == 0:
            open(job.fn("out.txt"), "w").close()
    return sorted(project.open_job({"i": i}).id for i in range(n))


def test_chunks_free_the_jobs_before_the_next(project, chunks_of_two):
    """A chunk's jobs are gone (by reference counts, not a later collection) when the next
    chunk is judged: memory holds one chunk of jobs, not the project."""
    for i in range(30):
        project.open_job({"i": i}).init().doc.pad = "x" * 20000  # 20 KB a job once read
    traced = []

    class Measured(W):
        pass

    @Measured.label
    def memory(job):
        traced.append(tracemalloc.get_traced_memory()[0])
        return False

    gc.collect()
    gc.disable()  # no collection may free them: in a small test one would come soon
    tracemalloc.start()
    try:
        status = Runner(Measured, project).status()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert len(status.jobs) == 30 and len(traced) == 30
    # kept jobs would add 2 x 20 KB a chunk: 560 KB from the second chunk to the last
    assert traced[-1] - traced[2] < 150_000, traced


def test_selection_by_filter_and_ids(project, chunks_of_two):
    ids = _jobs(project, 6)
    r = Runner(W, project)
    some = r.status(filter={"i": {"$lt": 4}})  # i = 0..3: steps at 1 and 3, out.txt at 0 and 3
    assert len(some.jobs) == 4
    assert some.operations["second"] == {"eligible": 1, "complete": 2}
    one = project.open_job({"i": 1}).id
    by_prefix = r.status(ids=[one[:10]])
    assert list(by_prefix.jobs) == [one]
    assert by_prefix.operations["second"] == {"eligible": 1, "complete": 0}
    assert list(r.status().jobs) == ids  # id order, whatever the storage order


def test_document_over_the_index_caps(project, monkeypatch, chunks_of_two):
    """A document too big for the index is read from its file for the conditions and labels."""
    monkeypatch.setattr(keyrows, "DOC_MAX_BYTES", 200)
    _jobs(project, 3)
    big = project.open_job({"i": 0})
    big.doc.update({"step": 1, "pad": "x" * 400})
    status = Runner(W, project).status()
    assert status.labels == {"started": 2}
    assert status.operations["second"] == {"eligible": 1, "complete": 1}
    assert "started" in status.jobs[big.id]["labels"]


@pytest.mark.parametrize("raw", [b'  {"step": 1}\n', b'\xef\xbb\xbf{"step": 1}'],
                         ids=["leading-blanks", "byte-order-mark"])
def test_document_text_the_scanner_does_not_start_on(project, raw):
    job = project.open_job({"i": 0}).init()
    with open(job.fn("signac_job_document.json"), "wb") as f:
        f.write(raw)
    status = Runner(W, project).status()
    assert status.labels == {"started": 1}
    assert status.operations["second"] == {"eligible": 1, "complete": 0}


def test_job_table_takes_scheduler_states_and_prints(project, chunks_of_two):
    ids = _jobs(project, 5)
    status = Runner(W, project).status()
    status.add_active({("second", ids[0]): ("42", "running"),
                       ("second", "f" * 32): ("43", "queued")})  # a job no longer here
    assert status.jobs[ids[0]]["running"] == ["second"]
    assert status.operations["second"]["running"] == 1
    data = json.loads(json.dumps(status.to_json()))
    assert sorted(data["jobs"]) == ids
    assert data["jobs"][ids[0]]["running"] == ["second"]
    lines = status.format(detailed=True).splitlines()
    assert [line[:8] for line in lines[-5:]] == [i[:8] for i in ids]
    assert "f" * 32 not in status.jobs and status.jobs.get("f" * 32) is None


def test_progress_over_several_chunks(project, chunks_of_two):
    _jobs(project, 7)
    seen = []
    Runner(W, project).status(progress=lambda *a: seen.append(a))
    steps = [s for s, _, _ in seen]
    assert steps == sorted(set(steps)) and steps[-1] == 2
    assert all(total == 7 and n == 2 for _, n, total in seen)


def test_primed_documents_are_read_again_only_when_changed(project, monkeypatch):
    """status gives each job's view the index's document and signature (as text): a second
    look at an unchanged document is one stat, a changed one is read again."""
    from suite import synced

    reads = []
    real = synced.read_json
    monkeypatch.setattr(synced, "read_json", lambda *a: reads.append(a) or real(*a))
    for i in range(2):
        project.open_job({"i": i}).init().doc.step = i + 1
    changed = project.open_job({"i": 1})

    class Twice(Workflow):
        pass

    @Twice.label
    def step(job):
        first = job.doc.step
        if job.id == changed.id:  # another writer, between the two looks (a new size)
            with open(job.fn("signac_job_document.json"), "w") as f:
                f.write('{"step": 20}')
        return f"{first}-{job.doc.step}"

    status = Runner(Twice, project).status()
    assert status.labels == {"step=1-1": 1, "step=2-20": 1}
    assert [a[0] for a in reads] == [changed.fn("signac_job_document.json")]


def test_a_workspace_that_is_a_file(project):
    import os

    from suite.errors import WorkspaceError

    os.rmdir(project.workspace)
    open(project.workspace, "w").close()
    with pytest.raises(WorkspaceError, match="not a directory; move that file away"):
        Runner(W, project).status()


def test_a_workspace_that_is_a_dangling_link(project, tmp_path):
    import os

    from suite.errors import WorkspaceError

    os.rmdir(project.workspace)
    os.symlink(tmp_path / "gone", project.workspace)
    with pytest.raises(WorkspaceError, match="link to a missing directory"):
        Runner(W, project).status()
    os.unlink(project.workspace)  # no workspace at all: no jobs
    assert Runner(W, project).status().operations["second"] == {"eligible": 0, "complete": 0}


class Logged(Workflow):
    pass


@Logged.operation
def tally(job):
    pass


@Logged.pre.succeeded(tally)
@Logged.post.true("done")
@Logged.operation
def after(job):
    pass


@pytest.mark.parametrize("columns_max", [-1, scan.COLUMNS_MAX])  # rows; whole columns
def test_conditions_read_the_logs_in_every_chunk(project, chunks_of_two, monkeypatch,
                                                 columns_max):
    """Which operations succeeded (read from the logs only when a condition asks) is asked
    of every chunk's own jobs: status counts and lists them as each job's log says."""
    ids = _jobs(project, 7)
    ran = [project.open_job({"i": i}).id for i in range(0, 7, 2)]
    Runner(Logged, project).run(["tally"], ids=ran)
    monkeypatch.setattr(scan, "COLUMNS_MAX", columns_max)
    status = Runner(Logged, project).status()
    assert status.operations == {"tally": {"eligible": 3, "complete": 4},
                                 "after": {"eligible": 4, "complete": 0}}
    assert list(status.jobs) == ids
    for job_id in ids:
        want = ["after"] if job_id in ran else ["tally"]
        assert status.jobs[job_id]["eligible"] == want, job_id
