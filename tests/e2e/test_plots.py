"""`dvc plots show` and `dvc plots diff` on a real run, looked at in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from ..conftest import ROOT
from ..project_copy import ONE_EPOCH, commit, dvc, make_project, set_params

TEMPLATE = ROOT / "build/plots-template.html"
CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM or not TEMPLATE.is_file(),
        reason="needs chromium and build/plots-template.html (make test installs both)",
    ),
]

# Records what the page itself reports as broken, where --dump-dom can read it.
CAPTURE_ERRORS = """<script>
window.pageErrors = [];
function reportError(message) {
  window.pageErrors.push(String(message));
  let pre = document.getElementById("page-errors");
  if (!pre) {
    pre = document.createElement("pre");
    pre.id = "page-errors";
    document.body.appendChild(pre);
  }
  pre.textContent = JSON.stringify(window.pageErrors);
}
window.addEventListener("error", (event) => reportError(event.message));
window.addEventListener("unhandledrejection", (event) => reportError(event.reason));
const originalError = console.error;
console.error = (...args) => { reportError(args.join(" ")); originalError(...args); };
</script>"""

# accuracy and loss curves, confusion matrix, F1 by class, reliability with the temperature and
# before it, predict confidence
VEGA_PLOTS = 7
IMAGES = {"samples.png", "mistakes.png", "confusion.png", "reliability.png"}


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=20000",
        "--window-size=1400,5000",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=True
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory, one_epoch_run):
    """Two committed runs, one and two epochs, so that `dvc plots diff` has two revisions. The
    first is the session's run, restored from the run-cache; the second trains."""
    path = make_project(tmp_path_factory.mktemp("plots"), ONE_EPOCH, one_epoch_run)
    dvc(path, "repro")
    commit(path, "one epoch")
    set_params(path, {"train": {"epochs": 2}})
    dvc(path, "repro")
    commit(path, "two epochs")
    template = path.parent / "template.html"
    template.write_text(TEMPLATE.read_text().replace("<head>", "<head>\n" + CAPTURE_ERRORS, 1))
    return path, template


def render(page: Path, tmp_path: Path) -> tuple[str, np.ndarray]:
    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "dom-profile").stdout
    shot = tmp_path / "page.png"
    chromium(f"--screenshot={shot}", page.as_uri(), profile=tmp_path / "shot-profile")
    return dom, imread(shot)


def assert_rendered(dom: str, screenshot: np.ndarray, page_dir: Path) -> None:
    assert 'id="page-errors"' not in dom, dom[dom.find('id="page-errors"') :][:500]
    canvases = [c for c in dom.split("<canvas")[1:] if 'class="marks"' in c.split(">")[0]]
    assert len(canvases) == VEGA_PLOTS
    for canvas in canvases:
        attributes = canvas.split(">")[0]
        width = int(attributes.split('width="')[1].split('"')[0])
        height = int(attributes.split('height="')[1].split('"')[0])
        assert width > 100 and height > 100, attributes
    # DVC copies each picture beside the page, under static/, one per revision.
    sources = re.findall(r'<img src="(static/[^"]+)"', dom)
    assert {name for name in IMAGES if any(s.endswith(name) for s in sources)} == IMAGES
    assert all((page_dir / source).stat().st_size > 10_000 for source in sources)
    # Not a blank page: plenty of non-white pixels, and not one flat colour.
    ink = (screenshot[..., :3].mean(axis=-1) < 0.9).mean()
    assert ink > 0.02 and screenshot.std() > 0.05, (ink, screenshot.std())


def test_plots_show_renders_every_plot_offline(project, tmp_path):
    path, template = project
    out = tmp_path / "show"
    dvc(path, "plots", "show", "--html-template", str(template), "-o", str(out))
    html = (out / "index.html").read_text()
    assert "cdn.jsdelivr.net" not in html  # vega is inlined: the page needs no network
    dom, screenshot = render(out / "index.html", tmp_path)
    assert_rendered(dom, screenshot, out)


def test_plots_diff_compares_two_commits(project, tmp_path):
    path, template = project
    data = json.loads(dvc(path, "plots", "diff", "HEAD~1", "--json").stdout)["data"]
    for plot in ("accuracy", "loss", "reports/confusion.json", "reports/per_class.json"):
        assert [item["revisions"] for item in data[plot]] == [["workspace", "HEAD~1"]], plot
    # Pictures are not merged: one per revision.
    assert len(data["reports/figures/mistakes.png"]) == 2
    out = tmp_path / "diff"
    dvc(path, "plots", "diff", "HEAD~1", "--html-template", str(template), "-o", str(out))
    dom, screenshot = render(out / "index.html", tmp_path)
    assert_rendered(dom, screenshot, out)
