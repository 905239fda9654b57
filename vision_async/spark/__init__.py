"""Apache Spark: :func:`vision_transform` runs an operation on every row of a DataFrame.

``out = vision_transform(images, "v4.analyze", features=["tags", "caption"], rate_limit=20.0,
redis_url="redis://cache:6379/0")``: the same rows, each with its outcome. The guide (Scaling out,
Spark) has a local run and a cluster's.

What it promises:

- Every operation ``client.batch`` takes (3.2, 4.0 and the embeddings), its options validated on
  the driver, when ``vision_transform`` is called: a bad option, an unknown operation, a missing
  column or no endpoint is an error there, before any task starts.
- Exactly one output row per input row, the input's columns first and unchanged, then
  ``result`` (the response body as the service sent it, a JSON string; a thumbnail as its format,
  size and base64 bytes), ``vector`` (the embeddings' operations only: ``array<float>``),
  ``error`` (a struct of :data:`~vision_async._records.ERROR_FIELDS`: class, status, code,
  inner_code, message, request_id; null on success), ``attempts`` (requests sent for the row) and
  ``elapsed`` (seconds). A null image is a null result with no request (``attempts`` 0); a bad
  image, a 4xx or a fault that outlived its retries and its patience is that row's ``error``,
  never a failed task. Only a bug or a broken executor fails a task.
- In each Python worker: one event loop (in a daemon thread), one client per transform reused by
  every partition the worker runs, rows streamed through ``mapInArrow`` with at most
  ``concurrency`` calls (and image copies) in flight, and at most two of Spark's Arrow batches
  held.
- One quota for the cluster: with ``redis_url``, every worker shares each resource's rate limit,
  429 cool-down, adaptive rate and circuit breaker through
  :class:`~vision_async.redis.RedisCoordination` (while Redis is down, each worker assumes
  ``1/workers`` of the rate). Without it, each worker takes ``rate_limit / workers``, ``workers``
  being what you pass or the job's parallelism: that holds only while every worker is busy, and
  a 429 one worker gets slows that worker alone.
- The subscription key (and a password in ``redis_url``) travels to the executors inside the
  pickled function, never in the plan: ``explain()``, the Spark UI and the event log show the
  function as ``vision_transform(...)`` and the configuration as ``***``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._checks import is_int, is_number
from .._core.auth import TokenCredential
from .._core.resource import Resource, chosen_resources
from .._defaults import BATCH_PATIENCE, SPARK_CONCURRENCY
from .._errors import ConfigurationError, VisionError
from .._records import ERROR_FIELDS
from .._resilience.rate_limit import RateLimit
from ..v4._retrieval import VECTORIZE_IMAGE, VECTORIZE_TEXT
from ._config import Config

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

__all__ = ["DEFAULT_CONCURRENCY", "OUTPUT_COLUMNS", "output_schema", "vision_transform"]

#: Calls in flight per Python worker.
DEFAULT_CONCURRENCY = SPARK_CONCURRENCY
#: The columns ``vision_transform`` adds, in order (``vector`` for the embeddings' operations only).
OUTPUT_COLUMNS = ("result", "vector", "error", "attempts", "elapsed")
_VECTOR_OPERATIONS = (VECTORIZE_IMAGE, VECTORIZE_TEXT)


def _pyspark() -> Any:
    try:
        import pyspark.sql.types as types
    except ImportError:
        raise ConfigurationError("vision_async.spark needs pyspark: pip install 'vision-async[spark]'") from None
    return types


def output_schema(operation: str) -> StructType:
    """The columns ``vision_transform`` adds for ``operation``, as a Spark schema."""
    t = _pyspark()
    error = t.StructType(
        [
            t.StructField(name, t.IntegerType() if name == "status" else t.StringType(), name not in ("class",))
            for name in ERROR_FIELDS
        ]
    )
    fields = [t.StructField("result", t.StringType(), True)]
    if operation in _VECTOR_OPERATIONS:
        fields.append(t.StructField("vector", t.ArrayType(t.FloatType(), False), True))
    fields += [
        t.StructField("error", error, True),
        t.StructField("attempts", t.IntegerType(), False),
        t.StructField("elapsed", t.DoubleType(), False),
    ]
    schema: StructType = t.StructType(fields)
    return schema


def vision_transform(
    df: DataFrame,
    operation: str,
    *,
    image_col: str = "content",
    key_col: str | None = None,
    endpoint: str | None = None,
    key: str | None = None,
    credential: TokenCredential | None = None,
    resources: Sequence[Resource] | None = None,
    rate_limit: float | RateLimit | None = None,
    redis_url: str | None = None,
    redis_prefix: str = "",
    concurrency: int = DEFAULT_CONCURRENCY,
    workers: int | None = None,
    patience: float = BATCH_PATIENCE,
    client_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> DataFrame:
    """``df`` with the outcome of ``operation`` on each row's ``image_col`` (see the module docs).

    ``image_col``: a binary column (the image's bytes, as ``binaryFile`` reads them) or a string
    column of http(s) URLs (for ``v4.vectorize_text``: the texts). ``key_col`` names the rows in
    the workers' debug logs. ``endpoint``/``key``/``credential`` or ``resources`` as for
    :class:`~vision_async.VisionClient` (the environment's ``VISION_ENDPOINT`` and ``VISION_KEY``
    are read on the driver). ``rate_limit``: requests per second per resource for the whole job.
    ``redis_url``/``redis_prefix``: share the quota through Redis. ``concurrency``: calls in flight
    per Python worker. ``workers``: how many Python workers run at once (default: the job's
    parallelism); without Redis each takes ``rate_limit / workers``. ``patience``: as
    ``client.batch``'s. ``client_options``: any other :class:`~vision_async.VisionClient`
    argument (``timeout``, ``retry``, ``breaker``, ``allow_insecure_http``, ...). ``options``:
    the operation's own (``features=``, ``language=``, ...).

    Raises :class:`~vision_async.ConfigurationError` or
    :class:`~vision_async.InvalidInputError` on the driver for what can be checked there.
    """
    types = _pyspark()
    from pyspark.sql import DataFrame as SparkDataFrame

    if not isinstance(df, SparkDataFrame) and not hasattr(df, "mapInArrow"):
        raise ConfigurationError(f"df must be a pyspark DataFrame, got {type(df).__name__}")
    if not isinstance(operation, str):
        raise ConfigurationError(f"operation must be a str, got {type(operation).__name__}")
    columns = list(df.columns)
    schema = df.schema
    image_index = _column(columns, image_col, "image_col")
    image_type = schema[image_col].dataType
    text = operation == VECTORIZE_TEXT
    if text and not isinstance(image_type, types.StringType):
        raise ConfigurationError(f"{operation} reads texts: image_col {image_col!r} must be a string column")
    if not isinstance(image_type, types.BinaryType | types.StringType):
        raise ConfigurationError(
            f"image_col {image_col!r} must be a binary column (image bytes) or a string column (URLs), "
            f"not {image_type.simpleString()}"
        )
    key_index = _column(columns, key_col, "key_col") if key_col is not None else None
    added = output_schema(operation)
    clash = sorted(set(columns) & set(added.fieldNames()))
    if clash:
        raise ConfigurationError(
            f"df already has column(s) {', '.join(clash)}, which vision_transform adds; rename them first"
        )
    if not is_int(concurrency) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be an int >= 1, got {concurrency!r}")
    if not is_number(patience) or not patience >= 0:
        raise ConfigurationError(f"patience must be a number of seconds >= 0, got {patience!r}")
    if workers is not None and (not is_int(workers) or workers < 1):
        raise ConfigurationError(f"workers must be an int >= 1 or None, got {workers!r}")
    if redis_url is not None and not isinstance(redis_url, str):
        raise ConfigurationError("redis_url must be a Redis URL (str); a redis.Redis client cannot travel to executors")
    client_kwargs = dict(client_options or {})
    reserved = sorted(set(client_kwargs) & {"endpoint", "key", "credential", "resources", "rate_limit", "coordination"})
    if reserved:
        raise ConfigurationError(f"pass {', '.join(reserved)} to vision_transform itself, not in client_options")

    chosen = chosen_resources(endpoint, key, credential, resources)
    limit = _rate(rate_limit)
    if workers is None:
        workers = _parallelism(df)
    if redis_url is None:  # each worker its share: the best a worker can do alone
        limit = _share(limit, workers)
        chosen = [dataclasses.replace(r, rate_limit=_share(r.rate_limit, workers)) for r in chosen]
    config = Config(
        id=uuid.uuid4().hex,
        operation=operation,
        options=dict(options),
        resources=tuple(chosen),
        rate_limit=limit,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        workers=workers,
        concurrency=concurrency,
        patience=float(patience),
        client_options=client_kwargs,
        image_index=image_index,
        key_index=key_index,
        vector=operation in _VECTOR_OPERATIONS,
    )
    config.validate()  # the client, the coordination and the operation's options, built here once
    from ._worker import Transform

    out = types.StructType(list(schema.fields) + list(added.fields))
    return df.mapInArrow(Transform(config), out)


def _column(columns: list[str], name: object, what: str) -> int:
    if not isinstance(name, str) or name not in columns:
        raise ConfigurationError(f"{what} {name!r} is not a column of df; columns: {', '.join(columns)}")
    return columns.index(name)


def _rate(rate_limit: float | RateLimit | None) -> RateLimit | None:
    if rate_limit is None or isinstance(rate_limit, RateLimit):
        return rate_limit
    if not is_number(rate_limit):
        raise ConfigurationError(f"rate_limit must be requests per second or a RateLimit, got {rate_limit!r}")
    try:
        return RateLimit(float(rate_limit))
    except VisionError:
        raise
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _share(limit: RateLimit | None, workers: int) -> RateLimit | None:
    if limit is None or workers == 1:
        return limit
    return RateLimit(limit.per_second / workers)


def _parallelism(df: DataFrame) -> int:
    """Python workers that run at once: the partitions, at most the cores Spark offers."""
    try:
        partitions = df.rdd.getNumPartitions()
        cores = df.sparkSession.sparkContext.defaultParallelism
    except Exception:  # Spark Connect has neither; a wrong guess would break the quota
        raise ConfigurationError(
            "cannot tell the job's parallelism here (Spark Connect?): pass workers= or redis_url="
        ) from None
    return max(1, min(int(partitions), int(cores)))
