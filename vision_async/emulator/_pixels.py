"""What the emulator can honestly compute from pixels (Pillow only).

- ``metadata``: width, height, format, from the decoded image.
- ``color``: each pixel is named with the service's palette (Black, Blue, Brown, Grey, Green,
  Orange, Pink, Purple, Red, Teal, White, Yellow) by its hue, saturation and value. Dominant
  background: the most common name in the outer border; foreground: in the central half;
  dominant colors: names covering at least 10% of the image, most first (at most 3); accent:
  the commonest shade of the most common vivid palette color (of the most saturated 5% in a
  colorless image), as hex; black-and-white: under 1% of pixels
  have any saturation.
- ``imageType``: clip art from how few distinct colors cover 95% of the pixels (<= 16: 3 good,
  <= 64: 2 normal, <= 256: 1 ambiguous, else 0); line drawing when the image is mostly white with a
  few dark strokes and nearly no color.
- saliency: edge strength plus distance from the background (border) color, on a 64-pixel copy. The area of
  interest is the box that keeps 90% of it; smart cropping (3.2 thumbnails, 4.0 smart crops) slides
  the crop's window to the position with the most of it (:func:`crop_box`).
"""

from __future__ import annotations

import colorsys
import io
from collections import Counter
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

__all__ = ["ImageFacts", "InvalidImage", "analyze_pixels", "crop_box", "thumbnail"]

PALETTE = ("Black", "Blue", "Brown", "Grey", "Green", "Orange", "Pink", "Purple", "Red", "Teal", "White", "Yellow")

_FORMAT_NAMES = {"JPEG": "Jpeg", "PNG": "Png", "GIF": "Gif", "BMP": "Bmp", "TIFF": "Tiff"}
_STATS_SIZE = 96
_SALIENCY_SIZE = 64

Image.MAX_IMAGE_PIXELS = 16000 * 16000


class InvalidImage(Exception):
    """The bytes do not decode as an image."""


def color_name(r: int, g: int, b: int) -> str:
    """The palette name of one RGB color."""
    h, s, v = colorsys.rgb_to_hsv(r / 255.0, g / 255.0, b / 255.0)
    hue = h * 360.0
    if v < 0.18:
        return "Black"
    if s < 0.15 or (s < 0.25 and v < 0.35):
        return "White" if v > 0.85 else "Grey"
    if (hue < 45 or hue >= 345) and v < 0.6 and s > 0.3:
        return "Brown"
    if hue < 15 or hue >= 345:
        return "Pink" if s < 0.45 and v > 0.7 else "Red"
    if hue < 40:
        return "Orange"
    if hue < 70:
        return "Yellow"
    if hue < 165:
        return "Green"
    if hue < 195:
        return "Teal"
    if hue < 255:
        return "Blue"
    if hue < 290:
        return "Purple"
    return "Pink"


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """Everything the emulator derives from one image's pixels."""

    width: int
    height: int
    format: str
    color: dict[str, Any]
    image_type: dict[str, int]
    coverage: tuple[tuple[str, float], ...]  # palette names by share of pixels
    area_of_interest: dict[str, int]
    saliency: tuple[tuple[float, ...], ...]  # rows of the small saliency map

    def metadata(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "format": self.format}


def decode(data: bytes) -> tuple[Image.Image, str]:
    """Decode to RGB (alpha flattened on white), or raise InvalidImage."""
    img: Image.Image
    try:
        img = Image.open(io.BytesIO(data))
        fmt = _FORMAT_NAMES.get(img.format or "", (img.format or "Unknown").title())
        img.draft("RGB", (_STATS_SIZE * 4, _STATS_SIZE * 4))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidImage(str(exc)) from exc
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB"), fmt


def _rgb_pixels(img: Image.Image) -> list[tuple[int, int, int]]:
    raw = img.convert("RGB").tobytes()
    return list(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))


