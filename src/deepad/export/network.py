"""A torch detector's score as an ONNX graph, through torch's own exporter (dynamo)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import onnx
import torch

from deepad.export.graph import FEATURES, OPSET
from deepad.models.torch_base import TorchDetector

#: loggers of torch's exporter that report optional operator sets (torchvision) it skips
_QUIET_LOGGERS = ("torch.onnx", "torch.onnx._internal.exporter._registration")


@contextlib.contextmanager
def quiet_loggers(*names: str):
    """Raise the named loggers (``""``: the root logger) to ERROR for the block."""
    loggers = [logging.getLogger(name or None) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's progress lines and notices; real errors still raise."""
    with (
        quiet_loggers(*_QUIET_LOGGERS),
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


def network_graph(detector: TorchDetector, n_features: int) -> onnx.ModelProto:
    """``features`` (float32, rows x n_features) -> ``raw_score`` (one per row).

    The batch size stays dynamic, so the same graph scores one row or a million.
    """
    module = detector._scoring_module()
    example = torch.zeros(2, n_features, dtype=torch.float32)
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            module,
            (example,),
            input_names=[FEATURES],
            output_names=["raw_score"],
            dynamic_shapes=({0: torch.export.Dim("rows")},),
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    return _stripped(program.model_proto)


def _stripped(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model without the exporter's debugging notes (source stack traces per node,
    intermediate shapes): about half the file for a small MLP, none of the computation."""
    del model.graph.value_info[:]
    del model.metadata_props[:]
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    return model
