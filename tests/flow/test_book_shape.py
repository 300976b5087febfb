"""A submission book or journal that is valid JSON of another shape (edited by hand, written
by a broken tool, or sent by a peer) is refused in one line naming the file, never a
traceback or a bare KeyError; a peer's malformed entries are left out of this copy's book."""

import json
import os
import subprocess
import sys

import pytest

import suite
from suite import layout
from suite.errors import CorruptFileError
from suite.flow import book
from tests.flow.sweep import WORKFLOW


@pytest.fixture
def project(tmp_path):
    project = suite.init_project(tmp_path / "p")
    for i in range(2):
        project.open_job({"i": i}).init()
    (tmp_path / "p" / "workflow.py").write_text(WORKFLOW)
    os.makedirs(os.path.join(project.path, ".suite", "flow"))
    return project


def _cli(project, *args):
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=project.path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SUITE_SCHEDULER": "direct"})


GOOD = {"scheduler": "direct", "pairs": [["simulate", "0" * 32]], "time": 1.0}
BAD_ENTRIES = [{}, {"scheduler": "direct", "pairs": "oops"},
               {"scheduler": "direct", "pairs": [["simulate"]]},
               {"scheduler": 3, "pairs": []}, {**GOOD, "location": ["a"]}]


@pytest.mark.parametrize("where", ["book", "journal"])
@pytest.mark.parametrize("entry", BAD_ENTRIES)
def test_an_entry_of_the_wrong_shape_is_refused_naming_the_file(project, where, entry):
    name = layout.SUBMISSIONS if where == "book" else layout.SUBMISSIONS_JOURNAL
    path = os.path.join(project.path, name)
    with open(path, "w") as f:
        if where == "book":
            json.dump({"7": GOOD, "9": entry}, f)
        else:
            f.write(json.dumps({"id": "9", "entry": entry}) + "\n")
    with pytest.raises(CorruptFileError, match="not a submission record"):
        book.load(project)
    r = _cli(project, "submit")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and path in r.stderr, r.stderr
    _status_warns_and_shows_the_conditions(project, path)


@pytest.mark.parametrize("text", ["[]", '"book"', "null"])
def test_a_book_that_is_not_an_object_is_refused_naming_the_file(project, text):
    path = os.path.join(project.path, layout.SUBMISSIONS)
    with open(path, "w") as f:
        f.write(text)
    with pytest.raises(CorruptFileError, match="not a JSON object"):
        book.load(project)
    r = _cli(project, "submit")
    assert r.returncode == 1 and "Traceback" not in r.stderr and path in r.stderr, r.stderr


def test_a_peers_malformed_entries_are_left_out(project, tmp_path):
    peer = suite.init_project(tmp_path / "peer")
    location = book.identity(peer.path)
    entries = {str(i): e for i, e in enumerate(BAD_ENTRIES)}
    entries["ok"] = {**GOOD, "location": location}
    merged = book.merge(project, location, entries, "peer", {})
    assert list(merged) == [f"{location}/ok"]
    assert list(book.load(project)) == [f"{location}/ok"]
    assert _cli(project, "status").returncode == 0


def test_a_word_from_the_future_does_not_outrank_later_ones(project, tmp_path):
    """A peer whose clock runs ahead (or that lies) says it heard a third copy's word far in
    the future: that copy's own word, taken afterwards, still replaces what it said."""
    import time

    peer = book.identity(suite.init_project(tmp_path / "peer").path)
    third = book.identity(suite.init_project(tmp_path / "third").path)
    stale = {**GOOD, "location": third}
    book.merge(project, peer, {"1": stale}, "peer", {third: time.time() + 10 ** 9})
    assert [e["location"] for e in book.load(project).values()] == [third]
    book.merge(project, third, {}, "third", {})  # the third copy: nothing runs there now
    assert book.load(project) == {}


def _status_warns_and_shows_the_conditions(project, path):
    """`suite status` (plain, through click, as JSON) on a damaged book: the conditions' table
    with one warning line naming the file and what to do, and exit status 3."""
    for args in (["status"], ["status", "-o", "simulate"], ["status", "--json"]):
        r = _cli(project, *args)
        assert r.returncode == 3 and "Traceback" not in r.stderr, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("warning: ") and path in lines[0], lines
        assert "submitted and running are not counted" in lines[0]
        assert "fix or restore" in lines[0] and "remove it" in lines[0], lines[0]
        if "--json" in args:
            assert json.loads(r.stdout)["operations"]["simulate"]["eligible"] == 2
        else:
            assert r.stdout.splitlines()[1].split() == ["simulate", "2", "0", "0", "0"]


@pytest.mark.parametrize("where,text", [
    ("book", '{"7": {"scheduler": "direct", "pai'),  # cut short
    ("book", ""),
    ("journal", '{"id": "9", "entry": {"scheduler": "direct", "pairs": [}}\n')])
def test_status_on_a_damaged_book_warns_and_still_shows_the_conditions(project, where, text):
    name = layout.SUBMISSIONS if where == "book" else layout.SUBMISSIONS_JOURNAL
    path = os.path.join(project.path, name)
    with open(path, "w") as f:
        f.write(text)
    _status_warns_and_shows_the_conditions(project, path)
    r = _cli(project, "submit")  # submitting would forget what the book records: refused
    assert r.returncode == 1 and path in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not any(j.isfile("out.txt") for j in project)
    os.unlink(path)  # the way out the warning names: what it recorded is forgotten
    assert _cli(project, "status").returncode == 0
