"""``deepad`` command line: fit, score, export, explain, report, info, models, demo, registry,
bench.

Every command has ``--help``. Errors in the user's input are printed as one line
(``deepad: error: ...``) with exit status 2, never as a traceback; set DEEPAD_DEBUG=1
to see the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepad._version import __version__
from deepad.cli_logs import LOG_FLAGS, add_log_options
from deepad.cli_monitor import add_monitor_command
from deepad.cli_registry import add_registry_command
from deepad.cli_robustness import add_robustness_commands
from deepad.cli_serve import add_serve_command


class UsageError(Exception):
    """A problem with what the user asked for; printed without a traceback."""


# ------------------------------------------------------------------- helpers
def _parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` strings to a dict; values are read as JSON when they parse as JSON."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects key=value, got {pair!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], flag: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UsageError(f"{flag} names column(s) {missing} not in the data: {list(frame.columns)}")


def _read_labels(series: pd.Series, column: str, semi_supervised: bool) -> np.ndarray:
    """The label column as ints: 1 anomaly, 0 normal and, for semi-supervised detectors,
    -1 or an empty cell for rows nobody labelled."""
    values = pd.to_numeric(series, errors="coerce")
    if semi_supervised:
        values = values.where(series.notna(), -1)
        allowed, wording = {-1, 0, 1}, "1 (anomaly), 0 (normal), -1 or empty (unknown)"
    else:
        allowed, wording = {0, 1}, "only 0 (normal) and 1 (anomaly)"
    if values.isna().any() or not set(np.unique(values)).issubset(allowed):
        raise UsageError(f"label column {column!r} must hold {wording}")
    return values.to_numpy(dtype=np.int64)


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    elif suffix in (".csv", ".tsv", ".txt"):
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    else:
        raise UsageError(f"cannot tell the output format of {path.name}: use .csv or .parquet")


def _read_calibration_size(raw: str) -> int | float | str:
    """``--calibration-size`` text as 'auto', a row count or a fraction."""
    if raw == "auto":
        return raw
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            raise UsageError(
                f"--calibration-size takes 'auto', a row count or a fraction, got {raw!r}"
            ) from None


def _rate(raw: str) -> float:
    """An argparse type for --fpr / --fdr: a float in (0, 1)."""
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {raw!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {raw!r}")
    return value


def _add_threshold_options(parser: argparse.ArgumentParser, when: str) -> None:
    """--fpr / --fdr, mutually exclusive."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--fpr",
        type=_rate,
        metavar="ALPHA",
        help=f"{when} flag rows whose conformal p-value is <= ALPHA: at most that share of "
        "new normal rows is flagged (default: the detector's contamination)",
    )
    group.add_argument(
        "--fdr",
        type=_rate,
        metavar="Q",
        help=f"{when} flag rows by Benjamini-Hochberg over each scored file: the expected "
        "share of false alarms among the flagged rows is at most Q",
    )


def _row_ids(frame: pd.DataFrame, id_columns: Sequence[str], lineage: dict) -> pd.DataFrame | None:
    """The id columns to copy into an output: those asked for, else the columns excluded
    at fit time that this file has; None when there are none (outputs use row numbers)."""
    if id_columns:
        _require_columns(frame, id_columns, "--id-column")
        return frame[list(id_columns)].reset_index(drop=True)
    known = [c for c in lineage.get("id_columns", []) if c in frame.columns]
    return frame[known].reset_index(drop=True) if known else None


def _with_ids(
    frame: pd.DataFrame, id_columns: Sequence[str], lineage: dict, outputs: pd.DataFrame
) -> pd.DataFrame:
    """``outputs`` behind the row ids (``_row_ids``, else row numbers). An id column named
    like an output column (``score``, ``label``, ...) is kept as ``input_<name>``, not
    overwritten."""
    ids = _row_ids(frame, id_columns, lineage)
    if ids is None:
        ids = pd.DataFrame({"row": range(len(frame))})
    ids = ids.rename(columns={c: f"input_{c}" for c in ids.columns if c in outputs.columns})
    return pd.concat([ids, outputs.reset_index(drop=True)], axis=1)


def _decisions(
    calibrator: Any, scores: np.ndarray, fpr: float | None = None, fdr: float | None = None
) -> pd.DataFrame:
    """score, p_value (when the bundle is calibrated) and label (1 = flagged) per row."""
    columns: dict[str, Any] = {"score": scores}
    if calibrator.n_calibration:
        columns["p_value"] = calibrator.p_values(scores)
    columns["label"] = calibrator.decide(scores, fpr=fpr, fdr=fdr)
    return pd.DataFrame(columns)


def _add_id_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--id-column",
        action="append",
        default=[],
        metavar="COLUMN",
        help="column(s) to copy as row ids (default: the columns excluded at "
        "fit time, or row numbers)",
    )


