"""Provenance and reproducibility: what ran, with which code and environment, on what, producing
what (records in each job's ``suite_flow_log.jsonl``), and whether it comes out the same again.

* :mod:`.capture` — what a run records (environment, code, files changed), once per run
* :mod:`.logs` — reading the records back; :mod:`.report` — as text and CSV
* :mod:`.compare` — differences between two records; outputs compared within a tolerance
* :mod:`.rerun` — running a recorded execution again on a copy of its jobs
* :mod:`.graph` — a job's executions and the files they produced, as DOT, JSON or a picture
"""

#: public name -> its module; imported on first use (``suite run`` needs only .capture)
_LAZY = {"Record": "logs", "RecordList": "logs", "find": "logs", "records": "logs",
         "RepeatResult": "rerun", "repeat": "rerun"}
__all__ = sorted(_LAZY)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
