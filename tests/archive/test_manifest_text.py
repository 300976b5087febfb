"""The manifest read as text (archive._importjobs.parse_manifest, check_manifest_text) against
the references: whatever the native parser takes, ``json.loads`` and the well-formedness walk
(``archive.manifest.loads``) read the same; whatever it does not take falls back to them, so
odd but valid manifests still import and damaged ones fail with the same message; and the
job checks on the text give the jobs ``importer.jobs_from_manifest`` gives, or leave the
manifest to it (never take a job it refuses)."""

import io
import json
import shutil
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archive
import suite
from archive import importer
from archive import manifest as mf
from suite import native
from suite.errors import SuiteError
from tests.archive.test_importjobs import DAMAGE, make_found
from tests.conftest import skip_or_fail

importjobs = native.load("archive._importjobs")


def need():
    if importjobs is None:
        skip_or_fail("archive._importjobs is not built here or SUITE_PURE_PYTHON is set "
                     "(python setup.py build_ext --inplace)")
    return importjobs


def loads_or_error(data):
    try:
        return "ok", mf.loads(data, "origin")
    except SuiteError as exc:
        return "error", str(exc)


def read_or_error(data):
    try:
        got = mf.read(data, "origin")
    except SuiteError as exc:
        return "error", str(exc)
    return "ok", got.load() if isinstance(got, mf.Text) else got


# state points of every kind the canonical text has to get right: unsorted and nested keys,
# floats (some not written as repr writes them), big ints, escapes, surrogates, NaN
VALUES = (st.integers(-10**20, 10**20) | st.floats(allow_nan=True, allow_infinity=True)
          | st.text(max_size=4) | st.booleans() | st.none())
KEYS = st.sampled_from(["a", "b", "B", "é", "x y", "$d", "k.l", "", "\t", "aa", "a\\"])
STATEPOINTS = st.dictionaries(
    KEYS, st.recursive(VALUES, lambda inner: st.lists(inner, max_size=2)
                       | st.dictionaries(KEYS, inner, max_size=3), max_leaves=6),
    max_size=4)
NAMES = st.sampled_from(["a.txt", "signac_statepoint.json", "é.txt", "sub/x", "./y", "b",
                         "q\"", ""])
FILES = st.dictionaries(NAMES, st.fixed_dictionaries(
    {"size": st.integers(0, 10**6), "sha256": st.sampled_from(["0" * 64, "ab" * 32, "x"])}),
    max_size=3)
ENTRIES = st.lists(st.fixed_dictionaries(
    {"id": st.sampled_from(["0" * 32, "f" * 32]),
     "path": st.sampled_from(["p/0", "p/1", "a", "./b", "é", "c/d/e"]),
     "statepoint": STATEPOINTS, "files": FILES},
    optional={"links": st.just({"l": "a.txt"}), "dirs": st.just({"s": [493, 0]})}),
    max_size=4)
# how the text written by archive.manifest.dumps is changed before it is read
EDITS = st.sampled_from(["none", "truncate", "space", "newline", "reorder", "indent", "flip",
                         "escape", "drop"])


