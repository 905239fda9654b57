"""The CLI's ``analyze4`` command: Image Analysis 4.0 through ``client.v4`` (its options and its lines)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from .._client import VisionClient
from ..v4 import Feature, ImageAnalysisResult, ImageBoundingBox

__all__ = ["DEFAULT_FEATURES", "V4_HELP", "configure_v4", "render_v4", "v4_operation"]

V4_HELP = "Image Analysis 4.0: tags, caption, dense captions, objects, people, text (read), smart crops"
DEFAULT_FEATURES = ("tags", "caption", "objects", "people", "read", "smartCrops")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _ratios(value: str) -> list[float]:
    try:
        return [float(v) for v in _csv(value)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"aspect ratios are numbers such as 0.9,1.33, got {value!r}") from None


def configure_v4(parser: argparse.ArgumentParser) -> None:
    """The ``analyze4`` options (the images and ``--json`` come with every image command)."""
    features = ", ".join(f.value for f in Feature)
    parser.add_argument(
        "--features",
        type=_csv,
        default=list(DEFAULT_FEATURES),
        help=f"comma-separated, any of {features} (default: {','.join(DEFAULT_FEATURES)})",
    )
    parser.add_argument("--language", default="en", help="language of the results (captions are English only)")
    parser.add_argument("--gender-neutral", action="store_true", help="gender-neutral captions")
    parser.add_argument(
        "--aspect-ratios",
        type=_ratios,
        default=None,
        help="smart crop ratios, width/height, 0.75 to 1.8 (e.g. 0.9,1.33); adds smartCrops to the features",
    )
    parser.add_argument("--model-version", default="latest")


def v4_operation(args: argparse.Namespace, client: VisionClient) -> Callable[[Any], Awaitable[ImageAnalysisResult]]:
    """``client.v4`` bound to the command's options (checked once, before any image is sent)."""
    features: list[str] = list(args.features)
    if args.aspect_ratios and Feature.SMART_CROPS.value.lower() not in {f.lower() for f in features}:
        features.append(Feature.SMART_CROPS.value)
    return client.v4._bind(
        {
            "features": features,
            "language": args.language,
            "gender_neutral_caption": args.gender_neutral,
            "smart_crops_aspect_ratios": args.aspect_ratios,
            "model_version": args.model_version,
        }
    )


def _at(box: ImageBoundingBox) -> str:
    return f"at {box.x},{box.y} {box.width}x{box.height}"


def render_v4(result: ImageAnalysisResult) -> list[str]:
    """Human-readable lines for a 4.0 result."""
    lines: list[str] = []
    if result.caption is not None:
        lines.append(f"caption: {result.caption.text} ({result.caption.confidence:.2f})")
    for dense in result.dense_captions or ():
        lines.append(f"dense caption: {dense.text} ({dense.confidence:.2f}) {_at(dense.bounding_box)}")
    if result.tags is not None:
        tags = ", ".join(f"{t.name} {t.confidence:.2f}" for t in result.tags)
        lines.append(f"tags: {tags or 'none found'}")
    if result.objects is not None:
        for obj in result.objects:
            name = ", ".join(f"{t.name} {t.confidence:.2f}" for t in obj.tags) or "object"
            lines.append(f"object: {name} {_at(obj.bounding_box)}")
        if not result.objects:
            lines.append("objects: none found")
    if result.people is not None:
        for person in result.people:
            lines.append(f"person: {person.confidence:.2f} {_at(person.bounding_box)}")
        if not result.people:
            lines.append("people: none found")
    for crop in result.smart_crops or ():
        lines.append(f"smart crop {crop.aspect_ratio:g}: {_at(crop.bounding_box)}")
    if result.read is not None:
        text = result.read.text
        lines.extend(["text:", *("  " + t for t in text.splitlines())] if text.strip() else ["text: none found"])
    return lines
