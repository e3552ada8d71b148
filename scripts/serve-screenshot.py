"""docs/serve-page.png: the page of `fmnist serve` after an upload, in Debian's headless Chromium.

The shipped models/model.tflite, served as one process on a free loopback port, given a
photo-like JPEG made from test image 0 (dark on white, enlarged, on a white margin); the page
is captured once it shows the answer. Run from the project: `.venv/bin/python
scripts/serve-screenshot.py` (needs scripts/ensure-browser.sh's chromium and chromedriver).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs/serve-page.png"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--window-size=900,700",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def photo(folder: Path) -> Path:
    image = np.load(ROOT / "data/prepared/test.npz")["images"][0]
    dark = Image.fromarray(np.uint8(255 - np.round(image * 255))).resize((280, 280))
    framed = Image.new("L", (360, 360), 255)
    framed.paste(dark, (40, 40))
    path = folder / "boot.jpg"
    framed.convert("RGB").save(path, quality=90)
    return path


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        log = (folder / "serve.log").open("w")
        command = [
            sys.executable,
            "-m",
            "fmnist",
            "serve",
            "--port",
            "0",
            "--workers",
            "1",
            "--grpc-port",
            "off",
            "--quiet",
        ]
        server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not (
                found := re.search(r"at http://([\d.]+:\d+)/", (folder / "serve.log").read_text())
            ):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("serve-screenshot: the server did not start")
                time.sleep(0.1)
            options = Options()
            options.binary_location = "/usr/bin/chromium"
            for flag in FLAGS:
                options.add_argument(flag)
            driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
            try:
                driver.get(f"http://{found.group(1)}/")
                driver.find_element(By.ID, "file").send_keys(str(photo(folder)))
                WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "top1").text)
                driver.save_screenshot(str(OUT))
                print(f"serve-screenshot: {driver.find_element(By.ID, 'answer').text!r}")
            finally:
                driver.quit()
        finally:
            server.terminate()
            server.wait(30)
    print(f"serve-screenshot: wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
