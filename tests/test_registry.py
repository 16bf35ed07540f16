"""The model registry (deepad.registry) and ``deepad registry ...``, on SQLite and PostgreSQL.

Bundles are real fits on ADBench Cardio rows (a PCA and a 2-epoch AutoEncoder) and a PCA
on a mixed-type table. Every storage test runs on both backends: PostgreSQL comes from
``DEEPAD_TEST_POSTGRES_URL`` (``.ci/postgres.sh`` starts one), each test in a fresh schema.
Without that variable the PostgreSQL cases skip, except under CI=true where they fail.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import REGISTRY_BACKENDS, build_mixed_frame, load_cardio, registry_location
from sklearn.metrics import roc_auc_score

import deepad
from deepad.cli import main
from deepad.registry import (
    Alert,
    ModelVersion,
    Registry,
    RegistryError,
    error_rate,
    open_registry,
)
from deepad.registry.artifacts import sha256


# ------------------------------------------------------------------ bundles
@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real bundles: PCA and AutoEncoder on Cardio rows, PCA on a mixed-type table."""
    X, y = load_cardio()
    order = np.random.default_rng(0).permutation(len(X))  # the file lists anomalies last
    X, y = X[order], y[order]
    root = tmp_path_factory.mktemp("bundles")
    pca = deepad.PCA().fit(X[:300])
    ae = deepad.AutoEncoder(epochs=2, random_state=0).fit(X[:400])
    ae.set_threshold(fpr=0.05)
    ae.metrics_ = {"test_auroc": float(roc_auc_score(y[400:900], ae.decision_function(X[400:900])))}
    mixed = deepad.PCA().fit(build_mixed_frame(240))
    return {
        "pca": pca.save(root / "pca", source="6_cardio.npz"),
        "ae": ae.save(root / "ae", source="6_cardio.npz", fit_seconds=1.5),
        "mixed": mixed.save(root / "mixed"),
    }


def manifest_of(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "manifest.json").read_text())


