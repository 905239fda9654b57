"""The emulator's multimodal embeddings: honest, deterministic vectors, not a semantic model.

An image and a text are both described by the same 256 features, then spread over 1024
dimensions. The features:

- 12 colour features, one per palette colour of the 3.2 ``color`` feature (Black, Blue, Brown,
  Grey, Green, Orange, Pink, Purple, Red, Teal, White, Yellow). An image's value is the square
  root of the share of its pixels of that colour; a text's is 1 for each colour word it has
  (the palette names, and gray, cyan, turquoise, violet, magenta, gold).
- 108 layout features, one per colour and cell of a 3 x 3 grid over the image: the square root
  of the colour's share of the cell, over 3 (so that the layout weighs as much as the colours).
  A text fills the cells its position words name (top, upper, middle, center, centre, bottom,
  lower, left, right) for each of its colour words.
- 3 shape features, rectangle, circle and triangle: an image's regions of one colour that are
  not its background and do not touch its border, classed by how much of their bounding box
  they fill (rectangles nearly all of it, circles about pi/4, triangles about half); the value
  is the square root of their share of the image. A text has 1 for each shape word (rectangle,
  square, box, block; circle, round, disc, disk, dot, ball, ellipse, oval; triangle, triangular).
- 133 word features no image ever has: every other word of a text lands in one (by a stable
  hash), so unknown words lower a text's similarity with every image alike and change no ranking.

Feature ``i`` occupies 4 of the 1024 dimensions (a fixed permutation with fixed signs, its value
halved in each): the columns are orthonormal, so the cosine of two vectors is the cosine of
their features. Each model version has its own permutation, so vectors of different model
versions are as unrelated as the service says they are. The vector is L2-normalised. So ``red``
ranks images by the square root of their red share over their vector's norm: the images with
the most red come first, and that is all it knows.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Iterable

from ._pixels import PALETTE, color_name, decode

__all__ = ["DIMENSIONS", "FEATURES", "image_features", "text_features", "to_vector"]

#: Dimensions of every vector (the service's, for both model versions).
DIMENSIONS = 1024
#: Features behind the dimensions (each spread over DIMENSIONS // FEATURES of them).
FEATURES = 256
_SPREAD = DIMENSIONS // FEATURES
_GRID = 3
SHAPES = ("rectangle", "circle", "triangle")
_COLOURS = {name.lower(): i for i, name in enumerate(PALETTE)}
_SYNONYMS = {
    "gray": "grey",
    "cyan": "teal",
    "turquoise": "teal",
    "violet": "purple",
    "magenta": "pink",
    "gold": "yellow",
}
_ROWS = {"top": 0, "upper": 0, "middle": 1, "center": 1, "centre": 1, "bottom": 2, "lower": 2}
_COLS = {"left": 0, "center": 1, "centre": 1, "middle": 1, "right": 2}
_SHAPE_WORDS = {
    **dict.fromkeys(("rectangle", "rectangles", "square", "squares", "box", "boxes", "block", "blocks"), 0),
    **dict.fromkeys(("circle", "circles", "round", "disc", "disk", "dot", "dots", "ball", "ellipse", "oval"), 1),
    **dict.fromkeys(("triangle", "triangles", "triangular"), 2),
}
_LAYOUT = len(PALETTE)
_SHAPE = _LAYOUT + len(PALETTE) * _GRID * _GRID
_WORDS = _SHAPE + len(SHAPES)
_SIDE = 96  # the image is measured on a copy this many pixels on its longer side
_WORD = re.compile(r"\w+")


def _cell(c: int, row: int, col: int) -> int:
    return _LAYOUT + c * _GRID * _GRID + row * _GRID + col


@functools.lru_cache(maxsize=64)
def _cells(w: int, h: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The grid cell (row * 3 + column) of each pixel of a ``w`` x ``h`` image, and each cell's pixel count."""
    cell_of = tuple(
        min(_GRID - 1, y * _GRID // h) * _GRID + min(_GRID - 1, x * _GRID // w) for y in range(h) for x in range(w)
    )
    counts = Counter(cell_of)
    return cell_of, tuple(counts[i] for i in range(_GRID * _GRID))


#: Palette index by the 3 bytes of a colour (filled as colours are met; bounded).
_NAMES: dict[bytes, int] = {}


def _names(raw: bytes) -> list[int]:
    """The palette index of each RGB pixel of ``raw``."""
    names = _NAMES
    if len(names) > 65536:
        names.clear()
    out = []
    for i in range(0, len(raw), 3):
        rgb = raw[i : i + 3]
        c = names.get(rgb)
        if c is None:
            c = names[rgb] = _COLOURS[color_name(rgb[0], rgb[1], rgb[2]).lower()]
        out.append(c)
    return out


def _regions(names: list[int], w: int, h: int, background: int) -> Iterable[tuple[int, int, int, int, int, int]]:
    """(size, x0, y0, x1, y1, touches_border) of each 4-connected region of one colour."""
    seen = bytearray(w * h)
    for start in range(w * h):
        if seen[start] or names[start] == background:
            continue
        colour, stack, size = names[start], [start], 0
        seen[start] = 1
        x0, y0, x1, y1, border = w, h, 0, 0, 0
        while stack:
            i = stack.pop()
            size += 1
            x, y = i % w, i // w
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
            border |= x in (0, w - 1) or y in (0, h - 1)
            for j in (i - 1 if x else -1, i + 1 if x < w - 1 else -1, i - w, i + w):
                if 0 <= j < w * h and not seen[j] and names[j] == colour:
                    seen[j] = 1
                    stack.append(j)
        yield size, x0, y0, x1, y1, border


def _shape_of(size: int, x0: int, y0: int, x1: int, y1: int) -> int | None:
    fill = size / ((x1 - x0 + 1) * (y1 - y0 + 1))
    if fill >= 0.88:
        return 0
    if fill >= 0.65:
        return 1
    if fill >= 0.35:
        return 2
    return None


def image_features(data: bytes) -> dict[int, float]:
    """The features of an image's pixels (raises ``_pixels.InvalidImage`` for bytes that are no image)."""
    img, _ = decode(data)
    img.thumbnail((_SIDE, _SIDE))
    w, h = img.size
    raw = img.tobytes()
    names = _names(raw)
    total = w * h
    features: dict[int, float] = {}
    for c, n in Counter(names).items():
        features[c] = math.sqrt(n / total)
    cell_of, cell_pixels = _cells(w, h)
    for (c, cell), n in Counter(zip(names, cell_of, strict=True)).items():
        features[_LAYOUT + c * _GRID * _GRID + cell] = math.sqrt(n / cell_pixels[cell]) / _GRID
    border = names[:w] + names[-w:] + names[::w] + names[w - 1 :: w]
    background = Counter(border).most_common(1)[0][0]
    shapes = [0.0] * len(SHAPES)
    for size, x0, y0, x1, y1, touches in _regions(names, w, h, background):
        if touches or size < 0.02 * total:
            continue
        shape = _shape_of(size, x0, y0, x1, y1)
        if shape is not None:
            shapes[shape] += size / total
    for s, share in enumerate(shapes):
        if share:
            features[_SHAPE + s] = math.sqrt(share)
    return features


def text_features(text: str) -> dict[int, float]:
    """The features of a text's colour, position and shape words (every other word in a word feature)."""
    features: dict[int, float] = {}
    colours: list[int] = []
    rows: set[int] = set()
    cols: set[int] = set()
    for word in _WORD.findall(text.lower()):
        name = _SYNONYMS.get(word, word)
        if name in _COLOURS:
            colours.append(_COLOURS[name])
        elif word in _ROWS or word in _COLS:
            if word in _ROWS:
                rows.add(_ROWS[word])
            if word in _COLS:
                cols.add(_COLS[word])
        elif word in _SHAPE_WORDS:
            features[_SHAPE + _SHAPE_WORDS[word]] = 1.0
        else:
            bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
            index = _WORDS + bucket % (FEATURES - _WORDS)
            features[index] = features.get(index, 0.0) + 1.0
    for c in colours:
        features[c] = 1.0
        if rows or cols:
            for row in rows or range(_GRID):
                for col in cols or range(_GRID):
                    features[_cell(c, row, col)] = 1.0
    if not features:  # no word at all (punctuation only): one word feature of its own
        features[FEATURES - 1] = 1.0
    return features


@functools.lru_cache(maxsize=8)
def _layout(model_version: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    rng = random.Random(f"vision_async emulator embeddings {model_version}")
    dims = list(range(DIMENSIONS))
    rng.shuffle(dims)
    signs = tuple(rng.choice((-0.5, 0.5)) for _ in range(DIMENSIONS))
    return tuple(dims), signs


def to_vector(features: dict[int, float], model_version: str) -> list[float]:
    """The L2-normalised 1024-number vector of ``features`` for ``model_version``."""
    norm = math.sqrt(math.fsum(v * v for v in features.values())) or 1.0
    dims, signs = _layout(model_version)
    vector = [0.0] * DIMENSIONS
    for feature, value in features.items():
        for k in range(feature * _SPREAD, (feature + 1) * _SPREAD):
            vector[dims[k]] = signs[k] * value / norm
    return [round(v, 8) for v in vector]
