"""Conditions of operations: callables of a job, with cheap built-in ones.

Built-in conditions carry a ``kind`` so the flow engine can evaluate them from the index (one
read of all documents per status call) instead of opening each job's files.
"""

import os


class Condition:
    """A condition: ``cond(job, docs)`` is True or False."""

    def __init__(self, fn, description, kind="callable", arg=None, raw=None):
        self.fn, self.description, self.kind, self.arg = fn, description, kind, arg
        self.raw = raw  # a user's callable: aggregate operations call it with all their jobs

    def __call__(self, job, docs=None):
        return bool(self.fn(job, docs))

    def __invert__(self):
        return Condition(lambda job, docs: not self(job, docs), f"not {self.description}")

    def __repr__(self):
        return f"<condition {self.description}>"


def wrap(cond):
    """A :class:`Condition` from a condition or a plain callable of the job."""
    if isinstance(cond, Condition):
        return cond
    if not callable(cond):
        raise TypeError(f"a condition must be callable, not {type(cond).__name__}")
    return Condition(lambda job, docs: cond(job), getattr(cond, "__name__", "custom"),
                     raw=cond)


def _doc(job, docs):
    return docs[job.id] if docs is not None and job.id in docs else job.doc()


def isfile(name):
    """The job directory holds the file ``name``."""
    # the same path os.path.join gives, built without it (status asks this of every job)
    tail = None if os.path.isabs(name) else os.sep + name
    return Condition(lambda job, docs: os.path.isfile(name if tail is None else job.path + tail),
                     f"file {name} exists", "isfile", name)


def true(key):
    """The document key ``key`` (dotted) is truthy."""
    return Condition(lambda job, docs: bool(doc_value(_doc(job, docs), key)), f"doc.{key} is true",
                     "true", key)


def false(key):
    """The document key ``key`` (dotted) is missing or falsy."""
    return Condition(lambda job, docs: not doc_value(_doc(job, docs), key), f"doc.{key} is false",
                     "false", key)


def doc_value(doc, key):
    """The value at the dotted ``key`` of a document, or None where the path is missing."""
    node = doc
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def not_(cond):
    """Negation of a condition."""
    return ~wrap(cond)
