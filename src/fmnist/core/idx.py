"""Parser for the IDX format of the (Fashion-)MNIST files: magic, type code, dimensions, data."""

from __future__ import annotations

import numpy as np

from fmnist.core.errors import FmnistError

# Type codes of the IDX format; multi-byte types are stored big-endian.
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IdxError(FmnistError):
    """The bytes are not a well-formed IDX file."""


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode an IDX file into an array of its declared type and shape."""
    if len(data) < 4:
        raise IdxError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    zero, type_code, ndim = int.from_bytes(data[0:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in _DTYPES:
        raise IdxError(f"{name}: bad IDX magic number 0x{data[0:4].hex()}")
    if ndim == 0:
        raise IdxError(f"{name}: IDX header declares zero dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IdxError(f"{name}: truncated IDX header ({len(data)} of {header_size} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _DTYPES[type_code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "trailing bytes in"
        raise IdxError(
            f"{name}: {kind} IDX data: {len(data)} bytes, shape {shape} needs {expected}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)
