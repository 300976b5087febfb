"""suite.jobfiles.walk, the listing of job directories with subdirectories (sync, export,
``diff --files``, the records' scans), leaves access times as they were, as the other readers
do (suite.jsonio.open_quietly): a listing is no use of a directory."""

import os

import pytest

import suite
from suite import jobfiles
from suite.diff import diff_files

OLD = 10**18  # 2001: older than a day, so relatime would write any access


def _age(paths):
    for p in paths:
        os.utime(p, ns=(OLD, os.stat(p, follow_symlinks=False).st_mtime_ns),
                 follow_symlinks=False)


def _atimes(paths):
    return {p: os.stat(p, follow_symlinks=False).st_atime_ns for p in paths}


@pytest.fixture
def nested(tmp_path):
    root = tmp_path / "job"
    for d in ("a", "a/b", "c"):
        (root / d).mkdir(parents=True)
    for rel, data in (("top.txt", "1"), ("a/x.txt", "22"), ("a/b/y.txt", "333"),
                      ("c/z.txt", "4444")):
        (root / rel).write_text(data)
    os.symlink("x.txt", root / "a" / "inside")
    dirs = [str(root / d) for d in ("", "a", "a/b", "c")]
    _age(dirs)
    return root, dirs


def test_walk_leaves_the_access_times_of_the_directories(nested):
    root, dirs = nested
    skipped = {}
    got = {rel: (entry.name, entry.stat(follow_symlinks=False).st_size, target)
           for rel, entry, target in jobfiles.walk(str(root), skipped)}
    assert got == {"top.txt": ("top.txt", 1, None), "a/x.txt": ("x.txt", 2, None),
                   "a/b/y.txt": ("y.txt", 3, None), "c/z.txt": ("z.txt", 4, None),
                   "a/inside": ("inside", 5, "x.txt")}
    assert skipped == {}
    assert _atimes(dirs) == dict.fromkeys(dirs, OLD)


def test_diff_files_leaves_the_access_times_of_the_files_it_compares(tmp_path):
    """Files of the same size are read for their digests: without moving their access
    times either, nor the directories' (the command line, as a user runs it). (The state
    points and documents are JSON read as a job's own, by read_json: not asked here.)"""
    import subprocess
    import sys

    from tests.access_times import aged_project, moved

    p, paths = aged_project(tmp_path / "p")
    a, b = (p.open_job({"i": i}) for i in range(2))
    with open(b.fn("out.txt"), "w") as f:
        f.write("same SIZE")  # as long as a's: compared by content
    _age([b.fn("out.txt")])
    paths = [q for q in paths if not q.endswith(".json")]
    done = subprocess.run([sys.executable, "-m", "suite", "diff", a.id, b.id, "--files"],
                          cwd=p.path, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr
    assert "out.txt" in done.stdout
    assert moved(paths) == []


def test_walk_errors_and_skips_are_as_before(tmp_path, nested):
    root, _ = nested
    with pytest.raises(FileNotFoundError) as exc:
        list(jobfiles.walk(str(tmp_path / "gone"), {}))
    assert exc.value.filename == str(tmp_path / "gone")
    with pytest.raises(NotADirectoryError) as exc:
        list(jobfiles.walk(str(root / "top.txt"), {}))
    assert exc.value.filename == str(root / "top.txt")
    os.symlink("/etc/passwd", root / "c" / "out")
    os.mkfifo(root / "a" / "b" / "pipe")
    skipped = {}
    rels = sorted(rel for rel, _, _ in jobfiles.walk(str(root), skipped, {"top.txt"}))
    assert rels == ["a/b/y.txt", "a/inside", "a/x.txt", "c/z.txt"]
    assert skipped == {"c/out": jobfiles.LINK_LEAVES, "a/b/pipe": jobfiles.SPECIAL}


def test_diff_files_leaves_the_access_times_of_the_directories(tmp_path):
    p = suite.init_project(tmp_path / "p")
    jobs = [p.open_job({"i": i}).init() for i in range(2)]
    dirs = []
    for n, job in enumerate(jobs):
        os.makedirs(job.fn("sub/deeper"))
        with open(job.fn("sub/deeper/f.txt"), "w") as f:
            f.write("x" * (n + 1))  # sizes differ: no file is read for its hash
        dirs += [job.path, job.fn("sub"), job.fn("sub/deeper")]
    _age(dirs)
    assert "sub/deeper/f.txt" in diff_files(*jobs).different
    assert _atimes(dirs) == dict.fromkeys(dirs, OLD)


CHILD = """
import os, sys
from suite import jsonio
dfd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)  # before: the way there is root's
os.setgid(65534)
os.setuid(65534)  # nobody, who owns the directory and both files
try:
    jsonio.open_quietly("mine-unreadable", os.O_RDONLY, dir_fd=dfd)
except PermissionError as exc:
    print(exc.errno)
fd = jsonio.open_quietly("mine", os.O_RDONLY, dir_fd=dfd)
os.read(fd, 10)
os.close(fd)
"""


@pytest.mark.skipif(not hasattr(os, "O_NOATIME") or os.geteuid() != 0,
                    reason="needs O_NOATIME and root (to become another user)")
def test_a_file_of_ones_own_one_may_not_read_keeps_the_flag(tmp_path):
    # EACCES (no read permission) is not the kernel refusing O_NOATIME (EPERM, another
    # owner's file): the files after it are still read quietly, as by suite/_c/quietopen.h
    import subprocess
    import sys

    root = tmp_path / "own"
    root.mkdir()
    for name, mode in (("mine-unreadable", 0o000), ("mine", 0o644)):
        (root / name).write_text("x")
        os.chmod(root / name, mode)
    for p in (root / "mine-unreadable", root / "mine", root):
        os.chown(p, 65534, 65534)
    _age([str(root / "mine")])
    out = subprocess.run([sys.executable, "-c", CHILD, str(root)], capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["13"]
    assert os.stat(root / "mine").st_atime_ns == OLD
