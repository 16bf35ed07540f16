"""Log parsing accuracy: grouping accuracy (Zhu et al., ICSE-SEIP 2019, loghub's benchmark)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def grouping_accuracy(truth: Any, predicted: Any) -> float:
    """Share of lines whose predicted group holds exactly the lines of their true group.

    A line counts as parsed correctly only when the set of lines sharing its predicted
    event id equals the set sharing its true template, so both over- and under-splitting
    a template lose all of its lines.
    """
    truth_ids = pd.Series(np.asarray(truth)).astype(str)
    predicted_ids = pd.Series(np.asarray(predicted)).astype(str)
    if len(truth_ids) != len(predicted_ids):
        raise ValueError(
            f"truth and predicted need one entry per line; got {len(truth_ids)} and "
            f"{len(predicted_ids)}"
        )
    if not len(truth_ids):
        raise ValueError("grouping accuracy needs at least one line")
    pair = pd.DataFrame({"predicted": predicted_ids, "truth": truth_ids})
    per_group = pair.groupby("predicted")["truth"].agg(["nunique", "first", "size"])
    pure = per_group[per_group["nunique"] == 1]
    exact = pure[pure["size"].to_numpy() == truth_ids.value_counts()[pure["first"]].to_numpy()]
    return float(exact["size"].sum() / len(truth_ids))
