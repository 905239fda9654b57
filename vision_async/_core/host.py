"""What an API surface (``_v32``, ``v4``) and the batch layer need of a client, as a protocol.

The surfaces and ``batch`` sit below :class:`~vision_async.VisionClient`: they are handed the
client and use only these members, so none of them imports the client module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from .._policies import ImageLimits
from .images import ImageInput
from .pipeline import Pipeline

__all__ = ["ClientHost"]


class ClientHost(Protocol):
    _pipeline: Pipeline
    _limits: ImageLimits

    def _check_open(self) -> None: ...

    def _bind(self, operation: str, options: Mapping[str, Any]) -> Callable[[ImageInput], Awaitable[Any]]: ...
