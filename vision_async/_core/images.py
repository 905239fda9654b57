"""Image inputs: URL, bytes, path or file object; read once, sniffed, checked against limits."""

from __future__ import annotations

import inspect
import io
import json
import json.encoder
import os
import re
import struct
from collections.abc import Awaitable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, TypeAlias, Union
from urllib.parse import urlsplit

import anyio

from .._errors import InvalidInputError

__all__ = [
    "ACCEPTED_FORMATS",
    "ImageInput",
    "ImageKind",
    "PreparedImage",
    "SupportsRead",
    "image_size",
    "prepare_image",
    "sniff_format",
]


class SupportsRead(Protocol):
    """A binary file object: ``read(n)`` returns bytes, or an awaitable of bytes (async files)."""

    def read(self, size: int = ..., /) -> bytes | Awaitable[bytes]: ...


#: What the image argument may be: an http(s) URL, image bytes, a path, or a binary file object.
ImageInput: TypeAlias = Union[str, bytes, bytearray, memoryview, "os.PathLike[str]", "os.PathLike[bytes]", SupportsRead]

MIN_DIMENSION = 50  # the analyze family needs images larger than 50 x 50 pixels
READ_MIN_DIMENSION = 50  # Read takes 50 x 50 up to 10000 x 10000
READ_MAX_DIMENSION = 10000
V4_MIN_DIMENSION = 50  # Image Analysis 4.0: greater than 50 x 50 and less than 16000 x 16000 pixels
V4_MAX_DIMENSION = 16000
RETRIEVAL_MIN_DIMENSION = 10  # multimodal embeddings: from 10 x 10 to 16000 x 16000 pixels
RETRIEVAL_MAX_DIMENSION = 16000


class ImageKind(Enum):
    """Which family of operation the image is for: they accept different formats and sizes."""

    ANALYZE = "analyze"
    READ = "read"
    V4 = "v4"
    RETRIEVAL = "retrieval"  # 4.0's multimodal embeddings (vectorizeImage)


_IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "BMP")
_READ_FORMATS = (*_IMAGE_FORMATS, "PDF", "TIFF")
#: Image Analysis 4.0 (MPO files start as JPEG files do, and are sniffed as JPEG).
_V4_FORMATS = (*_IMAGE_FORMATS, "WEBP", "ICO", "TIFF")
#: The formats each kind of operation accepts (as :func:`sniff_format` names them).
ACCEPTED_FORMATS = {
    ImageKind.ANALYZE: _IMAGE_FORMATS,
    ImageKind.READ: _READ_FORMATS,
    ImageKind.V4: _V4_FORMATS,
    ImageKind.RETRIEVAL: _V4_FORMATS,
}


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An image ready to be sent any number of times (the body is replayable)."""

    content: bytes
    content_type: str
    url: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None

    def __repr__(self) -> str:  # never show image bytes
        if self.url is not None:
            return f"PreparedImage(url={self.url!r})"
        return f"PreparedImage(format={self.format!r}, bytes={len(self.content)})"


def sniff_format(data: bytes) -> str | None:
    """The format named by the file's magic number: JPEG (also MPO), PNG, GIF, BMP, PDF, TIFF, WEBP, ICO or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data.startswith(b"BM") and len(data) >= 26:
        return "BMP"
    if data.startswith(b"%PDF-"):
        return "PDF"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP" and data[12:15] == b"VP8":
        return "WEBP"
    if data.startswith(b"\x00\x00\x01\x00") and len(data) >= 22 and data[4:6] != b"\x00\x00":
        return "ICO"
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    n = len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def image_size(data: bytes, fmt: str | None) -> tuple[int, int] | None:
    """(width, height) from the image header when the header tells, else None."""
    try:
        if fmt == "PNG" and len(data) >= 24 and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        if fmt == "GIF" and len(data) >= 10:
            w, h = struct.unpack("<HH", data[6:10])
            return int(w), int(h)
        if fmt == "BMP" and len(data) >= 26:
            (header_size,) = struct.unpack("<I", data[14:18])
            if header_size == 12:
                w, h = struct.unpack("<HH", data[18:22])
            else:
                w, h = struct.unpack("<ii", data[18:26])
            return abs(int(w)), abs(int(h))
        if fmt == "JPEG":
            return _jpeg_size(data)
        if fmt == "WEBP":
            return _webp_size(data)
        if fmt == "ICO":  # the largest entry (a decoder picks it); 0 means 256
            (count,) = struct.unpack("<H", data[4:6])
            entries = [data[i : i + 2] for i in range(6, min(len(data), 6 + 16 * count), 16)]
            sizes = [(e[0] or 256, e[1] or 256) for e in entries if len(e) == 2]
            return max(sizes, key=lambda s: s[0] * s[1]) if sizes else None
    except struct.error:
        return None
    return None


#: JSON string encoding (the json module's C encoder, without building an encoder per call).
_json_string = json.encoder.encode_basestring_ascii


_WHITESPACE = re.compile(r"[\r\n\t ]")


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(
            "a str image must be an http(s) URL; pass a pathlib.Path for a file, or bytes for image data"
        )
    if _WHITESPACE.search(url):
        raise InvalidInputError("the image URL must not contain whitespace")
    return url


