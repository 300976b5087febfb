"""Access control of the dashboard: the access token (then a cookie), CSRF tokens for forms and
confinement of file paths to a job directory.

A login node is shared: anyone there can reach 127.0.0.1, so every request must prove it knows
the random token printed at start (as Jupyter does). The cookie is HttpOnly and SameSite=Strict,
and every form carries a CSRF token derived from the access token, which another site cannot
read.
"""

import hashlib
import hmac
import os
import secrets


def new_token():
    """A random access token (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


def same(given, expected):
    """Constant-time comparison of two tokens (``given`` may be None)."""
    return given is not None and hmac.compare_digest(str(given).encode(), expected.encode())


def cookie_name(token):
    """The cookie's name: cookies do not tell ports apart, so two dashboards on one host would
    overwrite each other's cookie under one fixed name."""
    return "suite-dashboard-" + hashlib.sha256(token.encode()).hexdigest()[:10]


def csrf_token(token):
    """The CSRF token of forms: fixed for one access token, useless without it."""
    return hmac.new(token.encode(), b"suite-dashboard-csrf", hashlib.sha256).hexdigest()


def confined(root, rel):
    """The absolute path of ``rel`` inside the directory ``root``, or None when ``rel`` would
    leave it: an absolute path, a ``..`` part, a NUL or backslash, or a symbolic link (at any
    level) that resolves outside ``root``."""
    if not rel or "\x00" in rel or "\\" in rel or rel.startswith("/"):
        return None
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    real_root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([real_root, path]) != real_root or path == real_root:
        return None
    return path
