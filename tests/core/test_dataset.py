"""Checksums, gzip handling, and the prepared .npz splits."""

import gzip
import hashlib
import io
import zipfile

import numpy as np
import pytest

from fmnist.core.dataset import (
    ALIGNMENT,
    RAW_FILES,
    TEST_LABELS,
    DataError,
    RawFile,
    Split,
    decompress,
    load_split,
    save_split,
    to_split,
    verify,
)


def idx_header(type_code: int, *dims: int) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def tiny_pair(labels: list[int]) -> tuple[bytes, bytes]:
    count = len(labels)
    pixels = np.arange(count * 784, dtype=np.uint64).astype(np.uint8)
    images = idx_header(0x08, count, 28, 28) + pixels.tobytes()
    return images, idx_header(0x08, count) + bytes(labels)


def test_verify_accepts_official_content(real_content):
    for raw in RAW_FILES:
        verify(raw, real_content[raw.name])


def test_verify_rejects_one_flipped_byte(real_content):
    content = bytearray(real_content[TEST_LABELS.name])
    content[100] ^= 1
    with pytest.raises(DataError, match=r"SHA-256 .* does not match"):
        verify(TEST_LABELS, bytes(content))


def test_verify_rejects_wrong_size():
    raw = RawFile("x-idx1-ubyte", hashlib.sha256(b"abc").hexdigest(), 4)
    with pytest.raises(DataError, match="x-idx1-ubyte: 3 bytes, expected 4"):
        verify(raw, b"abc")


def test_decompress_round_trip_and_errors():
    payload = b"fashion" * 1000
    packed = gzip.compress(payload)
    assert decompress(packed, "f.gz") == payload
    with pytest.raises(DataError, match=r"f\.gz: truncated gzip"):
        decompress(packed[: len(packed) // 2], "f.gz")
    with pytest.raises(DataError, match=r"f\.gz: not a valid gzip"):
        decompress(b"<html>Not Found</html>", "f.gz")


def test_to_split_scales_pixels_to_unit_range():
    split = to_split(*tiny_pair([0, 9, 3]), "tiny")
    assert split.images.dtype == np.float32 and split.images.shape == (3, 28, 28)
    assert split.images.min() == 0.0 and split.images.max() == 1.0
    assert split.labels.tolist() == [0, 9, 3]


def test_to_split_rejects_bad_shapes_and_labels():
    images, _ = tiny_pair([1, 2])
    with pytest.raises(DataError, match="tiny labels: expected uint8 \\(2,\\)"):
        to_split(images, idx_header(0x08, 3) + bytes([1, 2, 3]), "tiny")
    with pytest.raises(DataError, match="label 10 outside 0-9"):
        to_split(images, idx_header(0x08, 2) + bytes([1, 10]), "tiny")
    with pytest.raises(DataError, match="tiny images: expected uint8 \\(N, 28, 28\\)"):
        to_split(
            idx_header(0x08, 1, 27, 29) + bytes(27 * 29), idx_header(0x08, 1) + b"\x01", "tiny"
        )


def test_real_splits_match_the_tutorial(real_train, real_test):
    assert real_train.images.shape == (60_000, 28, 28)
    assert real_test.images.shape == (10_000, 28, 28)
    # Fashion-MNIST is balanced: 6,000 and 1,000 of each class.
    assert np.bincount(real_train.labels).tolist() == [6000] * 10
    assert np.bincount(real_test.labels).tolist() == [1000] * 10
    assert real_test.labels[0] == 9  # the tutorial's first test image is an ankle boot


def test_save_split_is_byte_reproducible_and_round_trips(tmp_path):
    split = to_split(*tiny_pair([4, 5, 6]), "tiny")
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    save_split(first, split)
    save_split(second, split)
    assert first.read_bytes() == second.read_bytes()
    loaded = load_split(first)
    assert loaded.images.ctypes.data % ALIGNMENT == 0  # so training can use it without a copy
    np.testing.assert_array_equal(loaded.images, split.images)
    np.testing.assert_array_equal(loaded.labels, split.labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]  # no temp files left


def test_a_mapped_split_is_the_same_arrays_read_only(tmp_path):
    split = to_split(*tiny_pair([4, 5, 6]), "tiny")
    path = tmp_path / "a.npz"
    save_split(path, split)
    mapped = load_split(path, mapped=True)
    np.testing.assert_array_equal(mapped.images, split.images)
    np.testing.assert_array_equal(mapped.labels, split.labels)
    assert mapped.images.dtype == np.float32 and not mapped.images.flags.writeable
    # A compressed archive (not one this pipeline writes) is read instead of mapped.
    np.savez_compressed(tmp_path / "b.npz", images=split.images, labels=split.labels)
    np.testing.assert_array_equal(load_split(tmp_path / "b.npz", mapped=True).images, split.images)


def test_a_member_shorter_than_its_header_says_is_refused_not_mapped(tmp_path):
    """Mapping past the end of a file would crash the process (SIGBUS) when read."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (1000, 28, 28)}
    )
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("images.npy", header.getvalue() + bytes(4 * 784))
        archive.writestr("labels.npy", b"")
    with pytest.raises(DataError, match="truncated") as caught:
        load_split(path, mapped=True)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("mapped", [False, True])
@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage", "wrong-keys", "wrong-dtype"])
def test_load_split_rejects_damaged_files(tmp_path, damage, mapped):
    path = tmp_path / "train.npz"
    good = to_split(*tiny_pair([1, 2]), "tiny")
    save_split(path, good)
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "wrong-keys":
        np.savez(path, x=good.images, y=good.labels)
    elif damage == "wrong-dtype":
        save_split(path, Split(good.images.astype(np.float64), good.labels))
    with pytest.raises(DataError) as caught:
        load_split(path, mapped=mapped)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)
