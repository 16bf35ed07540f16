"""The report opened in a real browser: headless Chromium, offline, no console errors.

Chromium is Debian's package (``.ci/chromium.sh`` installs it for CI). The page's own
check script records on ``<body data-plots-ok>`` how many plots decoded; Chromium's
``--dump-dom`` returns the DOM after scripts ran, and ``--enable-logging=stderr`` prints
every console message. The screenshot is kept in ``test-artifacts/`` for people to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_report import cardio_report
from tests.test_report_modalities import image_report, log_report, series_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: no network: every host name resolves to nothing, no proxy, no background services
OFFLINE = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--disable-background-networking",
    "--disable-extensions",
]


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium not found: run `sh .ci/chromium.sh` (Debian's chromium package)")
    return path


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run(
        [_chromium(), *OFFLINE, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


#: report builder -> (plots that must decode, sections that must be there)
REPORTS = {
    "cardio": (3, ("summary", "score-distribution", "roc-pr", "top-anomalies", "drift")),
    "series": (4, ("summary", "score-distribution", "roc-pr", "series", "windows", "drift")),
    "images": (9, ("summary", "score-distribution", "images")),
    "logs": (1, ("summary", "score-distribution", "top-sessions")),
}


def _build(name: str, tmp_path: Path) -> str:
    if name == "cardio":
        return cardio_report()[0]
    if name == "series":
        return series_report()
    if name == "images":
        return image_report(tmp_path)[0]
    return log_report()[0]


@pytest.mark.parametrize("name", list(REPORTS))
def test_report_renders_in_headless_chromium(name, tmp_path):
    plots, sections = REPORTS[name]
    page = tmp_path / "report.html"
    page.write_text(_build(name, tmp_path), encoding="utf-8")
    url = page.resolve().as_uri()

    dom = _run(["--enable-logging=stderr", "--v=0", "--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    body = re.search(r"<body[^>]*data-plots-ok=\"(\d+)/(\d+)\"", dom.stdout)
    assert body is not None, "the page's check script did not run"
    assert body.group(1) == body.group(2) == str(plots)  # every plot decoded, none broken
    for section in sections:
        assert f'id="{section}"' in dom.stdout
    assert len(re.findall(r"<tr>", dom.stdout)) > 5  # the summary table (and ranked ones)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{name}.png"
    result = _run([f"--screenshot={shot}", "--window-size=1200,4200", url], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
