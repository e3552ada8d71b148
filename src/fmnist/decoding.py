"""Turning a user's image or array into Fashion-MNIST's form: 28x28 float32, light object on black.

Fashion-MNIST was made by trimming the background, fitting the object's longest side into 28
pixels, centring it, inverting (light on dark) and going to grayscale; this does the same.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fmnist.core.dataset import IMAGE_SHAPE
from fmnist.core.errors import FmnistError
from fmnist.memory import memory_budget, size_text

# Pillow's names of the only formats decoded, and the suffixes a folder is searched for.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
ARRAY_SUFFIX = ".npy"
NPY_MAGIC = b"\x93NUMPY"
READABLE_NAMES = "PNG, JPEG, BMP, GIF or .npy"
READABLE = f"fmnist reads {READABLE_NAMES}"
STDIN_NAME = "standard input"
SIDE = IMAGE_SHAPE[0]
# A pixel this far from the background counts as part of the object when trimming.
OBJECT_THRESHOLD = 0.1
# Refuse images so large that decoding them could exhaust memory (Pillow's own bomb check).
Image.MAX_IMAGE_PIXELS = 50_000_000


class InputError(FmnistError):
    """A file that cannot be turned into a Fashion-MNIST image."""


def to_unit_gray(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to a float32 gray array in [0, 1]; transparency composited onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Infinity as NaN: clipping would make it a plausible 1.0; load_image refuses NaN.
        array = np.asarray(image, dtype=np.float64)
        array[~np.isfinite(array)] = np.nan
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return np.clip(array / top, 0.0, 1.0).astype(np.float32)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255.0)


def light_on_dark(gray: np.ndarray) -> np.ndarray:
    """Invert when the background (the border's median) is light, as Fashion-MNIST is dark."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 1.0 - gray if np.median(border) > 0.5 else gray


def fit_to_frame(gray: np.ndarray) -> np.ndarray:
    """Trim to the object, fit its longest side into 28 pixels keeping aspect, centre it."""
    rows = np.flatnonzero((gray > OBJECT_THRESHOLD).any(axis=1))
    columns = np.flatnonzero((gray > OBJECT_THRESHOLD).any(axis=0))
    if rows.size:
        gray = gray[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    height, width = gray.shape
    scale = SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(Image.fromarray(gray, mode="F").resize(size, Image.Resampling.LANCZOS))
    frame = np.zeros(IMAGE_SHAPE, np.float32)
    top, left = (SIDE - size[1]) // 2, (SIDE - size[0]) // 2
    frame[top : top + size[1], left : left + size[0]] = np.clip(resized, 0.0, 1.0)
    return frame


def normalise(gray: np.ndarray) -> np.ndarray:
    """A [0, 1] gray image of any size to Fashion-MNIST's form; 28x28 input keeps its geometry."""
    gray = light_on_dark(gray)
    return gray.astype(np.float32) if gray.shape == IMAGE_SHAPE else fit_to_frame(gray)


def _content_format(head: bytes) -> str | None:
    """The format Pillow would take a file starting with `head` for, by its signature checks
    alone: nothing is opened or decoded."""
    Image.init()
    for name, (_factory, accept) in Image.OPEN.items():
        try:
            if accept is not None and accept(head):
                return name
        except Exception:  # a plugin's signature check, on input shorter than it wants
            continue
    return None


def load_image(stream: BinaryIO, name: str) -> np.ndarray:
    """Decode a PNG, JPEG, BMP or GIF (first frame of an animation) into one (28, 28) array.

    Only IMAGE_FORMATS' decoders are tried, on the content: a TIFF, WebP or EPS file named
    .png is refused, and Pillow's other plugins (EPS runs Ghostscript) never see a byte.
    """
    try:
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that, then decodes (up to 2.2 GB
        # and 10 s here at 50-100 MP): refused like the larger ones.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream, formats=IMAGE_FORMATS) as image:
                image.seek(0)
                image.load()
                # A phone's photo is stored sideways with an EXIF orientation tag: upright it.
                gray = to_unit_gray(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        stream.seek(0)
        found = _content_format(stream.read(64))
        if found in IMAGE_FORMATS:  # its signature, but a header Pillow cannot parse
            raise InputError(f"{name}: corrupt or truncated image (a damaged {found})") from None
        if found is not None:
            raise InputError(f"{name}: its content is {found}; {READABLE}") from None
        raise InputError(f"{name}: not a {READABLE_NAMES} file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = f"{Image.MAX_IMAGE_PIXELS:,}"
        raise InputError(
            f"{name}: image too large to decode safely (over {limit} pixels); shrink it first, "
            "e.g. `convert FILE -resize 1000x1000 small.png` (ImageMagick): 28x28 is all it uses"
        ) from None
    except (OSError, ValueError, SyntaxError) as error:
        raise InputError(f"{name}: corrupt or truncated image ({error})") from None
    if gray.size == 0:
        raise InputError(f"{name}: image has no pixels")
    if not np.isfinite(gray).all():  # a float (mode F) image can hold NaN or infinity
        raise InputError(f"{name}: contains NaN or infinity")
    return normalise(gray)


def _check_npy_size(stream: BinaryIO, name: str) -> None:
    """Refuse, from its header alone, a .npy whose data is not in the file or would not fit in
    memory: np.load would try to allocate it first (10^12 elements: 3.6 TiB)."""
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            return  # np.load's own checks below
        reader = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _fortran, dtype = reader(stream)
        start = stream.tell()
        held = stream.seek(0, io.SEEK_END) - start
    except (ValueError, OSError, EOFError, SyntaxError, TypeError):
        return  # a malformed header: np.load says what is wrong with it
    finally:
        stream.seek(0)
    if dtype.hasobject:
        return
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > held:
        raise InputError(
            f"{name}: header claims {size_text(claimed)} of data, the file holds {size_text(held)}"
        )
    values, budget = math.prod(shape), memory_budget()
    if values * 4 > budget:  # as float32
        raise InputError(
            f"{name}: {values:,} values need {size_text(values * 4)} as float32, more than "
            f"this machine can spare ({size_text(budget)}); split it"
        )


def load_array(stream: BinaryIO, name: str) -> np.ndarray:
    """A .npy of shape (28, 28) or (N, 28, 28): uint8 0-255 or floats in [0, 1]; no pickles."""
    _check_npy_size(stream, name)
    try:
        array = np.load(stream, allow_pickle=False)
    except ValueError as error:
        raise InputError(f"{name}: not a plain numeric .npy ({error})") from None
    except (OSError, EOFError) as error:
        raise InputError(f"{name}: unreadable .npy ({error})") from None
    shape = array.shape
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE or len(array) == 0:
        raise InputError(f"{name}: shape {shape}, expected (28, 28) or (N, 28, 28)")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    if array.dtype.kind != "f":
        raise InputError(f"{name}: dtype {array.dtype}, expected uint8 or float")
    if not np.isfinite(array).all():
        raise InputError(f"{name}: contains NaN or infinity")
    if array.min() < 0 or array.max() > 1:
        raise InputError(f"{name}: float values outside [0, 1]")
    return array.astype(np.float32)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given, and the image and .npy files directly inside given folders, sorted
    (a folder inside one is not an input, whatever its name)."""
    files = []
    for path in paths:
        if path.is_dir():
            suffixes = IMAGE_SUFFIXES | {ARRAY_SUFFIX}
            found = (p for p in path.iterdir() if p.suffix.lower() in suffixes and p.is_file())
            files += sorted(found)
        else:
            files.append(path)
    return files


class Decoded(NamedTuple):
    """Images and how they came: "tensor" (a .npy, as given) or "file" (a decoded picture)."""

    images: np.ndarray
    kind: str


def decode(stream: BinaryIO, name: str) -> Decoded:
    """(N, 28, 28) float32 images from a seekable binary stream, by its content: a .npy array
    by NumPy's signature, else an image of IMAGE_FORMATS; `name` is for messages."""
    head = stream.read(len(NPY_MAGIC))
    stream.seek(0)
    if not head:
        raise InputError(f"{name}: empty file")
    if head == NPY_MAGIC:
        return Decoded(load_array(stream, name), "tensor")
    return Decoded(load_image(stream, name)[np.newaxis], "file")


def load_input(path: Path) -> Decoded:
    """(N, 28, 28) float32 images from one file, decided by its content, not its suffix."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        with path.open("rb") as stream:
            return decode(stream, str(path))
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None


def read_stdin(stream: BinaryIO) -> Decoded:
    """Images from standard input (`-`), read whole but no larger than memory can spare."""
    limit = memory_budget()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{STDIN_NAME}: more than this machine can spare ({size_text(limit)})")
    return decode(io.BytesIO(data), STDIN_NAME)
