"""What the dashboard's pages show and do, through Flask's test client."""

import html
import json
import re
import shutil
import subprocess
import sys

import pytest

import suite
from suite.dashboard import data as data_mod
from suite.query import MISSING

from .test_security import _field


def ids_on(page):
    return re.findall(r'href="/job/([0-9a-f]{32})"', page)


def text(resp):
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def test_overview_counts_and_schema(client):
    page = text(client.get("/"))
    assert "<strong>12</strong> jobs" in page
    assert "<code>b.c</code>" in page and "<code>a</code>" in page
    assert "0 <small>(6)</small>" in page  # b.c = 0 in six jobs
    assert "No <code>workflow.py</code>" in page


def test_overview_values_link_to_their_jobs(client, dash):
    dash.open_job({"s": "1"}).init()
    dash.open_job({"s": 1}).init()
    page = text(client.get("/"))
    links = [(html.unescape(t).strip(), html.unescape(u)) for u, t in re.findall(
        r'<a class="value" href="([^"]*)">([^<]*)<small>', page)]
    for value, job in (('"1"', dash.open_job({"s": "1"})), ("1", dash.open_job({"s": 1}))):
        url = [u for t, u in links if t == value and "%22s%22" in u][0]
        assert ids_on(text(client.get(url))) == [job.id]


def test_overview_workflow_status(client, dash):
    with open(dash.fn("workflow.py"), "w") as f:
        f.write("from suite.flow import Workflow\n\nclass W(Workflow):\n    pass\n\n"
                "@W.post.true('done')\n@W.operation\ndef go(job):\n    job.doc.done = True\n\n"
                "@W.label\ndef odd(job):\n    return job.sp.a % 2 == 1\n")
    page = text(client.get("/"))
    assert re.search(r"<td>go</td><td>12</td><td>0</td><td>0</td><td>0</td>", page), page
    assert "odd: 6" in page


