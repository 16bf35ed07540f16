"""Point-wise metrics: hand-computed values and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

from deepad.metrics.point import auprc, auroc


def test_auroc_counts_correctly_ordered_pairs():
    # anomalies score 0.9 and 0.4; normals 0.1, 0.5, 0.3: of the 6 (anomaly, normal)
    # pairs, 0.9 beats all three and 0.4 beats 0.1 and 0.3: 5 / 6
    assert auroc([1, 0, 1, 0, 0], [0.9, 0.1, 0.4, 0.5, 0.3]) == pytest.approx(5 / 6)


def test_auprc_is_average_precision():
    # ranked: 0.9 (1), 0.5 (0), 0.4 (1), 0.3, 0.1: precision at each hit 1/1 and 2/3
    assert auprc([1, 0, 1, 0, 0], [0.9, 0.1, 0.4, 0.5, 0.3]) == pytest.approx((1 + 2 / 3) / 2)


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        ([0, 1], [0.1], "differ in length"),
        ([0, 2], [0.1, 0.2], "only 0 and 1"),
        ([1, 1], [0.1, 0.2], "both classes"),
        ([0, 1], [0.1, np.nan], "NaN or infinite"),
        ([[0, 1]], [[0.1, 0.2]], "1-D"),
        ([0, 1], ["a", "b"], "numeric"),
    ],
)
def test_bad_input_is_named(labels, scores, message):
    with pytest.raises(ValueError, match=message):
        auroc(labels, scores)
