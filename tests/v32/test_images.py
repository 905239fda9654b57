"""Image inputs: sniffing formats and reading sizes from headers."""

from __future__ import annotations

import struct

import pytest

from tests.helpers import png_bytes
from vision_async import InvalidInputError
from vision_async._core.images import ImageKind, image_size, prepare_image, sniff_format

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"BM" + b"\x00" * 30, "BMP"),
        (b"%PDF-1.7", "PDF"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
        (b"RIFF....WEBP", None),
        (b"", None),
    ],
)
def test_magic_numbers(head: bytes, fmt: str | None) -> None:
    """Each accepted format is known by its magic number; others are not guessed."""
    assert sniff_format(head) == fmt


def test_progressive_jpeg_size_is_read() -> None:
    """The size of a progressive JPEG (SOF2) comes from its header."""
    assert image_size(png_bytes(300, 120, fmt="JPEG"), "JPEG") == (300, 120)
    sof2 = b"\xff\xd8" + b"\xff\xc2" + struct.pack(">HBHH", 17, 8, 77, 301) + b"\x00" * 20
    assert image_size(sof2, "JPEG") == (301, 77)


def test_truncated_headers_give_no_size() -> None:
    """A header too short to tell gives None rather than an error."""
    assert image_size(b"\xff\xd8\xff", "JPEG") is None
    assert image_size(b"\x89PNG\r\n\x1a\n", "PNG") is None


async def test_read_takes_small_dimension_limit_and_pdf() -> None:
    """Read accepts 50x50 (analyze needs more) and PDF; analyze refuses PDF."""
    square = png_bytes(50, 50)
    assert (await prepare_image(square, kind=ImageKind.READ, max_bytes=10**6)).width == 50
    with pytest.raises(InvalidInputError):
        await prepare_image(square, kind=ImageKind.ANALYZE, max_bytes=10**6)
    pdf = b"%PDF-1.7\n..."
    assert (await prepare_image(pdf, kind=ImageKind.READ, max_bytes=10**6)).format == "PDF"
    with pytest.raises(InvalidInputError, match="not JPEG, PNG, GIF or BMP"):
        await prepare_image(pdf, kind=ImageKind.ANALYZE, max_bytes=10**6)


async def test_prepared_image_repr_hides_bytes() -> None:
    """The repr of a prepared image shows its format and size, never its bytes."""
    data = png_bytes(64, 64)
    prepared = await prepare_image(data, kind=ImageKind.ANALYZE, max_bytes=10**6)
    assert repr(prepared) == f"PreparedImage(format='PNG', bytes={len(data)})"
