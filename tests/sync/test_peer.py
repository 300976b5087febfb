"""Nothing from the other side is trusted: identities, paths, reserved files, job ids, values
and frames are checked on both sides (the far side's server is driven here with real frames;
lying far sides over each transport are in test_ssh_peer.py)."""

import io
import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

import suite
import sync
from suite import layout
from suite.jsonio import read_json
from sync import protocol, server
from sync.replica import Replica


@pytest.fixture
def pair(tmp_path):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(4):
        job = lap.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(str(i) * 10)
    return lap, clu


def serve(path, *frames, raw=b"", init=False):
    """Run the real far-side server on the given request frames (``(header, payload)``) and
    raw bytes after them; return its exit status and its answers (headers)."""
    requests = io.BytesIO(b"".join(protocol.encode_frame(h, p) for h, p in frames) + raw)
    answers = io.BytesIO()
    status = server.serve(str(path), requests, answers, init=init)
    answers.seek(0)
    out = []
    while True:
        header, _ = protocol.read_frame(answers)
        if header is None:
            return status, out
        out.append(header)


# -- 1. identities name files: validated on both sides ----------------------------------------

def _dest_naming_a_path(tmp_path, clu):
    victim = tmp_path / "victim.json"
    victim.write_text('{"keep": "me"}')
    os.makedirs(clu.fn(".suite"), exist_ok=True)
    with open(clu.fn(".suite/id"), "w") as f:  # the id of a copy names its record files
        f.write("../../../victim")  # .suite/sync/<id>.json: the file beside the project
    return victim


def test_local_dest_with_an_identity_naming_a_path_is_refused(pair, tmp_path):
    lap, clu = pair
    victim = _dest_naming_a_path(tmp_path, clu)
    with pytest.raises(sync.SyncError, match="sync identity"):
        sync.sync(lap, clu.path)
    assert victim.read_text() == '{"keep": "me"}'
    assert len(clu) == 0


def test_far_dest_with_an_identity_naming_a_path_is_refused(transport, pair, tmp_path):
    """The same DEST behind each transport: its own server refuses its id."""
    lap, clu = pair
    victim = _dest_naming_a_path(tmp_path, clu)
    with pytest.raises(sync.SyncError, match="sync identity"):
        transport.sync(lap, clu.path)
    assert victim.read_text() == '{"keep": "me"}'
    assert len(clu) == 0


def test_server_refuses_records_named_by_paths(pair, tmp_path):
    lap, clu = pair
    victim = tmp_path / "victim.json"
    victim.write_text('{"jobs": {}, "secret": 1}')
    peer = os.path.relpath(tmp_path / "victim", os.path.join(clu.path, ".suite", "sync"))
    status, answers = serve(
        clu.path,
        ({"op": "load_record", "args": [peer]}, b""),
        ({"op": "save_record", "args": [peer]}, b'{"jobs": {}}'),
        ({"op": "save_record", "args": [str(tmp_path / "abs")]}, b'{"jobs": {}}'),
        ({"op": "load_record", "args": ["a" * 32]}, b""),
        ({"op": "close"}, b""))
    assert status == 0
    assert [a["ok"] for a in answers] == [True, False, False, False, True]
    assert all("sync identity" in a["error"] for a in answers[1:4])
    assert victim.read_text() == '{"jobs": {}, "secret": 1}'
    assert not (tmp_path / "abs.json").exists()


# -- 2. reserved files go only through job creation and document merge ------------------------

def test_reserved_files_are_never_written_as_ordinary_files(pair):
    lap, clu = pair
    sync.sync(lap, clu.path)
    job = clu.open_job({"i": 1})
    replica = Replica(clu.path)
    for rel in (layout.STATEPOINT, layout.DOCUMENT):
        with pytest.raises(sync.SyncError, match=rel):
            replica.write(job.id, rel, b'{"i": 99}', 1)
        with pytest.raises(sync.SyncError, match=rel):
            replica.delete_file(job.id, rel)
        with pytest.raises(sync.SyncError, match=rel):
            replica.open_stream(job.id, rel)
    with pytest.raises(sync.SyncError, match=layout.STATEPOINT):
        replica.create_job(lap.open_job({"i": 9}).id, b'{"i": 9}', {},
                           [(layout.STATEPOINT, b'{"i": 1}', 1)])
    assert read_json(job.fn(layout.STATEPOINT)) == {"i": 1}
    assert job.doc() == {"step": 1}
    assert suite.get_project(clu.path).open_job(id=job.id).sp() == {"i": 1}


