"""What a local sync (both projects on this machine, `suite sync /other/project`) costs:
the work it leaves out must not change what it syncs."""

import os
import subprocess
import sys

import pytest

import suite
import sync
from suite.errors import InvalidStatepointError


def make(project, n):
    for i in range(n):
        job = project.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"result {i}")


def test_local_sync_cli_imports_no_workflow_package(tmp_path):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    make(lap, 3)
    # the CLI as a user runs it, in a fresh process: the sync identity is read without the
    # workflow package (nothing was submitted, so no book is exchanged either)
    code = ("import sys; from suite.cli import main; "
            f"sys.argv = ['suite', 'sync', {str(clu.path)!r}, '-q']\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "assert 'suite.flow' not in sys.modules, 'suite.flow imported'\n"
            "assert 'schedulers' not in sys.modules, 'schedulers imported'\n"
            # nor a TOML reader without a config file, nor a thread pool (with logging)
            "assert 'tomllib' not in sys.modules, 'tomllib imported'\n"
            "assert 'concurrent.futures' not in sys.modules, 'concurrent.futures imported'\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "no-config")}
    subprocess.run([sys.executable, "-c", code], cwd=lap.path, check=True, env=env)
    assert sorted(j.id for j in clu) == sorted(j.id for j in lap)
    assert os.path.exists(clu.open_job({"i": 2}).fn("out.txt"))
    assert sync.sync(lap, clu.path).exit_status == 0  # and the record agrees: nothing to do


def test_the_record_encodes_as_json_dumps_does():
    """encode_record leaves out json.dumps's check for cycles (a record has none): the same
    bytes, NaN and Infinity kept, for any record of JSON values."""
    import json
    import math

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from sync.replica import encode_record

    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                     max_size=4),
        max_leaves=20)
    entries = st.fixed_dictionaries({
        "files": st.dictionaries(st.text(min_size=1, max_size=8),
                                 st.lists(st.integers(), min_size=3, max_size=3), max_size=3),
        "doc": st.dictionaries(st.text(max_size=8), values, max_size=4)})

    @settings(max_examples=50, deadline=None)
    @given(st.dictionaries(st.text("0123456789abcdef", min_size=2, max_size=2), entries,
                           max_size=5), values)
    def check(jobs, project_doc):
        record = {"jobs": jobs, "project_doc": project_doc}
        raw = encode_record(record)
        # what json reads back is the record (compared as sorted text: NaN != NaN), one job a
        # line in id order, each line what json.dumps writes for the entry
        assert (json.dumps(json.loads(raw), sort_keys=True, allow_nan=True)
                == json.dumps(record, sort_keys=True, allow_nan=True))
        lines = raw.split(b"\n")
        assert lines[1:1 + len(jobs)] == [f'"{i}": {json.dumps(jobs[i], allow_nan=True)}'.encode()
                               + (b"," if k < len(jobs) - 1 else b"")
                               for k, i in enumerate(sorted(jobs))]

    check()
    assert json.loads(encode_record({"jobs": {}, "project_doc": {"x": math.inf}})) == \
        {"jobs": {}, "project_doc": {"x": math.inf}}
    with pytest.raises(InvalidStatepointError, match="sync record"):
        encode_record({"jobs": {"ab": {"files": {}, "doc": {"s": {1, 2}}}}})
