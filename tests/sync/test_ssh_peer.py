"""Over a real sshd: far sides that lie, stop or never answer; host keys; ``~``; ports;
--init. A lying far side is a small script given as ``remote_suite``: the real server with a
patch, or raw bytes."""

import os
import re
import subprocess
import sys
import time

import pytest

import suite
import sync
from suite import layout
from suite.jsonio import read_json
from sync import protocol
from sync.ssh import parse_url
from tests.sync.conftest import started_far_side


@pytest.fixture
def pair(tmp_path):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(6):
        job = lap.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(str(i) * 10)
    return lap, clu


def far_side(tmp_path, patch, name="far-suite"):
    """A ``remote_suite`` running the real far-side server after ``patch`` (Python source
    that may change ``server``, ``replica`` or ``protocol``; ``sys.argv[2]`` is the path)."""
    script = tmp_path / name
    script.write_text(
        f"#!{sys.executable}\nimport os, signal, sys, time\n"
        "from sync import protocol, replica, server\n"
        f"{patch}\n"
        "sys.exit(server.serve(sys.argv[2], init='--init' in sys.argv))\n")
    script.chmod(0o755)
    return str(script)


def cli(*args, cwd):
    return subprocess.run(["suite", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


# -- 1. the far side's identity names a file here ---------------------------------------------

def test_far_side_identity_naming_a_path_is_refused(transport, pair, tmp_path):
    lap, clu = pair
    victim = tmp_path / "victim.json"
    victim.write_text('{"jobs": {}, "mine": 1}')
    peer = os.path.relpath(tmp_path / "victim", os.path.join(lap.path, ".suite", "sync"))
    remote = far_side(tmp_path, f"replica.Replica.identity = lambda self: {peer!r}")
    with pytest.raises(sync.SyncError, match=f"refused sync identity from .*{re.escape(transport.host)}"):
        transport.sync(lap, clu.path, remote_suite=remote)
    assert victim.read_text() == '{"jobs": {}, "mine": 1}'
    assert len(clu) == 0


# -- 2. reserved files and values from the far side ---------------------------------------------

def test_far_side_listing_reserved_files_is_refused(transport, pair, tmp_path):
    lap, clu = pair
    sync.sync(lap, clu.path)
    remote = far_side(tmp_path, """
real = replica.Replica.snapshot
def snapshot(self, ids=None, exclude=(), since=None):
    snap = real(self, ids, exclude)  # whole, so that the lie reaches every job
    for entry in snap["jobs"].values():
        entry["files"]["signac_statepoint.json"] = [9, 1]
    return snap
replica.Replica.snapshot = snapshot
replica.Replica.read = lambda self, job_id, rel: (b'{"i": 99}', 1)
""")
    with pytest.raises(sync.SyncError, match="signac_statepoint.json"):
        transport.sync(lap, clu.path, remote_suite=remote)
    for job in lap:
        assert read_json(job.fn(layout.STATEPOINT))["i"] != 99
        assert suite.calc_id(read_json(job.fn(layout.STATEPOINT))) == job.id


def test_far_side_nan_document_skips_that_job_only(transport, pair, tmp_path):
    lap, clu = pair
    transport.sync(lap, clu.path)
    poisoned, ordinary = lap.open_job({"i": 1}), lap.open_job({"i": 2})
    clu.open_job(id=poisoned.id).doc.poison = 1
    clu.open_job(id=ordinary.id).doc.step = 7
    lap.open_job({"i": 3}).doc.step = 8
    remote = far_side(tmp_path, """
real = replica.Replica.snapshot
def snapshot(self, ids=None, exclude=(), since=None):
    snap = real(self, ids, exclude)  # whole, so that the lie reaches every job
    for entry in snap["jobs"].values():
        if "poison" in entry["doc"]:
            entry["doc"]["poison"] = float("nan")
            entry["doc"]["deep"] = {"x": [float("-inf")]}
    return snap
replica.Replica.snapshot = snapshot
""")
    result = transport.sync(lap, clu.path, remote_suite=remote)
    assert not result.conflicts and [r["job"] for r in result.refused] == [poisoned.id]
    assert "NaN" in result.refused[0]["reason"] and result.exit_status == 5
    assert f"REFUSED (remote) {poisoned.id}: " in result.format()
    # the CLI: exit status 5, and --quiet still names the job left alone
    r = cli("sync", transport.url(clu.path), *transport.args(remote_suite=remote), "--quiet",
            cwd=lap.path)
    assert r.returncode == 5, r.stdout + r.stderr
    assert [line.split(":")[0] for line in r.stdout.splitlines()] == \
        [f"REFUSED (remote) {poisoned.id}"]
    assert read_json(poisoned.fn(layout.DOCUMENT)) == {"step": 1}  # left as it was
    assert read_json(lap.open_job(id=ordinary.id).fn(layout.DOCUMENT)) == {"step": 7}
    assert clu.open_job({"i": 3}).doc.step == 8  # the rest of the sync went on
    result = transport.sync(lap, clu.path)  # an honest far side
    assert result.exit_status == 0 and lap.open_job(id=poisoned.id).doc.poison == 1


# -- 4. malformed answers: one line, no traceback -------------------------------------------

def _raw_answers(data):
    """A far side whose every answer after the handshake is ``data``."""
    return f"""
def raw(replica, stdin, stdout, streams):
    stdout.stream.write({data!r})
    stdout.stream.flush()
    sys.stdin.buffer.read()
server._serve = raw
"""


def _snapshot(value):
    return f"replica.Replica.snapshot = lambda self, ids=None, exclude=(), since=None: {value}"


@pytest.mark.parametrize("patch, message, error", [
    (_snapshot("{'jobs': {'0' * 32: 'not an entry'}, 'project_doc': {}}"), "wrong shape",
     protocol.ProtocolError),
    (_snapshot("{'jobs': {'0' * 32: {'files': {'a': [1, 'x']}, 'doc': {}}}, 'project_doc': {}}"),
     "wrong shape", protocol.ProtocolError),
    (_snapshot("{'jobs': {'+' + '0' * 31: {'files': {}, 'doc': {}}}, 'project_doc': {}}"),
     "refused job id", sync.SyncError),
    (_snapshot("[1]"), "not one", protocol.ProtocolError),
    ("replica.Replica.create_jobs = lambda self, *a: [[1]]", "answered a write with something "
     "of the wrong shape", protocol.ProtocolError),
    ("replica.Replica.create_jobs = lambda self, *a: [{'job': '../..', 'path': None}]",
     "refused job id", sync.SyncError),
    (_snapshot("{'jobs': {'0' * 32: {'files': {'a': [1, 2, 3, 4]}, 'doc': {}}}, 'project_doc': {}}"),
     "wrong shape", protocol.ProtocolError),
    (_snapshot("{'jobs': {'0' * 32: {'files': {}, 'doc': {}, 'skipped': {'../x': 'r'}}}, "
               "'project_doc': {}}"), "refused path", sync.SyncError),
    (_snapshot("{'jobs': {}, 'project_doc': {}, 'unreadable': {'../x': 'r'}}"),
     "refused job id", sync.SyncError),
    (_snapshot("{'jobs': {}, 'project_doc': {}, 'since': {'record': 1, 'gone': []}}"),
     "not one", protocol.ProtocolError),
    (_snapshot("{'jobs': {}, 'project_doc': {}, 'since': {'record': 'x', 'gone': ['../x']}}"),
     "refused job id", sync.SyncError),
    (_raw_answers(b"\x00\x00\x00\x03abc" + bytes(8)), "not valid JSON", protocol.ProtocolError),
    (_raw_answers(b"\x00\x00\x00\x02{}" + b"\x7f" * 8), "larger than the protocol allows",
     protocol.ProtocolError),
    (_raw_answers(b"\x00\x00\x00\x02[]" + bytes(8)), "not a JSON object",
     protocol.ProtocolError),
], ids=["entry shape", "file state", "job id", "snapshot shape", "note shape", "note job id",
        "link target", "skipped path", "unreadable id", "since shape", "gone id", "header not json", "huge payload",
        "header not an object"])
def test_malformed_answers_are_one_line_errors(transport, pair, tmp_path, patch, message,
                                               error):
    lap, clu = pair
    remote = far_side(tmp_path, patch)
    with pytest.raises(error, match=message):
        transport.sync(lap, clu.path, remote_suite=remote, timeout=20)
    r = cli("sync", transport.url(clu.path), *transport.args(remote_suite=remote), "--timeout",
            "20", cwd=lap.path)
    assert r.returncode == 1 and message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert len(clu) == 0


@pytest.mark.parametrize("answer, message", [
    ("['../../x']", "refused job id"), ("{'a': 1}", "wrong shape")])
def test_far_side_ids_of_the_wrong_shape_are_refused(transport, pair, tmp_path, answer,
                                                     message):
    lap, clu = pair
    remote = far_side(tmp_path, f"replica.Replica.find_ids = lambda self, filter: {answer}")
    with pytest.raises(sync.SyncError, match=message):
        transport.sync(lap, clu.path, remote_suite=remote, filter={"i": 1})
    assert len(clu) == 0


def test_jobs_larger_than_a_frame_still_sync_both_ways(transport, tmp_path, monkeypatch):
    """A job's small files travel with the job in one frame only up to JOB_BYTES; the rest
    follow in chunks, so no frame passes the protocol's bound however many files a job has."""
    from sync import engine

    monkeypatch.setattr(protocol, "MAX_PAYLOAD", 30_000)  # this side's bound, both ways
    monkeypatch.setattr(engine, "JOB_BYTES", 20_000)
    lap = suite.init_project(tmp_path / "l")
    clu = suite.init_project(tmp_path / "c")
    contents = {}
    for name, project in (("push", lap), ("pull", clu)):
        job = project.open_job({"way": name}).init()
        for k in range(10):  # 50 kB of incompressible small files
            data = os.urandom(5000)
            with open(job.fn(f"part{k}.bin"), "wb") as f:
                f.write(data)
            contents[(job.id, f"part{k}.bin")] = data
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0
    for project in (lap, clu):
        for (job_id, rel), data in contents.items():
            with open(project.open_job(id=job_id).fn(rel), "rb") as f:
                assert f.read() == data
    assert transport.sync(lap, clu.path) \
        .actions == []


# -- 5. timeouts, keepalives, heartbeats; the next sync resumes ---------------------------------

def test_far_side_that_never_answers_times_out_naming_the_host(transport, pair,
                                                               tmp_path, monkeypatch):
    """Over openssh the first byte may take LOGIN_TIMEOUT (300 s: someone typing a one-time
    code) before --timeout applies, so there the test shortens it, and skips the CLI."""
    from sync.transports import openssh

    monkeypatch.setattr(openssh, "LOGIN_TIMEOUT", 0)
    lap, clu = pair
    silent = tmp_path / "silent"  # reads until the connection closes, never says a word
    silent.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; sys.stdin.read()'\n")
    silent.chmod(0o755)
    start = time.monotonic()
    with pytest.raises(sync.SyncError, match=f"{re.escape(transport.host)} sent nothing for 1.5 s"):
        transport.sync(lap, clu.path, remote_suite=str(silent), timeout=1.5)
    assert time.monotonic() - start < 30
    if transport.kind == "openssh":
        return
    r = cli("sync", transport.url(clu.path), *transport.args(remote_suite=str(silent)),
            "--timeout", "1", cwd=lap.path)
    assert r.returncode == 1 and f"{transport.host} sent nothing for 1 s" in r.stderr
    assert "--timeout" in r.stderr and "Traceback" not in r.stderr


def test_short_frame_times_out(transport, pair, tmp_path):
    lap, clu = pair
    remote = far_side(tmp_path, """
real = server._serve
def short(replica, stdin, stdout, streams):
    stdout.stream.write(b"\\x00\\x00\\x01\\x00{")  # a header of 256 bytes, one sent
    stdout.stream.flush()
    sys.stdin.buffer.read()
server._serve = short
""")
    start = time.monotonic()
    with pytest.raises(sync.SyncError, match=f"{re.escape(transport.host)} sent nothing for 2 s"):
        transport.sync(lap, clu.path, remote_suite=remote, timeout=2)
    # over openssh too: once a byte has come the login is over, LOGIN_TIMEOUT no longer applies
    assert time.monotonic() - start < 60


def test_stopped_far_side_times_out_and_the_next_sync_resumes(transport, pair, tmp_path):
    lap, clu = pair
    start = time.monotonic()
    # started ahead: the 2 s are for the stop, not for a loaded machine's Python start
    with started_far_side(tmp_path, """
real = replica.land_jobs  # new jobs land through it, many a call (Replica.create_jobs)
count = [0]
def land_jobs(jobs, *names):
    out = []
    for job in jobs:
        out += real([job], *names)
        count[0] += 1
        if count[0] == 3:
            os.kill(os.getpid(), signal.SIGSTOP)
    return out
replica.land_jobs = land_jobs
""", clu.path) as (remote, far):
        with pytest.raises(sync.SyncError, match=f"{re.escape(transport.host)} sent nothing for 2 s"):
            transport.sync(lap, clu.path, remote_suite=remote, timeout=2)
        assert far.poll() is None  # stopped, not ended (killed as the block ends)
    assert time.monotonic() - start < 60
    assert 3 <= len(clu) < 6
    result = transport.sync(lap, clu.path)  # the default timeout: a loaded machine's start
    assert result.exit_status == 0 and len(clu) == 6
    assert sorted(j.id for j in clu) == sorted(j.id for j in lap)
    assert transport.sync(lap, clu.path).actions == []


def test_busy_far_side_sends_heartbeats_instead_of_timing_out(transport, pair, tmp_path):
    """Busy for 2.5 read timeouts; a heartbeat every 0.5 s (a quarter of it), so that a loaded
    machine may delay one by 1.5 s."""
    lap, clu = pair
    # started ahead: the 2 s are for the heartbeats, not for a loaded machine's Python start
    with started_far_side(tmp_path, """
real = replica.Replica.snapshot
def slow(self, ids=None, exclude=(), since=None):
    time.sleep(5)
    return real(self, ids, exclude, since)
replica.Replica.snapshot = slow
""", clu.path) as (remote, far):
        result = transport.sync(lap, clu.path, remote_suite=remote, timeout=2)
        assert far.wait(timeout=60) == 0  # it served the sync, and ended with it
    assert result.exit_status == 0 and len(clu) == 6


def test_a_connection_lost_while_sending_is_one_sync_error(sshd, ssh_home, pair):
    """paramiko says EOFError (not an OSError) when the socket refuses a write: seen when
    `suite submit --on` lost its connection between two requests on a loaded machine."""
    import socket

    lap, clu = pair
    client, _ = sync.connect(lap, f"cluster:{clu.path}", remote_suite=sshd["remote_suite"])
    try:
        client.transport.client.get_transport().sock.shutdown(socket.SHUT_WR)
        with pytest.raises(sync.SyncError, match="connection to cluster lost"):
            client.active_work()
    finally:
        client.close()


def test_transport_sends_keepalives(sshd, ssh_home, monkeypatch):
    import paramiko

    from sync.ssh import connect

    sent = []
    real = paramiko.Transport.global_request

    def spy(self, kind, *args, **kwargs):  # the real request still goes out
        sent.append(kind)
        return real(self, kind, *args, **kwargs)

    monkeypatch.setattr(paramiko.Transport, "global_request", spy)
    # a keepalive every second (timeout // 4); the login has the most that gives: 7 s
    client = connect(parse_url("cluster:/"), timeout=7)
    try:
        # waited for (a fixed pause of 2.5 s was a bet that paramiko's thread ran in it)
        deadline = time.monotonic() + 60
        while "keepalive@lag.net" not in sent and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sent.count("keepalive@lag.net") >= 1
        assert client.get_transport().is_active()
    finally:
        client.close()



def test_paramiko_prefers_aes_gcm_where_the_server_offers_it(sshd, ssh_home):
    # an AEAD cipher: no separate HMAC-SHA2 pass over every packet (paramiko's default,
    # aes128-ctr with hmac-sha2-256, cost twice the CPU per byte sent or received)
    from sync.ssh import connect

    client = connect(parse_url("cluster:/"), timeout=10)
    try:
        t = client.get_transport()
        assert t.local_cipher == t.remote_cipher == "aes128-gcm@openssh.com"
    finally:
        client.close()

# -- 6. accepting a new host key appends one line ----------------------------------------------

def test_new_host_key_is_appended_never_rewriting_known_hosts(sshd, ssh_home, pair):
    lap, clu = pair
    known = ssh_home / ".ssh" / "known_hosts"
    other = open(sshd["client_key"] + ".pub").read().split()[1].encode()  # any valid key
    original = (b"# my hosts, kept by hand\n"
                b"|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 "
                + other + b"\n"
                b"@cert-authority *.example.org ssh-ed25519 " + other + b"\n"
                b"this line means nothing to paramiko\n"
                b"\n"
                b"old.example.org ssh-ed25519 " + other)  # and no newline at the end
    known.write_bytes(original)
    with pytest.raises(sync.SyncError, match="unknown host key"):
        sync.sync(lap, f"cluster:{clu.path}", remote_suite=sshd["remote_suite"])
    assert known.read_bytes() == original
    result = sync.sync(lap, f"cluster:{clu.path}", remote_suite=sshd["remote_suite"],
                       accept_new_host_key=True)
    assert result.exit_status == 0
    after = known.read_bytes()
    assert after.startswith(original + b"\n")
    added = after[len(original) + 1:].decode()
    key_type, key = open(sshd["host_key"]).read().split()[:2]
    assert added == f"[127.0.0.1]:{sshd['port']} {key_type} {key}\n"
    assert sync.sync(lap, f"cluster:{clu.path}", remote_suite=sshd["remote_suite"]) \
        .exit_status == 0  # the appended line is read back
    assert known.read_bytes() == after


# -- 7. DEST must be a project's root over SSH too; --init ------------------------------------

def test_remote_dest_inside_a_project_is_refused_and_init_creates_one(transport, pair):
    lap, clu = pair
    for dest in (os.path.join(clu.path, "missing"), clu.workspace):
        with pytest.raises(sync.SyncError, match="not a project's root.*--init"):
            transport.sync(lap, dest)
    assert len(clu) == 0
    nested = os.path.join(clu.path, "nested")
    result = transport.sync(lap, nested, init=True)
    assert result.exit_status == 0 and len(suite.get_project(nested)) == 6
    assert len(clu) == 0
    r = cli("sync", transport.url(f"{clu.path}/other"), *transport.cli, cwd=lap.path)
    assert r.returncode == 1 and "--init" in r.stderr and "Traceback" not in r.stderr
    r = cli("sync", transport.url(f"{clu.path}/other"), "--init", *transport.cli, cwd=lap.path)
    assert r.returncode == 0, r.stderr
    assert len(suite.get_project(os.path.join(clu.path, "other"))) == 6


# -- 8. ~ is the far side's home ------------------------------------------------------------

def test_tilde_is_the_home_directory_on_the_far_side(ssh_transport, sshd, pair, tmp_path):
    """Over both SSH transports (a local DEST's ``~`` is this side's)."""
    lap, clu = pair
    far_home = tmp_path / "far-home"
    far_home.mkdir()
    remote = f"env HOME={far_home} {sshd['remote_suite']}"
    result = ssh_transport.sync(lap, "~/proj", remote_suite=remote, init=True)
    assert result.exit_status == 0 and len(suite.get_project(far_home / "proj")) == 6
    lap.open_job({"i": 0}).doc.more = 1
    result = sync.sync(lap, f"ssh://root@127.0.0.1:{sshd['port']}/~/proj",
                       **{**ssh_transport.options, "remote_suite": remote})
    assert result.exit_status == 0
    assert suite.get_project(far_home / "proj").open_job({"i": 0}).doc.more == 1
    assert not os.path.exists(os.path.join(lap.path, "~"))


# -- 9. ports ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["ssh://h:70000/p", "ssh://h:0/p", "ssh://h:65536/p",
                                 "ssh://h:-1/p", "ssh://h:22x/p", "h:99999", "h:2222"])
def test_ports_outside_the_range_are_refused(url):
    with pytest.raises(sync.SyncError, match="port"):
        parse_url(url)
    assert parse_url("ssh://u@h:65535/p").port == 65535
    assert parse_url("h:99999/p").path == "99999/p"


def test_ports_in_ssh_config_and_proxyjump_are_checked(sshd, ssh_home, pair):
    lap, clu = pair
    with open(ssh_home / ".ssh" / "config", "a") as f:
        f.write("Host wrapped\n  HostName 127.0.0.1\n  Port 88888\n"
                f"Host jumping\n  HostName 127.0.0.1\n  ProxyJump root@cluster:{1 << 16}\n")
    for host in ("wrapped", "jumping"):
        with pytest.raises(sync.SyncError, match="port '(88888|65536)' is not a port number"):
            sync.sync(lap, f"{host}:{clu.path}", remote_suite=sshd["remote_suite"])
    r = cli("sync", f"ssh://cluster:70000{clu.path}", cwd=lap.path)
    assert r.returncode == 1 and "70000" in r.stderr and "Traceback" not in r.stderr
