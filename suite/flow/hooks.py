"""signac-flow's hook classes a project.py installs: ``TrackOperations``.

``from flow.hooks import TrackOperations`` becomes ``from suite.flow.hooks import
TrackOperations``; it installs itself with ``install_operation_hooks(Project)`` (a decorator
of one operation) or ``install_project_hooks(project)`` (every operation), and each start,
success and failure of an operation appends one JSON line to a file in the job's directory,
with the fields signac-flow 0.29.1 writes (see :class:`TrackOperations`). suite's own
provenance log (``suite_flow_log.jsonl``) is written either way.
"""

import datetime
import json

try:  # signac-flow's rule: git metadata only when GitPython can be imported
    import git as gitpython
except ImportError:
    gitpython = None

#: signac-flow's default log file name (in the job's directory)
DEFAULT_LOG = "signac_execution_history.log"


class TrackOperations:
    """Append a JSON line per operation start (``stage`` "prior"), success and failure
    (``stage`` "after", ``error`` the error's text) to ``log_filename`` in the job's directory.

    Each line holds ``stage``, ``error``, ``time`` (UTC, ISO 8601), ``project`` (``path``,
    ``schema_version`` and, when GitPython is installed, ``git``: ``commit_id`` and
    ``dirty``), ``operation`` (its name), ``job_id`` and ``_schema_version`` ("1"), as
    signac-flow 0.29.1 writes them; :meth:`read_log` reads them back.

    Parameters
    ----------
    log_filename : str, optional
        The file in each job's directory (default ``signac_execution_history.log``).
    strict_git : bool, optional
        Require GitPython and a clean git repository at the project's root (default True).

    Raises
    ------
    RuntimeError
        ``strict_git`` without GitPython (here); with GitPython, when the hooks run, the
        project's repository has uncommitted changes (``strict_git``), and (as with
        signac-flow) the project directory is not the root of a git repository
        (``git.InvalidGitRepositoryError``).
    """

    def __init__(self, log_filename=DEFAULT_LOG, strict_git=True):
        if strict_git and gitpython is None:
            raise RuntimeError(f"{type(self).__name__}: cannot record the git commit: GitPython "
                               f"is not installed; use {type(self).__name__}(strict_git=False) "
                               "to log without it")
        self.log_filename = log_filename
        self.strict_git = strict_git

    def _record(self, operation, job, stage, error=None):
        project = {"path": job.project.path,
                   "schema_version": job.project.config.get("schema_version")}
        if gitpython is not None:
            repo = gitpython.Repo(job.project.path)
            dirty = repo.is_dirty()
            if dirty and self.strict_git:
                raise RuntimeError(
                    f"{type(self).__name__}: the git repository at {job.project.path} is dirty "
                    "(uncommitted changes): commit them, or use "
                    f"{type(self).__name__}(strict_git=False)")
            project["git"] = {"commit_id": str(repo.commit()), "dirty": dirty}
        return {"stage": stage, "error": None if error is None else str(error),
                "_schema_version": "1",
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "project": project, "operation": operation, "job_id": job.id}

    def _append(self, job, record):
        # one write of one whole line in append mode: lines of concurrent writers never
        # interleave inside a line
        with open(job.fn(self.log_filename), "a") as f:
            f.write(json.dumps(record) + "\n")

    def on_start(self, operation, job):
        """Log that ``operation`` (a name) starts on ``job``."""
        self._append(job, self._record(operation, job, "prior"))

    def on_success(self, operation, job):
        """Log that ``operation`` succeeded on ``job``."""
        self._append(job, self._record(operation, job, "after"))

    def on_exception(self, operation, error, job):
        """Log that ``operation`` failed on ``job`` with ``error``."""
        self._append(job, self._record(operation, job, "after", error))

    def install_operation_hooks(self, op, project_cls=None):
        """Track one operation: ``@track.install_operation_hooks(Project)`` above
        ``@Project.operation``, or ``install_operation_hooks(func, Project)``. Returns the
        decorator, or ``op``."""
        if project_cls is None:
            return lambda func: self.install_operation_hooks(func, op)
        hooks = project_cls.operation_hooks
        for register, hook in ((hooks.on_start, self.on_start),
                               (hooks.on_success, self.on_success),
                               (hooks.on_exception, self.on_exception)):
            register(hook)(op)
        return op

    def install_project_hooks(self, project):
        """Track every operation of ``project`` (a FlowProject instance); returns it."""
        for trigger in ("on_start", "on_success", "on_exception"):
            getattr(project.project_hooks, trigger).append(getattr(self, trigger))
        return project

    @classmethod
    def read_log(cls, job, log_filename=DEFAULT_LOG):
        """The job's log lines, as dicts, oldest first. Raises OSError (FileNotFoundError when
        nothing was logged) and ValueError for a line that is not JSON."""
        with open(job.fn(log_filename)) as f:
            return [json.loads(line) for line in f if line.strip()]