# ------------------------------------------------------------------ commands
def cmd_fit(args: argparse.Namespace) -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from deepad.io.tables import read_table
    from deepad.models import get_detector_class

    if args.model is None and args.modality not in _DEFAULT_MODELS:
        raise UsageError("--model is required for tables and series (see `deepad models`)")
    if args.confidence is not None and args.fpr is None:
        raise UsageError("--confidence goes with --fpr")
    cls = get_detector_class(args.model or _DEFAULT_MODELS[args.modality])
    if args.modality and cls.modality != args.modality:
        raise UsageError(
            f"{cls.__name__} is a {cls.modality} detector, not {args.modality}; see `deepad models`"
        )
    params = _parse_params(args.param)
    unknown = sorted(set(params) - set(cls().get_params()))
    if unknown:
        raise UsageError(
            f"{cls.__name__} has no parameter(s) {unknown}; it takes: {sorted(cls().get_params())}"
        )
    if cls.modality != "log":
        refuse_options(args, LOG_FLAGS, f"applies to log detectors; {cls.__name__} is not one")
    if cls.modality in ("image", "log") and args.sample is not None:
        raise UsageError("--sample draws table rows; this detector reads images or logs")
    if args.engine == "ray" and cls.modality != "table":
        raise UsageError("--engine ray trains table detectors; this one reads other data")
    if args.engine != "ray":
        refuse_options(
            args, {"--address": "address", "--workers": "workers"}, "goes with --engine ray"
        )
    if cls.modality == "image":
        from deepad.cli_images import fit_images

        fit_images(args, cls, params)
        return
    if cls.modality == "log":
        from deepad.cli_logs import fit_sessions

        fit_sessions(args, cls, params)
        return
    if args.pattern:
        raise UsageError("--pattern selects image files; this detector reads a table")
    sampled: dict[str, Any] = {}
    if args.sample is not None:  # many files, one machine: fit on a uniform sample
        from deepad.distributed import sample_rows

        if cls.modality == "series":
            raise UsageError("--sample draws rows at random; a series needs its order")
        frame, sampled = sample_rows(args.data, args.sample, seed=args.sample_seed)
        print(
            f"sampled {sampled['sampled_rows']:,} of {sampled['total_rows']:,} rows from "
            f"{sampled['files']} file(s) (seed {sampled['seed']})"
        )
    else:
        frame = read_table(args.data)
    dropped = list(args.exclude)
    if args.label_column:
        dropped.append(args.label_column)
    _require_columns(frame, dropped, "--label-column/--exclude")
    features = frame.drop(columns=dropped)
    labels = None
    if args.label_column:
        labels = _read_labels(frame[args.label_column], args.label_column, cls.uses_labels)
    detector = cls(**params)
    calibration_size = _read_calibration_size(args.calibration_size)
    start = time.perf_counter()
    # unsupervised detectors train on every row but leave rows labelled 1 out of calibration
    if cls.modality == "series":
        _require_columns(frame, [args.time_column] if args.time_column else [], "--time-column")
        detector.fit(
            features, labels, time_column=args.time_column, calibration_size=calibration_size
        )
    elif args.time_column:
        raise UsageError(f"--time-column is for series detectors; {cls.__name__} scores rows")
    elif args.engine == "ray":  # data-parallel training on Ray Train, the same bundle
        from deepad.distributed import fit as fit_on_ray

        if args.workers is not None and args.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {args.workers}")
        fit_on_ray(
            detector,
            features,
            labels,
            num_workers=args.workers or 2,
            address=args.address,
            calibration_size=calibration_size,
        )
    else:
        detector.fit(features, labels, calibration_size=calibration_size)
    seconds = time.perf_counter() - start
    apply_threshold_options(detector, args)
    known = labels >= 0 if labels is not None else None
    if known is not None and 0 < labels[known].sum() < known.sum():
        scores = detector.decision_scores_[known]
        detector.metrics_ = {
            "training_auroc": float(roc_auc_score(labels[known], scores)),
            "training_auprc": float(average_precision_score(labels[known], scores)),
        }
    bundle = detector.save(
        args.out,
        source=str(Path(args.data).resolve()),
        label_column=args.label_column,
        id_columns=list(args.exclude) + ([args.time_column] if args.time_column else []),
        fit_seconds=round(seconds, 3),
        **sampled,
    )
    calibrator = detector.calibrator_
    unit = "steps" if cls.modality == "series" else "rows"
    print(
        f"fitted {cls.__name__} on {len(features)} {unit} x {detector.n_features_in_} "
        f"{'channels' if unit == 'steps' else 'columns'} in {seconds:.1f}s; p-values from "
        f"{calibrator.n_calibration} {unit} held out of training"
    )
    print(f"threshold {detector.threshold_:.6g}: {calibrator.describe()}")
    for name, value in getattr(detector, "metrics_", {}).items():
        print(f"{name}: {value:.4f}")
    print(f"bundle written to {bundle}")


def apply_threshold_options(detector: Any, args: argparse.Namespace) -> None:
    """``deepad fit --fpr ALPHA [--confidence C]`` or ``--fdr Q``: the rule saved in the bundle."""
    if args.fpr is not None:
        detector.set_threshold(fpr=args.fpr, confidence=args.confidence)
    elif args.fdr is not None:
        detector.set_threshold(fdr=args.fdr)


def refuse_options(args: argparse.Namespace, flags: dict[str, str], why: str) -> None:
    """UsageError naming the first of ``flags`` (option -> attribute) that was given."""
    for flag, attribute in flags.items():
        if getattr(args, attribute, None):
            raise UsageError(f"{flag} {why}")


