"""vision-async batch with the embeddings (image folders, text manifests: lines, resume, shards,
progress) and vision-async search (ranking on the samples, JSON, chunked top-k, refusals)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SAMPLES
from vision_async import cli
from vision_async.cli import _search as _cli_search
from vision_async.cli._batch_files import iter_texts

NAMES = ("landscape.jpg", "shapes.png", "sign.png")


@pytest.fixture(autouse=True)
def no_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    monkeypatch.delenv("VISION_KEY", raising=False)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def batch(*argv: str) -> int:
    return cli.main(["batch", *argv, "--progress", "none"])


def samples_folder(root: Path, copies: int = 1) -> Path:
    folder = root / "photos"
    for i in range(copies):
        (folder / f"set{i}").mkdir(parents=True)
        for name in NAMES:
            (folder / f"set{i}" / name).write_bytes((SAMPLES / name).read_bytes())
    return folder


def vectors_of_samples(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "vectors.jsonl"
    assert batch(str(samples_folder(tmp_path)), "-o", str(out), "--operation", "v4.vectorize_image", *extra) == 0
    return out


# -- batch -------------------------------------------------------------------------------------


def test_image_vectors_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--operation v4.vectorize_image: one line per image with key, model_version, vector (1024) and request id."""
    folder = samples_folder(tmp_path, copies=2)
    out = tmp_path / "vectors.jsonl"
    assert batch(str(folder), "-o", str(out), "--operation", "v4.vectorize_image") == 0
    records = lines(out)
    assert sorted(r["key"] for r in records) == sorted(str(p) for p in folder.rglob("*.*g"))
    for r in records:
        assert r["operation"] == "v4.vectorize_image" and r["model_version"] == "2023-04-15"
        assert len(r["vector"]) == 1024 and all(isinstance(v, float) for v in r["vector"])
        assert r["request_id"] and "result" not in r and "error" not in r
    assert "6 succeeded, 0 failed, 0 skipped" in capsys.readouterr().err


def test_model_version_option_reaches_the_vectors(tmp_path: Path) -> None:
    """--model-version 2022-04-11 is sent, and written on every line."""
    out = vectors_of_samples(tmp_path, "--model-version", "2022-04-11")
    assert {r["model_version"] for r in lines(out)} == {"2022-04-11"}


def test_texts_manifest_keys_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--texts: key<TAB>text lines keep their key, others are keyed by line number; blank lines are skipped;
    a text over 70 words is that line's error (exit 1)."""
    manifest = tmp_path / "queries.txt"
    long_text = " ".join(["word"] * 71)
    manifest.write_text(f"a red square\n\nsky-1\tblue sky at the top\n{long_text}\n", encoding="utf-8")
    out = tmp_path / "texts.jsonl"
    assert batch("--texts", str(manifest), "-o", str(out), "--operation", "v4.vectorize_text") == 1
    by_key = {r["key"]: r for r in lines(out)}
    assert set(by_key) == {"1", "sky-1", "4"}
    assert len(by_key["1"]["vector"]) == 1024 and by_key["sky-1"]["model_version"] == "2023-04-15"
    assert by_key["4"]["error"]["class"] == "InvalidInputError" and "71 words" in by_key["4"]["error"]["message"]
    assert "2 succeeded, 1 failed" in capsys.readouterr().err


def test_iter_texts_reads_stdin_and_tabs() -> None:
    """iter_texts: '-' is stdin; a line starting with a tab has no key column; further tabs stay in the text."""
    import io

    entries = list(iter_texts("-", io.StringIO("one\n\tlead tab\nk\ta\tb\n")))
    assert entries == [("1", "one"), ("2", "\tlead tab"), ("k", "a\tb")]