# ------------------------------------------------------------------ backends
@pytest.fixture(params=REGISTRY_BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``open_registry`` arguments of an empty registry on each backend."""
    with registry_location(request.param, tmp_path) as where:
        yield where


@pytest.fixture
def opener(location: dict[str, Any]) -> Iterator[Callable[[], Registry]]:
    """Opens the test's registry (again, for restart tests); closes them all at the end."""
    opened: list[Registry] = []

    def open_() -> Registry:
        opened.append(open_registry(**location))
        return opened[-1]

    yield open_
    for reg in opened:
        reg.close()


@pytest.fixture
def reg(opener: Callable[[], Registry]) -> Registry:
    return opener()


# ------------------------------------------------------------------ versions
def test_push_stores_versions_with_lineage(reg: Registry, bundles: dict[str, Path]) -> None:
    first = reg.push(bundles["pca"], "fraud", by="alice", note="baseline")
    second = reg.push(bundles["ae"], "fraud")
    manifest = manifest_of(bundles["ae"])
    assert (first.version, first.parent, first.note) == (1, None, "baseline")
    assert first.created_by == "alice"
    assert (second.version, second.parent, second.note) == (2, 1, None)
    assert second.created_by  # the login name (or "unknown")
    assert second.stage == first.stage == "none"  # pushing never promotes
    assert second.detector == "AutoEncoder" and second.modality == "table"
    assert second.params["epochs"] == 2
    assert second.metrics == manifest["metrics"] and 0.5 < second.metrics["test_auroc"] <= 1
    assert second.training["fingerprint"] == manifest["training_data"]["fingerprint"]
    assert second.training["rows"] == 400 and len(second.training["columns"]) == 21
    assert second.threshold["rule"] == "fpr" and second.threshold["level"] == 0.05
    # the stored copy is its own bundle, byte for byte the validated one
    assert second.path == reg.artifacts / "fraud" / "2"
    assert second.weights_sha256 == manifest["weights"]["sha256"]
    assert sha256(second.path / "weights.safetensors") == second.weights_sha256
    X, _ = load_cardio()
    np.testing.assert_array_equal(
        deepad.load(second.path).decision_function(X[:50]),
        deepad.load(bundles["ae"]).decision_function(X[:50]),
    )
    assert [v.version for v in reg.versions("fraud")] == [1, 2]
    third = reg.push(bundles["pca"], "fraud", parent=1, note="back to PCA")
    assert (third.version, third.parent) == (3, 1)
    with pytest.raises(RegistryError, match="parent version 9 of fraud does not exist"):
        reg.push(bundles["pca"], "fraud", parent=9)
    reg.push(bundles["mixed"], "churn")
    assert reg.models() == [
        {
            "name": "churn",
            "latest_version": 1,
            "production_version": None,
            "versions": 1,
            "modality": "table",
            "detector": "PCA",
            "updated_at": reg.models()[0]["updated_at"],
        },
        {
            "name": "fraud",
            "latest_version": 3,
            "production_version": None,
            "versions": 3,
            "modality": "table",
            "detector": "PCA",
            "updated_at": reg.models()[1]["updated_at"],
        },
    ]
    shown = second.to_dict()
    assert json.loads(json.dumps(shown)) == shown
    assert shown["path"] == str(second.path) and shown["created_at"].endswith("+00:00")
    assert isinstance(second, ModelVersion)


def test_promote_rollback_and_history(reg: Registry, bundles: dict[str, Path]) -> None:
    for _ in range(3):
        reg.push(bundles["pca"], "fraud")
    assert reg.version("fraud").version == 3  # nothing promoted: latest
    with pytest.raises(RegistryError, match="no production version"):
        reg.version("fraud", "production")
    with pytest.raises(RegistryError, match="no production version to roll back"):
        reg.rollback("fraud")
    assert reg.promote("fraud", 1, by="ops").stage == "production"
    reg.promote("fraud", 2, by="ops")
    assert [v.stage for v in reg.versions("fraud")] == ["archived", "production", "none"]
    assert reg.version("fraud").version == 2  # production wins over latest
    assert reg.promote("fraud", 2).version == 2  # already production: nothing recorded
    reg.promote("fraud", 3, by="ops")
    back = reg.rollback("fraud", by="oncall")
    assert (back.version, back.stage) == (2, "production")
    assert [v.stage for v in reg.versions("fraud")] == ["archived", "production", "archived"]
    assert reg.rollback("fraud").version == 1  # walks back through the earlier ones
    with pytest.raises(RegistryError, match="no earlier one to roll back to"):
        reg.rollback("fraud")
    history = reg.history("fraud")
    assert [(h["action"], h["version"], h["previous"], h["by"]) for h in history] == [
        ("promote", 1, None, "ops"),
        ("promote", 2, 1, "ops"),
        ("promote", 3, 2, "ops"),
        ("rollback", 2, 3, "oncall"),
        ("rollback", 1, 2, history[-1]["by"]),
    ]
    assert all(h["at"].endswith("+00:00") for h in history)
    with pytest.raises(RegistryError, match="fraud has no version 7; it has versions 1-3"):
        reg.promote("fraud", 7)
    with pytest.raises(RegistryError, match="no model named 'nope'"):
        reg.promote("nope", 1)


def test_version_references(reg: Registry, bundles: dict[str, Path]) -> None:
    reg.push(bundles["pca"], "fraud")
    reg.push(bundles["ae"], "fraud")
    reg.promote("fraud", 1)
    assert reg.version("fraud").version == 1
    assert reg.version("fraud", "production").version == 1
    assert reg.version("fraud", "latest").version == 2
    assert reg.version("fraud", 2).version == reg.version("fraud", "2").version == 2
    for bad in ("x", "", 0, -1, True, 2.0, "1.5"):
        with pytest.raises(RegistryError, match="invalid version"):
            reg.version("fraud", bad)  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="no version 3"):
        reg.version("fraud", 3)


def test_bad_names_and_unknown_models(reg: Registry, bundles: dict[str, Path]) -> None:
    for bad in ("", "-fraud", ".hidden", "a/b", "../etc", "a b", "x" * 65, "été", None):
        with pytest.raises(RegistryError, match="invalid model name"):
            reg.push(bundles["pca"], bad)  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match=r"registry .* is empty"):
        reg.versions("fraud")
    for name in ("fraud", "churn", "Model_2.v-1"):
        reg.push(bundles["pca"], name)
    with pytest.raises(RegistryError, match=r"no model named 'frod'.*Model_2.v-1, churn, fraud"):
        reg.versions("frod")
    for call in (reg.version, reg.history, reg.card, reg.rollback, reg.alerts):
        with pytest.raises(RegistryError, match="no model named 'frod'"):
            call("frod")
    assert not (reg.artifacts / "-fraud").exists()