#: the detector ``deepad fit --modality M`` uses when --model is not given
_DEFAULT_MODELS = {"image": "PatchCore", "log": "DeepLog"}

#: what one row of each modality's output is, for messages
_UNITS = {"table": "table rows", "series": "time steps", "image": "images", "log": "sessions"}


def _load_bundle(args: argparse.Namespace) -> Any:
    """The detector of the bundle a command names."""
    from deepad.bundle import load

    return load(args.bundle)


def _load_inputs(args: argparse.Namespace, detector: Any = None) -> tuple[Any, dict, pd.DataFrame]:
    """The bundle's detector, its lineage and the data file of a scoring command."""
    from deepad.bundle import read_manifest
    from deepad.io.tables import read_table

    if detector is None:
        detector = _load_bundle(args)
    return detector, read_manifest(args.bundle).get("lineage", {}), read_table(args.data)


def _check_top_option(top: int) -> None:
    if top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")


def cmd_score(args: argparse.Namespace) -> None:
    from deepad.runtime.model import is_exported

    if args.engine == "ray":
        _score_on_ray(args)
        return
    refuse_options(args, {"--address": "address", "--workers": "workers"}, "goes with --engine ray")
    if is_exported(args.bundle):
        _score_exported(args)
        return
    detector = _load_bundle(args)
    scores_what = _UNITS[detector.modality]
    if args.continue_stream and detector.modality != "series":
        raise UsageError(f"--continue is for series bundles; this bundle scores {scores_what}")
    if args.maps and detector.modality != "image":
        raise UsageError(f"--maps is for image bundles; this bundle scores {scores_what}")
    if detector.modality == "image":
        from deepad.cli_images import score_images

        score_images(args, detector)
        return
    if detector.modality == "log":
        from deepad.cli_logs import score_sessions

        score_sessions(args, detector)
        return
    detector, lineage, frame = _load_inputs(args, detector)
    if args.continue_stream:  # the file follows the training series (or the saved stream)
        scores = detector.process(frame, learn=False)
    else:
        scores = detector.decision_function(frame)
    calibrator = detector.calibrator_
    decisions = _decisions(calibrator, scores, fpr=args.fpr, fdr=args.fdr)
    result = _with_ids(frame, args.id_column, lineage, decisions)
    out = Path(args.out)
    _write_table(result, out)
    if args.fpr is not None:
        rule = calibrator.describe("fpr", args.fpr)
    elif args.fdr is not None:
        rule = calibrator.describe("fdr", args.fdr)
    else:
        rule = calibrator.describe()
    print(f"scored {len(result)} rows, flagged {int(result['label'].sum())} ({rule}); wrote {out}")


def _score_on_ray(args: argparse.Namespace) -> None:
    """``deepad score BUNDLE 'data/*.parquet' --engine ray --out DIR``: Ray Data, Parquet out."""
    from deepad.distributed import score

    refuse_options(
        args,
        {"--fdr": "fdr"},
        "does not go with --engine ray: Benjamini-Hochberg needs every score at once",
    )
    refuse_options(
        args,
        {"--maps": "maps", "--continue": "continue_stream"},
        "does not go with --engine ray, which scores table rows",
    )
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    info = score(
        args.bundle,
        args.data,
        args.out,
        id_columns=args.id_column or None,
        fpr=args.fpr,
        address=args.address,
        num_workers=args.workers,
    )
    rate = info["rows"] / info["seconds"] if info["seconds"] else float("nan")
    print(
        f"scored {info['rows']:,} rows on Ray with {info['workers']} worker(s) in "
        f"{info['seconds']:.1f}s ({rate:,.0f} rows/s); wrote Parquet files into {info['out']}"
    )


def _score_exported(args: argparse.Namespace) -> None:
    """``deepad score`` on a model written by ``deepad export``: ONNX Runtime, no torch."""
    from deepad.io.tables import read_table
    from deepad.runtime import load_exported

    model = load_exported(args.bundle)
    frame = read_table(args.data)
    out = model.score(frame, fpr=args.fpr, fdr=args.fdr)
    columns: dict[str, Any] = {"score": out["score"]}
    threshold = model.metadata["threshold"]
    if threshold["calibration_rows"]:
        columns["p_value"] = out["p_value"]
    columns["label"] = out["decision"]
    lineage = model.metadata.get("lineage", {})
    result = _with_ids(frame, args.id_column, lineage, pd.DataFrame(columns))
    path = Path(args.out)
    _write_table(result, path)
    if args.fpr is not None or args.fdr is not None:
        rule = f"fpr {args.fpr:g}" if args.fpr is not None else f"fdr {args.fdr:g}"
    else:
        rule = threshold["description"]
    print(
        f"scored {len(result)} rows with the exported {model.detector} "
        f"({model.metadata['variant']}, ONNX Runtime), flagged {int(result['label'].sum())} "
        f"({rule}); wrote {path}"
    )


