"""The project: a directory with ``.signac/config`` and a ``workspace/`` of jobs."""

import contextlib
import itertools
import os
import threading
import types

from . import layout
from .errors import (
    AmbiguousIdError,
    IncompatibleSchemaVersion,
    JobNotFoundError,
    JobsCorruptedError,
    ProjectNotFoundError,
    SuiteError,
)
from .job import Job
from .jsonio import write_atomic
from .synced import FileRoot, SyncedDict


def _config_path(path):
    return os.path.join(path, layout.CONFIG_FILE)


def _read_config(path):
    """The ``key = value`` lines of ``.signac/config`` (signac 2 writes no sections)."""
    config = {}
    with open(_config_path(path), encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.partition("=")
            if sep and not key.lstrip().startswith(("#", "[")):
                config[key.strip()] = value.strip().strip("'\"")
    return config


class Project:
    """A suite (and signac 2) project.

    Parameters
    ----------
    path : str
        The project directory: it holds ``.signac/config``.
    """

    #: signac's names of the project's own files
    FN_DOCUMENT = layout.PROJECT_DOCUMENT
    KEY_DATA = os.path.splitext(layout.PROJECT_DATA)[0]
    FN_CACHE = os.path.join(layout.SUITE_DIR, "index.sqlite")
    #: None, or called with a one-line message before long work of the project's index (on
    #: any thread); the CLI sets it on a terminal. Setting it does not open the index.
    on_progress = None

    def __init__(self, path=None):
        path = os.path.abspath("." if path is None else path)
        if not os.path.isfile(_config_path(path)):
            raise ProjectNotFoundError(
                f"no project in {path} (no {layout.CONFIG_FILE}); run 'suite init' there"
            )
        config = _read_config(path)
        version = config.get("schema_version")
        if version is not None and version != str(layout.SCHEMA_VERSION):
            raise IncompatibleSchemaVersion(
                f"{_config_path(path)} has schema_version {version}; suite reads version "
                f"{layout.SCHEMA_VERSION} (migrate it with 'signac migrate')"
            )
        self._path = path
        self._workspace = os.path.join(path, layout.WORKSPACE)
        self._config = types.MappingProxyType(config)
        self._local = threading.local()  # the index per thread: SQLite connections are
        self._doc_root = None             # bound to the thread that made them

    # -- creating and finding projects (classmethods, so subclasses get their own class) --
    @classmethod
    def init_project(cls, path=None):
        """Create a project in ``path`` (default: the current directory), or open the one
        there, and return it as an instance of ``cls``.

        Raises :class:`IncompatibleSchemaVersion` for a project of another schema version, and
        :class:`SuiteError` if ``path`` lies inside the workspace of a project outside every
        job directory (it would be taken for a damaged job). Inside a job directory a project
        is allowed, as in signac: a nested project, part of the job's data.
        """
        path = os.path.abspath("." if path is None else path)
        if not os.path.isfile(_config_path(path)):
            _refuse_inside_workspace(path)
            os.makedirs(os.path.join(path, layout.CONFIG_DIR), exist_ok=True)
            write_atomic(_config_path(path),
                         f"schema_version = {layout.SCHEMA_VERSION}\n".encode())
        os.makedirs(os.path.join(path, layout.WORKSPACE), exist_ok=True)
        return cls(path)

    @classmethod
    def get_project(cls, path=None, search=True, **kwargs):
        """Return the project at ``path`` (default: the current directory) or, with
        ``search``, the nearest one above it.

        Raises :class:`ProjectNotFoundError` (a LookupError) when there is none.
        """
        if kwargs:
            from .signac_compat import unsupported

            unsupported(f"get_project({', '.join(kwargs)}=...)",
                        "signac 2 options of get_project other than path and search")
        start = current = os.path.abspath("." if path is None else path)
        while True:
            if os.path.isfile(_config_path(current)):
                return cls(current)
            parent = os.path.dirname(current)
            if not search or parent == current:
                where = "" if not search else " or any directory above it"
                raise ProjectNotFoundError(
                    f"no project in {start}{where}; run 'suite init'"
                )
            current = parent

    @classmethod
    def get_job(cls, path=None):
        """Return the job whose directory holds ``path`` (default: the current directory),
        in a project of class ``cls``; symbolic links are resolved first.

        Raises :class:`JobNotFoundError` (a LookupError) when ``path`` is in no job.
        """
        start = os.path.abspath("." if path is None else path)
        current = os.path.realpath(start)
        while True:
            if os.path.isfile(os.path.join(current, layout.STATEPOINT)) and layout.is_job_id(
                os.path.basename(current)
            ):
                project = cls.get_project(os.path.dirname(os.path.dirname(current)),
                                          search=False)
                return project.open_job(id=os.path.basename(current))
            parent = os.path.dirname(current)
            if parent == current:
                raise JobNotFoundError(f"{start} is not inside a job directory")
            current = parent

    @contextlib.contextmanager
    def temporary_project(self, dir=None):
        """A context manager: a new project of this class in a temporary directory inside
        ``dir`` (default: this workspace, so both share a file system), deleted on exit.

        Its name carries suite's temporary prefix, so no command takes it for a job.
        """
        if dir is None:
            dir = self._workspace
            os.makedirs(dir, exist_ok=True)
        with TemporaryProject(type(self), prefix=layout.TMP_PREFIX + "project-", dir=dir) as p:
            yield p

    def __getstate__(self):
        # the index holds an SQLite connection: a copy or another process opens its own
        state = dict(self.__dict__)
        del state["_local"]
        state["_doc_root"] = None
        state["_config"] = dict(self._config)
        return state

    def __setstate__(self, state):
        state["_config"] = types.MappingProxyType(state["_config"])
        self.__dict__.update(state)
        self._local = threading.local()

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
        """True if ``name`` is a file in the project directory."""
        return os.path.isfile(self.fn(name))

    @property
    def config(self):
        """The settings of ``.signac/config`` (read-only: suite changes no configuration)."""
        return self._config

    def __str__(self):
        return self._path

    def __repr__(self):
        return f"{type(self).__name__}.get_project({self._path!r})"

    def _repr_html_(self):
        from .html import project_html

        return project_html(self)

    def __eq__(self, other):
        return isinstance(other, Project) and other._path == self._path

    def __hash__(self):
        return hash(self._path)

    @property
    def index(self):
        """The project's :class:`suite.index.Index` (a rebuildable cache)."""
        index = getattr(self._local, "index", None)
        if index is None:
            from .index import Index

            index = self._local.index = Index(self)
        return index

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

    def find_jobs(self, filter=None, *, skip_unreadable=False):
        """Return a :class:`suite.cursor.JobsCursor` over the jobs matching ``filter``.

        Evaluating it (iterating, ``len``, ``ids()``, ...) raises :class:`WorkspaceError`
        when the workspace cannot be read, and with a filter
        :class:`~suite.errors.CorruptStatepointError` (a ``JobsCorruptedError``, as signac)
        when a job's state point file cannot be read, naming every such job in ``job_ids``:
        the filter cannot tell whether it matches. ``skip_unreadable=True`` leaves those
        jobs out instead, for a caller that names them itself (``self.index.unreadable()``).
        """
        from .cursor import JobsCursor

        return JobsCursor(self, filter, skip_unreadable)

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

    def _ids(self):
        try:
            return [n for n in os.listdir(self._workspace) if layout.is_job_id(n)]
        except FileNotFoundError:
            return []

    def min_len_unique_id(self):
        """The shortest length of id prefixes that tell all jobs apart."""
        ids = sorted(self._ids())
        if len(ids) < 2:
            return 0 if not ids else 1
        longest = max(len(os.path.commonprefix(pair)) for pair in itertools.pairwise(ids))
        return longest + 1

    def get_neighbors(self, ignore=()):
        """``{job id: {key: {value: neighbor id}}}``: for each job and each key that varies,
        the jobs differing from it only in that key's previous or next value; see
        :func:`suite.neighbors.get_neighbors` (``ignore``: keys left out of the comparison)."""
        from .neighbors import get_neighbors

        return get_neighbors(self, ignore)

    def groupby(self, key=None, default=None):
        """Group all jobs by state point (or ``doc.``) key(s); see :meth:`JobsCursor.groupby`."""
        return self.find_jobs().groupby(key, default)

    def to_dataframe(self, *args, **kwargs):
        """A pandas DataFrame of all jobs (needs the ``pandas`` extra)."""
        return self.find_jobs().to_dataframe(*args, **kwargs)

    def detect_schema(self, exclude_const=False, subset=None):
        """The state point schema: every dotted key with the set of values per type."""
        from .schema import detect_schema

        return detect_schema(self, exclude_const=exclude_const, subset=subset)

    def check_report(self, repair=False, progress=None):
        """Report damaged jobs: a :class:`suite.check.CheckReport` (see
        :func:`suite.check.check_project`); ``suite check`` prints it."""
        from .check import check_project

        return check_project(self, repair=repair, progress=progress)

    def check(self):
        """Verify that every job's state point file is readable and hashes to its id.

        Raises :class:`JobsCorruptedError` listing the damaged jobs (as signac does);
        :meth:`check_report` gives suite's full report instead.
        """
        bad = self.check_report().corrupted_ids()
        if bad:
            raise JobsCorruptedError(bad)

    def repair(self, job_ids=None):
        """Repair the workspace: move jobs whose directory name is not the hash of their
        state point to their correct id, and rewrite missing or corrupt state point files from
        the index (when it knows that job's state point and it hashes to the id).

        ``job_ids`` limits the rewriting to those jobs. Raises :class:`JobsCorruptedError` for
        what could not be repaired.
        """
        from .check import check_project
        from .statepoint import canonical

        known = self.index.statepoints()  # read before the check touches anything
        report = check_project(self, repair=True)
        wanted = None if job_ids is None else {str(i) for i in job_ids}
        left = []
        for job_id in report.corrupted_ids():
            if wanted is not None and job_id not in wanted:
                continue
            sp = known.get(job_id)
            text, real = canonical(sp) if sp is not None else (None, None)
            if real != job_id:
                left.append(job_id)
                continue
            write_atomic(os.path.join(self._workspace, job_id, layout.STATEPOINT), text)
        if left:
            raise JobsCorruptedError(left)

    def update_cache(self):
        """Bring the index (suite's rebuildable cache) up to date; signac's cache is not used."""
        self.index.refresh(documents=True)

    def clone(self, job, copytree=None):
        """Copy ``job`` (of another project) into this project and return the copy.

        Raises :class:`DestinationExistsError` when the job exists here.
        """
        return job.clone(self, copytree=copytree)

    # -- project document and data ---------------------------------------------------------
    @property
    def doc(self) -> SyncedDict:
        """The project document (``signac_project_document.json``)."""
        if self._doc_root is None:
            self._doc_root = FileRoot(self.fn(layout.PROJECT_DOCUMENT), None, what="document")
        return SyncedDict(self._doc_root)

    @doc.setter
    def doc(self, new):
        self.doc.reset(new)

    document = doc

    @property
    def data(self):
        """The project's HDF5 store (``signac_data.h5`` in the project directory); assigning a
        mapping replaces its content."""
        from .h5store import H5Store

        return H5Store(self.fn(layout.PROJECT_DATA))

    @data.setter
    def data(self, new):
        self.stores[self.KEY_DATA] = new

    @property
    def stores(self):
        """The project's HDF5 stores: ``project.stores["name"]`` is ``name.h5``."""
        from .h5store import H5StoreManager

        return H5StoreManager(self._path)

    # -- capabilities built on the core (imported on use: the core depends on none) ------
    def export_to(self, target, path=None, copytree=None, **kwargs):
        """Export all jobs to ``target`` (a directory, .tar[.gz|.bz2|.xz|.zst] or .zip) and
        return signac's mapping ``{job directory: exported path}``; see
        :func:`export_jobs` for the jobs of a cursor and :func:`archive.export_jobs` for
        suite's options (``schema=``, ``format=``, ``force=``; passed through) and report.

        ``path`` is signac's path string (``'a/{a}/{{auto}}'``, translated by
        :mod:`suite.signac_paths`), ``False`` for job ids, or None for the automatic schema.
        ``copytree=os.replace`` (or ``shutil.move``) moves the jobs; other functions raise
        :class:`UnsupportedError`. Duplicate paths raise ``SignacPathError`` (a RuntimeError).
        """
        return export_jobs(self, list(self), target, path, copytree, **kwargs)

    def import_from(self, origin=None, schema=None, sync=None, copytree=None, **kwargs):
        """Import jobs from ``origin`` (default: the current directory: a directory, tar or
        zip archive) and return ``{job id: job directory}`` of the jobs imported (signac maps
        source paths instead). ``schema`` reads state points from paths where there are no
        state point files: a signac string such as ``'a/{a:int}'`` or a suite schema.
        ``sync`` and ``copytree`` are not supported (:class:`UnsupportedError`); see
        :func:`archive.import_jobs` for suite's options and report.
        """
        from archive import import_jobs

        from .signac_compat import unsupported

        if sync is not None or copytree is not None:
            unsupported("import_from(sync=..., copytree=...)",
                        "import into project.temporary_project() and then project.sync(it)")
        if callable(schema):
            unsupported("a function as import_from's schema",
                        "a path schema string such as 'a/{a:int}/b/{b}'")
        if isinstance(schema, str):
            schema = schema.replace(": ", ":").replace("{job.sp.", "{")
        origin = os.getcwd() if origin is None else origin
        result = import_jobs(self, origin, schema=schema, **kwargs)
        return {i: os.path.join(self._workspace, i) for i in result.imported}

    def create_linked_view(self, prefix=None, job_ids=None, path=None):
        """signac's linked view on suite's views (:func:`suite.views.create_view`): under
        ``prefix`` (default ``view`` in the project directory), one directory per job laid
        out by ``path`` (see :meth:`export_to`), holding a link ``job`` to the job directory.
        Re-running updates the view in place. Returns ``{job directory: view directory}``.
        Raises JobsCorruptedError (CorruptStatepointError) for a job whose state point cannot
        be read, as signac does, before anything is linked.
        """
        from .pathschema import PathSchema
        from .signac_paths import check, schema_text
        from .views import create_view

        ids = sorted(self._ids() if job_ids is None else {str(i) for i in job_ids})
        sps = self.index.statepoints(ids)
        damaged = set(self.index.unreadable())
        for job_id in ids:
            if job_id not in sps and job_id in damaged:
                self.open_job(id=job_id).statepoint()  # raises, naming the job and the file
        schema = PathSchema.parse(schema_text(path, sps, "path") + "/job")
        paths = check(schema, sps)
        prefix = os.path.abspath(prefix if prefix is not None else self.fn("view"))
        create_view(self, prefix, schema=str(schema), jobs=ids)
        return {os.path.join(self._workspace, i): os.path.dirname(os.path.join(prefix, p))
                for i, p in paths.items()}

    def create_view(self, prefix=None, **kwargs):
        """Create or update a linked view (default prefix: ``view`` in the project directory);
        see :func:`suite.views.create_view`."""
        from .views import create_view

        return create_view(self, prefix, **kwargs)

    def sync(self, other, strategy=None, exclude=None, doc_sync=None, selection=None,
             **kwargs):
        """signac's ``Project.sync``: copy the jobs (and changes) of the project ``other`` into
        this one; see :func:`suite.signac_sync.sync_projects` (suite's own sync between
        machines is ``suite sync``, :mod:`sync`)."""
        from .signac_sync import sync_projects

        return sync_projects(other, self, strategy=strategy, exclude=exclude,
                             doc_sync=doc_sync, selection=selection, **kwargs)


def export_jobs(project, jobs, target, path=None, copytree=None, **kwargs):
    """Export ``jobs`` of ``project`` the signac way (see :meth:`Project.export_to`)."""
    import shutil

    from archive import export_jobs as _export

    from .pathschema import PathSchema
    from .signac_compat import unsupported
    from .signac_paths import check, schema_text

    if copytree is not None and copytree not in (os.replace, os.rename, shutil.move):
        unsupported("export_to(copytree=<function>)",
                    "copytree=os.replace to move the jobs, or no copytree to copy them")
    if copytree is not None:
        kwargs["move"] = True
    if "schema" in kwargs:
        text = kwargs.pop("schema")
        sps = {}
    else:
        sps = project.index.statepoints([j.id for j in jobs])
        text = schema_text(path, sps, "path")
    schema = PathSchema.parse(text)
    paths = check(schema, sps) if sps else {}
    target = os.path.abspath(os.fspath(target))
    _export(project, target, jobs=jobs, schema=str(schema), **kwargs)
    return {j.path: os.path.join(target, paths[j.id]) for j in jobs if j.id in paths}


def _refuse_inside_workspace(path):
    """Raise SuiteError if ``path`` lies in a project's workspace outside every job directory
    (it would be taken for a damaged job); a ``stat`` or two per directory up to the first
    job or workspace. Inside a job it is allowed: signac's nested project, the job's data."""
    current, child = os.path.realpath(path), None
    while True:
        if layout.is_job_id(os.path.basename(current)) and os.path.isfile(
                os.path.join(current, layout.STATEPOINT)):
            return
        parent = os.path.dirname(current)
        if parent == current:
            return
        if os.path.basename(current) == layout.WORKSPACE and os.path.isfile(
                _config_path(parent)):
            if child is not None and os.path.basename(child).startswith(layout.TMP_PREFIX):
                return  # a temporary project (temporary_project()): sync and export skip it
            raise SuiteError(f"{path} is inside the workspace of the project in {parent}; "
                             "create the project somewhere else")
        current, child = parent, current


def init_project(path=None):
    """Create a project in ``path`` (or return the one there) and return it; see
    :meth:`Project.init_project`."""
    return Project.init_project(path)


def get_project(path=None, search=True, **kwargs):
    """Return the project at ``path`` or the nearest one above it; see
    :meth:`Project.get_project`."""
    return Project.get_project(path, search, **kwargs)


def get_job(path=None):
    """Return the job whose directory contains ``path``; see :meth:`Project.get_job`."""
    return Project.get_job(path)


@contextlib.contextmanager
def TemporaryProject(cls=None, **kwargs):  # noqa: N802 (signac's name)
    """A context manager: a new project (of class ``cls``, default :class:`Project`) in a
    temporary directory, deleted on exit. ``kwargs`` go to ``tempfile.TemporaryDirectory``."""
    import tempfile

    with tempfile.TemporaryDirectory(**kwargs) as tmp:
        yield (cls or Project).init_project(tmp)
