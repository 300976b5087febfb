"""File and directory names of the signac-2 on-disk layout, and suite's own additions.

The names are fixed by signac 2 (schema_version 2): a project made by one tool opens in the other.
"""

import os

CONFIG_DIR = ".signac"
CONFIG_FILE = ".signac/config"
SCHEMA_VERSION = 2
WORKSPACE = "workspace"
PROJECT_DOCUMENT = "signac_project_document.json"
PROJECT_DATA = "signac_data.h5"
STATEPOINT = "signac_statepoint.json"
DOCUMENT = "signac_job_document.json"
#: suite's own: the append-only provenance log of workflow executions in each job
FLOW_LOG = "suite_flow_log.jsonl"
DATA = "signac_data.h5"

#: suite's own directory: caches (index) and records (sync state). Never the source of truth.
SUITE_DIR = ".suite"
#: in the name of the copy `suite sync --keep-both` makes of a file changed on both sides:
#: NAME + CONFLICT_COPY + the other side's label
CONFLICT_COPY = ".conflict-"
#: the book of submissions by scheduler id (suite.flow.book), in the project
SUBMISSIONS = os.path.join(SUITE_DIR, "flow", "submissions.json")
#: submissions recorded since the book was last written, one JSON line each (suite.flow.book)
SUBMISSIONS_JOURNAL = os.path.join(SUITE_DIR, "flow", "submissions.journal")
#: when each other copy's own word on its submissions was last taken (suite.flow.book)
SUBMISSIONS_SEEN = os.path.join(SUITE_DIR, "flow", "seen.json")

#: Prefix of temporary entries suite creates (staged jobs in the workspace, files being
#: written inside jobs); never a job id, never synced or exported.
TMP_PREFIX = ".suite-tmp-"


def temp_path(path: str) -> str:
    """A unique temporary name beside ``path``, recognised by :func:`is_temp`."""
    directory, name = os.path.split(os.fspath(path))
    return os.path.join(directory, f"{TMP_PREFIX}{name}.{os.getpid()}.{os.urandom(4).hex()}")


def is_temp(name: str) -> bool:
    """Return True for a temporary file or directory of suite's (a write or transfer in
    progress, or the leftover of an interrupted one): never user data, never listed."""
    return TMP_PREFIX in name


def is_job_id(name: str) -> bool:
    """Return True if ``name`` has the form of a job id (32 lowercase hex digits)."""
    # not int(name, 16): it takes signs, spaces, "0x" and "_"
    return len(name) == 32 and not name.strip(_HEX)


_HEX = "0123456789abcdef"


def has_submissions(path):
    """Whether the project copy at ``path`` has a submission book or has heard of other
    copies' books: a stat or two, without importing suite.flow (most never submit)."""
    return any(os.path.exists(os.path.join(path, rel))
               for rel in (SUBMISSIONS, SUBMISSIONS_JOURNAL, SUBMISSIONS_SEEN))