def original_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def _saliency(img: Image.Image) -> list[list[float]]:
    small = img.copy()
    small.thumbnail((_SALIENCY_SIZE, _SALIENCY_SIZE))
    gray = small.convert("L")
    edges = gray.filter(ImageFilter.FIND_EDGES)
    pixels = _rgb_pixels(small)
    w, h = small.size
    # distance is measured from the background: the mean color of the outermost pixels
    ring = [pixels[y * w + x] for y in range(h) for x in range(w) if x in (0, w - 1) or y in (0, h - 1)]
    mean = [sum(p[i] for p in ring) / len(ring) for i in range(3)]
    edge_values = list(edges.tobytes())
    out: list[list[float]] = []
    for y in range(h):
        row = []
        for x in range(w):
            # FIND_EDGES marks the image's own border; ignore it
            edge = 0.0 if x in (0, w - 1) or y in (0, h - 1) else edge_values[y * w + x] / 255.0
            r, g, b = pixels[y * w + x]
            distance = (abs(r - mean[0]) + abs(g - mean[1]) + abs(b - mean[2])) / (3 * 255.0)
            row.append(edge + distance)
        out.append(row)
    return out


def _trim(sums: list[float], keep: float) -> tuple[int, int]:
    """The smallest [start, end) range holding ``keep`` of the mass, trimmed evenly from both ends."""
    total = sum(sums)
    if total <= 0:
        return 0, len(sums)
    cut = total * (1 - keep) / 2
    start, acc = 0, 0.0
    while start < len(sums) - 1 and acc + sums[start] <= cut:
        acc += sums[start]
        start += 1
    end, acc = len(sums), 0.0
    while end > start + 1 and acc + sums[end - 1] <= cut:
        acc += sums[end - 1]
        end -= 1
    return start, end


