"""Provenance and reproducibility: what ran, with which code and environment, on what, producing
what (records in each job's ``suite_flow_log.jsonl``), and whether it comes out the same again.

* :mod:`.capture` — what a run records (environment, code, files changed), once per run
* :mod:`.logs` — reading the records back; :mod:`.report` — as text and CSV
* :mod:`.compare` — differences between two records; outputs compared within a tolerance
* :mod:`.repeat` — running a recorded execution again on a copy of its jobs
* :mod:`.graph` — a job's executions and the files they produced, as DOT, JSON or a picture
"""

from .logs import Record, RecordList, find, records

__all__ = ["Record", "RecordList", "find", "records"]
