"""The emulator's Image Analysis 4.0 route: ``POST /computervision/imageanalysis:analyze``.

It validates the query as the service does (``_wire_v4``), then reuses the 3.2 routes' image
input, pixel facts, text recognition and scenarios, and answers in the 4.0 shape (``_results_v4``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .._core.images import ACCEPTED_FORMATS, ImageKind, sniff_format
from ..v4._options import ANALYZE_PATH, Feature
from . import _wire_v4 as wire
from ._results_v4 import analysis_v4
from ._routes import Handler, Routes
from ._wire import json_response
from ._wire_v4 import V4Error, v4_errors

__all__ = ["ROUTES_V4", "RoutesV4"]

#: (method, path, route name) of the 4.0 routes.
ROUTES_V4 = (("POST", ANALYZE_PATH, "v4_analyze"),)


class RoutesV4:
    """The 4.0 handlers, on top of the 3.2 :class:`Routes` (their caches and the emulator's state)."""

    def __init__(self, routes: Routes) -> None:
        self._routes = routes

    def handlers(self) -> dict[str, Handler]:
        return {"v4_analyze": self.v4_analyze}

    async def v4_analyze(self, request: Request, request_id: str) -> Response:
        q = request.query_params
        wire.api_version(q.get("api-version"))
        wanted = wire.features(q.get("features"))
        wire.language(q.get("language"), wanted)
        wire.gender_neutral(q.get("gender-neutral-caption"))
        ratios = wire.aspect_ratios(q.get("smartcrops-aspect-ratios"))
        model = wire.model_version(q.get("model-version"))
        with v4_errors():
            image = await self._routes.image(request, max_bytes=wire.MAX_IMAGE_BYTES)
            if sniff_format(image.data) not in ACCEPTED_FORMATS[ImageKind.V4]:
                raise V4Error(400, "InvalidImageFormat", "Input data is not a valid image.", outer_message=_BAD_FORMAT)
            facts = await self._routes.facts(image)
        if max(facts.width, facts.height) >= wire.MAX_DIMENSION:
            raise V4Error(
                400,
                "InvalidImageDimension",
                f"Image dimensions must be greater than 50 x 50 and less than {wire.MAX_DIMENSION} x "
                f"{wire.MAX_DIMENSION} pixels.",
            )
        em = self._routes.em
        scenario = em.scenarios.lookup(image.data, image.url)
        text = await self._routes.text(image) if Feature.READ in wanted and "read" not in scenario else []
        body = analysis_v4(
            wanted,
            facts=facts,
            computed=self._routes._analysis(image, facts),
            scenario=scenario,
            text=text,
            ratios=ratios,
            model_version=model,
        )
        return json_response(body)


_BAD_FORMAT = "Image format is not valid."