def test_refuses_corrupted_and_non_bundles(
    reg: Registry, bundles: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(bundles["pca"], broken)
    weights = broken / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match=r"cannot push .*broken.*SHA-256"):
        reg.push(broken, "fraud")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegistryError, match=r"manifest\.json is missing"):
        reg.push(tmp_path / "empty", "fraud")
    with pytest.raises(RegistryError, match="no bundle at"):
        reg.push(tmp_path / "absent", "fraud")
    assert reg.models() == []
    assert not (reg.artifacts / "fraud").exists()


def test_failed_database_write_removes_the_copy(
    reg: Registry, bundles: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import exc

    def fail(*args: Any) -> None:  # runs after the INSERT, before the commit
        raise exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Registry, "_version_row", fail)
    with pytest.raises(RegistryError, match=r"registry database .* failed: disk I/O error"):
        reg.push(bundles["pca"], "fraud")
    assert list((reg.artifacts / "fraud").iterdir()) == []  # neither the copy nor staging
    assert reg.models() == []  # the whole transaction rolled back
    monkeypatch.undo()
    assert reg.push(bundles["pca"], "fraud").version == 1


def test_concurrent_pushes_get_distinct_versions(reg: Registry, bundles: dict[str, Path]) -> None:
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def push(i: int) -> None:
        try:
            barrier.wait()
            version = reg.push(bundles["pca"], "fraud", note=f"thread {i}")
            results.append(version.version)
            reg.add_alert("fraud", version.version, "pushed", f"thread {i}")
            reg.versions("fraud")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [1, 2, 3, 4, 5, 6]
    stored = reg.versions("fraud")
    assert [v.version for v in stored] == [1, 2, 3, 4, 5, 6]
    assert sorted(v.note for v in stored) == [f"thread {i}" for i in range(6)]
    assert all(sha256(v.path / "weights.safetensors") == v.weights_sha256 for v in stored)
    assert sorted(p.name for p in (reg.artifacts / "fraud").iterdir()) == list("123456")
    assert len(reg.alerts("fraud")) == 6


# ------------------------------------------------------------------ alerts, restart
def test_alerts_add_and_list(reg: Registry, bundles: dict[str, Path]) -> None:
    reg.push(bundles["pca"], "fraud")
    reg.push(bundles["ae"], "fraud")
    reg.push(bundles["mixed"], "churn")
    first = reg.add_alert("fraud", 1, "drift", "amount drifted", {"psi": np.float64(0.31)})
    reg.add_alert("fraud", 2, "errors", "5 bad requests", {"count": 5}, severity="error")
    reg.add_alert("churn", 1, "drift", "tenure drifted")
    assert isinstance(first, Alert) and first.detail == {"psi": 0.31}
    assert first.severity == "warning" and first.created_at.tzinfo is not None
    newest = reg.alerts()
    assert [(a.name, a.version, a.kind) for a in newest] == [
        ("churn", 1, "drift"),
        ("fraud", 2, "errors"),
        ("fraud", 1, "drift"),
    ]
    assert [a.message for a in reg.alerts("fraud")] == ["5 bad requests", "amount drifted"]
    assert [a.name for a in reg.alerts(kind="drift")] == ["churn", "fraud"]
    assert [a.kind for a in reg.alerts("fraud", limit=1)] == ["errors"]
    assert reg.alerts("fraud", kind="drift")[0].to_dict() == {
        "id": first.id,
        "name": "fraud",
        "version": 1,
        "kind": "drift",
        "severity": "warning",
        "message": "amount drifted",
        "detail": {"psi": 0.31},
        "created_at": first.to_dict()["created_at"],
    }
    with pytest.raises(RegistryError, match="fraud has no version 5"):
        reg.add_alert("fraud", 5, "drift", "x")
    with pytest.raises(RegistryError, match="invalid severity 'loud'"):
        reg.add_alert("fraud", 1, "drift", "x", severity="loud")
    with pytest.raises(RegistryError, match="cannot be stored as JSON"):
        reg.add_alert("fraud", 1, "drift", "x", {"what": object()})
    with pytest.raises(RegistryError, match="limit must be"):
        reg.alerts(limit=0)


def test_everything_survives_close_and_reopen(
    opener: Callable[[], Registry], bundles: dict[str, Path]
) -> None:
    reg = opener()
    reg.push(bundles["pca"], "fraud", by="alice")
    reg.push(bundles["ae"], "fraud", note="retrained")
    reg.promote("fraud", 2)
    alert = reg.add_alert("fraud", 2, "drift", "score drift", {"ks": 0.4}, severity="critical")
    before = (reg.versions("fraud"), reg.history("fraud"), reg.card("fraud"))
    reg.close()
    again = opener()
    assert (again.versions("fraud"), again.history("fraud"), again.card("fraud")) == before
    assert again.version("fraud").version == 2
    assert again.alerts() == [alert]
    assert again.push(bundles["pca"], "fraud").version == 3


