"""Embeddings at scale: ``vision-async search`` over a million vectors, and vectorizing 10,000 images
through ``batch`` against the emulator at a server limit.

    python benchmarks/bench_embeddings.py search [--vectors 1000000] [--baseline-vectors 20000] [--dir /tmp]
    python benchmarks/bench_embeddings.py goodput [--images 10000] [--limit 50] [--concurrency 64]

``search``: writes a JSON Lines file of ``--vectors`` 1024-number vectors as ``vision-async batch``
writes them (8 decimals, as the emulator sends them; a pool of random unit vectors, plus 10 copies
of the emulator's vector for "red" at known keys, which must come out on top), then runs
``vision-async search red FILE --top 10 --json`` in a child process (the query is vectorized by
the built-in emulator) and reports its wall time, its peak RSS (the child's ``ru_maxrss``) and
whether the planted keys came first. Beside it, in the same run, the baseline a user writes
without the command: every line through ``json.loads`` into one list, then one numpy matrix and
one product, on ``--baseline-vectors`` vectors (and ours on the same file), so that time and
memory per vector can be compared as ratios.

``goodput``: the emulator runs in another process (``vision-async emulator --rate-limit L``, 429
with ``Retry-After`` beyond L requests per second), ``--images`` distinct small PNG files are
written to a folder, and ``vision-async batch FOLDER -o vectors.jsonl --operation
v4.vectorize_image --endpoint URL`` vectorizes all of them. Reported: successes per second over
the whole run as a fraction of L (goodput), the share of requests the server answered 429 (its own
counters), and the lines written.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_batch import emulator_process, server_counts  # noqa: E402
from vision_async.emulator._vectors import text_features, to_vector  # noqa: E402

MODEL = "2023-04-15"
PLANTED = 10


# -- search ------------------------------------------------------------------------------------


def _line(key: str, numbers: bytes) -> bytes:
    return (
        b'{"key":"'
        + key.encode()
        + b'","operation":"v4.vectorize_image","model_version":"'
        + MODEL.encode()
        + b'","vector":['
        + numbers
        + b'],"request_id":"bench","attempts":1,"elapsed":0.01}\n'
    )


def write_vectors(path: Path, n: int, *, seed: int = 7) -> list[str]:
    """``n`` lines of vectors; returns the keys of the planted copies of the "red" query vector."""
    rng = random.Random(seed)
    pool = []
    for _ in range(997):
        v = [rng.gauss(0.0, 1.0) for _ in range(1024)]
        norm = sum(x * x for x in v) ** 0.5
        pool.append(",".join(f"{x / norm:.8f}" for x in v).encode())
    red = ",".join(repr(x) for x in to_vector(text_features("red"), MODEL)).encode()
    planted_at = set(rng.sample(range(n), min(PLANTED, n)))
    planted = []
    with path.open("wb", buffering=8 * 2**20) as f:
        for i in range(n):
            key = f"photos/{i:08d}.jpg"
            if i in planted_at:
                planted.append(key)
                f.write(_line(key, red))
            else:
                f.write(_line(key, pool[i % len(pool)]))
    return planted


def run_search(path: Path) -> tuple[float, float, list[str]]:
    """(seconds, peak RSS in MB, keys found) of ``vision-async search red FILE --top 10 --json`` in a child."""
    env = {k: v for k, v in os.environ.items() if k not in ("VISION_ENDPOINT", "VISION_KEY")}
    code = (
        "import resource, sys\nfrom vision_async import cli\nrc = cli.main(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(rc)\n"
    )
    argv = [sys.executable, "-c", code, "search", "red", str(path), "--top", str(PLANTED), "--json"]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    elapsed = time.perf_counter() - start
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    keys = [r["key"] for r in json.loads(done.stdout)["results"]]
    return elapsed, peak_kb / 1024, keys


def run_baseline(path: Path) -> tuple[float, float, list[str]]:
    """The hand-written way in a child: every vector in one Python list, then numpy."""
    code = """
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
from vision_async.emulator._vectors import text_features, to_vector
q = np.asarray(to_vector(text_features("red"), "2023-04-15"), dtype=np.float32)
start = time.perf_counter()
keys, vectors = [], []
with open(sys.argv[1], "rb") as f:
    for line in f:
        record = json.loads(line)
        keys.append(record["key"])
        vectors.append(record["vector"])
m = np.asarray(vectors, dtype=np.float32)
scores = (m @ q) / np.linalg.norm(m, axis=1)
best = np.argsort(-scores)[:10]
print(json.dumps([keys[i] for i in best]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), str(ROOT)], capture_output=True, text=True, check=True
    )
    elapsed = time.perf_counter() - start
    return elapsed, int(done.stderr.strip().splitlines()[-1]) / 1024, json.loads(done.stdout)