def cmd_export(args: argparse.Namespace) -> None:
    from deepad.bundle import load, read_manifest
    from deepad.export import export_onnx
    from deepad.io.tables import read_table

    detector = load(args.bundle)
    frame = read_table(args.data)
    labels = None
    if args.label_column:
        _require_columns(frame, [args.label_column], "--label-column")
        labels = _read_labels(frame[args.label_column], args.label_column, False)
        frame = frame.drop(columns=args.label_column)
    calibration = None if args.calibration is None else read_table(args.calibration)
    result = export_onnx(
        detector,
        args.out,
        frame,
        quantize=args.quantize,
        prune=args.prune,
        calibration=calibration,
        labels=labels,
        tolerance=args.tolerance,
        lineage=read_manifest(args.bundle).get("lineage", {}),
    )
    report = result.report
    parity = report["parity"]
    lines = [
        f"exported {report['detector']} ({report['variant']}) to {result.path}: "
        f"{report['file_bytes'] / 1024:.1f} KiB",
        f"parity on {report['sample_rows']} rows of {args.data}: max relative score "
        f"difference {parity['max_relative_difference']:.2g} (tolerance {parity['tolerance']:g}), "
        f"{parity['decision_flips']} decision(s) differ",
    ]
    if "int8" in report:
        int8 = report["int8"]
        lines.append(
            f"{int8['mode']}: network {report['size']['int8_to_fp32']:.0%} of fp32; rank "
            f"correlation {int8['rank_correlation']:.4f}, decisions agree on "
            f"{int8['decision_agreement']:.1%}"
            f" (flag rate {int8['flag_rate']:.1%} vs {int8['detector_flag_rate']:.1%})"
            + (
                ""
                if int8["recalibrated"]
                else "; calibration kept from fp32 (--calibration FILE recomputes it)"
            )
        )
    if "prune" in report:
        pruned = report["prune"]
        lines.append(
            f"pruned {pruned['zeroed']} of {pruned['weights']} weights, fine-tuned "
            f"{pruned['fine_tune_epochs']} epochs, recalibrated on {args.calibration}"
        )
    if "auroc" in report:
        auroc = report["auroc"]
        lines.append(
            f"AUROC on {args.data}: bundle {auroc['detector']:.4f}, "
            f"exported {auroc['exported']:.4f}"
        )
    speed = report["speed"]
    lines.append(
        f"speed on the sample: {speed['onnx_rows_per_second']:,.0f} rows/s "
        f"({speed['speedup']:.1f}x the bundle's); report in {result.path.parent / 'export.json'}"
    )
    print("\n".join(lines))


def cmd_explain(args: argparse.Namespace) -> None:
    _check_top_option(args.top)
    detector = _load_bundle(args)
    if detector.modality == "log":
        from deepad.cli_logs import explain_sessions

        explain_sessions(args, detector)
        return
    if detector.modality == "image":
        from deepad.cli_images import score_images

        if args.out is None:
            raise UsageError("explaining images needs --out FILE (.csv or .parquet)")
        score_images(args, detector, top=args.top)
        return
    detector, lineage, frame = _load_inputs(args, detector)
    explanation = detector.explain(frame, top=args.top, method=args.method)
    table = explanation.top().reset_index(drop=True)
    decisions = _decisions(detector.calibrator_, explanation.scores)
    outputs = pd.concat([decisions, table.drop(columns="score")], axis=1)
    result = _with_ids(frame, args.id_column, lineage, outputs)
    if args.out is None:
        result.to_csv(sys.stdout, index=False)
        return
    out = Path(args.out)
    _write_table(result, out)
    print(
        f"explained {len(result)} rows by {explanation.method} "
        f"(top {min(args.top, explanation.contributions.shape[1])} columns each); wrote {out}"
    )


def cmd_report(args: argparse.Namespace) -> None:
    from deepad.report import build_report, write_report

    _check_top_option(args.top)
    detector = _load_bundle(args)
    if detector.modality in ("image", "log"):  # a folder or a log file, not a table
        scores_what = _UNITS[detector.modality]
        refuse_options(
            args,
            {"--label-column": "label_column", "--id-column": "id_column"},
            f"needs a table; this bundle scores {scores_what}",
        )
        text = build_report(detector, args.data, top=args.top, source=str(args.data))
        out = write_report(text, args.out)
        size = out.stat().st_size / 1e6
        print(f"report on {args.data} ({scores_what}) written to {out.resolve()} ({size:.2f} MB)")
        return
    detector, lineage, frame = _load_inputs(args, detector)
    labels = None
    if args.label_column:
        _require_columns(frame, [args.label_column], "--label-column")
        labels = _read_labels(frame[args.label_column], args.label_column, semi_supervised=False)
    text = build_report(
        detector,
        frame,
        labels=labels,
        ids=_row_ids(frame, args.id_column, lineage),
        top=args.top,
        source=str(args.data),
    )
    out = write_report(text, args.out)
    size = out.stat().st_size / 1e6
    print(f"report on {len(frame)} rows written to {out.resolve()} ({size:.2f} MB)")


