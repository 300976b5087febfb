"""What a sync test compares of a workspace."""

import os


def workspace_tree(project):
    """{job/rel: (bytes, mtime_ns)} of a project's workspace (temporary files included; the
    mtime of copied files only: a state point's and a document's are their writing's)."""
    out = {}
    for job_id in sorted(os.listdir(project.workspace)):
        root = os.path.join(project.workspace, job_id)
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[f"{job_id}/{name}"] = (f.read(), None if name.startswith("signac_")
                                           else os.stat(path).st_mtime_ns)
    return out
