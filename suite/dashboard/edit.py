"""Document edits from the job page: a key set to a value (as ``suite document --set`` takes
it: a JSON literal, else the text as a string) or deleted, refused when the document on disk is
no longer the one the page showed."""

import hashlib
import json


def digest(doc):
    """What identifies a document's content: SHA-256 of its canonical JSON."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def apply(job, loaded_digest, key, value=None, delete=False):
    """Set (or delete) the dotted ``key`` of the job document unless the document changed since
    the page showed it (its digest is not ``loaded_digest``). Returns None when written, else
    the document as it is on disk now (nothing written). The write goes through ``job.doc``:
    one atomic replacement of the file.

    Raises
    ------
    InvalidStatepointError
        The key or value cannot be stored as JSON.
    KeyError
        ``delete`` of a key the document does not have.
    CorruptFileError
        The document on disk cannot be read.
    """
    current = job.doc()
    if digest(current) != loaded_digest:
        return current
    *parents, last = key.split(".")
    missing = KeyError(f"job {job.id}: the document has no key {key!r}")
    if not parents:
        if delete:
            if last not in current:
                raise missing
            del job.doc[last]
        else:
            job.doc[last] = value
        return None
    # a nested key: the new top-level value is built here, so the file is replaced once
    top = json.loads(json.dumps(current.get(parents[0], None)))
    if not isinstance(top, dict):
        if delete:
            raise missing
        top = {}
    node = top
    for part in parents[1:]:
        if not isinstance(node.get(part), dict):
            if delete:
                raise missing
            node[part] = {}
        node = node[part]
    if delete:
        if last not in node:
            raise missing
        del node[last]
    else:
        node[last] = value
    job.doc[parents[0]] = top
    return None
