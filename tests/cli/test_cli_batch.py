"""vision-async batch: inputs, JSON lines, resume, repair, shards, signals, progress."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SAMPLES
from vision_async import cli
from vision_async.cli import _batch as _cli_batch
from vision_async.cli import _progress as _cli_progress
from vision_async.cli._batch_files import digest, in_shard, iter_keys
from vision_async.emulator import Emulator, EmulatorServer


@pytest.fixture(autouse=True)
def no_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    monkeypatch.delenv("VISION_KEY", raising=False)


def make_tree(root: Path, copies: int = 2) -> list[str]:
    """A folder of sample images (and non-images) in sub-folders; returns the image paths."""
    paths = []
    for i in range(copies):
        folder = root / f"part{i}" / "deeper"
        folder.mkdir(parents=True)
        for sample in ("shapes.png", "sign.png", "landscape.jpg"):
            target = folder / f"{i}-{sample}"
            target.write_bytes((SAMPLES / sample).read_bytes())
            paths.append(str(target))
        (folder / "notes.txt").write_text("not an image")
        (folder / ".hidden.png").write_bytes((SAMPLES / "shapes.png").read_bytes())
    return sorted(paths)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def batch(*argv: str) -> int:
    return cli.main(["batch", *argv, "--progress", "none"])


# -- inputs ----------------------------------------------------------------------------------------


def test_folders_are_searched_recursively_for_image_files_only(tmp_path: Path) -> None:
    """A folder yields its image files at any depth, sorted; text files and hidden files are left out."""
    expected = make_tree(tmp_path)
    assert list(iter_keys([str(tmp_path)], "tag")) == expected


def test_manifests_stdin_urls_and_image_files_are_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of paths (comments and blank lines skipped), stdin, a URL and an image file all give keys."""
    manifest = tmp_path / "list.txt"
    manifest.write_text("# images\n\n  a.png \nhttps://x.test/b.jpg\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("c.png\n\n"))
    image = str(SAMPLES / "sign.png")
    keys = list(iter_keys([str(manifest), "-", "https://y.test/d.png", image], "tag"))
    assert keys == ["a.png", "https://x.test/b.jpg", "c.png", "https://y.test/d.png", image]


def test_read_also_finds_pdf_and_tiff(tmp_path: Path) -> None:
    """Image-file discovery follows the operation: Read takes PDF and TIFF too."""
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "scan.TIFF").write_bytes(b"II*\x00")
    assert list(iter_keys([str(tmp_path)], "tag")) == []
    assert len(list(iter_keys([str(tmp_path)], "read"))) == 2


def test_stdin_feeds_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`-` reads keys from stdin (in a background thread) and runs them like any other input."""
    paths = make_tree(tmp_path / "in", copies=1)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(paths) + "\n"))
    out = tmp_path / "out.jsonl"
    assert batch("-", "-o", str(out), "--operation", "tag") == 0
    assert sorted(r["key"] for r in lines(out)) == paths


def test_a_missing_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An input that does not exist: exit 2 before anything runs, nothing written."""
    out = tmp_path / "out.jsonl"
    assert batch(str(tmp_path / "nope"), "-o", str(out)) == 2
    assert "no such file or folder" in capsys.readouterr().err and not out.exists()


# -- output lines ------------------------------------------------------------------------------------


def test_one_json_line_per_input_with_the_wire_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each image gets one line: key, operation, the service's JSON, request id, attempts, elapsed."""
    paths = make_tree(tmp_path / "in")
    out = tmp_path / "out.jsonl"
    assert batch(str(tmp_path / "in"), "-o", str(out), "--operation", "analyze", "--features", "tags,color") == 0
    records = lines(out)
    assert sorted(r["key"] for r in records) == paths
    for r in records:
        assert r["operation"] == "analyze" and set(r["result"]) >= {"tags", "color", "metadata", "requestId"}
        assert r["attempts"] == 1 and r["elapsed"] >= 0 and r["request_id"] == r["result"]["requestId"]
        assert "error" not in r
    err = capsys.readouterr().err
    assert "done" in err and "6 succeeded, 0 failed, 0 skipped" in err


