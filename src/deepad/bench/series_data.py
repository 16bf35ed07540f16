"""Loaders of the labelled time-series benchmarks in the shared data folder.

Every loader takes the data root (the folder holding ``nab/``, ``ucr_anomaly_archive/``,
``smd/``, ``smap_msl/``, ``skab/``; see :func:`data_root`) and raises a
``FileNotFoundError`` naming the missing folder and how to point at another one. Optional
``only`` (names to keep) and ``limit`` (keep the first N, after ``only``) cut a subset.

Positions are 0-based step indices everywhere; ranges are inclusive ``(start, end)``
pairs. The conversions from each source's own convention are documented where they
happen (NAB timestamps, UCR's 1-based positions, SMD's interpretation labels).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: the data root when neither ``--data-root`` nor ``DEEPAD_DATA`` is given (from the cwd)
DEFAULT_DATA_ROOT = Path("../shared/data")
#: environment variable naming the data root
DATA_ENV = "DEEPAD_DATA"

Range = tuple[int, int]


def data_root(explicit: str | Path | None = None) -> Path:
    """The data root: ``explicit``, else ``$DEEPAD_DATA``, else ``../shared/data``."""
    if explicit is not None and str(explicit):
        return Path(explicit)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else DEFAULT_DATA_ROOT


def _folder(root: str | Path, name: str, what: str) -> Path:
    folder = Path(root) / name
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{what} data not found: no folder {str(folder)!r}; point --data-root (or "
            f"${DATA_ENV}) at the folder that holds {name}/"
        )
    return folder


def _file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{what}: {str(path)!r} is missing")
    return path


def _subset(
    names: list[str], only: Sequence[str] | None, limit: int | None, what: str
) -> list[str]:
    """``names`` cut to ``only`` (in the order of ``names``) and then to the first ``limit``."""
    if only:
        wanted = list(dict.fromkeys(only))
        unknown = [n for n in wanted if n not in names]
        if unknown:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise ValueError(f"unknown {what} {unknown}; choose from {shown}")
        names = [n for n in names if n in set(wanted)]
    if limit is not None:
        if limit < 1:
            raise ValueError(f"--limit must be at least 1, got {limit}")
        names = names[:limit]
    return names


# ------------------------------------------------------------------- NAB
@dataclass
class NABFile:
    """One NAB data file: values, timestamps and its anomaly windows as index ranges."""

    #: ``<category>/<file>.csv``, the key of NAB's label files
    name: str
    timestamps: pd.DatetimeIndex
    values: np.ndarray
    #: inclusive ``(start, end)`` row indices of each window, in time order
    windows: list[Range]

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def stem(self) -> str:
        return Path(self.name).stem


def nab_index_windows(
    timestamps: pd.DatetimeIndex, windows: Sequence[Sequence[str]]
) -> list[Range]:
    """NAB's ``[start_ts, end_ts]`` windows as inclusive row-index ranges.

    A window holds the rows whose timestamp lies in ``[start_ts, end_ts]`` (NAB's labeler
    rule); a window holding no row is dropped.
    """
    stamps = timestamps.as_unit("ns").asi8
    out: list[Range] = []
    for start_ts, end_ts in windows:
        first = pd.Timestamp(start_ts).as_unit("ns").value
        last = pd.Timestamp(end_ts).as_unit("ns").value
        start = int(np.searchsorted(stamps, first, side="left"))
        end = int(np.searchsorted(stamps, last, side="right")) - 1
        if start <= end:
            out.append((start, end))
    return out


def nab_names(root: str | Path) -> list[str]:
    """Every ``<category>/<file>.csv`` of the NAB folder, sorted."""
    data = _folder(_folder(root, "nab", "NAB"), "data", "NAB")
    return sorted(f"{p.parent.name}/{p.name}" for p in data.glob("*/*.csv"))


def load_nab(
    root: str | Path, only: Sequence[str] | None = None, limit: int | None = None
) -> list[NABFile]:
    """The NAB files (``data/<category>/<file>.csv``) with ``labels/combined_windows.json``.

    ``only`` takes ``category/file.csv`` keys or bare file stems.
    """
    folder = _folder(root, "nab", "NAB")
    names = nab_names(root)
    if only:
        by_stem = {Path(n).stem: n for n in names}
        only = [by_stem.get(o, by_stem.get(Path(o).stem, o)) if "/" not in o else o for o in only]
    names = _subset(names, only, limit, "NAB file(s)")
    labels = json.loads(
        _file(folder / "labels" / "combined_windows.json", "NAB labels").read_text()
    )
    files = []
    for name in names:
        if name not in labels:
            raise ValueError(f"NAB file {name} has no entry in labels/combined_windows.json")
        frame = pd.read_csv(folder / "data" / name)
        timestamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"]))
        values = frame["value"].to_numpy(dtype=np.float64)
        files.append(NABFile(name, timestamps, values, nab_index_windows(timestamps, labels[name])))
    return files


# ------------------------------------------------------------------- UCR
@dataclass
class UCRSeries:
    """One labelled series of the UCR archive; positions are 0-based."""

    key: str
    name: str
    values: np.ndarray
    #: training prefix is ``values[:train_end]``
    train_end: int
    #: the labelled anomaly, inclusive, 0-based (the source's 1-based positions minus 1)
    anom_start: int
    anom_end: int
    note: str = ""


def load_ucr(
    root: str | Path, only: Sequence[str] | None = None, limit: int | None = None
) -> list[UCRSeries]:
    """The labelled UCR series (``ucr_series.npz`` + ``ucr_metadata.csv``).

    Rows with an empty ``anom_start`` are unlabelled and skipped. The anomaly positions
    come 1-based from the UCR file names; they are shifted to 0-based here (the ±100
    tolerance of the protocol makes the shift immaterial, but the series index is 0-based).
    Training uses ``train_end_kdd`` (the KDD-Cup release the values come from).
    """
    folder = _folder(root, "ucr_anomaly_archive", "UCR archive")
    with _file(folder / "ucr_metadata.csv", "UCR metadata").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["anom_start"].strip()]
    by_key = {row["key"]: row for row in rows}
    keys = _subset(list(by_key), only, limit, "UCR series")
    arrays = np.load(_file(folder / "ucr_series.npz", "UCR series"))
    out = []
    for key in keys:
        row = by_key[key]
        out.append(
            UCRSeries(
                key=key,
                name=row["full_name"],
                values=np.asarray(arrays[key], dtype=np.float64),
                train_end=int(row["train_end_kdd"]),
                anom_start=int(row["anom_start"]) - 1,
                anom_end=int(row["anom_end"]) - 1,
                note=row.get("note", "") or "",
            )
        )
    return out


# --------------------------------------------------- multivariate (SMD, SMAP, MSL, SKAB)
@dataclass
class InterpretationRange:
    """One SMD anomaly segment and the metrics that explain it."""

    #: inclusive 0-based step range in the test part
    start: int
    end: int
    #: 1-based metric (channel) indices, as in the source file
    metrics: list[int]


@dataclass
class MultiSeries:
    """One multivariate entity: train, test, per-step test labels (and SMD's explanations)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    columns: list[str] | None = None
    interpretation: list[InterpretationRange] | None = field(default=None, repr=False)

    def truncated(self, steps: int) -> MultiSeries:
        """The first ``steps`` of train and of test (interpretation ranges cut to fit)."""
        ranges = None
        if self.interpretation is not None:
            ranges = [
                InterpretationRange(r.start, min(r.end, steps - 1), r.metrics)
                for r in self.interpretation
                if r.start < steps
            ]
        return MultiSeries(
            self.name,
            self.train[:steps],
            self.test[:steps],
            self.labels[:steps],
            self.columns,
            ranges,
        )


_INTERPRETATION_LINE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*:\s*([\d,\s]+?)\s*$")


def parse_interpretation_label(text: str) -> list[InterpretationRange]:
    """SMD's ``interpretation_label`` lines ``start-end:d1,d2,...``.

    ``start-end`` is a half-open 0-based range of test steps ``[start, end)`` (checked:
    it coincides with the runs of 1 in ``test_label``, e.g. ``4629-4688`` is the run
    4629..4687), returned as the inclusive ``(start, end - 1)``. The metric indices are
    1-based (column ``d - 1`` of the arrays) and kept 1-based. Ranges are returned sorted
    by start (the files are not always in order). The source is not perfectly consistent
    with ``test_label``: of the 12 machines' ranges a few differ by a step or a few steps
    at the end, and machine-1-3's label run 18460..18470 has no interpretation line.
    """
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _INTERPRETATION_LINE.match(line)
        if match is None:
            raise ValueError(
                f"interpretation label line {number} is not 'start-end:d1,d2': {line!r}"
            )
        start, end = int(match[1]), int(match[2])
        metrics = [int(d) for d in match[3].replace(" ", "").split(",") if d]
        if end <= start or not metrics or min(metrics) < 1:
            raise ValueError(f"interpretation label line {number} is malformed: {line!r}")
        out.append(InterpretationRange(start, end - 1, metrics))
    return sorted(out, key=lambda r: (r.start, r.end))


SMD_MACHINES_FOLDER = "arrays"


def _natural(name: str) -> list[object]:
    """Sort key putting machine-1-10 after machine-1-9."""
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def load_smd(
    root: str | Path, only: Sequence[str] | None = None, limit: int | None = None
) -> list[MultiSeries]:
    """SMD machines: ``arrays/<m>.npz`` (train, test, test_label) and the interpretation labels."""
    folder = _folder(root, "smd", "SMD")
    arrays = _folder(folder, SMD_MACHINES_FOLDER, "SMD")
    names = sorted((p.stem for p in arrays.glob("*.npz")), key=_natural)
    out = []
    for name in _subset(names, only, limit, "SMD machine(s)"):
        with np.load(arrays / f"{name}.npz") as z:
            train = np.asarray(z["train"], dtype=np.float64)
            test = np.asarray(z["test"], dtype=np.float64)
            labels = np.asarray(z["test_label"]).astype(np.int8)
        interpretation = None
        path = folder / "interpretation_label" / f"{name}.txt"
        if path.is_file():
            interpretation = parse_interpretation_label(path.read_text())
        columns = [f"m{d}" for d in range(1, train.shape[1] + 1)]
        out.append(MultiSeries(name, train, test, labels, columns, interpretation))
    return out


def _load_nasa(
    root: str | Path, spacecraft: str, only: Sequence[str] | None, limit: int | None
) -> list[MultiSeries]:
    folder = _folder(root, "smap_msl", "SMAP/MSL")
    path = _file(folder / f"{spacecraft}.npz", f"{spacecraft} data")
    with np.load(path) as z:
        keys = list(z.keys())
        channels = list(dict.fromkeys(k.split("__")[0] for k in keys if k.endswith("__train")))
        out = []
        for chan in _subset(channels, only, limit, f"{spacecraft} channel(s)"):
            train = np.asarray(z[f"{chan}__train"], dtype=np.float64)
            test = np.asarray(z[f"{chan}__test"], dtype=np.float64)
            labels = np.asarray(z[f"{chan}__test_label"]).astype(np.int8)
            out.append(MultiSeries(chan, train, test, labels))
    return out


def load_smap(
    root: str | Path, only: Sequence[str] | None = None, limit: int | None = None
) -> list[MultiSeries]:
    """NASA SMAP, one entity per channel (``<chan>__train/test/test_label``).

    P-2 is kept with the union of its two listed ranges, as stored (OmniAnomaly drops it).
    """
    return _load_nasa(root, "SMAP", only, limit)


def load_msl(
    root: str | Path, only: Sequence[str] | None = None, limit: int | None = None
) -> list[MultiSeries]:
    """NASA MSL, one entity per channel (``<chan>__train/test/test_label``)."""
    return _load_nasa(root, "MSL", only, limit)


SKAB_GROUPS = ("valve1", "valve2", "other")


def _read_skab(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", index_col="datetime", parse_dates=True)


def load_skab(
    root: str | Path, only: Sequence[str] | None = None, limit: int | None = None
) -> list[MultiSeries]:
    """SKAB: each labelled experiment (``valve1/0`` ...) with the anomaly-free run as train.

    Every experiment shares the same training array (the 8 sensors of
    ``anomaly-free/anomaly-free.csv``); ``anomaly`` is the label, ``changepoint`` unused.
    """
    folder = _folder(root, "skab", "SKAB")
    free = _read_skab(_file(folder / "anomaly-free" / "anomaly-free.csv", "SKAB anomaly-free run"))
    sensors = list(free.columns)
    train = free.to_numpy(dtype=np.float64)
    names = [
        f"{group}/{p.stem}"
        for group in SKAB_GROUPS
        if (folder / group).is_dir()
        for p in sorted(
            (folder / group).glob("*.csv"),
            key=lambda p: int(p.stem) if p.stem.isdigit() else 1 << 30,
        )
    ]
    out = []
    for name in _subset(names, only, limit, "SKAB experiment(s)"):
        frame = _read_skab(folder / f"{name}.csv")
        missing = [c for c in sensors if c not in frame.columns]
        if missing or "anomaly" not in frame.columns:
            raise ValueError(f"SKAB {name} lacks column(s) {missing or ['anomaly']}")
        test = frame[sensors].to_numpy(dtype=np.float64)
        labels = frame["anomaly"].to_numpy().astype(np.int8)
        out.append(MultiSeries(name, train, test, labels, sensors))
    return out


#: the multivariate suites and their loaders
MULTIVARIATE_LOADERS = {"smd": load_smd, "smap": load_smap, "msl": load_msl, "skab": load_skab}

__all__ = [
    "DATA_ENV",
    "DEFAULT_DATA_ROOT",
    "MULTIVARIATE_LOADERS",
    "InterpretationRange",
    "MultiSeries",
    "NABFile",
    "UCRSeries",
    "data_root",
    "load_msl",
    "load_nab",
    "load_skab",
    "load_smap",
    "load_smd",
    "load_ucr",
    "nab_index_windows",
    "nab_names",
    "parse_interpretation_label",
]
