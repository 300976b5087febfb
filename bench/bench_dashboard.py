"""Dashboard benchmark: server time of the pages on a project of N jobs (default 100,000).

Usage: python bench/bench_dashboard.py [-n 100000] [--root /tmp/suite-bench-dashboard]
                                       [--json results-dashboard.json] [--no-watch]

The project is built once under --root (outside the repository) and reused by later runs. Pages
are requested through Flask's test client, so the times are the server's (routing, index,
rendering), without a network or a browser. The state points are read first, as the server does
when it starts; then each row: the first request ("cold": no sorted order kept yet) and the
median of 5 more ("warm"). Bars (issue 16): overview
<= 1 s, a page of the jobs table <= 0.3 s, a search <= 0.5 s. The start (state points, then
the watches of the job directories and one full document check) is timed as its own row;
--no-watch measures the dashboard that checks documents by stat (SUITE_DASHBOARD_INOTIFY=0).
The last row edits one document in place before each request: what a page sorted by a document
key costs right after a job wrote its document.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

from common import sp_of

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import suite  # noqa: E402
from suite.dashboard import create_app  # noqa: E402
from suite.dashboard.app import warm as read_at_start  # noqa: E402

TOKEN = "bench"
BARS = {"overview": 1.0, "jobs page": 0.3, "search": 0.5}


def build(root, n):
    """The project of ``n`` jobs under ``root`` (made once; a finished build leaves a marker)."""
    path = os.path.join(root, f"project-{n}")
    marker = os.path.join(path, ".bench-complete")
    if os.path.exists(marker):
        return suite.get_project(path), 0.0
    if os.path.exists(path):
        import shutil

        shutil.rmtree(path)
    t = time.perf_counter()
    proj = suite.init_project(path)
    for start in range(0, n, 1000):
        with suite.buffered():
            for i in range(start, min(n, start + 1000)):
                job = proj.open_job(sp_of(i))
                job.init()
                job.doc.score = i * 0.5
                job.doc.tag = "even" if i % 2 == 0 else "odd"
    proj.index.refresh(documents=True)
    open(marker, "w").close()
    return proj, time.perf_counter() - t


def measure(client, url, repeat=5, before=None):
    """``(cold seconds, median of ``repeat`` warm seconds, cold CPU seconds, median warm CPU
    seconds)`` of GET ``url`` (must answer 200); ``before()`` runs untimed before each
    request. CPU: this process's and its waited-for children's (user + system), which a loaded
    machine stretches less than the wall time."""
    times, cpus = [], []
    for _ in range(repeat + 1):
        if before is not None:
            before()
        t, c = time.perf_counter(), _cpu()
        resp = client.get(url)
        times.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
        if resp.status_code != 200:
            raise RuntimeError(f"{url}: {resp.status_code}")
        if b'class="error"' in resp.data:
            raise RuntimeError(f"{url}: the page shows an error")
    return times[0], statistics.median(times[1:]), cpus[0], statistics.median(cpus[1:])


def _cpu():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


EDITED = "the same, each after a document was edited"
ROWS = [
    ("overview", "overview", "/"),
    ("jobs page", "jobs table, page 1", "/jobs"),
    ("jobs page", "jobs table, page 1000", "/jobs?page=1000"),
    ("jobs page", "sorted by a state point key (desc), page 2", "/jobs?sort=a&order=desc&page=2"),
    ("jobs page", "grouped by b.c, sorted by seed", "/jobs?group=b.c&sort=seed"),
    ("jobs page", "with document columns", "/jobs?cols=a,b.c,doc.score,doc.tag"),
    ("search", "search: state point keys", "/jobs?q=b.c+3+seed.%24gt+5"),
    ("search", "search: a range", "/jobs?q=a.%24lt+500"),
    ("search", "search: a document key", "/jobs?q=doc.tag+odd+doc.score.%24lt+1000"),
    ("jobs page", "sorted by a document key", "/jobs?sort=doc.score&order=desc"),
    ("jobs page", "sorted by a document key, page 3", "/jobs?sort=doc.score&page=3"),
    ("jobs page", EDITED, "/jobs?sort=doc.score&order=desc&page=2"),
    (None, "job page", None),
]


def _edit(job):
    """Rewrite one document in place, as signac does (a new score each time)."""
    path = job.fn("signac_job_document.json")
    with open(path) as f:
        doc = json.load(f)
    doc["score"] = doc.get("score", 0) + 1
    with open(path, "w") as f:
        json.dump(doc, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--root", default="/tmp/suite-bench-dashboard")
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-watch", action="store_true",
                    help="check documents by stat, as without inotify")
    args = ap.parse_args()
    if args.no_watch:
        os.environ["SUITE_DASHBOARD_INOTIFY"] = "0"
    os.makedirs(args.root, exist_ok=True)
    proj, built = build(args.root, args.n)
    if built:
        print(f"built {args.n} jobs in {built:.1f} s")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    app = create_app(proj.path, token=TOKEN)
    client = app.test_client()
    client.get(f"/?token={TOKEN}")
    t, c = time.perf_counter(), _cpu()
    read_at_start(app)  # as `suite dashboard` does at start, while the user opens the URL
    start, start_cpu = time.perf_counter() - t, _cpu() - c
    watcher = app.extensions["suite_dashboard"].watcher
    print(f"start (serve() does it in a background thread): {start:.3f} s ({start_cpu:.3f} s "
          f"CPU); watching: "
          f"{watcher.active} ({watcher.reason or 'all job directories'})")
    job_id = next(iter(proj.find_jobs({"a": args.n // 2}).ids()))
    edited = proj.open_job(id=job_id)
    with open(edited.fn("signac_job_document.json"), "rb") as f:
        original = f.read()  # put back at the end: the project is shared by later runs
    results = []
    print(f"{'row':48s} {'cold s':>8s} {'warm s':>8s} {'cpu cold':>8s} {'cpu warm':>8s}  bar")
    for bar, label, url in ROWS:
        cold, warm, cpu_cold, cpu_warm = measure(
            client, url or f"/job/{job_id}",
            before=lambda label=label: _edit(edited) if label == EDITED else None)
        limit = BARS.get(bar)
        worst = max(cold, warm)
        verdict = "" if limit is None else ("ok" if worst <= limit else f"OVER {limit}")
        print(f"{label:48s} {cold:8.3f} {warm:8.3f} {cpu_cold:8.3f} {cpu_warm:8.3f}  {verdict}")
        results.append({"row": label, "url": url, "cold": cold, "warm": warm, "bar": limit,
                        "cpu_cold": cpu_cold, "cpu_warm": cpu_warm})
    results.append({"row": "start", "seconds": start, "watching": watcher.active})
    with open(edited.fn("signac_job_document.json"), "wb") as f:
        f.write(original)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS {peak / 1024:.0f} MiB (before the app: {rss0 / 1024:.0f} MiB); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "rows": results, "peak_rss_kib": peak,
                       "load": os.getloadavg()}, f, indent=2)


if __name__ == "__main__":
    main()
