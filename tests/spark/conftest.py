"""A real Spark in local mode (``local[2]``: two Python workers) and the emulator it calls on loopback."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.spark import KEY
from vision_async.emulator import Emulator, EmulatorServer

JAVA = shutil.which("java") or (
    os.environ.get("JAVA_HOME") and shutil.which("java", path=f"{os.environ['JAVA_HOME']}/bin")
)


@pytest.fixture(scope="session")
def event_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark-events")


@pytest.fixture(scope="session")
def spark(event_log_dir: Path) -> Iterator[Any]:
    """One SparkSession for the Spark tests: local[2], the UI off, the event log on (it is what the
    Spark UI's SQL tab and the history server show, and the tests read it for secrets)."""
    if not JAVA:
        pytest.skip("no Java on this machine (Spark needs a JRE 17+: apt-get install openjdk-17-jre-headless)")
    pyspark_sql = pytest.importorskip(
        "pyspark.sql", reason="pyspark is not installed: pip install 'vision-async[spark]'"
    )
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback only
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers run this interpreter, with vision_async in it
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("vision_async-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.eventLog.enabled", "true")
        .config("spark.eventLog.dir", event_log_dir.as_uri())
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """The emulator on loopback, checking the key, its faults seeded."""
    with EmulatorServer(Emulator(key=KEY, seed=7)) as server:
        yield server
