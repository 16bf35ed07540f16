"""ONNX export and the torch-free runtime: parity for every torch detector, int8 on real
data, pruning, the refusal path, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import build_detector, build_mixed_frame, labels_for, load_cardio

import deepad
from deepad.calibrate.conformal import conformal_p_values
from deepad.cli import main
from deepad.export import ExportError, export_onnx
from deepad.metrics import auroc
from deepad.models.torch_base import TorchDetector
from deepad.preprocess.tabular import MissingValueWarning
from deepad.runtime import RuntimeModelError, load_exported

TORCH_DETECTORS = sorted(n for n, c in deepad.DETECTORS.items() if issubclass(c, TorchDetector))


def _fitted(name: str, frame: pd.DataFrame) -> TorchDetector:
    detector = build_detector(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return detector.fit(frame, labels_for(name, frame))


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows, and held-out rows with gaps, an unseen category and an outlier."""
    train = build_mixed_frame(400, seed=0)
    new = build_mixed_frame(120, seed=1)
    new.loc[3, "color"] = "purple"  # never seen in training: lights no slot
    new.loc[4, "num_a"] = 40.0
    new.loc[5, "num_nan"] = np.nan
    return train, new


@pytest.mark.parametrize("name", TORCH_DETECTORS)
def test_exported_model_matches_the_detector_on_held_out_rows(name, frames, tmp_path):
    train, new = frames
    detector = _fitted(name, train)
    result = export_onnx(detector, tmp_path / "onnx", train)
    assert result.report["parity"]["passed"]
    model = load_exported(tmp_path / "onnx")
    out = model.score(new)
    expected = detector.decision_function(new)
    relative = np.abs(out["score"] - expected) / np.maximum(np.abs(expected), 1e-3)
    assert relative.max() <= 1e-4
    np.testing.assert_array_equal(out["decision"], detector.predict(new))
    # the graph's p-value is exactly the conformal p-value of its own score
    calibration = detector.calibrator_.calibration_scores
    np.testing.assert_array_equal(out["p_value"], conformal_p_values(calibration, out["score"]))
    assert np.abs(out["p_value"] - detector.p_values(new)).max() <= 2 / (len(calibration) + 1)


def test_runtime_scores_without_importing_torch(frames, tmp_path):
    train, new = frames
    export_onnx(_fitted("AutoEncoder", train), tmp_path / "onnx", train)
    new.to_csv(tmp_path / "new.csv", index=False)
    code = (
        "import sys, pandas as pd\n"
        "from deepad.runtime import load_exported\n"
        f"m = load_exported({str(tmp_path / 'onnx')!r})\n"
        f"out = m.score(pd.read_csv({str(tmp_path / 'new.csv')!r}))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(len(out['score']))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(len(new))


def test_score_record_equals_batch_scoring(frames, tmp_path):
    train, new = frames
    export_onnx(_fitted("AutoEncoder", train), tmp_path / "onnx", train)
    model = load_exported(tmp_path / "onnx", threads=1)
    batch = model.score(new)
    for i in (0, 3, 4):
        record = {**new.iloc[i].to_dict(), "customer_id": "extra keys are ignored"}
        one = model.score_record(record)
        assert one["score"] == pytest.approx(batch["score"][i], rel=1e-6)
        assert one["decision"] == batch["decision"][i]
    with pytest.raises(RuntimeModelError, match="no 'num_a'"):
        model.score_record({"count": 3})
    with pytest.raises(RuntimeModelError, match="'num_a' is numeric"):
        model.score_record({**new.iloc[0].to_dict(), "num_a": "twelve"})
    with pytest.warns(MissingValueWarning, match="num_a"):
        model.score_record({**new.iloc[0].to_dict(), "num_a": None})


def test_rare_categories_share_the_other_slot(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=600), "city": [f"c{i}" for i in rng.integers(0, 70, 600)]}
    )
    detector = _fitted("AutoEncoder", frame)
    assert any(spec.has_other for spec in detector.preprocessor_.columns_)
    export_onnx(detector, tmp_path / "onnx", frame)
    new = frame.iloc[:50].copy()
    new.loc[:10, "city"] = "never-seen"
    out = load_exported(tmp_path / "onnx").decision_function(new)
    np.testing.assert_allclose(out, detector.decision_function(new), rtol=1e-5)


