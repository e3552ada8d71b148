"""The IDX parser on crafted bytes."""

import numpy as np
import pytest

from fmnist.core.idx import IdxError, parse_idx


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        d.to_bytes(4, "big") for d in array.shape
    )
    return header + array.tobytes()


def test_parses_ubyte_images():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    parsed = parse_idx(idx_bytes(images))
    assert parsed.dtype == np.uint8
    np.testing.assert_array_equal(parsed, images)


def test_parses_big_endian_int32():
    values = np.array([1, -2, 70000], dtype=">i4")
    parsed = parse_idx(idx_bytes(values, type_code=0x0C))
    assert parsed.dtype == np.dtype("int32")
    assert parsed.tolist() == [1, -2, 70000]


def test_parses_labels_vector():
    labels = np.array([9, 0, 0, 3], dtype=np.uint8)
    assert parse_idx(idx_bytes(labels)).tolist() == [9, 0, 0, 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + (4).to_bytes(4, "big") + b"abcd", "magic"),
        (b"\x00\x00\x07\x01" + (4).to_bytes(4, "big") + b"abcd", "magic"),
        (b"\x00\x00\x08\x00", "zero dimensions"),
        (b"\x00\x00\x08\x03" + (4).to_bytes(4, "big"), "truncated IDX header"),
        (b"\x00\x00\x08\x01" + (4).to_bytes(4, "big") + b"abc", "truncated IDX data"),
        (b"\x00\x00\x08\x01" + (4).to_bytes(4, "big") + b"abcde", "trailing bytes"),
        (
            b"\x00\x00\x08\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + b"12345",
            "truncated",
        ),
        (b"<html>404</html>", "magic"),
    ],
    ids=[
        "empty",
        "two-bytes",
        "nonzero-magic",
        "unknown-type",
        "no-dims",
        "short-header",
        "truncated-data",
        "trailing-data",
        "wrong-dims",
        "html",
    ],
)
def test_rejects_malformed(data, message):
    with pytest.raises(IdxError, match=message) as caught:
        parse_idx(data, "sample.idx")
    assert "sample.idx" in str(caught.value)
    assert "\n" not in str(caught.value)
