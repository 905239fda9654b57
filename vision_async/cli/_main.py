"""The ``vision-async`` command: analyze images from the shell, or serve the emulator.

Endpoint and key come from ``--endpoint``/``--key`` or ``VISION_ENDPOINT``/``VISION_KEY``; with
neither, commands run against the in-process emulator and say so on stderr. Exit codes: 0 when
every image succeeded, 1 when any failed (one line per failure on stderr, with the request id),
2 for usage and configuration errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

from .. import VisionClient, VisionError
from .._core.endpoint import is_loopback_host
from .._defaults import CLI_CONCURRENCY, TIMEOUT
from . import _batch, _search
from ._client_args import UsageError, add_client_arguments, make_client
from ._draw import DRAWABLE_COMMANDS, add_draw_option, draw_to_file, output_path
from ._v4 import V4_HELP, configure_v4, render_v4, v4_operation

__all__ = ["main"]

#: Images analyzed at once when several are given.
CONCURRENCY = CLI_CONCURRENCY


def _image_arg(value: str) -> str | Path:
    return value if value.startswith(("http://", "https://")) else Path(value)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vision-async", description="Azure AI Vision (v3.2 and 4.0) from the shell.")
    add_client_arguments(parser)
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help=f"seconds per attempt (default {TIMEOUT:g})")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def image_command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("images", nargs="+", metavar="IMAGE", help="image file or http(s) URL")
        p.add_argument("--json", action="store_true", help="print the service's JSON")
        return p

    p = image_command("analyze", "extract visual features")
    p.add_argument(
        "--features",
        type=_csv,
        default=["Categories", "Tags", "Description", "Color", "ImageType", "Objects"],
        help="comma-separated features (default: categories,tags,description,color,imagetype,objects)",
    )
    p.add_argument("--details", type=_csv, default=[], help="celebrities,landmarks")
    p.add_argument("--language", default="en")
    p = image_command("tag", "tag the image")
    p.add_argument("--language", default="en")
    p = image_command("describe", "describe the image in sentences")
    p.add_argument("--language", default="en")
    p.add_argument("--max-candidates", type=int, default=1)
    image_command("detect", "find objects")
    image_command("area", "find the area of interest")
    p = image_command("ocr", "recognize printed text (legacy OCR)")
    p.add_argument("--language", default="unk")
    p = image_command("read", "read text (the Read operation, polled to completion)")
    p.add_argument("--language", default=None)
    p.add_argument("--pages", default=None, help="e.g. 1,3-5")
    configure_v4(image_command("analyze4", V4_HELP))
    for name in DRAWABLE_COMMANDS:
        add_draw_option(sub.choices[name])
    p = sub.add_parser("models", help="list the domain models")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("thumbnail", help="generate a thumbnail")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--smart", action="store_true", help="smart cropping")
    p.add_argument("-o", "--output", required=True, type=Path)

    p = sub.add_parser("emulator", help="serve the local emulator over HTTP")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--key", dest="emulator_key", default=None, help="require this key (default: accept any)")
    p.add_argument("--rate-limit", type=float, default=None, help="requests per second before 429")
    p.add_argument("--fail-rate", type=float, default=0.0, help="probability of a 500 or 503 answer")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    p.add_argument("--hang-rate", type=float, default=0.0, help="probability of never answering")
    p.add_argument("--drop-rate", type=float, default=0.0, help="probability of dropping the connection mid-answer")
    p.add_argument("--seed", type=int, default=None, help="seed for random faults")
    _batch.add_parser(sub)
    _search.add_parser(sub)
    return parser


# -- rendering ------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def render(command: str, result: Any) -> list[str]:
    """Human-readable lines for one result."""
    if command == "analyze4":
        return render_v4(result)
    lines: list[str] = []
    tags = getattr(result, "tags", ())
    if command in ("analyze", "tag") and tags:
        lines.append("tags: " + ", ".join(f"{t.name} {_pct(t.confidence)}" for t in tags))
    description = result.description if command == "analyze" else result if command == "describe" else None
    if description is not None:
        for caption in description.captions:
            lines.append(f"caption: {caption.text} ({_pct(caption.confidence)})")
        if command == "describe" and description.tags:
            lines.append("tags: " + ", ".join(description.tags))
    if command == "analyze":
        if result.categories:
            lines.append("categories: " + ", ".join(f"{c.name} {_pct(c.score)}" for c in result.categories))
        if result.color is not None:
            c = result.color
            bw = ", black and white" if c.is_bw_img else ""
            lines.append(
                f"color: foreground {c.dominant_color_foreground}, background {c.dominant_color_background}, "
                f"dominant {'/'.join(c.dominant_colors)}, accent #{c.accent_color}{bw}"
            )
        if result.image_type is not None:
            kind = result.image_type
            lines.append(f"image type: clip art {kind.clip_art_type}/3, line drawing {kind.line_drawing_type}/1")
        for face in result.faces:
            lines.append(f"face: {face.gender or '?'} {face.age} at {face.face_rectangle}")
        if result.adult is not None and (
            result.adult.is_adult_content or result.adult.is_racy_content or result.adult.is_gory_content
        ):
            lines.append(f"adult: {result.adult}")
    if command in ("analyze", "detect"):
        for obj in result.objects:
            r = obj.rectangle
            where = f" at {r.x},{r.y} {r.w}x{r.h}" if r else ""
            parent = f" (a {obj.parent.object_})" if obj.parent else ""
            lines.append(f"object: {obj.object_} {_pct(obj.confidence)}{where}{parent}")
        if command == "detect" and not result.objects:
            lines.append("objects: none found")
    if command == "area" and result.area_of_interest is not None:
        r = result.area_of_interest
        lines.append(f"area of interest: {r.x},{r.y} {r.w}x{r.h}")
    if command in ("ocr", "read"):
        text = result.text
        lines.extend(["text:", *("  " + t for t in text.splitlines())] if text.strip() else ["text: none found"])
    return lines


def _header(label: str, result: Any) -> str:
    meta = getattr(result, "metadata", None)
    fmt = getattr(meta, "format", None)
    size = f"{' ' + fmt if fmt else ''} {meta.width}x{meta.height}" if meta is not None else ""
    rid = getattr(result, "request_id", None)
    return f"{label}{size}" + (f"  [request {rid}]" if rid else "")


# -- commands -------------------------------------------------------------------------------


def _operation(args: argparse.Namespace, client: VisionClient) -> Callable[[Any], Awaitable[Any]]:
    c = args.command
    if c == "analyze4":
        return v4_operation(args, client)
    if c == "analyze":
        return lambda img: client.analyze(img, features=args.features, details=args.details, language=args.language)
    if c == "tag":
        return lambda img: client.tag(img, language=args.language)
    if c == "describe":
        return lambda img: client.describe(img, language=args.language, max_candidates=args.max_candidates)
    if c == "detect":
        return client.detect
    if c == "area":
        return client.area_of_interest
    if c == "ocr":
        return lambda img: client.ocr(img, language=args.language)
    return lambda img: client.read(img, language=args.language, pages=args.pages)


async def _run_images(args: argparse.Namespace, client: VisionClient) -> int:
    op = _operation(args, client)
    results: list[Any] = [None] * len(args.images)
    limiter = anyio.CapacityLimiter(CONCURRENCY)

    async def one(i: int, name: str) -> None:
        async with limiter:
            try:
                results[i] = await op(_image_arg(name))
                if getattr(args, "draw", None) is not None:
                    await draw_to_file(name, results[i], output_path(args.draw, i, len(args.images)))
            except VisionError as exc:
                results[i] = exc

    async with anyio.create_task_group() as tg:
        for i, name in enumerate(args.images):
            tg.start_soon(one, i, name)

    failures = 0
    documents = []
    for name, result in zip(args.images, results, strict=True):
        if isinstance(result, VisionError):
            failures += 1
            print(f"vision-async: {name}: {result}", file=sys.stderr)
            if args.json:
                documents.append(
                    {
                        "image": name,
                        "error": {
                            "type": type(result).__name__,
                            "message": str(result),
                            "request_id": result.request_id,
                        },
                    }
                )
            continue
        if args.json:
            documents.append({"image": name, "result": dict(result.raw)})
        else:
            print(_header(name, result))
            for line in render(args.command, result):
                print("  " + line)
    if args.json:
        print(json.dumps(documents, indent=2))
    return 1 if failures else 0


async def _run(args: argparse.Namespace, client: VisionClient) -> int:
    async with client:
        if args.command == "models":
            result = await client.list_models()
            if args.json:
                print(json.dumps(dict(result.raw), indent=2))
            else:
                for model in result.models:
                    print(f"{model.name}: {', '.join(model.categories)}")
            return 0
        if args.command == "thumbnail":
            data = await client.generate_thumbnail(
                _image_arg(args.image), args.width, args.height, smart_cropping=args.smart
            )
            await anyio.Path(args.output).write_bytes(data)
            print(f"wrote {args.output} ({args.width}x{args.height}, {len(data)} bytes)")
            return 0
        return await _run_images(args, client)


def _serve(args: argparse.Namespace) -> int:
    from ..emulator import Emulator, serve

    emulator = Emulator(key=args.emulator_key, seed=args.seed)
    settings: dict[str, Any] = {
        "rate_limit": args.rate_limit,
        "p500": args.fail_rate / 2,
        "p503": args.fail_rate / 2,
        "latency": args.latency,
        "p_hang": args.hang_rate,
        "p_drop": args.drop_rate,
    }
    emulator.set_faults("*", **settings)
    if args.emulator_key is None:
        print("vision-async emulator: no --key given; accepting any key", file=sys.stderr)
    if not is_loopback_host(args.host):
        print(
            f"vision-async emulator: warning: {args.host} is not loopback; anyone who can reach it can "
            "use it and reconfigure its faults through /_emulator/",
            file=sys.stderr,
        )
    print(
        f"vision-async emulator: serving Computer Vision v3.2 on http://{args.host}:{args.port}/vision/v3.2 "
        f"and Image Analysis 4.0 on http://{args.host}:{args.port}/computervision/ (imageanalysis:analyze, "
        "retrieval:vectorizeImage, retrieval:vectorizeText)",
        file=sys.stderr,
    )
    serve(emulator, host=args.host, port=args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "emulator":
            return _serve(args)
        if args.command == "batch":
            return _batch.run(args)
        if args.command == "search":
            return _search.run(args)
        client = make_client(args, timeout=args.timeout)
        return anyio.run(_run, args, client)
    except UsageError as exc:
        print(f"vision-async: {exc}", file=sys.stderr)
        return 2
    except VisionError as exc:
        print(f"vision-async: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    except ValueError as exc:
        print(f"vision-async: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
