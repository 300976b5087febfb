"""A record whose scan after runs on the capture module's helper thread
(``_capture.record_line_later`` / ``Capture.record_line_later``): ``take()`` gives the bytes
``record_line`` gives, errors included; the handle is safe to drop, to take twice (an error),
to hold across a fork."""

import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import jsonio, layout, native
from suite.provenance import capture
from tests.provenance.conftest import other_thread
from tests.provenance.test_capture_native import (
    ENTRIES,
    FATES,
    FLOATS,
    TEXTS,
    make,
    need,
    outcome_or_type,
)

ID = "0123456789abcdef0123456789abcdef"


def later(mod, args):
    """outcome_or_type of making the handle and taking it."""
    try:
        handle = mod.record_line_later(*args)
    except Exception as exc:
        return "error", type(exc)
    return outcome_or_type(handle.take)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES, fates=FATES, operation=TEXTS, start=FLOATS, end=FLOATS,
       status=TEXTS, error=st.none() | TEXTS, job=TEXTS, write=st.booleans(),
       threads=st.booleans(), two=st.booleans())
def test_a_deferred_record_is_the_synchronous_one_byte_for_byte(tmp_path_factory, entries,
                                                               fates, operation, start, end,
                                                               status, error, job, write,
                                                               threads, two):
    mod = need()
    root = str(tmp_path_factory.mktemp("jobs") / "job")
    make(root, entries)
    found = capture.flat_sigs_python(root)
    old = {}
    for (name, sig), fate in zip(sorted((found or ({}, False))[0].items()), fates,
                                 strict=False):
        if fate in ("same", "gone", "size"):
            old[name] = {"same": sig, "gone": (1, 2, 3, 4), "size": (sig[0] + 1, *sig[1:])}[fate]
        if fate == "gone":
            os.remove(os.path.join(root, name))
    written = []
    if write and found is not None:  # suite's writer wrote the document here
        data = b'{"step": 1}'
        st_ = jsonio.write_atomic(os.path.join(root, layout.DOCUMENT), data)
        written.append((os.path.join(root, layout.DOCUMENT), data, st_))
    args = (ID, operation, [job], start, end, status, error, job, root, old, written,
            '"host": "h"')
    want = outcome_or_type(capture.record_line_python, *args)
    with other_thread(threads):
        sync = outcome_or_type(mod.record_line, *args)
        if two:  # a second record while the first is in flight: its scan runs at once
            first = mod.record_line_later(*args)
            got = later(mod, args)
            assert outcome_or_type(first.take) == got
        else:
            got = later(mod, args)
    assert got == sync
    if want[0] == "value":
        assert got == want
    else:
        assert got[:2] == want[:2]


def test_a_deferred_record_raises_what_the_synchronous_one_raises(tmp_path):
    mod = need()
    (tmp_path / "file").write_text("x")
    good = [ID, "op", ["j"], 1.0, 2.0, "success", None, "j", str(tmp_path), {}, [], ""]
    for at, bad in [(2, ("j",)), (3, 1), (9, []), (10, ()), (11, b"")]:
        args = list(good)
        args[at] = bad
        with pytest.raises(TypeError):
            mod.record_line_later(*args)
    with pytest.raises(TypeError):
        mod.record_line_later(*good[:11])
    args = list(good)
    args[8] = str(tmp_path / "a\0b")  # refused when made, as record_line refuses it
    with pytest.raises(ValueError):
        mod.record_line(*args)
    with pytest.raises(ValueError):
        mod.record_line_later(*args)
    args[8] = str(tmp_path / "file")  # the scan's error: from take()
    with pytest.raises(NotADirectoryError) as sync:
        mod.record_line(*args)
    handle = mod.record_line_later(*args)
    with pytest.raises(NotADirectoryError) as deferred:
        handle.take()
    assert (deferred.value.errno, deferred.value.filename) == (sync.value.errno,
                                                               sync.value.filename)
    with pytest.raises(RuntimeError):  # taken once, error or not
        handle.take()
    # not flat: None, the caller walks the tree; odd signatures (not the fast path): the
    # line made at once
    os.mkdir(tmp_path / "sub")
    args = list(good)
    assert mod.record_line_later(*args).take() is None
    args[9] = {"file": (1.5, 2, 3, 4)}
    assert mod.record_line_later(*args).take() == mod.record_line(*args)


def test_handles_dropped_untaken_and_many_in_turn(tmp_path):
    mod = need()
    for i in range(40):
        (tmp_path / f"out{i}.txt").write_bytes(b"x" * i * 2000)  # some of more than one read
    args = [ID, "op", ["j"], 1.0, 2.0, "success", None, "j", str(tmp_path), {}, None, ""]
    want = mod.record_line(*args)
    open_fds = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        mod.record_line_later(*args)  # dropped at once: freed after its scan
        handle = mod.record_line_later(*args)
        assert handle.take() == want
    assert len(os.listdir("/proc/self/fd")) == open_fds


def test_the_capture_defers_only_with_the_c_module(tmp_path):
    cap = capture.Capture(str(tmp_path), enabled=True)
    assert cap.defers is (native.load("suite.provenance._capture") is not None)
    assert not capture.Capture(str(tmp_path), enabled=False).defers


FORKING = textwrap.dedent('''
    import os, sys
    from suite import native
    from suite.provenance import capture  # configures the module's rules
    mod = native.load("suite.provenance._capture")
    assert capture.record_line_later is mod.record_line_later
    root, record_id = sys.argv[1], sys.argv[2]
    args = [record_id, "op", ["j"], 1.0, 2.0, "success", None, "j", root, {}, None, ""]
    want = mod.record_line(*args)
    for i in range(20):
        handle = mod.record_line_later(*args)
        pid = os.fork()  # while its scan may be running
        if pid == 0:
            ok = handle.take() == want and mod.record_line_later(*args).take() == want
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, i
        assert handle.take() == want
    print("ok")
''')


def test_a_fork_while_a_scan_runs_leaves_both_sides_whole(tmp_path):
    need()
    for i in range(30):
        (tmp_path / f"f{i}").write_text(str(i))
    out = subprocess.run([sys.executable, "-c", FORKING, str(tmp_path), ID], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr
