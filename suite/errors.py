"""Exceptions raised by suite. Every error a user can cause derives from :class:`SuiteError`.

The CLI prints ``str(error)`` as one line and exits non-zero, so messages name the file, the job
and what to do.
"""


class SuiteError(Exception):
    """Base class of all errors suite raises on purpose."""


class ProjectNotFoundError(SuiteError, LookupError):
    """No project at or above a directory."""


class JobNotFoundError(SuiteError, KeyError):
    """No job with the given id (or id prefix) in the workspace."""

    def __str__(self):  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class JobNotInitializedError(JobNotFoundError, RuntimeError):
    """An operation that needs the job's directory (move) on a job not initialised yet (a
    RuntimeError too, as signac raises)."""


class AmbiguousIdError(SuiteError, LookupError):
    """An id prefix matches more than one job."""


class InvalidStatepointError(SuiteError, ValueError):
    """A state point (or document) value or key that cannot be stored as JSON."""


class InvalidKeyError(InvalidStatepointError):
    """A key with ``.`` or a leading ``$`` (signac's name)."""


class KeyTypeError(InvalidStatepointError, TypeError):
    """A key that is not a string (signac's name; also a TypeError, as in signac)."""


class ValueTypeError(InvalidStatepointError, TypeError):
    """A value JSON cannot hold (an object, NaN); also a TypeError, as signac raises."""


class CorruptFileError(SuiteError, ValueError):
    """A JSON file that cannot be parsed (empty, truncated, not JSON)."""

    def __init__(self, path, reason, job_id=None):
        self.path = path
        self.reason = reason
        self.job_id = job_id
        where = f"job {job_id}: " if job_id else ""
        super().__init__(
            f"{where}corrupt file {path}: {reason} "
            "(fix or restore the file; 'suite check' lists all such jobs)"
        )


class JobCorruptedError(SuiteError):
    """A job directory whose state point is missing, unreadable or does not match its id."""


class JobsCorruptedError(JobCorruptedError, RuntimeError):
    """signac's name: jobs whose state point files are missing, corrupt or misnamed.

    ``job_ids`` lists them. Raised by ``job.init()``, reading a job's state point and
    ``project.check()``.
    """

    def __init__(self, message, job_ids=()):
        if not isinstance(message, str):  # signac's signature: the list of ids
            job_ids = list(message)
            message = (f"corrupted jobs: {', '.join(job_ids)} "
                       "(run 'suite check' to inspect them, 'suite check --repair' to fix names)")
        super().__init__(message)
        self.job_ids = list(job_ids)


class CorruptStatepointError(JobsCorruptedError, CorruptFileError):
    """A job's state point file that cannot be parsed: signac's :class:`JobsCorruptedError`
    (``job_ids``, as signac raises reading it) and a :class:`CorruptFileError` (``path``,
    ``reason``, ``job_id``)."""

    def __init__(self, path, reason, job_id, others=()):
        # ``others``: more jobs whose state point cannot be read (a query that met several
        # names them all in ``job_ids``); ``path`` and ``reason`` are the first one's
        if others:
            shown = ", ".join(others[:20]) + (", ..." if len(others) > 20 else "")
            reason = f"{reason}; and {len(others)} more job(s) whose state point cannot be read: {shown}"
        CorruptFileError.__init__(self, path, reason, job_id)
        self.job_ids = [job_id, *others]


class DestinationExistsError(SuiteError, FileExistsError, RuntimeError):
    """A job (or file) already exists where suite would put another (a RuntimeError too, as
    in signac). ``destination`` is what exists, when known."""

    def __init__(self, message, destination=None):
        super().__init__(message)
        self.destination = destination if destination is not None else message

    def __str__(self):  # OSError would format a one-argument error differently
        return str(self.args[0]) if self.args else ""


class WorkspaceError(SuiteError, OSError):
    """The workspace directory cannot be read (a dangling link, not a directory, no access);
    ``error`` is the underlying OSError."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class StatepointParsingError(SuiteError, RuntimeError):
    """State points cannot be read back from paths (import without state point files)."""


class IncompatibleSchemaVersion(SuiteError):
    """A project's ``.signac/config`` has a schema version suite does not read."""


class ConfigError(SuiteError, RuntimeError):
    """A project configuration that cannot be read or changed."""


class H5StoreClosedError(SuiteError, RuntimeError):
    """An operation that needs an open HDF5 store on a closed one."""


class H5StoreAlreadyOpenError(SuiteError, OSError):
    """An HDF5 store opened again while it is open."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class SyncConflict(SuiteError, RuntimeError):
    """signac's sync found a difference its strategies do not resolve."""


class FileSyncConflict(SyncConflict):
    """A file differs on both sides; ``filename`` names it."""

    def __init__(self, filename):
        super().__init__(f"file {filename} differs on both sides (choose a strategy)")
        self.filename = filename


class DocumentSyncConflict(SyncConflict):
    """Document keys differ on both sides; ``keys`` lists them."""

    def __init__(self, keys):
        super().__init__(f"document keys {sorted(keys)} differ (choose a doc_sync strategy)")
        self.keys = keys


class SchemaSyncConflict(SyncConflict):
    """The two projects' state point schemas differ."""

    def __init__(self, schema_src, schema_dst):
        super().__init__("the projects' state point schemas differ (pass check_schema=False)")
        self.schema_src = schema_src
        self.schema_dst = schema_dst


class BufferedError(SuiteError, RuntimeError):
    """Files changed by someone else during a ``buffered()`` block; they were not overwritten.
    ``files`` maps each path to the content the block would have written."""

    def __init__(self, files):
        self.files = files
        super().__init__(
            f"{', '.join(sorted(files))} changed on disk during a buffered block; kept the "
            "file as it is (the buffered content is in this error's .files)")


class UnsupportedError(SuiteError, NotImplementedError, AttributeError):
    """A signac name or option suite does not provide; the message names the alternative.
    (An AttributeError too, so ``hasattr`` and ``getattr(..., default)`` still work.)"""


Error = SuiteError  # signac's name of the base class


class FilterError(SuiteError, ValueError):
    """A filter with an unknown operator or a value of the wrong type."""


class FlowDefinitionError(SuiteError, ValueError):
    """A workflow definition that cannot work (signac-flow's FlowProjectDefinitionError)."""


class OperationFailedError(SuiteError):
    """An operation raised or exited non-zero during ``FlowProject.run`` (signac-flow's
    UserOperationError); its traceback was printed and kept in the provenance record."""