def cmd_info(args: argparse.Namespace) -> None:
    from deepad.bundle import read_manifest

    manifest = read_manifest(args.bundle)
    if args.json:
        print(json.dumps(manifest, indent=2))
        return
    detector, training = manifest["detector"], manifest["training_data"]
    print(f"bundle:        {Path(args.bundle).resolve()}")
    print(f"detector:      {detector['class']}  (modality: {manifest['modality']})")
    print(f"created:       {manifest['created_at']} with deepad {manifest['deepad_version']}")
    print(f"format:        {manifest['format_version']}")
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(detector["params"].items()))
    print(f"params:        {params}")
    units = {"image": "images", "log": "sessions"}.get(manifest["modality"], "rows")
    print(f"training data: {training['rows']} {units}, fingerprint {training['fingerprint'][:23]}")
    threshold = manifest["threshold"]
    rule = threshold.get("rule", "contamination")
    level = threshold.get("level", threshold.get("contamination"))
    print(
        f"threshold:     {float(threshold['value']):.6g} ({rule}"
        + ("" if level is None else f" {level:g}")
        + f"; {threshold.get('calibration_rows', 0)} calibration rows)"
    )
    schema = manifest["input_schema"]
    if manifest["modality"] == "image":
        print(
            f"input images:  resized to {schema['image_size']}x{schema['image_size']}, "
            f"{schema['channels']} channel(s)"
            + (f", files matching {schema['pattern']!r}" if schema.get("pattern") else "")
        )
    elif manifest["modality"] == "log":
        reader = schema.get("reader")
        if reader is None:
            print(f"input sessions: event ids, {len(schema['events'])} seen in training")
        else:
            rule = ", ".join(f"{k}={v!r}" for k, v in reader["options"].items() if v is not None)
            print(
                f"input logs:    raw lines ({rule}); {len(reader['parser']['clusters'])} templates"
            )
    else:
        print("input columns:")
    for column in schema.get("columns", []):
        detail = (
            f"{len(column['categories'])} categories"
            if column["kind"] == "categorical"
            else (
                f"mean {column['mean']:.4g}, std {column['scale']:.4g}"
                + (", has missing-indicator" if column["missing_indicator"] else "")
            )
        )
        print(f"  {column['name']:<24} {column['kind']:<12} {column['dtype']:<10} {detail}")
    for name, value in manifest.get("metrics", {}).items():
        print(f"metric {name}: {value:.4f}")
    for key, value in manifest.get("lineage", {}).items():
        print(f"lineage {key}: {value}")


def cmd_models(args: argparse.Namespace) -> None:
    from deepad.models import DETECTORS

    width = max(len(name) for name in DETECTORS)
    for name, cls in DETECTORS.items():
        print(f"{name:<{width}}  {cls.modality:<6}  {cls.summary}")


def cmd_demo(args: argparse.Namespace) -> None:
    from deepad.demo import run_demo

    start = time.perf_counter()
    run_demo(args.out)
    print(f"demo finished in {time.perf_counter() - start:.1f}s")


def cmd_bench_tabular(args: argparse.Namespace) -> None:
    from deepad.bench import BenchConfig, run_benchmark, write_summary

    if args.summarize_only:
        print(f"wrote {write_summary(args.out)}")
        return
    if args.data_dir is None:
        raise UsageError("bench tabular needs DATA_DIR (a folder of .npz files)")
    config = BenchConfig(
        data_dir=Path(args.data_dir),
        out_dir=Path(args.out),
        datasets=args.datasets,
        settings=args.settings,
        seeds=args.seeds,
        detectors=args.detectors,
        peers=args.peers,
        timeout=args.timeout,
        max_train_rows=args.max_train_rows,
        threads=args.threads,
        calibration_size=_read_calibration_size(args.calibration_size),
        fresh=args.fresh,
        command=shlex.join(["deepad", *getattr(args, "argv", [])]),
    )
    try:
        run_benchmark(config, echo=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # runs.csv keeps every finished job; rerun resumes


def _comma_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def cmd_bench_series(args: argparse.Namespace) -> None:
    from deepad.bench.series_runners import SeriesBenchConfig, make_with, run_suite

    def flat(values: Sequence[str] | None) -> list[str] | None:
        return None if values is None else [v for raw in values for v in _comma_list(raw)]

    try:
        seeds = [int(s) for s in flat(args.seeds) or []]
    except ValueError:
        raise UsageError(f"--seeds takes integers, got {' '.join(args.seeds)!r}") from None
    config = SeriesBenchConfig(
        suite=args.suite,
        detectors=flat(args.detectors),
        seeds=seeds,
        peers=args.peers,
        out_dir=None if args.out is None else Path(args.out),
        data_root=args.data_root,
        limit=args.limit,
        only=flat(args.only),
        command=shlex.join(["deepad", *getattr(args, "argv", [])]),
        params=_parse_params(args.param),
    )
    factory = make_with(config.params)
    try:
        run_suite(config, echo=lambda line: print(line, flush=True), factory=factory)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _add_bench_series(suites: Any) -> None:
    """``deepad bench nab|ucr|smd|smap|msl|skab``: the runners of deepad.bench.series_runners."""
    from deepad.bench.series_runners import SUITE_HELP

    for suite, text in SUITE_HELP.items():
        parser = suites.add_parser(
            suite,
            help=text.replace("%", "%%"),  # argparse %-formats help (not descriptions)
            description=f"{text}. Every detector at its defaults, one configuration for all "
            "files, the suite's peers beside them. Prints a Markdown table and writes "
            "per_file.csv, summary.csv, results.json and summary.md to --out.",
        )
        parser.add_argument(
            "--detectors",
            nargs="+",
            metavar="NAME",
            help="series detectors (comma or space separated; default: every one in "
            "deepad.models.SERIES_DETECTORS; `none` for peers only)",
        )
        parser.add_argument(
            "--peers", metavar="none|all|LIST", help="peers to run beside them (default: all)"
        )
        parser.add_argument("--seeds", nargs="+", default=["0"], metavar="SEED", help="default: 0")
        parser.add_argument(
            "--out", metavar="DIR", help=f"results folder (default: bench-results/{suite}-DATE)"
        )
        parser.add_argument(
            "--data-root",
            metavar="DIR",
            help="folder holding nab/, ucr_anomaly_archive/, smd/, smap_msl/, skab/ "
            "(default: $DEEPAD_DATA, else ../shared/data)",
        )
        parser.add_argument("--limit", type=int, metavar="N", help="only the first N files")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="set a parameter on every detector that has it (e.g. smoothing=1), "
            "repeatable; the others keep their defaults; recorded in the command line",
        )
        parser.add_argument(
            "--only",
            "--series",
            nargs="+",
            metavar="NAME",
            help="only these files (NAB file stems, UCR keys such as s001, SMD machines, "
            "SMAP/MSL channels, SKAB experiments such as valve1/0)",
        )
        parser.set_defaults(func=cmd_bench_series)


