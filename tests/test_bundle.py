"""Bundles on disk: exact round trips, a pickle-free layout, and refusals of bad bundles."""

from __future__ import annotations

import hashlib
import json
import struct
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import labels_for
from sklearn.ensemble import IsolationForest as SkIsolationForest
from sklearn.exceptions import NotFittedError

import deepad
from deepad.bundle import FORMAT_VERSION, BundleError, read_manifest
from deepad.bundle.store import sha256

DETECTOR_NAMES = sorted(deepad.TABLE_DETECTORS)

MANIFEST_KEYS = {
    "format_version",
    "deepad_version",
    "detector",
    "input_schema",
    "threshold",
    "training_data",
    "created_at",
    "weights",
}


def scoring_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows to score after loading: training rows plus an unseen category and new gaps."""
    new = frame.head(30).copy()
    new["color"] = new["color"].astype(object)
    new.loc[0, "color"] = "purple"
    new.loc[1:3, "num_nan"] = np.nan
    return new


@pytest.fixture
def saved(tmp_path, make_detector, mixed_frame):
    """A fitted PCA (fast) saved to ``tmp_path / "bundle"``; returns (detector, path)."""
    det = make_detector("PCA").fit(mixed_frame)
    return det, det.save(tmp_path / "bundle")


def edit_manifest(path: Path, change) -> None:
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    change(manifest)
    manifest_path.write_text(json.dumps(manifest))


# -------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_round_trip_is_bitwise_identical(name, tmp_path, make_detector, mixed_frame):
    det = make_detector(name, contamination=0.07).fit(mixed_frame, labels_for(name, mixed_frame))
    path = det.save(tmp_path / "model")
    assert path == tmp_path / "model"
    loaded = deepad.load(path)

    assert type(loaded) is type(det)
    assert loaded.get_params() == det.get_params()
    assert loaded.threshold_ == det.threshold_
    assert loaded.decision_scores_.dtype == np.float64
    assert loaded.decision_scores_.tobytes() == det.decision_scores_.tobytes()
    assert loaded.n_features_in_ == det.n_features_in_
    assert list(loaded.feature_names_in_) == list(det.feature_names_in_)
    assert loaded.training_rows_ == len(mixed_frame)
    assert loaded.training_fingerprint_ == det.training_fingerprint_

    new = scoring_frame(mixed_frame)
    expected = det.decision_function(new)
    actual = loaded.decision_function(new)
    assert actual.dtype == np.float64
    assert actual.tobytes() == expected.tobytes()
    np.testing.assert_array_equal(loaded.predict(new), det.predict(new))


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_bundle_holds_manifest_and_safetensors_only(name, tmp_path, make_detector, mixed_frame):
    det = make_detector(name).fit(mixed_frame, labels_for(name, mixed_frame))
    path = det.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "weights.safetensors"]
    for file in path.iterdir():
        head = file.read_bytes()[:2]
        assert not head.startswith(b"\x80"), f"{file.name} looks like a pickle"

    # safetensors: little-endian u64 header length, then a JSON header
    raw = (path / "weights.safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    assert "decision_scores_" in header
    assert "calibration.calibration_scores" in header
    assert "reference.sample" in header  # encoded training rows for the drift monitor
    assert all(
        key.startswith("model.")
        for key in header
        if key
        not in {
            "decision_scores_",
            "calibration.calibration_scores",
            "reference.sample",
            "__metadata__",
        }
    )


def test_manifest_contents(saved, mixed_frame):
    det, path = saved
    manifest = json.loads((path / "manifest.json").read_text())
    assert MANIFEST_KEYS <= set(manifest)
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["deepad_version"] == deepad.__version__
    assert manifest["detector"]["class"] == "PCA"
    assert manifest["detector"]["params"] == det.get_params()
    assert manifest["input_schema"] == det.preprocessor_.to_dict()
    assert manifest["threshold"]["value"] == det.threshold_
    assert manifest["threshold"]["contamination"] == det.contamination
    assert manifest["training_data"]["rows"] == len(mixed_frame)
    assert manifest["training_data"]["columns"] == list(mixed_frame.columns)
    assert manifest["training_data"]["fingerprint"].startswith("sha256:")
    assert manifest["training_data"]["fingerprint"] == det.training_fingerprint_
    weights = (path / "weights.safetensors").read_bytes()
    assert manifest["weights"]["sha256"] == hashlib.sha256(weights).hexdigest()
    created = datetime.fromisoformat(manifest["created_at"])
    assert created.tzinfo is not None
    assert read_manifest(path) == manifest


def test_lineage_is_recorded(tmp_path, make_detector, numeric_array):
    det = make_detector("ECOD").fit(numeric_array)
    path = det.save(tmp_path / "model", source="sensors.csv", run=np.int64(3), tags=("a", "b"))
    manifest = read_manifest(path)
    assert manifest["lineage"] == {"source": "sensors.csv", "run": 3, "tags": ["a", "b"]}


def test_non_json_lineage_is_refused_without_leftovers(tmp_path, make_detector, numeric_array):
    det = make_detector("ECOD").fit(numeric_array)
    with pytest.raises(BundleError, match=r"lineage\.source.*not JSON"):
        det.save(tmp_path / "model", source=object())
    assert list(tmp_path.iterdir()) == []  # no bundle and no staging directory left


# ---------------------------------------------------------------------------- refusals
def test_bundle_error_is_a_value_error():
    assert issubclass(BundleError, ValueError)
    assert deepad.BundleError is BundleError


def test_tampered_weights_are_refused(saved):
    _, path = saved
    weights = path / "weights.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0x01
    weights.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="does not match the SHA-256"):
        deepad.load(path)


def test_missing_weights_are_refused(saved):
    _, path = saved
    (path / "weights.safetensors").unlink()
    with pytest.raises(BundleError, match=r"incomplete: weights\.safetensors is missing"):
        deepad.load(path)


def test_missing_manifest_is_refused(saved):
    _, path = saved
    (path / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"not a deepad bundle: manifest\.json is missing"):
        deepad.load(path)


def test_newer_format_version_is_refused(saved):
    _, path = saved
    edit_manifest(path, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(BundleError, match=rf"format {FORMAT_VERSION + 1} is newer.*upgrade"):
        deepad.load(path)


def test_unknown_detector_class_is_refused(saved):
    _, path = saved
    edit_manifest(path, lambda m: m["detector"].update({"class": "EvilDetector"}))
    with pytest.raises(BundleError, match="unknown detector class 'EvilDetector'"):
        deepad.load(path)


def test_nonexistent_path_is_refused(tmp_path):
    with pytest.raises(BundleError, match="no bundle at"):
        deepad.load(tmp_path / "nowhere")


def test_file_instead_of_directory_is_refused(tmp_path):
    file = tmp_path / "model.json"
    file.write_text("{}")
    with pytest.raises(BundleError, match="is a file"):
        deepad.load(file)


def test_manifest_that_is_not_json_is_refused(saved):
    _, path = saved
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        deepad.load(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(format="something-else"), "not a deepad bundle manifest"),
        (lambda m: m.pop("format_version"), "no valid format_version"),
        (lambda m: m.update(format_version="1"), "no valid format_version"),
        (lambda m: m.pop("threshold"), "malformed.*threshold"),
        (lambda m: m["detector"]["params"].update(bogus=1), "malformed"),
    ],
)
def test_malformed_manifest_is_refused(saved, change, message):
    _, path = saved
    edit_manifest(path, change)
    with pytest.raises(BundleError, match=message):
        deepad.load(path)


# -------------------------------------------------------------------------- hardening
@pytest.mark.parametrize("name", ["weights.safetensors", "manifest.json"])
def test_a_bundle_file_that_is_a_link_is_refused(saved, tmp_path, name):
    _, path = saved
    elsewhere = tmp_path / f"elsewhere-{name}"
    (path / name).rename(elsewhere)
    (path / name).symlink_to(elsewhere)
    with pytest.raises(BundleError, match="is a link or lies outside its bundle"):
        deepad.load(path)


def test_oversized_weights_are_refused_before_reading(saved, monkeypatch):
    _, path = saved
    size = (path / "weights.safetensors").stat().st_size
    monkeypatch.setenv("DEEPAD_MAX_BUNDLE_BYTES", str(size - 1))
    with pytest.raises(BundleError, match=f"{size:,} bytes, over the {size - 1:,}-byte limit"):
        deepad.load(path)
    monkeypatch.setenv("DEEPAD_MAX_BUNDLE_BYTES", str(size))
    deepad.load(path)
    monkeypatch.setenv("DEEPAD_MAX_BUNDLE_BYTES", "lots")
    with pytest.raises(BundleError, match="DEEPAD_MAX_BUNDLE_BYTES must be a positive"):
        deepad.load(path)


def test_oversized_manifest_is_refused(saved, monkeypatch):
    _, path = saved
    monkeypatch.setattr("deepad.bundle.store.MAX_MANIFEST_BYTES", 100)
    with pytest.raises(BundleError, match="over the 100-byte limit for a bundle's manifest"):
        deepad.load(path)


def test_a_network_bigger_than_its_weights_is_refused_without_building_it(
    tmp_path, make_detector, numeric_array
):
    """A manifest edited to name a huge network: a real build would need ~400 GB."""
    path = make_detector("AutoEncoder").fit(numeric_array).save(tmp_path / "ae")
    edit_manifest(
        path, lambda m: m["model_state"]["architecture"].update(hidden_dims=[10_000_000, 10_000])
    )
    with pytest.raises(BundleError, match="weights do not match its architecture"):
        deepad.load(path)


@pytest.mark.parametrize("name", ["AutoEncoder", "PCA", "IsolationForest"])
def test_a_schema_that_does_not_fit_the_model_is_refused_at_load(
    name, tmp_path, make_detector, numeric_array
):
    """Found by fuzzing: a manifest with a column removed loaded, then scoring crashed."""
    path = make_detector(name).fit(numeric_array).save(tmp_path / "bundle")
    edit_manifest(path, lambda m: m["input_schema"]["columns"].pop())
    with pytest.raises(BundleError, match="schema and model do not fit together"):
        deepad.load(path)


def test_weights_that_are_not_safetensors_are_refused(saved):
    _, path = saved
    weights = path / "weights.safetensors"
    weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage}")
    edit_manifest(path, lambda m: m["weights"].update(sha256=sha256(weights)))
    with pytest.raises(BundleError, match="not a readable safetensors file"):
        deepad.load(path)


@pytest.mark.parametrize("key", ["weights", "detector"])
def test_manifest_without_required_section_is_refused(saved, key):
    _, path = saved
    edit_manifest(path, lambda m: m.pop(key))
    with pytest.raises(BundleError):
        deepad.load(path)


# ---------------------------------------------------------------------------- saving
def test_saving_over_non_bundle_directory_refuses(tmp_path, make_detector, numeric_array):
    target = tmp_path / "my_data"
    target.mkdir()
    (target / "precious.csv").write_text("a,b\n1,2\n")
    det = make_detector("ECOD").fit(numeric_array)
    with pytest.raises(BundleError, match="not a deepad bundle; refusing to overwrite"):
        det.save(target)
    assert [p.name for p in target.iterdir()] == ["precious.csv"]
    assert (target / "precious.csv").read_text() == "a,b\n1,2\n"


def test_saving_over_a_file_refuses(tmp_path, make_detector, numeric_array):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    det = make_detector("ECOD").fit(numeric_array)
    with pytest.raises(BundleError, match="refusing to overwrite"):
        det.save(target)
    assert target.read_text() == "keep me"


def test_saving_over_directory_with_foreign_manifest_refuses(
    tmp_path, make_detector, numeric_array
):
    target = tmp_path / "webapp"
    target.mkdir()
    (target / "manifest.json").write_text('{"name": "my web app"}')
    (target / "index.html").write_text("<html></html>")
    det = make_detector("ECOD").fit(numeric_array)
    try:
        det.save(target)
    except BundleError:
        pass
    assert (target / "index.html").exists()


def test_saving_into_empty_directory_works(tmp_path, make_detector, numeric_array):
    target = tmp_path / "empty"
    target.mkdir()
    det = make_detector("ECOD").fit(numeric_array)
    det.save(target)
    np.testing.assert_array_equal(
        deepad.load(target).decision_function(numeric_array), det.decision_function(numeric_array)
    )


def test_saving_creates_missing_parents(tmp_path, make_detector, numeric_array):
    det = make_detector("ECOD").fit(numeric_array)
    path = det.save(tmp_path / "a" / "b" / "model")
    assert deepad.load(path).threshold_ == det.threshold_


def test_saving_over_existing_bundle_replaces_it(tmp_path, make_detector, numeric_array):
    target = tmp_path / "model"
    first = make_detector("KNN").fit(numeric_array)
    first.save(target)
    second = make_detector("IsolationForest").fit(numeric_array[:100])
    second.save(target)

    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "weights.safetensors"]
    loaded = deepad.load(target)
    assert type(loaded).__name__ == "IsolationForest"
    assert loaded.training_rows_ == 100
    np.testing.assert_array_equal(
        loaded.decision_function(numeric_array), second.decision_function(numeric_array)
    )
    # no staging directories left next to the bundle
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_saving_unfitted_detector_raises_not_fitted(name, tmp_path, make_detector):
    with pytest.raises(NotFittedError, match="fit"):
        make_detector(name).save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


# --------------------------------------------------------------- isolation forest parity
@pytest.mark.parametrize(
    ("n_estimators", "max_samples", "max_features"),
    [(100, "auto", 1.0), (40, 64, 0.6), (25, 0.5, 1.0)],
)
@pytest.mark.parametrize("data", ["numeric_array", "mixed_frame"])
def test_isolation_forest_matches_sklearn(
    n_estimators, max_samples, max_features, data, request, make_detector
):
    """deepad scores from exported tree arrays equal -sklearn.score_samples."""
    X = request.getfixturevalue(data)
    train, test = X[:150], X[150:]
    det = make_detector(
        "IsolationForest",
        n_estimators=n_estimators,
        max_samples=max_samples,
        max_features=max_features,
    ).fit(train, calibration_size=0)  # the reference trains on every row
    Z, Z_test = det.preprocessor_.transform(train), det.preprocessor_.transform(test)
    reference = SkIsolationForest(
        n_estimators=n_estimators,
        max_samples=max_samples,
        max_features=max_features,
        random_state=0,
    ).fit(Z)
    np.testing.assert_allclose(
        det.decision_function(test), -reference.score_samples(Z_test), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        det.decision_scores_, -reference.score_samples(Z), rtol=0, atol=1e-12
    )