def search(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        small = Path(tmp) / "small.jsonl"
        planted_small = write_vectors(small, args.baseline_vectors)
        rows = []
        for name, runner in (("vision-async search", run_search), ("json.loads into a list, then numpy", run_baseline)):
            seconds, peak, keys = runner(small)
            rows.append((name, args.baseline_vectors, seconds, peak, sorted(keys) == sorted(planted_small)))
            print(f"  {name}, {args.baseline_vectors} vectors: {seconds:.1f} s, {peak:.0f} MB", file=sys.stderr)
        small.unlink()
        big = Path(tmp) / "vectors.jsonl"
        start = time.perf_counter()
        planted = write_vectors(big, args.vectors)
        size = big.stat().st_size
        print(
            f"  wrote {args.vectors} vectors ({size / 2**30:.1f} GiB) in {time.perf_counter() - start:.0f} s",
            file=sys.stderr,
        )
        seconds, peak, keys = run_search(big)
        rows.append(("vision-async search", args.vectors, seconds, peak, sorted(keys) == sorted(planted)))
    print(
        f"\nvision-async search red FILE --top {PLANTED} --json (1024 dimensions, the query vectorized by the "
        f"built-in emulator; {PLANTED} planted matches)\n"
    )
    print("| contender | vectors | wall time (s) | vectors/s | peak RSS (MB) | planted matches on top |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, n, seconds, peak, ok in rows:
        print(f"| {name} | {n:,} | {seconds:.1f} | {n / seconds:,.0f} | {peak:.0f} | {'yes' if ok else 'NO'} |")
    ours, baseline = rows[0], rows[1]
    print(
        f"\nat {args.baseline_vectors:,} vectors: baseline / ours = {baseline[2] / ours[2]:.2f} x the time, "
        f"{baseline[3] / ours[3]:.2f} x the peak RSS"
    )


# -- goodput -----------------------------------------------------------------------------------


def write_images(folder: Path, n: int, *, seed: int = 3) -> None:
    """``n`` distinct small PNG files (a coloured rectangle on a coloured ground)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    for i in range(n):
        img = Image.new("RGB", (64, 48), tuple(rng.randrange(256) for _ in range(3)))
        x, y = rng.randrange(40), rng.randrange(30)
        ImageDraw.Draw(img).rectangle(
            (x, y, x + rng.randrange(5, 24), y + rng.randrange(5, 18)), fill=tuple(rng.randrange(256) for _ in range(3))
        )
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"{i:06d}.png").write_bytes(buf.getvalue())


@contextlib.contextmanager
def limited_emulator(limit: float) -> Iterator[str]:
    with emulator_process(limit) as url:
        httpx.post(f"{url}/_emulator/reset", timeout=5).raise_for_status()
        httpx.post(f"{url}/_emulator/faults", json={"rate_limit": limit}, timeout=5).raise_for_status()
        time.sleep(1.2)  # the server's bucket full, as at the start of any run
        yield url


def goodput(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        write_images(folder, args.images)
        out = Path(tmp) / "vectors.jsonl"
        with limited_emulator(args.limit) as url:
            argv = [
                sys.executable,
                "-m",
                "vision_async.cli",
                "--endpoint",
                url,
                "--key",
                "bench",
                "batch",
                str(folder),
                "-o",
                str(out),
                "--operation",
                "v4.vectorize_image",
                "--concurrency",
                str(args.concurrency),
                "--progress",
                "none",
            ]
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
            elapsed = time.perf_counter() - start
            peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
            counts = server_counts(url)
        records = [json.loads(line) for line in out.read_text().splitlines()]
    ok = sum(1 for r in records if "vector" in r)
    good = ok / elapsed
    share = counts["429"] / counts["received"] if counts["received"] else 0.0
    print(
        f"\n{args.images:,} images through `vision-async batch --operation v4.vectorize_image` "
        f"({args.concurrency} in flight), emulator in another process at L = {args.limit:g} req/s\n"
    )
    print(
        "| images | lines with a vector | wall time (s) | goodput (x L) | requests answered 429 | batch peak RSS (MB) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {args.images:,} | {ok:,} | {elapsed:.1f} | {good / args.limit:.2f} ({good:.1f}/s) | {share:.1%} "
        f"| {peak:.0f} |"
    )
    print(f"\nexit code {done.returncode}; {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("search", help="vision-async search over many vectors: time and peak RSS")
    p.add_argument("--vectors", type=int, default=1_000_000)
    p.add_argument("--baseline-vectors", type=int, default=20_000)
    p.add_argument("--dir", default=None, help="where to write the vector file (default: the temp folder)")
    p = sub.add_parser("goodput", help="vectorizing images through batch at a server limit")
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--limit", type=float, default=50.0, help="server limit L, requests/second")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    if args.what == "search":
        search(args)
    else:
        goodput(args)


if __name__ == "__main__":
    main()
