"""The v3.2 surface: every 3.2 operation as a coroutine, run through the client's :class:`Runner`.

:class:`~vision_async.VisionClient`'s 3.2 methods delegate here, and ``client.batch`` binds here;
both run a validated :class:`~vision_async._v32.plans.Plan` with :meth:`ImageAnalysisV32.run`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from .._core.endpoint import API_PATH
from .._core.images import ImageInput, ImageKind, sniff_format
from .._core.runner import Runner
from .._errors import APITimeoutError, ResponseValidationError
from .features import DescriptionExclude, Detail, ReadingOrder, VisualFeature
from .plans import Plan, PlanCache, plan_for
from .read import ReadPoller, check_operation_id, operation_id_from_location

if TYPE_CHECKING:  # the result classes are imported by the planners: `import vision_async` stays light
    from .models import (
        AreaOfInterestResult,
        DetectResult,
        DomainModelResults,
        ImageAnalysis,
        ImageDescription,
        ListModelsResult,
        TagResult,
    )
    from .ocr_models import OcrResult, ReadOperationResult

__all__ = ["ImageAnalysisV32"]

#: Read operation ids remembered with the resource that accepted them (for polling there).
_READ_IDS_KEPT = 10_000


class ImageAnalysisV32:
    """The Image Analysis 3.2 API of a :class:`VisionClient` (whose 3.2 methods delegate here)."""

    __slots__ = ("_plans", "_poller", "_read_resources", "_read_timeout", "_runner")

    def __init__(self, runner: Runner, *, read_timeout: float, poller: ReadPoller) -> None:
        self._runner = runner
        self._read_timeout = read_timeout
        self._poller = poller
        self._plans = PlanCache()
        self._read_resources: OrderedDict[str, str | None] = OrderedDict()

    # -- running a plan ------------------------------------------------------------------------

    async def _send(self, plan: Plan, image: ImageInput) -> Any:
        runner = self._runner
        return await runner.send(
            plan.operation,
            "POST",
            API_PATH + plan.path,
            query=plan.query,
            image=image,
            kind=plan.kind,
            expect=plan.expect,
            accept=plan.accept,
            max_body=getattr(runner.response_limits, plan.body_cap),
        )

    async def run(self, plan: Plan, image: ImageInput) -> Any:
        """Run a validated plan on one image: the one path of every 3.2 operation on an image."""
        if plan.kind is ImageKind.READ and plan.operation == "read":
            return await self._run_read(plan, image)
        response = await self._send(plan, image)
        if plan.parse is not None:
            return response.parse(plan.parse, plan.operation)
        if sniff_format(response.content) not in ("JPEG", "PNG", "GIF", "BMP"):
            raise ResponseValidationError(
                f"{plan.operation}: the response is not an image ({len(response.content)} bytes)",
                request_id=response.request_id,
            )
        return response.content

    async def _begin_read(self, plan: Plan, image: ImageInput) -> str:
        response = await self._send(plan, image)
        operation_id = operation_id_from_location(response.headers.get("operation-location"), response.request_id)
        resources = self._read_resources
        resources[operation_id] = response.resource
        while len(resources) > _READ_IDS_KEPT:
            del resources[next(iter(resources))]
        return operation_id

    async def _run_read(self, plan: Plan, image: ImageInput) -> ReadOperationResult:
        budget: float = plan.extra.get("timeout", self._read_timeout)
        clock = self._runner.clock
        start = clock()
        try:
            with anyio.fail_after(budget):
                operation_id = await self._begin_read(plan, image)
                return await self._poller.wait(
                    operation_id,
                    timeout=budget - (clock() - start),
                    resource=self._read_resources.get(operation_id),
                )
        except TimeoutError as exc:
            raise APITimeoutError(f"read: no result within {budget}s") from exc

    def bind(self, operation: str, options: Mapping[str, Any]) -> Callable[[ImageInput], Awaitable[Any]]:
        """Validate once; return a coroutine function running ``operation`` on one image."""
        plan = plan_for(operation, dict(options))

        async def run(image: ImageInput) -> Any:
            return await self.run(plan, image)

        return run

    # -- the operations ------------------------------------------------------------------------

    async def analyze(
        self,
        image: ImageInput,
        *,
        features: Iterable[VisualFeature | str] | VisualFeature | str | None = None,
        details: Iterable[Detail | str] | Detail | str = (),
        language: str = "en",
        description_exclude: Iterable[DescriptionExclude | str] | DescriptionExclude | str = (),
        model_version: str = "latest",
    ) -> ImageAnalysis:
        plan = self._plans.get(
            "analyze",
            features=features,
            details=details,
            language=language,
            description_exclude=description_exclude,
            model_version=model_version,
        )
        result: ImageAnalysis = await self.run(plan, image)
        return result

    async def tag(self, image: ImageInput, *, language: str, model_version: str) -> TagResult:
        result: TagResult = await self.run(
            self._plans.get("tag", language=language, model_version=model_version), image
        )
        return result

    async def describe(
        self,
        image: ImageInput,
        *,
        max_candidates: int,
        language: str,
        description_exclude: Iterable[DescriptionExclude | str] | DescriptionExclude | str,
        model_version: str,
    ) -> ImageDescription:
        plan = self._plans.get(
            "describe",
            max_candidates=max_candidates,
            language=language,
            description_exclude=description_exclude,
            model_version=model_version,
        )
        result: ImageDescription = await self.run(plan, image)
        return result

    async def detect(self, image: ImageInput, *, model_version: str) -> DetectResult:
        result: DetectResult = await self.run(self._plans.get("detect", model_version=model_version), image)
        return result

    async def list_models(self) -> ListModelsResult:
        response = await self._runner.send("list_models", "GET", API_PATH + "/models")
        from .models import ListModelsResult

        return response.parse(ListModelsResult, "list_models")

    async def analyze_by_domain(
        self, model: str, image: ImageInput, *, language: str, model_version: str
    ) -> DomainModelResults:
        plan = self._plans.get("analyze_by_domain", model=model, language=language, model_version=model_version)
        result: DomainModelResults = await self.run(plan, image)
        return result

    async def ocr(self, image: ImageInput, *, language: str, detect_orientation: bool, model_version: str) -> OcrResult:
        plan = self._plans.get(
            "ocr", language=language, detect_orientation=detect_orientation, model_version=model_version
        )
        result: OcrResult = await self.run(plan, image)
        return result

    async def generate_thumbnail(
        self, image: ImageInput, width: int, height: int, *, smart_cropping: bool, model_version: str
    ) -> bytes:
        plan = self._plans.get(
            "generate_thumbnail", width=width, height=height, smart_cropping=smart_cropping, model_version=model_version
        )
        result: bytes = await self.run(plan, image)
        return result

    async def area_of_interest(self, image: ImageInput, *, model_version: str) -> AreaOfInterestResult:
        plan = self._plans.get("area_of_interest", model_version=model_version)
        result: AreaOfInterestResult = await self.run(plan, image)
        return result

    async def begin_read(
        self,
        image: ImageInput,
        *,
        language: str | None,
        pages: str | int | Iterable[str | int] | None,
        reading_order: ReadingOrder | str,
        model_version: str,
    ) -> str:
        plan = self._plans.get(
            "begin_read", language=language, pages=pages, reading_order=reading_order, model_version=model_version
        )
        return await self._begin_read(plan, image)

    async def get_read_result(self, operation_id: str) -> ReadOperationResult:
        check_operation_id(operation_id)
        self._runner.check_open()
        result, _ = await self._poller.get(operation_id, resource=self._read_resources.get(operation_id))
        return result

    async def read(
        self,
        image: ImageInput,
        *,
        language: str | None,
        pages: str | int | Iterable[str | int] | None,
        reading_order: ReadingOrder | str,
        model_version: str,
        timeout: float | None,
    ) -> ReadOperationResult:
        plan = self._plans.get(
            "read",
            language=language,
            pages=pages,
            reading_order=reading_order,
            model_version=model_version,
            timeout=timeout,
        )
        result: ReadOperationResult = await self.run(plan, image)
        return result