def test_threshold_rules_carry_over(frames, tmp_path):
    train, new = frames
    detector = _fitted("DeepSVDD", train).set_threshold(fdr=0.2)
    export_onnx(detector, tmp_path / "onnx", train)
    model = load_exported(tmp_path / "onnx")
    np.testing.assert_array_equal(model.predict(new), detector.predict(new))  # BH per batch
    np.testing.assert_array_equal(model.predict(new, fpr=0.05), detector.predict(new, fpr=0.05))
    with pytest.raises(RuntimeModelError, match="fpr must be in"):
        model.predict(new, fpr=2.0)


def test_export_refuses_a_model_that_disagrees(frames, tmp_path, monkeypatch):
    train, _ = frames
    detector = _fitted("AutoEncoder", train)
    honest = detector._scoring_module

    class Drifted(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = honest()

        def forward(self, rows: torch.Tensor) -> torch.Tensor:
            return self.inner(rows) * 1.01

    monkeypatch.setattr(detector, "_scoring_module", Drifted)
    with pytest.raises(ExportError, match="refused: the ONNX model's scores differ"):
        export_onnx(detector, tmp_path / "onnx", train)
    assert not (tmp_path / "onnx").exists()


def test_export_says_what_it_cannot_do(frames, tmp_path):
    train, _ = frames
    with pytest.raises(ExportError, match=r"PCA is not a torch detector.*AutoEncoder"):
        export_onnx(_fitted("PCA", train), tmp_path / "a", train)
    detector = _fitted("AutoEncoder", train)
    with pytest.raises(ExportError, match="quantize must be"):
        export_onnx(detector, tmp_path / "b", train, quantize="int4")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not empty and not an earlier export"):
        export_onnx(detector, tmp_path / "busy", train)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ExportError, match="a plain export keeps the bundle's calibration"):
        export_onnx(detector, tmp_path / "f", train, calibration=train)
    with pytest.raises(ExportError, match="pass calibration rows"):
        export_onnx(detector, tmp_path / "c", train, prune=0.5)
    with pytest.raises(ExportError, match="ALAD is not trained by the shared loop"):
        export_onnx(_fitted("ALAD", train), tmp_path / "d", train, prune=0.5, calibration=train)
    with pytest.raises(ValueError, match="missing column"):
        export_onnx(detector, tmp_path / "e", train.drop(columns="num_a"))
    with pytest.raises(RuntimeModelError, match="no exported model here"):
        load_exported(tmp_path / "nothing")


@pytest.fixture(scope="module")
def cardio():
    X, y = load_cardio()
    order = np.random.default_rng(0).permutation(len(X))
    normal = order[y[order] == 0]
    train, calibration = normal[:900], normal[900:1200]
    test = np.setdiff1d(order, np.concatenate([train, calibration]))
    return X[train], X[calibration], X[test], y[test]


def test_int8_model_still_detects_on_real_data(cardio, tmp_path):
    X_train, X_calibration, X_test, y_test = cardio
    detector = deepad.AutoEncoder(random_state=0).fit(X_train)
    export_onnx(detector, tmp_path / "fp32", X_train)
    result = export_onnx(
        detector, tmp_path / "int8", X_train, quantize="int8", calibration=X_calibration
    )
    report = result.report
    assert report["int8"]["rank_correlation"] >= 0.99
    assert report["size"]["int8_network_bytes"] < 0.6 * report["size"]["fp32_network_bytes"]
    fp32 = auroc(y_test, load_exported(tmp_path / "fp32").decision_function(X_test))
    int8_model = load_exported(tmp_path / "int8")
    int8 = auroc(y_test, int8_model.decision_function(X_test))
    assert int8 > 0.75 and abs(int8 - fp32) <= 0.01  # fp32: 0.79 on this split
    assert int8_model.metadata["variant"] == "int8"
    # weights only: a row scores the same alone as in a batch
    alone = np.array([int8_model.decision_function(X_test[i : i + 1])[0] for i in range(20)])
    np.testing.assert_allclose(alone, int8_model.decision_function(X_test)[:20], rtol=1e-5)
    # recalibrated on the held-out normal rows: their flag rate sits near the level
    flagged = int8_model.predict(X_calibration).mean()
    assert flagged <= 0.1 + 0.05


