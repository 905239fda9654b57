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
