"""verify=: a CA bundle path, an SSLContext, "system" (truststore), False (loopback or
allow_insecure_http only, warned); a bad certificate is one CertificateVerificationError, not retried."""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.transports.test_pool_tls import TlsServer
from vision_async import CertificateVerificationError, ConfigurationError, RetryPolicy, VisionClient

pytestmark = pytest.mark.anyio

KEY = "k" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
TRANSPORTS = ["default", "httpx", "aiohttp"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def server(ca: trustme.CA, tmp_path: Path) -> Iterator[TlsServer]:
    pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(pem))
    with TlsServer(pem, pem) as tls:
        yield tls


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_verify_with_a_ca_bundle_path(
    transport: str, anyio_backend: str, server: TlsServer, ca_file: Path
) -> None:
    async with VisionClient(f"https://localhost:{server.port}", KEY, verify=str(ca_file), transport=transport) as c:
        assert (await c.tag(PNG)).tags


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_verify_with_an_ssl_context(
    transport: str, anyio_backend: str, server: TlsServer, ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with VisionClient(f"https://localhost:{server.port}", KEY, verify=context, transport=transport) as c:
        assert (await c.tag(PNG)).tags


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_untrusted_certificate_is_one_non_retried_error(
    transport: str, anyio_backend: str, server: TlsServer
) -> None:
    """The default trust (certifi) does not know the test CA: one attempt, a clear typed error."""
    retry = RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.001)
    retries: list[object] = []
    async with VisionClient(
        f"https://localhost:{server.port}", KEY, transport=transport, retry=retry, on_retry=retries.append
    ) as c:
        with pytest.raises(CertificateVerificationError, match=r"(?i)certificate") as caught:
            await c.tag(PNG)
    assert retries == []
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_system_trust_uses_truststore(transport: str, anyio_backend: str, server: TlsServer) -> None:
    """verify="system": truststore's context (the OS store, which does not hold the test CA)."""
    truststore = pytest.importorskip("truststore")
    async with VisionClient(
        f"https://localhost:{server.port}", KEY, verify="system", transport=transport, retry=None
    ) as c:
        pool = c._parts.transport
        contexts = (
            [v for v in vars(pool).values() if isinstance(v, ssl.SSLContext)] if hasattr(pool, "__dict__") else []
        )
        if transport == "default":
            assert any(isinstance(x, truststore.SSLContext) for x in contexts)
        with pytest.raises(CertificateVerificationError):
            await c.tag(PNG)


def test_verify_false_is_refused_for_a_remote_endpoint() -> None:
    with pytest.raises(ConfigurationError, match="verify=False"):
        VisionClient("https://example.cognitiveservices.azure.com", KEY, verify=False)


async def test_verify_false_on_loopback_is_allowed_with_a_warning(server: TlsServer) -> None:
    with pytest.warns(UserWarning, match="not checked"):
        client = VisionClient(f"https://127.0.0.1:{server.port}", KEY, verify=False)
    async with client:
        assert (await client.tag(PNG)).tags


def test_verify_false_with_allow_insecure_http() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        VisionClient("https://example.cognitiveservices.azure.com", KEY, verify=False, allow_insecure_http=True)
    assert any("not checked" in str(w.message) for w in seen)


@pytest.mark.parametrize("bad", ["/no/such/ca.pem", 3, "systm"])
def test_bad_verify_values(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        VisionClient("https://example.cognitiveservices.azure.com", KEY, verify=bad)  # type: ignore[arg-type]
