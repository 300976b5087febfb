"""Two-way sync between two copies of a project over each transport (and directly, in the
model-based tests), and the record."""

import json
import os
import subprocess
import time

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import suite
import sync
from sync.merge import merge


@pytest.fixture
def pair(tmp_path):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(3):
        job = lap.open_job({"i": i}).init()
        job.doc.step = 0
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"result {i}")
    assert sync.sync(lap, clu.path).exit_status == 0
    return lap, clu


def job(project, i):
    return project.open_job({"i": i})


def write(j, name, text):
    with open(j.fn(name), "w") as f:
        f.write(text)


def read(j, name):
    with open(j.fn(name)) as f:
        return f.read()


def test_first_sync_copies_jobs(transport, pair, tmp_path):
    lap, _ = pair
    clu = suite.init_project(tmp_path / "fresh")
    assert transport.sync(lap, clu.path).exit_status == 0
    assert sorted(j.id for j in clu) == sorted(j.id for j in lap)
    assert read(job(clu, 1), "out.txt") == "result 1"
    assert job(clu, 1).doc() == {"step": 0}


def test_edits_on_both_sides_merge_key_by_key(transport, pair):
    lap, clu = pair
    job(lap, 0).doc.note = "from laptop"
    job(clu, 0).doc.step = 5
    job(clu, 0).doc.nested = {"cluster": {"deep": 1}}
    write(job(clu, 2), "new.dat", "made on the cluster")
    write(job(lap, 1), "out.txt", "laptop rewrote this")
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0
    for side in (lap, clu):
        assert job(side, 0).doc() == {"step": 5, "note": "from laptop",
                                      "nested": {"cluster": {"deep": 1}}}
        assert read(job(side, 2), "new.dat") == "made on the cluster"
        assert read(job(side, 1), "out.txt") == "laptop rewrote this"
    again = transport.sync(lap, clu.path)
    assert again.actions == [] and again.conflicts == []


def test_conflicts_are_reported_and_left_untouched(transport, pair):
    lap, clu = pair
    job(lap, 0).doc.step = 1
    job(clu, 0).doc.step = 2
    write(job(lap, 1), "out.txt", "laptop")
    write(job(clu, 1), "out.txt", "cluster!")
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 3
    keys = {(c["job"], c.get("key") or c.get("path")) for c in result.conflicts}
    assert keys == {(job(lap, 0).id, "step"), (job(lap, 1).id, "out.txt")}
    assert job(lap, 0).doc.step == 1 and job(clu, 0).doc.step == 2
    assert read(job(lap, 1), "out.txt") == "laptop" and read(job(clu, 1), "out.txt") == "cluster!"
    # still a conflict next time: the record did not pretend it was resolved
    assert len(transport.sync(lap, clu.path).conflicts) == 2


@pytest.mark.parametrize("prefer, expect_doc, expect_file", [
    ("local", 1, "laptop"), ("remote", 2, "cluster!")])
def test_prefer_side(transport, pair, prefer, expect_doc, expect_file):
    lap, clu = pair
    job(lap, 0).doc.step = 1
    job(clu, 0).doc.step = 2
    write(job(lap, 1), "out.txt", "laptop")
    write(job(clu, 1), "out.txt", "cluster!")
    result = transport.sync(lap, clu.path, prefer=prefer)
    assert result.exit_status == 0
    for side in (lap, clu):
        assert job(side, 0).doc.step == expect_doc
        assert read(job(side, 1), "out.txt") == expect_file


def test_prefer_newer_and_keep_both(transport, pair):
    lap, clu = pair
    write(job(lap, 1), "out.txt", "older")
    os.utime(job(lap, 1).fn("out.txt"), (1_000_000, 1_000_000))
    write(job(clu, 1), "out.txt", "newer")
    transport.sync(lap, clu.path, prefer="newer")
    assert read(job(lap, 1), "out.txt") == "newer"
    write(job(lap, 2), "out.txt", "mine")
    write(job(clu, 2), "out.txt", "theirs")
    transport.sync(lap, clu.path, keep_both=True)
    for side in (lap, clu):
        assert read(job(side, 2), "out.txt") == "mine"
        assert read(job(side, 2), "out.txt.conflict-cluster") == "theirs"


