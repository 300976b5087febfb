"""The demo behind ``suite demo DIR``: each capability adds its step to :data:`STEPS`."""

import importlib
import os

#: (title, "module:function") — each function takes (project, echo) and shows one capability.
STEPS = [
    ("core: jobs, documents, data, queries", "suite.demo:core_step"),
    ("archive: export and import", "archive.demo:demo_step"),
    ("views and diffs", "suite.views:demo_step"),
    ("sync between two copies of the project", "sync.demo:demo_step"),
    ("workflows: status and run", "suite.flow.demo:demo_step"),
]


def run_demo(directory, echo=print):
    """Build the example project in ``directory`` and run every step."""
    import suite

    if os.path.exists(directory) and os.listdir(directory):
        raise suite.SuiteError(f"{directory} is not empty; give a new or empty directory")
    project = suite.init_project(directory)
    for title, target in STEPS:
        module, func = target.split(":")
        try:
            fn = getattr(importlib.import_module(module), func)
        except (ModuleNotFoundError, AttributeError):
            continue  # capability not built in this version
        echo(f"\n== {title}")
        fn(project, echo)
    echo(f"\nThe project is in {project.path}; try 'cd {directory} && suite find' next.")


def core_step(project, echo):
    """Create a sweep of 12 jobs with documents and HDF5 data, then query it."""
    import numpy

    import suite

    with suite.buffered():
        for T in (1.0, 2.0, 3.0):
            for p in (1, 2):
                for model in ("ising", "potts"):
                    job = project.open_job({"T": T, "p": p, "model": model}).init()
                    job.doc.energy = -T * p
                    job.doc.done = T < 3
    for job in project.find_jobs({"model": "ising"}):
        job.data["magnetisation"] = numpy.linspace(0, job.sp.T, 5)
    echo(f"created {len(project)} jobs in {project.workspace}")
    ids = project.find_jobs({"T": {"$gt": 1.5}, "doc.done": True}).ids()
    echo(f"suite find 'T.$gt' 1.5 doc.done true -> {len(ids)} jobs: {', '.join(i[:8] for i in ids)}")
    job = project.open_job(id=ids[0])
    echo(f"job {job.id[:8]}: sp={job.sp()} doc={job.doc()}")
    echo("schema:\n" + "\n".join(f"{k}: {v}" for k, v in project.detect_schema().format_lines()))
