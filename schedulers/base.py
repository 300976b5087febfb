"""The scheduler interface: render a script from a template, submit it, query, cancel.

A scheduler module supplies its commands, a state table and a template; this base class owns
the cycle. Templates are jinja2 files in ``schedulers/templates/``; a project's own templates in
``<project>/templates/`` take precedence and may extend the shipped ones.
"""

import os
import subprocess
from dataclasses import dataclass, field

from suite.errors import SuiteError
from suite.jsonio import write_atomic

#: directives the templates write as numbers (every other value is quoted with ``|shq``)
NUMERIC = ("np", "ngpu", "memory", "walltime", "omp_num_threads")

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


class SchedulerError(SuiteError):
    """A scheduler command failed or answered something unexpected."""


@dataclass
class Submission:
    """One script to submit: its commands and the combined resource directives."""

    name: str
    commands: list
    directives: dict = field(default_factory=dict)
    hold: bool = False
    after: list = field(default_factory=list)
    extra_flags: list = field(default_factory=list)
    pairs: list = field(default_factory=list)  # (operation, job id)
    #: a job array: one command list per task (``commands`` is then unused); task k runs
    #: ``tasks[k]``
    tasks: list = field(default_factory=list)
    #: (operation, job id) pairs per task, for the submission record
    task_pairs: list = field(default_factory=list)


