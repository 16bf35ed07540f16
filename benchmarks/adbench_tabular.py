"""Superseded by ``deepad bench tabular`` (src/deepad/bench/); kept as a forwarding note.

The runner does what this script did, plus a child process and timeout per job,
resumable results (runs.csv), the ``labeled`` setting, PyOD peers beyond these seven and
a summary.md. This script now forwards its old options to it:

    python benchmarks/adbench_tabular.py --datasets 6_cardio --seeds 0 1 2
    # is now
    deepad bench tabular ../shared/data/adbench --datasets 6_cardio --settings oneclass \\
        --seeds 0 1 2 --out bench-results/cardio

One difference: every detector, peers included, now gets the same MinMaxScaler'd rows
(this script gave PyOD a StandardScaler of its own); deepad's own scores are unchanged
since it standardises internally.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deepad.cli import main as deepad_main

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"


def main() -> int:
    """Translate the old options and run ``deepad bench tabular``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["6_cardio"])
    parser.add_argument("--seeds", nargs="+", default=["0", "1", "2"])
    parser.add_argument("--setting", choices=["oneclass", "unsupervised"], default="oneclass")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    args = parser.parse_args()
    argv = [
        "bench", "tabular", str(args.data_dir), "--datasets", *args.datasets,
        "--settings", args.setting, "--seeds", *args.seeds,
        "--out", "bench-results/adbench_tabular",
    ]  # fmt: skip
    print("benchmarks/adbench_tabular.py is superseded; running: deepad " + " ".join(argv))
    return deepad_main(argv)


if __name__ == "__main__":
    sys.exit(main())
