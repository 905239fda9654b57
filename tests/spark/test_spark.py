"""vision_transform on a real Spark (local[2]) against the emulator served on loopback."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers.spark import KEY, against, image
from vision_async import ConfigurationError, InvalidInputError, VisionClient
from vision_async.emulator import EmulatorServer
from vision_async.spark import vision_transform

FEATURES = ["tags", "caption"]


def _expected(url: str, images: dict[str, bytes]) -> dict[str, Any]:
    """What the client itself gets for each image: the body each row's ``result`` must hold."""

    async def main() -> dict[str, Any]:
        async with VisionClient(url, KEY, allow_insecure_http=True) as client:
            return {k: dict((await client.v4.analyze(v, features=FEATURES)).raw) for k, v in images.items()}

    return anyio.run(main)


def test_one_row_per_input_rows_kept_faults_absorbed(spark: Any, emulator: EmulatorServer) -> None:
    """Nulls, bad images and injected 500s mixed in: one row out per row in, input columns first and
    unchanged, every success the service's own body, every bad image its row's error."""
    rows: list[tuple[str, int, bytes | None]] = []
    for i in range(48):
        data: bytes | None = image(i)
        if i % 11 == 3:
            data = None
        elif i % 13 == 5:
            data = b"this is not an image"
        rows.append((f"img-{i:03d}", i, data))
    df = spark.createDataFrame(rows, "path string, n int, content binary").repartition(4)
    good = {p: d for p, _, d in rows if d is not None and d != b"this is not an image"}
    expected = _expected(emulator.url, good)
    emulator.emulator.reset()  # count the transform's requests alone
    emulator.emulator.set_faults("v4_analyze", p500=0.25)

    out = vision_transform(
        df, "v4.analyze", image_col="content", key_col="path", features=FEATURES, **against(emulator.url)
    )

    assert out.columns == ["path", "n", "content", "result", "error", "attempts", "elapsed"]
    got = {r.path: r for r in out.collect()}
    assert sorted(got) == sorted(p for p, _, _ in rows)  # each row once, none lost or doubled
    answered = emulator.emulator.stats.snapshot()["answered"]
    assert answered.get("v4_analyze 500", 0) > 0  # faults were injected, and retried past
    for path, n, data in rows:
        row = got[path]
        assert (row.n, row.content) == (n, data)  # the input's own columns, untouched
        if data is None:
            assert (row.result, row.error, row.attempts) == (None, None, 0)
        elif data == b"this is not an image":
            assert row.result is None and row.error["class"] == "InvalidInputError"
            assert row.attempts == 1 and "not JPEG, PNG" in row.error.message
        else:
            assert row.error is None, (path, row.error)
            assert json.loads(row.result) == expected[path]
            assert row.attempts >= 1 and row.elapsed >= 0
    assert sum(got[p].attempts for p in good) == answered["v4_analyze 200"] + answered["v4_analyze 500"]
    assert max(got[p].attempts for p in good) >= 2


def test_urls_and_service_errors_are_rows_not_failed_tasks(spark: Any, emulator: EmulatorServer) -> None:
    """A string column of URLs is sent as URLs; a 4xx from the service is that row's error struct."""
    emulator.emulator.urls["https://lake.example/cat.png"] = image(1)
    df = spark.createDataFrame(
        [("ok", "https://lake.example/cat.png"), ("gone", "https://lake.example/missing.png")],
        "path string, url string",
    )
    out = {r.path: r for r in vision_transform(df, "tag", image_col="url", **against(emulator.url)).collect()}
    assert out["ok"].error is None and json.loads(out["ok"].result)["tags"]
    err = out["gone"].error
    assert out["gone"].result is None and (err.status, err.code, err.inner_code) == (
        400,
        "InvalidRequest",
        "InvalidImageUrl",
    )
    assert err["class"] == "BadRequestError" and err.request_id and out["gone"].attempts == 1


def test_embeddings_have_a_vector_column(spark: Any, emulator: EmulatorServer) -> None:
    texts = spark.createDataFrame([("a",), ("red car",), (None,)], "text string")
    out = vision_transform(texts, "v4.vectorize_text", image_col="text", **against(emulator.url))
    assert out.columns == ["text", "result", "vector", "error", "attempts", "elapsed"]
    assert dict(out.dtypes)["vector"] == "array<float>"
    rows = {r.text: r for r in out.collect()}
    assert rows[None].vector is None and rows[None].attempts == 0
    for text in ("a", "red car"):
        assert rows[text].error is None and len(rows[text].vector) == 1024
        assert json.loads(rows[text].result)["vector"] == pytest.approx(rows[text].vector, rel=1e-6)
    images = spark.createDataFrame([("x", image(3))], "path string, content binary")
    [row] = vision_transform(images, "v4.vectorize_image", **against(emulator.url)).collect()
    assert row.error is None and len(row.vector) == 1024


