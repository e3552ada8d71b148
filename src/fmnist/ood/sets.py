"""The images evaluate measures the flag on: things that are not clothing, made offline and
the same on every run (seeded; only scikit-learn's and Matplotlib's bundled data and fonts).

Each set reaches the checks the way a user's input would: arrays as tensors, pictures saved
as files and decoded by `fmnist predict`'s own decoding. Held-back sets were made after the
checks and their thresholds were fixed, and are reported apart: they were never tuned on.
"""

from __future__ import annotations

import gzip
import io
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import gaussian_filter
from sklearn.datasets import load_digits, load_sample_images

from fmnist.tools.images import load_image, normalise

# Test images made into files, the reference for sets that come as files: 2,000 fix its 95th
# percentile to within about half a percent and take 2 s to make.
CLOTHING_FILES = 2000
CLOTHING_FILES_KEY = "clothing_files"
_MPL_DATA = Path(matplotlib.get_data_path())
_FONTS, _SAMPLES = _MPL_DATA / "fonts" / "ttf", _MPL_DATA / "sample_data"


def as_file(gray: np.ndarray) -> np.ndarray:
    """A uint8 gray picture saved as PNG and decoded as `fmnist predict FILE` decodes it."""
    buffer = io.BytesIO()
    Image.fromarray(gray, mode="L").save(buffer, format="PNG")
    return load_image(io.BytesIO(buffer.getvalue()), "set image")


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


def noise(rng) -> list[np.ndarray]:
    """1,000 uniform-noise arrays."""
    return [normalise(image) for image in rng.random((1000, 28, 28), dtype=np.float32)]


def constants(rng) -> list[np.ndarray]:
    """50 constant arrays from black to white."""
    return [np.full((28, 28), level, np.float32) for level in np.linspace(0, 1, 50)]


def constant_files(rng) -> list[np.ndarray]:
    """The same 50 levels as 64x64 pictures (a blank photo, a white page)."""
    levels = np.round(np.linspace(0, 255, 50)).astype(np.uint8)
    return [as_file(np.full((64, 64), level, np.uint8)) for level in levels]


def photos(rng) -> list[np.ndarray]:
    """400 square crops (48-320 px) of scikit-learn's two scene photos: a photo of a scene."""
    out = []
    for photo in load_sample_images().images:
        out += _crops(np.asarray(Image.fromarray(photo).convert("L")), 200, (48, 320), rng)
    return out


def blobs(rng) -> list[np.ndarray]:
    """200 smooth random shapes (smoothed noise above a quantile): silhouettes of nothing."""
    out = []
    for _ in range(200):
        field = gaussian_filter(rng.standard_normal((96, 96)), sigma=float(rng.uniform(4, 12)))
        cut = np.quantile(field, float(rng.uniform(0.6, 0.9)))
        out.append(
            as_file(
                np.round(255 * np.clip((field - cut) / (field.max() - cut), 0, 1)).astype(np.uint8)
            )
        )
    return out


def patterns(rng) -> list[np.ndarray]:
    """100 checkerboards and stripes (period 6-30 px, random phase and angle)."""
    y, x = np.mgrid[0:84, 0:84].astype(np.float64)
    out = []
    for i in range(100):
        period, angle = float(rng.uniform(6, 30)), float(rng.uniform(0, np.pi))
        u = x * np.cos(angle) + y * np.sin(angle) + rng.uniform(0, period)
        if i < 50:
            v = -x * np.sin(angle) + y * np.cos(angle) + rng.uniform(0, period)
            image = (np.floor(u / period) + np.floor(v / period)) % 2
        else:
            image = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * u / period))
        out.append(as_file(np.round(255 * image).astype(np.uint8)))
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


def drawings(rng) -> list[np.ndarray]:
    """200 line drawings: 1-4 lines, ellipses, rectangles, polygons or arcs, 2-8 px strokes."""
    out = []
    for _ in range(200):
        canvas = Image.new("L", (128, 128), 255)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(1, 5))):
            kind, width = int(rng.integers(0, 5)), int(rng.integers(2, 9))
            points = [
                tuple(int(v) for v in rng.integers(8, 120, 2))
                for _ in range(int(rng.integers(3, 7)))
            ]
            (x0, y0), (x1, y1) = points[0], points[1]
            box = [min(x0, x1), min(y0, y1), max(x0, x1) + 10, max(y0, y1) + 10]
            if kind == 0:
                draw.line(points[:2], fill=0, width=width)
            elif kind == 1:
                draw.ellipse(box, outline=0, width=width)
            elif kind == 2:
                draw.rectangle(box, outline=0, width=width)
            elif kind == 3:
                draw.polygon(points, outline=0, width=width)
            else:
                start, end = int(rng.integers(0, 360)), int(rng.integers(0, 360))
                draw.arc(box, start, end, fill=0, width=width)
        out.append(as_file(np.asarray(canvas)))
    return out


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


