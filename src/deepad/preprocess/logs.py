"""Raw log lines to event templates with Drain (He et al., ICWS 2017) through ``drain3``.

Before Drain groups the lines, variable parts are masked so they do not split templates:
by default HDFS block ids, IPv4 addresses (with an optional port), UUIDs, hexadecimal
numbers and numbers (``DEFAULT_MASKS``; pass your own list of ``(name, regex)`` to change
them). ``LogParser.parse(lines)`` gives each line's event id (1, 2, ... in order of first
appearance) and ``ParsedLog.templates`` the template statistics (template text, lines,
share, first line). A ``content`` regex with a named group ``content`` strips headers
(timestamps, levels, components) so only the message is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: (name, regex) pairs masked before clustering, in this order
DEFAULT_MASKS: tuple[tuple[str, str], ...] = (
    ("BLK", r"blk_-?\d+"),
    ("IP", r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])"),
    ("UUID", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("HEX", r"\b0[xX][0-9a-fA-F]+\b"),
    ("NUM", r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?![A-Za-z_])"),
)


@dataclass
class ParsedLog:
    """Event id per line (1-based, by first appearance) and the template table."""

    event_ids: np.ndarray
    templates: pd.DataFrame  # index event_id: template, lines, share, first_line

    def template_of(self) -> list[str]:
        """The template text of each line."""
        return list(self.templates.loc[self.event_ids, "template"])


class LogParser:
    """Drain over masked messages; one instance keeps learning across ``parse`` calls.

    ``similarity`` is Drain's similarity threshold (share of equal tokens to join a
    cluster), ``depth`` its parse-tree depth; ``masks`` the ``(name, regex)`` pairs masked
    as ``<NAME>``; ``content`` an optional regex whose ``content`` group is the message.
    """

    def __init__(
        self,
        *,
        similarity: float = 0.4,
        depth: int = 4,
        masks: Sequence[tuple[str, str]] = DEFAULT_MASKS,
        content: str | None = None,
        max_clusters: int | None = None,
    ) -> None:
        if not 0.0 < similarity < 1.0:
            raise ValueError(f"similarity must be in (0, 1), got {similarity!r}")
        if not isinstance(depth, int) or depth < 3:
            raise ValueError(f"depth must be an int >= 3, got {depth!r}")
        self.masks = [(str(name), _compile(pattern, f"mask {name!r}")) for name, pattern in masks]
        self.content = None if content is None else _compile(content, "content")
        if self.content is not None and "content" not in self.content.groupindex:
            raise ValueError("the content regex needs a named group (?P<content>...)")
        self._miner = _template_miner(similarity, depth, max_clusters)
        self._ids: dict[int, int] = {}  # drain3 cluster id -> our event id
        self._first_line: dict[int, int] = {}
        self._lines_seen = 0

    def message(self, line: str) -> str:
        """The masked message Drain sees for ``line``."""
        text = line.rstrip("\r\n")
        if self.content is not None:
            found = self.content.search(text)
            text = found.group("content") if found else text
        for name, pattern in self.masks:
            text = pattern.sub(f"<{name}>", text)
        return text

    def parse(self, lines: Iterable[str]) -> ParsedLog:
        """Parse ``lines`` (learning new templates), giving each one's event id."""
        cluster_ids = []
        for line in lines:
            if not isinstance(line, str):
                raise ValueError(f"log lines must be text, got {type(line).__name__}")
            result = self._miner.add_log_message(self.message(line))
            cluster = int(result["cluster_id"])
            if cluster not in self._ids:
                self._ids[cluster] = len(self._ids) + 1
                self._first_line[cluster] = self._lines_seen
            cluster_ids.append(self._ids[cluster])
            self._lines_seen += 1
        return ParsedLog(np.asarray(cluster_ids, dtype=np.int64), self.templates())

    def templates(self) -> pd.DataFrame:
        """Template statistics: event_id -> template, lines, share, first_line."""
        rows = [
            {
                "event_id": self._ids[cluster.cluster_id],
                "template": cluster.get_template(),
                "lines": cluster.size,
                "first_line": self._first_line[cluster.cluster_id],
            }
            for cluster in self._miner.drain.clusters
            if cluster.cluster_id in self._ids
        ]
        frame = pd.DataFrame(rows, columns=["event_id", "template", "lines", "first_line"])
        frame["share"] = frame["lines"] / max(int(frame["lines"].sum()), 1)
        return frame.set_index("event_id").sort_index()


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{what} is not a valid regex ({pattern!r}): {exc}") from exc


def _template_miner(similarity: float, depth: int, max_clusters: int | None) -> Any:
    try:
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError as exc:
        raise ImportError("log parsing needs drain3: pip install 'deepad[logs]'") from exc
    config = TemplateMinerConfig()
    config.drain_sim_th = similarity
    config.drain_depth = depth
    config.drain_max_clusters = max_clusters
    config.masking_instructions = []  # we mask ourselves, once, with our names
    config.profiling_enabled = False
    config.parametrize_numeric_tokens = True
    return TemplateMiner(config=config)