class Scheduler:
    """Base class; subclasses set ``name``, ``submit_cmd``, ``states`` and the methods below."""

    name = "base"
    #: template file name; None means ``<name>.sh.j2``
    template = None
    #: the environment variable holding a job array task's index, or None: no arrays
    array_variable = None
    #: the index of an array's first task, and what joins array and task in a task's id
    array_base, array_separator = 0, "_"

    def task_id(self, sched_id, k):
        """The scheduler's id of the ``k``-th task (from 0) of the array ``sched_id``."""
        if not self.array_variable:
            raise SchedulerError(f"{self.name}: job arrays are not supported (use slurm or "
                                 "sge, or submit without --array)")
        return f"{sched_id}{self.array_separator}{k + self.array_base}"
    #: scheduler state string -> one of queued, held, running, completed, failed, cancelled
    states = {}

    def render(self, submission, project_path=None, template=None, context=None, filters=None):
        """The batch script for ``submission`` (user templates in ``project/templates``):
        from ``template`` (a name) if given, with ``context`` added to the variables and
        ``filters`` to the filters. Raises
        SchedulerError (one line) for a template that is missing or does not render."""
        import jinja2

        env = _environment(project_path, filters)
        d = {"np": 1, "ngpu": 0, "memory": None, "walltime": None, "omp_num_threads": None,
             **submission.directives}
        # templates write these unquoted (directive lines): they must be numbers
        for key in NUMERIC:
            if d[key] is not None and (isinstance(d[key], bool)
                                       or not isinstance(d[key], (int, float))):
                raise SchedulerError(f"{submission.name}: directive {key!r} must be a number, "
                                     f"not {d[key]!r}")
        name = template or self.template or f"{self.name}.sh.j2"
        try:
            template = env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            where = os.path.join(project_path, "templates") + " or " if project_path else ""
            raise SchedulerError(f"template {exc.name!r} not found in {where}the shipped "
                                 f"templates ({', '.join(sorted(os.listdir(TEMPLATES)))})") \
                from None
        except jinja2.TemplateError as exc:
            raise SchedulerError(f"template {name!r} cannot be read: {exc}") from None
        if submission.tasks:
            self.task_id("", 0)  # refuses arrays where the scheduler has none
        try:
            return template.render(name=submission.name, commands=submission.commands,
                                   directives=d, tasks=submission.tasks,
                                   array_variable=self.array_variable,
                                   array_base=self.array_base,
                                   scheduler_template=f"{self.name}.sh.j2",
                                   **(context or {}))
        except jinja2.TemplateError as exc:  # a template's own mistake: one line, no traceback
            raise SchedulerError(f"template {name!r} does not render: "
                                 f"{type(exc).__name__}: {exc}") from None

    def submit_command(self, script_path, submission):
        raise NotImplementedError

    def parse_submit(self, output):
        raise NotImplementedError

    def submit(self, script, submission, directory):
        """Write ``script`` into ``directory`` and submit it; return the scheduler's id."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{submission.name}.sh")
        # surrogateescape: an operation name's undecodable bytes go back to those bytes
        write_atomic(path, script.encode("utf-8", "surrogateescape"))
        out = run_command(self.submit_command(path, submission))
        return self.parse_submit(out)

    def query(self, ids):
        """``{id: state}`` for ``ids`` in one scheduler call; ids no longer known to the
        scheduler (finished and purged) are "unknown"."""
        raise NotImplementedError

    def cancel(self, ids):
        raise NotImplementedError


#: Jinja environments by the templates and filters they see: building one, and so compiling
#: its templates, for every script was a third of submitting 1,000 operations
_ENVIRONMENTS = {}


def _environment(project_path, filters):
    """The environment rendering with ``project_path``'s templates (which take precedence
    over the shipped ones) and ``filters``; made once while those templates stay as they are."""
    import jinja2

    user = os.path.join(project_path, "templates") if project_path else None
    key = (user, _listing(user), tuple(sorted((k, id(f)) for k, f in (filters or {}).items())))
    env = _ENVIRONMENTS.get(key)
    if env is not None:
        return env
    # a project's templates/slurm.sh.j2 replaces the shipped one and can extend it as
    # "suite/slurm.sh.j2"
    shipped = jinja2.FileSystemLoader(TEMPLATES)
    loaders = [jinja2.FileSystemLoader(user)] if user else []
    loader = jinja2.ChoiceLoader(loaders + [jinja2.PrefixLoader({"suite": shipped}), shipped])
    env = jinja2.Environment(loader=loader,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["hms"] = _hms
    env.filters["hm"] = _hm
    env.filters["shq"] = shq
    env.filters.update(filters or {})
    if len(_ENVIRONMENTS) >= 16:  # a long-lived process (the dashboard) sees many projects
        _ENVIRONMENTS.clear()
    _ENVIRONMENTS[key] = env
    return env


def _listing(directory):
    """Name, size and mtime of each entry of a project's ``templates/``: a template added,
    removed or edited there gives a new environment (Jinja itself notices edits of templates
    it loaded, but not a new file that now takes precedence over a shipped one)."""
    if directory is None:
        return ()
    try:
        with os.scandir(directory) as entries:
            return tuple(sorted((e.name, st.st_size, st.st_mtime_ns)
                                for e in entries for st in (e.stat(),)))
    except (FileNotFoundError, NotADirectoryError):
        return ()


def shq(value):
    """``value`` as one shell word (``shlex.quote`` of its text): the templates' ``|shq``.
    Plain names stay as they are, so directive parsers see what they always saw."""
    import shlex

    return shlex.quote(str(value))


def note_array_state(found, array_id, state):
    """Record ``state`` of one task as that of its array too, unless the array already
    counts as active: an array is active while any of its tasks is."""
    if found.get(array_id) not in ("queued", "held", "running"):
        found[array_id] = state


def run_command(cmd, tolerated=None):
    """What ``cmd`` (an argument list, no shell) printed on stdout.

    Raises SchedulerError when it cannot start, runs over 60 s or exits non-zero — unless
    ``tolerated`` is given and its stderr contains it (e.g. a job id the scheduler has
    purged: what was printed for the others still counts)."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SchedulerError(f"{cmd[0]} failed: {exc}") from None
    if proc.returncode != 0 and (tolerated is None or tolerated not in proc.stderr):
        raise SchedulerError(f"{' '.join(cmd[:2])} failed: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def _hm(hours):
    """Hours (float) as HH:MM (LSF)."""
    minutes = max(1, int(round(float(hours) * 60)))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _hms(hours):
    """Hours (float) as HH:MM:SS."""
    seconds = int(round(float(hours) * 3600))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
