"""Things that are not clothing, drawn as clothing is: icons, pictographs, emoji and desktop icons
from fonts and icon themes Debian ships, every one a single object on a plain background.

Each source gives two sets: the pictures as a user's file reaches the model (dark on white,
saved at some size as PNG or JPEG and decoded by `fmnist predict`), and the same pictures in
Fashion-MNIST's own form (light on black, trimmed and fitted into 28x28) as arrays. Glyphs and
icons named or coded as clothing or bags are left out. Every source file is checked against its
SHA-256 before use, so a set changes only when this code changes; a missing or different file is
refused in one line that names the Debian package to install (scripts/ensure-data.sh installs
them).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from fmnist.core.errors import FmnistError
from fmnist.decoding import load_image, normalise, to_unit_gray

# The largest set drawn from one source: a seeded sample of its glyphs beyond this.
LARGEST = 1000
_SAMPLE_SEED = 0  # the sample depends on the source alone: both sets of a source share it
# Names of glyphs and icons that are clothing, shoes or bags (or hold them): left out.
_CLOTHING_NAME = re.compile(
    r"shirt|bag|suitcase|briefcase|tie\b|shopping|shoe|boot|sandal|sock|dress|coat|jacket|"
    r"trouser|pant|purse|wallet|luggage|backpack|checkroom|mall|business.center|hanger|skirt|"
    r"bikini|swim|glove|scarf|kimono|jean|hoodie|sneaker|heel|cart|basket",
    re.IGNORECASE,
)
# Unicode's clothing, shoes and bags (U+1F454-1F462 necktie to boots, then the later additions).
_CLOTHING_POINTS = frozenset(
    [
        *range(0x1F454, 0x1F463),
        *(0x1F392, 0x1F3BD, 0x1F6CD, 0x1F9BA),
        *range(0x1F97B, 0x1F980),
        *range(0x1F9E3, 0x1F9E7),
        *range(0x1FA71, 0x1FA76),
    ]
)
# The Unicode blocks of pictures: symbols, dingbats, pictographs, transport, supplemental.
_BLOCKS = ((0x2600, 0x27C0), (0x1F300, 0x1F650), (0x1F680, 0x1F700), (0x1F900, 0x1FA00))


class SourceError(FmnistError):
    """A font or icon theme the sets are drawn from is missing or not the expected file."""


@dataclass(frozen=True)
class Source:
    """A file the sets read, the Debian package that installs it, and its SHA-256."""

    path: str
    package: str
    sha256: str


FONT_AWESOME = Source(
    "/usr/share/fonts/truetype/font-awesome/fontawesome-webfont.ttf",
    "fonts-font-awesome",
    "aa58f33f239a0fb02f5c7a6c45c043d7a9ac9a093335806694ecd6d4edc0d6a8",
)
FONT_AWESOME_NAMES = Source(
    "/usr/share/fonts-font-awesome/css/font-awesome.css",
    "fonts-font-awesome",
    "36e0a7e08bee65774168528938072c536437669c1b7458ac77976ec788e4439c",
)
SYMBOLA = Source(
    "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
    "fonts-symbola",
    "af8bd8cc9c808272034651cb5ebf6c38370ae536fe631eb89462f127f11e793f",
)
MATERIAL = Source(
    "/usr/share/fonts/truetype/material-design-icons-iconfont/MaterialIcons-Regular.ttf",
    "fonts-material-design-icons-iconfont",
    "29c11fa532ebb58db7ef59c860e4eb935bc2921a8654172d8e889e51f85c6004",
)
MATERIAL_NAMES = Source(
    "/usr/share/fonts-material-design-icons-iconfont/css/material-design-icons.css",
    "fonts-material-design-icons-iconfont",
    "9ec1c4350b7a75c62c8fc9ad85c4274cb33d80aa818f434de8981e562060fd4b",
)
EMOJI = Source(
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "fonts-noto-color-emoji",
    "e5899ed38b8ed83e08bd3ac5de09791e9d19d288333a796de1d35ad17396f1ec",
)
# Icon themes: every PNG of one size, checked as a whole (names and bytes, sorted).
TANGO = Source(
    "/usr/share/icons/Tango/32x32",
    "tango-icon-theme",
    "7d97d41741fb8ff9633d3cf479ad975d39c99a57ff8750fc3f76811610b508f2",
)
GNOME = Source(
    "/usr/share/icons/gnome/256x256",
    "gnome-icon-theme",
    "2fd36b0947875983940fb547486c31d28add78f58ef5328be42166c7d7271c29",
)
SOURCES = (FONT_AWESOME, FONT_AWESOME_NAMES, SYMBOLA, MATERIAL, MATERIAL_NAMES, EMOJI, TANGO, GNOME)


@lru_cache(maxsize=4)  # the check and the set read a theme once
def _pictures(folder: Path) -> tuple[tuple[Path, bytes], ...]:
    """A theme folder's PNG files with their SHA-256, sorted, one per distinct content (themes
    link aliases)."""
    found: dict[bytes, Path] = {}
    for path in sorted(folder.rglob("*.png")):
        if not _CLOTHING_NAME.search(path.stem):
            found.setdefault(hashlib.sha256(path.read_bytes()).digest(), path)
    return tuple(sorted((path, content) for content, path in found.items()))


def digest(path: Path) -> str:
    """A file's SHA-256, or a folder's: over its pictures' names and contents, in order."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    total = hashlib.sha256()
    for picture, content in _pictures(path):
        total.update(f"{picture.relative_to(path)}\n".encode())
        total.update(content)
    return total.hexdigest()


