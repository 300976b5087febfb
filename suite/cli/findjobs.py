"""What ``suite find`` does and prints, without click.

The command in :mod:`suite.cli.core` parses its options with click and calls
:func:`find_jobs`; :func:`suite.cli.main` calls it directly for the plain form ``suite find
[FILTER...]`` (no option), which so starts without importing click: click was about a
quarter of that command's CPU time at 100,000 jobs (docs/benchmarks.md, session 9)."""

import json
import sys

from .plain import echo, name_unreadable, project


def plain_args(args):
    """The FILTER words if ``args`` are ``find`` and words none of which starts with ``-``
    (so none is an option, ``--help`` or ``--``), else None: click parses every other form,
    with its usage errors."""
    if not args or args[0] != "find" or any(a.startswith("-") for a in args[1:]):
        return None
    return tuple(args[1:])


def find_jobs(filter, sp_keys=None, doc_keys=None, as_json=False):
    """Print the ids of the jobs matching ``filter`` (FILTER words) in the current project,
    with the state point and document keys asked for; unreadable jobs and keys no job has
    are named on stderr. Exits with status 3 when a state point could not be read. Raises
    :class:`~suite.errors.ProjectNotFoundError` outside a project and
    :class:`~suite.errors.FilterError` for a filter that does not parse."""
    from suite.query import MISSING, parse_cli_filter, resolve

    p = project()
    flt = parse_cli_filter(filter)
    cursor = p.find_jobs(flt, skip_unreadable=True)  # named below, exit 3
    ids = cursor.ids()
    _find_notes(p, flt)
    if sp_keys is None and doc_keys is None:
        if as_json:
            echo(json.dumps(ids))
        else:
            if ids:
                echo("\n".join(ids))
        return _report_unreadable(p)
    sps = p.index.statepoints(ids) if sp_keys is not None else {}
    docs = p.index.documents(ids) if doc_keys is not None else {}

    def pick(data, keys):
        if keys == "":
            return data
        out = {}
        for k in (k.strip() for k in keys.split(",")):
            v = resolve(data, tuple(k.split(".")))
            if v is not MISSING:
                out[k] = v
        return out

    result = {}
    for i in ids:
        entry = {}
        if sp_keys is not None:
            entry["sp"] = pick(sps.get(i, {}), sp_keys)
        if doc_keys is not None:
            entry["doc"] = pick(docs.get(i, {}), doc_keys)
        result[i] = entry
    if as_json:
        echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        for i, entry in result.items():
            parts = [json.dumps(entry[k], sort_keys=True) for k in ("sp", "doc") if k in entry]
            echo(f"{i} {' '.join(parts)}")
    _report_unreadable(p)


def _report_unreadable(p):
    """Jobs a query could not read (the others were answered), on stderr; exit status 3 when
    a state point could not be read: that job is left out of every answer. A job whose
    document alone cannot be read is only left out of document queries: named, status kept."""
    problems = p.index.problems
    if problems:
        name_unreadable(dict(sorted(problems.items())), "could not read")
        if len(p.index.statepoints(sorted(problems))) < len(problems):
            sys.exit(3)


def _find_notes(p, flt):
    """On stderr: keys no job has (a typo finds nothing); the exit status stays as it is.
    Jobs left out as unreadable are named by :func:`_report_unreadable`."""
    from suite.query import compile_filter

    tree = compile_filter(flt)
    for key, close in p.index.missing_keys(tree):
        hint = f"; did you mean {close!r}?" if close else ""
        echo(f"suite: note: no job has key {key!r}{hint}", err=True)
