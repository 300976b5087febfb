"""suite: data management for computational science.

Jobs live in a project's workspace, addressed by their state point; suite reads and writes the
signac 2 layout in place. The guide is in docs/ of the repository. ``import suite as signac``
runs signac 2 scripts: docs/coming-from-signac.md lists the few differences.
"""

from . import errors
from .errors import (
    AmbiguousIdError,
    CorruptFileError,
    DestinationExistsError,
    FilterError,
    InvalidStatepointError,
    JobCorruptedError,
    JobNotFoundError,
    JobsCorruptedError,
    ProjectNotFoundError,
    SuiteError,
    WorkspaceError,
)
from .h5store import H5Store, H5StoreManager
from .job import Job
from .project import Project, TemporaryProject, get_job, get_project, init_project
from .statepoint import calc_id
from .synced import (
    JSONDict,
    buffered,
    get_buffer_capacity,
    get_current_buffer_size,
    is_buffered,
    set_buffer_capacity,
)

__version__ = "0.1.0"


def diff_jobs(*jobs):
    """signac's ``diff_jobs``: ``{job id: {key: value}}`` of the state point keys whose values
    are not the same for all ``jobs`` (nested keys as nested dicts; empty for fewer than two
    jobs). :func:`suite.diff.compare_jobs` gives suite's richer :class:`~suite.diff.JobsDiff`."""
    from .diff import diff_jobs as _diff_jobs

    return _diff_jobs(*jobs)


def __getattr__(name):
    # signac.sync is a module in signac; here it is loaded on first use (the core must not
    # import the sync engine), other signac names suite lacks raise with their alternative
    if name == "sync":
        from . import signac_sync

        return signac_sync
    if name == "Remote":  # loaded on first use: it pulls in the workflow engine
        from .remote import Remote

        return Remote
    from .signac_compat import module_getattr

    return module_getattr(name)


__all__ = [
    "AmbiguousIdError", "CorruptFileError", "DestinationExistsError", "FilterError",
    "H5Store", "H5StoreManager", "InvalidStatepointError", "JSONDict", "Job",
    "JobCorruptedError", "JobNotFoundError", "JobsCorruptedError", "Project",
    "ProjectNotFoundError", "SuiteError", "TemporaryProject", "WorkspaceError", "buffered",
    "calc_id", "diff_jobs", "errors", "get_buffer_capacity", "get_current_buffer_size",
    "get_job", "get_project", "init_project", "is_buffered", "set_buffer_capacity",
    "__version__",
]