def test_thumbnails_come_back_as_base64(spark: Any, emulator: EmulatorServer) -> None:
    df = spark.createDataFrame([("x", image(2))], "path string, content binary")
    [row] = vision_transform(df, "generate_thumbnail", width=32, height=32, **against(emulator.url)).collect()
    body = json.loads(row.result)
    data = base64.b64decode(body["base64"])
    assert body["bytes"] == len(data) and body["format"] in ("PNG", "JPEG") and row.error is None


def test_the_key_is_in_no_plan_log_or_event_log(
    spark: Any, emulator: EmulatorServer, event_log_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """explain(), the driver's and the workers' output, the event log (what the Spark UI's SQL tab
    and the history server render) and the rows' errors never hold the key."""
    emulator.emulator.set_faults("tag", p500=0.5)
    df = spark.createDataFrame(
        [(f"k{i}", image(i)) for i in range(12)] + [("bad", b"junk")], "path string, content binary"
    )
    out = vision_transform(df, "tag", key_col="path", **against(emulator.url, client_options={"timeout": 5}))
    out.explain(True)
    rows = out.collect()
    spark.sparkContext._jvm.System.out.flush()  # type: ignore[attr-defined]
    captured = capfd.readouterr()
    assert "vision_transform(path" in captured.out  # the plan was printed, the function by name
    for text in (
        captured.out,
        captured.err,
        *(p.read_text(errors="replace") for p in event_log_dir.rglob("*") if p.is_file()),
    ):
        assert KEY not in text
    assert all(KEY not in json.dumps(r.asDict(recursive=True), default=str) for r in rows)
    assert {r.path for r in rows if r.error is not None} == {"bad"}


def test_configuration_errors_are_raised_on_the_driver_before_any_request(
    spark: Any, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    monkeypatch.delenv("VISION_KEY", raising=False)
    df = spark.createDataFrame([("x", image(1), "u")], "path string, content binary, url string")
    args = against(emulator.url)
    cases: list[tuple[type[Exception], dict[str, Any], str]] = [
        (
            ConfigurationError,
            {"operation": "tag", "key": KEY, "client_options": {"allow_insecure_http": True}},
            "no endpoint",
        ),
        (InvalidInputError, {**args, "operation": "v4.analyze", "features": ["nope"]}, "nope"),
        (InvalidInputError, {**args, "operation": "v4.analyze"}, "features"),
        (InvalidInputError, {**args, "operation": "translate"}, "unknown batch operation"),
        (ConfigurationError, {**args, "operation": "tag", "image_col": "missing"}, "not a column"),
        (ConfigurationError, {**args, "operation": "tag", "image_col": "url", "key_col": "nope"}, "not a column"),
        (ConfigurationError, {**args, "operation": "v4.vectorize_text", "image_col": "content"}, "string column"),
        (ConfigurationError, {**args, "operation": "tag", "concurrency": 0}, "concurrency"),
        (ConfigurationError, {**args, "operation": "tag", "workers": 0}, "workers"),
        (InvalidInputError, {**args, "operation": "tag", "rate_limit": -1}, "above 0"),
        (ConfigurationError, {**args, "operation": "tag", "redis_url": "http://nope"}, "Redis URL"),
        (ConfigurationError, {**args, "operation": "tag", "client_options": {"timeout": "soon"}}, "timeout"),
        (
            ConfigurationError,
            {**args, "operation": "tag", "client_options": {"rate_limit": 5}},
            "vision_transform itself",
        ),
    ]
    for error, kwargs, message in cases:
        operation = kwargs.pop("operation")
        with pytest.raises(error, match=message):
            vision_transform(df, operation, **kwargs)
    clash = df.withColumnRenamed("url", "result")
    with pytest.raises(ConfigurationError, match="already has column"):
        vision_transform(clash, "tag", **args)
    with pytest.raises(ConfigurationError, match="pickled"):
        vision_transform(df, "tag", **against(emulator.url, client_options={"on_retry": _Unpicklable()}))
    assert emulator.emulator.stats.total() == 0


class _Unpicklable:
    def __reduce__(self) -> Any:
        raise TypeError("no")

    def __call__(self, *args: Any) -> None: ...
