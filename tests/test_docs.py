"""The README and docs/ as a reader follows them: every relative link and anchor resolves, every
page is reachable from the README, the `make` targets named exist, and the LiteRT snippet runs
as a user who deploys model.tflite elsewhere would run it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist.core.dataset import save_split

from .conftest import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def prose(page: Path) -> str:
    """The page without its code blocks, where brackets are code, not links."""
    return FENCE.sub("", page.read_text())


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but hyphens dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", prose(page), re.M):
        name, n = slug(heading), 1
        while name in found:  # GitHub numbers a repeated heading's anchor
            name, n = f"{slug(heading)}-{n}", n + 1
        found.add(name)
    return found


def links(page: Path) -> list[str]:
    return [t for t in LINK.findall(prose(page)) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(page):
    assert links(page) or page.name == "README.md", f"{page.name} links nowhere, not even back"
    for target in links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target}: no such file"
        if anchor:
            assert anchor in anchors(resolved), f"{page.name}: {target}: no such heading"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(README)}
    assert set(PAGES[1:]) <= linked, set(PAGES[1:]) - linked


def test_the_readme_is_a_front_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    assert not re.search(r"\b(I|I'm|I've|we|We|our|Our)\b", prose(README))  # product voice


def test_every_make_target_the_docs_name_exists():
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    phony = set(re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split())
    for page in PAGES:
        text = page.read_text()  # `make X` in prose, or a command line in a code block
        named = set(re.findall(r"`make ([a-z][a-z-]*)", text))
        named |= set(re.findall(r"^\s*(?:\$ )?make ([a-z][a-z-]*)", text, re.M))
        assert named <= phony, (page.name, named - phony)


def test_the_litert_snippet_classifies_test_image_0(trained, real_test, tmp_path):
    page = (ROOT / "docs/model.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?from ai_edge_litert.*?)```", page, re.S)
    (tmp_path / "models").mkdir()
    (tmp_path / "models/model.tflite").write_bytes(trained[1].read_bytes())
    save_split(tmp_path / "data/prepared/test.npz", real_test)
    # A process of its own, as in a user's script: no fmnist import, no TensorFlow.
    probe = snippet + "\nimport sys; assert not {'tensorflow', 'fmnist'} & set(sys.modules)\n"
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Ankle boot\n"
