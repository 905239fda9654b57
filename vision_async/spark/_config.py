"""What a transform's tasks need to know, built and checked on the driver, pickled into the function.

The configuration holds the resources' keys (and a password in the Redis URL): it has to, as
the executors need them. It travels inside the function Spark pickles for ``mapInArrow``, which
no plan, UI page or log renders; its ``repr`` shows none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._core.resource import Resource
from .._errors import ConfigurationError
from .._resilience.rate_limit import RateLimit

__all__ = ["Config"]


@dataclass(frozen=True, eq=False)
class Config:
    """One ``vision_transform``: the operation, its options, the client's arguments, the columns."""

    id: str
    operation: str
    options: dict[str, Any] = field(repr=False)
    resources: tuple[Resource, ...] = field(repr=False)
    rate_limit: RateLimit | None
    redis_url: str | None = field(repr=False)
    redis_prefix: str
    workers: int
    concurrency: int
    patience: float
    client_options: dict[str, Any] = field(repr=False)
    image_index: int
    key_index: int | None
    vector: bool

    def make_client(self) -> Any:
        """A client for this transform (with its Redis coordination when there is one)."""
        from .._client import VisionClient

        coordination = None
        if self.redis_url is not None:
            from ..redis import RedisCoordination

            coordination = RedisCoordination(self.redis_url, workers=self.workers, prefix=self.redis_prefix)
        return VisionClient(
            resources=list(self.resources),
            rate_limit=self.rate_limit,
            coordination=coordination,
            **self.client_options,
        )

    def validate(self) -> None:
        """On the driver: the client's arguments, the coordination and the operation's options
        checked by building them (nothing is sent), and the whole configuration picklable."""
        from ..batch import bind_operation

        client = self.make_client()
        bind_operation(client, self.operation, self.options)
        try:
            from pyspark import cloudpickle

            cloudpickle.dumps(self)  # type: ignore[no-untyped-call]
        except Exception as exc:  # a credential holding a lock, a socket, ...
            raise ConfigurationError(
                f"the transform's configuration cannot be sent to executors ({type(exc).__name__}): "
                "a credential=, a Resource or a client option that cannot be pickled"
            ) from None
