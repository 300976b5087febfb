"""A record's line is put together by hand (f-strings, the files' text from C) for speed: its
bytes are json.dumps's of the same fields in the same order, whatever the text holds."""

import json
import socket
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

import suite
from suite.provenance import capture

# a directory outside any git repository: the shared fields' capture runs git once per Capture
# the temporary directory itself: nothing is written there, and a mkdtemp of its own removed
# at exit was left behind by each killed run (suite-line-XXXX in /dev/shm)
_ROOT = tempfile.gettempdir()
CAPTURES = {on: capture.Capture(_ROOT, enabled=on) for on in (True, False)}

# any code point, lone surrogates too (undecodable file names arrive as surrogateescape)
TEXT = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ['said "no"\n\tthen \u00fcn\u00efcode \\ \u2603', "\x00\x1f\x7f", "\U0001f600", "\udcff"])
FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
ENTRY = st.one_of(
    st.fixed_dictionaries({"job": TEXT, "path": TEXT, "size": st.none() | st.integers(0, 2**70),
                           "sha256": st.none() | TEXT}),
    st.fixed_dictionaries({"job": TEXT, "path": TEXT, "removed": st.just(True)}))


@settings(max_examples=200, deadline=None)
@given(on=st.booleans(), operation=TEXT, jobs=st.lists(TEXT, min_size=1, max_size=3),
       start=FLOATS, end=FLOATS, status=st.sampled_from(["success", "failure"]),
       error=st.none() | TEXT, trace=st.none() | TEXT,
       files=st.none() | st.lists(ENTRY, max_size=3), as_text=st.booleans(),
       reason=st.none() | TEXT, tags=st.lists(TEXT, max_size=2))
def test_line_is_json_dumps_of_its_fields(on, operation, jobs, start, end, status, error,
                                          trace, files, as_text, reason, tags):
    cap = CAPTURES[on]
    cap.reason, cap.tags = reason, tags
    given_files = files
    if files is not None and as_text:  # the runner passes the C text; Python callers a list
        given_files = capture.files_text(files)
    line = cap.line(operation, jobs, start, end, status, error, trace, given_files)
    fields = {}
    if on:
        fields["id"] = json.loads(line)["id"]
        assert len(fields["id"]) == 32 and int(fields["id"], 16) >= 0
    fields.update(operation=operation, jobs=jobs, start=float(start), end=float(end),
                  duration=float(end) - float(start), status=status, error=error)
    if trace is not None:
        fields["traceback"] = trace
    if files is not None:  # each entry's keys in the order the line writes them
        fields["files"] = [{k: e[k] for k in ("job", "path", "size", "sha256", "removed")
                            if k in e} for e in files]
    shared = cap.entry({"host": socket.gethostname(), "suite_version": suite.__version__})
    shared.pop("id", None)
    want = json.dumps(fields)[:-1] + ", " + json.dumps(shared, sort_keys=True)[1:] + "\n"
    assert line == want.encode()