def analyze_pixels(data: bytes) -> ImageFacts:
    """Decode and derive every pixel-based fact about the image."""
    img, fmt = decode(data)
    width, height = original_size(data)
    stats = img.copy()
    stats.thumbnail((_STATS_SIZE, _STATS_SIZE))
    sw, sh = stats.size
    pixels = _rgb_pixels(stats)
    names = [color_name(*p) for p in pixels]
    counts = Counter(names)
    total = len(names)
    coverage = tuple((name, count / total) for name, count in counts.most_common())

    bx, by = max(1, sw // 7), max(1, sh // 7)
    border = Counter(
        names[y * sw + x] for y in range(sh) for x in range(sw) if x < bx or x >= sw - bx or y < by or y >= sh - by
    )
    center = Counter(names[y * sw + x] for y in range(sh // 4, sh - sh // 4) for x in range(sw // 4, sw - sw // 4))
    background = (border or counts).most_common(1)[0][0]
    foreground = (center or counts).most_common(1)[0][0]
    dominant = [name for name, share in coverage if share >= 0.10][:3] or [coverage[0][0]]

    hsv = [colorsys.rgb_to_hsv(r / 255, g / 255, b / 255) for r, g, b in pixels]
    # accent: the mean of the most common vivid palette color; for a colorless image, of the
    # most saturated 5% of pixels
    vivid = [i for i, (_, s, v) in enumerate(hsv) if s > 0.25 and v > 0.2]
    if vivid:
        accent_name = Counter(names[i] for i in vivid).most_common(1)[0][0]
        chosen = [pixels[i] for i in vivid if names[i] == accent_name]
    else:
        by_saturation = sorted(range(total), key=lambda i: hsv[i][1], reverse=True)
        chosen = [pixels[i] for i in by_saturation[: max(1, total // 20)]]
    # the commonest shade (colors binned by 8 per channel), averaged within its bin
    shade = Counter((r >> 3, g >> 3, b >> 3) for r, g, b in chosen).most_common(1)[0][0]
    in_shade = [p for p in chosen if (p[0] >> 3, p[1] >> 3, p[2] >> 3) == shade]
    accent = "".join(f"{round(sum(p[c] for p in in_shade) / len(in_shade)):02X}" for c in range(3))
    colorful = sum(1 for _, s, _ in hsv if s > 0.15)
    is_bw = colorful < 0.01 * total

    # how many distinct colors cover 95% of the pixels (resampling's edge blends don't count)
    by_count = sorted((count for count, _ in stats.getcolors(maxcolors=total + 1) or []), reverse=True)
    covered, distinct = 0, 0
    for count in by_count:
        covered += count
        distinct += 1
        if covered >= 0.95 * total:
            break
    clip_art = 3 if distinct <= 16 else 2 if distinct <= 64 else 1 if distinct <= 256 else 0
    whites = counts.get("White", 0) / total
    darks = (counts.get("Black", 0) + counts.get("Grey", 0)) / total
    line_drawing = int(is_bw and whites > 0.6 and 0.005 < darks < 0.35)

    sal = _saliency(img)
    rows = [sum(r) for r in sal]
    cols = [sum(c) for c in zip(*sal, strict=True)]
    y0, y1 = _trim(rows, 0.9)
    x0, x1 = _trim(cols, 0.9)
    fx, fy = width / len(cols), height / len(rows)
    aoi = {
        "x": int(x0 * fx),
        "y": int(y0 * fy),
        "w": max(1, min(width, round(x1 * fx)) - int(x0 * fx)),
        "h": max(1, min(height, round(y1 * fy)) - int(y0 * fy)),
    }
    return ImageFacts(
        width=width,
        height=height,
        format=fmt,
        color={
            "dominantColorForeground": foreground,
            "dominantColorBackground": background,
            "dominantColors": dominant,
            "accentColor": accent,
            "isBWImg": is_bw,
        },
        image_type={"clipArtType": clip_art, "lineDrawingType": line_drawing},
        coverage=coverage,
        area_of_interest=aoi,
        saliency=tuple(tuple(r) for r in sal),
    )


def _best_window(sums: list[float], window: float) -> float:
    """The start (as a fraction of the axis) of the window holding the most saliency."""
    n = len(sums)
    size = max(1, min(n, round(window * n)))
    best, best_start, current = -1.0, 0, sum(sums[:size])
    for start in range(0, n - size + 1):
        if start:
            current += sums[start + size - 1] - sums[start - 1]
        if current > best + 1e-9:
            best, best_start = current, start
    return best_start / n


def crop_box(iw: int, ih: int, target: float, facts: ImageFacts | None) -> tuple[int, int, int, int]:
    """The largest ``target``-ratio (width / height) box in an ``iw`` x ``ih`` image, as
    (left, top, right, bottom): slid to hold the most saliency when ``facts`` is given, else centered.
    Smart thumbnails (3.2) and smart crops (4.0) both cut here."""
    if iw / ih > target:  # too wide: choose a horizontal window
        crop_w = ih * target
        if facts is not None:
            cols = [sum(c) for c in zip(*facts.saliency, strict=True)]
            left = _best_window(cols, crop_w / iw) * iw
        else:
            left = (iw - crop_w) / 2
        return round(left), 0, round(min(iw, left + crop_w)), ih
    # too tall (or exact): choose a vertical window
    crop_h = iw / target
    if facts is not None:
        rows = [sum(r) for r in facts.saliency]
        top = _best_window(rows, crop_h / ih) * ih
    else:
        top = (ih - crop_h) / 2
    return 0, round(top), iw, round(min(ih, top + crop_h))


def thumbnail(
    data: bytes, width: int, height: int, *, smart: bool, facts: ImageFacts | None = None
) -> tuple[bytes, str]:
    """A ``width`` x ``height`` thumbnail (cropped to that aspect ratio), and its content type."""
    with Image.open(io.BytesIO(data)) as opened:
        source_format = opened.format
        img = opened.convert("RGB")
    iw, ih = img.size
    box = crop_box(iw, ih, width / height, facts if smart else None)
    out = img.crop(box).resize((width, height), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if source_format == "JPEG":
        out.save(buf, format="JPEG", quality=90)
        return buf.getvalue(), "image/jpeg"
    out.save(buf, format="PNG")
    return buf.getvalue(), "image/png"
