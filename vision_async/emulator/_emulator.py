"""The emulator: an ASGI app speaking the v3.2 and 4.0 wire protocols, with fault injection and counters."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from . import _ocr
from ._faults import FaultConfig, Faults, Stats
from ._results import Scenarios
from ._routes import Routes
from ._routes_retrieval import ROUTES_RETRIEVAL, RoutesRetrieval
from ._routes_v4 import ROUTES_V4, RoutesV4
from ._wire import ApiError, gateway_error, json_response

__all__ = ["DroppedConnection", "Emulator"]

logger = logging.getLogger("vision_async.emulator")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

API = "/vision/v3.2"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(f"^{API}{pattern}/?$"), name)
    for method, pattern, name in (
        ("POST", "/analyze", "analyze"),
        ("POST", "/describe", "describe"),
        ("POST", "/tag", "tag"),
        ("POST", "/detect", "detect"),
        ("GET", "/models", "models"),
        ("POST", "/models/(?P<model>[^/]+)/analyze", "analyze_by_domain"),
        ("POST", "/ocr", "ocr"),
        ("POST", "/read/analyze", "read"),
        ("GET", "/read/analyzeResults/(?P<operation_id>[^/]+)", "read_result"),
        ("POST", "/generateThumbnail", "generate_thumbnail"),
        ("POST", "/areaOfInterest", "area_of_interest"),
    )
) + tuple(
    (method, re.compile(f"^{re.escape(path)}/?$"), name) for method, path, name in (*ROUTES_V4, *ROUTES_RETRIEVAL)
)
#: Longest a "hung" response holds the connection before giving up on the client.
MAX_HANG = 600.0

_RATE_MESSAGE = (
    "Requests to the {op} Operation under Computer Vision API (v3.2) have exceeded rate limit of your current "
    "pricing tier. Please retry after {n} second{s}. To increase your rate limit switch to a paid tier."
)


class DroppedConnection(Exception):
    """Raised inside the app to cut a response off mid-body (fault injection)."""


class Emulator:
    """A local emulator of the Azure Computer Vision v3.2 API and of Image Analysis 4.0.

    ``key``: the subscription key to require (``None`` accepts any key, and bearer tokens).
    ``clock``/``sleep``: injectable time (Read progress, rate limits, outages, latency).
    ``read_delays``: seconds a Read operation stays notStarted, then running.
    ``ocr``: ``"auto"`` uses rapidocr-onnxruntime when installed, ``"off"`` never recognizes text.
    ``seed``: makes random faults and operation ids reproducible.
    """

    def __init__(
        self,
        *,
        key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
        wall_clock: Callable[[], float] = time.time,
        read_delays: tuple[float, float] = (0.05, 0.2),
        ocr: str = "auto",
        seed: int | None = 0,
    ) -> None:
        if ocr not in ("auto", "off"):
            raise ValueError("ocr must be 'auto' or 'off'")
        self.key = key
        self.clock = clock
        self.sleep = sleep
        self.wall_clock = wall_clock
        self.read_delays = read_delays
        self.random = random.Random(seed)
        self.faults = Faults(clock=clock, seed=seed)
        self.stats = Stats()
        #: The W3C ``traceparent`` of every API request that carried one, in order received.
        self.traceparents: list[str] = []
        self.scenarios = Scenarios()
        self.urls: dict[str, bytes] = {}
        self._ocr = ocr
        self._routes = Routes(self)
        self._v4_handlers = {**RoutesV4(self._routes).handlers(), **RoutesRetrieval(self._routes).handlers()}

    # -- configuration -------------------------------------------------------------------

    def register(self, image: bytes | str, *, data: bytes | None = None, **results: Any) -> str:
        """Answer ``image`` (its bytes, or a URL) with ``results`` (wire JSON per feature).

        For a URL, ``data`` gives the image bytes the URL stands for (the emulator never fetches
        from outside 127.0.0.1), so that its pixels can be measured.
        """
        if data is not None:
            if not isinstance(image, str):
                raise ValueError("data= goes with a URL")
            self.urls[image] = data
        return self.scenarios.register(image, **results)

    def add_url(self, url: str, data: bytes) -> None:
        """Serve ``data`` as the image behind ``url`` (no scenario results)."""
        self.urls[url] = data

    def set_faults(self, route: str = "*", config: FaultConfig | None = None, **settings: Any) -> FaultConfig:
        """Configure fault injection for one route or ``"*"``; see :class:`FaultConfig`."""
        return self.faults.set(route, config, **settings)

    def reset(self) -> None:
        """Forget faults, counters, scenarios, hosted URLs and Read operations."""
        self.faults.clear()
        self.stats = Stats()
        self.traceparents.clear()
        self.scenarios.clear()
        self.urls.clear()
        self._routes.operations.clear()

    def recognizer(self) -> _ocr.TextRecognizer | None:
        return None if self._ocr == "off" else _ocr.load_recognizer()

    def iso_now(self) -> str:
        now = dt.datetime.fromtimestamp(self.wall_clock(), tz=dt.UTC)
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"

    def _request_id(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request_id = self._request_id()
        headers = {"apim-request-id": request_id}
        path: str = scope["path"]
        if path.startswith("/_emulator/"):
            response = await self._admin(Request(scope, receive), path)
            await response(scope, receive, send)
            return
        route, params = self._match(scope["method"], path)
        if route is None:
            response = gateway_error(404, "Resource not found").response(request_id)
            response.headers.update(headers)
            await response(scope, receive, send)
            return
        self.stats.received[route] += 1
        self.stats.timeline[int(self.faults.elapsed())] += 1
        request = Request(scope, receive)
        traceparent = request.headers.get("traceparent")
        if traceparent:
            self.traceparents.append(traceparent)
        try:
            self._authorize(request)
            decision = self.faults.decide(route)
            if decision.latency:
                await self.sleep(decision.latency)
            if decision.hang:
                await self._hang(receive)
                return
            if decision.status is not None:
                raise self._fault_error(decision.status, decision.retry_after, route)
            handler = self._v4_handlers.get(route) or getattr(self._routes, route)
            response = await handler(request, request_id, **params)
        except ApiError as exc:
            decision = None
            response = exc.response(request_id)
        except ClientDisconnect:  # the client gave up while its body was read: no one to answer
            return
        except Exception:  # a bug in the emulator: answer as the service would, and say so
            logger.exception("emulator: %s failed", route)
            decision = None
            response = ApiError(500, "InternalServerError", "An internal server error occurred.").response(request_id)
        response.headers.update(headers)
        self.stats.answered[(route, response.status_code)] += 1
        if decision is not None and decision.drop:
            await self._drop(response, send)
        await response(scope, receive, send)

    @staticmethod
    def _match(method: str, path: str) -> tuple[str | None, dict[str, str]]:
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and method == route_method:
                return name, match.groupdict()
        return None, {}

    def _authorize(self, request: Request) -> None:
        key = request.headers.get("ocp-apim-subscription-key")
        bearer = request.headers.get("authorization", "")
        if self.key is None:
            if key or bearer.lower().startswith("bearer "):
                return
        elif key == self.key:
            return
        raise gateway_error(
            401,
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
            "for an active subscription and use a correct regional API endpoint for your resource.",
        )

    @staticmethod
    def _fault_error(status: int, retry_after: int | None, route: str) -> ApiError:
        if status == 429:
            n = retry_after or 1
            op = route.replace("_", " ").title().replace(" ", "")
            message = _RATE_MESSAGE.format(op=op, n=n, s="" if n == 1 else "s")
            return gateway_error(429, message, headers={"Retry-After": str(n)})
        if status == 503:
            return ApiError(
                503, "", "The service is temporarily unavailable. Please try again later.", code="ServiceUnavailable"
            )
        return ApiError(500, "InternalServerError", "An internal server error occurred.", code="InternalServerError")

    @staticmethod
    async def _hang(receive: Receive) -> None:
        """Hold the request open until the client goes away (or MAX_HANG passes)."""
        with anyio.move_on_after(MAX_HANG):
            while (await receive())["type"] != "http.disconnect":
                pass

    @staticmethod
    async def _drop(response: Response, send: Send) -> None:
        body = bytes(response.body)
        await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": body[: max(1, len(body) // 2)], "more_body": True})
        raise DroppedConnection("fault injection: connection dropped mid-response")

    async def _admin(self, request: Request, path: str) -> Response:
        """``GET /_emulator/stats``, ``POST|DELETE /_emulator/faults``, ``POST /_emulator/reset``."""
        try:
            if path == "/_emulator/stats" and request.method == "GET":
                return json_response(
                    {**self.stats.snapshot(), "faults": self.faults.snapshot(), "elapsed": self.faults.elapsed()}
                )
            if path == "/_emulator/faults" and request.method == "POST":
                settings = json.loads(await request.body() or b"{}")
                route = settings.pop("route", "*")
                config = self.set_faults(route, **settings)
                return json_response({"route": route, **config.to_mapping()})
            if path == "/_emulator/faults" and request.method == "DELETE":
                self.faults.clear()
                return json_response({"faults": {}})
            if path == "/_emulator/reset" and request.method == "POST":
                self.reset()
                return json_response({"reset": True})
        except (ValueError, TypeError) as exc:
            return json_response({"error": {"code": "BadArgument", "message": str(exc)}}, 400)
        return json_response({"error": {"code": "404", "message": "Unknown emulator admin route"}}, 404)