# ------------------------------------------------------------------ model card
def test_card_states_what_the_manifest_holds(reg: Registry, bundles: dict[str, Path]) -> None:
    reg.push(bundles["pca"], "fraud")
    reg.push(bundles["ae"], "fraud", by="alice", note="two epochs")
    manifest = manifest_of(bundles["ae"])
    card = reg.card("fraud", 2)
    n = manifest["threshold"]["calibration_rows"]
    auroc = manifest["metrics"]["test_auroc"]
    for expected in (
        "# Model card: fraud v2",
        "`AutoEncoder`, modality `table`",
        "from 21 input column(s)",
        "| x0 | numeric (float64) |",
        f"- rows: 400 rows\n- fingerprint: `{manifest['training_data']['fingerprint']}`",
        "- source: `6_cardio.npz`",
        "| epochs | 2 |",
        f"| test_auroc | {auroc:.4g} |",
        "- rule `fpr`, level 0.05",
        f"- calibration rows: {n}",
        "flags at most 5% of normal rows, if the calibration rows were normal",
        f"with {n} calibration rows one fit's actual rate lies in",
        "- pushed by alice",
        "- parent: v1",
        "- note: two epochs",
        f"- weights SHA-256: `{manifest['weights']['sha256']}`",
        "- fit seconds: 1.5",
        f"none is below 1/{n + 1}",
        "scores each row independently: no history",
        "## Known limitations",
    ):
        assert expected in card, expected
    assert reg.card("fraud") == reg.card("fraud", "latest")  # nothing promoted yet
    first = reg.card("fraud", 1)
    assert "- parent: none (first version)" in first
    assert "- rule `fpr`, level 0.1" in first and "flags at most 10% of normal rows" in first
    assert "no detection metrics are recorded" in first


def test_card_names_categories_and_gaps(reg: Registry, bundles: dict[str, Path]) -> None:
    reg.push(bundles["mixed"], "churn")
    card = reg.card("churn")
    schema = {c["name"]: c for c in manifest_of(bundles["mixed"])["input_schema"]["columns"]}
    colors = schema["color"]["categories"]
    assert f"| color | categorical (object) | 3 categories kept: {', '.join(colors)} |" in card
    assert "`color` knows 3 categories: a value never seen in training" in card
    assert "gaps seen in training, filled with the median plus an indicator" in card  # num_nan
    assert "`num_a`" in card and "had no gaps in training" in card


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        ({"rule": "fdr", "level": 0.1, "calibration_rows": 80}, "at most 10% are false alarms"),
        (
            {"rule": "contamination", "level": 0.05, "calibration_rows": 0},
            "flags about 5% of the training rows",
        ),
        ({"rule": "evt", "level": 0.001, "calibration_rows": 500}, "exceeded by 0.1% of normal"),
        ({"rule": "best_f1", "level": None, "value": 2.0}, "best F1 on the labelled rows"),
        ({"rule": "score", "level": None, "value": 3.25}, "fixed score threshold (3.25)"),
        (
            {"rule": "fpr", "level": 0.01, "calibration_rows": 49, "value": "inf"},
            "cannot resolve that rate (the smallest p-value is 1/50): it flags nothing",
        ),
        (
            {"rule": "fpr", "level": 0.1, "calibration_rows": 500, "confidence": 0.9},
            "for 90% of calibration draws (not only on average)",
        ),
        ({"value": 1.0, "contamination": 0.1}, "flags about 10% of the training rows"),
    ],
)
def test_error_rate_in_words(threshold: dict[str, Any], expected: str) -> None:
    assert expected in error_rate(threshold)