def test_deletions(transport, pair):
    lap, clu = pair
    job(clu, 0).remove()
    os.unlink(job(lap, 1).fn("out.txt"))
    transport.sync(lap, clu.path)
    assert job(lap, 0) not in lap
    assert not job(clu, 1).isfile("out.txt")
    # a deletion never removes what the other side changed: conflict instead
    job(clu, 2).remove()
    job(lap, 2).doc.step = 9
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 3 and job(lap, 2) in lap
    transport.sync(lap, clu.path, prefer="local")
    assert job(clu, 2) in clu and job(clu, 2).doc.step == 9


def test_no_delete_and_dry_run(transport, pair):
    lap, clu = pair
    job(clu, 0).remove()
    assert transport.sync(lap, clu.path, no_delete=True).actions == []
    assert job(lap, 0) in lap
    job(lap, 1).doc.step = 3
    plan = transport.sync(lap, clu.path, dry_run=True)
    assert {a["action"] for a in plan.actions} >= {"merge doc"}
    assert job(clu, 1).doc.step == 0  # nothing changed


def test_first_sync_with_different_content_is_a_conflict(transport, tmp_path):
    a = suite.init_project(tmp_path / "a")
    b = suite.init_project(tmp_path / "b")
    for p, text in ((a, "one"), (b, "two")):
        j = p.open_job({"k": 1}).init()
        write(j, "f.txt", text)
        j.doc.v = text
    result = transport.sync(a, b.path)
    assert result.exit_status == 3
    assert read(a.open_job({"k": 1}), "f.txt") == "one"
    assert read(b.open_job({"k": 1}), "f.txt") == "two"


def test_push_and_pull_only(transport, pair):
    lap, clu = pair
    job(lap, 0).doc.step = 1
    job(clu, 1).doc.step = 2
    transport.sync(lap, clu.path, push=True)
    assert job(clu, 0).doc.step == 1 and job(lap, 1).doc.step == 0
    transport.sync(lap, clu.path, pull=True)
    assert job(lap, 1).doc.step == 2


def test_project_document_merged(transport, pair):
    lap, clu = pair
    lap.doc.owner = "me"
    clu.doc.queue = "gpu"
    transport.sync(lap, clu.path)
    assert suite.get_project(clu.path).doc() == {"owner": "me", "queue": "gpu"}


def test_malicious_paths_refused(pair):
    lap, clu = pair
    replica = sync.Replica(clu.path)
    for bad in ("../../etc/passwd", "/abs", "a/../../b", ""):
        with pytest.raises(sync.SyncError):
            replica.write(job(clu, 0).id, bad, b"x", 0)
    with pytest.raises(sync.SyncError):
        replica.write("../" + "0" * 29, "f", b"x", 0)


def test_merge_rules():
    base = {"a": 1, "n": {"x": 1}}
    local = {"a": 1, "n": {"x": 2}, "l": 1}
    remote = {"a": 3, "n": {"x": 3}, "r": 1}
    for_local, for_remote, record, conflicts = merge(base, local, remote)
    assert conflicts == [("n.x", 2, 3)]
    assert for_local == {"a": 3, "n": {"x": 2}, "l": 1, "r": 1}
    assert for_remote["n"] == {"x": 3} and record["n"] == {"x": 1}
    assert merge({}, {"a": 1}, {"a": 1.0})[3] == [("a", 1, 1.0)]


