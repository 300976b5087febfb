"""Compact HTML tables for Jupyter (``_repr_html_``) of projects, jobs, cursors and schemas.

Every value goes through :func:`html.escape`: state points are user data. Tables stop after
:data:`MAX_ROWS` jobs so a notebook cell of a 100,000-job project stays small.
"""

import html
import json

MAX_ROWS = 20


def _cell(value):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"<td>{html.escape(text)}</td>"


def _flat(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def jobs_table(project, ids):
    """A table of the jobs ``ids``: one row per job, one column per state point key."""
    shown = ids[:MAX_ROWS]
    sps = project.index.statepoints(shown)
    rows = {i: dict(_flat(sps.get(i, {}))) for i in shown}
    keys = sorted({k for row in rows.values() for k in row})
    head = "".join(f"<th>{html.escape(k)}</th>" for k in ["id", *keys])
    body = "".join(
        "<tr>" + _cell(i) + "".join(_cell(rows[i][k]) if k in rows[i] else "<td></td>"
                                    for k in keys) + "</tr>"
        for i in shown)
    more = (f"<p>... {len(ids) - len(shown)} more jobs</p>" if len(ids) > len(shown) else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def project_html(project):
    ids = project.find_jobs().ids()
    return (f"<p><strong>Project:</strong> {html.escape(project.path)}<br>"
            f"<strong>Workspace:</strong> {html.escape(project.workspace)}<br>"
            f"<strong>Size:</strong> {len(ids)}</p>" + jobs_table(project, ids))


def cursor_html(cursor):
    ids = cursor.ids()
    return (f"<p><strong>Filter:</strong> {html.escape(json.dumps(cursor.filter))}<br>"
            f"<strong>Jobs:</strong> {len(ids)}</p>" + jobs_table(cursor.project, ids))


def job_html(job):
    rows = "".join(f"<tr><th>{html.escape(k)}</th>{_cell(v)}</tr>"
                   for k, v in _flat(job.sp()))
    return (f"<p><strong>Job:</strong> {html.escape(job.id)}<br>"
            f"<strong>Path:</strong> {html.escape(job.path)}</p><table>{rows}</table>")


def schema_html(schema):
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(text)}</td></tr>"
        for key, text in schema.format_lines())
    return f"<table><thead><tr><th>key</th><th>values</th></tr></thead><tbody>{rows}</tbody></table>"
