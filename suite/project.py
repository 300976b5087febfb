"""The project: a directory with ``.signac/config`` and a ``workspace/`` of jobs."""

import os

from . import layout
from .errors import (
    AmbiguousIdError,
    JobNotFoundError,
    ProjectNotFoundError,
    SuiteError,
)
from .job import Job
from .jsonio import write_atomic
from .synced import FileRoot, SyncedDict


def _config_path(path):
    return os.path.join(path, layout.CONFIG_FILE)


def _read_schema_version(path):
    version = None
    with open(_config_path(path), encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.partition("=")
            if sep and key.strip() == "schema_version":
                version = value.strip().strip("'\"")
    return version


class Project:
    """A suite (and signac 2) project.

    Parameters
    ----------
    path : str
        The project directory: it holds ``.signac/config``.
    """

    def __init__(self, path="."):
        path = os.path.abspath(path)
        if not os.path.isfile(_config_path(path)):
            raise ProjectNotFoundError(
                f"no project in {path} (no {layout.CONFIG_FILE}); run 'suite init' there"
            )
        version = _read_schema_version(path)
        if version is not None and version != str(layout.SCHEMA_VERSION):
            raise SuiteError(
                f"{_config_path(path)} has schema_version {version}; suite reads version "
                f"{layout.SCHEMA_VERSION} (migrate it with 'signac migrate')"
            )
        self._path = path
        self._workspace = os.path.join(path, layout.WORKSPACE)
        self._index = None
        self._doc_root = None

    # -- paths ------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The project directory."""
        return self._path

    @property
    def workspace(self) -> str:
        """The workspace directory holding one directory per job."""
        return self._workspace

    def fn(self, name):
        """Path of ``name`` inside the project directory."""
        return os.path.join(self._path, name)

    def isfile(self, name):
        return os.path.isfile(self.fn(name))

    def __repr__(self):
        return f"Project({self._path!r})"

    def __eq__(self, other):
        return isinstance(other, Project) and other._path == self._path

    def __hash__(self):
        return hash(self._path)

    @property
    def index(self):
        """The project's :class:`suite.index.Index` (a rebuildable cache)."""
        if self._index is None:
            from .index import Index

            self._index = Index(self)
        return self._index

    # -- jobs -------------------------------------------------------------------------------
    def open_job(self, statepoint=None, id=None):
        """Return the job with ``statepoint``, or with ``id`` (a unique prefix works too).

        Opening by state point does not create anything; call ``job.init()`` for that.
        """
        if (statepoint is None) == (id is None):
            raise ValueError("give either a state point or an id")
        if statepoint is not None:
            return Job(self, statepoint)
        id = str(id).lower()
        if layout.is_job_id(id):
            if not os.path.isdir(os.path.join(self._workspace, id)):
                raise JobNotFoundError(f"no job with id {id} in {self._workspace}")
            return Job(self, id=id)
        return Job(self, id=self._resolve_prefix(id))

    def _resolve_prefix(self, prefix):
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise JobNotFoundError(f"{prefix!r} is not a job id or id prefix")
        try:
            names = [n for n in os.listdir(self._workspace) if n.startswith(prefix)]
        except FileNotFoundError:
            names = []
        names = [n for n in names if layout.is_job_id(n)]
        if not names:
            raise JobNotFoundError(f"no job id starts with {prefix!r} in {self._workspace}")
        if len(names) > 1:
            shown = ", ".join(sorted(names)[:5])
            raise AmbiguousIdError(f"id prefix {prefix!r} matches {len(names)} jobs: {shown}")
        return names[0]

    def find_jobs(self, filter=None):
        """Return a :class:`suite.cursor.JobsCursor` over the jobs matching ``filter``."""
        from .cursor import JobsCursor

        return JobsCursor(self, filter)

    def __iter__(self):
        return iter(self.find_jobs())

    def __len__(self):
        try:
            with os.scandir(self._workspace) as it:
                return sum(1 for e in it if layout.is_job_id(e.name))
        except FileNotFoundError:
            return 0

    def __contains__(self, job):
        job_id = job.id if isinstance(job, Job) else str(job)
        return layout.is_job_id(job_id) and os.path.isdir(os.path.join(self._workspace, job_id))

    def groupby(self, key=None, default=None):
        """Group all jobs by state point (or ``doc.``) key(s); see :meth:`JobsCursor.groupby`."""
        return self.find_jobs().groupby(key, default)

    def to_dataframe(self, **kwargs):
        """A pandas DataFrame of all jobs (needs the ``pandas`` extra)."""
        return self.find_jobs().to_dataframe(**kwargs)

    def detect_schema(self, exclude_const=False, subset=None):
        """The state point schema: every dotted key with the set of values per type."""
        from .schema import detect_schema

        return detect_schema(self, exclude_const=exclude_const, subset=subset)

    def check(self, repair=False, progress=None):
        """Report damaged jobs (see :func:`suite.check.check_project`)."""
        from .check import check_project

        return check_project(self, repair=repair, progress=progress)

    # -- project document and data ---------------------------------------------------------
    @property
    def doc(self) -> SyncedDict:
        """The project document (``signac_project_document.json``)."""
        if self._doc_root is None:
            self._doc_root = FileRoot(self.fn(layout.PROJECT_DOCUMENT), None, what="document")
        return SyncedDict(self._doc_root)

    document = doc

    @property
    def data(self):
        """The project's HDF5 store (``signac_data.h5`` in the project directory)."""
        from .h5store import H5Store

        return H5Store(self.fn(layout.PROJECT_DATA))

    @property
    def stores(self):
        from .h5store import H5StoreManager

        return H5StoreManager(self._path)

    # -- capabilities built on the core (imported on use: the core depends on none) ------
    def export_to(self, target, **kwargs):
        """Export all jobs to ``target``; see :func:`archive.export_jobs`."""
        from archive import export_jobs

        return export_jobs(self, target, **kwargs)

    def import_from(self, origin, **kwargs):
        """Import jobs from ``origin``; see :func:`archive.import_jobs`."""
        from archive import import_jobs

        return import_jobs(self, origin, **kwargs)

    def create_view(self, prefix=None, **kwargs):
        """Create or update a linked view (default prefix: ``view`` in the project directory);
        see :func:`suite.views.create_view`."""
        from .views import create_view

        return create_view(self, prefix, **kwargs)


def init_project(path="."):
    """Create a project in ``path`` (or return the one there) and return it.

    Raises
    ------
    SuiteError
        If ``path`` lies inside the workspace of a project or inside a job directory (a
        project there would be taken for job files, copied and synced with the job).
    """
    path = os.path.abspath(path)
    if not os.path.isfile(_config_path(path)):
        _refuse_inside_workspace(path)
        os.makedirs(os.path.join(path, layout.CONFIG_DIR), exist_ok=True)
        write_atomic(_config_path(path), f"schema_version = {layout.SCHEMA_VERSION}\n".encode())
    os.makedirs(os.path.join(path, layout.WORKSPACE), exist_ok=True)
    return Project(path)


def _refuse_inside_workspace(path):
    """Raise SuiteError if ``path`` lies in a project's workspace or in a job directory
    (one found without its project too); a ``stat`` or two per directory up to the root."""
    current = os.path.realpath(path)
    job = None
    while True:
        if job is None and layout.is_job_id(os.path.basename(current)) and os.path.isfile(
                os.path.join(current, layout.STATEPOINT)):
            job = current
        parent = os.path.dirname(current)
        if parent == current:
            break
        if os.path.basename(current) == layout.WORKSPACE and os.path.isfile(
                _config_path(parent)):
            raise SuiteError(f"{path} is inside the workspace of the project in {parent}; "
                             "create the project somewhere else")
        current = parent
    if job:
        raise SuiteError(f"{path} is inside the job directory {job}; create the project "
                         "somewhere else")


def get_project(path="."):
    """Return the project at ``path`` or the nearest one above it."""
    start = current = os.path.abspath(path)
    while True:
        if os.path.isfile(_config_path(current)):
            return Project(current)
        parent = os.path.dirname(current)
        if parent == current:
            raise ProjectNotFoundError(
                f"no project in {start} or any directory above it; run 'suite init'"
            )
        current = parent


def get_job(path="."):
    """Return the job whose directory contains ``path``."""
    current = os.path.abspath(path)
    while True:
        if os.path.isfile(os.path.join(current, layout.STATEPOINT)) and layout.is_job_id(
            os.path.basename(current)
        ):
            project = get_project(os.path.dirname(os.path.dirname(current)))
            return project.open_job(id=os.path.basename(current))
        parent = os.path.dirname(current)
        if parent == current:
            raise JobNotFoundError(f"{os.path.abspath(path)} is not inside a job directory")
        current = parent
