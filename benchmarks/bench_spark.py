"""Spark: ``vision_transform`` on ``local[2]`` against the emulator at a server limit, beside a
SynapseML-style loop, in the same run.

    python benchmarks/bench_spark.py [--rows 20000] [--limit 100] [--latency 0.2] [--partitions 8] [--concurrency 16]
                                     [--redis redis://127.0.0.1:6379/0 | --redis none]

The emulator runs in another process (``vision-async emulator --rate-limit L``: 429 with
``Retry-After`` beyond L requests per second). ``--rows`` small PNGs (200 distinct ones, cycled) go into a DataFrame
of ``--partitions`` partitions, and each contender runs the 3.2 ``tag`` operation on every row
(``collect()`` of the rows' outcome), the emulator reset in between. The emulator answers after
``--latency`` seconds (0.2 s by default: about what the service takes for a small image; the
emulator alone answers in milliseconds, which no real resource does):

- ``vision_transform``: the defaults, ``rate_limit=L``, ``concurrency`` calls in flight per Python
  worker, the quota shared through Redis when one answers (else each worker takes ``L / 2``);
- ``synapseml-style``: what SynapseML's cognitive-services transformers do per partition (their
  default ``concurrency`` of 1): one ``requests`` call per row, in order; on a 429 it sleeps as
  ``Retry-After`` says and sends again; on a 5xx or a connection error it backs off 0.1, 0.5 and
  1 s; no client-side rate limit. ``synapseml-style:8``: the same with 8 requests at once per
  partition (their ``concurrency=8``), as a user raising it to reach the quota would.

Reported per contender: rows that succeeded, wall seconds of the job, goodput (successes per
second as a fraction of L), the share of the server's answers that were 429 (its own counters),
and requests per success. Writes ``benchmarks/results/spark-latest.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.bench_batch import emulator_process, server_counts  # noqa: E402

KEY = "bench-key"


#: Distinct images in the DataFrame, cycled (the emulator keeps what it computed of the 256 last
#: images it saw: with more, its pure-Python pixel analysis, not the contenders, sets the pace).
DISTINCT = 200


def images(rows: int) -> list[tuple[str, bytes]]:
    import io

    from PIL import Image

    pool = []
    for i in range(DISTINCT):
        buf = io.BytesIO()
        Image.new("RGB", (64 + i % 7, 60 + (i // 7) % 5), (i % 256, (i * 3) % 256, (i * 7) % 256)).save(buf, "PNG")
        pool.append(buf.getvalue())
    return [(f"img-{i:06d}", pool[i % DISTINCT]) for i in range(rows)]


def synapseml_style(url: str, concurrency: int) -> Any:
    """The per-partition loop of SynapseML's transformers, as a mapPartitions function: rows in
    order, ``concurrency`` requests at once (threads, as its futures), each on its own."""

    def run(rows: Any) -> Any:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        import requests

        local = threading.local()

        def call(row: Any) -> tuple[str, bool, int]:
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            attempts, backoff = 0, [0.1, 0.5, 1.0]
            while True:
                attempts += 1
                try:
                    answer = session.post(
                        f"{url}/vision/v3.2/tag",
                        data=row.content,
                        headers={"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/octet-stream"},
                        timeout=60,
                    )
                except requests.RequestException:
                    answer = None
                if answer is not None and answer.status_code == 429:
                    time.sleep(float(answer.headers.get("Retry-After", "1")))
                    continue
                if (answer is None or answer.status_code >= 500) and backoff:
                    time.sleep(backoff.pop(0))
                    continue
                return (row.path, answer is not None and answer.status_code == 200, attempts)

        with ThreadPoolExecutor(concurrency) as pool:
            yield from pool.map(call, rows)  # in order, as SynapseML's buffered futures

    return run


def redis_url(arg: str) -> str | None:
    if arg == "none":
        return None
    try:
        import redis

        client = redis.Redis.from_url(arg, socket_timeout=0.5, socket_connect_timeout=0.5)
        client.ping()
        client.close()
        return arg
    except Exception:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--limit", type=float, default=100.0, help="the server's requests per second")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the emulator takes per answer")
    parser.add_argument(
        "--slow-rows",
        type=int,
        default=2000,
        help="rows for synapseml-style at concurrency 1 (at a tenth of the limit, 20,000 rows take half an hour)",
    )
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="a Redis URL, or none")
    parser.add_argument(
        "--contenders",
        default="vision_transform,synapseml-style,synapseml-style:8",
        help="synapseml-style:N for N requests at once per partition (SynapseML's concurrency=N)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "spark-latest.md")
    args = parser.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    from vision_async.spark import vision_transform

    shared = redis_url(args.redis)
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.createDataFrame(images(args.rows), "path string, content binary").repartition(args.partitions).cache()
    df.count()  # materialized once, outside the timings
    results: list[dict[str, Any]] = []
    with emulator_process(args.limit) as url:
        for contender in args.contenders.split(","):
            httpx.post(f"{url}/_emulator/reset", timeout=5).raise_for_status()
            faults = {"rate_limit": args.limit, "latency": args.latency}
            httpx.post(f"{url}/_emulator/faults", json=faults, timeout=5).raise_for_status()
            start = time.monotonic()
            if contender == "vision_transform":
                prefix = f"bench-spark-{os.getpid()}-{time.time_ns()}:"
                extra: dict[str, Any] = {"redis_url": shared, "redis_prefix": prefix} if shared else {}
                out = vision_transform(
                    df, "tag", endpoint=url, key=KEY, rate_limit=args.limit, concurrency=args.concurrency, **extra
                )
                rows = out.select("path", "error", "attempts").collect()
                ok = sum(1 for r in rows if r.error is None)
                note = "Redis" if shared else "rate_limit / 2 per worker"
            elif contender.startswith("synapseml-style"):
                concurrency = int(contender.partition(":")[2] or 1)
                part = df if concurrency > 1 or args.slow_rows >= args.rows else df.limit(args.slow_rows)
                rows = part.rdd.mapPartitions(synapseml_style(url, concurrency)).collect()
                ok = sum(1 for r in rows if r[1])
                note = f"concurrency {concurrency} per partition, sleeps on 429"
            else:
                raise SystemExit(f"unknown contender {contender!r}")
            wall = time.monotonic() - start
            counts = server_counts(url)
            results.append(
                {
                    "contender": contender,
                    "note": note,
                    "rows": len(rows),
                    "ok": ok,
                    "wall": wall,
                    "goodput": ok / wall / args.limit,
                    "share_429": counts["429"] / max(1, counts["received"]),
                    "amplification": counts["received"] / max(1, ok),
                }
            )
            print(results[-1], flush=True)
    spark.stop()

    lines = [
        f"# Spark: {args.rows:,} rows on local[2], server limit {args.limit:g}/s",
        "",
        f"`python benchmarks/bench_spark.py --rows {args.rows} --limit {args.limit:g} --latency {args.latency:g} "
        f"--partitions {args.partitions} "
        f"--concurrency {args.concurrency}`, {time.strftime('%Y-%m-%d')}; load average before the run: "
        f"{os.getloadavg()[0]:.2f}.",
        "",
        "| contender | how | rows | succeeded | wall (s) | goodput (of the limit) | 429 share | requests per success |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['contender']} | {r['note']} | {r['rows']:,} | {r['ok']:,} | {r['wall']:.1f} | {r['goodput']:.3f} | "
            f"{r['share_429']:.1%} | {r['amplification']:.2f} |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
