"""The Fashion-MNIST files, their checksums, and the prepared arrays the stages exchange."""

from __future__ import annotations

import gzip
import hashlib
import mmap
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist.core.atomic import atomic_path
from fmnist.core.errors import RESTORE_HINT, FmnistError
from fmnist.core.idx import parse_idx

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SHAPE = (28, 28)
TRAIN_SIZE = 60_000
TEST_SIZE = 10_000


@dataclass(frozen=True)
class RawFile:
    """One official IDX file: its name and the SHA-256 and size of its decompressed content."""

    name: str
    sha256: str
    size: int

    @property
    def gz_name(self) -> str:
        return f"{self.name}.gz"


TRAIN_IMAGES = RawFile(
    "train-images-idx3-ubyte",
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    47_040_016,
)
TRAIN_LABELS = RawFile(
    "train-labels-idx1-ubyte",
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    60_008,
)
TEST_IMAGES = RawFile(
    "t10k-images-idx3-ubyte",
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    7_840_016,
)
TEST_LABELS = RawFile(
    "t10k-labels-idx1-ubyte",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    10_008,
)
RAW_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


class DataError(FmnistError):
    """Data that is corrupt, truncated or not the official Fashion-MNIST content."""


def decompress(gz: bytes, name: str) -> bytes:
    """Gunzip `gz`, naming `name` if it is not gzip or is cut short."""
    try:
        return gzip.decompress(gz)
    except EOFError:
        raise DataError(f"{name}: truncated gzip stream ({len(gz)} bytes)") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{name}: not a valid gzip file ({error})") from None


def verify(raw: RawFile, content: bytes) -> None:
    """Check decompressed content against the official size and SHA-256."""
    if len(content) != raw.size:
        raise DataError(f"{raw.name}: {len(content)} bytes, expected {raw.size}")
    digest = hashlib.sha256(content).hexdigest()
    if digest != raw.sha256:
        raise DataError(f"{raw.name}: SHA-256 {digest} does not match the official {raw.sha256}")


@dataclass(frozen=True)
class Split:
    """Images scaled to float32 in [0, 1], shape (N, 28, 28), and integer labels 0-9, shape (N,)."""

    images: np.ndarray
    labels: np.ndarray