def checked(source: Source) -> Path:
    """The source's path, once its bytes match the pinned SHA-256."""
    path = Path(source.path)
    if not path.exists():
        raise SourceError(f"{path}: missing; install the Debian package {source.package}")
    if digest(path) != source.sha256:
        raise SourceError(
            f"{path}: not the file these sets were made from (another version of "
            f"{source.package}?); the sets would change"
        )
    return path


def _names(css: Source, prefix: str) -> dict[int, str]:
    """Code point -> icon name, from an icon font's style sheet."""
    text = checked(css).read_text()
    pattern = prefix + r"([\w-]+):before\s*\{\s*content:\s*\"\\(\w+)\""
    return {int(code, 16): name for name, code in re.findall(pattern, text)}


def _code_points(font: Path, names: dict[int, str] | None) -> list[int]:
    """The font's glyphs to draw: its named icons, or its pictures in the Unicode blocks; never
    clothing."""
    cmap = TTFont(font, lazy=True).getBestCmap()
    if names is not None:
        return sorted(
            c for c, name in names.items() if c in cmap and not _CLOTHING_NAME.search(name)
        )
    return [
        c
        for low, high in _BLOCKS
        for c in range(low, high)
        if c in cmap and c not in _CLOTHING_POINTS
    ]


def _glyph(font: ImageFont.FreeTypeFont, code: int, size: int, color: bool) -> np.ndarray:
    """One glyph drawn black (or in its own colours) on white, in a frame three times its size."""
    side = 3 * size
    canvas = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    ImageDraw.Draw(canvas).text(
        (side // 2, side // 2),
        chr(code),
        fill=(0, 0, 0, 255),
        font=font,
        anchor="mm",
        embedded_color=color,
    )
    return np.asarray(canvas.convert("L"))


def _sample(items: list, rng: np.random.Generator) -> list:
    if len(items) <= LARGEST:
        return items
    return [items[i] for i in sorted(rng.choice(len(items), LARGEST, replace=False))]


@lru_cache(maxsize=1)  # the tensor and the file set of a source draw the same pictures
def _font_pictures(font_source: Source, names_source: Source | None, prefix: str):
    """(uint8 gray pictures, dark on white) of a font's glyphs, a seeded sample of LARGEST."""
    path = checked(font_source)
    names = None if names_source is None else _names(names_source, prefix)
    codes = _sample(_code_points(path, names), np.random.default_rng(_SAMPLE_SEED))
    color = font_source is EMOJI  # a bitmap font: drawn at its one size, in colour
    size = 109 if color else 64
    font = ImageFont.truetype(str(path), size)
    pictures = [_glyph(font, code, size, color) for code in codes]
    return tuple(p for p in pictures if (p < 128).any())  # a glyph that draws nothing: skipped


@lru_cache(maxsize=1)
def _theme_pictures(source: Source):
    """(uint8 gray pictures) of a theme's icons, transparency on white, a seeded sample."""
    pictures = []
    paths = [path for path, _ in _pictures(checked(source))]
    for path in _sample(paths, np.random.default_rng(_SAMPLE_SEED)):
        with Image.open(path) as icon:
            icon.load()
            pictures.append(np.round(255 * to_unit_gray(icon)).astype(np.uint8))
    return tuple(pictures)


def _as_file(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A picture as a user's file brings it: resized to 32-256 px (bicubic), saved as PNG or as
    JPEG (quality 75-95, half of them), and decoded as `fmnist predict` decodes it."""
    side = int(rng.integers(32, 257))
    picture = Image.fromarray(gray, mode="L").resize((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    if rng.random() < 0.5:
        picture.save(buffer, format="JPEG", quality=int(rng.integers(75, 96)))
    else:
        picture.save(buffer, format="PNG", compress_level=1)
    return load_image(io.BytesIO(buffer.getvalue()), "set picture")


def _as_tensor(gray: np.ndarray) -> np.ndarray:
    return normalise(gray.astype(np.float32) / np.float32(255.0))


_FONTS = {
    "icons": (FONT_AWESOME, FONT_AWESOME_NAMES, r"\.fa-"),
    "pictographs": (SYMBOLA, None, ""),
    "material_icons": (MATERIAL, MATERIAL_NAMES, r"\.material-icons\."),
    "emoji": (EMOJI, None, ""),
}
_THEMES = {"tango": TANGO, "gnome": GNOME}


def pictures(source: str) -> tuple[np.ndarray, ...]:
    """A source's pictures by its set name (the keys of _FONTS and _THEMES)."""
    if source in _THEMES:
        return _theme_pictures(_THEMES[source])
    return _font_pictures(*_FONTS[source])


def as_tensors(source: str) -> list[np.ndarray]:
    """The source's pictures in Fashion-MNIST's form, as arrays."""
    return [_as_tensor(gray) for gray in pictures(source)]


def as_files(source: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The source's pictures saved as files (size and format drawn from `rng`) and decoded as
    `fmnist predict` decodes them."""
    return [_as_file(gray, rng) for gray in pictures(source)]


def missing_packages() -> list[str]:
    """The Debian packages whose files are missing here or differ from the pinned ones."""
    wrong = (s for s in SOURCES if not Path(s.path).exists() or digest(Path(s.path)) != s.sha256)
    return list(dict.fromkeys(s.package for s in wrong))


if __name__ == "__main__":  # scripts/ensure-data.sh: the packages to install, one line
    print(" ".join(missing_packages()))