def test_failures_are_lines_with_the_error_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A service error and a local one are lines with class, status, codes, message and request id; exit 1."""
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"https://elsewhere.example/cat.png\n{bad}\n")
    out = tmp_path / "out.jsonl"
    assert batch(str(manifest), "-o", str(out), "--operation", "tag") == 1
    by_key = {r["key"]: r for r in lines(out)}
    service = by_key["https://elsewhere.example/cat.png"]["error"]
    assert service["class"] == "BadRequestError" and service["status"] == 400
    assert service["code"] == "InvalidRequest" and service["inner_code"] == "InvalidImageUrl"
    assert service["message"] and service["request_id"]
    local = by_key[str(bad)]["error"]
    assert local["class"] == "InvalidInputError" and local["status"] is None and local["request_id"] is None
    assert "not JPEG, PNG, GIF or BMP" in local["message"]
    assert "2 failed" in capsys.readouterr().err


def test_thumbnails_go_into_the_line_or_into_a_folder(tmp_path: Path) -> None:
    """Thumbnails are base64 in the line by default, files with --thumbnail-dir."""
    image = str(SAMPLES / "shapes.png")
    out = tmp_path / "a.jsonl"
    argv = [image, "--operation", "generate_thumbnail", "--width", "32", "--height", "24"]
    assert batch(*argv, "-o", str(out)) == 0
    (record,) = lines(out)
    assert record["result"]["format"] == "PNG" or record["result"]["format"] == "JPEG"
    assert len(base64.b64decode(record["result"]["base64"])) == record["result"]["bytes"]
    out2 = tmp_path / "b.jsonl"
    assert batch(*argv, "-o", str(out2), "--thumbnail-dir", str(tmp_path / "thumbs")) == 0
    (record,) = lines(out2)
    assert Path(record["result"]["path"]).read_bytes()[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb")


def test_thumbnails_need_a_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """generate_thumbnail without --width/--height is a usage error."""
    assert batch(str(SAMPLES / "shapes.png"), "-o", str(tmp_path / "o"), "--operation", "generate_thumbnail") == 2
    assert "--width and --height" in capsys.readouterr().err


def test_bad_options_fail_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid option (a feature that does not exist) exits 2 and writes no line."""
    out = tmp_path / "out.jsonl"
    assert batch(str(SAMPLES / "shapes.png"), "-o", str(out), "--features", "nope") == 2
    assert "nope" in capsys.readouterr().err.lower()
    assert not out.exists()  # nothing was opened for writing


def test_generic_options_reach_the_operation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--option NAME=VALUE passes any keyword to the operation, its value parsed as JSON (here an int)."""
    out = tmp_path / "out.jsonl"
    image = str(SAMPLES / "shapes.png")
    assert batch(image, "-o", str(out), "--operation", "describe", "--option", "max-candidates=0") == 2
    assert "max_candidates must be an int >= 1, got 0" in capsys.readouterr().err
    assert batch(image, "-o", str(out), "--operation", "describe", "--option", "max_candidates=2") == 0
    (record,) = lines(out)
    assert record["result"]["description"]["captions"]


def test_rate_sets_the_clients_rate_limit() -> None:
    """--rate R makes a client limited to R requests per second."""
    args = cli.build_parser().parse_args(["batch", "x", "-o", "y", "--rate", "7.5"])
    client = _cli_batch.make_client(args)
    assert client.stats().allowed_rate == 7.5


# -- resume --------------------------------------------------------------------------------------


def test_a_rerun_skips_what_succeeded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rerunning the same command sends nothing new and writes no second line."""
    make_tree(tmp_path / "in")
    out = tmp_path / "out.jsonl"
    assert batch(str(tmp_path / "in"), "-o", str(out), "--operation", "tag") == 0
    first = out.read_text()
    capsys.readouterr()
    assert batch(str(tmp_path / "in"), "-o", str(out), "--operation", "tag") == 0
    assert out.read_text() == first
    assert "0 succeeded, 0 failed, 6 skipped" in capsys.readouterr().err


def error_line(key: str, operation: str = "tag") -> str:
    error = {"class": "InternalServerError", "status": 500, "code": None, "inner_code": None, "message": "x"}
    return json.dumps({"key": key, "operation": operation, "error": {**error, "request_id": None}}) + "\n"


def test_failures_are_run_again_and_replaced(tmp_path: Path) -> None:
    """An earlier failure is run again; its old line goes, so the input still has exactly one line."""
    a, b, c = (str(SAMPLES / n) for n in ("shapes.png", "sign.png", "landscape.jpg"))
    out = tmp_path / "out.jsonl"
    assert batch(b, "-o", str(out), "--operation", "tag") == 0
    with out.open("a") as f:
        f.write(error_line(a))
    assert batch(a, b, c, "-o", str(out), "--operation", "tag") == 0
    records = lines(out)
    assert sorted(r["key"] for r in records) == sorted([a, b, c])
    assert all("result" in r for r in records)


