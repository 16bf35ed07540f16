"""Raw log lines to sessions of event ids: Drain templates, then grouping by key or window.

``LogReader`` is the preprocessing of the log detectors when they are given raw logs:
``fit_read(X)`` learns templates (``deepad.preprocess.logs.LogParser``) and groups the
lines, ``read(X)`` groups new lines under the learned templates (a line no template
covers becomes event ``UNMATCHED`` = 0, which the detectors treat as never seen).

Lines come from a text file or a list of strings, or, with ``message_column``, from a
column of a table (a DataFrame, or a CSV / Parquet file: structured logs from a shipper).
They are grouped in one of four ways:

- ``session_regex``: every distinct match in a line (its first group when the regex has
  one) is a session key, as HDFS block ids are; a line naming two blocks belongs to both;
  lines with no key are left out and counted;
- ``session_window=N`` (an int): windows of N consecutive lines, starting every
  ``session_step`` lines (default N: back to back; 1 gives one window ending at every line);
- ``session_window="10min"`` (a duration): windows of that length by the time captured by
  ``time_regex`` (group ``time``; epoch seconds or any timestamp pandas parses);
- ``session_column``: tables only, the value of that column keys the row's session.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepad.preprocess.logs import DEFAULT_MASKS, LogParser

#: the raw-log options every log detector takes (all None: ``X`` holds id sessions)
LOG_OPTIONS: dict[str, str] = {
    "session_regex": "regex whose matches (or group 1) key a line's sessions, e.g. blk_-?\\d+",
    "session_window": "sessions are windows of N lines, or of a duration such as '1h'",
    "session_step": "start a window every N lines / every duration (default: window)",
    "time_regex": "regex with a (?P<time>...) group, for duration windows",
    "content_regex": "regex with a (?P<content>...) group: the message without its header",
    "message_column": "read a table (CSV, Parquet, DataFrame): the column holding the message",
    "masks": "[[name, regex], ...] masked as <NAME> before Drain (default: block ids, IPs, "
    "UUIDs, hex and numbers)",
    "session_column": "tables: the column whose value keys each row's session",
    "templates": "id sessions only: event id -> template text (a dict, or a CSV path)",
}

#: the options a LogReader takes (all of LOG_OPTIONS but templates, which id sessions use)
READER_OPTIONS = tuple(name for name in LOG_OPTIONS if name != "templates")

#: lines longer than this are cut before parsing (a guard against binary or runaway lines)
MAX_LINE_CHARS = 65_536


@dataclass
class LogSessions:
    """Sessions of event ids with their keys and the (0-based) lines they came from."""

    keys: list[str]
    events: list[np.ndarray]
    lines: list[np.ndarray]
    total_lines: int = 0
    unkeyed_lines: int = 0
    templates: dict[int, str] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)  # the raw lines, when read from a log

    def __len__(self) -> int:
        return len(self.events)

    def subset(self, indices: Any) -> LogSessions:
        """These sessions only, in the order of ``indices`` (lines keep their numbers)."""
        picked = [int(i) for i in indices]
        return LogSessions(
            keys=[self.keys[i] for i in picked],
            events=[self.events[i] for i in picked],
            lines=[self.lines[i] for i in picked],
            total_lines=self.total_lines,
            unkeyed_lines=self.unkeyed_lines,
            templates=self.templates,
            text=self.text,
        )


def read_log_lines(X: Any) -> list[str]:
    """The lines of a log file (path) or of a list of strings, without line ends."""
    if isinstance(X, (str, Path)):
        path = Path(X)
        if not path.is_file():
            raise FileNotFoundError(f"no such log file: {path}")
        with path.open(encoding="utf-8", errors="replace") as handle:
            lines = [line.rstrip("\r\n")[:MAX_LINE_CHARS] for line in handle]
    elif isinstance(X, (list, tuple)):
        lines = []
        for i, line in enumerate(X):
            if not isinstance(line, str):
                raise ValueError(f"log line {i} must be text, got {type(line).__name__}")
            lines.append(line.rstrip("\r\n")[:MAX_LINE_CHARS])
    else:
        raise ValueError(f"raw logs must be a file path or a list of lines, got {type(X).__name__}")
    if not lines:
        raise ValueError("the log has no lines")
    return lines


class LogReader:
    """Parser plus session rule; see the module docstring for the rule's options."""

    def __init__(
        self,
        *,
        session_regex: str | None = None,
        session_window: int | str | None = None,
        session_step: int | str | None = None,
        time_regex: str | None = None,
        content_regex: str | None = None,
        message_column: str | None = None,
        session_column: str | None = None,
        masks: Sequence[Sequence[str]] | None = None,
    ) -> None:
        rules = [session_regex, session_window, session_column]
        if sum(rule is not None for rule in rules) != 1:
            raise ValueError(
                "raw logs need exactly one session rule: session_regex, session_window or "
                "session_column"
            )
        if session_column is not None and message_column is None:
            raise ValueError("session_column reads a table; also give message_column")
        if session_step is not None and session_window is None:
            raise ValueError("session_step goes with session_window")
        if time_regex is not None and not isinstance(session_window, str):
            raise ValueError("time_regex goes with a duration session_window such as '1h'")
        self.message_column, self.session_column = message_column, session_column
        self.session_regex = session_regex
        self.session_window, self.session_step = session_window, session_step
        self.time_regex = time_regex
        self.content_regex = content_regex
        self._key = None if session_regex is None else _compile(session_regex, "session_regex")
        self._time = None if time_regex is None else _compile(time_regex, "time_regex")
        self._by_time = isinstance(session_window, str)
        if session_window is not None:
            self._check_window()
        pairs = DEFAULT_MASKS if masks is None else _check_masks(masks)
        self.masks = None if masks is None else [list(pair) for pair in pairs]
        self.parser = LogParser(content=content_regex, masks=pairs)

    @property
    def options(self) -> dict[str, Any]:
        """The options this reader was built with (``LOG_OPTIONS`` but templates)."""
        return {name: getattr(self, name) for name in READER_OPTIONS}

    def fit_read(self, X: Any) -> LogSessions:
        """Learn templates from the lines of ``X`` and group them into sessions."""
        lines, keys = self._lines(X)
        return self._group(lines, self.parser.parse(lines).event_ids, keys)

    def read(self, X: Any) -> LogSessions:
        """Group new lines under the learned templates."""
        lines, keys = self._lines(X)
        return self._group(lines, self.parser.match(lines), keys)

    def _lines(self, X: Any) -> tuple[list[str], list[str] | None]:
        """The messages of ``X``, and with ``session_column`` each row's session key."""
        if self.message_column is None:
            if isinstance(X, pd.DataFrame):
                raise ValueError("a table of logs needs message_column (the message column)")
            return read_log_lines(X), None
        frame = X if isinstance(X, pd.DataFrame) else _read_log_table(X)
        needed = [c for c in (self.message_column, self.session_column) if c is not None]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"column(s) {missing} not in the log table: {list(frame.columns)}")
        if frame.empty:
            raise ValueError("the log table has no rows")
        messages = frame[self.message_column]
        lines = [str(m)[:MAX_LINE_CHARS] for m in messages.where(messages.notna(), "")]
        if self.session_column is None:
            return lines, None
        key_column = frame[self.session_column]
        return lines, [None if pd.isna(k) else str(k) for k in key_column]

    def templates(self) -> dict[int, str]:
        """Event id -> template text of everything learned."""
        return self.parser.templates()["template"].to_dict()

    def state(self) -> dict[str, Any]:
        return {"options": self.options, "parser": self.parser.state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LogReader:
        reader = cls(**state["options"])
        reader.parser = LogParser.from_state(state["parser"])
        return reader

    # ------------------------------------------------------------- grouping
    def _group(self, lines: list[str], events: np.ndarray, keys: list | None) -> LogSessions:
        if keys is not None:
            sessions = self._by_column(keys, events)
        elif self._key is not None:
            sessions = self._by_key(lines, events)
        elif self._by_time:
            sessions = self._by_time_window(lines, events)
        else:
            sessions = self._by_line_window(len(lines), events)
        sessions.total_lines = len(lines)
        sessions.templates = self.templates()
        sessions.text = lines
        if not len(sessions):
            rule = f"session_regex {self.session_regex!r}" if self._key else "session_window"
            rule = f"session_column {self.session_column!r}" if keys is not None else rule
            raise ValueError(f"no sessions: {rule} found none in {len(lines)} lines")
        return sessions

    def _by_key(self, lines: list[str], events: np.ndarray) -> LogSessions:
        members: dict[str, list[int]] = {}
        unkeyed = 0
        for number, line in enumerate(lines):
            found = self._key.findall(line)  # whole matches, or group 1's
            if not found:
                unkeyed += 1
                continue
            if self._key.groups > 1:
                found = [match[0] for match in found]
            for key in dict.fromkeys(found):  # distinct, in order
                members.setdefault(key, []).append(number)
        keys = list(members)
        rows = [np.asarray(members[k], dtype=np.int64) for k in keys]
        return LogSessions(keys, [events[r] for r in rows], rows, unkeyed_lines=unkeyed)

    def _by_column(self, keys: list, events: np.ndarray) -> LogSessions:
        members: dict[str, list[int]] = {}
        for number, key in enumerate(keys):
            if key is not None:
                members.setdefault(key, []).append(number)
        names = list(members)
        rows = [np.asarray(members[k], dtype=np.int64) for k in names]
        unkeyed = sum(key is None for key in keys)
        return LogSessions(names, [events[r] for r in rows], rows, unkeyed_lines=unkeyed)

    def _by_line_window(self, n_lines: int, events: np.ndarray) -> LogSessions:
        size = int(self.session_window)
        step = size if self.session_step is None else int(self.session_step)
        starts = range(0, max(n_lines - size, 0) + 1, step) if n_lines >= size else [0]
        rows = [np.arange(s, min(s + size, n_lines)) for s in starts]
        keys = [f"lines {r[0] + 1}-{r[-1] + 1}" for r in rows]
        return LogSessions(keys, [events[r] for r in rows], rows)

    def _by_time_window(self, lines: list[str], events: np.ndarray) -> LogSessions:
        times = self._times(lines)
        known = np.flatnonzero(times.notna().to_numpy())
        if not len(known):
            raise ValueError(f"time_regex {self.time_regex!r} found no timestamp in any line")
        size = pd.Timedelta(self.session_window).value
        step = size if self.session_step is None else pd.Timedelta(self.session_step).value
        if size // step > 1000:
            raise ValueError("session_step is over 1000 times shorter than session_window")
        stamps = times.iloc[known].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        offset = stamps - stamps.min()
        # window k covers [k*step, k*step + size): each stamp lies in windows first..last
        last = offset // step
        first = np.maximum((offset - size) // step + 1, 0)
        spans = last - first + 1
        window_of = np.repeat(last, spans) - (
            np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans)
        )
        member = np.repeat(known, spans)
        order = np.lexsort((member, window_of))
        window_of, member = window_of[order], member[order]
        cuts = np.flatnonzero(np.diff(window_of)) + 1
        origin = pd.Timestamp(int(stamps.min()))
        keys, rows = [], []
        for start, rows_of_window in zip(
            window_of[np.r_[0, cuts]], np.split(member, cuts), strict=True
        ):
            keys.append(f"{origin + pd.Timedelta(int(start) * step)} +{self.session_window}")
            rows.append(rows_of_window)
        sessions = LogSessions(keys, [events[r] for r in rows], rows)
        sessions.unkeyed_lines = len(lines) - len(known)
        return sessions

    def _times(self, lines: list[str]) -> pd.Series:
        texts = []
        for line in lines:
            found = self._time.search(line)
            texts.append(None if found is None else found.group("time"))
        raw = pd.Series(texts, dtype=object)
        present = raw.dropna()
        if len(present) and present.str.fullmatch(r"\d+(\.\d+)?").all():
            return pd.to_datetime(pd.to_numeric(raw), unit="s")
        try:
            return pd.to_datetime(raw, format="mixed")
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"time_regex {self.time_regex!r} captured timestamps pandas cannot read "
                f"(first: {present.iloc[0]!r}): {exc}"
            ) from None

    def _check_window(self) -> None:
        if self._by_time:
            if self._time is None:
                raise ValueError("a time window needs time_regex with a (?P<time>...) group")
            if "time" not in self._time.groupindex:
                raise ValueError("time_regex needs a named group (?P<time>...)")
            for name in ("session_window", "session_step"):
                value = getattr(self, name)
                if value is None:
                    continue
                try:
                    positive = pd.Timedelta(value) > pd.Timedelta(0)
                except ValueError:
                    positive = False
                if not positive:
                    raise ValueError(f"{name} must be a positive duration such as '5min'")
            return
        for name in ("session_window", "session_step"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1
            ):
                raise ValueError(
                    f"{name} must be a positive number of lines or a duration, got {value!r}"
                )


