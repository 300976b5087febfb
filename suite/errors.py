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


class AmbiguousIdError(SuiteError, LookupError):
    """An id prefix matches more than one job."""


class InvalidStatepointError(SuiteError, ValueError):
    """A state point (or document) value or key that cannot be stored as JSON."""


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


class DestinationExistsError(SuiteError, FileExistsError):
    """A job (or file) already exists where suite would put another."""


class FilterError(SuiteError, ValueError):
    """A filter with an unknown operator or a value of the wrong type."""


class FlowDefinitionError(SuiteError, ValueError):
    """A workflow definition that cannot work (signac-flow's FlowProjectDefinitionError)."""


class OperationFailedError(SuiteError):
    """An operation raised or exited non-zero during ``FlowProject.run`` (signac-flow's
    UserOperationError); its traceback was printed and kept in the provenance record."""