def test_server_refuses_nan_in_documents_and_state_points(pair):
    lap, clu = pair
    sync.sync(lap, clu.path)
    job = clu.open_job({"i": 2})
    new = lap.open_job({"x": 1.5})
    status, answers = serve(
        clu.path,
        ({"op": "write_doc", "args": [job.id, {"step": float("nan")}]}, b""),
        ({"op": "write_doc", "args": [job.id, {"a.b": 1}]}, b""),
        ({"op": "write_project_doc", "args": [{"x": float("inf")}]}, b""),
        ({"op": "create_jobs", "args": [[[new.id, {}, 10, []]]]}, b'{"x": NaN}'),
        ({"op": "create_jobs", "args": [[[new.id, {"d": float("-inf")}, 10, []]]]},
         b'{"x": 1.5}'),
        ({"op": "close"}, b""))
    assert [a["ok"] for a in answers] == [True, False, False, False, True, False]
    # a state point JSON cannot hold: that job alone is refused, its note says why
    [note] = answers[4]["result"]
    assert note["job"] == new.id and note["path"] is None and new.id in note["unreadable"]
    assert job.doc() == {"step": 2}
    assert not os.path.exists(clu.fn(layout.PROJECT_DOCUMENT)) or \
        read_json(clu.fn(layout.PROJECT_DOCUMENT)) == {}
    assert new.id not in os.listdir(clu.workspace)


# -- 3. job ids: exactly 32 lowercase hex digits; no writes into jobs that do not exist -------

@pytest.mark.parametrize("name", ["+" + "0" * 31, " 0x" + "0" * 29, "0_" + "0" * 30,
                                  "A" * 32, "0" * 31 + "\n", "0" * 33, "g" * 32, "-" + "1" * 31])
def test_is_job_id_takes_only_32_lowercase_hex_digits(name):
    assert not layout.is_job_id(name)
    assert layout.is_job_id("0123456789abcdef" * 2)


def test_server_refuses_writes_into_jobs_that_do_not_exist(pair):
    lap, clu = pair
    missing = lap.open_job({"i": 0}).id  # exists on the laptop only
    status, answers = serve(
        clu.path,
        ({"op": "write", "args": [missing, "x.txt"], "mtime": 1}, b"data"),
        ({"op": "write", "args": ["+" + missing[1:], "x.txt"], "mtime": 1}, b"data"),
        ({"op": "write_doc", "args": [missing, {"a": 1}]}, b""),
        ({"op": "write_open", "args": [1, missing, "big.bin"]}, b""),
        ({"op": "apply_delta", "args": [missing, "x.txt"], "mtime": 1}, b""),
        ({"op": "close"}, b""))
    assert [a["ok"] for a in answers] == [True] + [False] * 5
    assert "does not exist" in answers[1]["error"]
    assert "refused job id" in answers[2]["error"]
    assert os.listdir(clu.workspace) == []


def test_write_link_takes_the_checked_write_path(pair, tmp_path):
    """A link from the other side is a write like any other: never over a reserved file,
    never into a job that does not exist or under an invalid id, never below a link."""
    lap, clu = pair
    sync.sync(lap, clu.path)
    job = clu.open_job({"i": 1})
    os.symlink(str(tmp_path), job.fn("out"))  # a directory link inside the job
    missing = lap.open_job({"i": 9}).id
    status, answers = serve(
        clu.path,
        ({"op": "write_link", "args": [job.id, "alias", "out.txt", 1]}, b""),
        ({"op": "write_link", "args": [job.id, layout.STATEPOINT, "out.txt", 1]}, b""),
        ({"op": "write_link", "args": [job.id, layout.DOCUMENT, "out.txt", 1]}, b""),
        ({"op": "write_link", "args": [missing, "alias", "x", 1]}, b""),
        ({"op": "write_link", "args": ["+" + missing[1:], "alias", "x", 1]}, b""),
        ({"op": "write_link", "args": [job.id, "out/alias", "../out.txt", 1]}, b""),
        ({"op": "close"}, b""))
    assert status == 0
    assert [a["ok"] for a in answers] == [True, True] + [False] * 5
    assert layout.STATEPOINT in answers[2]["error"] and layout.DOCUMENT in answers[3]["error"]
    assert "does not exist" in answers[4]["error"]
    assert "refused job id" in answers[5]["error"]
    assert "link" in answers[6]["error"]
    assert os.readlink(job.fn("alias")) == "out.txt"
    assert not os.path.islink(job.fn(layout.STATEPOINT))
    assert read_json(job.fn(layout.STATEPOINT)) == {"i": 1} and job.doc() == {"step": 1}
    assert missing not in os.listdir(clu.workspace)
    assert not os.path.lexists(os.path.join(str(tmp_path), "alias"))


