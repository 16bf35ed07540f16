"""Reports: a self-contained HTML page of what a detector sees in a table.

``build_report(detector, data, labels=..., ids=...)`` returns the HTML; ``write_report``
saves it. ``deepad report BUNDLE DATA --out report.html`` is the command-line form.
"""

from deepad.report.html import build_report, write_report

__all__ = ["build_report", "write_report"]
