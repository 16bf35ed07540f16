"""Log parsing: Drain through drain3 with masking, template statistics, grouping accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepad.metrics import grouping_accuracy
from deepad.preprocess.logs import LogParser

LOGHUB = Path(__file__).resolve().parents[2] / "shared/data/loghub_2k"


def test_masks_hide_variables_before_clustering() -> None:
    parser = LogParser()
    masked = parser.message("Served blk_-12345 to /10.250.19.102:50010 in 0x1f ms 3.5\n")
    assert masked == "Served <BLK> to /<IP> in <HEX> ms <NUM>"
    lines = [
        "Receiving block blk_1 src: /10.0.0.1:5000 dest: /10.0.0.2:5000",
        "Receiving block blk_2 src: /10.0.0.3:5000 dest: /10.0.0.4:5000",
        "Deleting block blk_3 file /data/x",
        "Receiving block blk_9 src: /10.0.0.9:5000 dest: /10.0.0.8:5000",
    ]
    parsed = parser.parse(lines)
    assert parsed.event_ids.tolist() == [1, 1, 2, 1]
    templates = parsed.templates
    assert templates.loc[1, "lines"] == 3 and templates.loc[2, "lines"] == 1
    assert templates.loc[1, "first_line"] == 0 and templates.loc[2, "first_line"] == 2
    assert templates["share"].sum() == pytest.approx(1.0)
    assert "<BLK>" in templates.loc[1, "template"]
    assert parsed.template_of()[2] == templates.loc[2, "template"]
    again = parser.parse(["Deleting block blk_7 file /data/y"])  # keeps learning
    assert again.event_ids.tolist() == [2] and again.templates.loc[2, "lines"] == 2


def test_content_regex_strips_headers() -> None:
    parser = LogParser(content=r"^\S+ \S+ (?P<level>\w+) (?P<content>.*)$")
    assert parser.message("081109 203615 INFO PacketResponder 1 terminating") == (
        "PacketResponder <NUM> terminating"
    )


def test_bad_parser_settings_are_named() -> None:
    with pytest.raises(ValueError, match="similarity"):
        LogParser(similarity=1.5)
    with pytest.raises(ValueError, match="depth"):
        LogParser(depth=2)
    with pytest.raises(ValueError, match="mask 'X' is not a valid regex"):
        LogParser(masks=[("X", "(")])
    with pytest.raises(ValueError, match="named group"):
        LogParser(content=r"(.*)")
    with pytest.raises(ValueError, match="must be text"):
        LogParser().parse([b"bytes line"])


def test_grouping_accuracy_counts_exact_groups_only() -> None:
    assert grouping_accuracy([1, 1, 2, 2, 3], [5, 5, 6, 7, 8]) == pytest.approx(0.6)
    assert grouping_accuracy(["a", "a", "b"], [1, 1, 1]) == 0.0  # merged: nothing right
    assert grouping_accuracy(["a", "a", "b"], [0, 0, 1]) == 1.0
    with pytest.raises(ValueError, match="one entry per line"):
        grouping_accuracy([1, 2], [1])


@pytest.mark.parametrize(("system", "floor"), [("HDFS", 0.99), ("BGL", 0.95), ("Apache", 0.99)])
def test_drain_groups_real_loghub_files(system: str, floor: float) -> None:
    frame = pd.read_csv(LOGHUB / system / f"{system}_2k.log_structured.csv")
    parsed = LogParser().parse(frame["Content"].astype(str))
    assert len(parsed.event_ids) == len(frame)
    assert np.isin(parsed.event_ids, parsed.templates.index).all()
    assert grouping_accuracy(frame["EventId"], parsed.event_ids) >= floor


def test_mask_guards_never_change_a_message() -> None:
    """The cheap guards that skip a default mask's scan agree with running every regex."""
    import re

    from deepad.preprocess.logs import DEFAULT_MASKS

    parser = LogParser()
    compiled = [(re.compile(pattern), f"<{name}>") for name, pattern in DEFAULT_MASKS]
    for path in sorted(LOGHUB.glob("*/*_2k.log")):
        for line in path.read_text(errors="replace").splitlines()[:300]:
            expected = line
            for pattern, replacement in compiled:
                expected = pattern.sub(replacement, expected)
            assert parser.message(line) == expected, (path.name, line)
    assert parser.message("R02-M1-N0 core.2275 job_12") == "R02-M1-N0 core.<NUM> job_12"