# -- 4. frames: bounded, well-formed, one-line errors ------------------------------------------

def _raw(header_bytes, payload=b""):
    return (struct.pack(">I", len(header_bytes)) + header_bytes
            + struct.pack(">Q", len(payload)) + payload)


@pytest.mark.parametrize("data, message", [
    (struct.pack(">I", (64 << 20) + 1), "header of"),
    (struct.pack(">I", 2) + b"{}" + struct.pack(">Q", 1 << 34), "payload of"),
    (_raw(b"not json"), "not valid JSON"),
    (_raw(b"\xff\xfe{}"), "not valid JSON"),
    (_raw(b"[1, 2]"), "not a JSON object"),
    (_raw(b"[" * 100000 + b"]" * 100000), "not valid JSON"),
    (_raw(b'{"z": true}', b"not zstandard"), "zstandard"),
    (_raw(b'{"op": "x"}', b"short")[:-2], "middle of a frame"),
], ids=["huge header", "huge payload", "not json", "not utf-8", "not an object",
        "nested", "not zstandard", "short"])
def test_malformed_frames_are_protocol_errors(data, message):
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.read_frame(io.BytesIO(data))


def test_decompressed_size_is_bounded(monkeypatch):
    import zstandard

    monkeypatch.setattr(protocol, "MAX_PAYLOAD", 1 << 20)
    zeros = b"\0" * (16 << 20)  # inflates 16 MiB from a few hundred bytes
    declared = zstandard.ZstdCompressor().compress(zeros)
    undeclared = zstandard.ZstdCompressor(write_content_size=False).compress(zeros)
    assert len(declared) < 4096 and len(undeclared) < 4096
    for bomb in (declared, undeclared):
        with pytest.raises(protocol.ProtocolError):
            protocol.read_frame(io.BytesIO(_raw(b'{"z": true}', bomb)))
    with pytest.raises(protocol.ProtocolError, match="larger than the protocol allows"):
        protocol.encode_frame({}, b"x" * ((1 << 20) + 1))
    ok = zstandard.ZstdCompressor().compress(b"\0" * 1000)
    assert protocol.read_frame(io.BytesIO(_raw(b'{"z": true}', ok)))[1] == b"\0" * 1000


def test_large_payloads_that_do_not_shrink_go_uncompressed():
    """Random bytes from 1 MiB on are sent as they are (zstd gained nothing and cost time on
    both sides); text, and random bytes with text around them, are compressed; all read back.
    A file of exactly 1 MiB is sampled too (it went through zstd unsampled: the bench's 1 %
    row pushes 100 of them); below that, payloads are compressed without sampling."""
    def head(frame):
        size = struct.unpack(">I", frame[:4])[0]
        return json.loads(frame[4:4 + size])

    rnd = os.urandom(3 << 20)
    text = b'{"x": [1, 2, 3], "name": "a job"}\n' * 100_000
    cases = [(rnd, False), (text, True), (text[:1 << 20] + rnd[:1 << 20] + text[:1 << 20], True),
             (rnd[:1 << 20], False), (text[:1 << 20], True),
             (rnd[:(1 << 20) - 1], True)]  # below 1 MiB: compressed as before, not sampled
    for payload, compressed in cases:
        frame = protocol.encode_frame({"op": "x"}, payload)
        assert head(frame).get("z", False) is compressed
        assert protocol.read_frame(io.BytesIO(frame)) == ({"op": "x"}, payload)


def test_split_payload_refuses_sizes_that_do_not_add_up():
    assert protocol.split_payload(b"abcdef", [2, 4]) == [b"ab", b"cdef"]
    for sizes in ([2, 3], [2, 5], [-1, 7], ["2", 4], [True, 5], "6"):
        with pytest.raises(protocol.ProtocolError):
            protocol.split_payload(b"abcdef", sizes)


