"""The default pool over TLS: certificates are verified (httpx's trust defaults, or a given
SSLContext), and a verified connection is kept alive like a plain one."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.transport_cases import TAG_JSON, tag_request
from vision_async import APIConnectionError, ConfigurationError
from vision_async._transports.pool import PoolTransport

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate"),
]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and localhost)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class TlsServer:
    """An HTTPS server in its own thread: answers every request with the tag JSON, keep-alive."""

    def __init__(self, cert: Path, key: Path) -> None:
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)
        self.port = 0
        self.connections = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._context)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(TAG_JSON), TAG_JSON))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            writer.close()

    def __enter__(self) -> TlsServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[TlsServer]:
    with TlsServer(*certificate) as server:
        yield server


async def test_trusted_certificate_is_verified_and_connection_kept_alive(
    tls_server: TlsServer, certificate: tuple[Path, Path]
) -> None:
    """With an SSLContext trusting the server's certificate: answers over https, one connection."""
    pool = PoolTransport(verify=ssl.create_default_context(cafile=str(certificate[0])))
    for _ in range(3):
        response = await pool.send(tag_request(f"https://127.0.0.1:{tls_server.port}"))
        assert response.content == TAG_JSON
    await pool.aclose()
    assert tls_server.connections == 1


async def test_untrusted_certificate_is_refused_by_default(tls_server: TlsServer) -> None:
    """verify=True (the default): a self-signed certificate is an APIConnectionError, nothing sent."""
    pool = PoolTransport()
    with pytest.raises(APIConnectionError, match=r"(?i)certificate"):
        await pool.send(tag_request(f"https://127.0.0.1:{tls_server.port}"))
    await pool.aclose()


async def test_hostname_must_match_the_certificate(tls_server: TlsServer, certificate: tuple[Path, Path]) -> None:
    """A trusted certificate for other names than the URL's host is refused."""
    context = ssl.create_default_context(cafile=str(certificate[0]))
    pool = PoolTransport(verify=context)
    with pytest.raises(APIConnectionError):
        await pool.send(tag_request(f"https://127.0.0.2:{tls_server.port}"))
    await pool.aclose()


async def test_ssl_cert_file_is_trusted_as_httpx_trusts_it(
    tls_server: TlsServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify=True honours $SSL_CERT_FILE (httpx's trust defaults), without importing httpx for it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    pool = PoolTransport()
    response = await pool.send(tag_request(f"https://127.0.0.1:{tls_server.port}"))
    assert response.content == TAG_JSON
    await pool.aclose()


@pytest.fixture
def cert_dir(certificate: tuple[Path, Path], tmp_path: Path) -> Path:
    """A folder holding the certificate under its subject hash (as c_rehash lays it out)."""
    name = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(certificate[0])], capture_output=True, text=True, check=True
    ).stdout.strip()
    (tmp_path / f"{name}.0").write_bytes(certificate[0].read_bytes())
    return tmp_path


async def test_ssl_cert_dir_is_trusted_as_httpx_trusts_it(
    tls_server: TlsServer, cert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify=True honours $SSL_CERT_DIR (a c_rehash'ed folder) when $SSL_CERT_FILE is unset."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(cert_dir))
    pool = PoolTransport()
    response = await pool.send(tag_request(f"https://127.0.0.1:{tls_server.port}"))
    assert response.content == TAG_JSON
    await pool.aclose()


async def test_verify_false_accepts_any_certificate(tls_server: TlsServer) -> None:
    pool = PoolTransport(verify=False)
    response = await pool.send(tag_request(f"https://127.0.0.1:{tls_server.port}"))
    assert response.content == TAG_JSON
    await pool.aclose()


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
async def test_a_trust_store_that_cannot_be_read_is_a_configuration_error(
    tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str
) -> None:
    """$SSL_CERT_FILE naming no file (or a file of no certificates): ConfigurationError, not a retryable
    connection error, and nothing sent."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    bad = tmp_path / ("missing.pem" if variable == "SSL_CERT_FILE" else "missing-dir")
    monkeypatch.setenv(variable, str(bad))
    pool = PoolTransport()
    with pytest.raises(ConfigurationError, match=variable):
        await pool.send(tag_request(f"https://127.0.0.1:{tls_server.port}"))
    await pool.aclose()
