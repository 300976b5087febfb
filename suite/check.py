"""``suite check``: find (and optionally repair) damaged jobs.

Reported: job directories whose state point file is missing, empty or not JSON; documents that
are not JSON objects or are nested more than ``statepoint.MAX_DEPTH`` levels deep;
directories whose name is not the hash of their state point; temporary files (``.suite-tmp-``)
left by interrupted operations, in the workspace and inside jobs, and temporary archives of
interrupted exports in the project directory; files and directories inside jobs that this
process cannot read (sync and export skip them). One damaged job never stops the check of the
others. Repair only moves a misnamed job to its correct id (when that id is free); it never
rewrites a file.
"""

import os
import stat
from dataclasses import dataclass, field

from . import layout
from .errors import CorruptFileError
from .jsonio import read_json
from .statepoint import calc_id


@dataclass
class Problem:
    """One damaged job."""

    job_id: str
    kind: str  # "statepoint", "document", "misnamed", "stray", "unreadable"
    message: str
    repaired: bool = False


@dataclass
class CheckReport:
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return all(p.repaired for p in self.problems)

    def corrupted_ids(self):
        """Ids of jobs whose state point is missing, unreadable or misnamed (not repaired):
        what signac's ``check`` calls corrupted."""
        return sorted({p.job_id for p in self.problems
                       if p.kind in ("statepoint", "misnamed") and not p.repaired})


def check_project(project, repair=False, progress=None):
    """Check every job of ``project``; return a :class:`CheckReport`. ``progress(done,
    total)`` is called as entries of the workspace are checked."""
    report = CheckReport()
    ws = project.workspace
    for name in sorted(os.listdir(project.path)):
        if layout.is_temp(name):  # a killed export to an archive inside the project
            report.problems.append(Problem(name, "stray", f"{os.path.join(project.path, name)}: "
                                           "temporary archive of an interrupted export (safe to "
                                           "delete unless an export is running)"))
    try:
        names = sorted(os.listdir(ws))
    except FileNotFoundError:
        return report
    for done, name in enumerate(names, 1):
        if progress is not None:
            progress(done, len(names))
        path = os.path.join(ws, name)
        if name.startswith(layout.TMP_PREFIX):
            report.problems.append(Problem(name, "stray", f"{path}: leftover of an interrupted "
                                           "operation (safe to delete)"))
            continue
        if not layout.is_job_id(name):
            continue
        if not os.path.isdir(path):
            report.problems.append(Problem(name, "statepoint", f"{path} is not a directory"))
            continue
        sp_file = os.path.join(path, layout.STATEPOINT)
        try:
            sp = read_json(sp_file, name)
        except FileNotFoundError:
            report.problems.append(Problem(name, "statepoint", f"job {name}: {sp_file} is missing"))
            continue
        except CorruptFileError as exc:
            report.problems.append(Problem(name, "statepoint", str(exc)))
            continue
        except OSError as exc:
            report.problems.append(Problem(name, "statepoint", _unreadable(name, sp_file, exc)))
            continue
        if not isinstance(sp, dict):
            report.problems.append(
                Problem(name, "statepoint", f"job {name}: {sp_file} is not a JSON object"))
            continue
        doc_file = os.path.join(path, layout.DOCUMENT)
        try:
            doc = read_json(doc_file, name)
            if not isinstance(doc, dict):
                report.problems.append(
                    Problem(name, "document", f"job {name}: {doc_file} is not a JSON object"))
        except FileNotFoundError:
            pass
        except CorruptFileError as exc:
            report.problems.append(Problem(name, "document", str(exc)))
        except OSError as exc:
            report.problems.append(Problem(name, "document", _unreadable(name, doc_file, exc)))
        _check_files(name, path, report)
        real = calc_id(sp)
        if real != name:
            problem = Problem(name, "misnamed",
                              f"job {name}: its state point hashes to {real}")
            if repair:
                target = os.path.join(ws, real)
                if os.path.exists(target):
                    problem.message += f"; not repaired: {target} exists"
                else:
                    os.rename(path, target)
                    problem.repaired = True
                    problem.message += f"; moved to {real}"
            else:
                problem.message += " (run 'suite check --repair' to move it)"
            report.problems.append(problem)
    return report


def _unreadable(job_id, path, exc):
    return f"job {job_id}: {path} cannot be read ({exc.strerror or exc}); fix its permissions"


def _check_files(job_id, path, report):
    """Temporary leftovers and unreadable files or directories inside one job."""
    from .jobfiles import readable

    def cannot_list(exc):
        report.problems.append(Problem(job_id, "unreadable",
                                       _unreadable(job_id, exc.filename, exc)))

    for dirpath, dirnames, filenames in os.walk(path, onerror=cannot_list):
        for leftover in sorted(n for n in dirnames + filenames if layout.is_temp(n)):
            report.problems.append(Problem(
                job_id, "stray", f"job {job_id}: {os.path.join(dirpath, leftover)}: temporary "
                "file of an interrupted write (safe to delete unless a write is running)"))
        for name in sorted(filenames):
            if dirpath == path and name in (layout.STATEPOINT, layout.DOCUMENT):
                continue  # reported as state point or document problems
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue  # removed meanwhile
            if stat.S_ISREG(st.st_mode) and not readable(full, st):
                report.problems.append(Problem(job_id, "unreadable", _unreadable(
                    job_id, full, PermissionError(13, "permission denied"))))
