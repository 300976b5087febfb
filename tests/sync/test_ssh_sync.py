"""Sync with a real suite process on the far side, over each transport (the real sshd on
127.0.0.1 for paramiko and openssh); host keys and ProxyJump are paramiko's own."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import suite
import sync
from sync import protocol


@pytest.fixture
def pair(tmp_path):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(4):
        job = lap.open_job({"i": i}).init()
        job.doc.step = 0
        with open(job.fn("data.bin"), "wb") as f:
            f.write(os.urandom(10000))
    return lap, clu


def test_two_way_sync_over_ssh(transport, pair):
    lap, clu = pair
    url = transport.url(clu.path)
    first = sync.sync(lap, url, **transport.options)
    assert first.exit_status == 0 and len(clu) == 4
    a = lap.open_job({"i": 0})
    with open(a.fn("data.bin"), "rb") as f, open(clu.open_job(id=a.id).fn("data.bin"), "rb") as g:
        assert f.read() == g.read()
    a.doc.laptop = 1
    clu.open_job(id=a.id).doc.cluster = 2
    clu.open_job({"i": 5}).init().doc.new = True
    lap.open_job({"i": 3}).remove()
    if transport.kind == "paramiko":  # the other form of URL
        url = f"ssh://root@127.0.0.1:{transport.port}{clu.path}"
    result = sync.sync(lap, url, **transport.options)
    assert result.exit_status == 0, result.format()
    for side in (lap, clu):
        assert side.open_job(id=a.id).doc() == {"step": 0, "laptop": 1, "cluster": 2}
        assert sorted(j.sp.i for j in side) == [0, 1, 2, 5]


def test_conflict_and_dry_run_over_ssh(transport, pair):
    lap, clu = pair
    url = transport.url(clu.path)
    sync.sync(lap, url, **transport.options)
    job = lap.open_job({"i": 1})
    job.doc.step = 1
    clu.open_job(id=job.id).doc.step = 2
    plan = sync.sync(lap, url, dry_run=True, **transport.options)
    assert plan.conflicts and clu.open_job(id=job.id).doc.step == 2
    result = sync.sync(lap, url, prefer="local", **transport.options)
    assert result.exit_status == 0 and clu.open_job(id=job.id).doc.step == 1


def test_unknown_host_key_refused_with_fingerprint(sshd, ssh_home, pair):
    lap, clu = pair
    os.unlink(ssh_home / ".ssh" / "known_hosts")
    with pytest.raises(sync.SyncError, match=r"unknown host key .* SHA256:"):
        sync.sync(lap, f"cluster:{clu.path}", remote_suite=sshd["remote_suite"])
    assert len(clu) == 0
    result = sync.sync(lap, f"cluster:{clu.path}", remote_suite=sshd["remote_suite"],
                       accept_new_host_key=True)
    assert result.exit_status == 0 and len(clu) == 4
    assert "127.0.0.1" in (ssh_home / ".ssh" / "known_hosts").read_text()


def test_missing_remote_suite_is_a_clear_error(transport, pair):
    lap, clu = pair
    with pytest.raises(sync.SyncError, match=f"suite is not installed on .*{re.escape(transport.host)}"):
        transport.sync(lap, clu.path, remote_suite="/nonexistent/suite")


def test_other_protocol_version_is_a_clear_error(transport, pair, tmp_path):
    lap, clu = pair
    old = tmp_path / "old-suite"  # answers the handshake as a suite of protocol 1 would
    old.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; from sync import "
                   "protocol; protocol.write_frame(sys.stdout.buffer, "
                   "{\"ok\": True, \"version\": 1, \"label\": \"old\"})'\n")
    old.chmod(0o755)
    with pytest.raises(sync.SyncError, match=f"speaks sync protocol 1, this one {protocol.VERSION}"):
        transport.sync(lap, clu.path, remote_suite=str(old))


def test_cli_over_ssh(transport, pair):
    """The transport is a setting of the remote (remote add --ssh, --ssh-command)."""
    lap, clu = pair
    r = subprocess.run(["suite", "remote", "add", "hpc", transport.url(clu.path),
                        *transport.cli], cwd=lap.path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["suite", "sync", "hpc", "-v"], cwd=lap.path, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert len(clu) == 4
    if transport.kind != "local":
        assert f"transport to cluster: {transport.kind}" in r.stderr


def test_large_changed_file_travels_as_a_delta(transport, tmp_path):
    lap = suite.init_project(tmp_path / "l")
    clu = suite.init_project(tmp_path / "c")
    job = lap.open_job({"big": 1}).init()
    data = bytearray(os.urandom(4 << 20))
    with open(job.fn("big.bin"), "wb") as f:
        f.write(data)
    url = transport.url(clu.path)
    sync.sync(lap, url, **transport.options)
    data[2 << 20:(2 << 20) + 1000] = os.urandom(1000)
    with open(job.fn("big.bin"), "wb") as f:
        f.write(data)
    result = sync.sync(lap, url, **transport.options)
    assert [a["action"] for a in result.actions] == ["delta file"]
    with open(clu.open_job(id=job.id).fn("big.bin"), "rb") as f:
        assert f.read() == bytes(data)
    assert sync.sync(lap, url, **transport.options).actions == []


def test_diff_against_a_remote_transfers_nothing(transport, pair):
    lap, clu = pair
    transport.sync(lap, clu.path)
    lap.open_job({"i": 0}).doc.step = 1
    r = subprocess.run(["suite", "remote", "add", "hpc", transport.url(clu.path),
                        *transport.cli], cwd=lap.path, capture_output=True, text=True)
    assert r.returncode == 0
    r = subprocess.run(["suite", "diff", "--against", "hpc", "--json"], cwd=lap.path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import json

    plan = json.loads(r.stdout)
    assert plan["dry_run"] and [a["action"] for a in plan["actions"]] == ["merge doc"]
    assert clu.open_job(id=lap.open_job({"i": 0}).id).doc.step == 0


def _logins(sshd):
    return (sshd["root"] / "log").read_text().count("Accepted publickey")


def test_proxyjump_chain(sshd, ssh_home, pair):
    """ProxyJump from ~/.ssh/config: each hop is a real login on the server, the last one
    reached through a direct-tcpip channel of the one before."""
    lap, clu = pair
    with open(ssh_home / ".ssh" / "config", "a") as f:
        f.write(f"Host behind\n  HostName 127.0.0.1\n  Port {sshd['port']}\n  User root\n"
                f"  IdentityFile {sshd['client_key']}\n  ProxyJump cluster\n"
                f"Host twohops\n  HostName 127.0.0.1\n  Port {sshd['port']}\n  User root\n"
                f"  IdentityFile {sshd['client_key']}\n"
                f"  ProxyJump root@cluster,root@127.0.0.1:{sshd['port']}\n"
                f"Host unreachable\n  HostName 127.0.0.1\n  Port 1\n  User root\n"
                f"  IdentityFile {sshd['client_key']}\n  ProxyJump cluster\n")
    before = _logins(sshd)
    result = sync.sync(lap, f"behind:{clu.path}", remote_suite=sshd["remote_suite"])
    assert result.exit_status == 0 and len(clu) == 4
    assert _logins(sshd) - before == 2  # the jump host, then the target through it
    lap.open_job({"i": 0}).doc.hops = 2
    before = _logins(sshd)
    result = sync.sync(lap, f"twohops:{clu.path}", remote_suite=sshd["remote_suite"])
    assert result.exit_status == 0
    assert clu.open_job(id=lap.open_job({"i": 0}).id).doc.hops == 2
    assert _logins(sshd) - before == 3
    with pytest.raises(sync.SyncError, match="jump host cluster cannot reach 127.0.0.1:1"):
        sync.sync(lap, f"unreachable:{clu.path}", remote_suite=sshd["remote_suite"])


def test_failed_remote_write_is_never_recorded(transport, pair):
    """Writes to the far side are streamed; one that fails there must stop the sync before
    any record says the job was synced, or the next sync would delete it here."""
    lap, clu = pair
    ids = sorted(j.id for j in lap)
    os.makedirs(clu.workspace, exist_ok=True)
    # immutable: not even root can create the jobs there (ext4, xfs, btrfs; not tmpfs)
    if subprocess.run(["chattr", "+i", clu.workspace], capture_output=True).returncode:
        pytest.skip("chattr +i is not supported on this file system")
    try:
        with pytest.raises(sync.SyncError):
            transport.sync(lap, clu.path)
    finally:
        subprocess.run(["chattr", "-i", clu.workspace], check=True)
    assert len(lap) == 4
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert sorted(j.id for j in lap) == ids and sorted(j.id for j in clu) == ids


def test_first_pull_fetches_whole_jobs_in_batches(transport, tmp_path, monkeypatch):
    """Jobs new on the far side come many per round trip, never one request per file."""
    from sync.engine import Sync

    cluster = suite.init_project(tmp_path / "cluster")
    for i in range(7):
        job = cluster.open_job({"i": i}).init()
        job.doc.i = i
        with open(job.fn("data.bin"), "wb") as f:
            f.write(os.urandom(3000 * (i + 1)))
        os.makedirs(job.fn("sub"))
        with open(job.fn("sub/more.txt"), "w") as f:
            f.write(f"more {i}")
    laptop = suite.init_project(tmp_path / "laptop")
    batches = batched_only(monkeypatch, "read_jobs_later", "read")
    monkeypatch.setattr(Sync, "FETCH_JOBS", 3)
    monkeypatch.setattr(Sync, "FETCH_BYTES", 12000)  # cuts before the larger jobs
    result = transport.sync(laptop, cluster.path)
    assert result.exit_status == 0, result.format()
    assert sum(batches) == 7 and max(batches) <= 3 and len(batches) >= 4, batches
    for job in cluster:
        here = laptop.open_job(id=job.id)
        assert here.sp() == job.sp() and here.doc() == job.doc()
        for name in ("data.bin", "sub/more.txt"):
            with open(job.fn(name), "rb") as a, open(here.fn(name), "rb") as b:
                assert a.read() == b.read()


def test_first_pull_asks_for_the_next_batch_before_writing_one(transport, tmp_path,
                                                              monkeypatch):
    """The far side reads the next batch of new jobs while this side writes the current one
    (issue #18: the two sides took turns, each idle half of a first pull)."""
    from sync.client import Client
    from sync.engine import Sync
    from sync.replica import Replica

    cluster = suite.init_project(tmp_path / "cluster")
    for i in range(6):
        cluster.open_job({"i": i}).init()
    laptop = suite.init_project(tmp_path / "laptop")
    events = []
    for cls, name in ((Client, "read_jobs_later"), (Replica, "create_jobs")):
        def spy(self, *args, real=getattr(cls, name), name=name, **kwargs):
            # one event per job landed (many land in one call)
            events.extend(["create_job"] * len(args[0]) if name == "create_jobs" else [name])
            return real(self, *args, **kwargs)
        monkeypatch.setattr(cls, name, spy)
    monkeypatch.setattr(Sync, "FETCH_JOBS", 2)
    monkeypatch.setattr(Sync, "FETCH_AHEAD", 1)
    result = transport.sync(laptop, cluster.path)
    assert result.exit_status == 0, result.format()
    assert sorted(j.id for j in laptop) == sorted(j.id for j in cluster)
    # batch 2 asked for before batch 1's first job is written; 3 batches, asked for once each
    assert events[:3] == ["read_jobs_later", "read_jobs_later", "create_job"], events
    assert events.count("read_jobs_later") == 3 and events.count("create_job") == 6, events


def test_first_pull_keeps_batches_in_flight_ahead_and_no_more(transport, tmp_path,
                                                               monkeypatch):
    """FETCH_AHEAD batches are asked for beyond the one being written, before its answer is
    waited for, so a far side that lost its core for a moment is still ahead (issue #18);
    never more than that (memory: FETCH_AHEAD + 1 batches of FETCH_BYTES at most)."""
    from sync.client import Client
    from sync.engine import Sync
    from sync.replica import Replica

    cluster = suite.init_project(tmp_path / "cluster")
    for i in range(8):
        job = cluster.open_job({"i": i}).init()
        job.doc.i = i
    laptop = suite.init_project(tmp_path / "laptop")
    events = []
    for cls, name in ((Client, "read_jobs_later"), (Replica, "create_jobs")):
        def spy(self, *args, real=getattr(cls, name), name=name, **kwargs):
            # one event per job landed (many land in one call)
            events.extend(["c"] * len(args[0]) if name == "create_jobs" else ["r"])
            return real(self, *args, **kwargs)
        monkeypatch.setattr(cls, name, spy)
    monkeypatch.setattr(Sync, "FETCH_JOBS", 2)
    monkeypatch.setattr(Sync, "FETCH_AHEAD", 2)
    result = transport.sync(laptop, cluster.path)
    assert result.exit_status == 0, result.format()
    # four batches of two: three asked for before the first job is written, the fourth once
    # the first batch is written, each asked for once
    assert "".join(events) == "rrrccrcccccc", events
    assert {j.id: (j.sp(), j.doc()) for j in laptop} == \
        {j.id: (j.sp(), j.doc()) for j in cluster}


def test_a_pull_indexes_its_jobs_while_the_far_side_saves_its_record(transport, tmp_path,
                                                                     monkeypatch):
    """The final save sends the far side its record before this side indexes the jobs it
    landed, so the two overlap (issue #18: the index insert was the last serial step of a
    first pull); the jobs are still all indexed before the sync returns."""
    import time

    from sync.replica import Replica

    cluster = suite.init_project(tmp_path / "cluster")
    for i in range(5):
        cluster.open_job({"i": i}).init().doc.i = i
    laptop = suite.init_project(tmp_path / "laptop")
    far_record = tmp_path / "cluster" / ".suite" / "sync" / f"{Replica(laptop.path).identity()}.json"
    seen = []

    def index_new_jobs(self, real=Replica.index_new_jobs):
        if self._landed:  # the final save's insert: the far side writes its record meanwhile
            deadline = time.monotonic() + 20
            while not far_record.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            seen.append(far_record.exists())
        return real(self)

    monkeypatch.setattr(Replica, "index_new_jobs", index_new_jobs)
    result = transport.sync(laptop, cluster.path)
    assert result.exit_status == 0, result.format()
    assert seen == [True]
    assert laptop.index.indexed_count() == 5  # indexed by the sync, before any query
    assert {j.id: j.doc() for j in laptop} == {j.id: j.doc() for j in cluster}
    assert laptop.index.files_read() == 0


def test_a_pull_whose_landing_fails_records_no_job_it_did_not_land(transport, tmp_path,
                                                                  monkeypatch):
    """Fetched jobs land a batch at a time in a second thread (Replica.create_jobs): a
    write that fails there stops the sync with its error before any record, even one saved
    along the way, names a job that did not land (the next sync would delete it on the far
    side); nothing staged is left, and the next sync lands the rest."""
    import errno
    import threading

    from sync import engine, replica

    cluster = suite.init_project(tmp_path / "cluster")
    for i in range(6):
        cluster.open_job({"i": i}).init().doc.i = i
    laptop = suite.init_project(tmp_path / "laptop")
    real, threads, sizes = replica.land_jobs, [], []

    def failing(jobs, *names):
        threads.append(threading.current_thread().name)
        sizes.append(len(jobs))
        if len(threads) == 2:  # the second batch: all but its last job land, then ENOSPC
            real(jobs[:-1], *names)
            raise OSError(errno.ENOSPC, "No space left on device", jobs[-1][0])
        return real(jobs, *names)

    monkeypatch.setattr(replica, "land_jobs", failing)
    monkeypatch.setattr(engine.Sync, "FETCH_JOBS", 2)
    monkeypatch.setattr(engine, "SAVE_SECONDS", 0)  # a record saved after every job
    with pytest.raises(OSError, match="No space left"):
        transport.sync(laptop, cluster.path)
    assert threads == ["suite-landing"] * 2
    landed = sizes[0] + sizes[1] - 1
    assert sorted(os.listdir(laptop.workspace)) == sorted(os.listdir(cluster.workspace))[:landed]
    monkeypatch.setattr(replica, "land_jobs", real)
    result = transport.sync(laptop, cluster.path)  # both ways: nothing deleted anywhere
    assert result.exit_status == 0, result.format()
    assert {a["action"] for a in result.actions} == {"copy job"}
    assert len(result.actions) == 6 - landed
    assert {j.id: j.doc() for j in laptop} == {j.id: j.doc() for j in cluster}
    assert len(cluster) == 6 and sorted(os.listdir(laptop.workspace)) == sorted(
        os.listdir(cluster.workspace))


def test_changed_files_are_pulled_in_batches(transport, pair, monkeypatch):
    from sync.engine import Sync

    lap, clu = pair
    assert transport.sync(lap, clu.path).exit_status == 0
    for job in clu:  # results written on the cluster
        with open(job.fn("result.txt"), "w") as f:
            f.write(f"result of {job.id}")
        with open(job.fn("data.bin"), "ab") as f:
            f.write(b"more")
    calls = batched_only(monkeypatch, "read_files", "read")
    monkeypatch.setattr(Sync, "FETCH_JOBS", 3)
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert sum(calls) == 8 and max(calls) <= 3, calls
    for job in clu:
        for name in ("result.txt", "data.bin"):
            with open(job.fn(name), "rb") as a, open(lap.open_job(id=job.id).fn(name), "rb") as b:
                assert a.read() == b.read()
    assert not transport.sync(lap, clu.path).actions


def test_checksum_compares_contents_in_batches(transport, pair, monkeypatch):

    lap, clu = pair
    assert transport.sync(lap, clu.path).exit_status == 0
    job = clu.open_job(id=lap.open_job({"i": 1}).id)
    st = os.stat(job.fn("data.bin"))
    with open(job.fn("data.bin"), "r+b") as f:  # same size, same mtime, other bytes
        f.write(b"X" * 16)
    os.utime(job.fn("data.bin"), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not transport.sync(lap, clu.path).conflicts  # unseen
    calls = batched_only(monkeypatch, "digests_later", "digest")
    result = transport.sync(lap, clu.path, checksum=True)
    assert calls == [4]  # every same-size file of the 4 jobs, in one request
    assert [(c["job"], c["path"]) for c in result.conflicts] == [(job.id, "data.bin")]


def batched_only(monkeypatch, batch, single):
    """Record the size of every ``batch`` request of the protocol's client (every transport's
    replica); fail on any ``single`` one."""
    from sync.client import Client

    sizes = []
    real = getattr(Client, batch)

    def counted(self, requests):
        sizes.append(len(requests))
        return real(self, requests)

    monkeypatch.setattr(Client, batch, counted)
    monkeypatch.setattr(Client, single, lambda *a: pytest.fail("one request per file"))
    return sizes


@pytest.fixture
def small_stream_limits(monkeypatch):
    """Files of 5,000 bytes or more travel in chunks of 1,500 bytes. The client decides what
    streams; the far side (its own process, default chunk size) streams what it is asked to."""
    from sync import replica

    monkeypatch.setattr(replica, "STREAM_MIN", 5000)
    monkeypatch.setattr(replica, "CHUNK", 1500)


def test_large_files_travel_in_chunks_both_ways(transport, tmp_path, monkeypatch,
                                                small_stream_limits):
    from sync.client import Client  # SSHReplica's methods, and the local transport's
    from sync.replica import Replica

    whole_reads = []
    for cls, name in ((Replica, "read"), (Client, "read_jobs"), (Client, "read_jobs_later"),
                      (Client, "read_files"), (Client, "read_files_later")):
        real = getattr(cls, name)

        def spy(self, *args, real=real):
            whole_reads.append(repr(args))
            return real(self, *args)
        monkeypatch.setattr(cls, name, spy)
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    up = lap.open_job({"i": 1}).init()
    big = os.urandom(20000)
    with open(up.fn("big.h5"), "wb") as f:
        f.write(big)
    down = clu.open_job({"i": 2}).init()
    with open(down.fn("big.h5"), "wb") as f:
        f.write(big[::-1])
    url = transport.url(clu.path)
    result = sync.sync(lap, url, **transport.options)
    assert result.exit_status == 0, result.format()
    assert not [r for r in whole_reads if "big.h5" in r]
    with open(clu.open_job(id=up.id).fn("big.h5"), "rb") as f:
        assert f.read() == big
    with open(lap.open_job(id=down.id).fn("big.h5"), "rb") as f:
        assert f.read() == big[::-1]
    # a changed large file (too small here for a delta) also streams, and mtimes match
    with open(up.fn("big.h5"), "ab") as f:
        f.write(b"appended")
    assert sync.sync(lap, url, **transport.options).exit_status == 0
    there = clu.open_job(id=up.id).fn("big.h5")
    assert os.path.getsize(there) == 20008
    assert os.stat(there).st_mtime_ns == os.stat(up.fn("big.h5")).st_mtime_ns
    assert not sync.sync(lap, url, **transport.options).actions
    assert not [n for n in os.listdir(clu.open_job(id=up.id).path) if "suite-tmp" in n]


def test_unfinished_stream_leaves_nothing(tmp_path):
    """A transfer the client never finished (connection lost) leaves no temporary file."""
    import io

    from sync import protocol
    from sync.server import serve

    clu = suite.init_project(tmp_path / "cluster")
    job = clu.open_job({"i": 1}).init()
    requests = io.BytesIO()
    protocol.write_frame(requests, {"op": "write_open", "args": [1, job.id, "big.h5"]})
    protocol.write_frame(requests, {"op": "write_chunk", "args": [1]}, b"x" * 100)
    requests.seek(0)  # ... and then the stream ends
    answers = io.BytesIO()
    assert serve(str(clu.path), requests, answers) == 0
    assert sorted(os.listdir(job.path)) == ["signac_statepoint.json"]


def synced_big_files(transport, tmp_path, n):
    """A laptop project of ``n`` jobs with a 100 kB file each, synced to a cluster project."""
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(n):
        with open(lap.open_job({"i": i}).init().fn("big.bin"), "wb") as f:
            f.write(os.urandom(100_000))
    assert transport.sync(lap, clu.path).exit_status == 0
    return lap, clu


def assert_same_big_files(lap, clu, n):
    for i in range(n):
        with open(lap.open_job({"i": i}).fn("big.bin"), "rb") as a, \
                open(clu.open_job({"i": i}).fn("big.bin"), "rb") as b:
            assert a.read() == b.read()


@pytest.mark.parametrize("files, chunk", [(3, 8), (64, 2)])
def test_deltas_travel_in_batches_both_ways(transport, tmp_path, monkeypatch, files, chunk):
    """Changed large files on either side cost a request per chunk of deltas, not round trips
    each (over a WAN each would be tens of milliseconds); with chunks smaller than a batch the
    far side's answers for one chunk arrive while the writes of another are in flight."""
    from sync.client import Client
    from sync.engine import Sync

    calls = {"signatures_later": [], "make_deltas_later": []}
    for name in calls:
        real = getattr(Client, name)

        def counted(self, requests, *rest, real=real, name=name):
            calls[name].append(len(requests))
            return real(self, requests, *rest)
        monkeypatch.setattr(Client, name, counted)
    monkeypatch.setattr(Sync, "DELTA_FILES", files)
    monkeypatch.setattr(Sync, "DELTA_CHUNK", chunk)
    lap, clu = synced_big_files(transport, tmp_path, 12)
    assert calls == {"signatures_later": [], "make_deltas_later": []}  # new files: no deltas
    for i in range(12):  # 7 change here, 5 there; a few bytes each
        side = lap if i < 7 else clu
        with open(side.open_job({"i": i}).fn("big.bin"), "r+b") as f:
            f.seek(50_000)
            f.write(b"changed %d" % i)
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert sorted(a["direction"] for a in result.actions if a["action"] == "delta file") == \
        ["pull"] * 5 + ["push"] * 7
    # per batch, direction and chunk one request to the far side: for its signatures
    # (pushes) or for its deltas (pulls)
    sigs, deltas = calls["signatures_later"], calls["make_deltas_later"]
    assert sum(sigs) == 7 and sum(deltas) == 5, calls
    if files == 3:  # 12 files (both directions mixed), 4 batches
        assert max(sigs + deltas) <= 3 and len(sigs) <= 4 and len(deltas) <= 4, calls
    else:  # one batch: 7 pushes and 5 pulls in chunks of 2
        assert sigs == [2, 2, 2, 1] and deltas == [2, 2, 1], calls
    assert_same_big_files(lap, clu, 12)
    assert not transport.sync(lap, clu.path).actions


def test_a_batch_of_deltas_asks_the_far_side_everything_before_waiting(transport, tmp_path,
                                                                       monkeypatch):
    """One round trip a batch, not one a chunk: every chunk's request (signatures for pushes,
    deltas for pulls) is sent before the first delta of the batch is applied (over a WAN a
    round trip per chunk of 8 was 13 of them for 100 files)."""
    from sync.client import Client
    from sync.engine import Sync
    from sync.replica import Replica

    events = []
    for cls, name in ((Client, "signatures_later"), (Client, "make_deltas_later"),
                      (Client, "apply_delta"), (Replica, "apply_delta")):
        real = getattr(cls, name)

        def spy(self, *args, real=real, tag=f"{cls.__name__}.{name}"):
            events.append(tag)
            return real(self, *args)
        monkeypatch.setattr(cls, name, spy)
    monkeypatch.setattr(Sync, "DELTA_CHUNK", 2)
    lap, clu = synced_big_files(transport, tmp_path, 12)
    for i in range(12):  # 7 change here, 5 there
        side = lap if i < 7 else clu
        with open(side.open_job({"i": i}).fn("big.bin"), "r+b") as f:
            f.seek(50_000)
            f.write(b"changed %d" % i)
    events.clear()
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    pushes = [e for e in events if e in ("Client.signatures_later", "Client.apply_delta")]
    assert pushes == ["Client.signatures_later"] * 4 + ["Client.apply_delta"] * 7, events
    pulls = [e for e in events if e in ("Client.make_deltas_later", "Replica.apply_delta")]
    assert pulls == ["Client.make_deltas_later"] * 3 + ["Replica.apply_delta"] * 5, events
    assert_same_big_files(lap, clu, 12)


def test_a_large_file_changed_on_one_side_is_not_hashed_first(transport, tmp_path,
                                                              monkeypatch):
    """Same size, changed on one side since the record: a delta straight away, neither copy
    hashed as a whole first (that read both twice); changed on both sides it is compared
    (the same content is no conflict), and a file only touched still ends up equal."""
    from sync.client import Client
    from sync.replica import Replica

    hashed = []
    for cls in (Client, Replica):
        real = cls.digests_later

        def spy(self, requests, real=real):
            hashed.extend(requests)
            return real(self, requests)
        monkeypatch.setattr(cls, "digests_later", spy)
    lap, clu = synced_big_files(transport, tmp_path, 3)
    paths = [(lap.open_job({"i": i}).fn("big.bin"), clu.open_job({"i": i}).fn("big.bin"))
             for i in range(3)]
    with open(paths[0][0], "r+b") as f:  # job 0 changed here
        f.write(b"changed")
    os.utime(paths[1][1], ns=(1, 10**18))  # job 1 only touched there
    content = os.urandom(100_000)
    for p in paths[2]:  # job 2 changed alike on both sides
        with open(p, "wb") as f:
            f.write(content)
    hashed.clear()
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    ids = [lap.open_job({"i": i}).id for i in range(3)]
    assert sorted((a["action"], a["job"]) for a in result.actions) == sorted(
        [("delta file", ids[0]), ("delta file", ids[1])]), result.actions
    assert {job for job, _ in hashed} == {ids[2]}
    assert_same_big_files(lap, clu, 3)
    assert not transport.sync(lap, clu.path).actions


def test_failed_remote_delta_is_never_recorded(transport, tmp_path, monkeypatch):
    """A delta the far side cannot apply (its file is immutable) stops the sync with an
    error; the record does not claim it, and the next sync sends it."""
    from sync.engine import Sync

    monkeypatch.setattr(Sync, "DELTA_CHUNK", 2)
    lap, clu = synced_big_files(transport, tmp_path, 5)
    for i in range(5):
        with open(lap.open_job({"i": i}).fn("big.bin"), "r+b") as f:
            f.write(b"edited %d" % i)
    stuck = clu.open_job({"i": 2}).path
    if subprocess.run(["chattr", "+i", stuck], capture_output=True).returncode:
        pytest.skip("chattr +i is not supported on this file system")
    try:
        with pytest.raises(sync.SyncError):
            transport.sync(lap, clu.path)
    finally:
        subprocess.run(["chattr", "-i", stuck], check=True)
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert ("delta file", clu.open_job({"i": 2}).id) in {(a["action"], a["job"])
                                                         for a in result.actions}
    assert_same_big_files(lap, clu, 5)


def test_mostly_rewritten_large_file_goes_whole(transport, tmp_path, monkeypatch):
    """A large file whose delta would be as big as itself is streamed instead (bounded
    memory), in both directions; a small change still travels as a delta."""
    from sync import replica
    from sync.client import Client
    from sync.replica import Replica

    monkeypatch.setattr(replica, "STREAM_MIN", 100_000)
    applied = []
    for cls in (Replica, Client):
        real = cls.apply_delta

        def spy(self, *args, real=real):
            applied.append(args[1])
            return real(self, *args)
        monkeypatch.setattr(cls, "apply_delta", spy)
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in (1, 2):
        with open(lap.open_job({"i": i}).init().fn(f"f{i}.bin"), "wb") as f:
            f.write(os.urandom(300_000))
    assert transport.sync(lap, clu.path).exit_status == 0
    pushed, pulled = lap.open_job({"i": 1}).fn("f1.bin"), clu.open_job({"i": 2}).fn("f2.bin")
    with open(pushed, "wb") as f:  # rewritten here
        f.write(os.urandom(300_000))
    with open(pulled, "wb") as f:  # rewritten there
        f.write(os.urandom(300_000))
    assert transport.sync(lap, clu.path).exit_status == 0
    assert applied == []
    for a, b in ((pushed, clu.open_job({"i": 1}).fn("f1.bin")),
                 (pulled, lap.open_job({"i": 2}).fn("f2.bin"))):
        with open(a, "rb") as f, open(b, "rb") as g:
            assert f.read() == g.read()
    with open(pushed, "r+b") as f:  # a small change: still a delta
        f.seek(1000)
        f.write(b"changed")
    assert transport.sync(lap, clu.path).exit_status == 0
    assert applied == ["f1.bin"]


def test_the_record_is_encoded_once_for_both_sides(transport, pair, monkeypatch):
    """The final record goes to both sides as the same bytes: encoded once here (an encoding
    of 10,000 jobs' record is 20-40 ms), written there as it came once checked to be JSON."""
    import json

    from sync import replica

    encoded = []
    real = replica.encode_record

    def spy(record):
        encoded.append(1)
        return real(record)

    monkeypatch.setattr(replica, "encode_record", spy)
    dumped = []
    real_dump = protocol.dump_json
    monkeypatch.setattr(protocol, "dump_json",
                        lambda value: dumped.append(value) or real_dump(value))
    lap, clu = pair
    lap.open_job({"i": 0}).doc.step = 1
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert len(encoded) == 1 and not [v for v in dumped if "jobs" in v]
    sync_dir = os.path.join(".suite", "sync")
    [here] = [n for n in os.listdir(os.path.join(lap.path, sync_dir)) if n.endswith(".json")]
    [there] = [n for n in os.listdir(os.path.join(clu.path, sync_dir)) if n.endswith(".json")]
    with open(os.path.join(lap.path, sync_dir, here), "rb") as f, \
            open(os.path.join(clu.path, sync_dir, there), "rb") as g:
        mine, theirs = f.read(), g.read()
    assert mine == theirs and json.loads(mine)["jobs"][lap.open_job({"i": 0}).id]["doc"] == \
        {"step": 1}
    assert not transport.sync(lap, clu.path).actions


def test_the_first_questions_go_with_the_connection(transport, pair, monkeypatch):
    """The far side's identity, its active work, its submission book and its lock of the
    pair are asked for with the connection, before its hello is read, not one round trip
    each after it (issue #18: four of the serial round trips of every sync over a slow
    link); the sync is the same. A dry run takes no lock: none is asked for."""
    from sync.client import Client

    waited, ahead = [], []

    def call(self, op, *args, real=Client._call, **kwargs):
        waited.append(op)
        return real(self, op, *args, **kwargs)

    def ask_ahead(self, requests, real=Client._ask_ahead):
        ahead.append([name for name, _ in requests])
        return real(self, requests)

    monkeypatch.setattr(Client, "_call", call)
    monkeypatch.setattr(Client, "_ask_ahead", ask_ahead)
    lap, clu = pair
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert sorted(j.id for j in clu) == sorted(j.id for j in lap)
    first = {"identity", "active_work", "load_book", "try_lock"}
    assert first <= set(ahead[-1]) and not first & set(waited), (ahead, waited)
    assert transport.sync(lap, clu.path, dry_run=True).exit_status == 0
    assert "try_lock" not in ahead[-1] and "try_lock" not in waited
    # a second sync: the far identity asked ahead names the same record
    lap.open_job({"i": 0}).doc.step = 7
    again = transport.sync(lap, clu.path)
    assert again.exit_status == 0 and [a["action"] for a in again.actions] == ["merge doc"]
    assert clu.open_job(id=lap.open_job({"i": 0}).id).doc.step == 7


@pytest.mark.parametrize("far", ["patched", "refused", "refused, lock taken meanwhile"])
def test_the_far_lock_is_given_back_with_the_record(transport, pair, monkeypatch, far):
    """The far side's unlock goes right behind its record (issue #18: the last serial round
    trip of a sync), read there after it, so the record is still written under the lock.
    A patch refused is followed by the whole record under the far lock taken again; if
    another holds it by then, the far record stays as a sync stopped before saving there
    leaves it (this side's lock, held throughout, kept the pair's other syncs out), and the
    next sync completes: both sides then hold the same record."""
    from sync.client import Client

    waited, patched, spying = [], [], [True]

    def call(self, op, *args, real=Client._call, **kwargs):
        if spying:
            waited.append(op)
        return real(self, op, *args, **kwargs)

    def patch_later(self, peer, base, digest, removed, at, lines,
                    real=Client.patch_record_later):
        patched.append(peer)
        refused = far != "patched" and spying
        return real(self, peer, "0" * 64 if refused else base, digest, removed, at, lines)

    def try_lock(self, peer, real=Client.try_lock):
        if far == "refused, lock taken meanwhile" and patched and spying:
            return "sync pid 1 on elsewhere"  # the lock asked again after the record
        return real(self, peer)

    lap, clu = pair
    lap.open_job({"i": 0}).doc.step = 1
    assert transport.sync(lap, clu.path).exit_status == 0
    before = _far_record(clu, lap)
    monkeypatch.setattr(Client, "_call", call)
    monkeypatch.setattr(Client, "patch_record_later", patch_later)
    monkeypatch.setattr(Client, "try_lock", try_lock)
    lap.open_job({"i": 1}).doc.step = 2
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert clu.open_job(id=lap.open_job({"i": 1}).id).doc.step == 2
    if far == "patched":
        assert "unlock" not in waited and "try_lock" not in waited, waited
    if far == "refused, lock taken meanwhile":
        assert _far_record(clu, lap) == before != _far_record(lap, clu)
    else:
        assert _far_record(clu, lap) == _far_record(lap, clu)
    # the far lock was given back: another process takes it at once
    from sync.replica import Replica

    replica = Replica(clu.path)
    assert replica.try_lock(Replica(lap.path).identity()) is None
    replica.unlock(Replica(lap.path).identity())
    spying.clear()
    again = transport.sync(lap, clu.path)
    assert again.exit_status == 0 and again.actions == [], again.format()
    assert _far_record(clu, lap) == _far_record(lap, clu)


def _far_record(project, peer_project):
    from sync.replica import Replica

    return (Path(project.path) / ".suite" / "sync" /
            f"{Replica(peer_project.path).identity()}.json").read_bytes()


@pytest.mark.parametrize("far", ["patched", "refused", "unknown"])
def test_a_sync_sends_the_far_record_as_the_lines_that_changed(ssh_transport, pair,
                                                               monkeypatch, far):
    """A sync whose far side holds the record it started from sends only the lines of the
    jobs it changed (issue #18: the whole record was the last serial step of a sync of a
    few jobs); both sides then hold the same bytes, and the next sync is steady. A patch the
    far side refuses (another base) or does not know is followed by the whole record."""
    from sync.client import Client

    sent = []

    def patch_later(self, peer, base, digest, removed, at, lines,
                    real=Client.patch_record_later):
        sent.append(("patch", len(lines)))
        if far == "refused":
            base = "0" * 64
        if far == "unknown":
            answer = self._later("patch_record_of_a_later_version", peer)
            return lambda: answer()[0]
        return real(self, peer, base, digest, removed, at, lines)

    def save_later(self, peer, record, real=Client.save_record_later):
        sent.append(("whole", len(record)))
        return real(self, peer, record)

    monkeypatch.setattr(Client, "patch_record_later", patch_later)
    monkeypatch.setattr(Client, "save_record_later", save_later)
    lap, clu = pair
    for i in range(20, 40):
        lap.open_job({"i": i}).init().doc.step = 0
    assert ssh_transport.sync(lap, clu.path).exit_status == 0
    assert [s[0] for s in sent] == ["whole"]  # a first sync: no record there yet
    sent.clear()
    lap.open_job({"i": 21}).doc.step = 1
    clu.open_job(id=lap.open_job({"i": 22}).id).doc.far = True
    result = ssh_transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert [s[0] for s in sent] == (["patch"] if far == "patched" else ["patch", "whole"])
    assert sent[0][1] <= 3  # two jobs' lines (and the last line's, if it moved)
    assert _far_record(clu, lap) == _far_record(lap, clu)
    sent.clear()
    again = ssh_transport.sync(lap, clu.path)
    assert again.exit_status == 0 and again.actions == [] and sent == []
    assert clu.open_job(id=lap.open_job({"i": 21}).id).doc.step == 1
    assert lap.open_job({"i": 22}).doc.far is True
