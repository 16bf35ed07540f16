"""The image side of ``deepad fit`` / ``score`` / ``explain``: folders in, one row per image out.

``deepad fit FOLDER --modality image [--model PatchCore] [--pattern '*.jpg'] --out B``
fits on the good images of a folder; ``deepad score B FOLDER --out scores.csv [--maps
DIR]`` writes image, score, p_value, label and the hottest spot per image and, with
``--maps``, one PNG heat-map overlay per image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd


def fit_images(args: argparse.Namespace, cls: type, params: dict[str, Any]) -> None:
    """``deepad fit`` for an image detector."""
    from deepad.cli import (
        UsageError,
        _read_calibration_size,
        apply_threshold_options,
        refuse_options,
    )

    refuse_options(
        args,
        {"--label-column": "label_column", "--time-column": "time_column", "--exclude": "exclude"},
        "is for tables and series; image detectors read folders",
    )
    if not Path(args.data).is_dir():
        raise UsageError(f"image detectors fit on a folder of good images; {args.data} is not one")
    detector = cls(**params)
    start = time.perf_counter()
    detector.fit(
        args.data,
        pattern=args.pattern,
        calibration_size=_read_calibration_size(args.calibration_size),
    )
    seconds = time.perf_counter() - start
    apply_threshold_options(detector, args)
    bundle = detector.save(
        args.out,
        source=str(Path(args.data).resolve()),
        pattern=args.pattern,
        fit_seconds=round(seconds, 3),
    )
    calibrator = detector.calibrator_
    print(
        f"fitted {cls.__name__} on {detector.training_rows_} images "
        f"({detector.image_size_}x{detector.image_size_}, {detector.channels_} channel(s)) "
        f"in {seconds:.1f}s; p-values from {calibrator.n_calibration} images held out of training"
    )
    print(f"threshold {detector.threshold_:.6g}: {calibrator.describe()}")
    print(f"bundle written to {bundle}")


def score_images(args: argparse.Namespace, detector: Any, top: int = 1) -> None:
    """``deepad score`` / ``deepad explain`` with an image bundle."""
    from deepad.cli import _decisions, _write_table
    from deepad.io.images import image_paths

    explanation = detector.explain(args.data, top=top)  # no such file: FileNotFoundError
    table = explanation.top()
    # `deepad explain` has no --fpr / --fdr: the bundle's rule
    fpr, fdr = getattr(args, "fpr", None), getattr(args, "fdr", None)
    decisions = _decisions(detector.calibrator_, explanation.scores, fpr, fdr)
    result = pd.concat(
        [table[["image"]], decisions, table.drop(columns=["image", "score", "flagged"])], axis=1
    )
    out = Path(args.out)
    _write_table(result, out)
    note = ""
    folder, pattern = Path(args.data), detector.pattern_
    if folder.is_dir() and pattern:
        skipped = len(image_paths(folder)) - len(result)
        if skipped:
            note += f"; {skipped} other image file(s) skipped (bundle pattern {pattern!r})"
    if getattr(args, "maps", None):
        written = explanation.save_overlays(args.maps)
        note += f"; {len(written)} heat-map overlays in {args.maps}"
    print(
        f"scored {len(result)} images, flagged {int(result['label'].sum())} "
        f"({detector.calibrator_.describe()}); wrote {out}{note}"
    )
