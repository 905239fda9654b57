"""Instructions per call, counted by valgrind's callgrind: an A/B of the hot path that load cannot skew.

    python benchmarks/bench_instructions.py [--base DIR] [--calls 200,1200] [--mode pipeline,pool]

Wall-clock figures (``bench_costs.py``) move by tens of percent when other work shares the machine;
callgrind counts the instructions the interpreter executes, which repeat exactly for the same code
and inputs. Each checkout (this one, and ``--base``: another checkout of the project, e.g. a
``git worktree`` of the commit before a change) runs ``client.tag(url)`` N times for two values of
N under callgrind; the difference divided by the difference in N is the cost of one call, with the
start-up (imports, the first call) subtracted out.

- ``pipeline``: over an in-memory transport (a canned 200 answer): the flow-control layers, the
  retry loop, the breaker, parsing into dataclasses.
- ``pool``: over the default pool to a canned HTTP server in another process (not measured): the
  pipeline plus the pool, h11-free parsing of the answer and the socket calls.

Prints a markdown table; both checkouts run with the same interpreter (this one), so pass a base
whose dependencies this venv satisfies.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKLOAD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {root!r})
    import anyio, anyio.lowlevel
    from vision_async import VisionClient
    from vision_async._transports.base import RawResponse, ResponseHeaders, TransportStats

    BODY = json.dumps(json.loads(open({fixture!r}).read())).encode()
    HEADERS = {{"content-type": "application/json; charset=utf-8", "apim-request-id": "bench"}}

    class InMemory:
        def __init__(self):
            self._ok = RawResponse(200, "OK", ResponseHeaders(HEADERS.items()), BODY)
        async def send(self, request):
            await anyio.lowlevel.checkpoint()
            return self._ok
        async def aclose(self):
            return None
        def stats(self):
            return TransportStats(0, 0, 0, 0)

    async def main(n, mode, port):
        if mode == "pipeline":
            client = VisionClient("https://bench.cognitiveservices.azure.com", "bench-key", transport=InMemory())
        else:
            client = VisionClient(f"http://127.0.0.1:{{port}}", "bench-key")
        async with client:
            for _ in range(n):
                await client.tag("https://example.com/house.jpg")

    anyio.run(main, int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
    """
)


def canned_server() -> tuple[subprocess.Popen[bytes], int]:
    """A keep-alive HTTP server answering every request with the tag fixture, in another process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fixture = ROOT / "tests" / "fixtures" / "v3.2" / "tag_image.json"
    code = textwrap.dedent(
        f"""
        import asyncio, json
        BODY = json.dumps(json.loads(open({str(fixture)!r}).read())).encode()
        HEAD = (b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json; charset=utf-8\\r\\n"
                b"apim-request-id: bench\\r\\ncontent-length: " + str(len(BODY)).encode() + b"\\r\\n\\r\\n")
        async def serve(reader, writer):
            while True:
                try:
                    head = await reader.readuntil(b"\\r\\n\\r\\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()
                    return
                length = 0
                for line in head.split(b"\\r\\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                writer.write(HEAD + BODY)
                await writer.drain()
        async def main():
            server = await asyncio.start_server(serve, "127.0.0.1", {port})
            print("ready", flush=True)
            await server.serve_forever()
        asyncio.run(main())
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc, port


def instructions(root: Path, n: int, mode: str, port: int) -> int:
    fixture = ROOT / "tests" / "fixtures" / "v3.2" / "tag_image.json"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "work.py"
        script.write_text(WORKLOAD.format(root=str(root), fixture=str(fixture)))
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0", "NO_PROXY": "*"}
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, str(script), str(n), mode,
             str(port)],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        summary = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
        assert summary is not None
        return int(summary.group(1))


def per_call(root: Path, calls: tuple[int, int], mode: str, port: int) -> float:
    low, high = (instructions(root, n, mode, port) for n in calls)
    return (high - low) / (calls[1] - calls[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, help="another checkout to compare with (e.g. the commit before)")
    parser.add_argument("--calls", default="200,1200", help="the two call counts (default 200,1200)")
    parser.add_argument("--mode", default="pipeline,pool", help="pipeline, pool or both (default both)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    low, high = (int(x) for x in args.calls.split(","))
    server, port = canned_server()
    try:
        print("| mode | this checkout (instr/call) | base (instr/call) | ratio |")
        print("|---|---|---|---|")
        for mode in args.mode.split(","):
            head = per_call(ROOT, (low, high), mode, port)
            if args.base is None:
                print(f"| {mode} | {head:,.0f} | - | - |")
                continue
            base = per_call(args.base.resolve(), (low, high), mode, port)
            print(f"| {mode} | {head:,.0f} | {base:,.0f} | {head / base:.3f} |")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
