"""The second round's near-OOD sets: things that are not clothing, from Debian's fonts and icon
themes, pinned by hash (fmnist.pipeline.ood.things)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from fmnist.pipeline.ood import sets, things

TRUST = Path(__file__).parents[3] / "docs" / "trust.md"


def test_every_source_is_here_as_pinned():
    assert things.missing_packages() == []


@pytest.mark.parametrize(
    "name", ["icons", "pictographs", "material_icons", "emoji", "tango", "gnome"]
)
def test_each_source_draws_distinct_pictures_with_an_object(name):
    pictures = things.pictures(name)
    assert len(pictures) >= (200 if name in ("tango", "gnome") else 500)
    assert all(p.dtype == np.uint8 and p.min() < p.max() for p in pictures)
    assert len({p.tobytes() for p in pictures}) > 0.95 * len(pictures)


def test_no_clothing_is_drawn():
    names = things._names(things.FONT_AWESOME_NAMES, r"\.fa-")
    kept = things._code_points(things.checked(things.FONT_AWESOME), names)
    assert {names[c] for c in kept}.isdisjoint({"shirtsinbulk", "shopping-bag", "suitcase"})
    assert "glass" in {names[c] for c in kept}
    pictographs = things._code_points(things.checked(things.EMOJI), None)
    assert 0x1F455 not in pictographs  # T-shirt
    assert 0x1F45F not in pictographs  # athletic shoe
    assert 0x1F431 in pictographs  # cat face


def test_a_missing_or_different_source_is_refused_in_one_line(tmp_path):
    missing = dataclasses.replace(things.SYMBOLA, path=str(tmp_path / "Symbola.ttf"))
    with pytest.raises(things.SourceError) as error:
        things.checked(missing)
    assert str(error.value) == (
        f"{tmp_path / 'Symbola.ttf'}: missing; install the Debian package fonts-symbola"
    )
    changed = tmp_path / "fontawesome.ttf"
    shutil.copy(things.FONT_AWESOME.path, changed)
    with changed.open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(things.SourceError, match="not the file these sets were made from"):
        things.checked(dataclasses.replace(things.FONT_AWESOME, path=str(changed)))


def test_the_sets_come_as_arrays_and_as_files_the_same_on_every_build():
    by_name = {s.name: s for s in sets.SETS}
    tensors = sets.build(by_name["icons"], 7)
    files = sets.build(by_name["icon_files"], 7)
    assert tensors.shape == files.shape == (len(things.pictures("icons")), 28, 28)
    assert tensors.min() >= 0 and files.min() >= 0 and max(tensors.max(), files.max()) <= 1
    # Resized and often JPEG on the way: the files differ from the arrays, but not by much.
    assert not np.array_equal(tensors, files)
    assert np.mean(np.abs(tensors - files)) < 0.1
    things._font_pictures.cache_clear()
    assert np.array_equal(sets.build(by_name["icon_files"], 7), files)
    assert by_name["tango_icons"].held_back and not by_name["emoji_files"].held_back


def test_the_held_back_sets_are_the_ones_whose_hashes_were_committed(ood_sets_file):
    """docs/trust.md lists each held-back set's SHA-256, committed before it was scored."""
    table = dict(re.findall(r"^\| (\w+) \| \d+ \| `([0-9a-f]{64})` \|$", TRUST.read_text(), re.M))
    held_back = [s.name for s in sets.SETS if s.held_back and s.name not in ("charts", "graphics")]
    assert sorted(table) == sorted(held_back)
    with np.load(ood_sets_file) as arrays:
        for name, expected in table.items():
            data = np.ascontiguousarray(arrays[name], "<f4").tobytes()
            assert hashlib.sha256(data).hexdigest() == expected, name
