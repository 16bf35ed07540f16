"""Make an exported network smaller: int8 weights (ONNX Runtime) and magnitude pruning
with fine-tuning (torch's pruning utilities)."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from torch import nn
from torch.nn.utils import prune

from deepad.export.network import quiet_loggers
from deepad.models.torch_base import TorchDetector

#: layers whose weights pruning thins out
PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


class ShrinkError(ValueError):
    """A detector or setting that quantization or pruning cannot handle."""


#: how ``quantize`` may shrink a network
QUANTIZE_MODES = ("int8", "int8-dynamic")


def quantize_network(network: onnx.ModelProto, mode: str) -> onnx.ModelProto:
    """``int8``: weight-only (:func:`quantize_weights_int8`); ``int8-dynamic``: ONNX
    Runtime's dynamic quantization (:func:`quantize_dynamic_int8`)."""
    if mode == "int8":
        return quantize_weights_int8(network)
    if mode == "int8-dynamic":
        return quantize_dynamic_int8(network)
    raise ShrinkError(f"quantize must be one of {list(QUANTIZE_MODES)}, got {mode!r}")


def quantize_weights_int8(network: onnx.ModelProto) -> onnx.ModelProto:
    """The network with its Gemm / MatMul weights stored as int8, one symmetric scale per
    output channel, and a ``DequantizeLinear`` in front of each: the file holds a quarter
    of the weight bytes, arithmetic stays float32, and a row scores the same alone or in
    any batch (dynamic quantization scales activations per batch, so a row's score then
    depends on its neighbours; see docs/benchmarks.md). ONNX Runtime's quantizers cover
    Gemm only together with activation quantization, hence this small pass.
    """
    model = onnx.ModelProto()
    model.CopyFrom(network)
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    replaced: dict[str, onnx.NodeProto] = {}
    for node in graph.node:
        if node.op_type not in ("Gemm", "MatMul") or node.input[1] not in weights:
            continue
        name = node.input[1]
        array = numpy_helper.to_array(weights[name])
        if name in replaced or array.dtype != np.float32 or array.ndim != 2:
            continue
        trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
        axis = 0 if node.op_type == "Gemm" and trans_b else 1  # the output-channel axis
        peak = np.abs(array).max(axis=1 - axis)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        shape = (-1, 1) if axis == 0 else (1, -1)
        quantized = np.clip(np.round(array / scale.reshape(shape)), -127, 127).astype(np.int8)
        graph.initializer.remove(weights[name])
        graph.initializer.extend(
            [
                numpy_helper.from_array(quantized, f"{name}_int8"),
                numpy_helper.from_array(scale, f"{name}_scale"),
            ]
        )
        replaced[name] = helper.make_node(
            "DequantizeLinear", [f"{name}_int8", f"{name}_scale"], [name], axis=axis
        )
    for position, node in enumerate(replaced.values()):
        graph.node.insert(position, node)
    return model


def quantize_dynamic_int8(network: onnx.ModelProto) -> onnx.ModelProto:
    """The network with int8 weights (ONNX Runtime's dynamic quantization: weights are
    stored as int8 with a scale per tensor, activations quantized on the fly per batch)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the quantizer advises shape pre-processing on the root logger
    with quiet_loggers(""), tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder, "fp32.onnx"), Path(folder, "int8.onnx")
        onnx.save(network, source)
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)
        return onnx.load(target)


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
