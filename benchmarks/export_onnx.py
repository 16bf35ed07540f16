"""ONNX export on real data: parity, int8 and pruning accuracy and size, batch throughput
and single-row latency against PyTorch eager, measured side by side in one process.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/export_onnx.py --out docs/results/export-DATE

Protocol (../shared/data/README.md, ADBench one-class): stratified 70/30 split, fit on
the training rows with y = 0, score the test rows; seeds 0..2 for the accuracy tables.
Every timing is the median of interleaved repeats, one thread for torch and ONNX Runtime.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from sklearn.model_selection import train_test_split

import deepad
from deepad.core.timing import median_seconds
from deepad.export import export_onnx
from deepad.export.exporter import relative_difference
from deepad.export.graph import FEATURES
from deepad.export.network import network_graph
from deepad.metrics import auroc
from deepad.models.torch_base import TorchDetector
from deepad.runtime import load_exported

DATA = Path(__file__).resolve().parents[2] / "shared/data/adbench"
#: datasets of 20-170 columns (the int8 target asks for at least five)
QUANTIZE_SETS = [
    "6_cardio",
    "18_Ionosphere",
    "43_WDBC",
    "30_satellite",
    "31_satimage-2",
    "35_SpamBase",
    "24_mnist",
    "25_musk",
]
PARITY_SETS = ["6_cardio", "30_satellite"]
TORCH_DETECTORS = sorted(n for n, c in deepad.DETECTORS.items() if issubclass(c, TorchDetector))


def split(name: str, seed: int):
    with np.load(DATA / f"{name}.npz", allow_pickle=False) as data:
        X, y = data["X"].astype(np.float64), data["y"].astype(int)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    return X_train, y_train, X_test, y_test


def parity_table(folder: Path) -> list[dict]:
    """Every torch detector, default params: ONNX vs torch on the held-out test rows."""
    rows = []
    for name in PARITY_SETS:
        X_train, y_train, X_test, _ = split(name, 0)
        for detector_name in TORCH_DETECTORS:
            cls = deepad.DETECTORS[detector_name]
            detector = cls(random_state=0)
            if cls.uses_labels:
                detector.fit(X_train, y_train)
            else:
                detector.fit(X_train[y_train == 0])
            target = folder / f"{name}-{detector_name}"
            export_onnx(detector, target, X_train)
            out = load_exported(target).score(X_test)
            expected = detector.decision_function(X_test)
            relative = relative_difference(out["score"], expected)
            nonzero = expected != 0  # rows scoring exactly 0 have no plain relative difference
            plain = np.abs(out["score"] - expected)[nonzero] / np.abs(expected[nonzero])
            rows.append(
                {
                    "dataset": name,
                    "detector": detector_name,
                    "test_rows": len(X_test),
                    "max_relative_difference": float(relative.max()),
                    "max_plain_relative_difference": float(plain.max()),
                    "decision_flips": int((out["decision"] != detector.predict(X_test)).sum()),
                    "max_p_value_difference": float(
                        np.abs(out["p_value"] - detector.p_values(X_test)).max()
                    ),
                }
            )
            print("parity", rows[-1], flush=True)
    return rows


def zipped_bytes(path: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp, "m.zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(path, "model.onnx")
        return archive.stat().st_size


def shrink_table(folder: Path, seeds: list[int]) -> list[dict]:
    """AutoEncoder fp32 / int8 / 50%-pruned: test AUROC and sizes, per dataset and seed."""
    rows = []
    for name in QUANTIZE_SETS:
        for seed in seeds:
            X_train, y_train, X_test, y_test = split(name, seed)
            normal = X_train[y_train == 0]
            detector = deepad.AutoEncoder(random_state=seed).fit(normal)
            fit_rows = np.setdiff1d(np.arange(len(normal)), detector.calibration_rows_)
            base = folder / f"{name}-{seed}"
            fp32 = export_onnx(detector, base / "fp32", normal)
            int8 = export_onnx(detector, base / "int8", normal, quantize="int8")
            dynamic = export_onnx(detector, base / "int8-dynamic", normal, quantize="int8-dynamic")
            pruned = export_onnx(
                detector,
                base / "pruned",
                normal[fit_rows],
                prune=0.5,
                calibration=normal[detector.calibration_rows_],
            )
            scores = {
                kind: load_exported(base / kind).decision_function(X_test)
                for kind in ("fp32", "int8", "int8-dynamic", "pruned")
            }
            alone = {  # the first 50 test rows scored one at a time
                kind: np.array(
                    [
                        load_exported(base / kind).decision_function(X_test[i : i + 1])[0]
                        for i in range(50)
                    ]
                )
                for kind in ("int8", "int8-dynamic")
            }
            row = {
                "dataset": name,
                "seed": seed,
                "features": X_train.shape[1],
                "auroc_torch": float(auroc(y_test, detector.decision_function(X_test))),
                **{
                    f"auroc_{k.replace('-', '_')}": float(auroc(y_test, s))
                    for k, s in scores.items()
                },
                **{
                    f"alone_vs_batch_{k.replace('-', '_')}": float(
                        np.max(np.abs(a - scores[k][:50]) / np.abs(scores[k][:50]))
                    )
                    for k, a in alone.items()
                },
                "network_bytes_fp32": fp32.report["size"]["fp32_network_bytes"],
                "network_bytes_int8": int8.report["size"]["int8_network_bytes"],
                "network_bytes_int8_dynamic": dynamic.report["size"]["int8_network_bytes"],
                "file_bytes_fp32": fp32.report["file_bytes"],
                "file_bytes_int8": int8.report["file_bytes"],
                "zipped_bytes_fp32": zipped_bytes(fp32.path),
                "zipped_bytes_pruned": zipped_bytes(pruned.path),
                "int8_rank_correlation": int8.report["int8"]["rank_correlation"],
            }
            rows.append(row)
            print("shrink", row, flush=True)
    return rows


def sgemm_gflops(repeats: int = 5) -> float:
    """Float32 GEMM rate on one thread through torch's BLAS (2048 x 2048 matrices)."""
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    torch.mm(a, b)
    seconds = median_seconds(lambda: torch.mm(a, b), repeats)
    return 2 * 2048**3 / seconds / 1e9


