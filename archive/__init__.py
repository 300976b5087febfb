"""Human-readable archives of suite projects: export, import and verify.

Formats: a directory, tar (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz, .tar.zst/.tzst) and zip, one
module each behind the interface in :mod:`archive.base`. Paths inside an archive follow a path
schema (:mod:`suite.pathschema`); ``suite-manifest.json`` at the root records every job's state
point and every file's size and SHA-256.
"""

from .base import FORMATS, ArchiveError
from .export import ExportResult, export_jobs
from .importer import ImportResult, VerifyResult, import_jobs, verify

__all__ = ["FORMATS", "ArchiveError", "ExportResult", "ImportResult", "VerifyResult",
           "export_jobs", "import_jobs", "verify"]
