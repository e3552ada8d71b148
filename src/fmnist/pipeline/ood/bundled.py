"""Non-clothing pictures from what scikit-learn and Matplotlib bundle (their sample photos,
digits, elevation maps, an MRI slice, graphics and fonts): crops and rendered characters, the
same on every run for the same seed."""

from __future__ import annotations

import gzip
import string
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sklearn.datasets import load_digits, load_sample_images

from fmnist.decoding import normalise
from fmnist.pipeline.ood.drawn import as_file

_MPL_DATA = Path(matplotlib.get_data_path())
_FONTS, _SAMPLES = _MPL_DATA / "fonts" / "ttf", _MPL_DATA / "sample_data"


def _to_u8(field: np.ndarray) -> np.ndarray:
    """Min-max scaled to 0-255."""
    span = max(float(field.max() - field.min()), 1e-9)
    return np.round(255 * (field - field.min()) / span).astype(np.uint8)


def _crops(gray: np.ndarray, count: int, sides: tuple[int, int], rng) -> list[np.ndarray]:
    height, width = gray.shape
    out = []
    for _ in range(count):
        side = int(rng.integers(sides[0], min(sides[1], height, width) + 1))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        out.append(as_file(_to_u8(gray[top : top + side, left : left + side].astype(np.float64))))
    return out


def _text(text: str, font: ImageFont.FreeTypeFont, size: tuple[int, int]) -> np.ndarray:
    canvas = Image.new("L", size, 255)
    ImageDraw.Draw(canvas).text((size[0] // 2, size[1] // 2), text, fill=0, font=font, anchor="mm")
    return as_file(np.asarray(canvas))


def digits(rng) -> list[np.ndarray]:
    """scikit-learn's 1,797 handwritten 8x8 digits, scaled into 28x28 as arrays."""
    return [normalise(image.astype(np.float32) / 16.0) for image in load_digits().images]


def glyphs(rng) -> list[np.ndarray]:
    """94 characters (letters, digits, punctuation) in four DejaVu faces, black on white."""
    faces = [
        ("DejaVuSans.ttf", 40),
        ("DejaVuSerif-Bold.ttf", 56),
        ("DejaVuSansMono.ttf", 32),
        ("DejaVuSans-Oblique.ttf", 72),
    ]
    characters = string.ascii_letters + string.digits + string.punctuation
    return [
        _text(char, ImageFont.truetype(str(_FONTS / name), size), (2 * size, 2 * size))
        for name, size in faces
        for char in characters
    ]


def photos(rng) -> list[np.ndarray]:
    """400 square crops (48-320 px) of scikit-learn's two scene photos: a photo of a scene."""
    out = []
    for photo in load_sample_images().images:
        out += _crops(np.asarray(Image.fromarray(photo).convert("L")), 200, (48, 320), rng)
    return out


def portrait(rng) -> list[np.ndarray]:
    """150 square crops (48-400 px) of Matplotlib's portrait photo (grace_hopper.jpg)."""
    gray = np.asarray(Image.open(_SAMPLES / "grace_hopper.jpg").convert("L"))
    return _crops(gray, 150, (48, 400), rng)


def terrain(rng) -> list[np.ndarray]:
    """150 crops of Matplotlib's two elevation maps, each scaled to the full gray range."""
    fault = np.load(_SAMPLES / "jacksboro_fault_dem.npz")["elevation"]
    topography = np.load(_SAMPLES / "topobathy.npz")["topo"]
    return _crops(fault, 100, (48, 300), rng) + _crops(topography, 50, (32, 90), rng)


def words(rng) -> list[np.ndarray]:
    """100 random 3-8 letter strings in six DejaVu faces (28-48 pt)."""
    faces = [
        "DejaVuSans.ttf",
        "DejaVuSerif.ttf",
        "DejaVuSansMono-Bold.ttf",
        "DejaVuSans-BoldOblique.ttf",
        "DejaVuSerif-Italic.ttf",
        "DejaVuSansDisplay.ttf",
    ]
    letters = list(string.ascii_letters + string.digits)
    out = []
    for _ in range(100):
        font = ImageFont.truetype(
            str(_FONTS / faces[int(rng.integers(0, 6))]), int(rng.integers(28, 49))
        )
        out.append(_text("".join(rng.choice(letters, int(rng.integers(3, 9)))), font, (400, 100)))
    return out


def landscapes(rng) -> list[np.ndarray]:
    """The three photos whole, and 150 wide crops of them (aspect 1.2-2.0): a photo as taken,
    fitted into 28x28 between black bands."""
    photos = [np.asarray(Image.fromarray(p).convert("L")) for p in load_sample_images().images]
    photos.append(np.asarray(Image.open(_SAMPLES / "grace_hopper.jpg").convert("L")))
    out = [as_file(photo) for photo in photos]
    for index in range(150):
        photo = photos[index % 3]
        height = int(rng.integers(80, photo.shape[0] + 1))
        width = min(photo.shape[1], int(height * rng.uniform(1.2, 2.0)))
        height = min(height, photo.shape[0])
        top = int(rng.integers(0, photo.shape[0] - height + 1))
        left = int(rng.integers(0, photo.shape[1] - width + 1))
        out.append(as_file(np.ascontiguousarray(photo[top : top + height, left : left + width])))
    return out


def graphics(rng) -> list[np.ndarray]:
    """Held back: Matplotlib's logo and its present picture, whole and in 58 random crops."""
    pictures = []
    for name in ("logo2.png", "Minduka_Present_Blue_Pack.png"):
        with Image.open(_SAMPLES / name) as picture:
            pictures.append(np.asarray(picture.convert("RGBA").convert("L")))
    out = [as_file(picture) for picture in pictures]
    for index in range(58):
        picture = pictures[index % 2]
        out += _crops(picture, 1, (24, min(picture.shape)), rng)
    return out


def scans(rng) -> list[np.ndarray]:
    """500 crops (40-256 px) of Matplotlib's MRI slice of a head (s1045.ima.gz)."""
    with gzip.open(_SAMPLES / "s1045.ima.gz") as stream:
        slice_ = np.frombuffer(stream.read(), ">u2").reshape(256, 256)
    return _crops(slice_, 500, (40, 256), rng)


def symbols(rng) -> list[np.ndarray]:
    """100 mathematical symbols and Greek letters in the STIX and Computer Modern
    faces (fonts the tuning sets never used)."""
    faces = ["STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf"]
    characters = "∑∏∫∮∂∇√∞≈≠≡≤≥±∓×÷∝∠∧∨∩∪⊂⊃⊆⊇∈∉∀∃∅⊕⊗⊥αβγδεζηθικλμνξπρστυφχψωΓΔΘΛΞΠΣΦΨΩ★♠♣♥♦♪"  # noqa: RUF001 (the look-alikes are the point)
    out = []
    for i in range(100):
        font = ImageFont.truetype(str(_FONTS / faces[i % 3]), int(rng.integers(36, 73)))
        out.append(_text(characters[int(rng.integers(0, len(characters)))], font, (160, 160)))
    return out
