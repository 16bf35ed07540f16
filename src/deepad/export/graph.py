"""The ONNX graphs around a detector's network: encoding of raw columns, and the head
that turns scores into p-values and decisions.

The exported model takes the raw columns (``numeric``: float64, NaN for a gap;
``categorical``: strings, ``__missing__`` for a gap) and gives ``score`` (float64),
``p_value`` (float64) and ``decision`` (int64), so it needs no Python around it.
The encoding is the same float64 arithmetic as ``TabularPreprocessor.transform``, so the
network sees bit-identical inputs; the head is the conformal p-value of
``deepad.calibrate.conformal`` and the calibrator's threshold.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from deepad.preprocess.tabular import TabularPreprocessor

#: the opsets every part of an exported model uses, so the parts can be merged
OPSET = 18
ML_OPSET = 3
NUMERIC, CATEGORICAL, FEATURES = "numeric", "categorical", "features"
SCORE, P_VALUE, DECISION = "score", "p_value", "decision"


def _constant(name: str, array: np.ndarray) -> onnx.NodeProto:
    return helper.make_node(
        "Constant", [], [name], name=name, value=numpy_helper.from_array(array, name)
    )


def _model(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    name: str,
    ir_version: int,
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
    )
    model.ir_version = ir_version
    return model


def encoding_graph(preprocessor: TabularPreprocessor, ir_version: int) -> onnx.ModelProto:
    """Raw ``numeric`` / ``categorical`` inputs -> the float32 ``features`` the network reads.

    Numeric: gaps (NaN, +-inf) take the training median, then ``(x - mean) / scale`` in
    float64, plus a 0/1 gap indicator for columns that had gaps in training. Categorical:
    one slot per kept category, and the ``__other__`` slot for the rest when training had
    more categories than were kept. The blocks are then put in the preprocessor's order.
    """
    specs = preprocessor.columns_
    numeric = [spec for spec in specs if spec.kind == "numeric"]
    categorical = [spec for spec in specs if spec.kind == "categorical"]
    nodes: list[onnx.NodeProto] = []
    blocks: list[str] = []
    # position of each output feature inside the concatenated blocks
    where: dict[str, int] = {}
    width = 0
    inputs = []
    if numeric:
        inputs.append(
            helper.make_tensor_value_info(NUMERIC, TensorProto.DOUBLE, ["rows", len(numeric)])
        )
        medians = np.array([[s.median for s in numeric]], dtype=np.float64)
        means = np.array([[s.mean for s in numeric]], dtype=np.float64)
        scales = np.array([[s.scale for s in numeric]], dtype=np.float64)
        nodes += [
            _constant("medians", medians),
            _constant("means", means),
            _constant("scales", scales),
            helper.make_node("IsNaN", [NUMERIC], ["is_nan"]),
            helper.make_node("IsInf", [NUMERIC], ["is_inf"]),
            helper.make_node("Or", ["is_nan", "is_inf"], ["gap"]),
            helper.make_node("Where", ["gap", "medians", NUMERIC], ["imputed"]),
            helper.make_node("Sub", ["imputed", "means"], ["centred"]),
            helper.make_node("Div", ["centred", "scales"], ["standard"]),
        ]
        blocks.append("standard")
        for j, spec in enumerate(numeric):
            where[spec.name] = width + j
        width += len(numeric)
        flagged = [j for j, spec in enumerate(numeric) if spec.missing_indicator]
        if flagged:
            nodes += [
                _constant("flagged", np.array(flagged, dtype=np.int64)),
                helper.make_node("Cast", ["gap"], ["gap_double"], to=TensorProto.DOUBLE),
                helper.make_node("Gather", ["gap_double", "flagged"], ["indicators"], axis=1),
            ]
            blocks.append("indicators")
            for offset, j in enumerate(flagged):
                where[f"{numeric[j].name}__missing"] = width + offset
            width += len(flagged)
    if categorical:
        inputs.append(
            helper.make_tensor_value_info(
                CATEGORICAL, TensorProto.STRING, ["rows", len(categorical)]
            )
        )
        for j, spec in enumerate(categorical):
            slots = len(spec.categories)
            prefix = f"cat{j}"
            nodes += [
                _constant(f"{prefix}_column", np.array([j], dtype=np.int64)),
                helper.make_node(
                    "Gather", [CATEGORICAL, f"{prefix}_column"], [f"{prefix}_labels"], axis=1
                ),
                helper.make_node(
                    "LabelEncoder",
                    [f"{prefix}_labels"],
                    [f"{prefix}_index"],
                    domain="ai.onnx.ml",
                    keys_strings=list(spec.categories) or ["\x00"],
                    values_int64s=list(range(slots)) or [-1],
                    default_int64=-1,
                ),
                _constant(f"{prefix}_slots", np.arange(slots, dtype=np.int64)[None, :]),
                helper.make_node(
                    "Equal", [f"{prefix}_index", f"{prefix}_slots"], [f"{prefix}_hit"]
                ),
                helper.make_node(
                    "Cast", [f"{prefix}_hit"], [f"{prefix}_onehot"], to=TensorProto.DOUBLE
                ),
            ]
            blocks.append(f"{prefix}_onehot")
            for k, label in enumerate(spec.categories):
                where[f"{spec.name}={label}"] = width + k
            width += slots
            if spec.has_other:
                nodes += [
                    _constant(f"{prefix}_unknown", np.array([[-1]], dtype=np.int64)),
                    helper.make_node(
                        "Equal", [f"{prefix}_index", f"{prefix}_unknown"], [f"{prefix}_is_other"]
                    ),
                    helper.make_node(
                        "Cast", [f"{prefix}_is_other"], [f"{prefix}_other"], to=TensorProto.DOUBLE
                    ),
                ]
                blocks.append(f"{prefix}_other")
                where[f"{spec.name}=__other__"] = width
                width += 1
    order = np.array([where[name] for name in preprocessor.feature_names_out], dtype=np.int64)
    nodes.append(helper.make_node("Concat", blocks, ["blocks"], axis=1))
    nodes += [
        _constant("feature_order", order),
        helper.make_node("Gather", ["blocks", "feature_order"], ["ordered"], axis=1),
        helper.make_node("Cast", ["ordered"], [FEATURES], to=TensorProto.FLOAT),
    ]
    outputs = [helper.make_tensor_value_info(FEATURES, TensorProto.FLOAT, ["rows", len(order)])]
    return _model(nodes, inputs, outputs, "deepad_encoding", ir_version)


def calibration_dtype(calibration_scores: np.ndarray) -> np.ndarray:
    """The calibration scores as float32 when that loses nothing (scores of float32
    networks), else float64: half the bytes in the exported file, same p-values."""
    scores = np.asarray(calibration_scores, dtype=np.float64)
    narrow = scores.astype(np.float32)
    return narrow if np.array_equal(narrow.astype(np.float64), scores) else scores


def head_graph(
    calibration_scores: np.ndarray,
    threshold: float,
    score_type: int,
    ir_version: int,
) -> onnx.ModelProto:
    """``raw_score`` -> ``score`` (float64), ``p_value`` and ``decision``.

    ``p_value = (1 + #{calibration >= score}) / (m + 1)``, NaN when there are no
    calibration scores; ``decision = score > threshold``.
    """
    calibration = np.sort(calibration_dtype(calibration_scores))
    m = calibration.size
    nodes = [helper.make_node("Cast", ["raw_score"], [SCORE], to=TensorProto.DOUBLE)]
    if m:
        nodes += _p_value_nodes(calibration)
    else:
        nodes += [
            _constant("nan", np.array(math.nan)),
            helper.make_node("Mul", [SCORE, "nan"], [P_VALUE]),  # NaN in the score's shape
        ]
    bound = np.array(threshold if math.isfinite(threshold) else np.copysign(np.inf, threshold))
    nodes += [
        _constant("threshold", bound.astype(np.float64)),
        helper.make_node("Greater", [SCORE, "threshold"], ["flagged"]),
        helper.make_node("Cast", ["flagged"], [DECISION], to=TensorProto.INT64),
    ]
    inputs = [helper.make_tensor_value_info("raw_score", score_type, ["rows"])]
    outputs = [
        helper.make_tensor_value_info(SCORE, TensorProto.DOUBLE, ["rows"]),
        helper.make_tensor_value_info(P_VALUE, TensorProto.DOUBLE, ["rows"]),
        helper.make_tensor_value_info(DECISION, TensorProto.INT64, ["rows"]),
    ]
    return _model(nodes, inputs, outputs, "deepad_head", ir_version)


def _p_value_nodes(calibration: np.ndarray) -> list[onnx.NodeProto]:
    """``P_VALUE`` from ``raw_score`` by a two-level search of the sorted calibration scores.

    ONNX has no binary search, and comparing every row with all m scores costs m
    comparisons a row (2,000 at the default). The scores are cut into blocks of
    b = ceil(sqrt(m)); comparing with each block's first score finds the block where the
    row's score falls, and comparing within that block finishes the count: about 2 sqrt(m)
    comparisons (90 at m = 2,000), exactly the same count.
    """
    m = calibration.size
    block = math.ceil(math.sqrt(m))
    n_blocks = math.ceil(m / block)
    padded = np.full(n_blocks * block, np.inf, dtype=calibration.dtype)
    padded[:m] = calibration  # +inf padding is never below a score
    blocks = padded.reshape(n_blocks, block)
    compare_type = TensorProto.FLOAT if calibration.dtype == np.float32 else TensorProto.DOUBLE
    return [
        _constant("blocks", blocks),
        _constant("block_firsts", blocks[:, 0][None, :]),
        _constant("block_size", np.array(block, dtype=np.int64)),
        _constant("zero", np.array(0, dtype=np.int64)),
        _constant("one_int", np.array(1, dtype=np.int64)),
        _constant("one_column", np.array([1], dtype=np.int64)),
        helper.make_node("Cast", ["raw_score"], ["compared"], to=compare_type),
        helper.make_node("Unsqueeze", ["compared", "one_column"], ["score_column"]),
        # blocks whose first score is below the row's: the row's score falls in the last one
        helper.make_node("Less", ["block_firsts", "score_column"], ["first_below"]),
        helper.make_node("Cast", ["first_below"], ["first_below_count"], to=TensorProto.INT64),
        helper.make_node(
            "ReduceSum", ["first_below_count", "one_column"], ["blocks_started"], keepdims=0
        ),
        helper.make_node("Sub", ["blocks_started", "one_int"], ["last_started"]),
        helper.make_node("Max", ["last_started", "zero"], ["which_block"]),
        helper.make_node("Gather", ["blocks", "which_block"], ["row_block"], axis=0),
        helper.make_node("Less", ["row_block", "score_column"], ["in_block_below"]),
        helper.make_node("Cast", ["in_block_below"], ["in_block_count"], to=TensorProto.INT64),
        helper.make_node("ReduceSum", ["in_block_count", "one_column"], ["in_block"], keepdims=0),
        helper.make_node("Mul", ["which_block", "block_size"], ["before_block"]),
        helper.make_node("Add", ["before_block", "in_block"], ["below"]),  # #{c < score}
        helper.make_node("Cast", ["below"], ["below_double"], to=TensorProto.DOUBLE),
        _constant("m_plus_one", np.array(m + 1.0)),
        helper.make_node("Sub", ["m_plus_one", "below_double"], ["numerator"]),  # 1 + #{c >= s}
        helper.make_node("Div", ["numerator", "m_plus_one"], ["p_or_one"]),
        helper.make_node("IsNaN", [SCORE], ["score_is_nan"]),
        _constant("nan", np.array(math.nan)),
        helper.make_node("Where", ["score_is_nan", "nan", "p_or_one"], [P_VALUE]),
    ]
