"""bench/common.py's ``where``: the benches print where their projects really are, a RAM disk
or a disk (bench_sync's summary said "on /tmp" for projects on /dev/shm)."""

import os
import subprocess
import sys

from tests.conftest import REPO

sys.path.insert(0, os.path.join(REPO, "bench"))
from common import where  # noqa: E402


def _kind(path):
    out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                         check=True).stdout.strip()
    return "a RAM disk" if out == "tmpfs" else "a disk"


def test_where_names_the_file_system_of_the_path(tmp_path):
    for path in (str(tmp_path), "/", "/dev/shm"):
        if os.path.isdir(path):
            assert where(path) == f"{path} ({_kind(path)})"


def test_where_of_a_path_not_made_yet_is_its_parents():
    missing = "/dev/shm/no-such-dir/x" if os.path.isdir("/dev/shm") else "/no-such-dir/x"
    assert where(missing) == f"{missing} ({_kind(os.path.dirname(os.path.dirname(missing)))})"

