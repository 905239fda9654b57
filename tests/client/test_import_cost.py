"""``import vision_async`` stays light (issue 9, goal 4): what a process needs only for some calls
is imported when first used. Checked in fresh interpreters, by what got imported (never by time)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

#: Imported on first use only: httpx (only for httpx transports), the default pool and its HTTP/1.1
#: parser (with the first client), the result classes (with the first plan or public lookup of
#: their kind), pybreaker (with the first breaker), tenacity (with the first retry), ssl (with the
#: first https connection), hmac (comparing two secrets), hashlib (with the first client).
DEFERRED = (
    "httpx",
    "httpcore",
    "h11",
    "asyncio",
    "platform",
    "vision_async._transports.pool",
    "vision_async._v32.models",
    "vision_async._v32.ocr_models",
    "pybreaker",
    "tenacity",
    "ssl",
    "hmac",
    "hashlib",
)


def imported_after(code: str) -> set[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_vision_async_defers_what_only_some_calls_need() -> None:
    loaded = imported_after("import vision_async")
    assert "vision_async._client" in loaded  # the import did happen
    # what anyio imports itself is not ours to defer (before anyio 4.15 `import anyio` loads ssl)
    ours = set(DEFERRED) - imported_after("import anyio")
    assert loaded.isdisjoint(ours), sorted(loaded & ours)


def test_every_public_name_still_resolves_after_a_light_import() -> None:
    loaded = imported_after(
        "import vision_async\nfor name in vision_async.__all__:\n    assert getattr(vision_async, name) is not None"
    )
    assert "vision_async._v32.models" in loaded  # looked up on demand


def test_a_default_client_call_never_imports_httpx() -> None:
    """The default pool sends a call (to a local server) without httpx ever being imported."""
    code = textwrap.dedent(
        """
        import asyncio, re, vision_async

        BODY = b'{"tags": [{"name": "cat", "confidence": 0.9}], "requestId": "r", "modelVersion": "m"}'

        async def handle(reader, writer):
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = int(re.search(rb"(?i)content-length: *(\\d+)", head).group(1))
            await reader.readexactly(length)
            head = b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n"
            writer.write(head % len(BODY) + BODY)
            await writer.drain()
            writer.close()

        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            async with vision_async.VisionClient(f"http://127.0.0.1:{port}", "key") as client:
                result = await client.tag("https://example.com/cat.jpg")
            assert result.tags[0].name == "cat" and type(result).__name__ == "TagResult", result
            server.close()

        asyncio.run(main())
        """
    )
    loaded = imported_after(code)
    assert "vision_async._transports.pool" in loaded
    assert "httpx" not in loaded and "httpcore" not in loaded
