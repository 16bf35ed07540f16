"""Alarm rate of peaks-over-threshold thresholds on stationary score streams.

For each score distribution and risk level q: 10 streams, each an initial batch of 2,000
scores and then 100,000 more from the same distribution (no anomalies). Reported: the
alarm rate divided by q (1.0 = exactly as asked), median and range over the streams, for

- ``SPOT``: deepad.calibrate.SPOT, refitting its tail on the stream's non-alarm peaks;
- ``POT once``: deepad.calibrate.pot_threshold on the initial batch, then fixed;
- ``empirical``: the ``1 - q`` quantile of the initial batch, then fixed (the peer any
  quantile-based threshold amounts to).

Run: ``.venv/bin/python benchmarks/spot_alarm_rate.py``
"""

from __future__ import annotations

import time

import numpy as np

from deepad.calibrate import SPOT, pot_threshold

DRAWS = {
    "exponential": lambda rng, n: rng.exponential(size=n),
    "gamma(2)": lambda rng, n: rng.gamma(2.0, size=n),
    "log-normal(0, 0.5)": lambda rng, n: rng.lognormal(0.0, 0.5, n),
    "normal": lambda rng, n: rng.standard_normal(n),
}
STREAMS, INITIAL, LENGTH = 10, 2000, 100_000


def main() -> None:
    print("| scores | q | SPOT rate / q: median (range) | POT once | empirical | SPOT s / 100k |")
    print("|---|---:|---|---|---|---:|")
    for name, draw in DRAWS.items():
        for q in (1e-2, 1e-3):
            ratios: dict[str, list[float]] = {"spot": [], "pot": [], "empirical": []}
            seconds = []
            for seed in range(STREAMS):
                rng = np.random.default_rng(seed)
                initial, stream = draw(rng, INITIAL), draw(rng, LENGTH)
                start = time.perf_counter()
                alarms = SPOT(q=q).fit(initial).run(stream)
                seconds.append(time.perf_counter() - start)
                ratios["spot"].append(alarms.mean() / q)
                ratios["pot"].append((stream > pot_threshold(initial, q)).mean() / q)
                empirical = np.quantile(initial, 1.0 - q)
                ratios["empirical"].append((stream > empirical).mean() / q)
            cells = [f"{np.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" for v in ratios.values()]
            print(f"| {name} | {q:g} | " + " | ".join(cells) + f" | {np.median(seconds):.2f} |")


if __name__ == "__main__":
    main()
