"""The page `fmnist serve` serves at /, in Debian's headless Chromium driven by Selenium: a file
chosen in the input, a file dropped on the zone, a file that is no image, and a console that
stays free of errors throughout. The page shows what /classify answers; what that answer holds
(the 28x28 predict decodes, the flag, the one-line error) is test_app.py's, in-process.

Debian's chromium and chromium-driver only (scripts/ensure-browser.sh installs both): Selenium
Manager, which would download a browser or a driver, is never run."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.selenium_manager import SeleniumManager
from selenium.webdriver.support.ui import WebDriverWait

from fmnist.inference.classifier import load_classifier

from .running import serving
from .uploads import NOTES, a_photo_classified_right, dropped_png, noise_png

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MISSING = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
WAIT = 30.0  # seconds: generous on two shared cores; every wait is on a condition
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1000,800",
]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"needs Debian's chromium and chromium-driver; missing {', '.join(MISSING)} "
        "(scripts/ensure-browser.sh installs them as root)",
    ),
]

READ_PREVIEW = """
const canvas = document.getElementById("preview");
return Array.from(canvas.getContext("2d").getImageData(0, 0, 28, 28).data);
"""

# Real dragover and drop events carrying a File made in the page from the given bytes.
DRAG_AND_DROP = """
const [encoded, name, type] = arguments;
const bytes = Uint8Array.from(atob(encoded), (character) => character.charCodeAt(0));
const data = new DataTransfer();
data.items.add(new File([bytes], name, { type }));
const zone = document.getElementById("drop");
const init = { dataTransfer: data, bubbles: true, cancelable: true };
const overNotPrevented = zone.dispatchEvent(new DragEvent("dragover", init));
const highlighted = zone.classList.contains("over");
const dropNotPrevented = zone.dispatchEvent(new DragEvent("drop", init));
const highlightedAfter = zone.classList.contains("over");
return { overNotPrevented, highlighted, dropNotPrevented, highlightedAfter };
"""


def _no_selenium_manager(*args, **kwargs):
    raise AssertionError("Selenium Manager was asked for a browser or driver: no network here")


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    with serving(trained[1], tmp_path_factory.mktemp("page")) as running:
        yield running


@pytest.fixture
def browser(tmp_path, monkeypatch):
    monkeypatch.setattr(SeleniumManager, "binary_paths", _no_selenium_manager)
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, condition, what: str):
    return WebDriverWait(driver, WAIT).until(condition, message=f"after {WAIT:.0f} s: {what}")


def text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def version(server) -> str:
    status, _, body = server.request("GET", "/v2/models/fmnist")
    assert status == 200, body
    return json.loads(body)["versions"][0]


def classify(server, data: bytes) -> tuple[int, dict]:
    """What POST /classify answers for these bytes: what the page is shown."""
    status, _, body = server.request("POST", "/classify", data)
    return status, json.loads(body)


def open_page(driver, server) -> None:
    """The page, once its own requests (server and model metadata) have been answered."""
    driver.get(server.url + "/")
    wait(driver, lambda d: text(d, "version") not in ("", "…"), "the page shows no version")
    assert text(driver, "version") == version(server)
    assert text(driver, "error") == ""


def wait_for_answer(driver) -> str:
    """The top class, once the page shows an answer."""
    return wait(driver, lambda d: text(d, "top1"), "no class in #top1")


def preview(driver) -> np.ndarray:
    """The canvas's 28x28 gray levels, checked to be gray and opaque."""
    rgba = np.array(driver.execute_script(READ_PREVIEW), np.int64).reshape(28, 28, 4)
    assert (rgba[..., 3] == 255).all()
    assert (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 1] == rgba[..., 2]).all()
    return rgba[..., 0]


def assert_console_clean(driver, allowed: tuple[str, ...] = ()) -> None:
    """No SEVERE console entry but the exact messages allowed."""
    severe = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and entry["message"] not in allowed
    ]
    assert severe == []


def test_a_chosen_photo_shows_its_class_and_what_the_model_saw(
    server, browser, trained, real_test, tmp_path
):
    classifier = load_classifier(trained[1])
    photo, _, expected = a_photo_classified_right(classifier, real_test, tmp_path)
    status, answer = classify(server, photo.read_bytes())
    assert status == 200, answer
    pixels = np.array(answer["pixels"]).reshape(28, 28)

    open_page(browser, server)
    browser.find_element(By.ID, "file").send_keys(str(photo))
    assert wait_for_answer(browser) == expected
    items = browser.find_elements(By.CSS_SELECTOR, "#top li")
    assert len(items) == 3 and items[0].text.startswith(expected + ": ")
    assert text(browser, "answered-by") == version(server)
    assert np.array_equal(preview(browser), pixels)  # exactly the 28x28 the model saw
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-answered") == "1"
    assert text(browser, "error") == ""
    verdict = "Does not look like" if answer["ood"]["flagged"] else "Looks like Fashion-MNIST"
    assert text(browser, "ood").startswith(verdict)
    assert_console_clean(browser)


