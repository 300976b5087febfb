"""The environment's distributions found by suite's own scan of ``sys.path`` are those
``importlib.metadata`` finds (environment_python, the reference), on generated paths and on this
installation; and record ids stay unique (drawn many at a time), across a fork too."""

import os
import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.provenance import capture

# metadata texts: headers with the two fields (or not), odd line breaks, bodies, bad bytes
FIELD = st.sampled_from(["Name: pkg-a", "Name:Pkg_B ", "Version: 1.0", "Version:2.0rc1 ",
                         "Summary: x", "Name: other", "Classifier: A :: B", " Name: no",
                         "name: lower"])
BREAK = st.sampled_from(["\n", "\r\n", "\r", "\x0c", "\u2028", "\x85"])
TEXT = st.builds(lambda fields, breaks, body: "".join(
    f + b for f, b in zip(fields, breaks * len(fields), strict=False)) + body,
    st.lists(FIELD, max_size=6), st.lists(BREAK, min_size=1, max_size=3),
    st.sampled_from(["", "\n", "\nName: in-body\nVersion: 9\n", "\n\nDescription é"]))
CONTENT = st.one_of(TEXT.map(lambda t: t.encode()), st.just(b"Name: bad\n\xff\xfe"),
                    st.just(b""))
# a metadata entry of a path directory: (its name, METADATA, PKG-INFO), None for no file
DIST = st.tuples(st.sampled_from(["pkg_a-1.0.dist-info", "Pkg.A-2.0.dist-info",
                                  "pkg-a-1.0.egg-info", "other-3.dist-info", "x.DIST-INFO",
                                  "egg-info", "EGG-INFO", "notmeta", "y-1.egg-info"]),
                 st.one_of(st.none(), CONTENT), st.one_of(st.none(), CONTENT),
                 st.sampled_from(["dir", "file"]))
PATHS = st.lists(st.tuples(st.sampled_from(["site", "b", "c.egg", "missing", ""]),
                           st.lists(DIST, max_size=4)), max_size=4)


def populate(root, paths):
    entries = []
    for k, (name, dists) in enumerate(paths):
        if name == "missing":
            entries.append(str(root / f"missing-{k}"))
            continue
        if name == "":
            entries.append("")  # the working directory
            continue
        top = root / f"{k}" / name
        top.mkdir(parents=True)
        for dist, metadata, pkg_info, kind in dists:
            where = top / dist
            if where.exists():
                continue
            if kind == "file":  # a one-file egg-info (PKG-INFO's text itself)
                where.write_bytes(metadata or b"")
                continue
            where.mkdir()
            if metadata is not None:
                (where / "METADATA").write_bytes(metadata)
            if pkg_info is not None:
                (where / "PKG-INFO").write_bytes(pkg_info)
        entries.append(str(top))
    return entries


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths=PATHS)
def test_the_scan_finds_what_importlib_metadata_finds(tmp_path_factory, monkeypatch, paths):
    root = tmp_path_factory.mktemp("env")
    entries = populate(root, paths)
    monkeypatch.chdir(root)
    with monkeypatch.context() as m:
        m.setattr(sys, "path", entries)
        assert capture._metadata_paths() is not None  # the scan, not its fallback
        assert capture.environment() == capture.environment_python()


def test_the_scan_agrees_on_this_installation():
    assert capture._metadata_paths() is not None
    env = capture.environment()
    assert env == capture.environment_python()
    assert env["packages"]["hypothesis"]


def test_a_zip_on_the_path_or_another_finder_is_left_to_importlib_metadata(
        tmp_path, monkeypatch):
    import zipfile

    archive = tmp_path / "dists.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    assert capture._metadata_paths() is None
    assert capture.environment()["packages"]["zipped"] == "1.0"

    class Finder:
        @staticmethod
        def find_distributions(context=None):
            return iter(())

    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(archive)])
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder])
    assert capture._metadata_paths() is None
    assert capture.environment() == capture.environment_python()


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_the_header_search_agrees_with_reading_line_by_line(text):
    assert capture._header_name_version(text) == capture._header_lines_name_version(text)


def test_record_ids_are_unique_hex_and_a_forked_child_draws_its_own():
    many = [capture.record_id() for _ in range(3 * capture.IDS_AT_ONCE + 5)]
    assert len(set(many)) == len(many)
    assert all(re.fullmatch("[0-9a-f]{32}", i) for i in many)
    assert len({i[:12] for i in many}) == len(many)  # short prefixes still tell them apart
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the ids its parent drew but did not hand out are not its own
        try:
            os.close(read)
            os.write(write, "".join(capture.record_id() for _ in range(10)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        child = f.read().decode()
    os.waitpid(pid, 0)
    parent = [capture.record_id() for _ in range(10)]
    child_ids = [child[k:k + 32] for k in range(0, len(child), 32)]
    assert len(child_ids) == 10
    assert not set(child_ids) & set(parent)


def test_the_capture_thread_runs_git_only_and_the_environment_is_read_by_the_caller(
        tmp_path, monkeypatch):
    # the scan of the distributions is Python: in the thread it passed the interpreter lock
    # back and forth with the run's first executions (thousands of futex calls); git is a
    # process, which the thread waits for without the lock
    import threading

    where = {}
    real_env, real_git = capture.environment, capture.git_state

    def environment():
        where["environment"] = threading.current_thread()
        return real_env()

    def git_state(path):
        where["git"] = threading.current_thread()
        return real_git(path)

    monkeypatch.setattr(capture, "environment", environment)
    monkeypatch.setattr(capture, "git_state", git_state)
    cap = capture.Capture(str(tmp_path), enabled=True)
    cap.start()
    base = cap.base()
    assert where["git"] is not threading.main_thread()
    assert where["environment"] is threading.main_thread()
    assert base["environment"] and base["git_commit"] is None
    assert cap.blobs()[0][0] == f"env-{base['environment']}"


def test_a_failing_git_in_the_thread_fails_again_in_the_caller(tmp_path, monkeypatch):
    calls = []

    def git_state(path):
        calls.append(path)
        raise OSError("git went away")

    monkeypatch.setattr(capture, "git_state", git_state)
    cap = capture.Capture(str(tmp_path), enabled=True)
    cap.start()
    with pytest.raises(OSError, match="git went away"):
        cap.base()
    assert len(calls) == 2
