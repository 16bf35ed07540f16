"""``deepad bench mtd``: the image detectors on the magnetic-tile defect set.

Protocol (../shared/data/README.md, issue 7): train on a fixed 70% of ``MT_Free`` (a
permutation drawn with NumPy seed 0 over the sorted file names), test on the other 30%
and every defect image. Reported per defect class (that class against the held-out good
tiles) and overall: image AUROC, and pixel AUROC against the masks at the detector's
working size (pixels of every test image pooled). Also fit seconds and scoring speed:
the median over repeats of one batch of 32 pre-loaded images, per image (reading and
resizing the files is included in the end-to-end figure: files to scores and maps).

Peer run in the same script: ``ref.pixel_zscore``, a classical per-pixel Gaussian model
of the good tiles (|z| per pixel, blurred; score = max), the image analogue of a
z-score baseline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepad.bench.report import _num, _table
from deepad.bench.series_data import data_root
from deepad.bench.store import environment
from deepad.io.images import as_images, read_mask
from deepad.metrics import auroc
from deepad.models.image_base import blurred_maps_and_scores

DEFECT_CLASSES = ("MT_Blowhole", "MT_Break", "MT_Crack", "MT_Fray")
TRAIN_SHARE = 0.7
PEERS = ("ref.pixel_zscore",)
Echo = Callable[[str], None]


@dataclass
class TileSplit:
    """File lists of the protocol's split."""

    train: list[Path]
    test_good: list[Path]
    defects: dict[str, list[Path]]


def load_magnetic_tile(root: str | Path | None = None, limit: int | None = None) -> TileSplit:
    """The protocol's split of ``magnetic_tile`` under the data root (``limit``: at most that
    many images per class, for smoke runs)."""
    folder = data_root(root) / "magnetic_tile"
    free = sorted((folder / "MT_Free" / "Imgs").glob("*.jpg"))
    if not free:
        raise FileNotFoundError(f"no magnetic-tile images in {folder / 'MT_Free' / 'Imgs'}")
    order = np.random.default_rng(0).permutation(len(free))
    n_train = int(TRAIN_SHARE * len(free))
    train = [free[i] for i in sorted(order[:n_train])]
    test_good = [free[i] for i in sorted(order[n_train:])]
    defects = {c: sorted((folder / c / "Imgs").glob("*.jpg")) for c in DEFECT_CLASSES}
    if limit is not None:
        train, test_good = train[: 2 * limit], test_good[:limit]
        defects = {c: files[:limit] for c, files in defects.items()}
    return TileSplit(train, test_good, defects)