def to_split(images_idx: bytes, labels_idx: bytes, name: str) -> Split:
    """Parse a pair of IDX files into a normalised split, checking shapes and label range."""
    images = parse_idx(images_idx, f"{name} images")
    labels = parse_idx(labels_idx, f"{name} labels")
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{name} images: expected uint8 (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise DataError(f"{name} labels: expected uint8 ({len(images)},), got {labels.shape}")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DataError(f"{name} labels: label {labels.max()} outside 0-{len(CLASS_NAMES) - 1}")
    return Split(images.astype(np.float32) / np.float32(255.0), labels.astype(np.int64))


# A fixed timestamp keeps the .npz archives byte-identical across runs (np.savez embeds "now").
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as an uncompressed, byte-reproducible .npz, atomically."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def save_split(path: Path, split: Split) -> None:
    """Write a split as an uncompressed, byte-reproducible .npz, atomically."""
    save_arrays(path, {"images": split.images, "labels": split.labels})


# TensorFlow can use an array's memory in place, without copying (and page-faulting) the 188 MB
# of training images, only if it is 64-byte aligned; np.load's arrays are 16-byte aligned.
ALIGNMENT = 64


def _npy_header(member, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """A .npy stream's shape, dtype and data size, the stream left at the data."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
    else:
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
    if fortran_order or dtype.hasobject:
        raise ValueError(f"{name} is not a plain C-ordered numeric array")
    return shape, dtype, int(np.prod(shape, dtype=np.int64)) * dtype.itemsize


def _read_npy_aligned(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """One .npy member of an archive, read straight into a 64-byte-aligned array."""
    with archive.open(name) as member:
        shape, dtype, size = _npy_header(member, name)
        raw = np.empty(size + ALIGNMENT, np.uint8)
        start = -raw.ctypes.data % ALIGNMENT
        array = raw[start : start + size].view(dtype).reshape(shape)
        if member.readinto(memoryview(array).cast("B")) != size:
            raise ValueError(f"{name} is truncated")
    return array


# A zip member's local header: 30 bytes, then its name and an extra field of the lengths it gives.
_LOCAL_HEADER = struct.Struct("<4s22xHH")


def _mapped_arrays(path: Path, archive: zipfile.ZipFile, names: list[str]) -> dict:
    """Stored .npy members as read-only views of the file's own pages, the file mapped once: no
    copy, and no fresh memory to fault in, which costs more than the read on these machines
    (1.6-2.3 s for the 220 MB evaluate reads, against 0.03 s mapped). A compressed member is
    read instead."""
    with path.open("rb") as file:
        length = os.fstat(file.fileno()).st_size
        pages = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)  # a zip is never empty
        arrays = {}
        for name in names:
            info = archive.getinfo(name)
            if info.compress_type != zipfile.ZIP_STORED:
                arrays[name] = _read_npy_aligned(archive, name)
                continue
            file.seek(info.header_offset)
            magic, name_length, extra = _LOCAL_HEADER.unpack(file.read(_LOCAL_HEADER.size))
            if magic != b"PK\x03\x04":
                raise ValueError(f"{name} has no local header")
            file.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra)
            shape, dtype, size = _npy_header(file, name)
            # Reading past the end of a mapped file is a crash (SIGBUS), not an error: check first.
            if file.tell() + size > length or size > info.file_size:
                raise ValueError(f"{name} is truncated")
            count = int(np.prod(shape))
            arrays[name] = np.frombuffer(pages, dtype, count, file.tell()).reshape(shape)
    return arrays


def _read_arrays(
    path: Path, names: list[str], what: str, mapped: bool = False
) -> dict[str, np.ndarray]:
    """Named arrays of a .npz this pipeline wrote (`mapped`: as read-only memory-mapped views);
    one DataError line naming `what` it should be if it is missing, corrupt or lacks one."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [f"{name}.npy" for name in names]
            if mapped:
                found = _mapped_arrays(path, archive, members)
            else:
                found = {member: _read_npy_aligned(archive, member) for member in members}
            return {name: found[f"{name}.npy"] for name in names}
    except FileNotFoundError:
        raise DataError(f"{path}: missing; {RESTORE_HINT}") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, struct.error) as error:
        raise DataError(f"{path}: corrupt or not {what} ({error})") from None


def _check_images(path: Path, name: str, images: np.ndarray) -> None:
    if images.dtype != np.float32 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{path}: {name} must be float32 (N, 28, 28), got {images.dtype} {images.shape}"
        )


def load_images(path: Path, names: list[str], mapped: bool = False) -> dict[str, np.ndarray]:
    """Named (N, 28, 28) float32 image arrays from a .npz that `save_arrays` wrote (`mapped`:
    read-only views of the file's pages, for a reader that only reads them)."""
    arrays = _read_arrays(path, names, "written by this pipeline", mapped)
    for name, images in arrays.items():
        _check_images(path, name, images)
    return arrays


def load_split(path: Path, mapped: bool = False) -> Split:
    """Read a split written by `save_split`, rejecting a missing, corrupt or malformed file
    (`mapped`: as read-only views of the file's pages; training wants the aligned copy)."""
    arrays = _read_arrays(path, ["images", "labels"], "a prepared split", mapped)
    images, labels = arrays["images"], arrays["labels"]
    _check_images(path, "images", images)
    if labels.dtype != np.int64 or labels.shape != images.shape[:1]:
        raise DataError(
            f"{path}: labels must be int64 ({len(images)},), got {labels.dtype} {labels.shape}"
        )
    return Split(images, labels)
