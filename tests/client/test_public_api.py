"""The public namespace is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import vision_async

EXPECTED = [
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


def test_all_is_pinned_and_sorted() -> None:
    """__all__ is exactly the expected list, sorted."""
    assert vision_async.__all__ == EXPECTED
    assert vision_async.__all__ == sorted(vision_async.__all__)


def test_every_public_name_resolves() -> None:
    """Every name in __all__ exists on the package."""
    for name in vision_async.__all__:
        assert hasattr(vision_async, name), name


def test_implementation_modules_are_private() -> None:
    """Implementation lives in _-prefixed modules.

    Public submodules: testing, emulator, cli, batch, v4, redis, spark.
    """
    import pkgutil

    public = {m.name for m in pkgutil.iter_modules(vision_async.__path__) if not m.name.startswith("_")}
    assert public <= {"testing", "emulator", "cli", "batch", "v4", "redis", "spark"}
