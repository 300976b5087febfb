"""The sync step of ``suite demo``."""

import os


def demo_step(project, echo):
    """Sync the demo project with a second copy, edit both, sync again."""
    import suite

    from . import sync

    other = suite.init_project(os.path.join(project.path, "cluster-copy"))
    first = sync(project, other.path)
    echo(f"suite sync cluster-copy -> {len(first.actions)} jobs copied")
    job_here = next(iter(project.find_jobs({"model": "potts", "p": 2, "T": 1.0})))
    job_there = other.open_job(id=job_here.id)
    job_here.doc.analysed = True
    job_there.doc.energy = -2.5
    job_there.doc.queue = "gpu"
    job_here.doc.queue = "cpu"
    result = sync(project, other.path)
    echo(f"after editing both copies: {len(result.actions)} change(s), "
         f"{len(result.conflicts)} conflict(s)")
    echo(f"  merged document here: {project.open_job(id=job_here.id).doc()}")
    for c in result.conflicts:
        echo(f"  conflict on doc.{c['key']}: here {c['local']!r}, there {c['remote']!r} "
             "(resolve with --prefer local|remote|newer)")
