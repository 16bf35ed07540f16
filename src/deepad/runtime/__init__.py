"""Score with an exported model using ONNX Runtime only: no torch, no deepad models.

    from deepad.runtime import load_exported
    model = load_exported("model-onnx")        # the folder `deepad export` wrote
    out = model.score(frame)                   # {"score", "p_value", "decision"} arrays
    model.score_record({"amount": 12.5, "country": "FR"})   # one row, fast path

Importing this package loads numpy, pandas and onnxruntime, never torch.
"""

from deepad.runtime.model import EXPORT_FORMAT, ExportedModel, RuntimeModelError, load_exported

__all__ = ["EXPORT_FORMAT", "ExportedModel", "RuntimeModelError", "load_exported"]