def cmd_bench_mtd(args: argparse.Namespace) -> None:
    from deepad.bench.image_runners import PEERS, run_mtd
    from deepad.models import IMAGE_DETECTORS

    detectors = [d for raw in args.detectors for d in _comma_list(raw)] if args.detectors else None
    if detectors is None:
        detectors = list(IMAGE_DETECTORS)
    elif detectors == ["none"]:
        detectors = []
    peers = list(PEERS) if args.peers in (None, "all") else []
    if args.peers not in (None, "all", "none"):
        peers = _comma_list(args.peers)
    _, summary = run_mtd(
        detectors,
        peers,
        data=args.data_root,
        limit=args.limit,
        params=_parse_params(args.param),
        out_dir=args.out,
        command=shlex.join(["deepad", *getattr(args, "argv", [])]),
        echo=lambda line: print(line, flush=True),
    )
    print(summary.read_text(encoding="utf-8"))


def _add_bench_mtd(suites: Any) -> None:
    """``deepad bench mtd``: deepad.bench.image_runners on the magnetic-tile set."""
    parser = suites.add_parser(
        "mtd",
        help="image detectors on magnetic-tile defects: image and pixel AUROC, speed",
        description="Train on a fixed 70%% of MT_Free, test on the rest and every defect "
        "image; image AUROC and pixel AUROC per defect class and overall, fit time and "
        "ms per image, with a per-pixel z-score peer beside them.",
    )
    parser.add_argument(
        "--detectors", nargs="+", metavar="NAME", help="default: every image detector"
    )
    parser.add_argument("--peers", metavar="none|all|LIST", help="default: all")
    parser.add_argument("--out", metavar="DIR", help="default: bench-results/mtd-DATE")
    parser.add_argument(
        "--data-root", metavar="DIR", help="folder holding magnetic_tile/ (default: ../shared/data)"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="at most N images per class")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a parameter on every detector that has it, repeatable",
    )
    parser.set_defaults(func=cmd_bench_mtd)


def _add_bench(commands: Any) -> None:
    """``deepad bench tabular`` (and the series suites): the runners of deepad.bench."""
    from deepad.bench.protocol import SETTINGS

    bench = commands.add_parser(
        "bench",
        help="benchmark the detectors against PyOD peers on labelled datasets",
        description="Benchmark deepad's detectors, with PyOD's beside them, on labelled data.",
    )
    suites = bench.add_subparsers(dest="suite", required=True, metavar="SUITE")
    tabular = suites.add_parser(
        "tabular",
        help="ADBench-style .npz tables: test AUROC/AUPRC per dataset, setting, detector, seed",
        description="Run every (dataset, setting, detector, seed) job of the ADBench tabular "
        "protocol, each in its own process with a timeout. Results are appended to "
        "OUT/runs.csv one job at a time; rerunning the same command skips the jobs already "
        "there, so a stopped run continues. Writes OUT/per_dataset.csv and OUT/summary.md "
        "(leaderboard per setting, AUROC per dataset, failures); child output goes to "
        "OUT/jobs.log.",
    )
    tabular.add_argument(
        "data_dir",
        nargs="?",
        metavar="DATA_DIR",
        help="folder of .npz files holding X (rows x features) and y (1 = anomaly), "
        "e.g. ../shared/data/adbench (not needed with --summarize-only)",
    )
    tabular.add_argument(
        "--datasets",
        nargs="+",
        metavar="NAME",
        help="file stems to run, e.g. 6_cardio (default: all)",
    )
    tabular.add_argument(
        "--settings",
        nargs="+",
        choices=list(SETTINGS),
        default=list(SETTINGS),
        metavar="SETTING",
        help="unsupervised (fit on all training rows), oneclass (on the normal ones), "
        "labeled (all rows, 5%% of the anomalies labelled) (default: all three)",
    )
    tabular.add_argument(
        "--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="SEED", help="default: 0 1 2"
    )
    tabular.add_argument(
        "--detectors",
        nargs="+",
        metavar="NAME",
        help="deepad detectors to run (default: all, see `deepad models`; `none` for peers only)",
    )
    tabular.add_argument(
        "--peers",
        metavar="none|all|LIST",
        help="PyOD peers: none, all, or a comma list such as KNN,IForest "
        "(default: all when pyod is installed, i.e. `pip install deepad[bench]`)",
    )
    tabular.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="kill a job after this long and record it as failed (default: 600)",
    )
    tabular.add_argument(
        "--max-train-rows",
        type=int,
        default=100_000,
        metavar="N",
        help="subsample larger training sets (uniformly, with the seed) for fitting only "
        "(default: 100000)",
    )
    tabular.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help=f"torch (and BLAS) threads per job (default: all {os.cpu_count()} CPUs)",
    )
    tabular.add_argument(
        "--calibration-size",
        default="auto",
        metavar="N|FRACTION|auto",
        help="training rows deepad's detectors hold out to calibrate p-values, as in "
        "`deepad fit` (default: auto); 0 fits them on every row, as PyOD's peers are, "
        "and leaves the threshold columns empty",
    )
    tabular.add_argument(
        "--out",
        default="bench-results",
        metavar="DIR",
        help="results folder (default: bench-results)",
    )
    tabular.add_argument(
        "--fresh",
        action="store_true",
        help="ignore earlier results in OUT (runs.csv is kept as runs.csv.old)",
    )
    tabular.add_argument(
        "--summarize-only",
        action="store_true",
        help="only regenerate OUT/per_dataset.csv and OUT/summary.md from OUT/runs.csv",
    )
    tabular.set_defaults(func=cmd_bench_tabular)
    _add_bench_series(suites)
    _add_bench_mtd(suites)


