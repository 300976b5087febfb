"""Access control of the dashboard: token then cookie, CSRF, read-only, confined downloads;
through Flask's test client and against a real server on 127.0.0.1."""

import http.client
import json
import urllib.parse

import pytest

from suite.dashboard import security

from .conftest import TOKEN, make_client, start_server, stop_server

PAGES = ["/", "/jobs", "/jobs?q=a+1", "/compare", "/sync", "/static/style.css"]


def job_pages(job):
    return [f"/job/{job.id}", f"/job/{job.id}/file/notes.txt",
            f"/job/{job.id}/file/picture.png"]


def test_every_page_refused_without_token(anonymous, special):
    for url in PAGES + job_pages(special):
        resp = anonymous.get(url)
        assert resp.status_code == 403, url
        assert b"first line of notes" not in resp.data
    assert anonymous.post(f"/job/{special.id}/doc", data={"key": "x", "value": "1"}
                          ).status_code == 403
    assert "x" not in special.doc()


def test_wrong_token_and_wrong_cookie_refused(anonymous):
    assert anonymous.get("/?token=wrong").status_code == 403
    assert "Set-Cookie" not in anonymous.get("/?token=wrong").headers
    anonymous.set_cookie(security.cookie_name(TOKEN), "wrong")
    assert anonymous.get("/").status_code == 403
    # a cookie with the right value under another dashboard's name does not count
    anonymous.set_cookie(security.cookie_name("other"), TOKEN)
    assert anonymous.get("/").status_code == 403


def test_token_sets_cookie_then_pages_open(anonymous, special):
    resp = anonymous.get(f"/jobs?token={TOKEN}&q=a+1")
    assert resp.status_code == 303
    # the token leaves the address bar; other arguments stay
    assert resp.headers["Location"] == "/jobs?q=a+1"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{security.cookie_name(TOKEN)}={TOKEN}")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    for url in PAGES + job_pages(special):
        assert anonymous.get(url).status_code == 200, url


def test_security_headers(client):
    resp = client.get("/")
    assert "script-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_post_without_csrf_refused(client, special):
    page = client.get(f"/job/{special.id}").get_data(as_text=True)
    digest = _field(page, "digest")
    for csrf in (None, "wrong", ""):
        form = {"key": "score", "value": "999", "digest": digest, "action": "set"}
        if csrf is not None:
            form["csrf"] = csrf
        resp = client.post(f"/job/{special.id}/doc", data=form)
        assert resp.status_code == 403
        assert b"CSRF" in resp.data
    assert special.doc()["score"] == 51


def test_post_with_csrf_writes(client, special):
    page = client.get(f"/job/{special.id}").get_data(as_text=True)
    resp = client.post(f"/job/{special.id}/doc", data={
        "csrf": _field(page, "csrf"), "digest": _field(page, "digest"), "key": "score",
        "value": "999", "action": "set"})
    assert resp.status_code == 303
    with open(special.fn("signac_job_document.json")) as f:
        assert json.load(f)["score"] == 999


@pytest.mark.parametrize("rel", [
    "../notes.txt",
    "sub/../../x",
    "%2e%2e/%2e%2e/secret.txt",
    "..%2f..%2fsecret.txt",
    "sub/%2e%2e/%2e%2e/signac_statepoint.json",
    "%2fetc%2fpasswd",
    "escape.txt",
    "up/secret.txt",
    "up/" + "0" * 32 + "/x",
])
def test_downloads_confined_to_the_job(client, special, rel):
    resp = client.get(f"/job/{special.id}/file/{rel}")
    assert resp.status_code in (403, 404), rel
    assert b"outside the job" not in resp.data
    assert b"root:" not in resp.data


def test_absolute_path_refused(client, special):
    resp = client.get(f"/job/{special.id}/file//etc/passwd")
    assert resp.status_code in (403, 404)  # the route's path never starts with /
    assert b"root:" not in resp.data
    assert security.confined(special.path, "/etc/passwd") is None


