"""A request's body, read no further than the limit, and inflated no further than it either."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from starlette.requests import Request

from fmnist.memory import size_text
from fmnist.serve.protocol import ProtocolError

_WINDOWS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def declared_length(request: Request) -> int | None:
    """Content-Length, or None for a chunked body; 400 if it is not a number."""
    text = request.headers.get("content-length")
    if text is None:
        return None
    if not text.isdigit() or not text.isascii():
        raise ProtocolError(f"Content-Length {text[:40]!r}: not a number")
    return int(text)


def _too_large(what: str, limit: int) -> ProtocolError:
    return ProtocolError(
        f"{what} is over this server's limit of {size_text(limit)} (--max-body-mb)", 413
    )


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """A gzip or deflate body decompressed, refused as soon as it passes `limit` bytes."""
    inflater = zlib.decompressobj(_WINDOWS[encoding])
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as error:
        message = f"Content-Encoding {encoding}: the body does not inflate ({error})"
        raise ProtocolError(message) from None
    if len(out) > limit:
        raise _too_large(f"the {encoding} body inflated", limit)
    if not inflater.eof:
        raise ProtocolError(f"Content-Encoding {encoding}: the body ends early")
    return out


async def _drain(stream: AsyncIterator[bytes], total: int, most: int) -> None:
    """Read and drop what a client is still sending, up to `most` bytes in all: closing on
    unread data resets the connection, and the client may lose the 413 before it reads it."""
    async for chunk in stream:
        total += len(chunk)
        if total > most:
            return


async def read_body(request: Request, limit: int, length: int | None) -> bytes:
    """The whole body (inflated if compressed): 413 before reading past `limit`; `length` is
    its declared_length."""
    if length is not None and length > limit:
        if length <= 2 * limit:  # a larger one is cut off unread: better a reset than the wait
            await _drain(request.stream(), 0, 2 * limit)
        raise _too_large(f"a body of {length:,} bytes", limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", *_WINDOWS):
        raise ProtocolError(f"Content-Encoding {encoding[:20]!r}: gzip, deflate or none", 415)
    chunks, total = [], 0
    stream = request.stream()
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            await _drain(stream, total, 2 * limit)
            raise _too_large("the body", limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    return body if encoding == "identity" else inflate(body, encoding, limit)