class PixelZScore:
    """Peer: per-pixel mean and standard deviation of the good grey tiles; map = |z|."""

    def __init__(self, image_size: int = 256, blur_sigma: float = 4.0) -> None:
        self.image_size = image_size
        self.blur_sigma = blur_sigma

    def fit(self, paths: Sequence[Path]) -> PixelZScore:
        pixels = self.read(paths)
        self.mean_ = pixels.mean(axis=0)
        self.std_ = pixels.std(axis=0) + 1e-3
        return self

    def score_pixels(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = torch.from_numpy(np.abs((pixels - self.mean_) / self.std_))
        return blurred_maps_and_scores(z, self.blur_sigma)

    def read(self, paths: Sequence[Path]) -> np.ndarray:
        return as_images(list(paths), self.image_size, 1).pixels


class _DetectorAdapter:
    """A deepad image detector behind the runner's fit / read / score_pixels calls."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector

    def fit(self, paths: Sequence[Path]) -> _DetectorAdapter:
        self.detector.fit([str(p) for p in paths])
        return self

    def read(self, paths: Sequence[Path]) -> np.ndarray:
        return self.detector._images([str(p) for p in paths]).pixels

    def score_pixels(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.detector._score_chunked(pixels)

    @property
    def image_size(self) -> int:
        return self.detector.image_size_


@dataclass
class ImageBenchResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def _speed(model: Any, pixels: np.ndarray, repeats: int = 5) -> float:
    """Median milliseconds per image to score one batch of (up to) 32 pre-loaded images."""
    batch = pixels[:32]
    model.score_pixels(batch)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.score_pixels(batch)
        times.append((time.perf_counter() - start) / len(batch) * 1000.0)
    return float(np.median(times))


def evaluate(name: str, model: Any, split: TileSplit, echo: Echo = print) -> dict[str, Any]:
    """Fit ``model`` on the split's training tiles and measure it on the test tiles."""
    start = time.perf_counter()
    model.fit(split.train)
    fit_seconds = time.perf_counter() - start
    size = model.image_size
    start = time.perf_counter()
    good_pixels = model.read(split.test_good)
    good_scores, good_maps = model.score_pixels(good_pixels)
    scoring_seconds = time.perf_counter() - start
    n_read = len(good_pixels)
    row: dict[str, Any] = {"detector": name, "fit_seconds": fit_seconds}
    all_scores, all_labels = [good_scores], [np.zeros(len(good_scores))]
    pixel_scores, pixel_labels = [good_maps.ravel()], [np.zeros(good_maps.size, dtype=bool)]
    for cls, files in split.defects.items():
        start = time.perf_counter()
        pixels = model.read(files)
        scores, maps = model.score_pixels(pixels)
        scoring_seconds += time.perf_counter() - start
        n_read += len(pixels)
        masks = np.stack([read_mask(f.with_suffix(".png"), size) for f in files])
        labels = np.r_[np.zeros(len(good_scores)), np.ones(len(scores))]
        short = cls.removeprefix("MT_").lower()
        row[f"image_auroc_{short}"] = auroc(labels, np.r_[good_scores, scores])
        row[f"pixel_auroc_{short}"] = auroc(
            np.r_[np.zeros(good_maps.size, dtype=bool), masks.ravel()],
            np.r_[good_maps.ravel(), maps.ravel()],
        )
        all_scores.append(scores)
        all_labels.append(np.ones(len(scores)))
        pixel_scores.append(maps.ravel())
        pixel_labels.append(masks.ravel())
    row["image_auroc"] = auroc(np.concatenate(all_labels), np.concatenate(all_scores))
    row["pixel_auroc"] = auroc(np.concatenate(pixel_labels), np.concatenate(pixel_scores))
    row["ms_per_image_batch32"] = _speed(model, good_pixels)
    row["ms_per_image_end_to_end"] = scoring_seconds / n_read * 1000.0
    row["test_images"] = n_read
    echo(
        f"{name}: image AUROC {row['image_auroc']:.4f}, pixel AUROC {row['pixel_auroc']:.4f}, "
        f"fit {fit_seconds:.1f}s, {row['ms_per_image_batch32']:.1f} ms/image (batch 32)"
    )
    return row


def run_mtd(
    detectors: Sequence[str],
    peers: Sequence[str],
    *,
    data: str | Path | None = None,
    limit: int | None = None,
    params: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
    command: str = "",
    echo: Echo = print,
) -> tuple[ImageBenchResult, Path]:
    """Run the image detectors and peers on the magnetic-tile split; write the results."""
    from deepad.models import IMAGE_DETECTORS

    unknown = [d for d in detectors if d not in IMAGE_DETECTORS]
    if unknown:
        raise ValueError(
            f"unknown image detector(s) {unknown}; choose from {list(IMAGE_DETECTORS)}"
        )
    bad_peers = [p for p in peers if p not in PEERS]
    if bad_peers:
        raise ValueError(f"unknown peer(s) {bad_peers}; choose from {list(PEERS)}")
    split = load_magnetic_tile(data, limit)
    folder = Path(out_dir) if out_dir else Path("bench-results") / f"mtd-{date.today()}"
    echo(
        f"mtd: {len(split.train)} training tiles, {len(split.test_good)} good and "
        f"{sum(len(v) for v in split.defects.values())} defective test tiles; results in {folder}"
    )
    result = ImageBenchResult(
        config={
            "detectors": list(detectors),
            "peers": list(peers),
            "limit": limit,
            "params": params or {},
            "command": command,
        }
    )
    for name in detectors:
        cls = IMAGE_DETECTORS[name]
        accepted = {k: v for k, v in (params or {}).items() if k in cls().get_params()}
        result.rows.append(evaluate(name, _DetectorAdapter(cls(**accepted)), split, echo))
    for name in peers:
        result.rows.append(evaluate(name, PixelZScore(), split, echo))
    return result, write_results(folder, result)


def summary_markdown(result: ImageBenchResult) -> str:
    """Markdown: overall and per-class image / pixel AUROC, fit time, speed, environment."""
    lines = ["# deepad bench mtd: magnetic-tile defects", ""]
    if result.config.get("command"):
        lines += [f"Command: `{result.config['command']}`", ""]
    classes = [c.removeprefix("MT_").lower() for c in DEFECT_CLASSES]
    header = [
        "detector",
        "image AUROC",
        "pixel AUROC",
        "fit s",
        "ms/image (batch 32)",
        "ms/image end to end",
    ]
    rows = [
        [
            r["detector"],
            _num(r["image_auroc"], 4),
            _num(r["pixel_auroc"], 4),
            _num(r["fit_seconds"], 1),
            _num(r["ms_per_image_batch32"], 1),
            _num(r["ms_per_image_end_to_end"], 1),
        ]
        for r in result.rows
    ]
    lines += [*_table(header, rows), "", "Per defect class (image AUROC / pixel AUROC):", ""]
    lines += _table(
        ["detector", *classes],
        [
            [
                r["detector"],
                *(
                    f"{_num(r[f'image_auroc_{c}'], 4)} / {_num(r[f'pixel_auroc_{c}'], 4)}"
                    for c in classes
                ),
            ]
            for r in result.rows
        ],
    )
    env = environment()
    lines += [
        "",
        f"Run {env['date']} on {env['platform']} ({env['cpu_count']} CPUs), torch "
        f"{env['torch']}, deepad {env['deepad']} ({env.get('deepad_git')}). Every detector at "
        "its defaults"
        + (f" except {result.config['params']}" if result.config.get("params") else "")
        + "; pixel AUROC at each detector's working size.",
        "",
    ]
    return "\n".join(lines)


def write_results(folder: str | Path, result: ImageBenchResult) -> Path:
    """``results.json`` and ``summary.md`` in ``folder``; returns summary.md's path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"config": result.config, "environment": environment(), "rows": result.rows}
    (out / "results.json").write_text(json.dumps(payload, indent=1, default=float) + "\n")
    path = out / "summary.md"
    path.write_text(summary_markdown(result))
    return path