def test_cli(transport, pair, tmp_path):
    lap, clu = pair
    r = subprocess.run(["suite", "remote", "add", "cluster", transport.url(clu.path),
                        *transport.cli], cwd=lap.path, capture_output=True, text=True)
    assert r.returncode == 0
    r = subprocess.run(["suite", "remote", "list"], cwd=lap.path, capture_output=True, text=True)
    assert f"cluster\t{transport.url(clu.path)}" in r.stdout
    job(lap, 0).doc.step = 1
    job(clu, 0).doc.step = 2
    r = subprocess.run(["suite", "sync", "cluster", "--json"], cwd=lap.path,
                       capture_output=True, text=True)
    assert r.returncode == 3
    assert json.loads(r.stdout)["conflicts"][0]["key"] == "step"
    r = subprocess.run(["suite", "sync", "cluster", "--prefer", "remote"], cwd=lap.path,
                       capture_output=True, text=True)
    assert r.returncode == 0 and job(lap, 0).doc.step == 2
    r = subprocess.run(["suite", "sync", "no-such-host.invalid:/x"], cwd=lap.path,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "cannot connect to no-such-host.invalid" in r.stderr


KEYS = st.sampled_from(["a", "b", "c"])
VALUES = st.integers(0, 3)


class TwoReplicas(RuleBasedStateMachine):
    """Random document edits, file writes and deletions on two replicas and random syncs never
    lose a value or file that was not reported as a conflict, and a conflict-free sync leaves
    both sides equal."""

    def __init__(self):
        super().__init__()
        import tempfile

        root = self.root = tempfile.mkdtemp()
        try:  # hypothesis calls teardown only for a machine it got: a failed start cleans here
            self.sides = [suite.init_project(os.path.join(root, n)) for n in ("l", "r")]
            self.jobs = [self.sides[0].open_job({"j": k}).init() for k in range(2)]
            self.sync()
        except BaseException:
            TwoReplicas.teardown(self)
            raise
        self.base = [{}, {}]  # per job: the document both sides agreed on at the last sync

    def teardown(self):
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)  # one per example: hundreds a run

    #: how the other side is reached: None directly, else a tests.sync.conftest.Transport
    TRANSPORT = None

    def sync(self):
        """Sync the two sides, directly or through :attr:`TRANSPORT`."""
        if self.TRANSPORT is None:
            return sync.sync(self.sides[0], self.sides[1].path)
        return self.TRANSPORT.sync(self.sides[0], self.sides[1].path)

    def _job(self, side, k):
        return self.sides[side].open_job({"j": k})

    @rule(side=st.integers(0, 1), k=st.integers(0, 1), key=KEYS, value=VALUES)
    def edit(self, side, k, key, value):
        self._job(side, k).doc[key] = value

    @rule(side=st.integers(0, 1), k=st.integers(0, 1), name=st.sampled_from(["x.txt", "y.txt"]),
          content=st.sampled_from(["one", "two", "three!"]))
    def write_file(self, side, k, name, content):
        job = self._job(side, k)
        with open(job.fn(name), "w") as f:
            f.write(content)
        # distinct mtimes even within one clock tick, as real edits have
        self.tick = getattr(self, "tick", 1_000_000_000) + 1
        os.utime(job.fn(name), ns=(self.tick * 1000, self.tick * 1000))

    @rule(side=st.integers(0, 1), k=st.integers(0, 1), name=st.sampled_from(["x.txt", "y.txt"]))
    def delete_file(self, side, k, name):
        path = self._job(side, k).fn(name)
        if os.path.exists(path):
            os.unlink(path)

    def _files(self, side, k):
        out = {}
        for name in ("x.txt", "y.txt"):
            path = self._job(side, k).fn(name)
            if os.path.exists(path):
                with open(path) as f:
                    out[name] = f.read()
        return out

    def _check_files(self, before, result):
        conflicted = {(c["job"], c.get("path")) for c in result.conflicts}
        base = getattr(self, "file_base", [{}, {}])
        for k in range(2):
            jid = self._job(0, k).id
            after = [self._files(s, k) for s in range(2)]
            for name in ("x.txt", "y.txt"):
                if (jid, name) in conflicted:
                    assert after[0].get(name) == before[0][k].get(name)
                    assert after[1].get(name) == before[1][k].get(name)
                    continue
                assert after[0].get(name) == after[1].get(name)
                old = base[k].get(name)
                changed = [before[s][k].get(name) for s in range(2)
                           if before[s][k].get(name) != old]
                if changed:  # a one-sided change (or deletion) is never lost
                    assert after[0].get(name) in changed
                base[k][name] = after[0].get(name)
        self.file_base = base

    #: the document keys the model checks (a concurrent writer adds its own)
    MODEL_KEYS = {"a", "b", "c"}

    def _doc(self, side, k):
        return {key: v for key, v in self._job(side, k).doc().items() if key in self.MODEL_KEYS}

    @rule()
    def sync_both(self):
        before = [[self._doc(s, k) for k in range(2)] for s in range(2)]
        files_before = [[self._files(s, k) for k in range(2)] for s in range(2)]
        result = self.sync()
        self._check_files(files_before, result)
        conflicted = {(c["job"], c.get("key")) for c in result.conflicts}
        # documents written to while the sync ran (by a concurrent writer): refused here
        # means neither side was written; refused there means only this side was
        refused = {c["job"]: c["side"] for c in result.changed
                   if c["path"] == "signac_job_document.json"}
        for k in range(2):
            jid = self._job(0, k).id
            after = [self._doc(s, k) for s in range(2)]
            untouched = {"local": (0, 1), "remote": (1,)}.get(refused.get(jid), ())
            for s in untouched:
                assert after[s] == before[s][k]
            for key in set(before[0][k]) | set(before[1][k]):
                if (jid, key) in conflicted or refused.get(jid) == "local":
                    # untouched on both sides
                    assert after[0].get(key) == before[0][k].get(key)
                    assert after[1].get(key) == before[1][k].get(key)
                    continue
                # both sides agree, and a change made on one side only is never lost
                if jid not in refused:
                    assert after[0].get(key) == after[1].get(key)
                base = self.base[k].get(key)
                changed = [before[s][k].get(key) for s in range(2)
                           if before[s][k].get(key) != base]
                if changed:
                    assert after[0].get(key) in changed
                else:
                    assert after[0].get(key) == base
                # as the record holds it (see sync.merge.unsent)
                self.base[k][key] = before[1][k].get(key) if jid in refused \
                    else after[0].get(key)
            if not result.conflicts and jid not in refused:
                assert after[0] == after[1]

    @invariant()
    def jobs_exist(self):
        for s in range(2):
            assert len(self.sides[s]) == 2