def peak_gflops(flops_per_cycle: int = 64) -> float:
    """One core's float32 peak: the clock /proc/cpuinfo reports x FLOP per cycle. 64 for
    AVX-512 with two FMA pipes (16 lanes x 2 FLOP x 2 pipes, AMD Zen 5 here); boost
    clocks above the reported one make the true peak higher."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1]) * 1e6 * flops_per_cycle / 1e9
    raise RuntimeError("no cpu MHz in /proc/cpuinfo")


def network_flops(detector: TorchDetector) -> int:
    """Multiply-adds x 2 of the network's linear layers for one row."""
    return sum(
        2 * m.in_features * m.out_features
        for m in detector.module_.modules()
        if isinstance(m, torch.nn.Linear)
    )


def speed_table(folder: Path, repeats: int) -> dict:
    """AutoEncoder on satellite (36 columns) and mnist (100): batch 4096 and one row."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    limit = peak_gflops()
    result: dict = {
        "peak_gflops_one_core": limit,
        "torch_sgemm_gflops_one_thread": sgemm_gflops(),
        "sets": [],
    }
    for name in ("30_satellite", "24_mnist"):
        X_train, y_train, _, _ = split(name, 0)
        normal = X_train[y_train == 0]
        detector = deepad.AutoEncoder(random_state=0).fit(normal)
        target = folder / f"speed-{name}"
        export_onnx(detector, target, normal)
        rng = np.random.default_rng(0)
        raw = normal[rng.integers(0, len(normal), 4096)]
        features = detector.preprocessor_.transform(raw)
        tensor = torch.from_numpy(features)
        network = ort.InferenceSession(
            network_graph(detector, features.shape[1]).SerializeToString(), options
        )
        full = load_exported(target, threads=1)
        module = detector.module_.eval()

        def torch_network(detector=detector, module=module, tensor=tensor):
            with torch.inference_mode():
                detector._score_batch(module, tensor)

        timings = {
            "torch_network": [],
            "onnx_network": [],
            "torch_end_to_end": [],
            "onnx_end_to_end": [],
        }
        jobs = {
            "torch_network": torch_network,
            "onnx_network": lambda n=network, f=features: n.run(None, {FEATURES: f}),
            "torch_end_to_end": lambda d=detector, r=raw: d.predict(r),
            "onnx_end_to_end": lambda m=full, r=raw: m.score(r),
        }
        for job in jobs.values():
            job()
        for _ in range(repeats):  # interleaved, so drifts of the machine hit all alike
            for key, job in jobs.items():
                timings[key].append(median_seconds(job, 1))
        medians = {k: float(np.median(v)) for k, v in timings.items()}
        flops = network_flops(detector)
        record = {c: float(v) for c, v in zip(detector.feature_names_in_, raw[0], strict=True)}
        one_row = raw[:1]
        single = {"onnx_record": [], "torch_row": [], "onnx_run": []}
        feeds = {"numeric": one_row}
        for _ in range(200):
            full.score_record(record)
        for _ in range(2000):
            t = time.perf_counter()
            full.score_record(record)
            single["onnx_record"].append(time.perf_counter() - t)
            t = time.perf_counter()
            full._session.run(["score", "p_value", "decision"], feeds)
            single["onnx_run"].append(time.perf_counter() - t)
        for _ in range(300):
            t = time.perf_counter()
            detector.predict(one_row)
            single["torch_row"].append(time.perf_counter() - t)
        entry = {
            "dataset": name,
            "features": features.shape[1],
            "flops_per_row": flops,
            **{f"{k}_rows_per_second": 4096 / v for k, v in medians.items()},
            "network_speedup": medians["torch_network"] / medians["onnx_network"],
            "end_to_end_speedup": medians["torch_end_to_end"] / medians["onnx_end_to_end"],
            "onnx_network_share_of_limit": 4096 / medians["onnx_network"] * flops / (limit * 1e9),
            **{f"single_{k}_median_us": float(np.median(v)) * 1e6 for k, v in single.items()},
        }
        result["sets"].append(entry)
        print("speed", entry, flush=True)
    return result


def summarize(out: Path) -> str:
    """Markdown tables of the three parts (those that ran), written to OUT/summary.md."""
    lines: list[str] = []
    if (out / "parity.json").exists():
        rows = json.loads((out / "parity.json").read_text())
        lines += [
            "| dataset | detector | test rows | max rel. diff | plain rel. diff | max p diff | "
            "decision flips |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['dataset']} | {r['detector']} | {r['test_rows']} | "
            f"{r['max_relative_difference']:.1e} | {r['max_plain_relative_difference']:.1e} | "
            f"{r['max_p_value_difference']:.1e} | {r['decision_flips']} |"
            for r in rows
        ]
        lines.append("")
    if (out / "shrink.json").exists():
        rows = json.loads((out / "shrink.json").read_text())
        lines += [
            "| dataset | cols | AUROC torch | fp32 | int8 | int8 - fp32 | int8-dynamic | "
            "dynamic - fp32 | pruned 50% | int8/fp32 network | int8/fp32 file | "
            "dynamic/fp32 network | pruned/fp32 zipped | alone vs batch: int8 | dynamic |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name in dict.fromkeys(r["dataset"] for r in rows):
            group = [r for r in rows if r["dataset"] == name]

            def mean(key, group=group):
                return float(np.mean([r[key] for r in group]))

            lines.append(
                f"| {name} | {group[0]['features']} | {mean('auroc_torch'):.4f} | "
                f"{mean('auroc_fp32'):.4f} | {mean('auroc_int8'):.4f} | "
                f"{mean('auroc_int8') - mean('auroc_fp32'):+.4f} | "
                f"{mean('auroc_int8_dynamic'):.4f} | "
                f"{mean('auroc_int8_dynamic') - mean('auroc_fp32'):+.4f} | "
                f"{mean('auroc_pruned'):.4f} | "
                f"{mean('network_bytes_int8') / mean('network_bytes_fp32'):.2f} | "
                f"{mean('file_bytes_int8') / mean('file_bytes_fp32'):.2f} | "
                f"{mean('network_bytes_int8_dynamic') / mean('network_bytes_fp32'):.2f} | "
                f"{mean('zipped_bytes_pruned') / mean('zipped_bytes_fp32'):.2f} | "
                f"{max(r['alone_vs_batch_int8'] for r in group):.0e} | "
                f"{max(r['alone_vs_batch_int8_dynamic'] for r in group):.0e} |"
            )
        lines.append("")
    if (out / "speed.json").exists():
        speed = json.loads((out / "speed.json").read_text())
        lines += [
            f"Peak of one core: {speed['peak_gflops_one_core']:.0f} GFLOP/s (reported clock x 64 "
            f"FLOP/cycle); torch's float32 GEMM on one thread: "
            f"{speed['torch_sgemm_gflops_one_thread']:.0f} GFLOP/s.",
            "",
            "| dataset | cols | FLOP/row | torch net rows/s | ONNX net rows/s | net speed-up | "
            "ONNX share of peak | torch end-to-end | ONNX end-to-end | e2e speed-up | "
            "1 row: record | 1 row: session.run | 1 row: torch predict |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {e['dataset']} | {e['features']} | {e['flops_per_row']:,} | "
            f"{e['torch_network_rows_per_second']:,.0f} | "
            f"{e['onnx_network_rows_per_second']:,.0f} | "
            f"{e['network_speedup']:.2f}x | {e['onnx_network_share_of_limit']:.0%} | "
            f"{e['torch_end_to_end_rows_per_second']:,.0f} | "
            f"{e['onnx_end_to_end_rows_per_second']:,.0f} | {e['end_to_end_speedup']:.2f}x | "
            f"{e['single_onnx_record_median_us']:.0f} us | "
            f"{e['single_onnx_run_median_us']:.0f} us | "
            f"{e['single_torch_row_median_us']:.0f} us |"
            for e in speed["sets"]
        ]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", choices=["parity", "shrink", "speed"], nargs="+")
    parser.add_argument("--summarize-only", action="store_true")
    args = parser.parse_args()
    if args.summarize_only:
        print(summarize(Path(args.out)))
        return
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = args.only or ["parity", "shrink", "speed"]
    work = Path(tempfile.mkdtemp(prefix="deepad-export-bench-"))
    try:
        if "speed" in parts:
            (out / "speed.json").write_text(json.dumps(speed_table(work, args.repeats), indent=1))
        if "shrink" in parts:
            (out / "shrink.json").write_text(json.dumps(shrink_table(work, args.seeds), indent=1))
        if "parity" in parts:
            (out / "parity.json").write_text(json.dumps(parity_table(work), indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(summarize(out))


if __name__ == "__main__":
    main()
