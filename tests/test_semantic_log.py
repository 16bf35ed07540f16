"""SemanticLog: template sentence vectors in, DeepLog's misses out, on real HDFS sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepad
from deepad.models.log_base import UNKNOWN
from deepad.nn.text_encoder import encode_templates, template_sentence

DATA = Path(__file__).resolve().parents[2] / "shared/data"
SESSIONS = DATA / "hdfs_sessions"
TEMPLATES = DATA / "loghub_2k/HDFS/HDFS_templates.csv"


def test_templates_become_unit_sentence_vectors() -> None:
    assert template_sentence("<*>Receiving block<*>src: <IP> dest:<*>") == (
        "Receiving block src: IP dest:"
    )
    vectors = encode_templates(
        ["PacketResponder <*> terminating", "PacketResponder <*> Interrupted", "Deleting block"]
    )
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2]  # meaning, not ids


@pytest.fixture(scope="module")
def semantic() -> deepad.SemanticLog:
    train = SESSIONS / "hdfs_train"
    sessions = train.read_text().splitlines()[:1500]
    return deepad.SemanticLog(templates=str(TEMPLATES), epochs=10).fit(sessions)


def test_semantic_log_flags_real_abnormal_sessions(semantic: deepad.SemanticLog) -> None:
    from sklearn.metrics import roc_auc_score

    frame = pd.read_csv(SESSIONS / "robust_log_valid.csv")
    valid = pd.concat([frame[frame.label == 0].head(200), frame[frame.label == 1].head(200)])
    scores = semantic.decision_function(valid["Sequence"].tolist())
    assert roc_auc_score(valid["label"], scores) > 0.9
    flags = semantic.predict(valid["Sequence"].tolist())
    assert flags[valid["label"].to_numpy() == 0].mean() < 0.15


def test_events_new_to_training_are_read_by_meaning_but_still_miss(
    semantic: deepad.SemanticLog, tmp_path: Path
) -> None:
    assert 7 not in semantic.events_.tolist()  # writeBlock exception: only in the templates
    tokens = semantic._tokens([np.asarray([5, 7])])[0]
    assert tokens[1] >= semantic.vocabulary_size  # its own vector, not UNKNOWN
    assert np.linalg.norm(semantic.module_.table[tokens[1]].numpy()) == pytest.approx(1, abs=1e-5)
    assert (semantic._tokens([np.asarray([999])])[0] == UNKNOWN).all()  # no template
    normal = (SESSIONS / "hdfs_train").read_text().split("\n", 1)[0].split()
    broken = " ".join([*normal[:8], "7", *normal[8:]])
    scores = semantic.decision_function([" ".join(normal), broken])
    assert scores[1] >= scores[0] + 1
    restored = deepad.load(semantic.save(tmp_path / "semantic"))
    assert np.array_equal(restored.decision_function([" ".join(normal), broken]), scores)
    explanation = restored.explain([broken])
    assert "writeBlock" in explanation.text(0)


def test_semantic_log_needs_templates() -> None:
    with pytest.raises(ValueError, match="needs the template text of every event"):
        deepad.SemanticLog(epochs=1).fit([[1, 2, 3], [1, 2, 3]] * 5)
