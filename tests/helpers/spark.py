"""Shared by the Spark tests: the key, images, and a transform's arguments for the emulator."""

from __future__ import annotations

from typing import Any

from tests.helpers import png_bytes

#: The emulator checks it; the tests look for it everywhere it must not be.
KEY = "spark-k3y-never-in-a-plan-0123456789"


def image(i: int) -> bytes:
    """A distinct small PNG per row."""
    return png_bytes(64 + i % 5, 60, ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))


def against(url: str, **extra: Any) -> dict[str, Any]:
    """vision_transform's arguments for the emulator at ``url``."""
    options: dict[str, Any] = {"allow_insecure_http": True}
    options.update(extra.pop("client_options", {}))
    return {"endpoint": url, "key": KEY, "client_options": options, **extra}


def config_for(url: str, operation: str = "tag", **fields: Any) -> Any:
    """A transform's configuration as the driver would build it, for the worker's own tests."""
    import uuid

    from vision_async import Resource
    from vision_async.spark._config import Config

    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "operation": operation,
        "options": {},
        "resources": (Resource(url, KEY),),
        "rate_limit": None,
        "redis_url": None,
        "redis_prefix": "",
        "workers": 1,
        "concurrency": 4,
        "patience": 30.0,
        "client_options": {"allow_insecure_http": True},
        "image_index": 1,
        "key_index": 0,
        "vector": False,
    }
    values.update(fields)
    return Config(**values)


def arrow_batches(sizes: list[int], start: int = 0) -> list[Any]:
    """Arrow batches of ``(path, content)`` rows, as Spark hands them to mapInArrow."""
    import pyarrow as pa

    batches, n = [], start
    for size in sizes:
        paths = [f"img-{i:04d}" for i in range(n, n + size)]
        batches.append(pa.RecordBatch.from_pydict({"path": paths, "content": [image(i) for i in range(n, n + size)]}))
        n += size
    return batches
