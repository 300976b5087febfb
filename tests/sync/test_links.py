"""Links, fifos and unreadable jobs in sync: links inside a job travel as links, anything else
is skipped and listed, nothing is written through a link, one bad job does not stop the rest.
Every sync runs over each transport (the ``transport`` fixture)."""

import json
import os
import subprocess
import sys

import pytest

import suite
import sync
from suite import jobfiles
from sync.replica import Replica, SyncError

pytestmark = pytest.mark.timeout(60)  # a fifo that is opened would hang


@pytest.fixture
def pair(tmp_path):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(3):
        job = lap.open_job({"i": i}).init()
        job.doc.step = 0
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"result {i}")
    return lap, clu


def other(project, job):
    return project.open_job(id=job.id)


def skipped_paths(result):
    return {(s["job"], s["path"]): s["reason"] for s in result.skipped}


def make_links(job, outside):
    """Links that stay inside ``job`` and links that leave it, in every way."""
    os.makedirs(job.fn("run3"))
    with open(job.fn("run3/log"), "w") as f:
        f.write("log")
    os.symlink("out.txt", job.fn("latest"))          # file link inside
    os.symlink("run3", job.fn("current"))            # directory link inside
    os.symlink("../out.txt", job.fn("run3/up"))      # inside, through ..
    os.symlink("/etc/passwd", job.fn("passwd"))      # absolute
    os.symlink(str(outside), job.fn("outside"))      # absolute directory
    os.symlink("../../..", job.fn("escape"))         # leaves the job
    os.symlink("missing", job.fn("dangling"))        # dangling
    os.symlink("escape", job.fn("chain"))            # a chain that leaves
    os.symlink("loop", job.fn("loop"))               # a loop


INSIDE = {"latest": "out.txt", "current": "run3", "run3/up": "../out.txt"}
LEAVING = {"passwd", "outside", "escape", "dangling", "chain", "loop"}


def test_links_inside_travel_as_links_and_others_are_skipped(transport, pair, tmp_path):
    lap, clu = pair
    (tmp_path / "outside").mkdir()
    a = lap.open_job({"i": 0})
    make_links(a, tmp_path / "outside")
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    b = other(clu, a)
    for rel, target in INSIDE.items():
        assert os.readlink(b.fn(rel)) == target
    for rel in LEAVING:
        assert not os.path.lexists(b.fn(rel)), rel
    assert skipped_paths(result) == {(a.id, rel): jobfiles.LINK_LEAVES for rel in LEAVING}
    # /etc/passwd's bytes never left: nothing in the copy holds them
    with open("/etc/passwd", "rb") as f:
        secret = f.read()
    for dirpath, _, names in os.walk(b.path):
        for name in names:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                with open(path, "rb") as f:
                    assert f.read() != secret
    # the next sync changes nothing: links stay links on both sides
    again = transport.sync(lap, clu.path)
    assert again.actions == [], again.format()
    assert os.readlink(a.fn("latest")) == "out.txt" and os.readlink(b.fn("latest")) == "out.txt"
    # a link re-pointed on one side follows; a link replaced by a file follows as a file
    os.unlink(b.fn("latest"))
    os.symlink("run3/log", b.fn("latest"))
    os.unlink(a.fn("current"))
    with open(a.fn("current"), "w") as f:
        f.write("now a file")
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert os.readlink(a.fn("latest")) == "run3/log"
    assert not os.path.islink(b.fn("current"))
    with open(b.fn("current")) as f:
        assert f.read() == "now a file"


def test_link_in_a_new_job_on_the_far_side_is_pulled_as_link(transport, pair):
    lap, clu = pair
    transport.sync(lap, clu.path)
    j = clu.open_job({"i": 7}).init()
    with open(j.fn("data"), "w") as f:
        f.write("x")
    os.symlink("data", j.fn("alias"))
    os.symlink("/etc/hostname", j.fn("host"))
    result = transport.sync(lap, clu.path)
    mine = other(lap, j)
    assert os.readlink(mine.fn("alias")) == "data"
    assert not os.path.lexists(mine.fn("host"))
    assert (j.id, "host") in skipped_paths(result)


