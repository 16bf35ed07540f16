"""Write and read detector bundles.

A bundle is a directory with two files:

- ``manifest.json``: format version, deepad version, detector class and params, the
  input schema and preprocessing state, the threshold rule and level, model metadata, a
  fingerprint and row count of the training data, lineage, metrics, created-at, and the
  SHA-256 of
- ``weights.safetensors``: every array the detector learned, and the calibration scores.

Loading instantiates only classes from deepad's registry and never unpickles; a missing
file, a weights hash that does not match the manifest, or a format newer than this
library understands is refused with a ``BundleError``. So are files that are symbolic
links or otherwise resolve outside the bundle directory, a manifest over
``MAX_MANIFEST_BYTES`` or weights over ``max_weights_bytes()`` (4 GiB unless
``DEEPAD_MAX_BUNDLE_BYTES`` says otherwise), checked before either is read, and a
network whose stored weights do not match its architecture (checked before it is
built). Anything else wrong inside a tampered bundle is a ``BundleError`` too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from deepad._version import __version__
from deepad.calibrate import Calibrator
from deepad.core.base import BaseDetector
from deepad.models import DETECTORS
from deepad.preprocess.reference import DriftReference

FORMAT = "deepad-bundle"
#: 2 added the calibration state (rule, level, calibration scores); 1 is still read
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
#: a manifest is metadata; one this large is not a bundle deepad wrote
MAX_MANIFEST_BYTES = 64 * 2**20
#: the default cap on the weights file; ``DEEPAD_MAX_BUNDLE_BYTES`` overrides it
DEFAULT_MAX_WEIGHTS_BYTES = 4 * 2**30
#: what a tampered bundle can raise from inside the restore code
_MALFORMED = (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError)


class BundleError(ValueError):
    """A bundle that cannot be written or loaded safely."""


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jsonable(value: Any, what: str) -> Any:
    """Convert tuples and NumPy scalars to JSON types, or fail naming the offending field."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{what}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, what) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise BundleError(f"{what} = {value!r} cannot be stored in a bundle manifest (not JSON)")


def save_bundle(
    detector: BaseDetector, path: str | Path, *, lineage: dict[str, Any] | None = None
) -> Path:
    """Write ``detector`` to the directory ``path``; an older bundle there is replaced.

    Refuses to overwrite anything that is not a deepad bundle, so user data is never lost.
    """
    detector._check_fitted()
    target = Path(path)
    if target.exists() and (target.is_file() or any(target.iterdir())):
        try:
            read_manifest(target)
        except BundleError as exc:
            raise BundleError(
                f"{target} exists and is not a deepad bundle; refusing to overwrite it"
            ) from exc
    meta, model_arrays = detector._export_model()
    arrays = {f"model.{name}": np.ascontiguousarray(a) for name, a in model_arrays.items()}
    arrays["decision_scores_"] = np.ascontiguousarray(detector.decision_scores_)
    calibration, calibration_arrays = detector.calibrator_.state()
    for name, values in calibration_arrays.items():
        arrays[f"calibration.{name}"] = np.ascontiguousarray(values)
    reference = getattr(detector, "drift_reference_", None)
    reference_meta = None
    if reference is not None:
        reference_meta, reference_arrays = reference.state()
        for name, values in reference_arrays.items():
            arrays[f"reference.{name}"] = np.ascontiguousarray(values)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".deepad-", dir=target.parent))
    try:
        save_file(arrays, str(staging / WEIGHTS))
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "deepad_version": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "modality": detector.modality,
            "detector": {
                "class": type(detector).__name__,
                "params": _jsonable(detector.get_params(deep=False), "params"),
            },
            "input_schema": detector._schema_state(),
            "model_state": _jsonable(meta, "model_state"),
            "threshold": {**calibration, "contamination": detector.contamination},
            "training_data": {
                "rows": detector.training_rows_,
                "columns": [str(c) for c in detector.feature_names_in_],
                "fingerprint": detector.training_fingerprint_,
            },
            "lineage": _jsonable(lineage or {}, "lineage"),
            "metrics": _jsonable(getattr(detector, "metrics_", {}), "metrics"),
            **({} if reference_meta is None else {"drift_reference": reference_meta}),
            "weights": {"file": WEIGHTS, "sha256": sha256(staging / WEIGHTS)},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def _read_calibrator(threshold: dict[str, Any], arrays: dict[str, np.ndarray]) -> Calibrator:
    """The saved calibrator; format-1 bundles had only PyOD's contamination quantile."""
    if "rule" not in threshold:
        value = float(threshold["value"])
        return Calibrator(np.empty(0), "contamination", threshold["contamination"], value)
    calibration_arrays = {
        key.removeprefix("calibration."): value
        for key, value in arrays.items()
        if key.startswith("calibration.")
    }
    try:
        return Calibrator.from_state(threshold, calibration_arrays)
    except ValueError as exc:
        raise BundleError(f"the bundle's threshold state is invalid: {exc}") from exc


