"""A headless chromium driven by Selenium through Debian's chromedriver, for the browser tests
(nothing is downloaded: the driver's path is given, Selenium Manager stays off). The driver,
the browser and the browser's helpers are watched over (tests/watchdog.py): they die with the
tests, even SIGKILLed ones."""

import os
import re
import subprocess
import time

from tests.conftest import skip_or_fail, stop_process

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def start_browser(directory):
    """A headless chromium with a fresh profile in ``directory``; downloads go to
    ``directory/downloads`` (``driver.downloads``). End it with :func:`stop_browser`. Skips
    (or fails, where services are required) when chromium, chromedriver or selenium is
    missing or the browser does not start."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        skip_or_fail("Debian's chromium and chromium-driver are not installed "
                     "(apt-get install chromium chromium-driver; see .ci/install)")
    try:
        from selenium import webdriver
    except ImportError:
        skip_or_fail("selenium is not installed (pip install -e '.[test]')")

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a driver
    downloads = directory / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={directory / 'profile'}", "--window-size=1280,1000"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver_process = _start_chromedriver(directory)
    try:
        driver = webdriver.Remote(command_executor=driver_process.url, options=options)
    except Exception as exc:  # a browser that cannot start here
        stop_process(driver_process)
        skip_or_fail(f"chromium did not start: {type(exc).__name__}: {exc}".splitlines()[0])
    except BaseException:
        stop_process(driver_process)
        raise
    driver.driver_process = driver_process
    driver.set_page_load_timeout(60)
    driver.implicitly_wait(10)  # a click that navigates returns before the next page is there
    driver.downloads = downloads
    return driver


def _start_chromedriver(directory):
    """chromedriver on a port of its choosing, watched over with its descendants (the
    browsers it starts and their helpers, as they are when the tests end) from the moment it
    runs. Returns its ``Popen`` with ``url``. Skips (or fails) if it does not start in 60 s."""
    from tests.watchdog import guard

    out = directory / "chromedriver.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen([CHROMEDRIVER, "--port=0", f"--log-path={out}.log"],
                                stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        proc.watchdog = guard([(proc.pid, "chromedriver")], descendants=True)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    deadline = time.monotonic() + 60
    while (port := re.search(rb"started successfully on port ([0-9]+)", out.read_bytes())) \
            is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            skip_or_fail(f"chromedriver did not start: {out.read_text(errors='replace')[-500:]}")
        time.sleep(0.05)
    proc.url = f"http://127.0.0.1:{int(port.group(1))}"
    return proc


def stop_browser(driver):
    """Quit the browser, then end its driver and their watchdog."""
    try:
        driver.quit()
    finally:
        stop_process(driver.driver_process)