TwoReplicas.TestCase.settings = settings(max_examples=25, stateful_step_count=15,
                                         deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
test_model = TwoReplicas.TestCase


class TwoReplicasWithWriter(TwoReplicas):
    """The same model while a real process keeps writing its own document key and file in
    every job on both sides (before, during and after each sync): the model's rules still
    hold, and every one of the writer's last writes reaches both sides."""

    def __init__(self):
        super().__init__()
        from tests.sync.writer import Writer

        try:
            self.writer = Writer(os.path.dirname(self.sides[0].path), [
                {"path": self.sides[0].path, "key": "wl", "files": ["wl.txt"]},
                {"path": self.sides[1].path, "key": "wr", "files": ["wr.txt"]}])
        except BaseException:
            super().teardown()
            raise

    def teardown(self):
        from tests.sync.writer import content

        try:  # the directories go even when a check fails (hypothesis runs many that do)
            done = self.writer.stop()
            sync.sync(self.sides[0], self.sides[1].path)
            last = sync.sync(self.sides[0], self.sides[1].path)
            assert not last.changed
            for path, key in ((self.sides[0].path, "wl"), (self.sides[1].path, "wr")):
                for job_id, n in done["last"][path].items():
                    for side in self.sides:
                        j = side.open_job(id=job_id)
                        assert j.doc[key] == n
                        with open(j.fn(f"{key}.txt")) as f:
                            assert f.read() == content(key, n)
        finally:
            if self.writer.proc.poll() is None:  # stop() failed: it must not outlive the test
                self.writer.proc.kill()
                self.writer.proc.wait()
            super().teardown()


@pytest.mark.parametrize("kind", ["local", "openssh"])
def test_model_over_transport(kind, sshd, ssh_home, openssh, control_dir):
    """The model with the whole protocol between the sides: a pipe to a server process
    (local), the system ssh to the test sshd (openssh, on the shared master connection);
    fewer examples (each sync starts a far-side process), fewest over openssh (the slowest
    to start: ~1 s a sync on a loaded machine, local ~0.5 s)."""
    from hypothesis.stateful import run_state_machine_as_test

    from tests.sync.conftest import make_transport

    over = type("TwoReplicasOver", (TwoReplicas,), {
        "TRANSPORT": make_transport(kind, sshd, openssh, control_dir)})
    run_state_machine_as_test(over, settings=settings(
        max_examples={"local": 6, "openssh": 4}[kind], stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))


def test_model_with_a_concurrent_writer():
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(TwoReplicasWithWriter, settings=settings(
        max_examples=8, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))


def test_import_archive_with_sync(pair, tmp_path):
    import archive

    lap, clu = pair
    archive.export_jobs(lap, tmp_path / "a.tar.zst")
    job(lap, 0).doc.local_only = 1
    job(lap, 1).doc.step = 10
    write(job(lap, 2), "out.txt", "changed here")
    job(lap, 2).remove()
    records_before = sorted(os.listdir(os.path.join(lap.path, ".suite", "sync")))
    result = sync.import_merge(lap, tmp_path / "a.tar.zst")
    assert job(lap, 2) in lap  # brought back from the archive
    assert job(lap, 0).doc.local_only == 1  # nothing of the project is lost
    keys = {c.get("key") for c in result.conflicts}
    assert keys == {"step"} and job(lap, 1).doc.step == 10
    resolved = sync.import_merge(lap, tmp_path / "a.tar.zst", prefer="remote")
    assert resolved.exit_status == 0 and job(lap, 1).doc.step == 0
    # an archive is no peer: no sync record is kept for it, and its staging is gone
    assert sorted(os.listdir(os.path.join(lap.path, ".suite", "sync"))) == records_before
    assert not [n for n in os.listdir(os.path.join(lap.path, ".suite")) if "import" in n]
    r = subprocess.run(["suite", "import", str(tmp_path / "a.tar.zst"), "--sync"], cwd=lap.path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_exclude_never_deletes_unsynced_files(transport, pair):
    lap, clu = pair
    write(job(lap, 0), "huge.h5", "never synced")
    transport.sync(lap, clu.path, exclude=["*.h5"])
    assert not job(clu, 0).isfile("huge.h5")
    job(clu, 0).remove()
    result = transport.sync(lap, clu.path, exclude=["*.h5"])
    assert result.exit_status == 3
    assert read(job(lap, 0), "huge.h5") == "never synced"


def test_provenance_logs_changed_on_both_sides_merge_as_a_union(transport, pair):
    """The workflow log only grows by lines: runs on the laptop and on the cluster both
    survive a sync, with no conflict, on both sides."""
    from suite.flow import provenance

    lap, clu = pair
    provenance.record(job(lap, 0), {"operation": "shared", "status": "success"})
    assert transport.sync(lap, clu.path).exit_status == 0  # one-sided: copied
    provenance.record(job(lap, 0), {"operation": "on-laptop", "status": "success"})
    provenance.record(job(clu, 0), {"operation": "on-cluster", "status": "failure"})
    preview = transport.sync(lap, clu.path, dry_run=True)
    assert [a["action"] for a in preview.actions] == ["merge log"] and not preview.conflicts
    assert "on-cluster" not in read(job(lap, 0), provenance.LOG)  # dry run: nothing written
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0 and not result.conflicts
    for side in (lap, clu):
        ops = [r["operation"] for r in provenance.read(job(side, 0))]
        assert ops == ["shared", "on-laptop", "on-cluster"]
    assert provenance.completed_operations(job(clu, 0)) == {"shared", "on-laptop"}
    again = transport.sync(lap, clu.path)
    assert not again.actions and not again.conflicts
    # a one-way sync merges into the destination only; the next two-way sync completes it
    # (sizes differ: change detection is by size and mtime, and both files may be written in
    # the same clock tick)
    provenance.record(job(lap, 1), {"operation": "a", "status": "success"})
    provenance.record(job(clu, 1), {"operation": "bb", "status": "success"})
    assert transport.sync(lap, clu.path, push=True).exit_status == 0
    assert [r["operation"] for r in provenance.read(job(clu, 1))] == ["a", "bb"]
    assert [r["operation"] for r in provenance.read(job(lap, 1))] == ["a"]
    assert transport.sync(lap, clu.path).exit_status == 0
    assert [r["operation"] for r in provenance.read(job(lap, 1))] == ["a", "bb"]


def test_progress_callback(transport, pair):
    lap, clu = pair
    job(lap, 7).init()
    seen = []
    assert transport.sync(lap, clu.path, progress=lambda *a: seen.append(a)).exit_status == 0
    assert seen == [(k, 4) for k in range(1, 5)]


def test_model_with_every_file_streamed(monkeypatch):
    """The same model with every file sent in chunks of 7 bytes (the large-file path)."""
    from hypothesis.stateful import run_state_machine_as_test

    from sync import replica

    monkeypatch.setattr(replica, "STREAM_MIN", 1)
    monkeypatch.setattr(replica, "CHUNK", 7)
    run_state_machine_as_test(TwoReplicas, settings=settings(
        max_examples=10, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))


def test_both_sides_changed_to_equal_size_and_mtime_is_a_conflict(transport, pair):
    """Restored backups or `cp -p` on both sides: size and mtime agree, contents do not."""
    lap, clu = pair
    write(job(lap, 1), "out.txt", "restored A")
    write(job(clu, 1), "out.txt", "restored B")
    stamp = 1_600_000_000 * 10**9
    for side in (lap, clu):
        os.utime(job(side, 1).fn("out.txt"), ns=(stamp, stamp))
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 3
    assert [(c["job"], c["path"]) for c in result.conflicts] == [(job(lap, 1).id, "out.txt")]
    assert read(job(lap, 1), "out.txt") == "restored A"
    assert read(job(clu, 1), "out.txt") == "restored B"
    assert transport.sync(lap, clu.path).exit_status == 3  # reported until resolved
    assert transport.sync(lap, clu.path, prefer="remote").exit_status == 0
    assert read(job(lap, 1), "out.txt") == "restored B"


def test_first_sync_compares_equal_size_and_mtime_by_content(transport, tmp_path):
    """Without a record, equal size and mtime are no proof of equal content either."""
    a = suite.init_project(tmp_path / "a")
    b = suite.init_project(tmp_path / "b")
    stamp = 1_600_000_000 * 10**9
    for side, text in ((a, "version A"), (b, "version B")):
        j = side.open_job({"i": 0}).init()
        write(j, "out.txt", text)
        os.utime(j.fn("out.txt"), ns=(stamp, stamp))
        write(j, "same.txt", "identical")
        os.utime(j.fn("same.txt"), ns=(stamp, stamp))
    result = transport.sync(a, b.path)
    assert [c["path"] for c in result.conflicts] == ["out.txt"] and not result.actions


def test_prefer_newer_after_a_reported_conflict(transport, pair):
    """The sequence the demo recommends: a plain sync reports the conflict (and merges the
    other keys, writing this side's document), then --prefer newer resolves it for the side
    that changed the value last, not for the side whose file the merge just wrote."""
    from suite import layout

    lap, clu = pair
    job(lap, 0).doc.step = 1  # the older change
    job(clu, 0).doc.update(step=2, extra="from the cluster")  # the newer one
    now = time.time_ns()
    os.utime(job(lap, 0).fn(layout.DOCUMENT), ns=(now - 100 * 10**9,) * 2)
    os.utime(job(clu, 0).fn(layout.DOCUMENT), ns=(now - 50 * 10**9,) * 2)
    r = subprocess.run(["suite", "sync", transport.url(clu.path), *transport.cli], cwd=lap.path,
                       capture_output=True, text=True)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "CONFLICT" in r.stdout and job(lap, 0).doc.extra == "from the cluster"
    r = subprocess.run(["suite", "sync", transport.url(clu.path), *transport.cli, "--prefer",
                        "newer"], cwd=lap.path, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    for side in (lap, clu):
        assert job(side, 0).doc() == {"step": 2, "extra": "from the cluster"}


def test_exit_statuses_are_documented_in_the_help():
    r = subprocess.run(["suite", "sync", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    assert "3 conflicts left" in r.stdout and "4 items changed during the sync" in r.stdout
    assert "2 usage error" in r.stdout and "5 jobs left alone" in r.stdout
    assert "When several apply: 3, then 5, then 4." in r.stdout
    r = subprocess.run(["suite", "sync"], capture_output=True, text=True)  # DEST missing
    assert r.returncode == 2 and "Missing argument" in r.stderr


def test_exit_status_precedence_conflicts_then_jobs_left_alone_then_changes():
    from sync.engine import SyncResult

    conflict = {"job": "a" * 32, "path": "f", "local": 1, "remote": 2}
    refused = {"job": "b" * 32, "path": None, "side": "remote", "reason": "NaN"}
    changed = {"job": "c" * 32, "path": "g", "side": "local"}
    assert SyncResult().exit_status == 0
    assert SyncResult(changed=[changed]).exit_status == 4
    assert SyncResult(refused=[refused]).exit_status == 5
    assert SyncResult(refused=[refused], changed=[changed]).exit_status == 5
    assert SyncResult(conflicts=[conflict], refused=[refused], changed=[changed]).exit_status == 3
    assert SyncResult(conflicts=[conflict], changed=[changed]).exit_status == 3


def test_unsent_keeps_the_refused_sides_listing_and_base_at_conflicts():
    from sync.merge import unsent

    base = {"a": 1, "b": 1, "c": 1, "n": {"p": 1}}
    side = {"a": 2, "b": 1, "c": 3, "n": {"p": 1, "q": 1}}
    other = {"a": 1, "b": 5, "c": 4, "n": {"p": 2}}
    assert unsent(base, side, other) == {"a": 2, "b": 1, "c": 1, "n": {"p": 1, "q": 1}}


def test_a_document_refused_on_the_far_side_is_merged_by_the_next_sync(transport, pair):
    """The far side's document changes in the same key while the sync runs: it is left
    alone there, this side still gets the far side's other changes, and the next sync
    reports the conflict and carries the rest."""
    lap, clu = pair
    target = job(lap, 0)
    target.doc.update(step=1, x="laptop")
    job(clu, 0).doc.y = "cluster"

    def meanwhile(done, total):
        if done == 1:  # after both sides were listed: a running job writes step there
            job(clu, 0).doc.step = 2

    result = transport.sync(lap, clu.path, progress=meanwhile)
    assert result.changed == [{"job": target.id, "path": "signac_job_document.json",
                               "side": "remote"}]
    assert result.exit_status == 4 and not result.conflicts
    assert job(lap, 0).doc() == {"step": 1, "x": "laptop", "y": "cluster"}
    assert job(clu, 0).doc() == {"step": 2, "y": "cluster"}
    again = transport.sync(lap, clu.path)
    assert [(c["job"], c["key"]) for c in again.conflicts] == [(target.id, "step")]
    assert job(clu, 0).doc() == {"step": 2, "x": "laptop", "y": "cluster"}
    assert job(lap, 0).doc() == {"step": 1, "x": "laptop", "y": "cluster"}
