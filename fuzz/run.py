"""Fuzz deepad's readers, preprocessing, bundle loading and CLI with atheris (libFuzzer).

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/run.py --all --seconds 225 --out fuzz-results   # 8 x 225 s = 30 min
    .venv/bin/python fuzz/run.py csv --seconds 60                         # one target

Each target (``fuzz/targets.py``) runs in its own process, coverage-guided over deepad's
own code, starting from a corpus of valid inputs. An input that raises anything but a
clear error, runs longer than ``--timeout`` seconds or takes the process over
``--rss-mb`` is a crash: libFuzzer writes it to ``OUT/<target>/crash-*`` (or
``timeout-*``, ``oom-*``) and the target's run fails. The summary lists each target's
executions and outcome; the exit status is 1 when any target crashed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _fuzz_one(name: str, seconds: int, timeout: int, rss_mb: int, out: Path) -> None:
    """In this process: atheris over one target (it exits when done)."""
    import atheris

    with atheris.instrument_imports(include=["deepad"]):
        import deepad
        import deepad.bundle.store
        import deepad.cli
        import deepad.io.images
        import deepad.io.logs
        import deepad.io.tables
        import deepad.preprocess.tabular  # noqa: F401
    from fuzz.targets import TARGETS, seed_inputs

    target = TARGETS[name]
    folder = out / name
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(seed_inputs()[name]):
        (corpus / f"seed-{i}").write_bytes(data)
    options = [
        f"-max_total_time={seconds}",
        f"-timeout={timeout}",
        f"-rss_limit_mb={rss_mb}",
        "-max_len=65536",
        f"-artifact_prefix={folder}/",
        "-print_final_stats=1",
    ]
    atheris.Setup([sys.argv[0], *options, str(corpus)], target)
    atheris.Fuzz()


def _summary(name: str, log: str, status: int, seconds: float) -> str:
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    executions = runs[-1] if runs else "?"
    outcome = "no crash" if status == 0 else f"CRASH (exit {status}; see the log and artifacts)"
    return f"| {name} | {seconds:.0f} | {executions} | {outcome} |"


def main() -> int:
    from fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"targets to run: {', '.join(TARGETS)}")
    parser.add_argument("--all", action="store_true", help="run every target")
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target")
    parser.add_argument("--timeout", type=int, default=20, help="seconds one input may take")
    parser.add_argument("--rss-mb", type=int, default=4096, help="memory one run may use")
    parser.add_argument("--out", type=Path, default=Path("fuzz-results"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _fuzz_one(args.child, args.seconds, args.timeout, args.rss_mb, args.out)
        return 0
    names = list(TARGETS) if args.all else args.targets
    unknown = [n for n in names if n not in TARGETS]
    if not names or unknown:
        parser.error(f"name targets from {', '.join(TARGETS)} (or --all); unknown: {unknown}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = ["| target | seconds | executions | outcome |", "|---|---|---|---|"]
    failed = False
    for name in names:
        start = time.monotonic()
        command = [sys.executable, __file__, "--child", name, "--seconds", str(args.seconds),
                   "--timeout", str(args.timeout), "--rss-mb", str(args.rss_mb),
                   "--out", str(args.out)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        log = done.stdout + done.stderr
        (args.out / f"{name}.log").write_text(log)
        failed |= done.returncode != 0
        rows.append(_summary(name, log, done.returncode, time.monotonic() - start))
        print(rows[-1], flush=True)
    print("\n".join(rows))
    (args.out / "summary.md").write_text("\n".join(rows) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