def test_overview_shows_the_last_execution_per_operation(client, dash):
    """Issue 17: the dashboard, as `suite status`, shows each operation's latest record."""
    with open(dash.fn("workflow.py"), "w") as f:
        f.write("from suite.flow import Workflow\n\nclass W(Workflow):\n    pass\n\n"
                "@W.post.true('done')\n@W.operation\ndef go(job):\n    job.doc.done = True\n\n"
                "@W.post.true('never')\n@W.operation\ndef idle(job):\n    pass\n\n"
                "@W.post.true('ok')\n@W.operation\ndef fails(job):\n"
                "    raise RuntimeError('no')\n")
    job = next(iter(dash))
    ran = subprocess.run([sys.executable, "-m", "suite", "run", "-o", "go", "-j", job.id],
                         cwd=dash.path, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    subprocess.run([sys.executable, "-m", "suite", "run", "-o", "fails", "-j", job.id],
                   cwd=dash.path, capture_output=True, text=True)
    from suite.provenance import records

    by_op = {r.operation: r for r in records(dash)}
    page = text(client.get("/"))
    rows = {name: cells for name, cells in re.findall(
        r'<tr><td>([a-z]+)</td>(.*?)</tr>', page)}
    assert "success" in rows["go"] and f'href="/job/{job.id}"' in rows["go"], page
    assert by_op["go"].id[:12] in rows["go"]
    assert "failure" in rows["fails"] and by_op["fails"].id[:12] in rows["fails"]
    assert "success" not in rows["idle"] and "failure" not in rows["idle"]


def _workflow_and_book_path(dash):
    """Give ``dash`` a one-operation workflow (``go``); the path of its submission book."""
    import os

    with open(dash.fn("workflow.py"), "w") as f:
        f.write("from suite.flow import Workflow\n\nclass W(Workflow):\n    pass\n\n"
                "@W.operation\ndef go(job):\n    pass\n")
    book = os.path.join(dash.path, ".suite", "flow", "submissions.json")
    os.makedirs(os.path.dirname(book), exist_ok=True)
    return book


def test_overview_says_when_the_scheduler_cannot_answer(client, dash, monkeypatch):
    book = _workflow_and_book_path(dash)
    job_id = next(iter(dash)).id
    with open(book, "w") as f:
        json.dump({"4242": {"scheduler": "slurm", "pairs": [["go", job_id]]}}, f)
    monkeypatch.setenv("SUITE_SCHEDULER", "no-such-scheduler")
    page = html.unescape(text(client.get("/")))
    assert "cannot ask the scheduler" in page and "no-such-scheduler" in page
    assert "<td>go</td><td>12</td>" in page  # the conditions still answer


@pytest.mark.parametrize("book_text", ["{not json", '{"1": {"pairs": "x"}}'])
def test_overview_says_when_the_submission_book_is_damaged(client, dash, book_text):
    """A book that cannot be read is a warning beside the conditions, not a failed page."""
    book = _workflow_and_book_path(dash)
    with open(book, "w") as f:
        f.write(book_text)
    resp = client.get("/")
    assert resp.status_code == 200
    page = html.unescape(text(resp))
    assert "submitted and running are not counted" in page and book in page, page
    assert "fix or restore" in page and "cannot ask the scheduler" not in page
    assert "<td>go</td><td>12</td>" in page


def test_overview_defers_workflow_status_of_large_projects(client, dash, monkeypatch):
    from suite.dashboard import app as app_mod

    with open(dash.fn("workflow.py"), "w") as f:
        f.write("from suite.flow import Workflow\n\nclass W(Workflow):\n    pass\n\n"
                "@W.operation\ndef go(job):\n    pass\n")
    monkeypatch.setattr(app_mod, "STATUS_INLINE_MAX", 5)
    page = text(client.get("/"))
    assert 'id="show-status"' in page and "<td>go</td>" not in page
    assert "<td>go</td><td>12</td>" in text(client.get("/?status=1"))


@pytest.mark.parametrize("query", ["a 3", "a.$gt 3", "b.c 1 a.$lt 2", '{"a": {"$in": [1, 2]}}',
                                   "doc.tag even", "doc.score.$gte 40"])
def test_search_takes_what_find_takes(client, dash, query):
    page = text(client.get("/jobs", query_string={"q": query}))
    out = subprocess.run([sys.executable, "-m", "suite", "find", *(
        [query] if query.startswith("{") else query.split())], cwd=dash.path,
        capture_output=True, text=True, check=True).stdout.split()
    assert out, query
    assert sorted(ids_on(page)) == sorted(out)
    assert f"{len(out)} jobs" in page


def test_search_error_is_shown(client):
    page = text(client.get("/jobs", query_string={"q": "a.$bogus 1"}))
    assert 'class="error"' in page and "$bogus" in html.unescape(page)


def test_paging(client, dash, monkeypatch):
    from suite.dashboard import app as app_mod

    monkeypatch.setattr(app_mod, "PER_PAGE", 5)
    ids = sorted(j.id for j in dash)
    # PER_PAGE is read per request
    first = ids_on(text(client.get("/jobs")))
    third = ids_on(text(client.get("/jobs?page=3")))
    assert first == ids[:5] and third == ids[10:]
    assert "page 3 of 3" in text(client.get("/jobs?page=99"))


def test_sort_and_columns(client, dash):
    page = text(client.get("/jobs", query_string={"sort": "doc.score", "order": "desc",
                                                  "cols": "a,doc.score"}))
    by_score = sorted(dash, key=lambda j: -j.doc.score)
    assert ids_on(page) == [j.id for j in by_score]
    assert "<th><a" in page and "doc.score ▼" in page
    page = text(client.get("/jobs", query_string={"sort": "a"}))
    values = [dash.open_job(id=i).sp.a for i in ids_on(page)]
    assert values == sorted(values)


def test_group_by_schema_key(client, dash):
    page = text(client.get("/jobs", query_string={"group": "b.c", "sort": "a"}))
    heads = re.findall(r'<tr class="group"><th colspan="\d+">b.c = (\S+)</th>', page)
    assert heads == ["0", "1"]
    # within each group, the sort holds
    ids = ids_on(page)
    rows = [(dash.open_job(id=i).sp.b.c, dash.open_job(id=i).sp.a) for i in ids]
    assert rows == sorted(rows)
    page = text(client.get("/jobs", query_string={"group": "b.c", "sort": "a",
                                                  "order": "desc"}))
    rows = [(dash.open_job(id=i).sp.b.c, -dash.open_job(id=i).sp.a) for i in ids_on(page)]
    assert rows == sorted(rows)


def test_job_page_shows_everything(client, special):
    page = text(client.get(f"/job/{special.id}"))
    assert '&#34;a&#34;: 5' in page or '"a": 5' in page
    for name in ("picture.png", "drawing.svg", "notes.txt", "sub/result.txt", "signac_data.h5"):
        assert f"<code>{name}</code>" in page
    assert f'<img src="/job/{special.id}/file/picture.png"' in page
    assert "first line of notes" in page  # text preview
    assert "/curve</code> (500,) float64" in page
    assert "/fields/grid</code> (10, 20) float64" in page
    assert "points outside the job" in page  # the link out is not offered for download
    assert "outside the job\n" not in page


def test_h5_plots(client, special):
    page = text(client.get(f"/job/{special.id}", query_string={"h5": "signac_data.h5",
                                                                "ds": "/curve"}))
    svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
    assert "<polyline" in svg
    assert len(svg.split('points="')[1].split('"')[0].split()) == 500
    page = text(client.get(f"/job/{special.id}", query_string={"h5": "signac_data.h5",
                                                                "ds": "/fields/grid"}))
    assert page.count("<rect") >= 200
    resp = client.get(f"/job/{special.id}", query_string={"h5": "signac_data.h5",
                                                          "ds": "/fields/labels"})
    assert resp.status_code == 404
    assert client.get(f"/job/{special.id}", query_string={"h5": "../x.h5", "ds": "/a"}
                      ).status_code == 403


def test_h5_external_link_out_of_the_job_is_not_read(client, special, tmp_path):
    import h5py
    import numpy as np

    with h5py.File(tmp_path / "elsewhere.h5", "w") as f:
        f["secret"] = np.arange(7.0)
    with h5py.File(special.fn("signac_data.h5"), "a") as f:
        f["ext"] = h5py.ExternalLink(str(tmp_path / "elsewhere.h5"), "/secret")
        f["soft"] = h5py.SoftLink("/curve")
    for name in ("/ext", "/soft"):
        resp = client.get(f"/job/{special.id}", query_string={"h5": "signac_data.h5",
                                                              "ds": name})
        assert resp.status_code == 404, name


def _post(client, job, **form):
    page = text(client.get(f"/job/{job.id}"))
    base = {"csrf": _field(page, "csrf"), "digest": _field(page, "digest"),
            "loaded": _field(page, "loaded"), "action": "set"}
    return client.post(f"/job/{job.id}/doc", data={**base, **form})


def _on_disk(job):
    with open(job.fn("signac_job_document.json")) as f:
        return json.load(f)


def test_edit_fields_hold_the_json_values(client, special):
    special.doc.quote = 'say "hi" <b>'
    page = text(client.get(f"/job/{special.id}"))
    fields = re.findall(r'name="value" value="([^"]*)" size="40" data-key="([^"]*)"', page)
    values = {key: json.loads(html.unescape(value)) for value, key in fields}
    assert values == {"score": 51, "tag": "odd", "quote": 'say "hi" <b>'}
    assert "<b>" not in page.split('id="doc"')[1].split("</table>")[0]


def test_edit_add_delete_nested(client, special):
    assert _post(client, special, key="score", value="12.5").status_code == 303
    assert _post(client, special, key="note", value="looks odd").status_code == 303
    assert _post(client, special, key="fit.slope", value="[1, 2]").status_code == 303
    assert _post(client, special, key="tag", action="delete").status_code == 303
    assert _on_disk(special) == {"score": 12.5, "note": "looks odd", "fit": {"slope": [1, 2]}}
    resp = _post(client, special, key="nope", action="delete")
    assert resp.status_code == 400 and b"no key" in resp.data
    resp = _post(client, special, key="bad", value="NaN")
    assert resp.status_code == 400
    assert "bad" not in _on_disk(special)


def test_document_changed_behind_the_page_is_not_overwritten(client, special):
    page = text(client.get(f"/job/{special.id}"))
    form = {"csrf": _field(page, "csrf"), "digest": _field(page, "digest"),
            "loaded": _field(page, "loaded"), "key": "score", "value": "1", "action": "set"}
    # another process (a running job) writes the document meanwhile
    suite.get_project(special.project.path).open_job(id=special.id).doc.score = 777
    resp = client.post(f"/job/{special.id}/doc", data=form)
    assert resp.status_code == 409
    assert _on_disk(special)["score"] == 777
    page = resp.get_data(as_text=True)
    loaded = html.unescape(re.search(r'<pre id="loaded">(.*?)</pre>', page, re.S).group(1))
    current = html.unescape(re.search(r'<pre id="current">(.*?)</pre>', page, re.S).group(1))
    assert json.loads(loaded)["score"] == 51 and json.loads(current)["score"] == 777
    # the offered form applies the change to the version on disk
    again = {"csrf": _field(page, "csrf"), "digest": _field(page, "digest"), "key": "score",
             "value": "1", "action": "set"}
    assert client.post(f"/job/{special.id}/doc", data=again).status_code == 303
    assert _on_disk(special)["score"] == 1


def test_compare(client, dash):
    jobs = [dash.open_job({"a": a, "b": {"c": 0}}) for a in (1, 2, 4)]
    page = text(client.get("/compare", query_string=[("id", j.id) for j in jobs]
                           + [("x", "a"), ("y", "score")]))
    assert "<th>a</th>" in page and "<th>score</th>" in page and "<th>tag</th>" in page
    assert "<th>b.c</th>" not in page  # the same for all
    svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
    assert svg.count("<circle") == 3
    page = text(client.get("/compare", query_string={"q": "b.c 1", "x": "a", "y": "score"}))
    assert re.search(r"<svg .*?</svg>", page, re.S).group(0).count("<circle") == 6


def test_sync_page_with_a_local_remote(client, dash, tmp_path):
    pytest.importorskip("sync")
    from sync.remotes import add_remote

    other = tmp_path / "copy"
    shutil.copytree(dash.path, other, symlinks=True)
    suite.get_project(str(other)).open_job({"a": 0, "b": {"c": 0}}).doc.score = -1
    add_remote(dash, "mirror", str(other))
    page = text(client.get("/sync"))
    assert "mirror" in page
    page = text(client.get("/sync", query_string={"remote": "mirror"}))
    plan = html.unescape(re.search(r'<pre id="plan">(.*?)</pre>', page, re.S).group(1))
    assert dash.open_job({"a": 0, "b": {"c": 0}}).id[:8] in plan
    assert _on_disk(dash.open_job({"a": 0, "b": {"c": 0}}))["score"] == 0  # nothing moved
    page = text(client.get("/sync", query_string={"remote": "nowhere"}))
    assert "no remote named" in page


def test_statepoints_cached_and_new_jobs_seen(client, dash):
    assert "<strong>12</strong> jobs" in text(client.get("/"))
    dash.open_job({"a": 99, "b": {"c": 0}}).init()
    assert "<strong>13</strong> jobs" in text(client.get("/"))


def sort_by(ids, keys, sps, doc_values=None, descending=False):
    """``ids`` in the order of ``keys`` (group key first, the last one sorted descending if
    asked) as the jobs table sorts them."""
    all_ids = sorted(ids)
    ranked = []
    for key in keys:
        if key.startswith("doc."):
            values = [doc_values.get(i, MISSING) for i in all_ids]
        else:
            values = data_mod._column(all_ids, sps, tuple(key.split(".")))
        ranked.append((data_mod._dense_ranks(values), descending and key == keys[-1]))
    return data_mod._sorted(all_ids, all_ids, {i: k for k, i in enumerate(all_ids)}, ranked)


def test_value_ranking_mixed_types():
    ids = ["n", "s", "b", "m", "f"]
    sps = {"n": {"k": None}, "s": {"k": "x"}, "b": {"k": True}, "f": {"k": 0.5}, "m": {}}
    assert sort_by(ids, ["k"], sps) == ["n", "b", "f", "s", "m"]
    assert sort_by(ids, ["k"], sps, descending=True) == ["s", "f", "b", "n", "m"]


def test_sorting_keeps_equal_values_in_order_both_ways():
    ids = ["a", "b", "c", "d", "e", "f"]
    sps = {"a": {"k": 2, "b": {"c": "y"}}, "b": {"k": 1.0, "b": {"c": "x"}},
           "c": {"k": 2.0, "b": 5}, "d": {"k": 1, "b": {"c": "x"}}, "e": {},
           "f": {"k": 2, "b": {"c": "y"}}}
    assert sort_by(ids, ["k"], sps) == ["b", "d", "a", "c", "f", "e"]
    assert sort_by(ids, ["k"], sps, descending=True) == ["a", "c", "f", "b", "d", "e"]
    # a nested key where one job's "b" is not an object: that job has no b.c
    assert sort_by(ids, ["b.c"], sps, descending=True) == ["a", "f", "b", "d", "c", "e"]
    values = {"a": 3, "c": 1, "d": 3}
    assert sort_by(ids, ["doc.x"], sps, values, True) == ["a", "d", "c", "b", "e", "f"]
    # grouped by b.c, sorted by k descending within each group
    assert sort_by(ids, ["b.c", "k"], sps, descending=True) == ["b", "d", "a", "f", "c", "e"]


def test_grouped_sorted_orders_equal_stable_sorts_by_rank():
    """The one sort by combined integer ranks equals two stable sorts by value rank."""
    import random

    rng = random.Random(6)
    pool = [None, True, False, 0, 1, 1.0, 2.5, -3, "", "a", "b", [1], [0, 1], {"x": 1}]
    for _ in range(200):
        ids = [f"{k:03d}" for k in range(rng.randint(0, 30))]
        kinds = rng.choice([pool, [0, 1, 2, 2.0, -1], ["a", "b", "c"]])
        sps = {i: {k: rng.choice(kinds) for k in ("g", "s") if rng.random() < 0.85}
               for i in ids}
        for keys in (["s"], ["g", "s"]):
            for descending in (False, True):
                want = list(ids)
                for key in reversed(keys):
                    present = [i for i in want if key in sps[i]]
                    present.sort(key=lambda i, key=key: data_mod._rank(sps[i][key]),
                                 reverse=descending and key == keys[-1])
                    want = present + [i for i in want if key not in sps[i]]
                assert sort_by(ids, keys, sps, descending=descending) == want


def test_cli_without_flask_names_the_extra(dash):
    code = ("import sys; sys.modules['flask'] = None\n"
            "from suite.cli import main; main(['dashboard', '--no-browser'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=dash.path, capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert "suite[dashboard]" in proc.stderr and "Traceback" not in proc.stderr


def test_core_commands_do_not_import_flask(dash):
    code = ("import sys\nfrom suite.cli import main\ntry:\n    main(['find'])\n"
            "except SystemExit:\n    pass\nprint('flask' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=dash.path, capture_output=True,
                          text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_overview_follows_added_and_removed_jobs(client, dash):
    assert "0 <small>(6)</small>" in text(client.get("/"))
    dash.open_job({"a": 0, "b": {"c": 0}}).remove()
    dash.open_job({"a": [1, 2], "b": {"c": 1.0}}).init()
    page = text(client.get("/"))
    assert "<strong>12</strong> jobs" in page
    assert "0 <small>(5)</small>" in page  # b.c = 0 now in five jobs
    assert "1.0 <small>(1)</small>" in page and "[1, 2] <small>(1)</small>" in page


def test_sorted_order_reused_until_jobs_change(client, dash):
    first = ids_on(text(client.get("/jobs?sort=a&order=desc")))
    assert [dash.open_job(id=i).sp.a for i in first] == sorted(
        (dash.open_job(id=i).sp.a for i in first), reverse=True)
    new = dash.open_job({"a": 100, "b": {"c": 0}})
    new.init()
    assert ids_on(text(client.get("/jobs?sort=a&order=desc")))[0] == new.id


def test_corrupt_files_are_named_not_crashed_on(client, dash):
    job = dash.open_job({"a": 1, "b": {"c": 0}})
    with open(job.fn("signac_job_document.json"), "w") as f:
        f.write("{not json")
    page = text(client.get(f"/job/{job.id}"))
    assert 'class="error"' in page and "signac_job_document.json" in page
    with open(job.fn("signac_statepoint.json"), "w") as f:
        f.write("{broken")
    resp = client.get(f"/job/{job.id}")
    assert resp.status_code == 500
    assert b"signac_statepoint.json" in resp.data and b"Traceback" not in resp.data


def test_index_work_runs_in_one_thread_with_one_project(dash):
    import threading

    data = data_mod.ProjectData(dash.path)
    seen = []

    def note(project):
        seen.append((threading.get_ident(), project, project.index.ids()))

    threads = [threading.Thread(target=data.call, args=(note,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4
    assert len({ident for ident, _, _ in seen}) == 1
    assert len({id(project) for _, project, _ in seen}) == 1
    assert data.overview()["count"] == 12  # nested calls do not wait on themselves


def test_fifo_in_a_job_is_listed_not_read(client, special):
    import os

    os.mkfifo(special.fn("pipe.txt"))
    os.symlink("nowhere", special.fn("dangling.txt"))
    page = text(client.get(f"/job/{special.id}"))  # would block reading the FIFO
    assert "<code>pipe.txt</code>" in page and "not a regular file" in page
    assert client.get(f"/job/{special.id}/file/pipe.txt").status_code == 404
    assert client.get(f"/job/{special.id}/file/dangling.txt").status_code == 404


def test_job_page_shows_the_jobs_executions(client, dash, special):
    """The job page's Provenance table: one row per recorded execution of the job, blob lines
    and a corrupt line left out; a job never run says so."""
    from suite.flow import Runner, load_workflow

    with open(dash.fn("workflow.py"), "w") as f:
        f.write("from suite.flow import Workflow\n\nclass W(Workflow):\n    pass\n\n"
                "@W.operation\ndef go(job):\n    job.doc.went = True\n\n"
                "@W.operation\ndef fail(job):\n    raise RuntimeError('no luck')\n")
    runner = Runner(load_workflow(dash), dash)
    runner.run(["go"], ids=[special.id])
    runner.run(["fail"], ids=[special.id])
    with open(special.fn("suite_flow_log.jsonl"), "a") as f:
        f.write("{not json\n")
    page = text(client.get(f"/job/{special.id}"))
    rows = re.findall(r"<tr><td>[^<]*</td><td>(\w+)</td><td>(\w+)</td>", page)
    assert [op for op, _ in rows] == ["go", "fail"], rows
    assert [status for _, status in rows] == ["success", "failure"]
    assert "No executions recorded." not in page
    other = dash.open_job({"a": 0, "b": {"c": 0}})
    assert "No executions recorded." in text(client.get(f"/job/{other.id}"))


def test_a_filter_on_a_project_with_a_damaged_statepoint_shows_the_rest_and_names_it(client, dash):
    # a filtered query raises for such a job (as signac); the page shows the jobs it can
    # judge and names the one it cannot, rather than failing or leaving it out silently
    bad = dash.open_job({"a": 1, "b": {"c": 0}}).id
    sp_file = dash.fn(f"workspace/{bad}/signac_statepoint.json")
    with open(sp_file + ".new", "w") as f:
        f.write('{"a": ')
    shutil.move(sp_file + ".new", sp_file)
    page = text(client.get("/jobs?q=b.c+0"))
    want = {dash.open_job({"a": a, "b": {"c": 0}}).id for a in (0, 2, 3, 4, 5)}
    assert set(ids_on(page)) == want
    assert bad in page and "cannot be read" in page
    page = text(client.get("/compare?q=b.c+0"))
    assert bad in page and "cannot be read" in page
