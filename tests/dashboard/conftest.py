"""Fixtures of the dashboard tests: a project with files of every kind, a Flask test client that
holds the token cookie, and a real `suite dashboard` process on 127.0.0.1."""

import os
import struct
import subprocess
import sys
import zlib

import pytest

import suite

pytest.importorskip("flask", reason="the dashboard extra (Flask) is not installed")

TOKEN = "test-token-0123456789"


def png(width=24, height=16):
    """A small valid PNG (a colour gradient), written without an imaging library."""
    raw = b"".join(b"\x00" + bytes(c for x in range(width) for c in (x * 10, y * 15, 120))
                   for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def dash(tmp_path):
    """A project of 12 jobs (a in 0..5, b.c in 0..1), documents with score and tag; the job
    ``a=5`` holds an image, an SVG, a text file, HDF5 data, a link inside and a link out."""
    import h5py
    import numpy as np

    proj = suite.init_project(tmp_path / "project")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the job\n")
    for a in range(6):
        for c in range(2):
            job = proj.open_job({"a": a, "b": {"c": c}})
            job.init()
            job.doc.score = a * 10 + c
            job.doc.tag = "even" if a % 2 == 0 else "odd"
    job = proj.open_job({"a": 5, "b": {"c": 1}})
    with open(job.fn("picture.png"), "wb") as f:
        f.write(png())
    with open(job.fn("drawing.svg"), "w") as f:
        f.write('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
                '<rect width="40" height="20" fill="teal"/></svg>')
    with open(job.fn("notes.txt"), "w") as f:
        f.write("first line of notes\nsecond line\n")
    os.makedirs(job.fn("sub"))
    with open(job.fn("sub/result.txt"), "w") as f:
        f.write("42\n")
    os.symlink("notes.txt", job.fn("inside-link.txt"))
    os.symlink(str(secret), job.fn("escape.txt"))
    os.symlink("..", job.fn("up"))
    with h5py.File(job.fn("signac_data.h5"), "w") as f:
        f["curve"] = np.sin(np.linspace(0, 6.28, 500))
        f["fields/grid"] = np.arange(200.0).reshape(10, 20)
        f["fields/labels"] = np.array([b"x", b"y"])
    return proj


@pytest.fixture
def special(dash):
    """The job with the files."""
    return dash.open_job({"a": 5, "b": {"c": 1}})


def make_client(project, read_only=False):
    from suite.dashboard import create_app

    app = create_app(project.path, token=TOKEN, read_only=read_only)
    client = app.test_client()
    resp = client.get(f"/?token={TOKEN}")
    assert resp.status_code == 303
    return client


@pytest.fixture
def client(dash):
    """A test client that has presented the token (it holds the cookie)."""
    return make_client(dash)


@pytest.fixture
def anonymous(dash):
    """A test client that never saw the token."""
    from suite.dashboard import create_app

    return create_app(dash.path, token=TOKEN).test_client()


def start_dashboard(argv, **kwargs):
    """``suite dashboard ARGV`` (``subprocess.Popen``'s ``kwargs``), watched over
    (tests/watchdog.py): it ends with the tests, even SIGKILLed ones. End it with
    :func:`stop_server`."""
    from tests.conftest import start_server as start_guarded

    return start_guarded([sys.executable, "-m", "suite", "dashboard", *argv],
                         os.path.basename(sys.executable), **kwargs)


def start_server(project, *args):
    """`suite dashboard --no-browser ARGS` in the project directory; returns (process, URL)."""
    proc = start_dashboard(["--no-browser", *args], cwd=project.path, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line:
        stop_server(proc)
        raise AssertionError(f"no URL printed: {proc.stderr.read()}")
    return proc, line


def stop_server(proc, timeout=20):
    """Ctrl-C (SIGINT), as a user ends it; SIGKILL after ``timeout`` seconds; then its
    watchdog."""
    import signal

    from tests.conftest import stop_process

    stop_process(proc, timeout, signal.SIGINT)


@pytest.fixture
def server(dash):
    """A real `suite dashboard` on 127.0.0.1: (process, URL with token)."""
    proc, url = start_server(dash)
    yield proc, url
    stop_server(proc)


@pytest.fixture
def server_read_only(dash):
    proc, url = start_server(dash, "--read-only")
    yield proc, url
    stop_server(proc)
