"""``status --everywhere`` honours --markdown and --html as the local status does (it once
printed the plain table for both), and refuses --detailed instead of ignoring it. Remotes
are local paths here: the formats do not depend on the transport."""

import html.parser

import suite
import sync
from tests.remote.conftest import WORKFLOW
from tests.remote.test_books import cli


def make(tmp_path, monkeypatch):
    monkeypatch.setenv("SUITE_SCHEDULER", "direct")
    laptop = suite.init_project(tmp_path / "laptop")
    (tmp_path / "laptop" / "workflow.py").write_text(WORKFLOW)
    for a in range(3):
        laptop.open_job({"a": a}).init()
    sync.sync(laptop, str(tmp_path / "b"), init=True)
    (tmp_path / "b" / "workflow.py").write_text(WORKFLOW)
    sync.add_remote(laptop, "b", str(tmp_path / "b"))
    sync.add_remote(laptop, "gone", str(tmp_path / "missing"))
    return laptop


def test_everywhere_as_markdown(tmp_path, monkeypatch):
    laptop = make(tmp_path, monkeypatch)
    r = cli(laptop, "status", "--everywhere", "--markdown")
    assert r.returncode != 0  # "gone" could not answer
    lines = r.stdout.splitlines()
    assert lines[0] == "| operation | location | eligible | submitted | running | complete |"
    assert lines[1] == "|---|---|---|---|---|---|"
    assert "| simulate | here | 3 | 0 | 0 | 0 |" in lines
    assert "| simulate | b | 3 | 0 | 0 | 0 |" in lines
    assert any(line.startswith("- gone: ") for line in lines)


def test_everywhere_as_html(tmp_path, monkeypatch):
    laptop = make(tmp_path, monkeypatch)
    r = cli(laptop, "status", "--everywhere", "--html")
    cells = []

    class Cells(html.parser.HTMLParser):
        def handle_data(self, data):
            cells.append(data)

    Cells().feed(r.stdout)
    assert r.stdout.startswith("<table>")
    assert cells[:6] == ["operation", "location", "eligible", "submitted", "running",
                         "complete"]
    rows = [cells[i:i + 6] for i in range(6, len(cells) - 5, 6)]
    assert ["simulate", "b", "3", "0", "0", "0"] in rows
    assert ["simulate", "here", "3", "0", "0", "0"] in rows
    assert any(c.startswith("gone: ") for c in cells)


def test_everywhere_refuses_detailed(tmp_path, monkeypatch):
    laptop = make(tmp_path, monkeypatch)
    r = cli(laptop, "status", "--everywhere", "--detailed")
    assert r.returncode == 2
    assert "--detailed" in r.stderr and "--everywhere" in r.stderr


HOSTILE = WORKFLOW + '''

@Sweep.label
def tag(job):
    return "<script>alert(2)</script>"


@Sweep.post.isfile("h.txt")
@Sweep.operation(name="a|b\\n| forged | row |<script>alert(1)</script>", cmd=True)
def hostile(job):
    return "true"
'''


def test_names_cannot_forge_rows_or_markup(tmp_path, monkeypatch):
    """An operation name with ``|``, a newline and ``<script>``, a label with ``<script>``:
    each Markdown row stays one row and no tag comes through, in the local status and in
    ``--everywhere``; the HTML tables escape them."""
    laptop = make(tmp_path, monkeypatch)
    for root in (tmp_path / "laptop", tmp_path / "b"):
        (root / "workflow.py").write_text(HOSTILE)
    sync.remove_remote(laptop, "gone")
    for args in (["status", "--markdown"], ["status", "--everywhere", "--markdown"]):
        r = cli(laptop, *args)
        assert r.returncode == 0, r.stderr
        table = [line for line in r.stdout.splitlines() if line.startswith("|")]
        rows = 3 if "--everywhere" not in args else 6  # a row per operation (and location)
        assert len(table) == 2 + rows, r.stdout
        assert "<script>" not in r.stdout and "forged" in r.stdout, r.stdout
        assert all(line.count(" | ") == table[0].count(" | ") for line in table[2:]), r.stdout
    for args in (["status", "--html"], ["status", "--everywhere", "--html"]):
        r = cli(laptop, *args)
        assert r.returncode == 0, r.stderr
        assert "<script>" not in r.stdout and "&lt;script&gt;" in r.stdout, r.stdout
