"""Every example of the README, the docs site and the docstrings runs against the emulator (or says why not).

Each block is one test, named by its file and line (``README.md:44``). The examples run as a reader
would run them, in a fresh folder holding ``samples/``, ``photos/``, ``photo.jpg``, ``manifest.txt``
and ``resources.toml``, with ``VISION_ENDPOINT`` and ``VISION_KEY`` naming an emulator served on
127.0.0.1 (the URLs ``https://example.com/...`` the examples analyze are served by it), ``VISION_ENDPOINT_A``
to ``_C`` (with their keys) naming three resources, ``REDIS_URL`` the Redis at 127.0.0.1:6379 and
``I`` a shard index. A snippet (a block with a top-level ``await``) is given an open ``client``
and the other names of ``SNIPPET_NAMES``; a program, the same names but ``client``. How each kind
runs: see tests/docs_examples.py.
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers.docs_examples import ROOT, SNIPPET_NAMES, Example, cli_commands, collect
from vision_async import VisionClient
from vision_async.emulator import Emulator, EmulatorServer

EXAMPLES = collect()
SAMPLES = ROOT / "samples"
KEY = "docs-example-key"
#: A PDF as far as the client and the emulator look (the magic number); Read answers one empty page.
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
#: Where the examples that share a quota find Redis (without one they fall back to local state, as documented).
REDIS_URL = "redis://127.0.0.1:6379/0"
URL = re.compile(r"https://example\.com/[\w./-]+")


def _by_kind(*kinds: str) -> list[Any]:
    return [
        pytest.param(e, id=e.id, marks=[pytest.mark.skip(reason=e.skip)] if e.skip else [])
        for e in EXAMPLES
        if e.kind in kinds
    ]


@pytest.fixture(scope="module")
def served() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator(read_delays=(0.01, 0.02), seed=0)) as server:
        yield server


@pytest.fixture(scope="module")
def served_too() -> Iterator[EmulatorServer]:
    """A second emulator: a third resource for the examples that spread over several."""
    with EmulatorServer(Emulator(read_delays=(0.01, 0.02), seed=0)) as server:
        yield server


@pytest.fixture
def workspace(
    tmp_path: Path, served: EmulatorServer, served_too: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A folder with the files the examples name, and the environment pointing at the emulator."""
    served.emulator.reset()
    # what a model would find in the sample the snippets analyze (the pixels give the rest)
    served.emulator.register(
        (SAMPLES / "sign.png").read_bytes(),
        people=[{"boundingBox": {"x": 10, "y": 8, "w": 40, "h": 90}, "confidence": 0.93}],
    )
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("*.py"))
    (tmp_path / "photos").mkdir()
    for sample in ("landscape.jpg", "shapes.png"):
        shutil.copy(SAMPLES / sample, tmp_path / "photos" / sample)
    shutil.copy(SAMPLES / "landscape.jpg", tmp_path / "photo.jpg")
    (tmp_path / "manifest.txt").write_text("".join(f"photos/{p.name}\n" for p in (tmp_path / "photos").iterdir()))
    (tmp_path / "resources.toml").write_text(
        f'[[resources]]\nendpoint = "{served.url}"\nkey_env = "VISION_KEY"\nrate = 20\n\n'
        f'[[resources]]\nendpoint = "{_other_host(served.url)}"\nkey_env = "VISION_KEY"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VISION_ENDPOINT", served.url)
    monkeypatch.setenv("VISION_KEY", KEY)
    resources = {"A": served.url, "B": _other_host(served.url), "C": served_too.url}
    for letter, url in resources.items():
        monkeypatch.setenv(f"VISION_ENDPOINT_{letter}", url)
        monkeypatch.setenv(f"VISION_KEY_{letter}", KEY)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("I", "0")
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # the Spark examples: driver and UI on loopback only
    monkeypatch.delenv("VISION_ASYNC_TRANSPORT", raising=False)
    yield tmp_path
    _forget_redis_keys(*resources.values())


def _other_host(url: str) -> str:
    """The same emulator under another name: a second resource, as far as the client can tell."""
    return url.replace("127.0.0.1", "localhost")


def _forget_redis_keys(*endpoints: str) -> None:
    """Examples that share a quota through Redis leave keys under the emulator's (random-port) namespace."""
    try:
        import redis

        from vision_async._resilience.state import namespace_for

        connection = redis.Redis(socket_timeout=0.5, socket_connect_timeout=0.5)
        for endpoint in endpoints:
            for name in connection.scan_iter(match="{" + namespace_for(endpoint) + "}*"):
                connection.delete(name)
    except Exception:  # no redis-py or no server: the examples fell back to local state and left nothing
        return


def _serve_urls(served: EmulatorServer, code: str) -> None:
    image = (SAMPLES / "sign.png").read_bytes()
    for url in set(URL.findall(code)):
        served.emulator.add_url(url, image)


def _names(served: EmulatorServer) -> dict[str, Any]:
    return {
        "image": (SAMPLES / "sign.png").read_bytes(),
        "images": sorted(SAMPLES.glob("*.png")),
        "pdf_bytes": PDF,
        "endpoint": served.url,
        "key": KEY,
    }


@pytest.mark.parametrize("example", _by_kind("program"))
def test_program_runs(example: Example, workspace: Path, served: EmulatorServer) -> None:
    """A complete program runs to its end as a script, against the emulator."""
    if "pyspark" in example.code and shutil.which("java") is None:
        pytest.skip("a Spark example: no Java on this machine (Spark needs a JRE 17+)")
    _serve_urls(served, example.code)
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(workspace / "example.py"), **_names(served)}
    exec(compile(example.code, example.id, "exec"), namespace)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("example", _by_kind("snippet"))