def test_pull_never_writes_through_a_directory_link(transport, pair, tmp_path):
    lap, clu = pair
    transport.sync(lap, clu.path)
    outside = tmp_path / "outside"
    outside.mkdir()
    a = lap.open_job({"i": 1})
    os.symlink(str(outside), a.fn("results"))
    b = other(clu, a)
    os.makedirs(b.fn("results"))
    with open(b.fn("results/x.dat"), "w") as f:
        f.write("cluster data")
    result = transport.sync(lap, clu.path)
    assert os.listdir(outside) == []
    assert os.path.islink(a.fn("results"))
    assert (a.id, "results/x.dat") in skipped_paths(result)
    with open(b.fn("results/x.dat")) as f:
        assert f.read() == "cluster data"


def test_replica_refuses_writes_below_a_link(pair, tmp_path):
    lap, _ = pair
    outside = tmp_path / "outside"
    outside.mkdir()
    a = lap.open_job({"i": 0})
    os.symlink(str(outside), a.fn("d"))
    os.makedirs(a.fn("real"))
    os.symlink("real", a.fn("inside"))
    rep = Replica(lap.path)
    for rel in ("d/x", "inside/x", "d/deeper/x"):
        with pytest.raises(SyncError, match="link"):
            rep.write(a.id, rel, b"data", 0)
        with pytest.raises(SyncError, match="link"):
            rep.write_stream(a.id, rel, [b"data"], 0)
        with pytest.raises(SyncError, match="link"):
            rep.delete_file(a.id, rel)
    with pytest.raises(SyncError, match="link"):
        rep.read(a.id, "d/x")
    assert os.listdir(outside) == [] and os.listdir(a.fn("real")) == []


