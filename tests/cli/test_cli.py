"""The vision-async command: output, exit codes, errors, and the embedded emulator default."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import SAMPLES
from vision_async import cli

SHAPES = str(SAMPLES / "shapes.png")


@pytest.fixture(autouse=True)
def no_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    monkeypatch.delenv("VISION_KEY", raising=False)


def test_analyze_samples_on_the_embedded_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    """With no endpoint or key, analyze runs on the emulator, says so once on stderr, exits 0."""
    images = sorted(str(p) for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    assert len(images) == 3
    assert cli.main(["analyze", *images]) == 0
    out, err = capsys.readouterr()
    assert err.count("using the built-in emulator") == 1 and len(err.strip().splitlines()) == 1
    for image in images:
        assert image in out
    assert "Png 320x200" in out
    assert "tags: white" in out
    assert "color: foreground" in out


def test_json_output_is_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one JSON array with the service's body per image."""
    assert cli.main(["tag", SHAPES, "--json"]) == 0
    documents = json.loads(capsys.readouterr().out)
    assert documents[0]["image"] == SHAPES
    assert documents[0]["result"]["metadata"] == {"width": 320, "height": 200, "format": "Png"}


def test_a_failing_image_exits_1_with_one_stderr_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A bad image fails alone: exit 1, one readable stderr line, the others still printed."""
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    assert cli.main(["describe", SHAPES, str(bad)]) == 1
    out, err = capsys.readouterr()
    assert SHAPES in out
    error_lines = [line for line in err.splitlines() if "notes.txt" in line]
    assert len(error_lines) == 1 and "not JPEG, PNG, GIF or BMP" in error_lines[0]


def test_service_errors_show_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    """An error from the service prints its status, codes and request id."""
    assert cli.main(["tag", "https://elsewhere.example/cat.png"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 400 InvalidRequest/InvalidImageUrl" in err
    assert "request id" in err


def test_thumbnail_writes_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """thumbnail writes an image of the asked size."""
    out = tmp_path / "thumb.png"
    assert cli.main(["thumbnail", SHAPES, "--width", "64", "--height", "48", "--smart", "-o", str(out)]) == 0
    assert Image.open(io.BytesIO(out.read_bytes())).size == (64, 48)
    assert "wrote" in capsys.readouterr().out


def test_other_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """detect, area, ocr, read and models run and print something for each."""
    for argv in (["detect", SHAPES], ["area", SHAPES], ["ocr", SHAPES], ["read", SHAPES], ["models"]):
        assert cli.main(argv) == 0, argv
    out = capsys.readouterr().out
    assert "objects: none found" in out
    assert "area of interest:" in out
    assert "celebrities: people_" in out


def test_half_configured_endpoint_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An endpoint without a key exits 2 with a readable message (no silent emulator)."""
    monkeypatch.setenv("VISION_ENDPOINT", "https://x.cognitiveservices.azure.com")
    assert cli.main(["tag", SHAPES]) == 2
    assert "VISION_KEY" in capsys.readouterr().err


def test_bad_arguments_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid feature fails the image (exit 1, readable message); a missing option is exit 2."""
    assert cli.main(["analyze", SHAPES, "--features", "Smell"]) == 1
    assert "invalid visual feature 'Smell'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["thumbnail", SHAPES])
    assert info.value.code == 2


def test_emulator_command_configures_faults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vision-async emulator` builds the emulator from its flags and serves it."""
    served = {}

    def fake_serve(emulator: object, *, host: str, port: int) -> None:
        served.update(emulator=emulator, host=host, port=port)

    monkeypatch.setattr("vision_async.emulator.serve", fake_serve)
    argv = ["emulator", "--port", "5123", "--rate-limit", "10", "--fail-rate", "0.1", "--latency", "0.01"]
    assert cli.main(argv) == 0
    emulator = served["emulator"]
    config = emulator.faults.config("tag")  # type: ignore[attr-defined]
    assert (config.rate_limit, config.p500, config.p503, config.latency) == (10, 0.05, 0.05, 0.01)
    assert served["host"] == "127.0.0.1" and served["port"] == 5123
    assert "accepting any key" in capsys.readouterr().err
