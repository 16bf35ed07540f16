"""``export_onnx``: a fitted torch detector -> one self-contained ONNX file, checked.

The file turns raw rows into score, p-value and decision (see :mod:`.graph`). Before
anything is written, the exported model scores a sample of the given rows through ONNX
Runtime and is compared with the detector itself; a model that disagrees beyond the
stated tolerance is refused. Optional int8 weights and magnitude pruning report what
they did to size, speed and agreement (and AUROC when labels are given).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import compose

from deepad._version import __version__
from deepad.calibrate import Calibrator
from deepad.core.base import BaseDetector
from deepad.core.timing import median_seconds
from deepad.export.graph import encoding_graph, head_graph
from deepad.export.network import network_graph
from deepad.export.shrink import QUANTIZE_MODES, ShrinkError, prune_detector, quantize_network
from deepad.io.tables import as_table
from deepad.models.torch_base import TorchDetector
from deepad.preprocess.tabular import MissingValueWarning
from deepad.runtime.model import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    METADATA_KEY,
    MODEL_FILE,
    ExportedModel,
)

REPORT_FILE = "export.json"
#: fp32 parity: |onnx - torch| / max(|torch|, spread) at most this on every sample row
DEFAULT_TOLERANCE = 1e-4
#: int8: Spearman rank correlation of its scores with the detector's, at least this
DEFAULT_MIN_RANK_CORRELATION = 0.99


class ExportError(ValueError):
    """A detector that cannot be exported, or an export that failed its parity check."""


@dataclass
class ExportResult:
    """Where the model went and what the export measured (also in ``export.json``)."""

    path: Path
    report: dict[str, Any]


def export_onnx(
    detector: BaseDetector,
    out: str | Path,
    data: Any,
    *,
    quantize: str | None = None,
    prune: float | None = None,
    calibration: Any = None,
    labels: Any = None,
    tolerance: float = DEFAULT_TOLERANCE,
    min_rank_correlation: float = DEFAULT_MIN_RANK_CORRELATION,
    sample_rows: int = 1000,
    fine_tune_epochs: int = 10,
    lineage: dict[str, Any] | None = None,
) -> ExportResult:
    """Export ``detector`` to the folder ``out`` (``model.onnx`` and ``export.json``).

    ``data``: rows with the training columns (the training file is the natural choice);
    up to ``sample_rows`` of them check parity, and pruning fine-tunes on all of them.
    ``quantize="int8"`` stores int8 weights (``"int8-dynamic"``: ONNX Runtime's dynamic
    quantization, int8 activations too, per batch); ``prune=0.5`` zeroes half the weights and
    fine-tunes. Both change the scores, so ``calibration`` (normal rows the model never
    trained on) recomputes the calibration scores and the threshold with the smaller
    model; pruning requires it, int8 without it keeps the original calibration and
    reports how far the flag rate moved on the sample. ``labels`` (0/1 per row of
    ``data``) add AUROC before and after to the report. ``lineage`` (the bundle's) is
    kept in the model's metadata, e.g. the id columns ``deepad score`` copies.
    """
    _check_exportable(detector)
    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise ExportError(
            f"quantize must be None or one of {list(QUANTIZE_MODES)}, got {quantize!r}"
        )
    if calibration is not None and quantize is None and prune is None:
        raise ExportError(
            "calibration rows recalibrate a quantized or pruned model; a plain export keeps "
            "the bundle's calibration (to change it, call det.calibrate(X) and save the bundle)"
        )
    target = _check_target(Path(out))
    frame = as_table(data)
    if len(frame) == 0:
        raise ExportError("the export needs rows to check parity on; the data has none")
    y = None if labels is None else np.asarray(labels)
    if y is not None and len(y) != len(frame):
        raise ExportError(f"labels has {len(y)} entries for {len(frame)} rows of data")
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(frame), min(len(frame), sample_rows), replace=False))
    sample = frame.iloc[rows]
    with warnings.catch_warnings():  # gaps are the data's business, reported when scoring
        warnings.simplefilter("ignore", MissingValueWarning)
        report: dict[str, Any] = {"detector": type(detector).__name__, "sample_rows": len(rows)}
        reference = detector
        if prune is not None:
            if calibration is None:
                raise ExportError(
                    "pruning changes the scores, so the p-values and threshold must be "
                    "recomputed: pass calibration rows, normal rows the model never trained "
                    "on (CLI: --calibration FILE)"
                )
            try:
                reference, report["prune"] = prune_detector(
                    detector,
                    detector.preprocessor_.transform(frame),
                    float(prune),
                    labels=None if y is None else y.astype(np.int64),
                    fine_tune_epochs=fine_tune_epochs,
                )
            except ShrinkError as exc:
                raise ExportError(str(exc)) from None
            reference.calibrate(calibration)
        variant = "fp32" if prune is None else f"fp32, {prune:.0%} of weights pruned"
        network = network_graph(reference, len(reference.preprocessor_.feature_names_out))
        model = assemble(reference, network, reference.calibrator_, variant, lineage)
        exported = _session(model)
        parity = check_parity(exported, reference, sample, tolerance)
        report["parity"] = parity
        if not parity["passed"]:
            raise ExportError(
                f"refused: the ONNX model's scores differ from the detector's by up to "
                f"{parity['max_relative_difference']:.3g} (tolerance {tolerance:g}) and "
                f"{parity['unexplained_decision_flips']} decision(s) flip on "
                f"{len(rows)} sample rows; nothing was written"
            )
        fp32_bytes = model.ByteSize()
        sizes = {"fp32_bytes": fp32_bytes, "fp32_network_bytes": network.ByteSize()}
        if quantize is not None:
            small = quantize_network(network, quantize)
            variant = variant.replace("fp32", quantize)
            calibrator = reference.calibrator_
            if calibration is not None:
                draft = _session(assemble(reference, small, calibrator, variant))
                calibrator = calibrator.recalibrated(draft.decision_function(calibration))
            model = assemble(reference, small, calibrator, variant, lineage)
            exported = _session(model)
            agreement = check_agreement(exported, reference, sample, min_rank_correlation)
            agreement["recalibrated"] = calibration is not None
            agreement["mode"] = quantize
            report["int8"] = agreement
            if not agreement["passed"]:
                raise ExportError(
                    f"refused: int8 scores rank the sample rows with Spearman correlation "
                    f"{agreement['rank_correlation']:.4f} to the detector's (at least "
                    f"{min_rank_correlation} required); export without --quantize"
                )
            sizes.update(int8_bytes=model.ByteSize(), int8_network_bytes=small.ByteSize())
            sizes["int8_to_fp32"] = sizes["int8_network_bytes"] / sizes["fp32_network_bytes"]
        report["size"] = sizes
        report["speed"] = _speed(exported, reference, sample)
        if y is not None:
            report["auroc"] = _auroc(exported, detector, reference, frame, y)
    report["variant"] = variant
    target.mkdir(parents=True, exist_ok=True)
    path = target / MODEL_FILE
    onnx.save(model, path)
    report["file_bytes"] = path.stat().st_size
    (target / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    return ExportResult(path, report)


# ------------------------------------------------------------------ pieces
def assemble(
    detector: TorchDetector,
    network: onnx.ModelProto,
    calibrator: Calibrator,
    variant: str,
    lineage: dict[str, Any] | None = None,
) -> onnx.ModelProto:
    """Encoding + network + head as one model, with the metadata the runtime reads."""
    ir = network.ir_version
    score_type = network.graph.output[0].type.tensor_type.elem_type
    encoding = encoding_graph(detector.preprocessor_, ir)
    head = head_graph(calibrator.calibration_scores, calibrator.threshold, score_type, ir)
    parts = [
        compose.add_prefix(part, prefix, rename_inputs=False, rename_outputs=False)
        for part, prefix in ((encoding, "encode/"), (network, "network/"), (head, "head/"))
    ]
    model = compose.merge_models(parts[0], parts[1], io_map=[("features", "features")])
    model = compose.merge_models(model, parts[2], io_map=[("raw_score", "raw_score")])
    model.graph.name = f"deepad_{type(detector).__name__}"
    model.producer_name, model.producer_version = "deepad", __version__
    metadata = _metadata(detector, calibrator, variant, lineage)
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps(metadata))
    return model


def check_parity(
    exported: ExportedModel, detector: BaseDetector, sample: Any, tolerance: float
) -> dict[str, Any]:
    """Compare scores, p-values and decisions of the exported model and the detector.

    The relative difference is ``|onnx - torch| / max(|torch|, spread)``, where spread is
    the interquartile range of the detector's scores on the sample, so scores near zero
    are judged on the scale of the scores. A decision may differ only on a row whose
    score is within the tolerance of the threshold (a tie broken by rounding).
    """
    ours = exported.score(sample)
    expected = detector.decision_function(sample)
    relative = relative_difference(ours["score"], expected)
    decisions = detector.calibrator_.decide(expected)
    flips = ours["decision"] != decisions
    threshold = detector.threshold_
    scale = max(abs(threshold), _spread(expected)) if math.isfinite(threshold) else 0.0
    near = np.abs(expected - threshold) <= tolerance * scale
    unexplained = int((flips & ~near).sum())
    result = {
        "tolerance": tolerance,
        "max_relative_difference": float(relative.max()),
        "max_absolute_difference": float(np.abs(ours["score"] - expected).max()),
        "decision_flips": int(flips.sum()),
        "unexplained_decision_flips": unexplained,
        "passed": bool(relative.max() <= tolerance and unexplained == 0),
    }
    if detector.calibrator_.n_calibration:
        result["max_p_value_difference"] = float(
            np.abs(ours["p_value"] - detector.calibrator_.p_values(expected)).max()
        )
    return result


def check_agreement(
    exported: ExportedModel, detector: BaseDetector, sample: Any, min_rank_correlation: float
) -> dict[str, Any]:
    """How closely a quantized model follows the detector: rank correlation of the
    scores, share of equal decisions, and the flag rate of each on the sample."""
    from scipy.stats import spearmanr

    ours = exported.score(sample)
    expected = detector.decision_function(sample)
    decisions = detector.calibrator_.decide(expected)
    correlation = float(spearmanr(ours["score"], expected).statistic) if len(expected) > 2 else 1.0
    return {
        "min_rank_correlation": min_rank_correlation,
        "rank_correlation": correlation,
        "max_relative_difference": float(relative_difference(ours["score"], expected).max()),
        "decision_agreement": float(np.mean(ours["decision"] == decisions)),
        "flag_rate": float(np.mean(ours["decision"])),
        "detector_flag_rate": float(np.mean(decisions)),
        "passed": bool(correlation >= min_rank_correlation),
    }


# ----------------------------------------------------------------- helpers
def _check_exportable(detector: BaseDetector) -> None:
    if not isinstance(detector, BaseDetector):
        raise ExportError(f"expected a deepad detector, got {type(detector).__name__}")
    detector._check_fitted()
    if not isinstance(detector, TorchDetector):
        from deepad.models import DETECTORS

        torch_ones = sorted(n for n, c in DETECTORS.items() if issubclass(c, TorchDetector))
        raise ExportError(
            f"{type(detector).__name__} is not a torch detector; ONNX export covers "
            f"{', '.join(torch_ones)}"
        )
    if detector.modality != "table":
        raise ExportError(f"export covers tabular detectors; this one reads {detector.modality}")


def _check_target(target: Path) -> Path:
    """Refuse to write into anything but an empty folder or an earlier export."""
    if target.is_file():
        raise ExportError(f"{target} is a file; give a folder for the exported model")
    if target.is_dir() and any(target.iterdir()):
        known = {MODEL_FILE, REPORT_FILE}
        if not (target / MODEL_FILE).exists() or {p.name for p in target.iterdir()} - known:
            raise ExportError(
                f"{target} is not empty and not an earlier export; choose a new folder"
            )
    return target


def _session(model: onnx.ModelProto) -> ExportedModel:
    """An ``ExportedModel`` over an in-memory model, for the checks before writing."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, MODEL_FILE)
        onnx.save(model, path)
        return ExportedModel(path)


def _metadata(
    detector: TorchDetector, calibrator: Calibrator, variant: str, lineage: dict[str, Any] | None
) -> dict[str, Any]:
    threshold = calibrator.threshold
    metadata = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "deepad_version": __version__,
        "detector": type(detector).__name__,
        "params": {k: _plain(v) for k, v in detector.get_params().items()},
        "variant": variant,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training": {
            "fingerprint": detector.training_fingerprint_,
            "rows": int(detector.training_rows_),
        },
        "preprocessing": detector.preprocessor_.to_dict(),
        "threshold": {
            "rule": calibrator.rule,
            "level": calibrator.level,
            "value": threshold if math.isfinite(threshold) else str(threshold),
            "confidence": calibrator.confidence,
            "calibration_rows": calibrator.n_calibration,
            "description": calibrator.describe(),
        },
    }
    if lineage:
        metadata["lineage"] = lineage
    return metadata