def test_a_rerun_resumes_text_and_image_batches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rerunning skips what succeeded; a half-written last line is repaired and its input run again."""
    out = vectors_of_samples(tmp_path)
    capsys.readouterr()
    content = out.read_bytes()
    out.write_bytes(content[: len(content) - 500])  # a crash in the middle of the last line
    assert batch(str(tmp_path / "photos"), "-o", str(out), "--operation", "v4.vectorize_image") == 0
    err = capsys.readouterr().err
    assert "1 succeeded, 0 failed, 2 skipped" in err and "removed 1 broken" in err
    assert sorted(r["key"] for r in lines(out)) == sorted(str(p) for p in (tmp_path / "photos").rglob("*.*g"))
    manifest = tmp_path / "m.txt"
    manifest.write_text("red\ngreen\n")
    texts = tmp_path / "t.jsonl"
    assert batch("--texts", str(manifest), "-o", str(texts), "--operation", "v4.vectorize_text") == 0
    manifest.write_text("red\ngreen\nblue\n")
    capsys.readouterr()
    assert batch("--texts", str(manifest), "-o", str(texts), "--operation", "v4.vectorize_text") == 0
    assert "1 succeeded, 0 failed, 2 skipped" in capsys.readouterr().err
    assert [r["key"] for r in lines(texts)] == ["1", "2", "3"]


def test_text_shards_split_the_manifest(tmp_path: Path) -> None:
    """--shard 0/2 and 1/2 over a manifest write disjoint keys that cover every line."""
    manifest = tmp_path / "m.txt"
    manifest.write_text("".join(f"text number {i}\n" for i in range(1, 21)))
    keys: list[str] = []
    for shard in ("0/2", "1/2"):
        out = tmp_path / f"shard{shard[0]}.jsonl"
        argv = ["--texts", str(manifest), "-o", str(out), "--operation", "v4.vectorize_text", "--shard", shard]
        assert batch(*argv) == 0
        keys += [r["key"] for r in lines(out)]
    assert sorted(keys, key=int) == [str(i) for i in range(1, 21)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--operation", "v4.vectorize_text"], "--texts FILE"),
        (["photos", "--operation", "v4.vectorize_text", "--texts", "m.txt"], "not INPUT arguments"),
        (["photos", "--operation", "v4.vectorize_image", "--texts", "m.txt"], "--texts goes with"),
        (["--operation", "v4.vectorize_image"], "at least one INPUT"),
        (["--operation", "v4.vectorize_text", "--texts", "missing.txt"], "no such file"),
    ],
)
def test_inputs_must_fit_the_operation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    """Texts come from --texts and only for v4.vectorize_text; images from INPUT: otherwise exit 2, nothing written."""
    monkeypatch.chdir(tmp_path)
    samples_folder(tmp_path)
    (tmp_path / "m.txt").write_text("red\n")
    assert batch(*argv, "-o", "out.jsonl") == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out.jsonl").exists()


def test_the_progress_bar_renders_for_embeddings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--progress bar draws the bar and the summary for both operations."""
    folder = samples_folder(tmp_path, copies=2)
    argv = ["batch", str(folder), "-o", str(tmp_path / "v"), "--operation", "v4.vectorize_image", "--progress", "bar"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "6/6" in err and "6 succeeded" in err
    manifest = tmp_path / "m.txt"
    manifest.write_text("red\ngreen\nblue\n")
    argv = ["batch", "--texts", str(manifest), "-o", str(tmp_path / "t"), "--operation", "v4.vectorize_text"]
    assert cli.main([*argv, "--progress", "bar"]) == 0
    err = capsys.readouterr().err
    assert "3/3" in err and "3 succeeded" in err


# -- search ------------------------------------------------------------------------------------


def test_search_red_ranks_the_red_sample_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """search "red" over the samples' vectors prints shapes.png first, with its score; every image once."""
    out = vectors_of_samples(tmp_path)
    capsys.readouterr()
    assert cli.main(["search", "red", str(out)]) == 0
    captured = capsys.readouterr()
    rows = [line.split("  ", 1) for line in captured.out.splitlines()]
    assert rows[0][1].endswith("shapes.png") and float(rows[0][0]) > 0.2
    assert sorted(Path(key).name for _, key in rows) == sorted(NAMES)
    assert [float(score) for score, _ in rows] == sorted((float(score) for score, _ in rows), reverse=True)
    assert "3 vectors of model version 2023-04-15" in captured.err


def test_search_json_and_top(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the query, the model version and the best --top keys with scores."""
    out = vectors_of_samples(tmp_path)
    capsys.readouterr()
    assert cli.main(["search", "green grass", str(out), "--json", "--top", "1"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["query"] == "green grass" and document["model_version"] == "2023-04-15"
    (best,) = document["results"]
    assert best["key"].endswith("landscape.jpg") and 0 < best["score"] <= 1


def test_search_uses_the_files_model_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Vectors of 2022-04-11 are searched with a 2022-04-11 query (same ranking); --model-version must agree."""
    out = vectors_of_samples(tmp_path, "--model-version", "2022-04-11")
    capsys.readouterr()
    assert cli.main(["search", "red", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["model_version"] == "2022-04-11" and document["results"][0]["key"].endswith("shapes.png")
    assert cli.main(["search", "red", str(out), "--model-version", "2023-04-15"]) == 2
    assert "holds vectors of 2022-04-11" in capsys.readouterr().err


def test_a_mixed_model_version_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file holding vectors of two model versions is refused (exit 2), naming the line and both versions."""
    new = vectors_of_samples(tmp_path)
    old = tmp_path / "old.jsonl"
    assert (
        batch(
            str(tmp_path / "photos"),
            "-o",
            str(old),
            "--operation",
            "v4.vectorize_image",
            "--model-version",
            "2022-04-11",
        )
        == 0
    )
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(new.read_text() + old.read_text().splitlines(keepends=True)[0])
    capsys.readouterr()
    assert cli.main(["search", "red", str(mixed)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{mixed}:4: a vector of model version '2022-04-11' among vectors of '2023-04-15'" in captured.err
    assert cli.main(["search", "red", str(new), str(old)]) == 2  # across files too
    assert "not comparable" in capsys.readouterr().err


def test_search_skips_failures_and_broken_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Error lines and a broken line are not vectors: they are skipped (and the broken one is counted)."""
    out = vectors_of_samples(tmp_path)
    with out.open("a") as f:
        f.write('{"key":"x","operation":"v4.vectorize_image","error":{"class":"BadRequestError"}}\n{"key":"y","vec')
    capsys.readouterr()
    assert cli.main(["search", "red", str(out)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3 and "1 broken line(s) skipped" in captured.err


def test_search_refuses_files_without_vectors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No vector, a missing file, a vector of another dimension or of words: exit 2 with the reason."""
    empty = tmp_path / "e.jsonl"
    empty.write_text('{"key":"x","error":{}}\n')
    assert cli.main(["search", "red", str(empty)]) == 2
    assert "no vectors in" in capsys.readouterr().err
    assert cli.main(["search", "red", str(tmp_path / "nope.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    short = tmp_path / "s.jsonl"
    short.write_text('{"key":"x","model_version":"2023-04-15","vector":[0.1,0.2]}\n')
    assert cli.main(["search", "red", str(short)]) == 2
    assert "2 dimensions; the query has 1024" in capsys.readouterr().err
    words = tmp_path / "w.jsonl"
    words.write_text(json.dumps({"key": "x", "model_version": "2023-04-15", "vector": ["red"] * 1024}) + "\n")
    assert cli.main(["search", "red", str(words)]) == 2
    assert "w.jsonl:1: the vector holds something that is not a number" in capsys.readouterr().err


def test_chunked_top_k_equals_a_full_sort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scan() over chunks of 7 rows keeps exactly the top k of a full sort of every score."""
    rng = random.Random(5)
    dims = 16
    query = [rng.gauss(0, 1) for _ in range(dims)]
    rows = [[rng.gauss(0, 1) for _ in range(dims)] for _ in range(200)]
    path = tmp_path / "v.jsonl"
    with path.open("w") as f:
        for i, row in enumerate(rows):
            f.write(json.dumps({"key": f"k{i}", "model_version": "m", "vector": row}) + "\n")

    def cosine(a: list[float], b: list[float]) -> float:
        dot = sum(x * y for x, y in zip(a, b, strict=True))
        return dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)

    expected = sorted(range(len(rows)), key=lambda i: -cosine(rows[i], query))[:12]
    monkeypatch.setattr(_cli_search, "CHUNK_ROWS", 7)
    found = _cli_search.scan([path], query, "m", top=12)
    assert [f.key for f in found.found] == [f"k{i}" for i in expected] and found.vectors == 200
    assert found.found[0].score == pytest.approx(cosine(rows[expected[0]], query), abs=1e-5)


def test_search_refuses_a_bad_top_or_query(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--top 0 and a query of more than 70 words are usage errors (exit 2), checked before any vector is read."""
    out = vectors_of_samples(tmp_path)
    capsys.readouterr()
    assert cli.main(["search", "red", str(out), "--top", "0"]) == 2
    assert "--top must be >= 1" in capsys.readouterr().err
    assert cli.main(["search", " ".join(["red"] * 71), str(out)]) == 2
    captured = capsys.readouterr()
    assert "71 words" in captured.err and captured.out == ""