def test_server_answers_a_malformed_frame_and_stops(pair):
    lap, clu = pair
    status, answers = serve(clu.path, ({"op": "identity"}, b""), raw=_raw(b"{not json"))
    assert status == 2
    assert answers[-1]["ok"] is False and "not valid JSON" in answers[-1]["error"]
    status, answers = serve(clu.path, raw=struct.pack(">I", 1 << 30))
    assert status == 2 and "header of" in answers[-1]["error"]


def _job_frame(project, i, doc, files):
    job = project.open_job({"i": i})
    with open(job.fn(layout.STATEPOINT), "rb") as f:
        return job.id, (job.id, f.read(), doc, files)


def test_many_new_jobs_in_one_frame(pair):
    """create_jobs: jobs land whole; one made there meanwhile is left and named in the
    answer; a frame whose pieces do not add up writes nothing more; a job whose state point is
    not its own is refused alone, named in the answer with the reason."""
    from sync import ops

    lap, clu = pair
    a, job_a = _job_frame(lap, 0, {"step": 0}, [("out.txt", b"aa", 11), ("d/x", b"", 12)])
    b, job_b = _job_frame(lap, 1, {}, [])
    clu.open_job({"i": 1}).init().doc.here = True  # made there meanwhile
    wire, payload, _ = ops.pack_jobs([job_a, job_b])
    c, job_c = _job_frame(lap, 2, {}, [("out.txt", b"c", 13)])
    bad_wire, bad_payload, _ = ops.pack_jobs([job_c])
    d, job_d = _job_frame(lap, 3, {}, [])
    wrong_sp = (d, b'{"i": 99}', {}, [])
    mixed_wire, mixed_payload, _ = ops.pack_jobs([job_d, wrong_sp])
    status, answers = serve(
        clu.path,
        ({"op": "create_jobs", "args": wire}, payload),
        ({"op": "create_jobs", "args": bad_wire}, bad_payload + b"extra"),
        ({"op": "create_jobs", "args": [[[c, {}, 3]]]}, b"abc"),
        ({"op": "create_jobs", "args": mixed_wire}, mixed_payload),
        ({"op": "close"}, b""))
    assert status == 0
    assert answers[1] == {"ok": True, "result": [{"job": b, "path": None}]}
    assert [x["ok"] for x in answers[2:]] == [False, False, True]
    assert "do not add up" in answers[2]["error"]
    [note] = answers[4]["result"]
    assert note["job"] == d and note["path"] is None and "hashes to" in note["unreadable"]
    got = clu.open_job(id=a)
    assert got.doc() == {"step": 0} and got.sp() == {"i": 0}
    assert open(got.fn("out.txt"), "rb").read() == b"aa" and os.path.getsize(got.fn("d/x")) == 0
    assert [os.stat(got.fn(r)).st_mtime_ns for r in ("out.txt", "d/x")] == [11, 12]
    assert clu.open_job(id=b).doc() == {"here": True}
    assert c not in os.listdir(clu.workspace)
    assert d in os.listdir(clu.workspace)  # the job before the bad one in its frame landed
    assert not [n for n in os.listdir(clu.workspace) if n.startswith(layout.TMP_PREFIX)]


def test_server_answers_requests_of_the_wrong_shape(pair):
    lap, clu = pair
    status, answers = serve(
        clu.path,
        ({"op": "read_files", "args": [[["x"]]]}, b""),
        ({"op": "create_jobs", "args": [[["0" * 32, {}, 2, [["a", 5, 1]]]]]}, b"{}abc"),
        ({"op": "snapshot", "args": "no list"}, b""),
        ({"op": "identity"}, b""),
        ({"op": "close"}, b""))
    assert status == 0
    assert [a["ok"] for a in answers] == [True, False, False, False, True]


# -- 7. DEST must be a project's root; --init makes one ----------------------------------------

def test_dest_inside_a_project_is_refused_not_walked_up(pair, tmp_path):
    lap, clu = pair
    for dest in (tmp_path / "cluster" / "missing", tmp_path / "cluster" / "workspace"):
        with pytest.raises(sync.SyncError, match="not a project's root.*--init"):
            sync.sync(lap, str(dest))
    with pytest.raises(sync.SyncError, match="--init"):
        sync.sync(lap, str(tmp_path / "nowhere"))
    assert len(clu) == 0 and not os.path.exists(clu.fn(".suite/sync"))
    result = sync.sync(lap, str(tmp_path / "cluster" / "nested"), init=True)
    assert result.exit_status == 0
    nested = suite.get_project(tmp_path / "cluster" / "nested")
    assert nested.path == str(tmp_path / "cluster" / "nested") and len(nested) == 4
    assert len(clu) == 0


