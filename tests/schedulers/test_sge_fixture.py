"""The Grid Engine fixture leaves the machine as it found it: a test session that uses it
stops the daemons it started, kills none it did not, and changes no file of the machine's
Grid Engine (the installation under $SGE_ROOT, the spool under /var/spool/gridengine)."""

import fnmatch
import os
import subprocess
import sys

from .sge_cell import SGE_ROOT

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sge_daemons():
    """Process ids of running Grid Engine daemons (zombies excluded)."""
    out = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read()
        except OSError:
            continue
        name = fields[fields.index("(") + 1:fields.rindex(")")]
        if name.startswith("sge_") and fields.rsplit(")", 1)[1].split()[0] != "Z":
            out.add(int(pid))
    return out


def machine_files():
    """path -> (mode, size, mtime, content hash for small files) of the machine's Grid Engine
    files, cells of other test sessions left out."""
    import hashlib

    out = {}
    for top in (SGE_ROOT, "/var/spool/gridengine"):
        for d, dirs, files in os.walk(top):
            dirs[:] = [x for x in dirs
                       if not (d == SGE_ROOT and fnmatch.fnmatch(x, "suitetest-*"))]
            for name in [*dirs, *files]:
                path = os.path.join(d, name)
                st = os.lstat(path)
                digest = None
                if os.path.isfile(path) and not os.path.islink(path) and st.st_size < 1 << 20:
                    with open(path, "rb") as f:
                        digest = hashlib.md5(f.read()).hexdigest()
                out[path] = (st.st_mode, st.st_size,
                             None if os.path.isdir(path) else st.st_mtime_ns, digest)
    return out


def test_a_session_with_grid_engine_leaves_the_machine_as_it_was(sge):
    # `sge` gates this test like the others (installed, root, asked for); the session below
    # starts a cell of its own beside this session's
    daemons, files = sge_daemons(), machine_files()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/schedulers/test_sge.py", "-k", "dependency_and_cancel"],
                       cwd=REPO, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "SUITE_TEST_SGE": "1"})
    assert "1 passed" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert sge_daemons() == daemons
    after = machine_files()
    changed = sorted(p for p in set(files) | set(after) if files.get(p) != after.get(p))
    assert changed == []