def edited(data, edit, at):
    i = at % (len(data) + 1)
    if edit == "truncate":
        return data[:i]
    if edit == "space":
        return data[:i] + b" " + data[i:]
    if edit == "newline":
        return data[:i] + b"\n" + data[i:]
    if edit == "flip":
        return data[:i] + bytes([(data[i] ^ 0x21) if i < len(data) else 0x41]) + data[i + 1:]
    if edit == "drop":
        return data[:i] + data[i + 1:]
    if edit == "escape":  # an ASCII letter written as a unicode escape
        j = data.find(b"a", i)
        return data if j < 0 else data[:j] + b"\\u0061" + data[j + 1:]
    manifest = json.loads(data)
    if edit == "reorder":
        manifest["jobs"] = [dict(reversed(list(e.items()))) for e in manifest["jobs"]]
        return json.dumps(manifest).encode()
    if edit == "indent":
        return json.dumps(manifest, indent=1).encode()
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ENTRIES, EDITS, st.integers(0, 10**6))
def test_parse_manifest_takes_only_what_json_reads_the_same(entries, edit, at):
    mod = need()
    data = edited(mf.dumps({"format": "suite-archive", "version": 1, "schema": "<a>",
                            "constant": {"c": 1}, "jobs": entries}), edit, at)
    # the manifest as read, or the error: the same with the native parser as without it
    assert repr(read_or_error(data)) == repr(loads_or_error(data))  # NaN != NaN
    parsed = mod.parse_manifest(data)
    if parsed is None:
        return
    head_end, count, jobs = parsed
    assert jobs is not None  # data is bytes: kept for check_manifest_text
    try:  # the head is read by json (archive.manifest.read): the jobs by the native parser
        head = json.loads(data[:head_end] + b"}")
    except ValueError:
        return  # read falls back to loads (compared above)
    if not isinstance(head, dict) or data[:head_end].rstrip().endswith(b"{"):
        return
    manifest = json.loads(data)
    assert len(manifest["jobs"]) == count
    assert all(mf._well_formed(e) for e in manifest["jobs"])
    assert repr(head) == repr({k: v for k, v in manifest.items() if k != "jobs"})
    for e in manifest["jobs"]:  # what the text check takes: no links, no dirs
        assert set(e) == {"id", "path", "statepoint", "files"}


def test_parse_manifest_takes_what_suite_writes_and_refuses_the_rest():
    mod = need()
    job = {"id": "0" * 32, "path": "p/0", "files": {"a": {"size": 1, "sha256": "ab"}},
           "statepoint": {"b": [1.5, -0.0, 1e-07, "x\n\u00e9\x7f"], "a": {"z": None}}}
    data = mf.dumps({"format": "suite-archive", "version": 1, "jobs": [job, job]})
    assert mod.parse_manifest(data)[:2] == (data.index(b', "jobs"'), 2)
    assert mod.parse_manifest(bytearray(data)) == (data.index(b', "jobs"'), 2, None)
    empty = mf.dumps({"format": "suite-archive", "version": 1, "jobs": []})
    assert mod.parse_manifest(empty)[:2] == (empty.index(b', "jobs"'), 0)
    for other in (data[:-1], data.replace(b"1.5", b"1.50"), data.replace(b'"a": {', b'"a":{'),
                  json.dumps(json.loads(data), indent=2).encode(), b"", b"{}",
                  data.replace(b'"p/0"', b'"p\\/0"'),
                  data.replace(b'"a": {"z"', b'"a": {"a": 1, "a"'),
                  # a key twice, not side by side: json.loads keeps the last, so the
                  # state point is not the text's (its id would be another's)
                  data.replace(b'"a": {"z": null}', b'"a": {"z": null}, "0": 1, "b": 2'),
                  data.replace(b'{"z": null}', b'{"z": null, "y": 1, "z": 2}'),
                  data.replace(b'"x', b'"\\ud83d\\ude00'),  # surrogates: Python's
                  data.replace(b'"a": {"size"', b'"a": {"size": 1, "size"')):
        assert mod.parse_manifest(other) is None
    with pytest.raises(TypeError):
        mod.parse_manifest("text")
    odd = b'{, "jobs": [\n\n]}\n'  # the jobs laid out as suite writes them, the head not
    assert mod.parse_manifest(odd)[:2] == (1, 0)
    with pytest.raises(archive.ArchiveError, match="not valid JSON"):
        mf.read(odd, "origin")


class FakeStage:
    """A Stage's directories only (nothing is written)."""

    def __init__(self, dirs):
        self.dirs = dirs

    def attrs(self, member, default=0o666):
        return None, None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.dictionaries(st.sampled_from(["b", "a", "é", "x y"]),
                                          st.integers(-5, 5) | st.floats(-2, 2)
                                          | st.text(max_size=3), min_size=1, max_size=3),
                          DAMAGE), min_size=1, max_size=6),
       st.booleans(), st.booleans(), st.lists(st.booleans(), min_size=1))
def test_check_manifest_text_agrees_with_the_reference(specs, with_dirs, job_dirs, natives):
    mod = need()
    found = make_found(specs)
    if job_dirs:  # a directory member per job, as suite's tar export writes them
        for i in range(len(specs)):
            found.staged.setdefault(f"p{i}/q", ("dir", 0, None))
    dirs = None
    if with_dirs:
        dirs = {}
        for name in found.staged:
            dirs.setdefault(name.rpartition("/")[0], f"/stage/d{len(dirs)}")
        found.stage = FakeStage(dirs)
    data = mf.dumps(found.manifest)
    tail = (found.staged, found.small, dirs, "file", "dir", "signac_statepoint.json")
    got = mod.check_manifest_text(data, *tail)
    parsed = mod.parse_manifest(data)
    # the entries as parse_manifest kept them give what the text gives
    assert (mod.check_manifest_text(parsed[2], *tail) if parsed else None) == got
    # the members in a MemberTable (as the native scan leaves them: C entries, and objects
    # for what the Python reader took) give what the dict gives
    table = as_table(found.staged, natives)
    assert mod.check_manifest_text(data, table, *tail[1:]) == got
    if parsed:
        assert mod.check_manifest_text(parsed[2], table, *tail[1:]) == got
    want = importer.common_jobs_python(found)
    assert got is None or got == want
    if want is not None and all(damage == "none" and json.loads(json.dumps(sp, sort_keys=True)) == sp
                                and all(isinstance(v, int) for v in sp.values())
                                and all(k.isascii() for k in sp) for sp, damage in specs):
        assert got == want  # the common case (ASCII keys, ints) is taken


def as_table(staged, natives):
    """``staged`` in a ``_tarpack.MemberTable``: files and directories as C entries where
    ``natives`` (cycled) says so, the rest as objects."""
    tarpack = native.load("archive._tarpack")
    table = tarpack.MemberTable("file", "dir")
    for i, (name, value) in enumerate(staged.items()):
        native_ = natives[i % len(natives)]
        kind, size, digest = value
        if native_ and kind == "file" and isinstance(digest, str) and len(digest) == 64:
            table.add_file(name, size, bytes.fromhex(digest))
        elif native_ and value == ("dir", 0, None):
            table.add_dir(name)
        else:
            table[name] = value
    assert table.to_dict() == staged and list(table.to_dict()) == list(staged)
    return table


@pytest.mark.parametrize("damage", ["upper", "short", "not hex", "wrong size"])
def test_check_manifest_text_on_a_table_refuses_what_the_dict_refuses(damage):
    """A manifest hash that only the table's compare could take otherwise (upper case, short,
    not hex) or a size that differs: the job is not the common one, with a dict or a table."""
    mod = need()
    found = make_found([({"a": 1}, "none")])
    entry = found.manifest["jobs"][0]["files"]["data.txt"]
    if damage == "upper":
        entry["sha256"] = entry["sha256"].upper()
    elif damage == "short":
        entry["sha256"] = entry["sha256"][:-1]
    elif damage == "not hex":
        entry["sha256"] = "g" + entry["sha256"][1:]
    else:
        entry["size"] += 1
    data = mf.dumps(found.manifest)
    tail = (found.small, None, "file", "dir", "signac_statepoint.json")
    assert mod.check_manifest_text(data, found.staged, *tail) is None
    assert mod.check_manifest_text(data, as_table(found.staged, [True]), *tail) is None
    undamaged = make_found([({"a": 1}, "none")])
    assert mod.check_manifest_text(mf.dumps(undamaged.manifest),
                                   as_table(undamaged.staged, [True]), *tail) is not None


def test_check_manifest_text_refuses_bad_arguments():
    mod = need()
    with pytest.raises(TypeError):
        mod.check_manifest_text(b"", [], {}, None, "file", "dir", "sp")
    with pytest.raises(TypeError):
        mod.check_manifest_text(b"", {}, {}, [], "file", "dir", "sp")
    assert mod.check_manifest_text(b"{}", {}, {}, None, "file", "dir", "sp") is None
    with pytest.raises(TypeError):  # staged: a dict or a MemberTable, nothing else
        mod.check_manifest_text(b"{}", FakeTable(), {}, None, "file", "dir", "sp")


