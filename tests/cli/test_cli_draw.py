"""The CLI's analyze4 command and --draw: labelled outlines of what was found, on a copy of the image,
for the 4.0 result and the 3.2 results that carry rectangles."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import FIXTURES_ROOT, SAMPLES, png_bytes
from vision_async import cli
from vision_async._v32.models import AreaOfInterestResult, DetectResult, ImageAnalysis
from vision_async._v32.ocr_models import OcrResult, ReadOperationResult
from vision_async.cli._draw import COLORS, Shape, draw, output_path, shapes_of
from vision_async.v4 import ImageAnalysisResult

SHAPES = str(SAMPLES / "shapes.png")
FULL = json.loads((FIXTURES_ROOT / "v4.0" / "AnalyzeFromUrl_MaximumSet.json").read_text())


@pytest.fixture(autouse=True)
def no_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    monkeypatch.delenv("VISION_KEY", raising=False)


def test_shapes_of_a_4_0_result() -> None:
    """Every rectangle-bearing 4.0 feature becomes labelled shapes: crops, dense captions, objects, people, lines."""
    result = ImageAnalysisResult.from_json(FULL["responses"]["200"]["body"])
    shapes = shapes_of(result)
    kinds = [s.kind for s in shapes]
    assert kinds.count("crop") == 2 and kinds.count("caption") == 10 and kinds.count("object") == 5
    assert kinds.count("person") == 2 and kinds.count("text") == 3
    chair = next(s for s in shapes if s.kind == "object")
    assert chair.label == "chair 0.62" and chair.points == ((603, 225), (755, 225), (755, 449), (603, 449))
    line = next(s for s in shapes if s.kind == "text")
    assert line.label == "Sample text" and line.points[2] == (843, 519)


def test_shapes_of_3_2_results() -> None:
    """analyze (objects, faces, brands), detect, area, ocr and read results become shapes."""
    rect = {"x": 1, "y": 2, "w": 3, "h": 4}
    analysis = ImageAnalysis.from_json(
        {
            "objects": [{"rectangle": rect, "object": "cup", "confidence": 0.5}],
            "faces": [{"age": 30, "gender": "Female", "faceRectangle": {"left": 5, "top": 6, "width": 7, "height": 8}}],
            "brands": [{"name": "Contoso", "confidence": 0.7, "rectangle": rect}],
        }
    )
    assert [(s.kind, s.label) for s in shapes_of(analysis)] == [
        ("object", "cup 0.50"),
        ("face", "Female 30"),
        ("brand", "Contoso 0.70"),
    ]
    assert shapes_of(DetectResult.from_json({"objects": [{"rectangle": rect, "confidence": 0.9}]}))[0].points == (
        (1, 2),
        (4, 2),
        (4, 6),
        (1, 6),
    )
    area = shapes_of(AreaOfInterestResult.from_json({"areaOfInterest": rect}))
    assert [s.kind for s in area] == ["area"]
    ocr = OcrResult.from_json(
        {"regions": [{"boundingBox": "0,0,9,9", "lines": [{"boundingBox": "1,1,5,2", "words": [{"text": "hi"}]}]}]}
    )
    assert [(s.kind, s.label, s.points[0]) for s in shapes_of(ocr)] == [("text", "hi", (1, 1))]
    read = ReadOperationResult.from_json(
        {
            "status": "succeeded",
            "analyzeResult": {
                "version": "3.2.0",
                "modelVersion": "2022-04-30",
                "readResults": [
                    {
                        "page": 1,
                        "angle": 0,
                        "width": 100,
                        "height": 50,
                        "unit": "pixel",
                        "lines": [
                            {
                                "boundingBox": [1, 2, 30, 2, 30, 9, 1, 9],
                                "text": "go",
                                "words": [{"boundingBox": [1, 2, 30, 2, 30, 9, 1, 9], "text": "go", "confidence": 1}],
                            }
                        ],
                    }
                ],
            },
        }
    )
    assert [(s.kind, s.label, s.points[1]) for s in shapes_of(read)] == [("text", "go", (30, 2))]


def test_draw_outlines_in_the_kinds_color_on_a_copy(tmp_path: Path) -> None:
    """The outline is drawn in its kind's color, the label's box too, and the original is untouched."""
    original = png_bytes(200, 120, (255, 255, 255))
    out = tmp_path / "out.png"
    shapes = [Shape("object", "cup", ((20, 60), (120, 60), (120, 110), (20, 110)))]
    assert draw(original, shapes, out) == 1
    with Image.open(out) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (200, 120)
        assert rgb.getpixel((70, 110)) == COLORS["object"]  # the bottom edge
        assert rgb.getpixel((70, 85)) == (255, 255, 255)  # inside stays as it was
        assert rgb.getpixel((22, 50)) == COLORS["object"]  # the label's background, above the box
    assert original == png_bytes(200, 120, (255, 255, 255))


def test_labels_do_not_hide_each_other(tmp_path: Path) -> None:
    """Two boxes with the same corner get their labels one below the other."""
    box = ((0, 0), (100, 0), (100, 80), (0, 80))
    out = tmp_path / "two.png"
    draw(png_bytes(200, 120, (255, 255, 255)), [Shape("crop", "first", box), Shape("person", "second", box)], out)
    with Image.open(out) as img:
        column = [img.convert("RGB").getpixel((3, y)) for y in range(0, 40)]
    assert COLORS["crop"] in column and COLORS["person"] in column


def test_output_path_numbers_several_images() -> None:
    """One image writes OUT exactly; several write OUT-1, OUT-2, ..."""
    assert output_path(Path("o/x.png"), 0, 1) == Path("o/x.png")
    assert output_path(Path("o/x.png"), 1, 3) == Path("o/x-2.png")


def test_analyze4_prints_every_feature(capsys: pytest.CaptureFixture[str]) -> None:
    """analyze4 on the embedded emulator prints caption, tags, objects, people and smart crops."""
    args = ["analyze4", SHAPES, "--features", "caption,tags,objects,people,smartCrops", "--aspect-ratios", "0.9,1.33"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert f"{SHAPES} 320x200" in out
    for expected in ("caption: ", "tags: white", "objects: none found", "people: none found", "smart crop 1.33: at"):
        assert expected in out


def test_analyze4_json_is_the_service_body(capsys: pytest.CaptureFixture[str]) -> None:
    """analyze4 --json prints the 4.0 body per image."""
    assert cli.main(["analyze4", SHAPES, "--features", "tags", "--json"]) == 0
    (document,) = json.loads(capsys.readouterr().out)
    assert document["result"]["metadata"] == {"width": 320, "height": 200} and "tagsResult" in document["result"]


def test_analyze4_aspect_ratios_bring_smart_crops(capsys: pytest.CaptureFixture[str]) -> None:
    """--aspect-ratios adds smartCrops to the features when they do not name it."""
    assert cli.main(["analyze4", SHAPES, "--features", "tags", "--aspect-ratios", "1.0", "--json"]) == 0
    (document,) = json.loads(capsys.readouterr().out)
    assert [c["aspectRatio"] for c in document["result"]["smartCropsResult"]["values"]] == [1.0]


def test_analyze4_bad_options_exit_2_before_sending(capsys: pytest.CaptureFixture[str]) -> None:
    """Bad 4.0 options are usage errors (exit 2), refused before any image is sent."""
    assert cli.main(["analyze4", SHAPES, "--features", "caption", "--language", "fr"]) == 2
    assert "only available in English" in capsys.readouterr().err
    assert cli.main(["analyze4", SHAPES, "--aspect-ratios", "3"]) == 2
    assert "out of range" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["analyze4", SHAPES, "--aspect-ratios", "wide"])


def test_analyze4_draw_writes_the_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--draw on analyze4 writes a same-size copy with the smart crop drawn, and says so on stderr."""
    out = tmp_path / "drawn.png"
    assert cli.main(["analyze4", SHAPES, "--features", "smartCrops", "--aspect-ratios", "1.0", "--draw", str(out)]) == 0
    assert "drew 1 shape" in capsys.readouterr().err
    with Image.open(out) as img:
        assert img.size == (320, 200)
        assert COLORS["crop"] in {img.convert("RGB").getpixel((x, 199)) for x in range(320)}


