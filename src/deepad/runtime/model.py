"""``ExportedModel``: an ONNX file written by ``deepad export``, scored with ONNX Runtime.

The graph does all the work (encoding of the raw columns, the network, the conformal
p-value and the threshold); this class only turns a table or a record into the graph's
two inputs, and applies Benjamini-Hochberg per batch for the ``fdr`` rule, which no
single-row graph can decide.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from deepad.calibrate.fdr import benjamini_hochberg
from deepad.calibrate.rules import check_rate
from deepad.preprocess.tabular import MISSING, TabularPreprocessor, warn_unseen_gaps

#: ``format`` of the metadata an exported model carries under the ``deepad`` key
EXPORT_FORMAT = "deepad-onnx"
EXPORT_FORMAT_VERSION = 1
METADATA_KEY = "deepad"
MODEL_FILE = "model.onnx"


class RuntimeModelError(ValueError):
    """A file that is not a usable deepad export, or input it cannot score."""


def load_exported(path: str | Path, *, threads: int | None = None) -> ExportedModel:
    """Open an exported model: the folder ``deepad export`` wrote, or its ``model.onnx``."""
    return ExportedModel(path, threads=threads)


def is_exported(path: str | Path) -> bool:
    """Whether ``path`` is an exported model (a folder holding ``model.onnx``, or the file)."""
    target = Path(path)
    return (target.is_dir() and (target / MODEL_FILE).is_file()) or (
        target.is_file() and target.suffix == ".onnx"
    )


class ExportedModel:
    """Scores, p-values and decisions from an exported model, with ONNX Runtime.

    ``threads`` caps ONNX Runtime's intra-op threads (default: its own choice); one
    thread gives the lowest single-row latency on a busy machine.
    """

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError(
                "scoring an exported model needs onnxruntime: pip install 'deepad[onnx]'"
            ) from None

        target = Path(path)
        file = target / MODEL_FILE if target.is_dir() else target
        if not file.is_file():
            raise RuntimeModelError(
                f"{path}: no exported model here (expected a folder with {MODEL_FILE} "
                "written by `deepad export`, or an .onnx file)"
            )
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(file), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ONNX Runtime raises its own exception types
            raise RuntimeModelError(f"{file}: ONNX Runtime cannot load it: {exc}") from None
        raw = self._session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            raise RuntimeModelError(f"{file}: an ONNX model, but not one `deepad export` wrote")
        self.metadata: dict[str, Any] = json.loads(raw)
        if self.metadata.get("format") != EXPORT_FORMAT:
            raise RuntimeModelError(
                f"{file}: unknown export format {self.metadata.get('format')!r}"
            )
        if int(self.metadata.get("format_version", 0)) > EXPORT_FORMAT_VERSION:
            raise RuntimeModelError(
                f"{file}: exported in format version {self.metadata['format_version']}, newer "
                f"than this deepad reads ({EXPORT_FORMAT_VERSION}); upgrade deepad"
            )
        self.path = file
        self.preprocessor = TabularPreprocessor.from_dict(self.metadata["preprocessing"])
        specs = self.preprocessor.columns_
        self._numeric = [s.name for s in specs if s.kind == "numeric"]
        self._categorical = [s.name for s in specs if s.kind == "categorical"]
        self._unflagged = {s.name for s in specs if s.kind == "numeric" and not s.missing_indicator}
        self.rule: str = self.metadata["threshold"]["rule"]
        self.level: float | None = self.metadata["threshold"]["level"]
        self.threshold: float = float(self.metadata["threshold"]["value"])

    # ----------------------------------------------------------- reading
    @property
    def detector(self) -> str:
        """Class name of the exported detector."""
        return str(self.metadata["detector"])

    @property
    def input_columns(self) -> list[str]:
        """The columns a row must have, in training order."""
        return self.preprocessor.input_columns

    def __repr__(self) -> str:
        return f"ExportedModel({self.detector}, {self.path}, {self.metadata.get('variant')})"

    # ----------------------------------------------------------- scoring
    def score(self, X: Any, *, fpr: float | None = None, fdr: float | None = None) -> dict:
        """``{"score", "p_value", "decision"}`` arrays, one entry per row of ``X``.

        ``X`` is a DataFrame (matched by column name) or an array (by position), as for
        the detector it came from. ``fpr`` / ``fdr`` decide this batch by that rule
        instead of the exported one.
        """
        numeric, categorical = self.preprocessor.split_inputs(X)
        return self._decide(self._run(numeric, categorical), fpr, fdr)

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score per row (float64, higher = more anomalous), as the bundle gives."""
        return self.score(X)["score"]

    def p_values(self, X: Any) -> np.ndarray:
        """Conformal p-value per row (NaN when the model had no calibration rows)."""
        return self.score(X)["p_value"]

    def predict(self, X: Any, *, fpr: float | None = None, fdr: float | None = None) -> np.ndarray:
        """1 for flagged rows, else 0, by the exported rule or by ``fpr`` / ``fdr``."""
        return self.score(X, fpr=fpr, fdr=fdr)["decision"]

    def score_record(self, record: Mapping[str, Any]) -> dict[str, float | int]:
        """One row given as ``{column: value}``: ``{"score", "p_value", "decision"}``.

        The fast path for a service: no DataFrame, one ONNX Runtime call. A missing
        value is None or NaN; extra keys (ids) are ignored.
        """
        try:
            numeric = [[_number(record[name], name) for name in self._numeric]]
            labels = [[_label(record[name]) for name in self._categorical]]
        except KeyError as exc:
            raise RuntimeModelError(
                f"the record has no {exc.args[0]!r}; expected keys: {self.input_columns}"
            ) from None
        warn_unseen_gaps(
            [
                name
                for name, value in zip(self._numeric, numeric[0], strict=True)
                if name in self._unflagged and not math.isfinite(value)
            ]
        )
        out = self._run(
            np.array(numeric, dtype=np.float64).reshape(1, -1),
            np.array(labels, dtype=object).reshape(1, -1),
        )
        decided = self._decide(out, None, None)
        return {
            "score": float(decided["score"][0]),
            "p_value": float(decided["p_value"][0]),
            "decision": int(decided["decision"][0]),
        }

    # ------------------------------------------------------------- inner
    def _run(self, numeric: np.ndarray, categorical: np.ndarray) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {}
        if self._numeric:
            feeds["numeric"] = numeric
        if self._categorical:
            feeds["categorical"] = categorical.astype(str)
        if len(numeric) == 0:
            empty = np.empty(0, dtype=np.float64)
            return {"score": empty, "p_value": empty, "decision": np.empty(0, dtype=np.int64)}
        score, p_value, decision = self._session.run(["score", "p_value", "decision"], feeds)
        return {"score": score, "p_value": p_value, "decision": decision}

    def _decide(self, out: dict, fpr: float | None, fdr: float | None) -> dict[str, np.ndarray]:
        if fpr is not None and fdr is not None:
            raise RuntimeModelError("give fpr or fdr, not both")
        if fpr is not None:
            self._require_p_values("fpr")
            out["decision"] = (out["p_value"] <= _rate(fpr, "fpr")).astype(np.int64)
        elif fdr is not None or self.rule == "fdr":
            q = _rate(fdr if fdr is not None else self.level, "fdr")
            self._require_p_values("fdr")
            out["decision"] = benjamini_hochberg(out["p_value"], q).astype(np.int64)
        return out

    def _require_p_values(self, rule: str) -> None:
        if not self.metadata["threshold"]["calibration_rows"]:
            raise RuntimeModelError(
                f"the {rule} rule needs p-values, and this model was exported without "
                "calibration rows"
            )


def _rate(value: Any, name: str) -> float:
    """The calibrator's own rate check, raising this module's error type."""
    try:
        return check_rate(value, name)
    except ValueError as exc:
        raise RuntimeModelError(str(exc)) from None


def _number(value: Any, column: str) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RuntimeModelError(
            f"column {column!r} is numeric but the record holds {value!r}"
        ) from None


def _label(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return str(value)