# ------------------------------------------------------------------ locations
def test_open_registry_locations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bundles: dict[str, Path]
) -> None:
    monkeypatch.setenv("DEEPAD_REGISTRY", str(tmp_path / "from-env"))
    with open_registry() as reg:
        reg.push(bundles["pca"], "fraud")
    database = tmp_path / "from-env" / "registry.db"
    assert (tmp_path / "from-env" / "artifacts" / "fraud" / "1" / "manifest.json").is_file()
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    url = f"sqlite:///{database}"
    with open_registry(url, artifacts=tmp_path / "from-env" / "artifacts") as reg:
        assert reg.version("fraud").path.is_dir()
    monkeypatch.setenv("DEEPAD_REGISTRY_ARTIFACTS", str(tmp_path / "elsewhere"))
    with open_registry(url) as reg:
        assert reg.artifacts == tmp_path / "elsewhere"
    (tmp_path / "file").write_text("x")
    with pytest.raises(RegistryError, match="is a file"):
        open_registry(tmp_path / "file")
    with pytest.raises(RegistryError, match="SQLite or PostgreSQL, not 'mysql'"):
        open_registry("mysql://u:p@localhost/db")
    with pytest.raises(RegistryError, match="cannot reach the registry database") as info:
        open_registry("postgresql://deepad:s3cret@127.0.0.1:1/nowhere")
    assert "***" in str(info.value) and "s3cret" not in str(info.value)
    assert "127.0.0.1:1/nowhere" in str(info.value)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(RegistryError, match=r"pip install 'deepad\[postgres\]'"):
        open_registry("postgresql://deepad:deepad@127.0.0.1:1/nowhere")


# ------------------------------------------------------------------ CLI
def test_cli_end_to_end(
    location: dict[str, Any],
    bundles: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "artifacts" in location:
        monkeypatch.setenv("DEEPAD_REGISTRY_ARTIFACTS", str(location["artifacts"]))
    where = ["--registry", str(location["location"])]

    def run(*argv: str) -> tuple[int, str, str]:
        status = main(["registry", *argv, *where])
        out, err = capsys.readouterr()
        return status, out, err

    status, out, _ = run("push", str(bundles["pca"]), "--name", "fraud", "--by", "alice")
    assert status == 0 and "pushed fraud v1 (PCA, table; first version)" in out
    status, out, _ = run("push", str(bundles["ae"]), "--name", "fraud", "--note", "deeper")
    assert status == 0 and "pushed fraud v2 (AutoEncoder, table; parent v1)" in out
    assert manifest_of(bundles["ae"])["weights"]["sha256"] in out
    status, out, _ = run("list")
    assert out.splitlines()[0].split() == [
        "name", "latest", "production", "versions", "detector", "modality", "updated"
    ]  # fmt: skip
    assert out.splitlines()[1].split()[:6] == ["fraud", "2", "-", "2", "AutoEncoder", "table"]
    assert run("promote", "fraud", "1")[1] == "fraud v1 is now production\n"
    assert run("promote", "fraud", "2")[1] == "fraud v2 is now production (v1 archived)\n"
    status, out, _ = run("list", "fraud")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[:2] for r in rows] == [["v1", "archived"], ["v2", "production"]]
    assert rows[0][3] == "alice" and rows[1][4] == "v1" and rows[1][-1] == "deeper"
    assert run("rollback", "fraud")[1] == "fraud: production rolled back from v2 to v1\n"
    status, out, _ = run("history", "fraud")
    assert [line.split()[1:4] for line in out.splitlines()[1:]] == [
        ["promote", "v1", "-"],
        ["promote", "v2", "v1"],
        ["rollback", "v1", "v2"],
    ]
    status, out, _ = run("show", "fraud:2")
    shown = json.loads(out)
    assert (shown["name"], shown["version"], shown["stage"]) == ("fraud", 2, "archived")
    assert shown["lineage"]["parent"] == 1 and shown["lineage"]["ancestors"] == [1]
    assert shown["lineage"]["bundle"] == {"source": "6_cardio.npz", "fit_seconds": 1.5}
    assert json.loads(run("show", "fraud")[1])["version"] == 1  # production
    status, out, _ = run("card", "fraud:2", "--out", str(tmp_path / "card.md"))
    assert status == 0 and (tmp_path / "card.md").read_text() == run("card", "fraud:2")[1]
    assert "flags at most 5% of normal rows" in (tmp_path / "card.md").read_text()
    # input errors: one line, exit status 2
    status, _, err = run("rollback", "fraud")
    assert status == 2 and err.startswith("deepad: error: fraud v1 is the first production")
    status, _, err = run("push", str(bundles["pca"]), "--name", "bad/name")
    assert status == 2 and "invalid model name 'bad/name'" in err
    status, _, err = run("card", "fraud:9")
    assert status == 2 and "fraud has no version 9" in err
    status, _, err = run("list", "nope")
    assert status == 2 and "no model named 'nope'" in err and "fraud" in err