# -------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepad", description="Anomaly detection with deep learning."
    )
    parser.add_argument("--version", action="version", version=f"deepad {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = commands.add_parser("fit", help="fit a detector on a CSV/Parquet table, save a bundle")
    fit.add_argument(
        "data",
        help="training data: .csv or .parquet, a folder of good images, or a log file (raw "
        "lines with a session rule, or one session of event ids per line)",
    )
    fit.add_argument(
        "--model",
        help="detector name (see `deepad models`); required except with --modality image "
        "(default there: PatchCore)",
    )
    fit.add_argument(
        "--modality",
        choices=["table", "series", "image", "log"],
        help="what the data is (default: the detector's kind)",
    )
    fit.add_argument(
        "--pattern",
        metavar="GLOB",
        help="image folders: only files matching GLOB, e.g. '*.jpg' when masks lie beside "
        "the images (kept in the bundle for scoring folders)",
    )
    fit.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detector parameter, repeatable; values are JSON (e.g. epochs=20, "
        "hidden_dims=[64,32]) or plain strings",
    )
    fit.add_argument("--out", required=True, help="bundle directory to write")
    fit.add_argument(
        "--label-column",
        help="label column, excluded from the features: 1 = anomaly, 0 = normal; semi-supervised "
        "detectors (DeepSAD, DevNet) learn from it and also take -1 or empty for unknown; "
        "the others train on every row and only record training AUROC/AUPRC; rows labelled "
        "1 never calibrate the p-values",
    )
    fit.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="COLUMN",
        help="column to leave out (ids, timestamps), repeatable; "
        "`deepad score` writes these as row ids",
    )
    fit.add_argument(
        "--calibration-size",
        default="auto",
        metavar="N|FRACTION|auto",
        help="training rows held out to calibrate p-values and thresholds: a count, a "
        "fraction, or auto (20%%, at most 2000); 0 for none (default: auto)",
    )
    _add_threshold_options(fit, "saved in the bundle:")
    fit.add_argument(
        "--confidence",
        type=_rate,
        metavar="C",
        help="with --fpr: a stricter threshold whose false-positive rate is <= ALPHA for a "
        "share C of calibration draws (e.g. 0.9), not only on average",
    )
    fit.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="ray: train a torch table detector data-parallel on Ray Train (needs "
        "deepad[ray]); the bundle is the same as a local fit's",
    )
    fit.add_argument("--workers", type=int, help="with --engine ray: training workers (default 2)")
    fit.add_argument(
        "--address", help="with --engine ray: the cluster to join (default: a local Ray)"
    )
    fit.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="tables in many files (a folder or a glob of Parquet/CSV): fit on N rows drawn "
        "uniformly without replacement from all of them (recorded in the bundle's lineage)",
    )
    fit.add_argument("--sample-seed", type=int, default=0, help="seed of --sample (default 0)")
    add_log_options(fit)
    fit.add_argument(
        "--time-column",
        metavar="COLUMN",
        help="series detectors: the timestamp column (rows are put in time order; the other "
        "numeric columns are the channels)",
    )
    fit.set_defaults(func=cmd_fit)

    score = commands.add_parser("score", help="score a table with a saved bundle")
    score.add_argument(
        "bundle", help="bundle directory written by `deepad fit`, or a `deepad export` folder"
    )
    score.add_argument(
        "data", help="data to score: .csv or .parquet, an image folder or file, or a log file"
    )
    score.add_argument(
        "--maps",
        metavar="DIR",
        help="image bundles: write a PNG heat-map overlay per image into DIR",
    )
    score.add_argument(
        "--out",
        required=True,
        help="output file, .csv or .parquet: ids, score, p_value (when calibrated), label",
    )
    _add_id_option(score)
    _add_threshold_options(score, "for this file, instead of the bundle's rule:")
    score.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="ray: score Parquet/CSV files (a folder, a glob or a file) on Ray Data with an "
        "actor pool, writing a folder of Parquet files to --out (needs deepad[ray]; rows "
        "come back unordered, with their id columns)",
    )
    score.add_argument(
        "--address",
        help="with --engine ray: the cluster to join ('auto', or ray://HOST:10001); default: "
        "a local Ray started for this job",
    )
    score.add_argument(
        "--workers", type=int, help="with --engine ray: scoring actors (default: CPUs - 1)"
    )
    score.add_argument(
        "--continue",
        dest="continue_stream",
        action="store_true",
        help="series bundles: score the file as the continuation of the training series "
        "(full history from its first step) instead of on its own",
    )
    score.set_defaults(func=cmd_score)

    export = commands.add_parser(
        "export", help="export a torch bundle to ONNX (parity-checked; int8, pruning)"
    )
    export.add_argument("bundle", help="bundle directory written by `deepad fit`")
    export.add_argument(
        "--data",
        required=True,
        help="rows with the training columns, .csv or .parquet (the training file is the "
        "natural choice): a sample checks parity, pruning fine-tunes on them",
    )
    export.add_argument("--out", required=True, help="folder to write model.onnx and export.json")
    export.add_argument("--format", choices=["onnx"], default="onnx", help="only onnx for now")
    export.add_argument(
        "--quantize",
        choices=["int8", "int8-dynamic"],
        help="int8: int8 weights, float arithmetic (a row scores the same in any batch); "
        "int8-dynamic: ONNX Runtime's dynamic quantization (int8 activations per batch)",
    )
    export.add_argument(
        "--prune",
        type=float,
        metavar="SHARE",
        help="zero this share of the smallest weights (e.g. 0.5), then fine-tune; needs "
        "--calibration",
    )
    export.add_argument(
        "--calibration",
        metavar="FILE",
        help="normal rows the model never trained on: recompute the p-values and threshold "
        "for a pruned or int8 model",
    )
    export.add_argument(
        "--label-column", help="0/1 column of --data: report AUROC before and after"
    )
    export.add_argument(
        "--tolerance",
        type=float,
        default=1e-4,
        help="largest relative score difference allowed between the ONNX model and the "
        "bundle (default 1e-4); a larger one refuses the export",
    )
    export.set_defaults(func=cmd_export)

    explain = commands.add_parser(
        "explain", help="name the columns behind each row's score, with typical values"
    )
    explain.add_argument("bundle", help="bundle directory written by `deepad fit`")
    explain.add_argument("data", help="data to explain: .csv or .parquet, or a log file")
    explain.add_argument(
        "--top", type=int, default=3, help="contributors listed per row (default 3)"
    )
    explain.add_argument(
        "--method",
        default="auto",
        help="explanation method (default: the detector's own; see the README's "
        "'Explanations' for each detector's choices)",
    )
    explain.add_argument(
        "--out",
        help="output file, .csv or .parquet (default: CSV on standard output): ids, score, "
        "p_value, label, then feature_i, contribution_i, share_i, value_i, typical_i per "
        "contributor and a readable explanation",
    )
    _add_id_option(explain)
    explain.set_defaults(func=cmd_explain)

    report = commands.add_parser(
        "report", help="write a self-contained HTML report of a bundle scoring its data"
    )
    report.add_argument("bundle", help="bundle directory written by `deepad fit`")
    report.add_argument(
        "data", help="data to score: .csv or .parquet (tables, series), an image folder, a log"
    )
    report.add_argument("--out", required=True, help="HTML file to write")
    report.add_argument(
        "--label-column",
        help="0/1 column of known anomalies: adds ROC and precision-recall curves",
    )
    report.add_argument(
        "--top", type=int, default=20, help="most anomalous rows listed, explained (default 20)"
    )
    _add_id_option(report)
    report.set_defaults(func=cmd_report)

    info = commands.add_parser("info", help="describe a saved bundle")
    info.add_argument("bundle", help="bundle directory")
    info.add_argument("--json", action="store_true", help="print the raw manifest")
    info.set_defaults(func=cmd_info)

    models = commands.add_parser("models", help="list the detectors and what each is good for")
    models.set_defaults(func=cmd_models)

    demo = commands.add_parser("demo", help="fit and evaluate on a bundled real dataset")
    demo.add_argument("--out", default="deepad-demo-bundle", help="where to write the bundle")
    demo.set_defaults(func=cmd_demo)

    add_registry_command(commands)
    add_serve_command(commands)
    add_monitor_command(commands)
    add_robustness_commands(commands)
    _add_bench(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepad`` command; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # the command line as typed, for records such as bench summaries
    try:
        args.func(args)
    except BrokenPipeError:  # `deepad info BUNDLE | head`: the reader left; not an error
        sys.stderr.close()
        return 0
    except (UsageError, ValueError, FileNotFoundError, ImportError) as exc:
        if os.environ.get("DEEPAD_DEBUG"):
            raise
        print(f"deepad: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
