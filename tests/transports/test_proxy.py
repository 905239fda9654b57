"""Through a real forward proxy (proxy.py, started here on 127.0.0.1), on every transport and both
backends: https goes in a CONNECT tunnel verified against the endpoint's name (a trustme CA), the
proxy's own log shows the tunnel, a wrong password is one typed 407 (never retried), and a dead
proxy is a ProxyError naming host:port; no secret in any message."""

from __future__ import annotations

import base64
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import trustme

from tests.helpers.transport_cases import TAG_JSON
from tests.transports.test_pool_tls import TlsServer
from vision_async import (
    APIConnectionError,
    AuthenticationError,
    ProxyAuthenticationError,
    ProxyError,
    RetryPolicy,
    VisionClient,
)

pytestmark = pytest.mark.anyio

KEY = "k" * 32
PASSWORD = "hunter2-proxy-password"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
TRANSPORTS = ["default", "httpx", "aiohttp"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_endpoint(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    pem = tmp_path_factory.mktemp("tls") / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost", "vision.test").private_key_and_cert_chain_pem.write_to_path(str(pem))
    with TlsServer(pem, pem) as server:
        yield server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy:
    def __init__(self, folder: Path, *extra: str) -> None:
        self.log = folder / "proxy.log"
        self.port = _free_port()
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--hostname",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--num-acceptors",
                "1",
                "--num-workers",
                "1",
                "--plugins",
                "proxy.http.proxy.HttpProxyPlugin,tests.helpers.proxy_names.TestNames",
                *extra,
            ],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("proxy.py did not start")

    probes = 0

    async def rejections(self, more_than: int = -1) -> int:
        """Requests the proxy refused for their credentials (not counting our own probes, which
        carry none and are refused too on the authenticating proxy)."""
        count = 0
        for _ in range(100):
            self._probe()
            await anyio.sleep(0.02)
            count = self.log.read_text().count("ProxyAuthenticationFailed") - self.probes
            if count > more_than:
                await anyio.sleep(0.05)  # a retry (the bug) would be refused within this
                return self.log.read_text().count("ProxyAuthenticationFailed") - self.probes
        return count

    def _probe(self) -> None:
        self.probes += 1
        """One CONNECT of our own (to a closed port): proxy.py writes the access log line of a
        finished connection when its worker next wakes up, so this flushes the lines before it."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as probe:
            probe.sendall(f"CONNECT 127.0.0.1:{_free_port()} HTTP/1.1\r\n\r\n".encode())
            probe.recv(1024)

    async def tunnels_to(self, authority: str, more_than: int = -1) -> int:
        """How many CONNECTs to ``authority`` the proxy's access log shows."""
        count = 0
        for _ in range(100):
            self._probe()
            count = self.log.read_text().count(f"CONNECT {authority} ")
            if count > more_than:
                return count
            await anyio.sleep(0.02)  # the event loop closes the client's sockets meanwhile
        return count

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        self._log_file.close()


@pytest.fixture(scope="module")
def open_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    proxy = Proxy(tmp_path_factory.mktemp("proxy"))
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    proxy = Proxy(tmp_path_factory.mktemp("authproxy"), "--basic-auth", f"user:{PASSWORD}")
    yield proxy
    proxy.close()


def _client(endpoint: str, proxy: str, ca: trustme.CA, transport: str, **kw: object) -> VisionClient:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return VisionClient(endpoint, KEY, proxy=proxy, verify=context, transport=transport, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_https_through_the_proxy_is_a_verified_tunnel(
    transport: str, anyio_backend: str, open_proxy: Proxy, tls_endpoint: TlsServer, ca: trustme.CA
) -> None:
    authority = f"localhost:{tls_endpoint.port}"
    before = await open_proxy.tunnels_to(authority)
    async with _client(
        f"https://localhost:{tls_endpoint.port}", f"http://127.0.0.1:{open_proxy.port}", ca, transport
    ) as client:
        result = await client.tag(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert result.tags
    assert await open_proxy.tunnels_to(authority, more_than=before) == before + 1, open_proxy.log.read_text()[-2000:]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_wrong_proxy_password_is_one_typed_407(
    transport: str,
    anyio_backend: str,
    auth_proxy: Proxy,
    tls_endpoint: TlsServer,
    ca: trustme.CA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One CONNECT at the proxy (no retry), a ProxyAuthenticationError; no secret in the error, its
    traceback rendered with locals, or any DEBUG log line."""
    wrong = "wrong-password-123456"
    authority = f"localhost:{tls_endpoint.port}"
    before = await auth_proxy.rejections()
    client = _client(
        f"https://{authority}",
        f"http://user:{wrong}@127.0.0.1:{auth_proxy.port}",
        ca,
        transport,
        retry=RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.001),
    )
    caplog.set_level(logging.DEBUG)
    async with client:
        with pytest.raises(ProxyAuthenticationError) as caught:
            await client.tag(PNG)
        stats = repr(client.stats())
    assert caught.value.status_code == 407
    assert isinstance(caught.value, AuthenticationError)
    assert await auth_proxy.rejections(more_than=before) == before + 1
    exc = caught.value
    exc_tb = exc.__traceback__
    assert exc_tb is not None
    exc.__traceback__ = exc_tb.tb_next  # the library's frames, not this test's own (which holds `wrong`)
    rendered = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    token = base64.b64encode(f"user:{wrong}".encode()).decode()
    for text in (str(caught.value), repr(caught.value), rendered, caplog.text, repr(client), stats):
        assert wrong not in text and token not in text and KEY not in text


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_right_proxy_password_goes_through(
    transport: str, anyio_backend: str, auth_proxy: Proxy, tls_endpoint: TlsServer, ca: trustme.CA
) -> None:
    client = _client(
        f"https://localhost:{tls_endpoint.port}", f"http://user:{PASSWORD}@127.0.0.1:{auth_proxy.port}", ca, transport
    )
    async with client:
        assert (await client.tag(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)).tags


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_dead_proxy_is_a_named_connection_error(
    transport: str, anyio_backend: str, tls_endpoint: TlsServer, ca: trustme.CA
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    client = _client(
        f"https://localhost:{tls_endpoint.port}",
        f"http://user:{PASSWORD}@127.0.0.1:{dead}",
        ca,
        transport,
        retry=RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.001),
    )
    async with client:
        with pytest.raises(APIConnectionError) as caught:
            await client.tag(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert isinstance(caught.value, ProxyError) or f"127.0.0.1:{dead}" in str(caught.value)
    assert f"127.0.0.1:{dead}" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def _trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_https_proxy_from_the_environment(
    transport: str,
    anyio_backend: str,
    open_proxy: Proxy,
    tls_endpoint: TlsServer,
    ca: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``vision.test`` resolves only at the proxy: the call succeeds only through $https_proxy."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")  # the lower-case one wins
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{open_proxy.port}")
    authority = f"vision.test:{tls_endpoint.port}"
    before = await open_proxy.tunnels_to(authority)
    async with VisionClient(f"https://{authority}", KEY, verify=_trusting(ca), transport=transport) as client:
        assert (await client.tag(PNG)).tags
    assert await open_proxy.tunnels_to(authority, more_than=before) == before + 1


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("how", ["no_proxy", "proxy=None", "trust_env=False"])
async def test_environment_proxy_not_used(
    transport: str,
    how: str,
    anyio_backend: str,
    open_proxy: Proxy,
    tls_endpoint: TlsServer,
    ca: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NO_PROXY, proxy=None and trust_env=False send direct: vision.test does not resolve here."""
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{open_proxy.port}")
    options: dict[str, object] = {}
    if how == "no_proxy":
        monkeypatch.setenv("NO_PROXY", "localhost,.vision.test:" + str(tls_endpoint.port))
    elif how == "proxy=None":
        options["proxy"] = None
    else:
        options["trust_env"] = False
        options["verify"] = True
    authority = f"vision.test:{tls_endpoint.port}"
    before = await open_proxy.tunnels_to(authority)
    options.setdefault("verify", _trusting(ca))
    client = VisionClient(
        f"https://{authority}",
        KEY,
        transport=transport,
        retry=RetryPolicy(max_attempts=1),
        **options,  # type: ignore[arg-type]
    )
    async with client:
        with pytest.raises(APIConnectionError) as caught:
            await client.tag(PNG)
    assert not isinstance(caught.value, ProxyError)
    assert await open_proxy.tunnels_to(authority) == before


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_plain_http_through_the_proxy_in_absolute_form(
    transport: str, anyio_backend: str, auth_proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """http:// goes to the proxy as ``POST http://host/...`` with Proxy-Authorization."""
    server = _PlainServer()
    with server:
        monkeypatch.setenv("http_proxy", f"http://user:{PASSWORD}@127.0.0.1:{auth_proxy.port}")
        async with VisionClient(
            f"http://vision.test:{server.port}", KEY, transport=transport, allow_insecure_http=True
        ) as client:
            assert (await client.tag(PNG)).tags
    assert server.targets and server.targets[0].startswith("/vision/"), server.targets
    for _ in range(100):  # the proxy's access log names the request it forwarded
        if f"POST vision.test:{server.port}/vision/v3.2/tag" in auth_proxy.log.read_text():
            break
        await anyio.sleep(0.02)
    else:
        raise AssertionError(auth_proxy.log.read_text()[-2000:])


class _PlainServer:
    """A plain http server in a thread: answers the tag JSON, records each request target."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                self.targets.append(lines[0].split(" ")[1] if lines and " " in lines[0] else "")
                length = next((int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length:")), 0)
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(TAG_JSON), TAG_JSON)
                )

    def __enter__(self) -> _PlainServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def test_cli_batch_through_the_proxy(
    open_proxy: Proxy, tls_endpoint: TlsServer, ca: trustme.CA, tmp_path: Path
) -> None:
    """``vision-async batch --proxy URL --verify CA.pem`` reaches a name only the proxy resolves."""
    from vision_async import cli

    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    image = tmp_path / "a.png"
    image.write_bytes(PNG)
    out = tmp_path / "out.jsonl"
    code = cli.main(
        [
            "--endpoint",
            f"https://vision.test:{tls_endpoint.port}",
            "--key",
            KEY,
            "--proxy",
            f"http://127.0.0.1:{open_proxy.port}",
            "--verify",
            str(ca_file),
            "batch",
            str(image),
            "-o",
            str(out),
            "--operation",
            "tag",
            "--progress",
            "none",
        ]
    )
    assert code == 0, out.read_text() if out.exists() else ""
    assert '"tags"' in out.read_text()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_per_resource_proxy(
    transport: str,
    anyio_backend: str,
    open_proxy: Proxy,
    tls_endpoint: TlsServer,
    ca: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Resource(proxy=URL) sends that resource through the proxy; Resource(proxy=None) goes direct
    even when the environment names a proxy (vision.test then does not resolve)."""
    from vision_async import Resource

    authority = f"vision.test:{tls_endpoint.port}"
    url = f"http://user:{PASSWORD}@127.0.0.1:{open_proxy.port}"
    through = Resource(f"https://{authority}", KEY, proxy=url)
    assert PASSWORD not in repr(through)
    before = await open_proxy.tunnels_to(authority)
    async with VisionClient(resources=[through], verify=_trusting(ca), transport=transport) as client:
        assert (await client.tag(PNG)).tags
    assert await open_proxy.tunnels_to(authority, more_than=before) == before + 1

    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{open_proxy.port}")
    direct = Resource(f"https://{authority}", KEY, proxy=None)
    async with VisionClient(
        resources=[direct], verify=_trusting(ca), transport=transport, retry=RetryPolicy(max_attempts=1)
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.tag(PNG)
    assert not isinstance(caught.value, ProxyError)
