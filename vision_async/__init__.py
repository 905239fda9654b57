"""vision_async: an asyncio-first client for the Azure AI Vision Image Analysis REST API (v3.2 and 4.0)."""

from typing import TYPE_CHECKING

from ._client import VisionClient
from ._core.resource import Resource
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CertificateVerificationError,
    CircuitOpenError,
    ClientClosedError,
    ConfigurationError,
    CooldownTimeout,
    CredentialError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ProxyAuthenticationError,
    ProxyError,
    RateLimitError,
    RateLimitTimeout,
    ReadOperationFailedError,
    ResponseTooLargeError,
    ResponseValidationError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
    VisionError,
)
from ._events import BreakerState, BreakerStateChange, RetryEvent
from ._policies import BreakerPolicy, ImageLimits, ResponseLimits, RetryBudget, RetryPolicy
from ._resilience.rate_limit import RateLimit
from ._resilience.stats import ClientStats, ResourceStats
from ._v32.features import DescriptionExclude, Detail, ReadingOrder, VisualFeature
from ._version import __version__

if TYPE_CHECKING:
    from ._v32.models import (
        AdultInfo,
        AreaOfInterestResult,
        BoundingRect,
        Category,
        CategoryDetail,
        CelebritiesModel,
        ColorInfo,
        DetectedBrand,
        DetectedObject,
        DetectResult,
        DomainModelResults,
        FaceDescription,
        FaceRectangle,
        ImageAnalysis,
        ImageCaption,
        ImageDescription,
        ImageDescriptionDetails,
        ImageMetadata,
        ImageTag,
        ImageType,
        LandmarksModel,
        ListModelsResult,
        ModelDescription,
        ObjectHierarchy,
        TagResult,
    )
    from ._v32.ocr_models import (
        AnalyzeResults,
        Appearance,
        Line,
        OcrLine,
        OcrRegion,
        OcrResult,
        OcrWord,
        OperationStatus,
        ReadOperationResult,
        ReadResult,
        Style,
        Word,
    )
    from .batch import BatchItem

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AdultInfo",
    "AnalyzeResults",
    "Appearance",
    "AreaOfInterestResult",
    "AuthenticationError",
    "BadRequestError",
    "BatchItem",
    "BoundingRect",
    "BreakerPolicy",
    "BreakerState",
    "BreakerStateChange",
    "Category",
    "CategoryDetail",
    "CelebritiesModel",
    "CertificateVerificationError",
    "CircuitOpenError",
    "ClientClosedError",
    "ClientStats",
    "ColorInfo",
    "ConfigurationError",
    "CooldownTimeout",
    "CredentialError",
    "DescriptionExclude",
    "Detail",
    "DetectResult",
    "DetectedBrand",
    "DetectedObject",
    "DomainModelResults",
    "FaceDescription",
    "FaceRectangle",
    "ImageAnalysis",
    "ImageCaption",
    "ImageDescription",
    "ImageDescriptionDetails",
    "ImageLimits",
    "ImageMetadata",
    "ImageTag",
    "ImageType",
    "InternalServerError",
    "InvalidInputError",
    "LandmarksModel",
    "Line",
    "ListModelsResult",
    "ModelDescription",
    "NotFoundError",
    "ObjectHierarchy",
    "OcrLine",
    "OcrRegion",
    "OcrResult",
    "OcrWord",
    "OperationStatus",
    "PermissionDeniedError",
    "ProxyAuthenticationError",
    "ProxyError",
    "RateLimit",
    "RateLimitError",
    "RateLimitTimeout",
    "ReadOperationFailedError",
    "ReadOperationResult",
    "ReadResult",
    "ReadingOrder",
    "Resource",
    "ResourceStats",
    "ResponseLimits",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "RetryBudget",
    "RetryEvent",
    "RetryPolicy",
    "ServiceUnavailableError",
    "Style",
    "TagResult",
    "UnsupportedMediaTypeError",
    "VisionClient",
    "VisionError",
    "VisualFeature",
    "Word",
    "__version__",
]


#: Where the public names not imported above live (PEP 562): the ~60 result classes cost a
#: quarter of the package's import time and most programs use a few of them; BatchItem comes
#: with the batch machinery.
_LAZY_MODULES = ("._v32.models", "._v32.ocr_models", ".batch")


def __getattr__(name: str) -> object:
    if name in __all__:
        import importlib

        for module_name in _LAZY_MODULES:
            module = importlib.import_module(module_name, __name__)
            if name in module.__all__:
                value = getattr(module, name)
                globals()[name] = value  # found once; later lookups are plain module attributes
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
