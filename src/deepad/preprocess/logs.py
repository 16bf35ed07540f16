"""Raw log lines to event templates with Drain (He et al., ICWS 2017) through ``drain3``.

Before Drain groups the lines, variable parts are masked so they do not split templates:
by default HDFS block ids, IPv4 addresses (with an optional port), UUIDs, hexadecimal
numbers and numbers (``DEFAULT_MASKS``; pass your own list of ``(name, regex)`` to change
them). ``LogParser.parse(lines)`` gives each line's event id (1, 2, ... in order of first
appearance) and ``ParsedLog.templates`` the template statistics (template text, lines,
share, first line). A ``content`` regex with a named group ``content`` strips headers
(timestamps, levels, components) so only the message is parsed.

``match(lines)`` assigns events without learning (a line gets the template it would have
joined in training, 0 when it would have started a new one), which is how new logs are
scored. Masked messages repeat, so both keep a message -> event cache; ``state()`` /
``LogParser.from_state`` carry the templates and Drain's prefix tree as plain JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: event id of a line that matches no learned template (``match``)
UNMATCHED = 0
#: masked messages remembered per parser (a cache; beyond this, lines are still parsed)
_CACHE_LIMIT = 200_000

#: (name, regex) pairs masked before clustering, in this order
DEFAULT_MASKS: tuple[tuple[str, str], ...] = (
    ("BLK", r"blk_-?\d+"),
    ("IP", r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])"),
    ("UUID", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("HEX", r"\b0[xX][0-9a-fA-F]+\b"),
    ("NUM", r"(?<![A-Za-z_\d])[-+]?\d+(?:\.\d+)?(?![A-Za-z_\d])"),
)


#: cheap tests that a default mask cannot match, so its regex scan is skipped (the scans
#: cost 1.6-6 us a line each; a guard that starts with a literal costs about 0.2 us)
_IP_HINT = re.compile(r"\d\.\d{1,3}\.\d")
_UUID_HINT = re.compile(r"-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-")
_GUARDS: dict[tuple[str, str], Any] = {
    DEFAULT_MASKS[0]: lambda text: "blk_" in text,
    DEFAULT_MASKS[1]: lambda text: text.count(".") >= 3 and _IP_HINT.search(text) is not None,
    DEFAULT_MASKS[2]: lambda text: _UUID_HINT.search(text) is not None,
    DEFAULT_MASKS[3]: lambda text: "0x" in text or "0X" in text,
}


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
        self._maskers = [
            (pattern, f"<{name}>", _GUARDS.get((name, pattern.pattern)))
            for name, pattern in self.masks
        ]
        self.content = None if content is None else _compile(content, "content")
        if self.content is not None and "content" not in self.content.groupindex:
            raise ValueError("the content regex needs a named group (?P<content>...)")
        self.similarity, self.depth, self.max_clusters = similarity, depth, max_clusters
        self._miner = _template_miner(similarity, depth, max_clusters)
        self._ids: dict[int, int] = {}  # drain3 cluster id -> our event id
        self._first_line: dict[int, int] = {}  # our event id -> first line
        self._lines: dict[int, int] = {}  # our event id -> lines parsed into it
        self._lines_seen = 0
        self._learned: dict[str, int] = {}  # masked message -> event id (parse)
        self._matched: dict[str, int] = {}  # masked message -> event id (match)

    def message(self, line: str) -> str:
        """The masked message Drain sees for ``line``."""
        text = line.rstrip("\r\n")
        if self.content is not None:
            found = self.content.search(text)
            text = found.group("content") if found else text
        for pattern, replacement, guard in self._maskers:
            if guard is None or guard(text):
                text = pattern.sub(replacement, text)
        return text

    def parse(self, lines: Iterable[str]) -> ParsedLog:
        """Parse ``lines`` (learning new templates), giving each one's event id."""
        ids = []
        for line in lines:
            message = self.message(_text(line))
            event = self._learned.get(message)
            if event is None:
                cluster = int(self._miner.drain.add_log_message(message)[0].cluster_id)
                if cluster not in self._ids:
                    event = self._ids[cluster] = len(self._ids) + 1
                    self._first_line[event] = self._lines_seen
                event = self._ids[cluster]
                _remember(self._learned, message, event)
            self._lines[event] = self._lines.get(event, 0) + 1
            ids.append(event)
            self._lines_seen += 1
        self._matched.clear()  # templates may have grown
        return ParsedLog(np.asarray(ids, dtype=np.int64), self.templates())

    def match(self, lines: Iterable[str]) -> np.ndarray:
        """Event id of each line under the learned templates (``UNMATCHED`` = 0 when the
        line would have started a new template); learns nothing."""
        drain = self._miner.drain
        ids = []
        for line in lines:
            message = self.message(_text(line))
            event = self._matched.get(message)
            if event is None:
                tokens = drain.get_content_as_tokens(message)
                cluster = drain.tree_search(drain.root_node, tokens, drain.sim_th, False)
                event = UNMATCHED if cluster is None else self._ids[cluster.cluster_id]
                _remember(self._matched, message, event)
            ids.append(event)
        return np.asarray(ids, dtype=np.int64)

    def templates(self) -> pd.DataFrame:
        """Template statistics: event_id -> template, lines, share, first_line."""
        rows = [
            {
                "event_id": event,
                "template": cluster.get_template(),
                "lines": self._lines.get(event, 0),
                "first_line": self._first_line[event],
            }
            for cluster in self._miner.drain.clusters
            if (event := self._ids.get(cluster.cluster_id)) is not None
        ]
        frame = pd.DataFrame(rows, columns=["event_id", "template", "lines", "first_line"])
        frame["share"] = frame["lines"] / max(int(frame["lines"].sum()), 1)
        return frame.set_index("event_id").sort_index()

    # --------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        """Settings, templates and Drain's prefix tree as JSON (for bundles; no pickle)."""
        drain = self._miner.drain
        return {
            "similarity": self.similarity,
            "depth": self.depth,
            "max_clusters": self.max_clusters,
            "masks": [[name, pattern.pattern] for name, pattern in self.masks],
            "content": None if self.content is None else self.content.pattern,
            "clusters": [
                {
                    "cluster": cluster.cluster_id,
                    "event": self._ids[cluster.cluster_id],
                    "tokens": list(cluster.log_template_tokens),
                    "lines": self._lines.get(self._ids[cluster.cluster_id], 0),
                    "first_line": self._first_line[self._ids[cluster.cluster_id]],
                }
                for cluster in drain.clusters
                if cluster.cluster_id in self._ids
            ],
            "tree": _tree_state(drain.root_node),
            "lines_seen": self._lines_seen,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LogParser:
        """Rebuild a parser saved with ``state()``; it matches lines exactly as before."""
        from drain3.drain import LogCluster

        try:
            parser = cls(
                similarity=float(state["similarity"]),
                depth=int(state["depth"]),
                masks=[(str(name), str(pattern)) for name, pattern in state["masks"]],
                content=state["content"],
                max_clusters=state["max_clusters"],
            )
            drain = parser._miner.drain
            for row in state["clusters"]:
                cluster = LogCluster(list(row["tokens"]), int(row["cluster"]))
                drain.id_to_cluster[cluster.cluster_id] = cluster
                event = int(row["event"])
                parser._ids[cluster.cluster_id] = event
                parser._lines[event] = int(row["lines"])
                parser._first_line[event] = int(row["first_line"])
            drain.clusters_counter = max(parser._ids, default=0)
            drain.root_node = _tree_from_state(state["tree"])
            parser._lines_seen = int(state["lines_seen"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"invalid log parser state: {exc}") from exc
        return parser


def _text(line: Any) -> str:
    if not isinstance(line, str):
        raise ValueError(f"log lines must be text, got {type(line).__name__}")
    return line


def _remember(cache: dict[str, int], message: str, event: int) -> None:
    if len(cache) < _CACHE_LIMIT:
        cache[message] = event


def _tree_state(node: Any) -> dict[str, Any]:
    return {
        "clusters": list(node.cluster_ids),
        "children": {key: _tree_state(child) for key, child in node.key_to_child_node.items()},
    }


def _tree_from_state(state: dict[str, Any]) -> Any:
    from drain3.drain import Node

    node = Node()
    node.cluster_ids = [int(c) for c in state["clusters"]]
    node.key_to_child_node = {
        str(key): _tree_from_state(child) for key, child in state["children"].items()
    }
    return node


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
