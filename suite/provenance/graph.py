"""The provenance graph of a job: its executions, the jobs each ran on (all of an aggregate's),
and the files each wrote; as JSON, DOT text, or a picture drawn by graphviz's ``dot``."""

import json
import shutil
import subprocess

from suite.errors import SuiteError

from .logs import records


def job_graph(project, job_id):
    """``{"job", "nodes", "edges"}`` for job ``job_id`` (an id or unique prefix). Nodes are
    ``{"id", "kind": "job"|"execution"|"file", "label", ...}``; edges ``{"from", "to", "kind":
    "input"|"wrote"|"removed"}``: every job of an execution is its input (an aggregate's
    execution has several), every file it created or modified its output. Raises
    JobNotFoundError for an unknown job."""
    job = project.open_job(id=job_id)
    job.sp()  # an unknown job raises here, naming the id
    nodes, edges = {}, []

    def node(key, **attrs):
        nodes.setdefault(key, {"id": key, **attrs})

    for r in records(project, [job.id]):
        rec = f"execution:{r.id}"
        node(rec, kind="execution", label=f"{r.operation}\n{r.id[:8]}", operation=r.operation,
             status=r.status, start=r.start, record=r.id)
        for jid in r.jobs:
            node(f"job:{jid}", kind="job", label=jid[:8], job=jid)
            edges.append({"from": f"job:{jid}", "to": rec, "kind": "input"})
        for f in r.files:
            key = f"file:{f['job']}/{f['path']}@{f.get('sha256') or 'removed'}"
            node(key, kind="file", label=f"{f['job'][:8]}/{f['path']}", job=f["job"],
                 path=f["path"], sha256=f.get("sha256"), size=f.get("size"))
            edges.append({"from": rec, "to": key,
                          "kind": "removed" if f.get("removed") else "wrote"})
    node(f"job:{job.id}", kind="job", label=job.id[:8], job=job.id)
    return {"job": job.id, "nodes": list(nodes.values()), "edges": edges}


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


SHAPES = {"job": "box", "execution": "ellipse", "file": "note"}


def to_dot(graph):
    """The graph as DOT text."""
    lines = [f"digraph {_quote('provenance of ' + graph['job'])} {{", "  rankdir=LR;"]
    for n in graph["nodes"]:
        attrs = f"label={_quote(n['label'])}, shape={SHAPES[n['kind']]}"
        if n["kind"] == "execution" and n.get("status") not in (None, "success"):
            attrs += ", color=red"
        if n.get("job") == graph["job"] and n["kind"] == "job":
            attrs += ", style=bold"
        lines.append(f"  {_quote(n['id'])} [{attrs}];")
    for e in graph["edges"]:
        style = ", style=dashed" if e["kind"] == "removed" else ""
        lines.append(f"  {_quote(e['from'])} -> {_quote(e['to'])} [label={_quote(e['kind'])}"
                     f"{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(graph, fmt="dot"):
    """The graph as ``dot`` or ``json`` text, or ``svg``/``png`` bytes drawn by graphviz's
    ``dot``. Raises SuiteError when ``dot`` is not installed or fails."""
    if fmt == "json":
        return json.dumps(graph, indent=2, sort_keys=True)
    text = to_dot(graph)
    if fmt == "dot":
        return text
    if fmt not in ("svg", "png"):
        raise SuiteError(f"unknown format {fmt!r}: use dot, json, svg or png")
    dot = shutil.which("dot")
    if dot is None:
        raise SuiteError(f"--format {fmt} needs graphviz's dot, which is not installed "
                         "(Debian: apt-get install graphviz); --format dot or json work without")
    out = subprocess.run([dot, f"-T{fmt}"], input=text.encode(), capture_output=True)
    if out.returncode != 0:
        raise SuiteError(f"graphviz's dot failed: {out.stderr.decode(errors='replace').strip()}")
    return out.stdout
