"""The archive step of ``suite demo``."""

import os


def demo_step(project, echo):
    """Export the demo project to .tar.zst with a schema, verify it, import it elsewhere."""
    import suite

    from . import export_jobs, import_jobs, verify

    target = os.path.join(project.path, "export", "sweep.tar.zst")
    result = export_jobs(project, target, schema="<model>/T_<T>/p_<p>")
    echo(f"suite export export/sweep.tar.zst --schema '<model>/T_<T>/p_<p>' -> "
         f"{result.jobs} jobs, {result.files} files")
    echo(f"suite verify -> {'ok' if verify(target).ok else 'PROBLEMS'}")
    copy = suite.init_project(os.path.join(project.path, "export", "copy"))
    imported = import_jobs(copy, target)
    echo(f"suite import into export/copy -> {len(imported.imported)} jobs; same ids: "
         f"{sorted(j.id for j in copy) == sorted(j.id for j in project)}")