def test_cli_init_and_its_suggestion(pair, tmp_path):
    lap, clu = pair
    dest = str(tmp_path / "new")
    r = subprocess.run(["suite", "sync", dest], cwd=lap.path, capture_output=True, text=True)
    assert r.returncode == 1 and "--init" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run(["suite", "sync", dest, "--init"], cwd=lap.path, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert len(suite.get_project(dest)) == 4



# -- 5. checks of both kinds on one write: the peer's and the listed state's ------------------

def test_server_refuses_lock_files_named_by_paths(pair, tmp_path):
    lap, clu = pair
    peer = os.path.relpath(tmp_path / "victim", os.path.join(clu.path, ".suite", "sync"))
    status, answers = serve(
        clu.path,
        ({"op": "try_lock", "args": [peer]}, b""),
        ({"op": "lock", "args": [peer, 0.1]}, b""),
        ({"op": "unlock", "args": [peer]}, b""),
        ({"op": "try_lock", "args": ["a" * 32]}, b""),
        ({"op": "close"}, b""))
    assert [a["ok"] for a in answers] == [True, False, False, False, True]  # handshake first
    assert all("sync identity" in a["error"] for a in answers[1:4])
    assert not (tmp_path / "victim.lock").exists()


def test_checked_writes_still_refuse_reserved_files_and_missing_jobs(pair):
    """A write that says what it expects to replace is refused for reserved files as any
    other; into a job that does not exist (deleted after the listing) it writes nothing and
    is noted as changed during the sync, also through the server."""
    lap, clu = pair
    sync.sync(lap, clu.path)
    job = clu.open_job({"i": 1})
    replica = Replica(clu.path)
    for rel in (layout.STATEPOINT, layout.DOCUMENT):
        with pytest.raises(sync.SyncError, match=rel):
            replica.write(job.id, rel, b'{"i": 99}', 1, None)
        with pytest.raises(sync.SyncError, match=rel):
            replica.delete_file(job.id, rel, [1, 1, 1])
    assert read_json(job.fn(layout.STATEPOINT)) == {"i": 1}
    missing = lap.open_job({"x": 1}).id
    status, answers = serve(
        clu.path,
        ({"op": "write", "args": [missing, "x.txt"], "mtime": 1, "expect": None}, b"data"),
        ({"op": "write", "args": [job.id, layout.STATEPOINT], "mtime": 1, "expect": None},
         b"{}"),
        ({"op": "close"}, b""))
    assert answers[1] == {"ok": True, "result": {"job": missing, "path": "x.txt"}}
    assert not answers[2]["ok"] and layout.STATEPOINT in answers[2]["error"]
    assert missing not in os.listdir(clu.workspace)


def test_snapshots_and_records_larger_than_a_header_travel(pair, monkeypatch):
    """A million jobs' snapshot (~100 MiB of JSON) is past the header limit: snapshots and
    records travel as payloads, which have their own (larger, checked) limit."""
    lap, clu = pair
    monkeypatch.setattr(protocol, "MAX_HEADER", 300)  # smaller than 4 jobs' snapshot
    record = {"jobs": {"0" * 32: {"files": {}, "doc": {"x": "y" * 400}}}, "project_doc": {}}
    requests = io.BytesIO(b"".join(protocol.encode_frame(h, p) for h, p in [
        ({"op": "snapshot", "args": [None, []]}, b""),
        ({"op": "save_record", "args": ["a" * 32]}, protocol.dump_json(record)),
        ({"op": "load_record", "args": ["a" * 32]}, b""),
        ({"op": "close"}, b"")]))
    answers = io.BytesIO()
    assert server.serve(str(lap.path), requests, answers) == 0
    answers.seek(0)
    frames = [protocol.read_frame(answers) for _ in range(4)]
    assert [h["ok"] for h, _ in frames[1:]] == [True, True, True]
    snapshot = protocol.load_json(frames[1][1])
    assert sorted(snapshot["jobs"]) == sorted(j.id for j in lap)
    assert len(protocol.dump_json(snapshot)) > 300
    assert protocol.load_json(frames[3][1]) == record
    # and a payload that is not JSON is refused as a protocol error, not a crash
    with pytest.raises(protocol.ProtocolError, match="not valid JSON"):
        protocol.load_json(b"{not json")


def test_answers_go_out_in_batches(pair):
    """Many small answers are written a batch at a time (one SSH packet each), in order, and
    all of them before the server waits for more requests or stops."""
    lap, _ = pair

    class Counting(io.BytesIO):
        writes = 0

        def write(self, data):
            Counting.writes += 1
            return super().write(data)

    jobs = [f"{k:032x}" for k in range(300)]  # posted deletions of jobs not there: None
    requests = io.BytesIO(b"".join(
        protocol.encode_frame({"op": "delete_job", "args": [j]}) for j in jobs) +
        protocol.encode_frame({"op": "close"}))
    answers = Counting()
    assert server.serve(str(lap.path), requests, answers) == 0
    answers.seek(0)
    frames = [protocol.read_frame(answers)[0] for _ in range(301)]
    assert frames[0]["version"] == protocol.VERSION
    assert [(f["ok"], f["result"]) for f in frames[1:]] == [(True, None)] * 300
    assert protocol.read_frame(answers) == (None, b"")
    assert Counting.writes <= 300 // 20


def test_answers_are_out_before_a_request_that_may_take_long(pair, monkeypatch):
    """Posted writes' answers are gathered, but not held while a call or a request answered
    later runs (hashing, listing): the client may be waiting for them meanwhile."""
    lap, _ = pair
    answers = io.BytesIO()
    seen = []

    def find_ids(self, filter):
        seen.append(answers.getvalue())
        return []

    monkeypatch.setattr(Replica, "find_ids", find_ids)
    gone = "f" * 32
    requests = io.BytesIO(b"".join(
        [protocol.encode_frame({"op": "delete_job", "args": [gone]}) for _ in range(3)] +
        [protocol.encode_frame({"op": "find_ids", "args": [{}]}),
         protocol.encode_frame({"op": "close"})]))
    assert server.serve(str(lap.path), requests, answers) == 0
    written = io.BytesIO(seen[0])
    frames = [protocol.read_frame(written)[0] for _ in range(4)]
    assert frames[0]["version"] == protocol.VERSION
    assert [f["ok"] for f in frames[1:]] == [True] * 3  # the three posts' answers


def test_new_jobs_with_paths_or_times_of_another_type_are_refused_by_name(pair):
    """A file's path that is not text, or a time that is not a whole number of nanoseconds
    (or out of range), is refused with a message naming it, and nothing is left behind."""
    from sync import ops

    lap, clu = pair
    frames = []
    for files in ([(5, b"x", 1)], [("a", b"x", "soon")], [("a", b"x", 10 ** 30)],
                  [("a", b"x", True)]):
        _, job = _job_frame(lap, 0, {}, files)
        wire, payload, _ = ops.pack_jobs([job])
        frames.append(({"op": "create_jobs", "args": wire}, payload))
    status, answers = serve(clu.path, *frames, ({"op": "close"}, b""))
    assert status == 0
    errors = [a["error"] for a in answers[1:]]
    assert errors[0] == "refused path from the other side: 5", errors
    for error, value in zip(errors[1:], ("'soon'", "1000000000000000000000000000000", "True"),
                            strict=True):
        assert error.startswith("job ") and f"refused time {value} of a from the other" \
            in error, error
    assert os.listdir(clu.workspace) == []


def test_server_refuses_unknown_operations_and_private_names(pair):
    """Only the table's operations run: a name that is not one (a replica's private method or
    attribute included) is answered with a refusal and the session goes on."""
    lap, clu = pair
    def tree():  # .suite/ aside: identity writes the copy's id there
        return sorted(p.relative_to(clu.path) for p in Path(clu.path).rglob("*")
                      if p.relative_to(clu.path).parts[0] != ".suite")

    before = tree()
    status, answers = serve(
        clu.path,
        ({"op": "format_disk", "args": []}, b""),
        ({"op": "_target", "args": ["0" * 32, "x"]}, b""),
        ({"op": "__class__"}, b""),
        ({"op": ["identity"]}, b""),
        ({"op": "identity"}, b""),
        ({"op": "close"}, b""))
    assert status == 0
    hello, *answers = answers
    assert "version" in hello
    assert [a["ok"] for a in answers] == [False, False, False, False, True]
    assert "unknown operation 'format_disk'" in answers[0]["error"]
    assert all("unknown operation" in a["error"] for a in answers[:4])
    assert tree() == before