def gradients(rng) -> list[np.ndarray]:
    """50 linear and radial ramps between two random gray levels."""
    y, x = np.mgrid[0:64, 0:64] / 63.0
    out = []
    for i in range(50):
        if i < 25:
            angle = rng.uniform(0, 2 * np.pi)
            ramp = x * np.cos(angle) + y * np.sin(angle)
        else:
            centre_y, centre_x = rng.uniform(0, 1, 2)
            ramp = np.hypot(x - centre_x, y - centre_y)
        ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
        low, high = rng.uniform(0, 1, 2)
        out.append(as_file(np.round(255 * (low + (high - low) * ramp)).astype(np.uint8)))
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


def charts(rng) -> list[np.ndarray]:
    """Held back: 100 charts drawn by Matplotlib (lines, bars, scatter, pie), as screenshots."""
    from matplotlib.figure import Figure

    out = []
    for index in range(100):
        figure = Figure(
            figsize=(rng.uniform(2.5, 5), rng.uniform(2, 4)), dpi=int(rng.integers(50, 101))
        )
        axes = figure.add_subplot()
        x = np.arange(int(rng.integers(4, 30)))
        kind = index % 4
        if kind == 0:
            for _ in range(int(rng.integers(1, 4))):
                axes.plot(x, np.cumsum(rng.normal(size=len(x))))
        elif kind == 1:
            axes.bar(x, rng.uniform(0.5, 5, len(x)))
        elif kind == 2:
            axes.scatter(rng.normal(size=len(x) * 5), rng.normal(size=len(x) * 5), s=8)
        else:
            axes.pie(rng.uniform(1, 5, int(rng.integers(2, 7))))
        axes.set_title(f"Figure {index}")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        out.append(load_image(io.BytesIO(buffer.getvalue()), "chart"))
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
    """100 crops (40-256 px) of Matplotlib's MRI slice of a head (s1045.ima.gz)."""
    with gzip.open(_SAMPLES / "s1045.ima.gz") as stream:
        slice_ = np.frombuffer(stream.read(), ">u2").reshape(256, 256)
    return _crops(slice_, 100, (40, 256), rng)


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


def scribbles(rng) -> list[np.ndarray]:
    """100 pen scribbles: a smooth random walk of 20-80 steps, 3-10 px wide."""
    out = []
    for _ in range(100):
        canvas = Image.new("L", (160, 160), 255)
        heading, turn = float(rng.uniform(0, 2 * np.pi)), 0.0
        point = rng.uniform(50, 110, 2)
        trail = [tuple(point)]
        for _ in range(int(rng.integers(20, 81))):
            turn = 0.8 * turn + float(rng.normal(0, 0.35))
            heading += turn
            point = np.clip(point + 5 * np.array([np.cos(heading), np.sin(heading)]), 5, 155)
            trail.append(tuple(point))
        ImageDraw.Draw(canvas).line(trail, fill=0, width=int(rng.integers(3, 11)), joint="curve")
        out.append(as_file(np.asarray(canvas)))
    return out


@dataclass(frozen=True)
class OodSet:
    """One set: how it is made, and how its images reach the model ("tensor" or "file")."""

    name: str
    build: Callable[[np.random.Generator], list[np.ndarray]]
    kind: str
    held_back: bool = False


SETS = (
    OodSet("digits", digits, "tensor"),
    OodSet("noise", noise, "tensor"),
    OodSet("constants", constants, "tensor"),
    OodSet("glyphs", glyphs, "file"),
    OodSet("constant_files", constant_files, "file"),
    OodSet("photos", photos, "file"),
    OodSet("blobs", blobs, "file"),
    OodSet("patterns", patterns, "file"),
    OodSet("portrait", portrait, "file"),
    OodSet("terrain", terrain, "file"),
    OodSet("drawings", drawings, "file"),
    OodSet("words", words, "file"),
    OodSet("gradients", gradients, "file"),
    # Held back at first, scored once; the fifth check (fill) came after, for landscapes.
    OodSet("scans", scans, "file"),
    OodSet("symbols", symbols, "file"),
    OodSet("scribbles", scribbles, "file"),
    OodSet("landscapes", landscapes, "file"),
    # Made after the five checks and their thresholds were fixed, and scored once.
    OodSet("charts", charts, "file", held_back=True),
    OodSet("graphics", graphics, "file", held_back=True),
)


def build(ood_set: OodSet, seed: int) -> np.ndarray:
    """The set's images, (N, 28, 28) float32; the same for the same seed."""
    return np.stack(ood_set.build(np.random.default_rng(seed))).astype(np.float32)
