"""The manifest's state point fields, written in one native call (``suite._spcanon.texts``)
for an export's plain state points: the archive's bytes are those the reference (json's
encoder, state point by state point) gives, and the import reads the state points back."""

import json
import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archive
import suite
from archive import manifest
from suite import statepoint

KEY = st.text(max_size=5).filter(lambda k: "." not in k and not k.startswith("$"))
SCALAR = (st.none() | st.booleans() | st.integers() | st.integers(-2**100, 2**100)
          | st.floats(allow_nan=False, allow_infinity=False)
          | st.sampled_from([0.0, -0.0, 1e16, 1e-7, 5e-324]) | st.text(max_size=6))
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(KEY, inner, max_size=3), max_leaves=12)
STATEPOINTS = st.lists(st.dictionaries(KEY, VALUE, min_size=1, max_size=4), min_size=1,
                       max_size=5)


def exported(project, target):
    # <id>: what is compared is the manifest, not the automatic schema (which refuses a key
    # "": noted in docs/benchmarks.md, session 12)
    archive.export_jobs(project, target, schema="<id>", force=True)
    with open(target, "rb") as f:
        return f.read()


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sps=STATEPOINTS)
def test_export_writes_the_bytes_of_the_reference_and_imports_back(tmp_path_factory,
                                                                   monkeypatch, sps):
    tmp = str(tmp_path_factory.mktemp("sps"))
    project = suite.init_project(os.path.join(tmp, "p"))
    made = {project.open_job(sp).init().id: sp for sp in sps}
    fast = exported(project, os.path.join(tmp, "fast.tar"))
    monkeypatch.setattr(manifest, "texts", lambda sps: [None] * len(sps))  # all by json
    slow = exported(project, os.path.join(tmp, "slow.tar"))
    monkeypatch.undo()
    assert fast == slow
    back = suite.init_project(os.path.join(tmp, "q"))
    archive.import_jobs(back, os.path.join(tmp, "fast.tar"))
    assert {job.id: job.statepoint() for job in back} == made


def test_statepoint_texts_are_json_dumps_plain_or_not():
    sps = [{"b": 1, "a": [1.5, "é\U0001f600", None]}, {"a.b": 1}, {"x": math.nan},
           {"$y": {"z": -0.0}}, {"n": 10**30}, {1: 2}]
    assert manifest.statepoint_texts(sps) == [json.dumps(sp) for sp in sps]
    assert statepoint.texts(sps)[1:4] == [None, None, None]
