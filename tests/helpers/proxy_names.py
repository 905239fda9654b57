"""A proxy.py plugin for the tests: the proxy resolves ``*.test`` names to 127.0.0.1.

The client cannot resolve ``vision.test`` itself, so a call to it succeeds only through the proxy;
that is how the tests see that the environment's proxy variables were (or were not) used.
"""

from __future__ import annotations

from proxy.http.proxy import HttpProxyBasePlugin


class TestNames(HttpProxyBasePlugin):
    def resolve_dns(self, host: str, port: int) -> tuple[str | None, None]:  # type: ignore[override]
        if host == "vision.test" or host.endswith(".vision.test"):
            return "127.0.0.1", None
        return None, None
