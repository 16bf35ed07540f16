"""Fuzz targets over what deepad reads from outside: tables, images, log sessions,
preprocessing, bundles and the command line.

Each target takes raw bytes and must end in a result or a *clear error*: an exception
of the kinds deepad's CLI turns into a one-line message (``ValueError`` and its
subclasses such as ``BundleError``, ``FileNotFoundError``). Anything else escaping a
target is a crash: a traceback a user would see. Hangs and memory blow-ups are caught
by the driver (``fuzz/run.py``: libFuzzer's ``-timeout`` and ``-rss_limit_mb``).

The same targets run under atheris (``fuzz/run.py``, the long documented run) and under
hypothesis in the test suite (``tests/test_fuzz.py``, the short CI run).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import warnings
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

#: what counts as a clear error: deepad's CLI prints these as ``deepad: error: ...``
CLEAR_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError)

#: rows the seed tables have
SEED_ROWS = 40


def clear(run: Callable[[], object]) -> object:
    """``run()``, with a clear error accepted as an outcome (it must say something)."""
    try:
        return run()
    except CLEAR_ERRORS as exc:
        if not str(exc).strip():
            raise AssertionError(f"{type(exc).__name__} without a message") from exc
        return exc


@contextlib.contextmanager
def _file(data: bytes, suffix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="deepad-fuzz-") as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        yield path


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Warnings about odd data are expected outcomes, not crashes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ------------------------------------------------------------------ seeds
def seed_frame(seed: int = 0, rows: int = SEED_ROWS) -> pd.DataFrame:
    """A small mixed table: numbers, a category, missing values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 50.0, rows),
            "count": rng.integers(0, 9, rows),
            "kind": rng.choice(["card", "wire", "cash"], rows),
        }
    )
    frame.loc[3, "amount"] = np.nan
    return frame


def seed_inputs() -> dict[str, list[bytes]]:
    """Valid inputs per target: the starting corpus the fuzzers mutate."""
    frame = seed_frame()
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    png = io.BytesIO()
    from PIL import Image

    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(png, format="PNG")
    manifest = (fitted_bundle() / "manifest.json").read_bytes()
    csv = frame.to_csv(index=False).encode()
    return {
        "csv": [csv, b"a,b\n1,2\n3,x\n"],
        "parquet": [parquet.getvalue()],
        "image": [png.getvalue()],
        "sessions": [b"1 2 3\n4,5,6\n\n7\n"],
        "preprocess": [csv],
        "manifest": [manifest],
        "weights": [(fitted_bundle() / "weights.safetensors").read_bytes()],
        "cli": [frame.drop(columns="kind").to_csv(index=False).encode()],
    }


@cache
def fitted_bundle() -> Path:
    """A small fitted AutoEncoder bundle (a torch network, a preprocessor, a threshold),
    made once per process; the bundle targets tamper with copies of it."""
    import deepad

    folder = Path(tempfile.mkdtemp(prefix="deepad-fuzz-bundle-"))
    detector = deepad.AutoEncoder(epochs=2, random_state=0).fit(seed_frame(rows=500))
    return detector.save(folder / "bundle")


# ------------------------------------------------------------------ targets
def read_csv_target(data: bytes) -> None:
    """A CSV file through ``read_table`` and ``as_table``."""
    from deepad.io.tables import as_table, read_table

    with _file(data, ".csv") as path:
        clear(lambda: as_table(read_table(path)))


def read_parquet_target(data: bytes) -> None:
    """A Parquet file through ``read_table``."""
    from deepad.io.tables import read_table

    with _file(data, ".parquet") as path:
        clear(lambda: read_table(path))


def read_image_target(data: bytes) -> None:
    """An image file through ``read_image``."""
    from deepad.io.images import read_image

    with _file(data, ".png") as path:
        clear(lambda: read_image(path))


def read_sessions_target(data: bytes) -> None:
    """A log-session file (event ids per line) through ``as_sessions``."""
    from deepad.io.logs import as_sessions

    with _file(data, ".log") as path:
        clear(lambda: as_sessions(path))


def preprocess_target(data: bytes) -> None:
    """A CSV table fitted and transformed by the tabular preprocessor: the encoded
    matrix must be finite and have one row per input row."""
    from deepad.io.tables import read_table
    from deepad.preprocess.tabular import TabularPreprocessor

    def run() -> None:
        with _file(data, ".csv") as path:
            frame = read_table(path)
        encoded = TabularPreprocessor().fit(frame).transform(frame)
        assert encoded.shape[0] == len(frame), (encoded.shape, len(frame))
        assert np.isfinite(encoded).all(), "the preprocessor produced non-finite values"

    with _quiet():
        clear(run)


def _load_tampered(manifest: bytes | None = None, weights: bytes | None = None) -> None:
    """Load and score a copy of the fitted bundle with its manifest or weights replaced
    (weights with a matching hash); a detector or a clear error is the only outcome."""
    import shutil

    import deepad
    from deepad.bundle.store import sha256

    def run() -> None:
        detector = deepad.load(bundle)
        scores = detector.decision_function(seed_frame(1))
        assert len(scores) == SEED_ROWS

    with tempfile.TemporaryDirectory(prefix="deepad-fuzz-tamper-") as folder:
        bundle = Path(folder) / "bundle"
        shutil.copytree(fitted_bundle(), bundle)
        if weights is not None:
            (bundle / "weights.safetensors").write_bytes(weights)
            record = json.loads((bundle / "manifest.json").read_text())
            record["weights"]["sha256"] = sha256(bundle / "weights.safetensors")
            (bundle / "manifest.json").write_text(json.dumps(record))
        if manifest is not None:
            (bundle / "manifest.json").write_bytes(manifest)
        with _quiet():
            clear(run)


def bundle_manifest_target(data: bytes) -> None:
    """A bundle whose manifest is replaced by ``data`` (weights and their hash intact):
    loading and scoring give a detector or a ``BundleError``."""
    _load_tampered(manifest=data)


def bundle_weights_target(data: bytes) -> None:
    """A bundle whose weights file is replaced by ``data`` and its hash updated to match
    (what a deliberate tamperer would do)."""
    _load_tampered(weights=data)


def cli_score_target(data: bytes) -> None:
    """``deepad score BUNDLE FILE`` on a fuzzed CSV: exit status 0 or 2, never a crash."""
    from deepad.cli import main

    with _file(data, ".csv") as path, contextlib.redirect_stdout(io.StringIO()):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), _quiet():
            status = main(["score", str(fitted_bundle()), str(path), "--out", str(path) + ".out"])
        assert status in (0, 2), status
        if status == 2:
            assert err.getvalue().startswith("deepad: error: "), err.getvalue()


TARGETS: dict[str, Callable[[bytes], None]] = {
    "csv": read_csv_target,
    "parquet": read_parquet_target,
    "image": read_image_target,
    "sessions": read_sessions_target,
    "preprocess": preprocess_target,
    "manifest": bundle_manifest_target,
    "weights": bundle_weights_target,
    "cli": cli_score_target,
}
