"""The emulator's operations: one handler per v3.2 route, on top of the pixel facts."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import Response

from .._core.endpoint import is_loopback_host
from .._core.images import sniff_format
from . import _wire as wire
from ._ocr import TextLine, TextRecognizer
from ._pixels import ImageFacts, InvalidImage, analyze_pixels, thumbnail
from ._results import Scenarios, analysis_fallback, ocr_body, read_page
from ._wire import ApiError, json_response

__all__ = ["EmulatorState", "Handler", "Routes", "decode_with"]

MIB = 1024 * 1024
MAX_IMAGE_BYTES = 4 * MIB
MAX_READ_BYTES = 500 * MIB
#: Images up to this size are decoded on the event loop; larger ones in a worker thread.
INLINE_DECODE_BYTES = 256 * 1024

Handler = Callable[..., Awaitable[Response]]
T = TypeVar("T")


async def decode_with(decoder: Callable[[bytes], T], data: bytes) -> T:
    """``decoder(data)``: on the event loop for a small image, in a worker thread for a large one."""
    if len(data) > INLINE_DECODE_BYTES:
        return await anyio.to_thread.run_sync(decoder, data)
    return decoder(data)


@dataclass
class ReadOperation:
    created: float
    created_iso: str
    pages: list[dict[str, Any]]
    model_version: str
    failed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Image:
    data: bytes
    url: str | None
    digest: str


def _is_loopback_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname or "")


class EmulatorState(Protocol):
    """What the handlers read of the emulator that serves them (``Emulator`` is one).

    Stated here so that the routes need not import the emulator that imports them.
    """

    scenarios: Scenarios
    urls: dict[str, bytes]
    random: random.Random
    read_delays: tuple[float, float]

    def clock(self) -> float: ...

    def iso_now(self) -> str: ...

    def recognizer(self) -> TextRecognizer | None: ...


class Routes:
    """The handlers, sharing the emulator's state (scenarios, caches, Read operations)."""

    def __init__(self, emulator: EmulatorState) -> None:
        self.em = emulator
        self._facts: OrderedDict[str, ImageFacts] = OrderedDict()
        self._text: OrderedDict[str, list[TextLine]] = OrderedDict()
        self.operations: dict[str, ReadOperation] = {}

    # -- inputs --------------------------------------------------------------------------

    async def image(self, request: Request, *, read: bool = False, max_bytes: int | None = None) -> Image:
        flat = read
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        url = None
        if media_type == "application/json":
            try:
                doc = json.loads(body or b"null")
            except ValueError:
                raise ApiError(400, "InvalidImageUrl", "The request body is not valid JSON.", flat=flat) from None
            url = doc.get("url") if isinstance(doc, dict) else None
            if not isinstance(url, str) or not url:
                raise ApiError(400, "InvalidImageUrl", "Image URL is badly formatted.", flat=flat)
            data = await self._fetch(url, flat)
        elif media_type == "application/octet-stream":
            data = body
        else:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"Unsupported media type '{media_type or '(none)'}': "
                "send application/json or application/octet-stream.",
                flat=flat,
            )
        limit = max_bytes if max_bytes is not None else MAX_READ_BYTES if read else MAX_IMAGE_BYTES
        if len(data) >= limit:
            raise ApiError(
                400, "InvalidImageSize", f"Input image is too large: it must be less than {limit} bytes.", flat=flat
            )
        if not data:
            raise ApiError(400, "InvalidImageFormat", "Input data is not a valid image.", flat=flat)
        return Image(data, url, hashlib.sha256(data).hexdigest())

    async def _fetch(self, url: str, flat: bool) -> bytes:
        hosted = self.em.urls.get(url)
        if hosted is not None:
            return hosted
        if not _is_loopback_url(url):
            # The emulator never reaches outside this machine.
            raise ApiError(
                400,
                "InvalidImageUrl",
                "Can't fetch the image from the URL (the emulator only fetches from 127.0.0.1 or registered URLs).",
                flat=flat,
            )
        try:
            async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
                response = await client.get(url)
        except httpx.HTTPError:
            raise ApiError(400, "InvalidImageUrl", "Failed to download the image from the URL.", flat=flat) from None
        if response.status_code != 200:
            raise ApiError(
                400, "InvalidImageUrl", f"Failed to download the image: HTTP {response.status_code}.", flat=flat
            )
        return response.content

    async def facts(self, image: Image, *, read: bool = False) -> ImageFacts:
        """The image's pixel facts (cached by digest; large images are decoded in a worker thread)."""
        cached = self._facts.get(image.digest)
        if cached is None:
            try:
                cached = await decode_with(analyze_pixels, image.data)
            except InvalidImage:
                raise ApiError(400, "InvalidImageFormat", "Input data is not a valid image.", flat=read) from None
            self._facts[image.digest] = cached
            if len(self._facts) > 256:
                self._facts.popitem(last=False)
        if read:
            if min(cached.width, cached.height) < 50 or max(cached.width, cached.height) > 10000:
                raise ApiError(
                    400,
                    "InvalidImageDimension",
                    "Image dimensions must be between 50 x 50 and 10000 x 10000 pixels.",
                    flat=True,
                )
        elif min(cached.width, cached.height) <= 50:
            raise ApiError(400, "InvalidImageSize", "Image must be larger than 50 x 50 pixels.")
        return cached

    async def text(self, image: Image) -> list[TextLine]:
        """Recognized text lines (in a worker thread: recognition takes long enough to stall the loop)."""
        recognizer = self.em.recognizer()
        if recognizer is None:
            return []
        lines = self._text.get(image.digest)
        if lines is None:
            lines = await anyio.to_thread.run_sync(recognizer.recognize, image.data)
            self._text[image.digest] = lines
            if len(self._text) > 64:
                self._text.popitem(last=False)
        return lines

    def _analysis(self, image: Image, facts: ImageFacts) -> dict[str, Any]:
        computed = analysis_fallback(facts)
        computed.update(self.em.scenarios.lookup(image.data, image.url))
        return computed

    def _common(self, computed: dict[str, Any], facts: ImageFacts, request_id: str, model: str) -> dict[str, Any]:
        return {
            "requestId": request_id,
            "metadata": computed.get("metadata") or facts.metadata(),
            "modelVersion": model,
        }

    # -- operations ----------------------------------------------------------------------

    async def analyze(self, request: Request, request_id: str) -> Response:
        q = request.query_params
        feats = wire.features(q.get("visualFeatures")) or ["Categories"]
        dets = wire.details(q.get("details"))
        language = wire.service_language(q.get("language"))
        wire.description_exclude(q.get("descriptionExclude"))
        model = wire.model_version(q.get("model-version"), wire.ANALYSIS_MODELS)
        if language != "en" and {"Objects", "Brands"} & set(feats):
            raise ApiError(400, "NotSupportedLanguage", "Objects and Brands are only available in English.")
        image = await self.image(request)
        facts = await self.facts(image)
        computed = self._analysis(image, facts)
        body: dict[str, Any] = {}
        keys = {
            "Categories": "categories",
            "Adult": "adult",
            "Color": "color",
            "ImageType": "imageType",
            "Tags": "tags",
            "Description": "description",
            "Faces": "faces",
            "Objects": "objects",
            "Brands": "brands",
        }
        for feature in feats:
            body[keys[feature]] = computed[keys[feature]]
        if dets and "categories" in body:
            body["categories"] = [self._with_details(c, dets, computed) for c in body["categories"]]
        body.update(self._common(computed, facts, request_id, model))
        return json_response(body)

    @staticmethod
    def _with_details(category: dict[str, Any], dets: list[str], computed: dict[str, Any]) -> dict[str, Any]:
        detail = dict(category.get("detail") or {})
        if "Celebrities" in dets and computed.get("celebrities"):
            detail.setdefault("celebrities", computed["celebrities"])
        if "Landmarks" in dets and computed.get("landmarks"):
            detail.setdefault("landmarks", computed["landmarks"])
        return {**category, "detail": detail} if detail else category

    async def describe(self, request: Request, request_id: str) -> Response:
        q = request.query_params
        candidates = wire.integer(q.get("maxCandidates"), "maxCandidates", default=1, low=1, high=100)
        wire.service_language(q.get("language"))
        wire.description_exclude(q.get("descriptionExclude"))
        model = wire.model_version(q.get("model-version"), wire.ANALYSIS_MODELS)
        image = await self.image(request)
        facts = await self.facts(image)
        computed = self._analysis(image, facts)
        description = dict(computed["description"])
        description["captions"] = list(description.get("captions", []))[:candidates]
        return json_response({"description": description, **self._common(computed, facts, request_id, model)})

    async def tag(self, request: Request, request_id: str) -> Response:
        q = request.query_params
        wire.service_language(q.get("language"))
        model = wire.model_version(q.get("model-version"), wire.ANALYSIS_MODELS)
        image = await self.image(request)
        facts = await self.facts(image)
        computed = self._analysis(image, facts)
        return json_response({"tags": computed["tags"], **self._common(computed, facts, request_id, model)})

    async def detect(self, request: Request, request_id: str) -> Response:
        model = wire.model_version(request.query_params.get("model-version"), wire.ANALYSIS_MODELS)
        image = await self.image(request)
        facts = await self.facts(image)
        computed = self._analysis(image, facts)
        return json_response({"objects": computed["objects"], **self._common(computed, facts, request_id, model)})

    async def models(self, request: Request, request_id: str) -> Response:
        models = [{"name": name, "categories": list(cats)} for name, cats in wire.DOMAIN_MODELS.items()]
        return json_response({"models": models, "requestId": request_id})

    async def analyze_by_domain(self, request: Request, request_id: str, model: str) -> Response:
        q = request.query_params
        name = model.lower()
        if name not in wire.DOMAIN_MODELS:
            raise ApiError(400, "InvalidModel", f"Model '{model}' is not supported. Use celebrities or landmarks.")
        wire.service_language(q.get("language"))
        version = wire.model_version(q.get("model-version"), wire.ANALYSIS_MODELS)
        image = await self.image(request)
        facts = await self.facts(image)
        computed = self._analysis(image, facts)
        return json_response({"result": {name: computed[name]}, **self._common(computed, facts, request_id, version)})

    async def ocr(self, request: Request, request_id: str) -> Response:
        q = request.query_params
        language = wire.ocr_language(q.get("language"))
        orientation = wire.boolean(q.get("detectOrientation"), "detectOrientation", True)
        model = wire.model_version(q.get("model-version"), wire.ANALYSIS_MODELS)
        image = await self.image(request)
        await self.facts(image)
        scenario = self.em.scenarios.lookup(image.data, image.url)
        if "ocr" in scenario:
            body = dict(scenario["ocr"])
            body.setdefault("modelVersion", model)
        else:
            body = ocr_body(
                await self.text(image), language=language, detect_orientation=orientation, model_version=model
            )
        return json_response(body)

    async def generate_thumbnail(self, request: Request, request_id: str) -> Response:
        q = request.query_params
        width = wire.integer(q.get("width"), "width", default=None, low=1, high=1024, inner="InvalidThumbnailSize")
        height = wire.integer(q.get("height"), "height", default=None, low=1, high=1024, inner="InvalidThumbnailSize")
        smart = wire.boolean(q.get("smartCropping"), "smartCropping", False)
        wire.model_version(q.get("model-version"), wire.ANALYSIS_MODELS)
        image = await self.image(request)
        facts = await self.facts(image)
        data, media_type = thumbnail(image.data, width, height, smart=smart, facts=facts)
        return Response(data, media_type=media_type)

    async def area_of_interest(self, request: Request, request_id: str) -> Response:
        model = wire.model_version(request.query_params.get("model-version"), wire.ANALYSIS_MODELS)
        image = await self.image(request)
        facts = await self.facts(image)
        computed = self._analysis(image, facts)
        return json_response(
            {"areaOfInterest": computed["areaOfInterest"], **self._common(computed, facts, request_id, model)}
        )

    async def read(self, request: Request, request_id: str) -> Response:
        q = request.query_params
        language = wire.read_language(q.get("language"))
        wanted_pages = wire.pages(q.get("pages"))
        wire.reading_order(q.get("readingOrder"))
        model = wire.model_version(q.get("model-version"), wire.READ_MODELS, flat=True)
        image = await self.image(request, read=True)
        fmt = sniff_format(image.data)
        scenario = self.em.scenarios.lookup(image.data, image.url)
        if fmt == "PDF":
            pages = [read_page([], page=1, width=8.5, height=11, unit="inch", language=language)]
        else:
            if fmt not in ("JPEG", "PNG", "GIF", "BMP", "TIFF"):
                raise ApiError(400, "InvalidImageFormat", "Input data is not a valid image or PDF.", flat=True)
            facts = await self.facts(image, read=True)
            lines = [] if "read" in scenario else await self.text(image)
            pages = [read_page(lines, page=1, width=facts.width, height=facts.height, unit="pixel", language=language)]
        if "read" in scenario:
            pages = list(scenario["read"])
        if wanted_pages is not None:
            pages = [p for p in pages if _page_selected(int(p.get("page", 1)), wanted_pages)]
        op_id = str(uuid.UUID(int=self.em.random.getrandbits(128), version=4))
        self.operations[op_id] = ReadOperation(
            created=self.em.clock(),
            created_iso=self.em.iso_now(),
            pages=pages,
            model_version=model,
            failed=scenario.get("read_status") == "failed",
        )
        base = f"{request.url.scheme}://{request.url.netloc}"
        return Response(
            status_code=202, headers={"Operation-Location": f"{base}/vision/v3.2/read/analyzeResults/{op_id}"}
        )

    async def read_result(self, request: Request, request_id: str, operation_id: str) -> Response:
        op = self.operations.get(operation_id)
        if op is None:
            raise ApiError(404, "NotFound", "Operation not found: the operation id is wrong or expired.", flat=True)
        elapsed = self.em.clock() - op.created
        not_started, running = self.em.read_delays
        body: dict[str, Any] = {"createdDateTime": op.created_iso, "lastUpdatedDateTime": self.em.iso_now()}
        if elapsed < not_started:
            body["status"] = "notStarted"
        elif elapsed < not_started + running:
            body["status"] = "running"
        elif op.failed:
            body["status"] = "failed"
        else:
            body["status"] = "succeeded"
            body["analyzeResult"] = {"version": "3.2.0", "modelVersion": op.model_version, "readResults": op.pages}
        return json_response({"status": body.pop("status"), **body})


def _page_selected(page: int, wanted: list[str]) -> bool:
    for item in wanted:
        low, _, high = item.partition("-")
        if "-" not in item:
            if page == int(item):
                return True
        elif (not low or page >= int(low)) and (not high or page <= int(high)):
            return True
    return False
