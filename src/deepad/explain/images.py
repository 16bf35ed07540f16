"""``ImageExplanation``: what ``explain`` gives for images, the anomaly map, readably.

An image detector's map and its image score share units: the score is the map's
maximum, so "where the map exceeds the threshold" is the region that would flag the
image on its own. Maps are at the model's working size; ``map_at(i)`` resizes one to
its image's original size, and ``save_overlays`` writes heat-map PNGs over the images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from deepad.explain.result import format_number


@dataclass
class ImageExplanation:
    """Scores and anomaly maps of images, with hot spots in original pixel coordinates.

    - ``scores``: one per image; ``maps``: (n, size, size), same units as the scores;
    - ``names``: file paths (or array positions); ``sizes``: original (height, width);
    - ``threshold``: the detector's threshold when explained (the flagged region is
      where a map exceeds it).
    """

    scores: np.ndarray
    maps: np.ndarray
    names: list[str]
    sizes: list[tuple[int, int]]
    threshold: float
    top_k: int = 3
    method: str = "anomaly_map"

    def __len__(self) -> int:
        return len(self.names)

    def map_at(self, i: int, *, original_size: bool = True) -> np.ndarray:
        """The anomaly map of image ``i``, at its original size (bilinear) or the model's."""
        heat = self.maps[i]
        if not original_size or tuple(heat.shape) == tuple(self.sizes[i]):
            return heat
        tensor = torch.from_numpy(np.ascontiguousarray(heat))[None, None]
        resized = F.interpolate(tensor, size=self.sizes[i], mode="bilinear", align_corners=False)
        return resized[0, 0].numpy()

    def hot_spots(self, i: int, k: int | None = None) -> list[tuple[int, int, float]]:
        """Up to ``k`` separate peaks of image ``i``'s map as (x, y, value), hottest first,
        in original pixels; peaks closer than a tenth of the image are merged."""
        k = self.top_k if k is None else k
        heat = self.maps[i].astype(np.float64).copy()
        size = heat.shape[0]
        radius = max(1, size // 10)
        height, width = self.sizes[i]
        spots = []
        for _ in range(k):
            flat = int(np.argmax(heat))
            row, col = divmod(flat, heat.shape[1])
            value = heat[row, col]
            if not np.isfinite(value):
                break
            spots.append(
                (
                    int((col + 0.5) * width / heat.shape[1]),
                    int((row + 0.5) * height / heat.shape[0]),
                    float(value),
                )
            )
            top, left = max(0, row - radius), max(0, col - radius)
            heat[top : row + radius + 1, left : col + radius + 1] = -np.inf
        return spots

    def area_above_threshold(self) -> np.ndarray:
        """Share of each image's pixels whose map value exceeds the threshold."""
        return (self.maps > self.threshold).mean(axis=(1, 2))

    def top(self, k: int | None = None) -> pd.DataFrame:
        """One row per image: name, score, flagged, area share above the threshold, and the
        ``k`` hottest spots (``x_i``, ``y_i``, ``value_i``), then ``explanation``."""
        k = self.top_k if k is None else k
        area = self.area_above_threshold()
        rows = []
        for i in range(len(self)):
            row: dict[str, Any] = {
                "image": self.names[i],
                "score": float(self.scores[i]),
                "flagged": bool(self.scores[i] > self.threshold),
                "area_above_threshold": float(area[i]),
            }
            spots = self.hot_spots(i, k)
            for j in range(k):
                x, y, value = spots[j] if j < len(spots) else (None, None, None)
                row.update({f"x_{j + 1}": x, f"y_{j + 1}": y, f"value_{j + 1}": value})
            row["explanation"] = self._sentence(i, spots, area[i])
            rows.append(row)
        return pd.DataFrame(rows)

    def text(self, k: int | None = None) -> list[str]:
        """One readable line per image."""
        return list(self.top(k)["explanation"])

    def _sentence(self, i: int, spots: list[tuple[int, int, float]], area: float) -> str:
        if not spots:
            return "no anomaly map"
        x, y, value = spots[0]
        verdict = "above" if self.scores[i] > self.threshold else "below"
        return (
            f"hottest at x={x}, y={y} (map {format_number(value)}, {verdict} the threshold "
            f"{format_number(self.threshold)}); {area:.1%} of the image above the threshold"
        )

    def overlay(self, i: int, image: np.ndarray) -> np.ndarray:
        """Image ``i`` (uint8 (h, w) or (h, w, c), original size) with its map drawn over it
        as a heat map: transparent below half the threshold, opaque from 1.5x it (with no
        finite threshold, the largest map value stands in for it)."""
        import matplotlib

        base = np.asarray(image)
        if base.ndim == 3 and base.shape[-1] == 1:
            base = base[..., 0]
        if base.ndim == 2:
            base = np.repeat(base[..., None], 3, axis=-1)
        base = base[..., :3].astype(np.float32)
        heat = self.map_at(i) if tuple(base.shape[:2]) == tuple(self.sizes[i]) else None
        if heat is None:
            tensor = torch.from_numpy(np.ascontiguousarray(self.maps[i]))[None, None]
            heat = F.interpolate(tensor, size=base.shape[:2], mode="bilinear")[0, 0].numpy()
        # no reachable threshold (too few calibration images): scale by the maps instead
        reference = self.threshold if np.isfinite(self.threshold) else float(self.maps.max())
        scale = max(reference, 1e-12)
        level = np.clip(heat / (2.0 * scale), 0.0, 1.0)
        alpha = np.clip((heat - 0.5 * scale) / scale, 0.0, 1.0)[..., None] * 0.6
        colours = matplotlib.colormaps["jet"](level)[..., :3] * 255.0
        blended = base * (1.0 - alpha) + colours * alpha
        return np.clip(blended + 0.5, 0, 255).astype(np.uint8)

    def save_overlays(self, directory: str | Path, images: Any = None) -> list[Path]:
        """Write ``<name>.png`` heat-map overlays to ``directory`` (created); returns paths.

        The images are read again from their files; pass ``images`` (the array that was
        explained) when they came from an array.
        """
        from PIL import Image

        from deepad.io.images import read_image

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for i, name in enumerate(self.names):
            if images is not None:
                picture = np.asarray(images[i])
                if picture.dtype != np.uint8:
                    picture = np.clip(picture * 255.0 + 0.5, 0, 255).astype(np.uint8)
            elif Path(name).is_file():
                picture = read_image(name)
            else:
                raise ValueError(
                    f"image {name!r} is not a file; pass images= (the explained array) to "
                    "save_overlays"
                )
            stem = Path(name).stem if images is None else name
            path = out / f"{stem}.png"
            if path in written:  # a.jpg and a.png side by side
                path = out / f"{stem}{Path(name).suffix.replace('.', '_')}.png"
            Image.fromarray(self.overlay(i, picture)).save(path)
            written.append(path)
        return written
