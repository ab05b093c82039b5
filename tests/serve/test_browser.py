"""The page in a real browser: a `foveal serve` process on loopback, driven by headless Chromium through Selenium.
It uploads an image through the page and reads the predicted label from it, opens a run's report, and keeps a
screenshot of each as test artefacts (FOVEAL_ARTIFACTS, default test-artifacts/). Chromium and its driver are
Debian's `chromium` and `chromium-driver`, which .ci/run installs; without them the test fails unless
FOVEAL_NO_BROWSER is set (a machine that cannot have them)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import foveal

ARTIFACTS = Path(os.environ.get("FOVEAL_ARTIFACTS", "test-artifacts"))


def browser_or_reason() -> str | None:
    missing = [b for b in ("chromium", "chromedriver") if shutil.which(b) is None]
    return f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)" if missing else None


pytestmark = pytest.mark.skipif(bool(os.environ.get("FOVEAL_NO_BROWSER")) and browser_or_reason() is not None,
                                reason="FOVEAL_NO_BROWSER is set and there is no Chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(served_runs):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "foveal", "serve", "--model", f"digits={served_runs['digits']}",
                             "--model", f"det={served_runs['detect']}", "--runs", str(served_runs["root"]),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"foveal serve exited: {proc.stdout.read()}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def browser():
    reason = browser_or_reason()
    if reason:
        pytest.fail(f"the browser test needs Chromium: {reason}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


def wait_for(driver, check, seconds: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(lambda d: check(d))


def test_the_page_predicts_an_uploaded_image(server, browser, served_runs, digit_files):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server)
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#model option")) == 2)
    Select(browser.find_element(By.ID, "model")).select_by_value("digits")
    browser.find_element(By.ID, "file").send_keys(str(digit_files[0]))
    label = wait_for(browser, lambda d: d.find_element(By.ID, "result-label").text)
    expected = foveal.Model(served_runs["digits"]).predict(str(digit_files[0]))[0]
    assert label.split()[0] == expected.label
    rows = browser.find_elements(By.CSS_SELECTOR, "#result-table tr")
    assert len(rows) == 1 + 3  # the header and the top 3
    wait_for(browser, lambda d: d.execute_script("return document.getElementById('result-image').naturalWidth") > 0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "serve_predict.png"))


def test_the_page_shows_a_detectors_boxes(server, browser, scene_files):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server)
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#model option")) == 2)
    Select(browser.find_element(By.ID, "model")).select_by_value("det")
    assert browser.find_element(By.ID, "conf-box").is_displayed()
    browser.find_element(By.ID, "file").send_keys(str(scene_files[0]))
    label = wait_for(browser, lambda d: d.find_element(By.ID, "result-label").text)
    assert "object(s)" in label


def test_the_page_opens_a_runs_report(server, browser, served_runs):
    from selenium.webdriver.common.by import By

    browser.get(server)
    browser.find_element(By.ID, "tab-runs").click()
    links = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "a.run-link"))
    next(a for a in links if a.text == "digits").click()
    table = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#run-metrics tr"))
    shown = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
             for r in table[1:]}
    import json

    saved = json.loads((served_runs["digits"] / "metrics.json").read_text())
    assert float(shown["accuracy"]) == pytest.approx(saved["accuracy"], abs=1e-4)
    wait_for(browser, lambda d: d.execute_script(
        "return [...document.querySelectorAll('#run-detail img')].some(i => i.naturalWidth > 0)"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "serve_runs.png"))
