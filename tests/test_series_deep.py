"""The deep series detectors: LSTMAutoEncoder, SeriesTransformer, TCN and USAD.

Each is fitted once per module on a small two-channel series (sine + noise) with short
training; the tests work on copies, since streaming changes a detector's context.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import deepad
from deepad.models import SERIES_DETECTORS, TCN, USAD, LSTMAutoEncoder, SeriesTransformer
from deepad.models.series_torch import TorchSeriesDetector
from deepad.models.tcn import detector as tcn_module

N_TRAIN = 1500
N_TEST = 300
SPIKE = 150  # index in the test continuation

#: small, fast settings for each detector
SETTINGS: dict[str, tuple[type, dict[str, Any]]] = {
    "lstm_ae": (LSTMAutoEncoder, {"window": 20, "hidden_size": 16, "max_windows": 400}),
    "transformer": (SeriesTransformer, {"window": 20, "d_model": 16, "max_windows": 400}),
    "tcn": (TCN, {"dilations": [1, 2, 4], "hidden_size": 16, "max_windows": 300}),
    "usad": (USAD, {"window": 10, "max_windows": 1000}),
}
NAMES = sorted(SETTINGS)


def _series(n: int = N_TRAIN + N_TEST, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.c_[np.sin(t / 8.0), np.cos(t / 5.0)] + 0.05 * rng.normal(size=(n, 2))


def _make(name: str, **overrides: Any) -> TorchSeriesDetector:
    cls, params = SETTINGS[name]
    return cls(**{"epochs": 3, "random_state": 0, **params, **overrides})


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    x = _series()
    train, test = x[:N_TRAIN].copy(), x[N_TRAIN:].copy()
    test[SPIKE, 0] += 3.0
    return train, test


_FITTED: dict[str, TorchSeriesDetector] = {}


@pytest.fixture
def fitted(request: pytest.FixtureRequest, data) -> TorchSeriesDetector:
    """A copy of the module-wide fitted detector named by the test's ``name`` param."""
    name = request.node.callspec.params["name"]
    if name not in _FITTED:
        _FITTED[name] = _make(name).fit(data[0])
    return copy.deepcopy(_FITTED[name])


# ---------------------------------------------------------------- contract, per detector
@pytest.mark.parametrize("name", NAMES)
def test_injected_spike_is_the_top_step(name, fitted, data):
    scores = fitted.process(data[1], learn=False)
    assert scores.shape == (N_TEST,) and scores.dtype == np.float64
    # smoothed: the mean of the last `smoothing` step errors peaks within that many steps
    assert SPIKE <= int(np.argmax(scores)) < SPIKE + fitted.smoothing, np.argsort(scores)[-5:]
    assert fitted.predict(data[1])[SPIKE] == 1
    raw = fitted.set_params(smoothing=1).process(data[1])  # smoothing is a scoring setting
    assert int(np.argmax(raw)) == SPIKE, np.argsort(raw)[-5:]


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_causal(name, fitted, data):
    x = np.concatenate(data)
    changed = x.copy()
    changed[1600:] += 5.0
    a, b = fitted.decision_function(x), fitted.decision_function(changed)
    assert np.array_equal(a[:1600], b[:1600])
    assert not np.allclose(a[1600:], b[1600:])


