"""Document freshness in a long-running dashboard: told by inotify which documents changed
(suite/dashboard/watch.py), or, where it cannot tell, by stat of each. Either way a document
changed on disk shows on the next page; real files, real inotify, real overflow."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar

import pytest

from suite.dashboard.app import warm
from suite.dashboard.data import ProjectData
from suite.dashboard.watch import ENV, MAX_ENV, Watcher

from .conftest import TOKEN, make_client, start_server, stop_server

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")


@pytest.fixture(params=["inotify", "stat"])
def mode(request, monkeypatch):
    if request.param == "inotify" and not sys.platform.startswith("linux"):
        pytest.skip("inotify is Linux's")
    if request.param == "stat":
        monkeypatch.setenv(ENV, "0")
    return request.param


@pytest.fixture
def live(dash, mode):
    """A test client of a dashboard started as `suite dashboard` starts it (watches set up,
    every document checked once); its data closed afterwards."""
    client = make_client(dash)
    app = client.application
    warm(app)
    data = app.extensions["suite_dashboard"]
    assert data.watcher.active == (mode == "inotify"), data.watcher.reason
    yield client
    data.close()


def ids_on(page):
    return re.findall(r'href="/job/([0-9a-f]{32})"', page)


def first_by_score(client, order="desc"):
    resp = client.get(f"/jobs?sort=doc.score&order={order}")
    assert resp.status_code == 200
    return ids_on(resp.get_data(as_text=True))[0]


def found(client, query):
    resp = client.get("/jobs", query_string={"q": query})
    assert resp.status_code == 200
    return set(ids_on(resp.get_data(as_text=True)))


def write_in_place(job, doc):
    """As signac writes a document: opened for writing, truncated, written."""
    with open(job.fn("signac_job_document.json"), "w") as f:
        json.dump(doc, f)


def test_document_written_in_place_shows_on_next_page(live, dash):
    top = dash.open_job({"a": 5, "b": {"c": 1}})
    assert first_by_score(live) == top.id
    assert found(live, "doc.score 1000") == set()
    job = dash.open_job({"a": 0, "b": {"c": 0}})
    write_in_place(job, {"score": 1000, "tag": "even"})
    assert first_by_score(live) == job.id
    assert found(live, "doc.score 1000") == {job.id}
    page = live.get("/jobs?sort=doc.score&order=desc&cols=doc.score").get_data(as_text=True)
    assert "1000" in page


def test_document_replaced_atomically_shows_on_next_page(live, dash):
    assert first_by_score(live, "asc") == dash.open_job({"a": 0, "b": {"c": 0}}).id
    assert found(live, "doc.tag odd") and not found(live, "doc.tag new")
    job = dash.open_job({"a": 3, "b": {"c": 1}})
    job.doc.score = -5  # suite writes a temporary file and renames it over the document
    assert first_by_score(live, "asc") == job.id
    job.doc.tag = "new"
    assert found(live, "doc.tag new") == {job.id}
    tmp = job.fn("doc.tmp")
    with open(tmp, "w") as f:
        json.dump({"score": -7, "tag": "other"}, f)
    os.replace(tmp, job.fn("signac_job_document.json"))  # as other tools replace it
    assert first_by_score(live, "asc") == job.id
    assert found(live, "doc.tag other") == {job.id}
    job.doc = {}  # the key gone: sorted last, not found
    assert first_by_score(live, "asc") == dash.open_job({"a": 0, "b": {"c": 0}}).id
    assert found(live, "doc.tag new") == set()


def test_document_deleted_and_recreated(live, dash):
    job = dash.open_job({"a": 2, "b": {"c": 0}})
    assert found(live, "doc.score 20") == {job.id}
    os.unlink(job.fn("signac_job_document.json"))
    assert found(live, "doc.score 20") == set()
    write_in_place(job, {"score": 20})
    assert found(live, "doc.score 20") == {job.id}


def test_new_and_removed_jobs_show(live, dash):
    assert first_by_score(live)  # an order kept
    new = dash.open_job({"a": 77, "b": {"c": 0}})
    new.init()
    new.doc.score = 5000
    assert first_by_score(live) == new.id
    assert found(live, "doc.score.$gt 999") == {new.id}
    write_in_place(new, {"score": 6000})  # the new directory is watched too
    assert found(live, "doc.score 6000") == {new.id}
    new.remove()
    assert first_by_score(live) == dash.open_job({"a": 5, "b": {"c": 1}}).id
    assert found(live, "doc.score.$gt 999") == set()


@linux
def test_a_change_stat_cannot_see_is_seen(dash, monkeypatch):
    """Same size, same mtime, same inode (a rewrite within one clock tick): the stat check
    cannot tell; the watches can."""
    client = make_client(dash)
    data = client.application.extensions["suite_dashboard"]
    warm(client.application)
    assert data.watcher.active, data.watcher.reason
    job = dash.open_job({"a": 4, "b": {"c": 0}})
    fn = job.fn("signac_job_document.json")
    assert found(client, "doc.score 40") == {job.id}
    before = os.stat(fn)
    with open(fn, "r+") as f:
        text = f.read()
        f.seek(0)
        f.write(text.replace("40", "49"))
    os.utime(fn, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(fn)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == \
        (before.st_size, before.st_mtime_ns, before.st_ino)
    assert found(client, "doc.score 49") == {job.id}
    data.close()


@linux
def test_unchanged_documents_cost_no_check_of_every_document(dash):
    live = make_client(dash)
    warm(live.application)
    data = live.application.extensions["suite_dashboard"]
    assert data.watcher.active, data.watcher.reason
    first_by_score(live)
    epoch = data.call(lambda proj: proj.index.document_epoch)
    for _ in range(3):
        first_by_score(live)
        found(live, "doc.tag odd")
    assert data.call(lambda proj: proj.index.document_epoch) == epoch  # nothing re-read
    dash.open_job({"a": 1, "b": {"c": 1}}).doc.score = 3
    first_by_score(live)
    assert data.call(lambda proj: proj.index.document_epoch) > epoch
    data.close()


def test_turned_off_by_the_environment(dash, monkeypatch):
    monkeypatch.setenv(ENV, "0")
    data = ProjectData(dash.path)
    data.start_watching()
    assert not data.watcher.wait_ready(5)
    assert data.watcher.reason == "turned off" and data.watcher.take() is None
    assert ProjectData(dash.path, watch=False).watcher.take() is None


@linux
def test_not_watched_where_other_machines_write_unseen(tmp_path):
    """Only file systems whose every write passes through this kernel are watched; elsewhere
    (here /proc, standing for NFS or Lustre, which a test cannot mount) the stat check."""
    from suite.dashboard.watch import LOCAL_FILESYSTEMS, filesystem_of

    assert filesystem_of(tmp_path) in LOCAL_FILESYSTEMS
    spaced = tmp_path / "a b"
    spaced.mkdir()
    assert filesystem_of(spaced) == filesystem_of(tmp_path)
    assert filesystem_of("/proc/self") == "proc"
    watcher = Watcher("/proc/sys")
    watcher.start()
    assert not watcher.wait_ready(30)
    assert "proc" in watcher.reason and watcher.take() is None


@linux
def test_queue_overflow_falls_back_then_watches_again(dash):
    """More events than the kernel queues (fs.inotify.max_queued_events) while none are
    read: the changes lost with them still show, and watching resumes."""
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        limit = int(f.read())
    if limit > 200_000:
        pytest.skip(f"max_queued_events is {limit}: too many files to write")
    watcher = Watcher(os.path.join(dash.path, "workspace"), drain=False)
    data = ProjectData(dash.path, watch=watcher)
    data.overview()
    data.start_watching()
    assert watcher.wait_ready(30), watcher.reason
    data.call(lambda proj: proj.index.refresh(documents=True))  # the first, full check
    page = data.jobs_page(sort="doc.score", descending=True)
    assert page["rows"][0]["id"] == dash.open_job({"a": 5, "b": {"c": 1}}).id
    noisy = dash.open_job({"a": 1, "b": {"c": 0}})
    os.makedirs(noisy.fn("many"))
    for i in range(limit // 2 + 50):  # a creation and a close each: past the limit
        open(noisy.fn(f"f{i}"), "w").close()
    job = dash.open_job({"a": 0, "b": {"c": 1}})
    write_in_place(job, {"score": 777})  # its event is lost with the overflow
    page = data.jobs_page(sort="doc.score", descending=True)
    assert page["rows"][0]["id"] == job.id
    assert watcher.overflows == 1
    deadline = time.monotonic() + 60  # the watches are set up again in the background
    while not watcher.active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert watcher.active
    write_in_place(job, {"score": -1})
    page = data.jobs_page(sort="doc.score", descending=True, columns=["doc.score"])
    assert page["rows"][-1]["id"] == job.id and page["rows"][-1]["cells"] == ["-1"]
    data.close()
    assert not watcher.active


def test_real_server_shows_documents_changed_behind_it(dash):
    """`suite dashboard` itself: the watches are set up while it serves."""
    proc, url = start_server(dash)
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        base = url.split("/?")[0]
        assert TOKEN not in url
        with opener.open(url, timeout=30) as resp:
            assert resp.status == 200
        job = dash.open_job({"a": 1, "b": {"c": 1}})
        for score in (500, 600, 700):
            write_in_place(job, {"score": score})
            with opener.open(f"{base}/jobs?sort=doc.score&order=desc&cols=doc.score",
                             timeout=30) as resp:
                page = resp.read().decode()
            assert ids_on(page)[0] == job.id and str(score) in page
    finally:
        stop_server(proc)


@linux
def test_kept_orders_patched_with_changes_equal_orders_made_anew(tmp_path):
    """Orders kept and patched with the documents the watches report equal those a dashboard
    without watches sorts anew, over many edits of every kind (values of mixed types, keys
    removed, documents replaced, deleted, unreadable)."""
    import random

    import suite

    rng = random.Random(16)
    proj = suite.init_project(tmp_path / "p")
    choices = [0, 1, 2, 2.0, 3.5, -1, "a", "b", "", None, True, False, [1], {"k": 1}]
    jobs = []
    for i in range(40):
        job = proj.open_job({"i": i % 7, "g": {"h": rng.choice([0, 1, "x"])}, "n": i})
        job.init()
        job.doc = {"s": rng.choice(choices), "t": rng.choice(["p", "q", "r"])}
        jobs.append(job)
    watched = ProjectData(proj.path)
    watched.overview()
    watched.start_watching()
    assert watched.watcher.wait_ready(30), watched.watcher.reason
    watched.call(lambda p: p.index.refresh(documents=True))
    views = [dict(sort="doc.s"), dict(sort="doc.s", descending=True),
             dict(group="doc.t", sort="doc.s", descending=True), dict(group="g.h", sort="doc.s"),
             dict(group="doc.s", sort="n", descending=True),
             dict(filter={"doc.t": "p"}, sort="doc.s"), dict(filter={"i": {"$lt": 4}},
                                                              sort="doc.s", descending=True),
             dict(filter={"doc.s": {"$type": "number"}}, group="doc.t", sort="i")]
    try:
        for step in range(25):
            for _ in range(rng.randint(1, 3)):
                job = rng.choice(jobs)
                how = rng.random()
                if how < 0.4:
                    write_in_place(job, {"s": rng.choice(choices), "t": rng.choice("pqr")})
                elif how < 0.7:
                    job.doc.s = rng.choice(choices)
                elif how < 0.8:
                    job.doc = {"t": "q"}  # no s
                elif how < 0.9:
                    with open(job.fn("signac_job_document.json"), "w") as f:
                        f.write("{broken")
                else:
                    try:
                        os.unlink(job.fn("signac_job_document.json"))
                    except FileNotFoundError:
                        pass
            fresh = ProjectData(proj.path, watch=False)
            for view in views:
                got = [r["id"] for r in watched.jobs_page(per_page=100, **view)["rows"]]
                want = [r["id"] for r in fresh.jobs_page(per_page=100, **view)["rows"]]
                assert got == want, (step, view)
        assert watched.watcher.active
    finally:
        watched.close()


def _warned(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "suite.dashboard" and "not watching" in r.getMessage()]


@linux
@pytest.mark.parametrize("budget", [5, 13])
def test_past_the_watch_budget_documents_are_checked_by_stat(dash, monkeypatch, caplog, budget):
    """More jobs than SUITE_DASHBOARD_MAX_WATCHES allows watches for (one per job and one for
    the workspace): at start (5) or when a new job comes (13: the 12 jobs and the workspace
    fit, a 13th job does not), the watcher lets its watches go and answers "cannot tell"; pages
    stay right after an edit in place and a new job, and the dashboard's log says why once."""
    import logging

    caplog.set_level(logging.INFO, logger="suite.dashboard")
    monkeypatch.setenv(MAX_ENV, str(budget))
    data = ProjectData(dash.path)
    data.overview()
    data.start_watching()
    assert data.watcher.wait_ready(30) == (budget == 13), data.watcher.reason
    data.call(lambda proj: proj.index.refresh(documents=True))
    job = dash.open_job({"a": 0, "b": {"c": 0}})
    write_in_place(job, {"score": 900})
    assert data.jobs_page(sort="doc.score", descending=True)["rows"][0]["id"] == job.id
    new = dash.open_job({"a": 9, "b": {"c": 9}}).init()
    new.doc.score = 1000
    rows = data.jobs_page(sort="doc.score", descending=True, columns=["doc.score"])["rows"]
    assert rows[0]["id"] == new.id and rows[0]["cells"] == ["1000"]
    write_in_place(new, {"score": -5})
    rows = data.jobs_page(sort="doc.score", descending=True, columns=["doc.score"])["rows"]
    assert rows[-1]["id"] == new.id and rows[-1]["cells"] == ["-5"]
    assert not data.watcher.active and data.watcher.take() is None
    assert f"budget of {budget} watches" in data.watcher.reason and MAX_ENV in data.watcher.reason
    assert len(_warned(caplog)) == 1, caplog.records
    assert MAX_ENV in _warned(caplog)[0]
    data.close()


