"""suite: data management for computational science.

Jobs live in a project's workspace, addressed by their state point; suite reads and writes the
signac 2 layout in place. The guide is in docs/ of the repository.
"""

from .errors import (
    AmbiguousIdError,
    CorruptFileError,
    DestinationExistsError,
    FilterError,
    InvalidStatepointError,
    JobCorruptedError,
    JobNotFoundError,
    ProjectNotFoundError,
    SuiteError,
)
from .job import Job
from .project import Project, get_job, get_project, init_project
from .statepoint import calc_id
from .synced import buffered

__version__ = "0.1.0"


def diff_jobs(*jobs, document=False):
    """Differences between the state points (or documents) of ``jobs``; see :mod:`suite.diff`."""
    from .diff import diff_jobs as _diff_jobs

    return _diff_jobs(*jobs, document=document)


__all__ = [
    "AmbiguousIdError", "CorruptFileError", "DestinationExistsError", "FilterError",
    "InvalidStatepointError", "Job", "JobCorruptedError", "JobNotFoundError", "Project",
    "ProjectNotFoundError", "SuiteError", "buffered", "calc_id", "diff_jobs", "get_job",
    "get_project", "init_project", "__version__",
]