def _check_masks(masks: Any) -> list[tuple[str, str]]:
    pairs = []
    for pair in masks if isinstance(masks, (list, tuple)) else [None]:
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not all(isinstance(part, str) for part in pair)
        ):
            raise ValueError(f"masks must be a list of [name, regex] pairs, got {masks!r}")
        pairs.append((pair[0], pair[1]))
    return pairs


def _read_log_table(X: Any) -> pd.DataFrame:
    from deepad.io.tables import read_table

    if not isinstance(X, (str, Path)):
        raise ValueError(
            f"with message_column, logs must be a table (DataFrame, CSV or Parquet file), got "
            f"{type(X).__name__}"
        )
    return read_table(X)


def reader_from_options(options: dict[str, Any]) -> LogReader | None:
    """The reader for a detector's raw-log options, or None when it reads id sessions."""
    rules = ("session_regex", "session_window", "session_column")
    if all(options.get(rule) is None for rule in rules):
        unused = [name for name, value in options.items() if value is not None]
        if unused:
            raise ValueError(
                f"{', '.join(unused)} only apply to raw logs; also give a session rule "
                "(session_regex, session_window or session_column)"
            )
        return None
    return LogReader(**options)


def _compile(pattern: Any, what: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ValueError(f"{what} must be a regex string, got {type(pattern).__name__}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{what} is not a valid regex ({pattern!r}): {exc}") from exc