def test_pruned_model_keeps_most_of_its_accuracy(cardio, tmp_path):
    X_train, X_calibration, X_test, y_test = cardio
    detector = deepad.AutoEncoder(random_state=0).fit(X_train)
    result = export_onnx(
        detector, tmp_path / "pruned", X_train, prune=0.5, calibration=X_calibration
    )
    pruned = result.report["prune"]
    assert pruned["zeroed"] >= 0.5 * pruned["weights"] - 1
    model = load_exported(tmp_path / "pruned")
    assert model.metadata["threshold"]["calibration_rows"] == len(X_calibration)
    before = auroc(y_test, detector.decision_function(X_test))
    assert auroc(y_test, model.decision_function(X_test)) >= before - 0.05


def test_cli_export_then_score_matches_the_bundle(tmp_path, capsys):
    train = build_mixed_frame(300, seed=0).assign(order_id=range(300))
    new = build_mixed_frame(80, seed=2).assign(order_id=range(1000, 1080))
    train.to_csv(tmp_path / "train.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    bundle, exported = tmp_path / "bundle", tmp_path / "exported"
    fit = ["fit", str(tmp_path / "train.csv"), "--model", "AutoEncoder", "--exclude", "order_id"]
    assert main([*fit, "--param", "epochs=3", "--out", str(bundle)]) == 0
    data = ["--data", str(tmp_path / "train.csv")]
    assert main(["export", str(bundle), *data, "--out", str(exported)]) == 0
    printed = capsys.readouterr().out
    assert "exported AutoEncoder (fp32)" in printed and "tolerance 0.0001" in printed
    report = json.loads((exported / "export.json").read_text())
    assert report["parity"]["passed"]
    for source, name in ((bundle, "a.csv"), (exported, "b.csv")):
        assert (
            main(["score", str(source), str(tmp_path / "new.csv"), "--out", str(tmp_path / name)])
            == 0
        )
    ours, theirs = pd.read_csv(tmp_path / "b.csv"), pd.read_csv(tmp_path / "a.csv")
    assert list(ours.columns) == ["order_id", "score", "p_value", "label"]
    np.testing.assert_array_equal(ours["order_id"], theirs["order_id"])
    np.testing.assert_allclose(ours["score"], theirs["score"], rtol=1e-5)
    np.testing.assert_array_equal(ours["label"], theirs["label"])
    assert main(["export", str(bundle), *data, "--out", str(tmp_path / "x"), "--prune", "0.5"]) == 2
    assert "pass calibration rows" in capsys.readouterr().err


@pytest.mark.parametrize("m", [1, 2, 7, 49, 50, 2000])
def test_p_value_head_counts_exactly_like_the_calibrator(m):
    import onnxruntime as ort
    from onnx import TensorProto

    from deepad.export.graph import head_graph

    rng = np.random.default_rng(m)
    calibration = np.round(rng.normal(size=m), 1).astype(np.float32).astype(np.float64)  # ties
    scores = np.concatenate(
        [calibration, calibration + 1e-3, [-99.0, 99.0], np.round(rng.normal(size=300), 1)]
    ).astype(np.float32)
    head = head_graph(calibration, 0.5, TensorProto.FLOAT, ir_version=10)
    session = ort.InferenceSession(head.SerializeToString())
    score, p_value, decision = session.run(None, {"raw_score": scores})
    np.testing.assert_array_equal(p_value, conformal_p_values(calibration, score))
    np.testing.assert_array_equal(decision, (score > 0.5).astype(np.int64))


def test_dynamic_int8_is_available_and_labelled(cardio, tmp_path):
    X_train, _, X_test, y_test = cardio
    detector = deepad.AutoEncoder(epochs=5, random_state=0).fit(X_train)
    result = export_onnx(detector, tmp_path / "dynamic", X_train, quantize="int8-dynamic")
    assert result.report["int8"]["mode"] == "int8-dynamic"
    model = load_exported(tmp_path / "dynamic")
    assert model.metadata["variant"] == "int8-dynamic"
    assert auroc(y_test, model.decision_function(X_test)) > 0.7


def test_missing_extra_says_what_to_install():
    code = (
        "import sys\n"
        "sys.modules['onnxscript'] = None  # as if not installed\n"
        "try:\n"
        "    import deepad.export\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install 'deepad[onnx]'" in run.stdout, run.stderr