class FakeTable:
    """Named as the table is, but not it: never read as its C layout."""

    __module__ = "archive._tarpack"
    __qualname__ = "MemberTable"


FakeTable.__name__ = "MemberTable"


# ---- the import, through the fallbacks ----

@pytest.fixture
def exported(project, tmp_path):
    for i in range(3):
        job = project.open_job({"i": i, "name": f"n{i}"}).init()
        job.doc.v = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"{i}\n")
    path = tmp_path / "a.tar"
    archive.export_jobs(project, path)
    return project, path


def with_manifest(path, out, edit):
    """A copy of the tar ``path`` at ``out`` whose manifest is ``edit(text)``."""
    with tarfile.open(path) as src, tarfile.open(out, "w") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else None
            if info.name == mf.NAME:
                data = edit(data)
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def manifest_of(path):
    with tarfile.open(path) as tar:
        return tar.extractfile(mf.NAME).read()


def reordered(data):
    m = json.loads(data)
    m["jobs"] = [dict(reversed(list(e.items()))) for e in m["jobs"]]
    for e in m["jobs"]:
        e["statepoint"] = dict(reversed(list(e["statepoint"].items())))
    return json.dumps(m).encode()


def escaped(data):  # the same text with every "n" of the state points' values escaped
    return data.replace(b'"n0"', b'"\\u006e0"').replace(b'"name": "n1"', b'"name": "\\u006e1"')


@pytest.mark.parametrize("edit", [
    pytest.param(lambda d: d, id="as written"),
    pytest.param(reordered, id="keys reordered"),
    pytest.param(lambda d: json.dumps(json.loads(d), indent=2).encode(), id="whitespace"),
    pytest.param(escaped, id="unicode escapes"),
])
def test_odd_but_valid_manifests_import_the_same_jobs(exported, tmp_path, edit):
    project, path = exported
    changed = with_manifest(path, tmp_path / "b.tar", edit)
    text = manifest_of(changed)
    if importjobs is not None:  # only suite's own layout is read as text
        assert (importjobs.parse_manifest(text) is not None) == (text == manifest_of(path))
    other = suite.init_project(tmp_path / "o")
    result = archive.import_jobs(other, changed)
    assert sorted(result.imported) == sorted(j.id for j in project)
    for job in project:
        twin = other.open_job(id=job.id)
        assert twin.sp() == job.sp() and twin.doc() == job.doc()
        assert open(twin.fn("out.txt")).read() == open(job.fn("out.txt")).read()
    assert archive.verify(changed).ok


@pytest.mark.parametrize("cut", [1, 40, 200, -60, -3])
def test_a_truncated_manifest_fails_as_json_says(exported, tmp_path, cut):
    project, path = exported
    data = manifest_of(path)
    changed = with_manifest(path, tmp_path / "b.tar", lambda d: d[:cut])
    want = loads_or_error(data[:cut])
    assert want[0] == "error"
    other = suite.init_project(tmp_path / "o")
    with pytest.raises(archive.ArchiveError) as info:
        archive.import_jobs(other, changed)
    assert str(info.value) == want[1].replace("origin", str(changed))
    assert len(other) == 0


def test_a_wrong_hash_in_a_manifest_read_as_text_is_refused(exported, tmp_path):
    project, path = exported
    data = manifest_of(path)
    entry = json.loads(data.split(b"\n")[1].rstrip(b","))
    sha = entry["files"]["out.txt"]["sha256"]
    changed = with_manifest(path, tmp_path / "b.tar", lambda d: d.replace(sha.encode(), b"0" * 64))
    if importjobs is not None:
        assert importjobs.parse_manifest(manifest_of(changed)) is not None
    other = suite.init_project(tmp_path / "o")
    with pytest.raises(archive.ArchiveError, match="does not match its manifest hash"):
        archive.import_jobs(other, changed)
    assert len(other) == 0
    shutil.rmtree(tmp_path / "o")