def _special_files(job):
    """A fifo, a unix socket and (where allowed) a character device in ``job``."""
    import socket
    import stat

    os.mkfifo(job.fn("pipe"))
    os.makedirs(job.fn("sub"))
    os.mkfifo(job.fn("sub/pipe2"))
    made = ["pipe", "sub/pipe2"]
    here = os.getcwd()
    os.chdir(job.path)  # a socket's path is limited to ~100 bytes: bind a relative one
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind("sock")
        sock.close()
        made.append("sock")
    finally:
        os.chdir(here)
    try:
        os.mknod(job.fn("null"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
        made.append("null")
    except PermissionError:
        pass  # no CAP_MKNOD in this container
    return made


def test_fifo_socket_and_device_are_skipped_not_waited_on(transport, pair):
    lap, clu = pair
    a = lap.open_job({"i": 2})
    made = _special_files(a)
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert skipped_paths(result) == {(a.id, rel): jobfiles.SPECIAL for rel in made}
    b = other(clu, a)
    assert os.path.exists(b.fn("out.txt")) and not os.path.lexists(b.fn("pipe"))
    # the job with an unsynced fifo is not deleted when the other side deletes it
    b.remove()
    result = transport.sync(lap, clu.path)
    assert os.path.lexists(a.fn("pipe"))


def test_corrupt_document_or_statepoint_does_not_stop_the_other_jobs(transport, pair):
    lap, clu = pair
    transport.sync(lap, clu.path)
    bad_doc, good = lap.open_job({"i": 0}), lap.open_job({"i": 2})
    with open(bad_doc.fn("signac_job_document.json"), "w") as f:
        f.write("{broken")
    bad_sp = clu.open_job({"i": 6}).init()  # new there: its state point would be copied
    with open(bad_sp.fn("signac_statepoint.json"), "w") as f:
        f.write("not json")
    good.doc.step = 9
    other(clu, bad_doc).doc.step = 4
    new = clu.open_job({"i": 5}).init()
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 5, result.format()
    assert {(u["job"], u["side"]) for u in result.unreadable} == {
        (bad_doc.id, "local"), (bad_sp.id, "remote")}
    assert other(clu, good).doc.step == 9
    assert os.path.isdir(other(lap, new).path)
    # neither bad job was touched, copied or deleted on either side
    with open(bad_doc.fn("signac_job_document.json")) as f:
        assert f.read() == "{broken"
    assert other(clu, bad_doc).doc.step == 4
    assert not os.path.exists(lap.open_job({"i": 6}).path)
    # later runs, with nothing changed since the index last read them, still know (the
    # workspaces' mtimes are made old, so the index trusts them and reads nothing again)
    for ws in (lap.workspace, clu.workspace):
        os.utime(ws, (1e9, 1e9))
    os.unlink(lap.index.path)  # rebuilt (a query), then trusted: nothing is read again
    suite.get_project(lap.path).index.documents()
    for _ in range(3):
        replica = Replica(lap.path)
        assert bad_doc.id in replica.snapshot()["unreadable"] and not replica.index_cold
    for _ in range(2):
        result = transport.sync(lap, clu.path)
        assert {(u["job"], u["side"]) for u in result.unreadable} == {
            (bad_doc.id, "local"), (bad_sp.id, "remote")}
        assert other(clu, bad_doc).doc.step == 4 and result.actions == []
    # fixed: the next sync carries on
    with open(bad_doc.fn("signac_job_document.json"), "w") as f:
        f.write('{"step": 0}')
    with open(bad_sp.fn("signac_statepoint.json"), "w") as f:
        json.dump({"i": 6}, f)
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert bad_doc.doc.step == 4
    assert os.path.isdir(lap.open_job({"i": 6}).path)


def test_corrupt_job_reported_by_a_cold_index(transport, pair):
    """A project whose index is missing (just unpacked) reads documents itself."""
    lap, clu = pair
    bad = lap.open_job({"i": 0})
    with open(bad.fn("signac_job_document.json"), "w") as f:
        f.write("[1, 2")
    if os.path.exists(lap.index.path):
        os.unlink(lap.index.path)
    lap._index = None
    replica = sync.Replica(lap.path)
    assert list(replica.snapshot()["unreadable"]) == [bad.id] and replica.index_cold
    result = transport.sync(lap, clu.path)
    assert [u["job"] for u in result.unreadable] == [bad.id]
    assert len(clu) == 2


NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
          "--bounding-set=-dac_override,-dac_read_search"]


def _run_without_privileges(args, cwd):
    """Run suite with root's file-permission override dropped (tests run as root)."""
    cmd = [sys.executable, "-m", "suite", *args]
    if os.geteuid() == 0:
        if subprocess.run([*NO_DAC, "true"]).returncode != 0:
            pytest.skip("cannot drop CAP_DAC_OVERRIDE here")
        cmd = [*NO_DAC, *cmd]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_unreadable_file_is_listed_and_the_rest_synced(transport, pair):
    lap, clu = pair
    a, b = lap.open_job({"i": 0}), lap.open_job({"i": 1})
    with open(a.fn("secret.dat"), "w") as f:
        f.write("private")
    os.chmod(a.fn("secret.dat"), 0)
    proc = _run_without_privileges(["sync", transport.url(clu.path), *transport.cli], lap.path)
    assert proc.returncode == 5, proc.stderr
    assert f"{a.id}/secret.dat: {jobfiles.UNREADABLE}" in proc.stderr
    assert os.path.exists(other(clu, b).fn("out.txt"))
    assert os.path.exists(other(clu, a).fn("out.txt"))
    assert not os.path.exists(other(clu, a).fn("secret.dat"))


def test_cli_summarises_skipped_items_on_stderr(transport, pair):
    lap, clu = pair
    a = lap.open_job({"i": 0})
    for k in range(40):
        os.symlink(f"/nowhere/{k}", a.fn(f"l{k:02d}"))
    dest = [transport.url(clu.path), *transport.cli]
    proc = subprocess.run([sys.executable, "-m", "suite", "sync", *dest], cwd=lap.path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "skipped 40 item(s):" in proc.stderr
    assert f"{a.id}/l00: {jobfiles.LINK_LEAVES}" in proc.stderr
    assert "and 35 more" in proc.stderr
    assert proc.stderr.count(jobfiles.LINK_LEAVES) == 5
    assert "l00" not in proc.stdout
    js = subprocess.run([sys.executable, "-m", "suite", "sync", *dest, "--json"],
                        cwd=lap.path, capture_output=True, text=True, timeout=60)
    assert len(json.loads(js.stdout)["skipped"]) == 40


def test_links_and_fifos_on_the_far_side_both_ways(transport, pair, tmp_path):
    lap, clu = pair
    (tmp_path / "outside").mkdir()
    a = lap.open_job({"i": 0})
    make_links(a, tmp_path / "outside")
    os.mkfifo(a.fn("pipe"))
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    b = other(clu, a)
    for rel, target in INSIDE.items():
        assert os.readlink(b.fn(rel)) == target
    assert skipped_paths(result) == {**{(a.id, rel): jobfiles.LINK_LEAVES for rel in LEAVING},
                                     (a.id, "pipe"): jobfiles.SPECIAL}
    # the far side's skipped items, links and a directory link in the way of a pull
    c = other(clu, lap.open_job({"i": 1}))
    os.symlink("out.txt", c.fn("alias"))
    os.symlink("/etc", c.fn("etc"))
    os.mkfifo(c.fn("pipe"))
    os.symlink(str(tmp_path / "outside"), lap.open_job({"i": 2}).fn("res"))
    d = other(clu, lap.open_job({"i": 2}))
    os.makedirs(d.fn("res"))
    with open(d.fn("res/x"), "w") as f:
        f.write("x")
    with open(b.fn("signac_job_document.json"), "w") as f:
        f.write("{oops")
    fresh = clu.open_job({"i": 20}).init()  # new there: pulled whole, its link as a link
    with open(fresh.fn("data"), "w") as f:
        f.write("d")
    os.symlink("data", fresh.fn("alias"))
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 5, result.format()
    assert os.readlink(lap.open_job({"i": 1}).fn("alias")) == "out.txt"
    assert os.readlink(lap.open_job({"i": 20}).fn("alias")) == "data"
    got = {(s["job"], s["path"], s["side"]) for s in result.skipped}
    assert {(c.id, "etc", "remote"), (c.id, "pipe", "remote"), (d.id, "res/x", "remote")} <= got
    assert [(u["job"], u["side"]) for u in result.unreadable] == [(b.id, "remote")]
    assert os.listdir(tmp_path / "outside") == []


def test_statepoint_corrupted_after_indexing_is_reported_not_copied(transport, pair):
    """The index never re-reads a state point (fixed by its id): the copy itself checks it."""
    lap, clu = pair
    transport.sync(lap, clu.path)
    bad = clu.open_job({"i": 8}).init()
    good = clu.open_job({"i": 9}).init()
    assert len(clu.find_jobs({})) == 5  # indexed there with a good state point
    with open(bad.fn("signac_statepoint.json"), "w") as f:
        f.write('{"i": 99}')  # valid JSON, wrong job
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 5, result.format()
    assert [(u["job"], u["side"]) for u in result.unreadable] == [(bad.id, "remote")]
    assert "hashes to" in result.unreadable[0]["reason"]
    assert not os.path.exists(os.path.join(lap.workspace, bad.id))
    assert os.path.isdir(os.path.join(lap.workspace, good.id))
    with open(bad.fn("signac_statepoint.json"), "w") as f:
        json.dump({"i": 8}, f)
    assert transport.sync(lap, clu.path).exit_status == 0
    assert os.path.isdir(os.path.join(lap.workspace, bad.id))


def test_a_pushed_statepoint_is_checked_once_on_the_far_side(transport, pair, monkeypatch):
    """Pushed, a job's state point is checked where it lands (once: this side sent it
    unchecked, 16 % of a first push's CPU here); one that is not the job's is refused there
    alone, reported as unreadable on this side, and the rest of the sync goes on."""
    from sync import replica

    checked = []  # in this process: the far side is another
    real = replica.check_statepoint
    monkeypatch.setattr(replica, "check_statepoint",
                        lambda job_id, raw: checked.append(job_id) or real(job_id, raw))
    lap, clu = pair
    bad, good = lap.open_job({"i": 8}).init(), lap.open_job({"i": 9}).init()
    with open(bad.fn("big.bin"), "wb") as f:  # a file that follows its job in chunks
        f.write(b"x" * 300)
    os.symlink("big.bin", bad.fn("alias"))
    assert len(lap.find_jobs({})) == 5  # indexed here with a good state point
    with open(bad.fn("signac_statepoint.json"), "w") as f:
        f.write('{"i": 99}')  # valid JSON, wrong job
    monkeypatch.setattr("sync.replica.STREAM_MIN", 200)
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 5, result.format()
    assert [(u["job"], u["side"]) for u in result.unreadable] == [(bad.id, "local")]
    assert "hashes to" in result.unreadable[0]["reason"]
    assert not result.changed, result.format()
    assert bad.id not in {a["job"] for a in result.actions}
    assert not os.path.exists(os.path.join(clu.workspace, bad.id))
    assert os.path.isdir(os.path.join(clu.workspace, good.id)) and len(clu) == 4
    assert checked == []  # only the far side checked
    with open(bad.fn("signac_statepoint.json"), "w") as f:
        json.dump({"i": 8}, f)
    again = transport.sync(lap, clu.path)
    assert again.exit_status == 0, again.format()
    assert open(clu.open_job(id=bad.id).fn("big.bin"), "rb").read() == b"x" * 300
    assert os.readlink(clu.open_job(id=bad.id).fn("alias")) == "big.bin"


def test_diff_against_a_remote_names_skipped_items(transport, pair):
    lap, clu = pair
    a = lap.open_job({"i": 0})
    os.symlink("/etc/passwd", a.fn("passwd"))
    add = subprocess.run([sys.executable, "-m", "suite", "remote", "add", "hpc",
                          transport.url(clu.path), *transport.cli],
                         cwd=lap.path, capture_output=True, text=True, timeout=60)
    assert add.returncode == 0, add.stderr
    r = subprocess.run([sys.executable, "-m", "suite", "diff", "--against", "hpc"],
                       cwd=lap.path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"local {a.id}/passwd: {jobfiles.LINK_LEAVES}" in r.stderr
    assert len(clu) == 0  # a plan: nothing transferred


def test_job_directory_that_cannot_be_listed_is_unreadable_not_emptied(transport, pair):
    lap, clu = pair
    assert transport.sync(lap, clu.path).exit_status == 0
    a = lap.open_job({"i": 0})
    os.chmod(a.path, 0o300)  # files can be opened by name, the directory cannot be listed
    try:
        proc = _run_without_privileges(["sync", transport.url(clu.path), *transport.cli,
                                        "--json"], lap.path)
    finally:
        os.chmod(a.path, 0o755)
    assert proc.returncode == 5, proc.stderr
    out = json.loads(proc.stdout)
    assert [(u["job"], u["side"]) for u in out["unreadable"]] == [(a.id, "local")]
    assert out["actions"] == []
    assert os.path.exists(other(clu, a).fn("out.txt"))  # not deleted over there


def test_link_to_the_job_itself_and_links_that_only_resolve_inside(transport, pair):
    lap, clu = pair
    a = lap.open_job({"i": 0})
    os.makedirs(a.fn("sub/deeper"))
    os.symlink(".", a.fn("self"))                      # the job directory itself: carried
    os.symlink("sub/deeper", a.fn("d"))
    # resolves inside (through d), but as written it climbs out of the job: skipped, since
    # the other side could not check it without following links
    os.symlink("d/../../../" + a.id + "/out.txt", a.fn("tricky"))
    assert os.path.realpath(a.fn("tricky")) == os.path.realpath(a.fn("out.txt"))
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    b = other(clu, a)
    assert os.readlink(b.fn("self")) == "." and os.readlink(b.fn("d")) == "sub/deeper"
    assert skipped_paths(result) == {(a.id, "tricky"): jobfiles.LINK_LEAVES}
    # a link replacing an empty directory on the other side
    os.makedirs(b.fn("slot"))
    os.symlink("out.txt", a.fn("slot"))
    result = transport.sync(lap, clu.path)
    assert result.exit_status == 0, result.format()
    assert os.readlink(b.fn("slot")) == "out.txt"
    with pytest.raises(SyncError, match="leaves the job"):
        Replica(clu.path).write_link(a.id, "evil", "../../x", 0)
