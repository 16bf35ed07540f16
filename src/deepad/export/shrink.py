"""Make an exported network smaller: int8 weights (ONNX Runtime) and magnitude pruning
with fine-tuning (torch's pruning utilities)."""

from __future__ import annotations

import copy
import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from torch import nn
from torch.nn.utils import prune

from deepad.models.torch_base import TorchDetector

#: layers whose weights pruning thins out
PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


class ShrinkError(ValueError):
    """A detector or setting that quantization or pruning cannot handle."""


def quantize_int8(network: onnx.ModelProto) -> onnx.ModelProto:
    """The network with int8 weights (ONNX Runtime's dynamic quantization: weights are
    stored as int8 with a scale per tensor, activations quantized on the fly per batch)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()  # the quantizer advises shape pre-processing on the root logger
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as folder:
            source, target = Path(folder, "fp32.onnx"), Path(folder, "int8.onnx")
            onnx.save(network, source)
            quantize_dynamic(source, target, weight_type=QuantType.QInt8)
            return onnx.load(target)
    finally:
        root.setLevel(level)


def prune_detector(
    detector: TorchDetector,
    features: np.ndarray,
    amount: float,
    *,
    labels: np.ndarray | None = None,
    fine_tune_epochs: int = 10,
) -> tuple[TorchDetector, dict[str, float]]:
    """A copy of ``detector`` with the ``amount`` share of its smallest weights set to
    zero (one global L1 ranking over all layers), then fine-tuned for a few epochs on
    ``features`` with the zeros held, so the remaining weights make up for the lost ones.

    Returns the pruned copy and what was done: weights zeroed, share, epochs.
    """
    if not 0.0 < amount < 1.0:
        raise ShrinkError(f"the pruning amount must be in (0, 1), got {amount!r}")
    if not type(detector).fine_tunable:
        raise ShrinkError(
            f"{type(detector).__name__} is not trained by the shared loop, so it cannot be "
            "fine-tuned after pruning; export it without pruning"
        )
    if type(detector).requires_labels and labels is None:
        raise ShrinkError(
            f"{type(detector).__name__} learns from labels: pass the labels of the rows "
            "(CLI: --label-column) to fine-tune it after pruning"
        )
    pruned = copy.deepcopy(detector)
    layers = [(m, "weight") for m in pruned.module_.modules() if isinstance(m, PRUNABLE)]
    if not layers:
        raise ShrinkError(f"{type(detector).__name__} has no layers that pruning can thin out")
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=amount)
    pruned._fine_tune_features(features, labels, fine_tune_epochs)
    for module, name in layers:
        prune.remove(module, name)  # the zeros become part of the plain weights
    total = sum(m.weight.numel() for m, _ in layers)
    zeros = sum(int((m.weight == 0).sum()) for m, _ in layers)
    return pruned, {
        "amount": float(amount),
        "weights": int(total),
        "zeroed": int(zeros),
        "fine_tune_epochs": int(fine_tune_epochs),
    }