def test_noise_is_classified_and_flagged_as_not_like_fashion_mnist(server, browser, tmp_path):
    noise = noise_png(tmp_path / "noise.png")
    status, answer = classify(server, noise.read_bytes())
    assert status == 200, answer
    open_page(browser, server)
    browser.find_element(By.ID, "file").send_keys(str(noise))
    assert wait_for_answer(browser) == answer["top"][0]["class"]  # still a class, as before
    warning = browser.find_element(By.ID, "ood")
    assert warning.text.startswith(f"Does not look like Fashion-MNIST: {answer['ood']['reason']} (")
    assert "The class above is a guess" in warning.text
    assert warning.get_attribute("class") == "warning"
    # The class and the warning are one live region: a screen reader announces them together.
    region = browser.find_element(By.ID, "answer")
    assert (
        region.get_attribute("role") == "status" and region.get_attribute("aria-atomic") == "true"
    )
    inside = [e.get_attribute("id") for e in region.find_elements(By.CSS_SELECTOR, "[id]")]
    assert inside == ["top1", "ood"]
    assert browser.find_elements(By.CSS_SELECTOR, "[role=status]") == [region]
    assert answer["top"][0]["class"] in region.text and "Does not look like" in region.text
    status = accessible_status(browser)
    assert status["live"] == "polite" and status["atomic"] is True
    assert answer["top"][0]["class"] in status["text"] and answer["ood"]["reason"] in status["text"]


def accessible_status(driver) -> dict:
    """The page's one live status region as Chromium's accessibility tree holds it: its live and
    atomic properties and the text of everything under it."""
    nodes = driver.execute_cdp_cmd("Accessibility.getFullAXTree", {})["nodes"]
    by_id = {node["nodeId"]: node for node in nodes}
    regions = [n for n in nodes if n.get("role", {}).get("value") == "status"]
    assert len(regions) == 1, [n.get("name") for n in regions]
    properties = {p["name"]: p["value"].get("value") for p in regions[0].get("properties", [])}
    texts, waiting = [], list(regions[0].get("childIds", []))
    while waiting:
        node = by_id.get(waiting.pop(0))
        if node is None:
            continue
        if node.get("role", {}).get("value") in ("StaticText", "text"):
            texts.append(node.get("name", {}).get("value", ""))
        waiting += node.get("childIds", [])
    return {
        "live": properties.get("live"),
        "atomic": properties.get("atomic"),
        "text": " ".join(texts),
    }
    assert_console_clean(browser)


def test_a_dropped_png_is_classified(server, browser, real_test):
    png = dropped_png(real_test.images[1])
    status, answer = classify(server, png)
    assert status == 200, answer

    open_page(browser, server)
    encoded = base64.b64encode(png).decode("ascii")
    events = browser.execute_script(DRAG_AND_DROP, encoded, "dropped.png", "image/png")
    assert events == {
        "overNotPrevented": False,  # dragover's default prevented: the zone accepts the drop
        "highlighted": True,
        "dropNotPrevented": False,  # nor does the browser open the file itself
        "highlightedAfter": False,
    }
    assert wait_for_answer(browser) == answer["top"][0]["class"]
    assert np.array_equal(preview(browser), np.array(answer["pixels"]).reshape(28, 28))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#top li")) == 3
    assert_console_clean(browser)


def test_a_file_that_is_no_image_shows_the_servers_error(server, browser, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_bytes(NOTES)
    status, answer = classify(server, notes.read_bytes())
    assert status == 400, answer

    open_page(browser, server)
    browser.find_element(By.ID, "file").send_keys(str(notes))
    shown = wait(browser, lambda d: text(d, "error"), "no message in #error")
    assert shown == answer["error"]
    assert browser.find_element(By.ID, "error").get_attribute("role") == "alert"
    result = browser.find_element(By.ID, "result")
    assert result.get_attribute("hidden") is not None and not result.is_displayed()
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-answered") is None
    # Chromium reports any 4xx answer to a fetch on the console: this one, exactly, is expected.
    refused = (
        f"{server.url}/classify - Failed to load resource: "
        "the server responded with a status of 400 (Bad Request)"
    )
    assert_console_clean(browser, allowed=(refused,))