def _check_bytes(data: bytes, kind: ImageKind, max_bytes: int, source: str) -> PreparedImage:
    if not data:
        raise InvalidInputError(f"the image ({source}) is empty")
    if len(data) >= max_bytes:
        raise InvalidInputError(
            f"the image ({source}) is {len(data)} bytes; this operation takes less than {max_bytes} bytes"
        )
    fmt = sniff_format(data)
    allowed = ACCEPTED_FORMATS[kind]
    if fmt not in allowed:
        raise InvalidInputError(
            f"the image ({source}) is not {', '.join(allowed[:-1])} or {allowed[-1]} "
            + (f"(it is {fmt})" if fmt else "(unrecognized file header)")
        )
    size = image_size(data, fmt)
    width = height = None
    if size is not None:
        width, height = size
        if kind is ImageKind.READ:
            if min(size) < READ_MIN_DIMENSION or max(size) > READ_MAX_DIMENSION:
                raise InvalidInputError(
                    f"the image ({source}) is {width}x{height} pixels; Read takes "
                    f"{READ_MIN_DIMENSION}x{READ_MIN_DIMENSION} to {READ_MAX_DIMENSION}x{READ_MAX_DIMENSION}"
                )
        elif kind is ImageKind.RETRIEVAL:
            if min(size) < RETRIEVAL_MIN_DIMENSION or max(size) > RETRIEVAL_MAX_DIMENSION:
                raise InvalidInputError(
                    f"the image ({source}) is {width}x{height} pixels; multimodal embeddings take "
                    f"{RETRIEVAL_MIN_DIMENSION}x{RETRIEVAL_MIN_DIMENSION} to "
                    f"{RETRIEVAL_MAX_DIMENSION}x{RETRIEVAL_MAX_DIMENSION}"
                )
        elif kind is ImageKind.V4:
            if min(size) <= V4_MIN_DIMENSION or max(size) >= V4_MAX_DIMENSION:
                raise InvalidInputError(
                    f"the image ({source}) is {width}x{height} pixels; Image Analysis 4.0 takes images larger "
                    f"than {V4_MIN_DIMENSION}x{V4_MIN_DIMENSION} and smaller than {V4_MAX_DIMENSION}x{V4_MAX_DIMENSION}"
                )
        elif min(size) <= MIN_DIMENSION:
            raise InvalidInputError(
                f"the image ({source}) is {width}x{height} pixels; it must be larger than "
                f"{MIN_DIMENSION}x{MIN_DIMENSION}"
            )
    return PreparedImage(data, "application/octet-stream", format=fmt, width=width, height=height)


async def _read_file_object(obj: Any, max_bytes: int) -> bytes:
    if isinstance(obj, io.TextIOBase):
        raise InvalidInputError("the image file object is open in text mode; open it with 'rb'")
    # read one byte past the limit, so an oversized stream is refused without reading it all
    try:
        result = obj.read(max_bytes + 1)
        if inspect.isawaitable(result):
            result = await result
    except (OSError, ValueError) as exc:  # a closed file raises ValueError
        raise InvalidInputError(f"cannot read the image file object: {exc}") from exc
    if not isinstance(result, bytes | bytearray | memoryview):
        raise InvalidInputError(f"the image file object's read() returned {type(result).__name__}, not bytes")
    return bytes(result)


def prepare_at_once(image: ImageInput, *, kind: ImageKind, max_bytes: int) -> PreparedImage | None:
    """:func:`prepare_image` for the inputs that need no I/O (a URL, bytes); None for the others."""
    if isinstance(image, str):
        url = _check_url(image)
        return PreparedImage(b'{"url": ' + _json_string(url).encode() + b"}", "application/json", url=url)
    if isinstance(image, bytes):
        return _check_bytes(image, kind, max_bytes, "bytes")
    if isinstance(image, bytearray | memoryview):
        return _check_bytes(bytes(image), kind, max_bytes, "bytes")
    return None


async def prepare_image(image: ImageInput, *, kind: ImageKind, max_bytes: int) -> PreparedImage:
    """Turn any accepted image input into a replayable request body, or raise InvalidInputError."""
    prepared = prepare_at_once(image, kind=kind, max_bytes=max_bytes)
    if prepared is not None:
        return prepared
    if isinstance(image, os.PathLike):
        path = anyio.Path(os.fsdecode(image))
        try:
            stat = await path.stat()
            if stat.st_size >= max_bytes:
                raise InvalidInputError(
                    f"the image file {os.fsdecode(image)!r} is {stat.st_size} bytes; "
                    f"this operation takes less than {max_bytes} bytes"
                )
            data = await path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read image file {os.fsdecode(image)!r}: {exc.strerror or exc}") from exc
        return _check_bytes(data, kind, max_bytes, f"file {os.fsdecode(image)!r}")
    if callable(getattr(image, "read", None)):
        data = await _read_file_object(image, max_bytes)
        return _check_bytes(data, kind, max_bytes, "file object")
    raise InvalidInputError(
        f"unsupported image type {type(image).__name__}: pass an http(s) URL (str), bytes, "
        "a path (pathlib.Path) or a binary file object"
    )