@pytest.mark.parametrize("name", NAMES)
def test_process_equals_batch_and_step_by_step(name, fitted, data):
    train, test = data
    batch = fitted.decision_function(np.concatenate([train, test]))[N_TRAIN:]
    stepwise = copy.deepcopy(fitted)
    processed = fitted.process(test)
    np.testing.assert_allclose(processed, batch, rtol=0, atol=1e-9)
    one = []
    for row in test[:60]:
        one.append(stepwise.score_one(row))
        stepwise.learn_one(row)
    np.testing.assert_allclose(one, processed[:60], rtol=0, atol=1e-9)
    np.testing.assert_allclose(stepwise.process(test[60:]), processed[60:], rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_bundle_round_trip_streams_identically(name, fitted, data, tmp_path):
    path = fitted.save(tmp_path / "model")
    loaded = deepad.load(path)
    assert type(loaded) is type(fitted)
    assert loaded.get_params() == fitted.get_params()
    assert loaded.architecture_ == fitted.architecture_
    assert loaded.threshold_ == fitted.threshold_
    np.testing.assert_array_equal(loaded.process(data[1]), fitted.process(data[1]))


@pytest.mark.parametrize("name", NAMES)
def test_same_random_state_gives_identical_scores(name, fitted, data):
    again = _make(name).fit(data[0])
    np.testing.assert_array_equal(again.decision_scores_, fitted.decision_scores_)
    np.testing.assert_array_equal(
        again.decision_function(data[1]), fitted.decision_function(data[1])
    )


@pytest.mark.parametrize("name", NAMES)
def test_explain_contributions_sum_to_the_score(name, fitted, data):
    test = data[1]
    explanation = fitted.explain(test)
    assert explanation.method == "residual"
    assert explanation.contributions.shape == (N_TEST, 2)
    np.testing.assert_allclose(
        explanation.contributions.sum(axis=1), explanation.scores, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(explanation.scores, fitted.decision_function(test), atol=1e-12)
    assert explanation.top(1)["feature_1"].iloc[SPIKE] == "x0"
    assert explanation.expected is not None and explanation.expected.shape == (N_TEST, 2)


@pytest.mark.parametrize("name", NAMES)
def test_adapt_every_changes_the_model_and_the_default_does_not(name, fitted, data):
    train, test = data
    weights = {k: v.clone() for k, v in fitted.module_.state_dict().items()}
    plain = fitted.process(test)
    assert all(torch.equal(v, fitted.module_.state_dict()[k]) for k, v in weights.items())

    adapting = _make(name, adapt_every=100).fit(train)
    np.testing.assert_array_equal(adapting.decision_scores_, _FITTED[name].decision_scores_)
    adapted = adapting.process(test)
    np.testing.assert_allclose(adapted[:100], plain[:100], rtol=0, atol=1e-9)
    assert not np.allclose(adapted[100:], plain[100:])
    state = adapting.module_.state_dict()
    assert any(not torch.equal(v, state[k]) for k, v in weights.items())


def test_registered_and_exported():
    for cls in (LSTMAutoEncoder, SeriesTransformer, TCN, USAD):
        assert SERIES_DETECTORS[cls.__name__] is cls
        assert getattr(deepad, cls.__name__) is cls
        assert cls.modality == "series" and cls.supports_adaptation
        assert isinstance(cls.summary, str) and "\n" not in cls.summary


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("cls", "params", "param"),
    [
        (LSTMAutoEncoder, {"window": 1}, "window"),
        (LSTMAutoEncoder, {"hidden_size": 0}, "hidden_size"),
        (LSTMAutoEncoder, {"latent_size": 2.5}, "latent_size"),
        (LSTMAutoEncoder, {"num_layers": 0}, "num_layers"),
        (LSTMAutoEncoder, {"dropout": 1.0}, "dropout"),
        (LSTMAutoEncoder, {"epochs": 0}, "epochs"),
        (SeriesTransformer, {"d_model": 30}, "d_model"),
        (SeriesTransformer, {"num_heads": 0}, "num_heads"),
        (SeriesTransformer, {"num_layers": True}, "num_layers"),
        (SeriesTransformer, {"dropout": "high"}, "dropout"),
        (SeriesTransformer, {"learning_rate": 0}, "learning_rate"),
        (TCN, {"dilations": []}, "dilations"),
        (TCN, {"dilations": [1, 0]}, "dilations"),
        (TCN, {"dilations": "1,2"}, "dilations"),
        (TCN, {"kernel_size": 1}, "kernel_size"),
        (TCN, {"hidden_size": -1}, "hidden_size"),
        (TCN, {"adapt_every": 0}, "adapt_every"),
        (USAD, {"window": 0}, "window"),
        (USAD, {"latent_size": 0}, "latent_size"),
        (USAD, {"alpha": -1.0}, "alpha"),
        (USAD, {"alpha": 0.0, "beta": 0.0}, "alpha and beta"),
        (USAD, {"patience": 0}, "patience"),
        (USAD, {"validation_fraction": 0.6}, "validation_fraction"),
    ],
)
def test_bad_params_are_refused_by_name(cls, params, param):
    with pytest.raises(ValueError, match=param):
        cls(**params).fit(_series(300))


def test_too_short_series_is_refused():
    with pytest.raises(ValueError, match="at least"):
        TCN().fit(_series(60))


# ---------------------------------------------------------------- TCN
def test_tcn_window_follows_the_architecture():
    assert TCN().window == 64  # 1 + 2 * (1 + 2 + 4 + 8 + 16) + 1
    assert TCN(kernel_size=2, dilations=[1, 2]).window == 5
    assert "window" not in TCN().get_params()


@pytest.mark.parametrize("name", ["tcn"])
def test_tcn_convolutional_scores_equal_one_window_per_step(name, fitted, data, monkeypatch):
    x = np.concatenate(data)
    scaled = fitted.scaler_.transform(x)
    windowed_parts, windowed_expected = TorchSeriesDetector._channel_scores(fitted, scaled)
    windowed = windowed_parts.mean(axis=1)
    monkeypatch.setattr(tcn_module, "_SCORE_CHUNK", 97)  # many chunks, uneven last one
    parts, expected = fitted._channel_scores(scaled)
    convolved = parts.mean(axis=1)
    np.testing.assert_allclose(convolved, windowed, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(parts, windowed_parts, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(expected, windowed_expected, rtol=1e-9, atol=1e-12)
    # and the float64 scoring stays within float32 noise of the trained float32 network
    module = fitted.module_
    length = fitted.window
    view = np.lib.stride_tricks.sliding_window_view(scaled[-200:], length, axis=0)
    windows = torch.as_tensor(np.ascontiguousarray(view.transpose(0, 2, 1)), dtype=torch.float32)
    with torch.inference_mode():
        guess = module(windows[:, :-1])[:, -1].double().numpy()
    np.testing.assert_allclose(guess, expected[-len(guess) :], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- SeriesTransformer
@pytest.mark.parametrize("name", ["transformer"])
def test_transformer_attention_rows_are_distributions_in_row_order(name, fitted, data):
    test = data[1]
    weights = fitted.attention(test)
    assert weights.shape == (N_TEST, fitted.window - 1)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    times = pd.date_range("2026-01-01", periods=N_TEST, freq="min")
    frame = pd.DataFrame({"ts": times, "x0": test[:, 0], "x1": test[:, 1]})
    shuffled = frame.sample(frac=1.0, random_state=0)
    np.testing.assert_allclose(
        fitted.attention(shuffled), weights[shuffled.index.to_numpy()], atol=1e-12
    )


# ---------------------------------------------------------------- USAD
@pytest.mark.parametrize(
    ("windows", "fraction", "batch"),
    [(600, 0.1, None), (321, 0.0, 32), (400, 0.05, 57)],  # held out; none; a last batch of 1
    ids=["validation", "no-validation", "skipped-batch"],
)
def test_usad_counts_the_epochs_of_fit_adversarial(data, windows, fraction, batch):
    # a wrong batches-per-epoch count would raise in fit (the steps would not add up)
    det = USAD(
        window=10,
        epochs=2,
        max_windows=windows,
        validation_fraction=fraction,
        batch_size=batch,
        random_state=0,
    ).fit(data[0])
    assert det.history_.epochs_run == det.epochs_trained_ == 2
    assert det.architecture_ == {"n_inputs": 20, "hidden_sizes": [10, 5], "latent_size": 4}


@pytest.mark.parametrize("name", ["usad"])
def test_usad_score_is_the_weighted_last_step_error(name, fitted, data):
    scaled = fitted.scaler_.transform(data[1])
    window = fitted.window
    view = np.lib.stride_tricks.sliding_window_view(scaled, window, axis=0)
    windows = np.ascontiguousarray(view.transpose(0, 2, 1)).astype(np.float32).astype(np.float64)
    net = copy.deepcopy(fitted.module_).double()
    with torch.inference_mode():
        first, _, both = (
            t.numpy() for t in net(torch.as_tensor(windows.reshape(len(windows), -1)))
        )
    last = windows[:, -1]
    first, both = first.reshape(windows.shape)[:, -1], both.reshape(windows.shape)[:, -1]
    manual = (0.5 * (last - first) ** 2 + 0.5 * (last - both) ** 2).mean(axis=1)
    scores = fitted.set_params(smoothing=1).decision_function(data[1])[window - 1 :]
    np.testing.assert_allclose(scores, manual, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- LSTMAutoEncoder
def test_lstm_autoencoder_decodes_backwards_so_one_step_gives_the_last():
    from deepad.models.lstm_autoencoder.torch_model import LSTMAutoEncoderNet

    torch.manual_seed(0)
    net = LSTMAutoEncoderNet(n_channels=3, hidden_size=8, latent_size=4, num_layers=2, dropout=0.0)
    windows = torch.randn(5, 12, 3)
    with torch.inference_mode():
        full, last = net(windows), net(windows, steps=1)
    assert full.shape == (5, 12, 3) and last.shape == (5, 1, 3)
    torch.testing.assert_close(last[:, 0], full[:, -1])