def test_files_inside_the_job_download(client, special):
    resp = client.get(f"/job/{special.id}/file/sub/result.txt?download=1")
    assert resp.status_code == 200 and resp.data == b"42\n"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    # a link that stays inside the job is followed
    assert client.get(f"/job/{special.id}/file/inside-link.txt").data.startswith(b"first line")
    # text is never served inline (only images and videos are)
    assert client.get(f"/job/{special.id}/file/notes.txt").headers[
        "Content-Disposition"].startswith("attachment")
    svg = client.get(f"/job/{special.id}/file/drawing.svg")
    assert svg.mimetype == "image/svg+xml"
    assert "sandbox" in svg.headers["Content-Security-Policy"]


def test_unknown_job_is_404(client):
    assert client.get("/job/" + "f" * 32).status_code == 404
    assert client.get("/job/zzz").status_code == 404


def test_read_only_refuses_edits(dash, special):
    client = make_client(dash, read_only=True)
    page = client.get(f"/job/{special.id}").get_data(as_text=True)
    assert 'name="value"' not in page  # no edit forms
    csrf = security.csrf_token(TOKEN)
    resp = client.post(f"/job/{special.id}/doc", data={
        "csrf": csrf, "digest": "", "key": "score", "value": "1", "action": "set"})
    assert resp.status_code == 403
    assert b"read-only" in resp.data
    assert special.doc()["score"] == 51


def test_confined_helper():
    assert security.confined("/tmp", "") is None
    assert security.confined("/tmp", "a\x00b") is None
    assert security.confined("/tmp", "a\\..\\b") is None
    assert security.confined("/tmp", "./a") is None
    assert security.confined("/tmp", "a//b") is None


# -- a real server ---------------------------------------------------------------------------

def _request(url, method="GET", path=None, cookie=None, body=None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(body)
    # http.client sends the path as given: `..` and %2e%2e reach the server unnormalised
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_real_server(server, special):
    proc, url = server
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.path == "/"
    token = urllib.parse.parse_qs(parts.query)["token"][0]
    assert len(token) >= 40
    for path in PAGES + job_pages(special):
        resp, _ = _request(url, path=path)
        assert resp.status == 403, path
    resp, _ = _request(url, path=f"/?token={token}")
    assert resp.status == 303
    cookie = resp.getheader("Set-Cookie").split(";")[0]
    for path in PAGES + job_pages(special):
        resp, _ = _request(url, path=path, cookie=cookie)
        assert resp.status == 200, path
    for path in ["../notes.txt", "%2e%2e/%2e%2e/secret.txt", "escape.txt", "up/secret.txt",
                 "sub/../../../secret.txt"]:
        resp, data = _request(url, path=f"/job/{special.id}/file/{path}", cookie=cookie)
        assert resp.status in (403, 404), path
        assert b"outside the job" not in data
    form = {"key": "score", "value": "1", "action": "set"}
    resp, _ = _request(url, "POST", f"/job/{special.id}/doc", cookie, form)
    assert resp.status == 403
    assert special.doc()["score"] == 51
    resp, data = _request(url, path=f"/job/{special.id}", cookie=cookie)
    page = data.decode()
    resp, _ = _request(url, "POST", f"/job/{special.id}/doc", cookie, {
        **form, "csrf": _field(page, "csrf"), "digest": _field(page, "digest")})
    assert resp.status == 303
    assert special.doc()["score"] == 1


def test_real_server_read_only(server_read_only, special):
    _, url = server_read_only
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
    resp, _ = _request(url, path=f"/?token={token}")
    cookie = resp.getheader("Set-Cookie").split(";")[0]
    resp, data = _request(url, "POST", f"/job/{special.id}/doc", cookie, {
        "key": "score", "value": "1", "action": "set", "csrf": security.csrf_token(token)})
    assert resp.status == 403 and b"read-only" in data
    assert special.doc()["score"] == 51


def _field(page, name):
    """The value of the first hidden input ``name`` in a page."""
    import re

    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    import html

    return html.unescape(found.group(1))


def test_port_option_and_no_browser_without_display(dash, monkeypatch):
    import socket

    from suite.dashboard.server import open_in_browser

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, url = start_server(dash, "--port", str(port))
    try:
        assert url.startswith(f"http://127.0.0.1:{port}/?token=")
    finally:
        stop_server(proc)
    assert proc.returncode == 0  # Ctrl-C is a normal stop
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert open_in_browser("http://127.0.0.1:1/") is False