def max_weights_bytes() -> int:
    """The largest weights file ``load`` reads: ``DEEPAD_MAX_BUNDLE_BYTES`` or 4 GiB."""
    raw = os.environ.get("DEEPAD_MAX_BUNDLE_BYTES")
    if raw is None:
        return DEFAULT_MAX_WEIGHTS_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise BundleError(
            f"DEEPAD_MAX_BUNDLE_BYTES must be a positive number of bytes, got {raw!r}"
        )
    return value


def _bundle_file(bundle: Path, name: str, limit: int) -> Path:
    """``bundle/name`` when it is a regular file inside the bundle, at most ``limit``
    bytes; BundleError otherwise (missing files are reported by the callers)."""
    path = bundle / name
    if path.is_symlink() or path.resolve().parent != bundle.resolve():
        raise BundleError(f"{path} is a link or lies outside its bundle; refused")
    size = path.stat().st_size
    if size > limit:
        raise BundleError(
            f"{path} is {size:,} bytes, over the {limit:,}-byte limit for a bundle's {name}"
        )
    return path


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and check a bundle's manifest (format and version), without loading weights."""
    bundle = Path(path)
    if not bundle.exists():
        raise BundleError(f"no bundle at {bundle}")
    if not bundle.is_dir():
        raise BundleError(f"{bundle} is a file; a bundle is a directory with {MANIFEST}")
    manifest_path = bundle / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{bundle} is not a deepad bundle: {MANIFEST} is missing")
    manifest_path = _bundle_file(bundle, MANIFEST, MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError(f"{manifest_path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{manifest_path} is not a deepad bundle manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise BundleError(f"{manifest_path} has no valid format_version")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"bundle format {version} is newer than this deepad ({__version__}) understands "
            f"(up to {FORMAT_VERSION}); upgrade deepad to load it"
        )
    return manifest


def load(path: str | Path) -> BaseDetector:
    """Load a detector saved with ``save``; it scores exactly as the saved one did."""
    bundle = Path(path)
    manifest = read_manifest(bundle)
    weights_path = bundle / WEIGHTS
    if not weights_path.is_file():
        raise BundleError(f"bundle {bundle} is incomplete: {WEIGHTS} is missing")
    weights_path = _bundle_file(bundle, WEIGHTS, max_weights_bytes())
    try:
        recorded_hash = manifest["weights"]["sha256"]
        name = manifest["detector"]["class"]
        known = name in DETECTORS
    except (KeyError, TypeError) as exc:
        raise BundleError(f"bundle {bundle} is malformed: missing or invalid {exc}") from exc
    if sha256(weights_path) != recorded_hash:
        raise BundleError(
            f"{weights_path} does not match the SHA-256 recorded in its manifest; "
            "the bundle was modified or corrupted and is refused"
        )
    if not known:
        raise BundleError(f"bundle names unknown detector class {name!r}")
    try:
        detector = DETECTORS[name](**manifest["detector"]["params"])
        arrays = load_file(str(weights_path))
        detector._restore_schema(manifest["input_schema"])
        training = manifest["training_data"]
        detector.feature_names_in_ = np.asarray(training["columns"], dtype=object)
        detector.n_features_in_ = len(training["columns"])
        detector.training_rows_ = int(training["rows"])
        detector.training_fingerprint_ = training["fingerprint"]
        detector.decision_scores_ = arrays["decision_scores_"]
        detector.metrics_ = manifest.get("metrics", {})
        model_arrays = {
            key.removeprefix("model."): value
            for key, value in arrays.items()
            if key.startswith("model.")
        }
        detector._import_model(manifest["model_state"], model_arrays)
        detector.calibrator_ = _read_calibrator(manifest["threshold"], arrays)
        detector.threshold_ = detector.calibrator_.threshold
        if "drift_reference" in manifest:
            reference_arrays = {
                key.removeprefix("reference."): value
                for key, value in arrays.items()
                if key.startswith("reference.")
            }
            detector.drift_reference_ = DriftReference.from_state(
                manifest["drift_reference"], reference_arrays
            )
    except BundleError:
        raise
    except SafetensorError as exc:
        raise BundleError(f"{weights_path} is not a readable safetensors file: {exc}") from exc
    except _MALFORMED as exc:
        raise BundleError(f"bundle {bundle} is malformed: missing or invalid {exc}") from exc
    if getattr(detector, "modality", "table") == "table":
        _check_scores_a_typical_row(detector, bundle)
    return detector


def _check_scores_a_typical_row(detector: BaseDetector, bundle: Path) -> None:
    """Score one row of training medians (first categories): a schema and model that
    disagree (an edited manifest) fail here, at load, not at the first real request."""
    import pandas as pd

    row = {
        spec.name: spec.median if spec.kind == "numeric" else (spec.categories or ["?"])[0]
        for spec in detector.preprocessor_.columns_
    }
    try:
        score = detector.decision_function(pd.DataFrame([row]))
    except _MALFORMED as exc:
        raise BundleError(
            f"bundle {bundle} is inconsistent: its schema and model do not fit together "
            f"(scoring a typical row failed: {exc})"
        ) from exc
    if not np.isfinite(score).all():
        raise BundleError(f"bundle {bundle} is inconsistent: a typical row scores {score[0]}")