def test_no_retry_failed_keeps_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --no-retry-failed an earlier failure stays as it is, is not run again, and the exit is 1."""
    a, b = str(SAMPLES / "shapes.png"), str(SAMPLES / "sign.png")
    out = tmp_path / "out.jsonl"
    out.write_text(error_line(a))
    assert batch(a, b, "-o", str(out), "--operation", "tag", "--no-retry-failed") == 1
    records = lines(out)
    assert [r["key"] for r in records] == [a, b] and "error" in records[0] and "result" in records[1]
    assert "1 earlier failure(s) kept" in capsys.readouterr().err


def test_a_half_written_last_line_is_repaired(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A torn last line (and a garbage line) is removed and its input run again: valid JSON, one line each."""
    paths = make_tree(tmp_path / "in", copies=1)
    out = tmp_path / "out.jsonl"
    assert batch(str(tmp_path / "in"), "-o", str(out), "--operation", "tag") == 0
    text = out.read_text().splitlines(keepends=True)
    out.write_text(text[0] + "\x00\x00garbage\n" + text[1] + text[2][: len(text[2]) // 2])
    capsys.readouterr()
    assert batch(str(tmp_path / "in"), "-o", str(out), "--operation", "tag") == 0
    records = lines(out)  # every line parses
    assert sorted(r["key"] for r in records) == paths
    err = capsys.readouterr().err
    assert "1 succeeded, 0 failed, 2 skipped" in err and "removed 2 broken" in err


def test_an_output_of_another_operation_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Resuming into a file of another operation's results is a usage error; the file is untouched."""
    out = tmp_path / "out.jsonl"
    out.write_text(error_line("x", operation="describe"))
    assert batch(str(SAMPLES / "sign.png"), "-o", str(out), "--operation", "tag") == 2
    assert "holds results of operation 'describe'" in capsys.readouterr().err
    assert out.read_text() == error_line("x", operation="describe")


def test_a_repeated_input_is_run_once(tmp_path: Path) -> None:
    """The same key twice in the inputs gives one line."""
    image = str(SAMPLES / "sign.png")
    out = tmp_path / "out.jsonl"
    assert batch(image, image, "-o", str(out), "--operation", "tag") == 0
    assert len(lines(out)) == 1


# -- shards --------------------------------------------------------------------------------------


def test_shards_are_disjoint_and_cover_the_keys() -> None:
    """Every key is in exactly one of N shards, by a stable hash, and the shards are about even."""
    keys = [f"images/{i:05d}.jpg" for i in range(3000)]
    shards = [[k for k in keys if in_shard(k, (i, 3))] for i in range(3)]
    assert sorted(k for shard in shards for k in shard) == keys
    assert all(800 < len(s) < 1200 for s in shards)
    assert digest("images/00000.jpg") == 0x6A82A7E325B9CF96  # blake2b: the same on every machine and run


def test_shard_runs_split_a_manifest(tmp_path: Path) -> None:
    """Three runs with --shard 0/3, 1/3, 2/3 write disjoint outputs that together cover the manifest."""
    paths = make_tree(tmp_path / "in", copies=4)
    manifest = tmp_path / "list.txt"
    manifest.write_text("\n".join(paths) + "\n")
    seen: list[set[str]] = []
    for i in range(3):
        out = tmp_path / f"out{i}.jsonl"
        assert batch(str(manifest), "-o", str(out), "--operation", "tag", "--shard", f"{i}/3") == 0
        seen.append({r["key"] for r in lines(out)})
    assert set().union(*seen) == set(paths)
    assert sum(len(s) for s in seen) == len(paths)


@pytest.mark.parametrize("value", ["3/3", "1", "a/b", "0/0", "-1/2"])
def test_a_bad_shard_is_a_usage_error(value: str, tmp_path: Path) -> None:
    """--shard must be I/N with 0 <= I < N."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["batch", "x", "-o", str(tmp_path / "o"), "--shard", value])
    assert exc.value.code == 2


# -- progress --------------------------------------------------------------------------------------


def test_plain_progress_lines_when_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not on a terminal: periodic plain lines with done/total, errors, 429s, rate and flow control."""
    monkeypatch.setattr(_cli_progress, "PLAIN_PROGRESS_INTERVAL", 0.0)
    make_tree(tmp_path / "in")
    assert cli.main(["batch", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--operation", "tag"]) == 0
    err = capsys.readouterr().err
    progress = [line for line in err.splitlines() if " done (" in line]
    assert progress and "errors" in progress[0] and "429s" in progress[0] and "breaker" in progress[0]


def test_the_rich_bar_renders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--progress bar draws the rich bar (on stderr) and ends with the summary."""
    make_tree(tmp_path / "in")
    argv = ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--operation", "tag", "--progress", "bar"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "batch" in err and "6/6" in err and "429s" in err and "6 succeeded" in err


# -- signals ----------------------------------------------------------------------------------------


def test_sigterm_stops_cleanly_and_a_rerun_completes_with_one_line_each(tmp_path: Path) -> None:
    """Killed with SIGTERM mid-run: exit 143, whole lines only; the rerun finishes: one line per input."""
    paths = make_tree(tmp_path / "in", copies=10)
    manifest = tmp_path / "list.txt"
    manifest.write_text("\n".join(paths) + "\n")
    out = tmp_path / "out.jsonl"
    emulator = Emulator()
    emulator.set_faults("*", latency=0.03)
    argv = [sys.executable, "-m", "vision_async.cli", "batch", str(manifest), "-o", str(out)]
    argv += ["--operation", "tag", "--concurrency", "2", "--progress", "none"]
    with EmulatorServer(emulator) as server:
        env = {**os.environ, "VISION_ENDPOINT": server.url, "VISION_KEY": "any"}
        proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (out.exists() and out.read_text().count("\n") >= 3):
            assert proc.poll() is None and time.monotonic() < deadline, "the batch never got going"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "interrupted by SIGTERM" in err
        partial = lines(out)
        assert 3 <= len(partial) < len(paths)
        assert len({r["key"] for r in partial}) == len(partial)
        rerun = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    records = lines(out)
    assert sorted(r["key"] for r in records) == paths
    assert f"{len(paths) - len(partial)} succeeded, 0 failed, {len(partial)} skipped" in rerun.stderr
