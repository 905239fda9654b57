"""Image checks for Image Analysis 4.0 (ImageKind.V4): its formats by magic number, their sizes from
the headers, 50 < side < 16000 pixels, while 3.2's kinds keep their own rules."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from vision_async import InvalidInputError
from vision_async._core.images import ImageKind, image_size, prepare_image, sniff_format

pytestmark = pytest.mark.anyio


def encoded(fmt: str, size: tuple[int, int], **options: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (120, 30, 200)).save(buf, format=fmt, **options)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "options", "name"),
    [
        ("WEBP", {"lossless": False}, "WEBP"),
        ("WEBP", {"lossless": True}, "WEBP"),
        ("ICO", {"sizes": [(64, 48)]}, "ICO"),
        ("TIFF", {}, "TIFF"),
        ("MPO", {}, "JPEG"),
    ],
)
def test_4_0_formats_are_sniffed(fmt: str, options: dict[str, object], name: str) -> None:
    """WEBP (lossy and lossless), ICO, TIFF and MPO (as JPEG) are known by their magic numbers."""
    assert sniff_format(encoded(fmt, (64, 48), **options)) == name


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("WEBP", {"lossless": False}), ("WEBP", {"lossless": True}), ("ICO", {"sizes": [(64, 48)]})],
)
def test_4_0_sizes_come_from_the_header(fmt: str, options: dict[str, object]) -> None:
    """WEBP and ICO headers tell the size."""
    data = encoded(fmt, (64, 48), **options)
    assert image_size(data, sniff_format(data)) == (64, 48)


def test_ico_size_is_its_largest_entry() -> None:
    """An icon with several sizes is as large as its largest entry (the one a decoder picks)."""
    data = encoded("ICO", (128, 128), sizes=[(16, 16), (128, 128), (32, 32)])
    assert image_size(data, "ICO") == (128, 128)


def test_webp_extended_header_size() -> None:
    """A VP8X (extended) WEBP, as written with alpha, tells its canvas size."""
    buf = io.BytesIO()
    Image.new("RGBA", (300, 70), (1, 2, 3, 128)).save(buf, format="WEBP")
    data = buf.getvalue()
    assert sniff_format(data) == "WEBP" and image_size(data, "WEBP") == (300, 70)


def test_riff_without_an_image_chunk_is_not_webp() -> None:
    """A RIFF/WEBP header with no VP8 chunk is not taken for an image."""
    assert sniff_format(b"RIFF\x00\x00\x00\x00WEBPJUNK") is None


async def test_v4_accepts_its_formats_and_3_2_does_not() -> None:
    """ImageKind.V4 takes WEBP, ICO and TIFF; ImageKind.ANALYZE refuses them, naming what they are."""
    for fmt, options in (("WEBP", {}), ("ICO", {"sizes": [(64, 64)]}), ("TIFF", {})):
        data = encoded(fmt, (64, 64), **options)
        assert (await prepare_image(data, kind=ImageKind.V4, max_bytes=10**6)).content == data
        with pytest.raises(InvalidInputError, match=f"it is {fmt}"):
            await prepare_image(data, kind=ImageKind.ANALYZE, max_bytes=10**6)


@pytest.mark.parametrize(
    ("size", "ok"), [((51, 51), True), ((50, 400), False), ((15999, 60), True), ((16000, 60), False)]
)
async def test_v4_dimensions(size: tuple[int, int], ok: bool) -> None:
    """4.0 takes sides greater than 50 and less than 16000 pixels."""
    data = encoded("PNG", size)
    if ok:
        assert (await prepare_image(data, kind=ImageKind.V4, max_bytes=10**7)).width == size[0]
    else:
        with pytest.raises(InvalidInputError, match=r"Image Analysis 4\.0 takes images larger than 50x50"):
            await prepare_image(data, kind=ImageKind.V4, max_bytes=10**7)
