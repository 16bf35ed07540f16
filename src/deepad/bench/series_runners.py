"""Time-series benchmark runners: NAB, UCR, SMD, SMAP, MSL and SKAB, with their peers.

One configuration serves every file of a suite: each detector is built by a factory
``make(name, seed)`` at its defaults (``random_state=seed`` where it has one); nothing is
tuned per file. Each runner returns a :class:`SuiteResult` (per-file rows and a summary
per detector and seed) and :func:`write_results` writes it as ``per_file.csv``,
``summary.csv``, ``results.json`` and ``summary.md`` (the Markdown table also printed).

Protocols (``../shared/data/README.md``):

* **NAB** (:func:`run_nab`): per file the first ``nab_probation_length(n)`` steps (15%)
  are the training part, ``fit`` on them, ``process`` the rest as their continuation.
  :func:`nab_unit_scores` turns the raw scores into NAB's [0, 1] anomaly score
  (``r / (r + q99 of the calibration scores)``, then ``novel_peaks``: one alarm per
  sustained anomaly; probation steps 0). Detections are ``score >= threshold``
  with one threshold per profile for the whole corpus, chosen by sweeping every distinct
  score (:func:`optimize_nab_threshold`, NAB's optimiser), then scored with
  :func:`deepad.metrics.nab_scores`. The peer ``ref.zscore`` is the trivial baseline of
  ``nab/README.md`` (:func:`nab_reference_scores`), whose numbers are known.
* **UCR** (:func:`run_ucr`): fit on ``[0, train_end)``, ``process`` the rest; solved when
  the highest-scoring step is within ±100 of the labelled range. Peers: the matrix-profile
  discord (stumpy AB-join against the training prefix) and the largest first difference.
* **SMD / SMAP / MSL / SKAB** (:func:`run_multivariate`): fit on train (SKAB: the
  anomaly-free run), ``process`` test; AUROC, AUPRC, VUS-PR, best F1 without point
  adjustment, point-adjusted F1 beside it; SMD also HitRate@150% of the explanations.
  Peers: PCA reconstruction error and IsolationForest on windows of 10 steps.
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepad.bench.detectors import resolve_names
from deepad.bench.report import _num, _seconds, _table
from deepad.bench.series_data import (
    MULTIVARIATE_LOADERS,
    InterpretationRange,
    MultiSeries,
    NABFile,
    UCRSeries,
    data_root,
    load_nab,
    load_ucr,
)
from deepad.bench.store import environment
from deepad.calibrate.alarms import novel_peaks
from deepad.metrics import auprc, auroc, best_f1, nab_score, nab_scores, point_adjusted_f1, vus_pr
from deepad.metrics.nab import (
    NAB_PROFILES,
    NABResult,
    detections_from_scores,
    nab_probation_length,
    nab_step_values,
)

Echo = Callable[[str], None]
#: ``make(name, seed) -> unfitted detector``
Factory = Callable[[str, int], Any]

SUITES = ("nab", "ucr", "smd", "smap", "msl", "skab")

#: NAB profiles in deepad's spelling, and as NAB (and the tables) name them
NAB_PROFILE_NAMES = {
    "standard": "standard",
    "reward_low_fp": "reward_low_FP",
    "reward_low_fn": "reward_low_FN",
}

#: the peers of each suite (run beside ours unless ``peers=none``)
PEERS: dict[str, tuple[str, ...]] = {
    "nab": ("ref.zscore",),
    "ucr": ("ref.discord", "ref.diff"),
    "smd": ("sklearn.PCA", "sklearn.IForest"),
    "smap": ("sklearn.PCA", "sklearn.IForest"),
    "msl": ("sklearn.PCA", "sklearn.IForest"),
    "skab": ("sklearn.PCA", "sklearn.IForest"),
}

#: windows in NAB's full 58-file corpus. NAB's runner normalises with the null detector's
#: score read from its shipped results (the full corpus: -fnWeight per window) and with
#: ``perfect`` = the windows in the label file it is given; run on a subset, the two
#: disagree. The nab/README reference for the 41 files here is normalised that way (its
#: three numbers solve to perfect 64.0 = the windows here, null windows 116.0).
NAB_FULL_CORPUS_WINDOWS = 116

#: one line of ``--help`` per suite
SUITE_HELP = {
    "nab": "NAB streams: NAB score (standard, reward_low_FP, reward_low_FN), one threshold",
    "ucr": "UCR archive: fraction of series whose top score is within ±100 of the anomaly",
    "smd": "SMD machines: AUROC, AUPRC, VUS-PR, F1 (and point-adjusted F1), HitRate@150%",
    "smap": "NASA SMAP channels: AUROC, AUPRC, VUS-PR, F1 (and point-adjusted F1)",
    "msl": "NASA MSL channels: AUROC, AUPRC, VUS-PR, F1 (and point-adjusted F1)",
    "skab": "SKAB experiments (trained on the anomaly-free run): AUROC, AUPRC, VUS-PR, F1",
}

#: steps an alarm suppresses later, lower scores for (``novel_peaks``); one value for all files
NAB_ALARM_HORIZON = 200
UCR_TOLERANCE = 100
HIT_RATE_RATIO = 1.5
IFOREST_WINDOW = 10


# --------------------------------------------------------------- detectors
def series_registry() -> dict[str, type]:
    """The series detectors by class name, read from ``deepad.models`` at call time."""
    from deepad.models import SERIES_DETECTORS

    return dict(SERIES_DETECTORS)


def resolve_detectors(names: Sequence[str] | None) -> list[str]:
    """Our series detector names (case-insensitive), every registered one when None.

    ``["none"]`` selects none (peers only); an unknown name is a ``ValueError``.
    """
    if names is not None:
        names = [n.strip() for n in names if n.strip()]
    return resolve_names(names, list(series_registry()), "series detector", "peers")


def resolve_peers(suite: str, spec: str | None) -> list[str]:
    """Peers of ``suite`` from ``--peers``: None or ``all`` (every one), ``none``, a comma list."""
    available = list(PEERS[suite])
    if spec is None or spec.strip().lower() == "all":
        return available
    if spec.strip().lower() == "none":
        return []
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    by_lower = {p.lower(): p for p in available}
    by_lower.update({p.split(".", 1)[1].lower(): p for p in available})
    unknown = [w for w in wanted if w.lower() not in by_lower]
    if unknown:
        raise ValueError(f"unknown peer(s) {unknown} for {suite}; choose from {available}")
    return list(dict.fromkeys(by_lower[w.lower()] for w in wanted))


def make(name: str, seed: int) -> Any:
    """An unfitted series detector ``name`` at its defaults (``random_state=seed`` if it can)."""
    registry = series_registry()
    cls = registry.get(name) or {k.lower(): v for k, v in registry.items()}.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown series detector {name!r}; choose from {list(registry)}")
    return cls(random_state=seed) if "random_state" in cls._get_param_names() else cls()


def make_with(params: dict[str, Any]) -> Factory:
    """``make``, then ``params`` set on the detectors that have them (``--param``)."""

    def factory(name: str, seed: int) -> Any:
        det = make(name, seed)
        own = {k: v for k, v in params.items() if k in det._get_param_names()}
        return det.set_params(**own) if own else det

    return factory


def _columns(values: np.ndarray) -> np.ndarray:
    return values.reshape(-1, 1) if values.ndim == 1 else values


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]


# -------------------------------------------------------------- results
@dataclass
class SuiteResult:
    """What a runner produced: one row per (file, detector, seed), one summary row per
    (detector, seed), and suite-specific extras (e.g. NAB's thresholds)."""

    suite: str
    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


# ===================================================================== NAB
def nab_reference_scores(values: np.ndarray, window: int = 100, min_past: int = 50) -> np.ndarray:
    """The trivial causal baseline of ``nab/README.md``: ``z / (1 + z)``.

    ``z = |x_t - m| / s`` with ``m``, ``s`` (ddof=0) the mean and standard deviation of
    the previous ``window`` values; 0 while fewer than ``min_past`` past values exist; with
    ``s == 0`` (every past value equal) the score is 0 when ``x_t == m`` and 1 otherwise.
    """
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    out = np.zeros(n)
    for t in range(min(min_past, n), min(window, n)):  # the short start: 50..99 past values
        past = x[:t]
        out[t] = _zscore_unit(x[t], past.mean(), past.std(), past.min() == past.max())
    if n > window:
        past = np.lib.stride_tricks.sliding_window_view(x[:-1], window)  # past[t - window]
        m = past.mean(axis=1)
        s = past.std(axis=1)
        flat = past.min(axis=1) == past.max(axis=1)
        cur = x[window:]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.abs(cur - m) / s
            unit = z / (1.0 + z)
        unit = np.where(flat, (cur != past[:, 0]).astype(np.float64), unit)
        out[window:] = unit
    return out


def _zscore_unit(x: float, m: float, s: float, flat: bool) -> float:
    if flat:
        return 0.0 if x == m else 1.0
    z = abs(x - m) / s
    return z / (1.0 + z)


def nab_unit_scores(det: Any, raw: np.ndarray) -> np.ndarray:
    """NAB's [0, 1] anomaly score of the processed (post-probation) steps.

    ``r / (r + q)``, with ``q`` the 99th percentile of the detector's calibration scores
    (the last 20% of the probationary steps), puts every file on one scale without the
    ties of a conformal p-value (every step beyond the ~150 calibration scores would share
    the top p-value); then ``novel_peaks`` with a horizon of ``NAB_ALARM_HORIZON`` steps
    keeps one alarm per sustained anomaly. The one place to change the mapping.
    """
    raw = np.maximum(np.asarray(raw, dtype=np.float64), 0.0)
    calibration = det.calibrator_.calibration_scores
    scale = float(np.quantile(calibration, 0.99)) if len(calibration) else float(np.median(raw))
    unit = raw / (raw + max(scale, 1e-12))
    return novel_peaks(unit, NAB_ALARM_HORIZON) if len(unit) else unit


def optimize_nab_threshold(
    corpus: Sequence[tuple[np.ndarray, Sequence[tuple[int, int]]]], profile: str = "standard"
) -> tuple[float, float]:
    """The corpus-wide threshold maximising the NAB score of ``profile``, and that raw score.

    ``corpus`` holds ``(anomaly_scores, windows)`` per file. Like NAB's optimiser, every
    distinct score of a scored step is a candidate (detections are ``score >= threshold``)
    together with "never fire" (returned as a threshold above every score); the score at
    each is computed in one sweep over the steps sorted by score, and ties in the score
    go to the highest threshold.
    """
    weights = tuple(NAB_PROFILES[profile][k] for k in ("tpWeight", "fpWeight", "fnWeight"))
    scores, window_keys, values = [], [], []
    base = 0.0
    n_windows = 0
    for s, unsorted in corpus:
        s = np.asarray(s, dtype=np.float64)
        windows = sorted((int(a), int(b)) for a, b in unsorted)
        probation = nab_probation_length(len(s))
        wid, value = nab_step_values(windows, len(s), probation, weights)
        base -= weights[2] * sum(end >= probation for _, end in windows)
        scores.append(s[probation:])
        window_keys.append(np.where(wid >= 0, wid + n_windows, -1))
        values.append(value)
        n_windows += len(windows)
    s = np.concatenate(scores) if scores else np.empty(0)
    top = float(s.max()) if s.size else 0.0
    never = 1.1 if top < 1.1 else top + 1.0
    if not s.size:
        return never, base
    key = np.concatenate(window_keys)
    value = np.concatenate(values)
    order = np.argsort(-s, kind="stable")
    s, key, value = s[order], key[order], value[order]
    gain = np.where(key < 0, value, 0.0)
    inside = np.flatnonzero(key >= 0)
    if inside.size:
        # in each window, the running best reward as the threshold falls; gain = its rises
        frame = pd.DataFrame({"key": key[inside], "value": value[inside]})
        best = frame.groupby("key")["value"].cummax().to_numpy()
        previous = frame.assign(best=best).groupby("key")["best"].shift(1)
        previous = previous.fillna(-weights[2]).to_numpy()
        gain[inside] = best - previous
    total = base + np.cumsum(gain)
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # end of each tie group
    candidates = np.r_[base, total[last]]
    thresholds = np.r_[never, s[last]]
    k = int(np.argmax(candidates))  # first maximum = the highest threshold
    return float(thresholds[k]), float(candidates[k])


def score_nab_corpus(
    corpus: Sequence[tuple[np.ndarray, Sequence[tuple[int, int]]]],
) -> dict[str, dict[str, Any]]:
    """Per profile: the optimised corpus threshold and the normalised NAB score there.

    The score comes from :func:`deepad.metrics.nab_scores` at the chosen threshold (the
    sweep only chooses it): ``score`` is normalised with the null and perfect detectors
    of the same files. ``score_nab_runner`` normalises as NAB's runner does on a subset
    of its corpus (null baseline of the full corpus, :data:`NAB_FULL_CORPUS_WINDOWS`
    windows), the form of the nab/README reference. ``per_file`` holds raw scores.
    """
    out = {}
    for profile in NAB_PROFILES:
        threshold, _ = optimize_nab_threshold(corpus, profile)
        items = [(detections_from_scores(s, threshold), list(w), len(s)) for s, w in corpus]
        per_file = [nab_score(*item, profile) for item in items]
        try:
            result = nab_scores(items, profile)
        except ValueError:  # no window scored (e.g. only the no-anomaly files): 0/0
            result = NABResult(math.nan, float(sum(per_file)), math.nan, math.nan)
        null_full = -NAB_PROFILES[profile]["fnWeight"] * NAB_FULL_CORPUS_WINDOWS
        out[profile] = {
            "score": result.score,
            "score_nab_runner": 100.0 * (result.raw - null_full) / (result.perfect - null_full),
            "threshold": threshold,
            "raw": result.raw,
            "null": result.null,
            "perfect": result.perfect,
            "per_file": per_file,
        }
    return out


def write_nab_file(out_dir: Path, detector: str, file: NABFile, scores: np.ndarray) -> Path:
    """NAB's results layout: ``nab_results/<detector>/<category>/<detector>_<file>.csv``
    with ``timestamp,value,anomaly_score,label`` (label 1 inside a window)."""
    label = np.zeros(len(file.values), dtype=np.int64)
    for start, end in file.windows:
        label[start : end + 1] = 1
    folder = Path(out_dir) / "nab_results" / detector / file.category
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{detector}_{Path(file.name).name}"
    pd.DataFrame(
        {
            "timestamp": file.timestamps.strftime("%Y-%m-%d %H:%M:%S"),
            "value": file.values,
            "anomaly_score": scores,
            "label": label,
        }
    ).to_csv(path, index=False)
    return path


def _nab_detector_scores(
    name: str, seed: int, file: NABFile, factory: Factory
) -> tuple[np.ndarray, float, float]:
    """``(anomaly scores over the whole file, fit seconds, process seconds)``."""
    n = len(file.values)
    p = nab_probation_length(n)
    if name == "ref.zscore":
        start = time.perf_counter()
        scores = nab_reference_scores(file.values)
        return scores, 0.0, time.perf_counter() - start
    det = factory(name, seed)
    values = _columns(file.values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        det.fit(values[:p])
        fitted = time.perf_counter()
        raw = det.process(values[p:])
        unit = nab_unit_scores(det, raw)
        done = time.perf_counter()
    scores = np.zeros(n)
    scores[p:] = np.clip(unit, 0.0, 1.0)
    return scores, fitted - start, done - fitted


def run_nab(
    files: Sequence[NABFile],
    detectors: Sequence[str],
    seeds: Sequence[int] = (0,),
    peers: Sequence[str] = ("ref.zscore",),
    out_dir: str | Path | None = None,
    factory: Factory = make,
    echo: Echo = print,
) -> SuiteResult:
    """NAB: every file, every detector (and peer) and seed; one threshold per profile.

    A file on which a detector fails counts as never firing (its row says why).
    With ``out_dir`` the NAB results layout is written under ``out_dir/nab_results``.
    """
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    runs = [(d, s) for d in detectors for s in seeds] + [(p, 0) for p in peers]
    multi_seed = len(seeds) > 1
    for name, seed in runs:
        corpus = []
        file_rows = []
        for file in files:
            n = len(file.values)
            row: dict[str, Any] = {
                "detector": name,
                "seed": seed,
                "file": file.name,
                "n": n,
                "n_train": nab_probation_length(n),
                "n_windows": len(file.windows),
                "status": "ok",
                "error": "",
            }
            try:
                scores, fit_s, score_s = _nab_detector_scores(name, seed, file, factory)
            except Exception as exc:  # one file's failure costs that file, not the run
                scores, fit_s, score_s = np.zeros(n), math.nan, math.nan
                row.update(status="failed", error=_error(exc))
            row.update(fit_seconds=fit_s, score_seconds=score_s)
            corpus.append((scores, file.windows))
            file_rows.append(row)
            if out_dir is not None:
                label = f"{name}-seed{seed}" if multi_seed and not name.startswith("ref.") else name
                write_nab_file(Path(out_dir), label, file, scores)
        scored = score_nab_corpus(corpus)
        for i, row in enumerate(file_rows):
            for profile, result in scored.items():
                row[f"raw_{profile}"] = result["per_file"][i]
        rows += file_rows
        fit = float(np.nansum([r["fit_seconds"] for r in file_rows]))
        proc = float(np.nansum([r["score_seconds"] for r in file_rows]))
        points = sum(r["n"] - r["n_train"] for r in file_rows if r["status"] == "ok")
        entry: dict[str, Any] = {"detector": name, "seed": seed, "files": len(files)}
        entry["failed"] = sum(r["status"] != "ok" for r in file_rows)
        for profile, result in scored.items():
            entry[profile] = result["score"]
            entry[f"threshold_{profile}"] = result["threshold"]
            entry[f"raw_{profile}"] = result["raw"]
        for profile, result in scored.items():
            entry[f"nab_runner_{profile}"] = result["score_nab_runner"]
        entry.update(
            fit_seconds=fit,
            score_seconds=proc,
            total_seconds=fit + proc,
            us_per_point=1e6 * proc / points if points else math.nan,
            us_per_point_total=1e6 * (fit + proc) / points if points else math.nan,
        )
        summary.append(entry)
        echo(
            f"NAB {name} seed {seed}: standard {entry['standard']:.2f}, reward_low_FP "
            f"{entry['reward_low_fp']:.2f}, reward_low_FN {entry['reward_low_fn']:.2f} "
            f"({entry['failed']} failed, {fit + proc:.1f}s)"
        )
    notes = [
        "NAB: per file, the first 15% of steps (NAB's probationary period, at most 750) "
        "train the detector; the rest is scored as its continuation (`process`); "
        "anomaly_score = r / (r + 99th percentile of the calibration scores), kept only "
        f"where it beats the previous {NAB_ALARM_HORIZON} steps (`novel_peaks`: one alarm "
        "per sustained anomaly), 0 in probation (`nab_unit_scores`). "
        "One threshold per profile for the whole corpus, optimised over every distinct "
        "score (NAB's optimiser); scores from `deepad.metrics.nab_scores`.",
        "ref.zscore: the trivial z-score baseline of nab/README.md (reference on these 41 "
        "files: standard 45.08, reward_low_FP 30.79, reward_low_FN 55.79).",
    ]
    if any(math.isnan(entry["standard"]) for entry in summary):
        notes.append(
            "The files scored hold no anomaly window: the normalised NAB score is undefined (—)."
        )
    return SuiteResult("nab", rows, summary, notes)


# ===================================================================== UCR
def ucr_success(
    prediction: int, anom_start: int, anom_end: int, tolerance: int = UCR_TOLERANCE
) -> bool:
    """True when ``prediction`` lies within ``[anom_start - tolerance, anom_end + tolerance]``."""
    return anom_start - tolerance <= int(prediction) <= anom_end + tolerance


def discord_prediction(values: np.ndarray, train_end: int) -> tuple[int, int]:
    """Matrix-profile discord of the test part against the training prefix: ``(position, m)``.

    AB-join ``stumpy.stump(T_A=test, m, T_B=train, ignore_trivial=False)``; ``m`` is the
    dominant period of the prefix by autocorrelation (``dominant_period``, 10..400); the
    prediction is the centre of the top discord, ``train_end + index + m // 2``.
    """
    import stumpy

    from deepad.preprocess.series import dominant_period

    x = np.asarray(values, dtype=np.float64)
    train, test = x[:train_end], x[train_end:]
    m = int(np.clip(dominant_period(train, 10, 400), 10, 400))
    m = min(m, len(test), len(train))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        profile = stumpy.stump(T_A=test, m=m, T_B=train, ignore_trivial=False)
    dist = np.asarray(profile[:, 0], dtype=np.float64)
    dist[~np.isfinite(dist)] = -np.inf
    return train_end + int(np.argmax(dist)) + m // 2, m


def diff_prediction(values: np.ndarray, train_end: int) -> int:
    """The test step with the largest ``|x_t - x_{t-1}|`` (t >= train_end)."""
    x = np.asarray(values, dtype=np.float64)
    jump = np.abs(np.diff(x))[train_end - 1 :]  # jump[j] = |x[train_end + j] - x[...-1]|
    return train_end + int(np.nanargmax(jump))


def _ucr_one(
    name: str, seed: int, series: UCRSeries, factory: Factory
) -> tuple[int, float, float, dict]:
    extra: dict[str, Any] = {}
    start = time.perf_counter()
    if name == "ref.discord":
        pred, m = discord_prediction(series.values, series.train_end)
        extra["window"] = m
        return pred, 0.0, time.perf_counter() - start, extra
    if name == "ref.diff":
        return (
            diff_prediction(series.values, series.train_end),
            0.0,
            time.perf_counter() - start,
            extra,
        )
    det = factory(name, seed)
    offline = "position" in det.get_params()  # discords are located at their centre offline
    if offline:
        det.set_params(position="centre")
    values = _columns(series.values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det.fit(values[: series.train_end])
        fitted = time.perf_counter()
        if offline:
            scores = det.decision_function(values)[series.train_end :]
        else:
            scores = det.process(values[series.train_end :])
        scores = np.asarray(scores, dtype=np.float64)
    done = time.perf_counter()
    if not np.isfinite(scores).any():
        raise ValueError("every score is NaN or infinite")
    scores = np.where(np.isfinite(scores), scores, -np.inf)
    return series.train_end + int(np.argmax(scores)), fitted - start, done - fitted, extra


def run_ucr(
    series: Sequence[UCRSeries],
    detectors: Sequence[str],
    seeds: Sequence[int] = (0,),
    peers: Sequence[str] = ("ref.discord", "ref.diff"),
    factory: Factory = make,
    echo: Echo = print,
) -> SuiteResult:
    """UCR: fraction of series whose top-scoring test step is within ±100 of the anomaly."""
    rows: list[dict[str, Any]] = []
    runs = [(d, s) for d in detectors for s in seeds] + [(p, 0) for p in peers]
    for item in series:
        for name, seed in runs:
            row: dict[str, Any] = {
                "detector": name,
                "seed": seed,
                "series": item.key,
                "name": item.name,
                "n_train": item.train_end,
                "n_test": len(item.values) - item.train_end,
                "anom_start": item.anom_start,
                "anom_end": item.anom_end,
                "status": "ok",
                "error": "",
            }
            try:
                pred, fit_s, score_s, extra = _ucr_one(name, seed, item, factory)
                row.update(
                    prediction=pred, success=ucr_success(pred, item.anom_start, item.anom_end)
                )
                row.update(fit_seconds=fit_s, score_seconds=score_s, **extra)
            except Exception as exc:
                row.update(status="failed", error=_error(exc), prediction=-1, success=False)
                row.update(fit_seconds=math.nan, score_seconds=math.nan)
            rows.append(row)
            echo(
                f"UCR {item.key} {name} seed {seed}: "
                + (
                    f"{'solved' if row['success'] else 'missed'} (top {row['prediction']}, "
                    f"anomaly {item.anom_start}..{item.anom_end}, "
                    f"{row['fit_seconds'] + row['score_seconds']:.1f}s)"
                    if row["status"] == "ok"
                    else f"FAILED {row['error']}"
                )
            )
    summary = []
    frame = pd.DataFrame(rows)
    for name, seed in runs:
        part = frame[(frame["detector"] == name) & (frame["seed"] == seed)]
        points = float(part.loc[part["status"] == "ok", "n_test"].sum())
        fit, proc = float(part["fit_seconds"].sum()), float(part["score_seconds"].sum())
        summary.append(
            {
                "detector": name,
                "seed": seed,
                "series": len(part),
                "solved": int(part["success"].sum()),
                "accuracy": float(part["success"].mean()) if len(part) else math.nan,
                "failed": int((part["status"] != "ok").sum()),
                "fit_seconds": fit,
                "score_seconds": proc,
                "total_seconds": fit + proc,
                "us_per_point": 1e6 * proc / points if points else math.nan,
            }
        )
    notes = [
        "UCR: fit on [0, train_end), `process` the rest (detectors with a `position` "
        "parameter, the discord ones, locate offline: position='centre' and "
        "`decision_function` of the whole series); solved when the top-scoring test "
        f"step lies in [anom_start - {UCR_TOLERANCE}, anom_end + {UCR_TOLERANCE}] (0-based: "
        "the source's 1-based positions minus 1).",
        "ref.discord: stumpy AB-join of the test part against the training prefix, m = "
        "dominant period of the prefix (10..400), prediction = top discord + m//2. "
        "ref.diff: largest |x_t - x_{t-1}|. (Issue's figures on all 115: 0.496 and 0.374.)",
    ]
    if any(s.note for s in series):
        notes.append(
            "Series with notes: " + "; ".join(f"{s.key}: {s.note}" for s in series if s.note)
        )
    return SuiteResult("ucr", rows, summary, notes)


# ============================================================ multivariate
def hit_rate(
    contributions: np.ndarray, ranges: Sequence[InterpretationRange], ratio: float = HIT_RATE_RATIO
) -> float:
    """HitRate@ratio: per labelled range, the share of its metrics among the top
    ``floor(ratio * #labelled)`` channels ranked by contribution summed over the range;
    averaged over the ranges (NaN when there is none). Metrics are 1-based."""
    contrib = np.asarray(contributions, dtype=np.float64)
    hits = []
    for r in ranges:
        if r.start >= len(contrib):
            continue
        labelled = {d - 1 for d in r.metrics}
        total = np.nan_to_num(contrib[r.start : r.end + 1].sum(axis=0), nan=-np.inf)
        k = math.floor(ratio * len(labelled))
        top = np.argsort(-total, kind="stable")[:k]
        hits.append(len(labelled.intersection(top.tolist())) / len(labelled))
    return float(np.mean(hits)) if hits else math.nan


def _standardiser(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def pca_peer(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA reconstruction error (95% variance, standardised on train): ``(scores, per-channel)``."""
    from sklearn.decomposition import PCA

    mean, std = _standardiser(train)
    a, b = (train - mean) / std, (test - mean) / std
    model = PCA(n_components=0.95, svd_solver="full").fit(a)
    err = (b - model.inverse_transform(model.transform(b))) ** 2
    return err.sum(axis=1), err


def iforest_peer(
    train: np.ndarray, test: np.ndarray, seed: int, window: int = IFOREST_WINDOW
) -> np.ndarray:
    """IsolationForest on flattened windows of ``window`` steps ending at each step.

    The first test steps take their past from the end of train (the continuation).
    """
    from sklearn.ensemble import IsolationForest

    def windows(x: np.ndarray) -> np.ndarray:
        view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)
        return view.reshape(len(view), -1)

    mean, std = _standardiser(train)
    a, b = (train - mean) / std, (test - mean) / std
    if len(a) < window:
        raise ValueError(f"train has {len(a)} steps, fewer than the window of {window}")
    model = IsolationForest(random_state=seed).fit(windows(a))
    joined = np.concatenate([a[-(window - 1) :], b]) if window > 1 else b
    return -model.score_samples(windows(joined))


def _metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    if not np.isfinite(scores).all():
        raise ValueError(f"{int((~np.isfinite(scores)).sum())} score(s) are NaN or infinite")
    if labels.min() == labels.max():
        nan = math.nan
        return {"auroc": nan, "auprc": nan, "vus_pr": nan, "best_f1": nan, "pa_f1": nan}
    return {
        "auroc": auroc(labels, scores),
        "auprc": auprc(labels, scores),
        "vus_pr": vus_pr(labels, scores),
        "best_f1": best_f1(labels, scores)[0],
        "pa_f1": point_adjusted_f1(labels, scores)[0],
    }


def _explain_hit_rate(det: Any, entity: MultiSeries) -> float:
    """HitRate@150% of ``det.explain`` on concat(train, test), sliced to the test part.

    ``explain`` scores its input fresh, not as a continuation, so it is given the training
    series before the test part; the scores are causal, so the test rows see the same
    history as ``process`` gave them.
    """
    if not entity.interpretation:
        return math.nan
    joined = np.concatenate([entity.train, entity.test])
    explanation = det.explain(joined)
    contrib = explanation.contributions.to_numpy(dtype=np.float64)[len(entity.train) :]
    return hit_rate(contrib, entity.interpretation)


def run_multivariate(
    suite: str,
    entities: Sequence[MultiSeries],
    detectors: Sequence[str],
    seeds: Sequence[int] = (0,),
    peers: Sequence[str] = ("sklearn.PCA", "sklearn.IForest"),
    factory: Factory = make,
    echo: Echo = print,
    hit_rates: bool | None = None,
) -> SuiteResult:
    """Fit on each entity's train, score its test; per-entity metrics and their means.

    Entities that share one training array (SKAB) reuse one fitted detector, copied per
    entity so that each test part continues from the end of training. ``hit_rates``
    (default: when the entities carry interpretation labels) adds HitRate@150%.
    """
    if hit_rates is None:
        hit_rates = any(e.interpretation for e in entities)
    rows: list[dict[str, Any]] = []
    fitted: dict[tuple[str, int, int], tuple[Any, float]] = {}
    train_ids = [id(e.train) for e in entities]
    runs = [(d, s) for d in detectors for s in seeds] + [(p, s) for p in peers for s in seeds]
    for entity in entities:
        shared = train_ids.count(id(entity.train)) > 1
        for name, seed in runs:
            if name == "sklearn.PCA" and seed != seeds[0]:
                continue  # deterministic: once
            row: dict[str, Any] = {
                "detector": name,
                "seed": seed,
                "entity": entity.name,
                "n_train": len(entity.train),
                "n_test": len(entity.test),
                "n_channels": entity.test.shape[1],
                "anomaly_ratio": float(entity.labels.mean()),
                "status": "ok",
                "error": "",
            }
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scores, fit_s, score_s, hr, how = _multi_one(
                        name, seed, entity, factory, fitted, hit_rates, shared
                    )
                row.update(fit_seconds=fit_s, score_seconds=score_s)
                row.update(_metrics(entity.labels, scores))
                row.update(hit_rate=hr, hit_rate_from=how)
            except Exception as exc:
                row.update(status="failed", error=_error(exc), fit_seconds=math.nan)
                row.update(score_seconds=math.nan)
            rows.append(row)
            echo(
                f"{suite.upper()} {entity.name} {name} seed {seed}: "
                + (
                    f"AUROC {row['auroc']:.3f} AUPRC {row['auprc']:.3f} VUS-PR {row['vus_pr']:.3f} "
                    f"F1 {row['best_f1']:.3f} PA-F1 {row['pa_f1']:.3f}"
                    + (
                        f" HitRate@150% {row['hit_rate']:.3f}"
                        if not pd.isna(row.get("hit_rate"))
                        else ""
                    )
                    + f" ({row['fit_seconds'] + row['score_seconds']:.1f}s)"
                    if row["status"] == "ok"
                    else f"FAILED {row['error']}"
                )
            )
    frame = pd.DataFrame(rows)
    summary = []
    for (name, seed), part in frame.groupby(["detector", "seed"], sort=False):
        ok = part[part["status"] == "ok"]
        fit, proc = float(part["fit_seconds"].sum()), float(part["score_seconds"].sum())
        points = float(ok["n_test"].sum())
        entry: dict[str, Any] = {
            "detector": name,
            "seed": int(seed),
            "entities": len(part),
            "failed": int((part["status"] != "ok").sum()),
        }
        for metric in ("auroc", "auprc", "vus_pr", "best_f1", "pa_f1", "hit_rate"):
            entry[metric] = float(ok[metric].mean()) if metric in ok and len(ok) else math.nan
        entry.update(
            fit_seconds=fit,
            score_seconds=proc,
            total_seconds=fit + proc,
            us_per_point=1e6 * proc / points if points else math.nan,
        )
        summary.append(entry)
    notes = [
        f"{suite.upper()}: fit on the training part"
        + (" (the anomaly-free run, shared by every experiment)" if suite == "skab" else "")
        + ", `process` the test part as its continuation; metrics per entity, then their "
        "mean. best_f1 is point-wise, WITHOUT point adjustment; pa_f1 is the point-ADJUSTED "
        "F1 (inflated; shown only beside it). VUS-PR: deepad.metrics.vus_pr defaults "
        "(max buffer 200, 250 thresholds).",
        "Peers: sklearn.PCA = squared reconstruction error keeping 95% of the variance, "
        "standardised on train; sklearn.IForest = IsolationForest (random_state = seed) on "
        f"flattened windows of {IFOREST_WINDOW} steps (standardised on train).",
    ]
    if hit_rates:
        notes.append(
            "HitRate@150%: per interpretation-labelled range, the share of its metrics among "
            "the top floor(1.5 x #labelled) channels by contribution summed over the range; "
            "mean over ranges, then machines. Ours: `explain` on concat(train, test), sliced "
            "to the test part (explain starts fresh, so the training series is its history; "
            "the scores are causal). sklearn.PCA: per-channel squared reconstruction error."
        )
    return SuiteResult(suite, rows, summary, notes)


def _multi_one(
    name: str,
    seed: int,
    entity: MultiSeries,
    factory: Factory,
    fitted: dict[tuple[str, int, int], tuple[Any, float]],
    hit_rates: bool,
    shared: bool = False,
) -> tuple[np.ndarray, float, float, float, str]:
    """``(test scores, fit s, score s, HitRate, how it was explained)`` for one entity."""
    start = time.perf_counter()
    if name == "sklearn.PCA":
        scores, per_channel = pca_peer(entity.train, entity.test)
        hr = (
            hit_rate(per_channel, entity.interpretation)
            if hit_rates and entity.interpretation
            else math.nan
        )
        return (
            scores,
            0.0,
            time.perf_counter() - start,
            hr,
            "reconstruction error" if hit_rates else "",
        )
    if name == "sklearn.IForest":
        scores = iforest_peer(entity.train, entity.test, seed)
        return scores, 0.0, time.perf_counter() - start, math.nan, ""
    key = (name, seed, id(entity.train))
    fit_s = 0.0
    if key in fitted:
        det = copy.deepcopy(fitted[key][0])
    else:
        det = factory(name, seed)
        det.fit(entity.train)
        fit_s = time.perf_counter() - start
        if shared:  # kept (a copy, before any test step) for the next entities
            for stale in [k for k in fitted if k[2] != key[2]]:
                del fitted[stale]
            fitted[key] = (copy.deepcopy(det), fit_s)
    begin = time.perf_counter()
    scores = np.asarray(det.process(entity.test), dtype=np.float64)
    score_s = time.perf_counter() - begin
    hr, how = math.nan, ""
    if hit_rates and entity.interpretation:
        try:
            hr, how = _explain_hit_rate(det, entity), "explain(concat(train, test))[test]"
        except (NotImplementedError, ValueError) as exc:
            how = f"no explanation: {_error(exc)}"
    return scores, fit_s, score_s, hr, how


# ================================================================== suites
@dataclass
class SeriesBenchConfig:
    """What ``deepad bench <suite>`` was asked to run."""

    suite: str
    detectors: list[str] | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    peers: str | None = None
    out_dir: Path | None = None
    data_root: Path | None = None
    limit: int | None = None
    only: list[str] | None = None
    command: str = ""
    #: parameters set on every detector that has them (``--param``); the rest keep defaults
    params: dict[str, Any] = field(default_factory=dict)


def default_out(suite: str) -> Path:
    """``bench-results/<suite>-<YYYY-MM-DD>``."""
    return Path("bench-results") / f"{suite}-{date.today().isoformat()}"


def run_suite(
    config: SeriesBenchConfig, echo: Echo = print, factory: Factory = make
) -> tuple[SuiteResult, Path]:
    """Load the suite's data, run it, write the results; returns them and summary.md's path."""
    if config.suite not in SUITES:
        raise ValueError(f"unknown suite {config.suite!r}; choose from {list(SUITES)}")
    if not config.seeds:
        raise ValueError("give at least one seed")
    detectors = resolve_detectors(config.detectors)
    peers = resolve_peers(config.suite, config.peers)
    if not detectors and not peers:
        raise ValueError("no detectors selected (--detectors none and --peers none)")
    root = data_root(config.data_root)
    out_dir = Path(config.out_dir) if config.out_dir is not None else default_out(config.suite)
    seeds = list(dict.fromkeys(config.seeds))
    if config.suite == "nab":
        data: Any = load_nab(root, config.only, config.limit)
    elif config.suite == "ucr":
        data = load_ucr(root, config.only, config.limit)
    else:
        data = MULTIVARIATE_LOADERS[config.suite](root, config.only, config.limit)
    echo(
        f"{config.suite}: {len(data)} file(s) from {root}, detectors {detectors}, peers "
        f"{peers}, seeds {seeds}; results in {out_dir}"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    if config.suite == "nab":
        result = run_nab(data, detectors, seeds, peers, out_dir, factory, echo)
    elif config.suite == "ucr":
        result = run_ucr(data, detectors, seeds, peers, factory, echo)
    else:
        result = run_multivariate(config.suite, data, detectors, seeds, peers, factory, echo)
    result.config = {
        "suite": config.suite,
        "detectors": detectors,
        "peers": peers,
        "seeds": seeds,
        "data_root": str(root),
        "limit": config.limit,
        "only": config.only,
        "command": config.command,
        "params": config.params,
        "files": [getattr(d, "name", None) if config.suite != "ucr" else d.key for d in data],
    }
    summary = write_results(out_dir, result)
    echo(summary.read_text(encoding="utf-8"))
    return result, summary


# ================================================================= writing
_TITLES = {
    "nab": "NAB (Numenta Anomaly Benchmark)",
    "ucr": "UCR anomaly archive",
    "smd": "SMD (Server Machine Dataset)",
    "smap": "NASA SMAP",
    "msl": "NASA MSL",
    "skab": "SKAB (Skoltech Anomaly Benchmark)",
}


def _mean_over_seeds(summary: Sequence[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(summary))
    if frame.empty:
        return frame
    numeric = [
        c
        for c in frame.columns
        if c not in ("detector", "seed") and pd.api.types.is_numeric_dtype(frame[c])
    ]
    grouped = frame.groupby("detector", sort=False)
    out = grouped[numeric].mean()
    out["seeds"] = grouped["seed"].nunique()
    return out.reset_index()


def summary_markdown(result: SuiteResult) -> str:
    """The Markdown summary: the leaderboard (mean over seeds), notes, the environment."""
    board = _mean_over_seeds(result.summary)
    lines = [f"# deepad bench {result.suite}: {_TITLES[result.suite]}", ""]
    if result.config.get("command"):
        lines += [f"Command: `{result.config['command']}`", ""]
    if result.suite == "nab":
        header = ["detector", "seeds", "standard", "reward_low_FP", "reward_low_FN"]
        header += ["thresholds (std / lowFP / lowFN)", "failed", "fit+process s", "µs/point"]
        rows = [
            [
                r["detector"],
                int(r["seeds"]),
                _num(r["standard"], 2),
                _num(r["reward_low_fp"], 2),
                _num(r["reward_low_fn"], 2),
                " / ".join(_num(r[f"threshold_{p}"], 4) for p in NAB_PROFILES),
                f"{r['failed']:g}",
                _seconds(r["total_seconds"]),
                _num(r["us_per_point"], 1),
            ]
            for _, r in board.iterrows()
        ]
    elif result.suite == "ucr":
        header = [
            "detector",
            "seeds",
            "solved",
            "series",
            "accuracy",
            "failed",
            "fit+process s",
            "µs/point",
        ]
        rows = [
            [
                r["detector"],
                int(r["seeds"]),
                f"{r['solved']:g}",
                f"{r['series']:g}",
                _num(r["accuracy"], 3),
                f"{r['failed']:g}",
                _seconds(r["total_seconds"]),
                _num(r["us_per_point"], 1),
            ]
            for _, r in board.iterrows()
        ]
    else:
        header = [
            "detector",
            "seeds",
            "AUROC",
            "AUPRC",
            "VUS-PR",
            "best F1 (no PA)",
            "PA-F1 (point-adjusted)",
        ]
        with_hr = "hit_rate" in board and board["hit_rate"].notna().any()
        header += ["HitRate@150%"] if with_hr else []
        header += ["failed", "fit+process s", "µs/point"]
        rows = []
        for _, r in board.iterrows():
            row = [r["detector"], int(r["seeds"])]
            row += [_num(r[m]) for m in ("auroc", "auprc", "vus_pr", "best_f1", "pa_f1")]
            row += [_num(r["hit_rate"])] if with_hr else []
            row += [f"{r['failed']:g}", _seconds(r["total_seconds"]), _num(r["us_per_point"], 1)]
            rows.append(row)
    lines += [*_table(header, rows), ""]
    if result.suite == "nab":
        lines += [
            "### The same raw scores normalised as NAB's runner does on a subset",
            "",
            "NAB's runner takes the null baseline from its full 58-file corpus "
            f"({NAB_FULL_CORPUS_WINDOWS} windows) and `perfect` from the files scored; the "
            "nab/README reference (ref.zscore: 45.08 / 30.79 / 55.79) is in this form. Not "
            "comparable with the published full-corpus scoreboard either.",
            "",
        ]
        lines += _table(
            ["detector", "standard", "reward_low_FP", "reward_low_FN"],
            [
                [r["detector"], *(_num(r[f"nab_runner_{p}"], 2) for p in NAB_PROFILES)]
                for _, r in board.iterrows()
            ],
        )
        lines += [""]
    if result.suite not in ("nab", "ucr"):
        per = pd.DataFrame(result.rows)
        if not per.empty and per["entity"].nunique() <= 40:
            lines += ["## VUS-PR per entity (mean over seeds)", ""]
            pivot = per.pivot_table(
                index="entity", columns="detector", values="vus_pr", aggfunc="mean", sort=False
            )
            lines += _table(
                ["entity", *pivot.columns],
                [[e, *(_num(v) for v in vals)] for e, vals in pivot.iterrows()],
            )
            lines += [""]
    failed = [r for r in result.rows if r.get("status") != "ok"]
    if failed:
        lines += ["## Failures", ""]
        key = "file" if result.suite == "nab" else "series" if result.suite == "ucr" else "entity"
        lines += _table(
            ["detector", "seed", key, "error"],
            [[r["detector"], r["seed"], r[key], r["error"]] for r in failed[:50]],
        )
        lines += [""]
    lines += ["## Protocol", ""] + [f"- {note}" for note in result.notes] + [""]
    env = environment()
    lines += [
        f"Run {env['date']} on {env['platform']} ({env['cpu_count']} CPUs), "
        f"Python {env['python']}, "
        f"deepad {env['deepad']} ({env.get('deepad_git')}), torch {env['torch']}, "
        f"scikit-learn {env['scikit-learn']}. Every detector at its defaults"
        + (
            f" except {result.config['params']} (where it has the parameter)"
            if result.config.get("params")
            else ""
        )
        + " (`random_state` = seed); nothing tuned per file. Data: see the README of each "
        "folder in the data root for sources and citations.",
        "",
    ]
    return "\n".join(lines)


def write_results(out_dir: str | Path, result: SuiteResult) -> Path:
    """``per_file.csv``, ``summary.csv``, ``results.json`` and ``summary.md`` in ``out_dir``."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(result.rows).to_csv(folder / "per_file.csv", index=False)
    pd.DataFrame(result.summary).to_csv(folder / "summary.csv", index=False)
    payload = {
        "suite": result.suite,
        "config": result.config,
        "environment": environment(),
        "summary": result.summary,
        "rows": result.rows,
        "notes": result.notes,
    }
    (folder / "results.json").write_text(
        json.dumps(_plain(payload), indent=1, allow_nan=False), encoding="utf-8"
    )
    path = folder / "summary.md"
    path.write_text(summary_markdown(result), encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python ones and NaN/inf as None (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


__all__ = [
    "PEERS",
    "SUITES",
    "SeriesBenchConfig",
    "SuiteResult",
    "default_out",
    "diff_prediction",
    "discord_prediction",
    "hit_rate",
    "iforest_peer",
    "make",
    "nab_reference_scores",
    "nab_unit_scores",
    "optimize_nab_threshold",
    "pca_peer",
    "resolve_detectors",
    "resolve_peers",
    "run_multivariate",
    "run_nab",
    "run_suite",
    "run_ucr",
    "score_nab_corpus",
    "summary_markdown",
    "ucr_success",
    "write_nab_file",
    "write_results",
]
