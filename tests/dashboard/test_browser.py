"""The dashboard in a real browser: Debian's chromium driven by Selenium through Debian's
chromedriver (tests/dashboard/browser.py). Screenshots of each page are saved under the test's temporary directory (``shots/``)."""

import json
import os
import shutil
import time
import urllib.parse

import pytest

from suite.dashboard import security

from ..conftest import skip_or_fail
from .browser import start_browser, stop_browser
from .conftest import start_server, stop_server


@pytest.fixture
def browser(tmp_path):
    """A headless chromium with a fresh profile; downloads go to ``tmp_path/downloads``."""
    driver = start_browser(tmp_path)
    shots = tmp_path / "shots"
    shots.mkdir()
    driver.shot = lambda name: driver.save_screenshot(str(shots / f"{name}.png"))
    yield driver
    stop_browser(driver)


def _by():
    from selenium.webdriver.common.by import By

    return By


def _disk(job):
    with open(job.fn("signac_job_document.json")) as f:
        return json.load(f)


def test_browser_scenario(browser, dash, special, server):
    By = _by()
    proc, url = server
    base = url.split("/?")[0]

    # no token: every page is refused
    browser.get(base + "/jobs")
    browser.shot("01-no-token")
    assert "403" in browser.find_element(By.TAG_NAME, "h1").text
    assert "Jobs" not in browser.title

    # with the token: the overview, then the cookie alone is enough
    browser.get(url)
    browser.shot("02-overview")
    assert "12" in browser.find_element(By.ID, "count").text
    assert "token=" not in browser.current_url
    browser.get(base + "/jobs")
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.job")) == 12

    # search with a filter: the right rows
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("a.$gte 4 b.c 1")
    browser.find_element(By.ID, "search").click()
    browser.shot("03-search")
    shown = [a.get_attribute("href").rsplit("/", 1)[1]
             for a in browser.find_elements(By.CSS_SELECTOR, "a.jobid")]
    expected = sorted(dash.find_jobs({"a": {"$gte": 4}, "b.c": 1}).ids())
    assert sorted(shown) == expected and len(expected) == 2

    # open a job
    browser.find_element(By.CSS_SELECTOR, f'a.jobid[href="/job/{special.id}"]').click()
    browser.shot("04-job")
    assert special.id in browser.find_element(By.TAG_NAME, "h1").text
    # the image is shown (decoded by the browser)
    img = browser.find_element(By.CSS_SELECTOR, 'img[alt="picture.png"]')
    assert browser.execute_script("return arguments[0].naturalWidth", img) == 24
    svg_img = browser.find_element(By.CSS_SELECTOR, 'img[alt="drawing.svg"]')
    assert browser.execute_script("return arguments[0].naturalWidth", svg_img) == 40

    # edit a document key and find it on disk
    field = browser.find_element(By.CSS_SELECTOR, 'input[data-key="score"]')
    field.clear()
    field.send_keys("123.5")
    field.submit()
    _wait(lambda: _disk(special).get("score") == 123.5)
    _wait(lambda: browser.find_element(By.CSS_SELECTOR, 'input[data-key="score"]')
          .get_attribute("value") == "123.5")
    browser.shot("05-edited")

    # an edit of a document changed behind the page is refused, both versions shown
    field = browser.find_element(By.CSS_SELECTOR, 'input[data-key="tag"]')
    special.doc.tag = "changed on disk"
    field.clear()
    field.send_keys('"from the browser"')
    field.submit()
    browser.shot("06-conflict")
    assert "changed on disk" in browser.find_element(By.ID, "current").text
    assert "odd" in browser.find_element(By.ID, "loaded").text
    assert _disk(special)["tag"] == "changed on disk"

    # a plot of an HDF5 dataset
    browser.get(f"{base}/job/{special.id}")
    browser.find_element(By.CSS_SELECTOR, "a.plotlink").click()
    browser.shot("07-plot")
    plot = browser.find_element(By.CSS_SELECTOR, "svg.plot")
    assert plot.size["width"] >= 600 and plot.find_elements(By.TAG_NAME, "polyline")

    # download a file
    browser.get(f"{base}/job/{special.id}")
    browser.find_element(By.CSS_SELECTOR, 'a.download[href*="sub/result.txt"]').click()
    target = browser.downloads / "result.txt"
    _wait(target.exists)
    assert target.read_text() == "42\n"

    # compare two jobs with a plot
    browser.get(f"{base}/jobs")
    for box in browser.find_elements(By.CSS_SELECTOR, 'input[name="id"]')[:4]:
        box.click()
    browser.find_element(By.ID, "compare").click()
    browser.find_element(By.ID, "x").send_keys("a")
    browser.find_element(By.ID, "y").send_keys("score")
    browser.find_element(By.ID, "plot-button").click()
    browser.shot("08-compare")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#figure circle")) == 4

    # a traversal URL is refused
    for rel in ("%2e%2e/%2e%2e/secret.txt", "escape.txt", "up/secret.txt"):
        browser.get(f"{base}/job/{special.id}/file/{rel}")
        assert "outside the job" not in browser.page_source
        assert browser.find_element(By.TAG_NAME, "h1").text in ("403", "404")
    browser.shot("09-traversal")

    # without the cookie, refused again
    browser.delete_all_cookies()
    browser.get(f"{base}/job/{special.id}")
    assert "403" in browser.find_element(By.TAG_NAME, "h1").text


def test_browser_read_only(browser, dash, special):
    By = _by()
    proc, url = start_server(dash, "--read-only")
    try:
        base = url.split("/?")[0]
        browser.get(url)
        browser.get(f"{base}/job/{special.id}")
        browser.shot("10-read-only")
        assert "read-only" in browser.find_element(By.CSS_SELECTOR, "nav").text
        assert not _now(browser, By.CSS_SELECTOR, 'input[name="value"]')
        # a hand-made form with the right CSRF token is still refused
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
        browser.execute_script(
            "var f = document.createElement('form'); f.method = 'post';"
            "f.action = arguments[0];"
            "for (const [k, v] of Object.entries(arguments[1])) {"
            "  var i = document.createElement('input'); i.name = k; i.value = v;"
            "  f.appendChild(i); }"
            "document.body.appendChild(f); f.submit();",
            f"/job/{special.id}/doc",
            {"csrf": security.csrf_token(token), "key": "score", "value": "1",
             "action": "set", "digest": ""})
        _wait(lambda: "read-only" in browser.page_source and
              browser.find_element(By.TAG_NAME, "h1").text == "403")
        browser.shot("11-read-only-refused")
        assert _disk(special)["score"] == 51
    finally:
        stop_server(proc)


def _now(browser, by, selector):
    """The elements on the page as it is, not waiting the implicit 10 s for one to appear
    (for a check that there is none, once the page is there)."""
    browser.implicitly_wait(0)
    try:
        return browser.find_elements(by, selector)
    finally:
        browser.implicitly_wait(10)


def _wait(condition, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if condition():
                return
        except Exception:  # the page is still loading
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_chromium_is_debians():
    """The browser tests use the system chromium: no other browser build is fetched."""
    if not shutil.which("chromium"):
        skip_or_fail("chromium is not installed")
    assert os.path.realpath(shutil.which("chromium")).startswith("/usr/")