def test_draw_on_3_2_commands_and_several_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--draw works on the 3.2 area command, numbering the outputs for several images."""
    landscape = str(SAMPLES / "landscape.jpg")
    assert cli.main(["area", SHAPES, landscape, "--draw", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a-1.png").is_file() and (tmp_path / "a-2.png").is_file()
    with Image.open(tmp_path / "a-2.png") as img:
        assert img.size == (400, 260)


def test_draw_failure_fails_that_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An output that cannot be written fails the image (exit 1) with a readable message."""
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    assert cli.main(["area", SHAPES, "--draw", str(blocker / "sub" / "out.png")]) == 1
    assert "vision-async:" in capsys.readouterr().err


def test_draw_is_offered_only_where_there_are_rectangles() -> None:
    """tag and describe return no rectangles, so they have no --draw."""
    with pytest.raises(SystemExit):
        cli.main(["tag", SHAPES, "--draw", "x.png"])


def test_image_copy_from_bytes_decodes_jpeg(tmp_path: Path) -> None:
    """draw saves in the format the output's suffix names."""
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), (0, 0, 0)).save(buf, format="JPEG")
    out = tmp_path / "x.jpg"
    draw(buf.getvalue(), [], out)
    with Image.open(out) as img:
        assert img.format == "JPEG"
