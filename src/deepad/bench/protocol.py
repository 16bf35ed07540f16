"""The constants of the ADBench tabular protocol, apart so the CLI can name them cheaply."""

from __future__ import annotations

#: the settings of the protocol, in the order they are run and reported
SETTINGS: tuple[str, ...] = ("unsupervised", "oneclass", "labeled")

#: share of the training anomalies whose label the ``labeled`` setting reveals
LABELED_FRACTION = 0.05

#: test share of the stratified split
TEST_SIZE = 0.3
