"""Export torch detectors to ONNX with proven parity; int8 weights and pruning.

    from deepad.export import export_onnx
    result = export_onnx(det, "model-onnx", X_train)             # refused if parity fails
    result = export_onnx(det, "model-int8", X_train, quantize="int8", calibration=X_clean)

Score the result with ``deepad.runtime`` (ONNX Runtime only, no torch).
"""

try:
    import onnx  # noqa: F401
    import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
except ImportError as exc:  # an optional extra: say what to install
    raise ImportError(
        f"ONNX export needs the onnx extra ({exc.name} is missing): pip install 'deepad[onnx]'"
    ) from exc

from deepad.export.exporter import (
    DEFAULT_MIN_RANK_CORRELATION,
    DEFAULT_TOLERANCE,
    ExportError,
    ExportResult,
    export_onnx,
)

__all__ = [
    "DEFAULT_MIN_RANK_CORRELATION",
    "DEFAULT_TOLERANCE",
    "ExportError",
    "ExportResult",
    "export_onnx",
]