def _plain(value: Any) -> Any:
    return (
        value if value is None or isinstance(value, (bool, int, float, str, list)) else str(value)
    )


def _spread(scores: np.ndarray) -> float:
    """Interquartile range of the scores (1 when they are all equal)."""
    low, high = np.percentile(scores, [25, 75])
    return float(high - low) or 1.0


def relative_difference(ours: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``|ours - expected| / max(|expected|, IQR of expected)`` per row: the parity measure."""
    return np.abs(ours - expected) / np.maximum(np.abs(expected), _spread(expected))


def _speed(exported: ExportedModel, detector: BaseDetector, sample: Any) -> dict[str, float]:
    """Rows per second of both on the sample (median of 3 runs, this process's threads)."""
    onnx_s = median_seconds(lambda: exported.score(sample))
    torch_s = median_seconds(lambda: detector.predict(sample))
    n = len(sample)
    return {
        "onnx_rows_per_second": n / onnx_s,
        "detector_rows_per_second": n / torch_s,
        "speedup": torch_s / onnx_s,
    }


def _auroc(
    exported: ExportedModel,
    original: BaseDetector,
    reference: BaseDetector,
    frame: Any,
    labels: np.ndarray,
) -> dict[str, float]:
    """AUROC on the labelled data of the bundle's detector and of the exported model."""
    from deepad.metrics import auroc

    result = {
        "detector": float(auroc(labels, original.decision_function(frame))),
        "exported": float(auroc(labels, exported.decision_function(frame))),
    }
    if reference is not original:
        result["pruned_detector"] = float(auroc(labels, reference.decision_function(frame)))
    return result
