"""Helpers of the access-time tests (tests/*/test_access_times.py): a project whose files
and directories were last read in 2001, and their access times read back. Under relatime
(the usual mount) an access older than the last change is written by any read or listing,
so a reader that moves access times is seen."""

import os

#: 2001: older than any change made now, so relatime would write any access
OLD = 10**18


def aged_project(root):
    """A project with two jobs of flat files and one with subdirectories and a file of more
    than 1 MiB; every job
    directory, subdirectory and file aged to :data:`OLD` (atime before mtime). Returns the
    project and the aged paths."""
    import suite

    project = suite.init_project(root)
    for i in range(3):
        job = project.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write("same size" if i < 2 else "other one")
        if i == 2:
            os.makedirs(job.fn("sub/deeper"))
            with open(job.fn("sub/deeper/f.txt"), "w") as f:
                f.write("deep")
            with open(job.fn("big.bin"), "wb") as f:  # above 1 MiB: archive writers copy it
                f.write(b"\0" * ((1 << 20) + 1))
    return project, age(project)


def age(project):
    """Set the access time of everything below the workspace (not the workspace itself, which
    the index lists) to :data:`OLD`; the paths aged."""
    paths = []
    for dirpath, _, filenames in os.walk(project.workspace):
        if dirpath != project.workspace:
            paths.append(dirpath)
        paths += [os.path.join(dirpath, n) for n in filenames]
    for p in paths:
        os.utime(p, ns=(OLD, os.stat(p, follow_symlinks=False).st_mtime_ns),
                 follow_symlinks=False)
    return paths


def moved(paths):
    """The paths among ``paths`` whose access time is no longer :data:`OLD`."""
    return sorted(p for p in paths if os.stat(p, follow_symlinks=False).st_atime_ns != OLD)