def test_snippet_runs(example: Example, backend: str, workspace: Path, served: EmulatorServer) -> None:
    """A snippet that awaits at top level runs in an event loop, with an open ``client`` at hand."""
    import ast

    _serve_urls(served, example.code)
    code = compile(example.code, example.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)

    async def main() -> None:
        async with VisionClient() as client:
            namespace = {"__name__": "__main__", "client": client, **_names(served)}
            assert set(namespace) >= set(SNIPPET_NAMES)
            await eval(code, namespace)

    anyio.run(main, backend=backend)


class _Outcomes:
    """A pytest plugin recording what each test of a nested run came to."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.append(f"{report.nodeid} ({report.when}): {report.longreprtext}")
        elif report.when == "call" and report.passed:
            self.passed.append(report.nodeid)


@pytest.mark.parametrize("example", _by_kind("pytest"))
def test_test_example_passes(example: Example, workspace: Path) -> None:
    """An example written as tests passes under pytest, every test of it (the fixtures are the plugin's)."""
    test_file = workspace / ("test_" + re.sub(r"\W", "_", example.id) + ".py")  # a module name of its own
    test_file.write_text(example.code)
    names = re.findall(r"^\s*(?:async\s+)?def (test_\w*)\(", example.code, re.MULTILINE)
    outcomes = _Outcomes()
    args = [
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "--import-mode=importlib",
        "--rootdir",
        str(workspace),
        str(test_file),
    ]
    code = pytest.main(args, plugins=[outcomes])
    assert code == 0 and not outcomes.failed, outcomes.failed
    for name in names:  # each on every backend the plugin's anyio_backend gives
        assert any(re.search(rf"::{name}(\[\w+\])?$", node) for node in outcomes.passed), outcomes.passed


@pytest.mark.parametrize("example", _by_kind("cli"))
def test_cli_example_runs(example: Example, workspace: Path) -> None:
    """Each ``vision-async`` command of a shell block exits 0, run by a shell against the emulator.

    ``vision-async emulator`` serves until stopped: it runs on a free port instead of the one
    written, must answer ``GET /_emulator/stats``, and is then stopped.
    """
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for command in cli_commands(example.code):
        if command.startswith("vision-async emulator"):
            _serve_and_stop(command, workspace, env)
            continue
        run = subprocess.run(
            ["bash", "-c", command], cwd=workspace, env=env, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"


def _serve_and_stop(command: str, workspace: Path, env: dict[str, str]) -> None:
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = re.sub(r"--port \d+", f"--port {port}", command)
    assert f"--port {port}" in command, "an emulator example names its port"
    server = subprocess.Popen(
        ["bash", "-c", f"exec {command}"], cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"{command} exited: {server.communicate()[0].decode()}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_emulator/stats", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{command} did not answer within 30 s"
            time.sleep(0.05)
    finally:
        server.terminate()
        server.communicate(timeout=10)


@pytest.mark.parametrize("example", _by_kind("doctest"))
def test_doctest_passes(example: Example, workspace: Path) -> None:
    """A docstring's ``>>>`` examples give the output they show."""
    parser = doctest.DocTestParser()
    test = parser.get_doctest(example.code, {"__name__": "__main__"}, example.id, str(example.path), example.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0, f"{runner.failures} of {runner.tries} doctest examples failed in {example.id}"
