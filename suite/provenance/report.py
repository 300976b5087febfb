"""Records as text: one line each, Sumatra's ``smt list --long`` style blocks, CSV."""

import csv
import io

from suite.terminal import visible

from .logs import FIELDS

#: CSV columns: every field but the long ones (traceback; files as job/path list)
CSV_FIELDS = tuple(f for f in FIELDS if f != "traceback")


def _when(record):
    started = record.started
    return started.strftime("%Y-%m-%d %H:%M:%S") if started else "-"


def _jobs(record):
    jobs = record.jobs
    return jobs[0][:8] + (f"+{len(jobs) - 1}" if len(jobs) > 1 else "") if jobs else "-"


def format_short(records):
    """One line per record: id, start, operation, status, job(s), duration, tags, reason."""
    lines = []
    for r in records:
        duration = f"{r.duration:.2f}s" if r.duration is not None else "-"
        extra = (" [" + ",".join(r.tags) + "]" if r.tags else "") + (
            f" {r.reason}" if r.reason else "")
        # fields come from logs (synced, hand-edited): shown escaped, one line each
        lines.append(visible(f"{r.id[:12]}  {_when(r)}  {r.operation or '-'}  "
                             f"{r.status or '-'}  {_jobs(r)}  {duration}{extra}"))
    return "\n".join(lines)


def format_long(records, environments=None):
    """A block per record; ``environments`` maps environment hashes to their dicts (to show
    the Python version and package count)."""
    environments = environments or {}
    blocks = []
    for r in records:
        code = r.git_commit or "(not a git repository)"
        if r.git_dirty:
            code += f" (dirty; diff {r.diff})" if r.diff else " (dirty)"
        env = r.environment or "-"
        known = environments.get(r.environment)
        if known:
            env += (f" (Python {known.get('python')}, {len(known.get('packages', {}))} packages,"
                    f" {known.get('platform')})")
        rows = [("Record", r.id), ("Operation", r.operation), ("Jobs", ", ".join(r.jobs)),
                ("Status", r.status), ("Started", _when(r)),
                ("Duration", f"{r.duration:.3f} s" if r.duration is not None else None),
                ("Host", r.host), ("User", r.user), ("Scheduler job", r.scheduler_job_id),
                ("suite", r.suite_version), ("Code", code), ("Environment", env),
                ("Reason", r.reason), ("Tags", ", ".join(r.tags) or None), ("Error", r.error)]
        lines = [f"{k:<14}: {visible(v)}" for k, v in rows if v not in (None, "")]
        if r.files:
            lines.append(f"{'Outputs':<14}:")
            for f in r.files:
                where = visible(f"{f['job'][:8]}/{f['path']}")
                lines.append(f"    {where}  removed" if f.get("removed") else
                             f"    {where}  {f.get('size')} B  sha256 {(f.get('sha256') or '-')[:16]}")
        if r.traceback:
            lines.append(f"{'Traceback':<14}:")
            lines.extend("    " + visible(t) for t in r.traceback.rstrip().splitlines())
        blocks.append("\n".join(lines))
    return ("\n" + "-" * 60 + "\n").join(blocks)


def to_csv(records):
    """The records as CSV text (tags and jobs joined by ``;``, files as ``job/path``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for r in records:
        row = []
        for name in CSV_FIELDS:
            value = getattr(r, name)
            if name == "files":
                value = ";".join(f"{f['job']}/{f['path']}" for f in value)
            elif isinstance(value, list):
                value = ";".join(map(str, value))
            row.append("" if value is None else value)
        writer.writerow(row)
    return out.getvalue()