def test_a_watch_budget_that_is_not_a_number_is_refused(dash, monkeypatch):
    from suite.errors import ConfigError

    for value in ("lots", "-3", "0"):
        monkeypatch.setenv(MAX_ENV, value)
        with pytest.raises(ConfigError, match=f"{MAX_ENV}.*{value}"):
            ProjectData(dash.path)
    r = subprocess.run([sys.executable, "-m", "suite", "dashboard", "--no-browser"],
                       cwd=dash.path, capture_output=True, text=True, timeout=60,
                       env={**os.environ, MAX_ENV: "lots"})
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and MAX_ENV in r.stderr, r.stderr


def test_the_default_watch_budget_is_half_the_users_allowance():
    from suite.dashboard.watch import watch_budget

    limits = []
    for name in ("/proc/sys/fs/inotify/max_user_watches", "/proc/sys/user/max_inotify_watches"):
        try:
            with open(name) as f:
                limits.append(int(f.read()))
        except OSError:
            pass
    if not limits:
        pytest.skip("no inotify limits to read")
    assert watch_budget({}) == max(1, min(limits) // 2)
    assert watch_budget({MAX_ENV: "77"}) == 77


ENOSPC_SCRIPT = """
import json, sys
from suite.dashboard.data import ProjectData
with open("/proc/sys/user/max_inotify_watches", "w") as f:
    f.write("6")  # this user namespace's allowance only
data = ProjectData(sys.argv[1])
data.overview()
data.start_watching()
watching = data.watcher.wait_ready(30)
data.call(lambda proj: proj.index.refresh(documents=True))
import suite
proj = suite.get_project(sys.argv[1])
with open(proj.open_job({"a": 1, "b": {"c": 0}}).fn("signac_job_document.json"), "w") as f:
    json.dump({"score": 4242}, f)
top = data.jobs_page(sort="doc.score", descending=True, columns=["doc.score"])["rows"][0]
print(json.dumps({"watching": watching, "reason": data.watcher.reason, "top": top["cells"]}))
data.close()
"""


@linux
def test_the_kernel_refusing_a_watch_falls_back_to_stat(dash):
    """ENOSPC from inotify_add_watch, provoked for real: in a user namespace of its own, whose
    watch allowance (/proc/sys/user/max_inotify_watches, per namespace) is set below the
    project's jobs, with the dashboard's own budget above them."""
    import shutil

    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-U", "-r", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a user namespace here")
    r = subprocess.run(["unshare", "-U", "-r", sys.executable, "-c", ENOSPC_SCRIPT,
                        str(dash.path)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, MAX_ENV: "1000"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert not out["watching"] and "max_user_watches" in out["reason"], out
    assert out["top"] == ["4242"]
    assert r.stderr.count("not watching") == 1, r.stderr


@linux
def test_workspace_removed_and_made_again_while_watched(dash, caplog):
    """The workspace directory removed under a watching dashboard: it stops watching (says
    so once), pages show no jobs, then the jobs of a new workspace and their edits."""
    import logging
    import shutil

    caplog.set_level(logging.INFO, logger="suite.dashboard")
    data = ProjectData(dash.path)
    data.overview()
    data.start_watching()
    assert data.watcher.wait_ready(30), data.watcher.reason
    data.call(lambda proj: proj.index.refresh(documents=True))
    assert len(data.jobs_page(sort="doc.score")["rows"]) > 0
    shutil.rmtree(dash.workspace)
    assert data.jobs_page(sort="doc.score")["rows"] == []
    assert not data.watcher.active and "removed" in data.watcher.reason
    os.makedirs(dash.workspace)
    job = dash.open_job({"a": 1, "b": {"c": 9}}).init()
    job.doc.score = 3
    rows = data.jobs_page(sort="doc.score", columns=["doc.score"])["rows"]
    assert [(r["id"], r["cells"]) for r in rows] == [(job.id, ["3"])]
    write_in_place(job, {"score": 4})
    rows = data.jobs_page(sort="doc.score", columns=["doc.score"])["rows"]
    assert rows[0]["cells"] == ["4"]
    assert len(_warned(caplog)) == 1
    data.close()
