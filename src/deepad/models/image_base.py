"""``ImageDetector``: the contract for images, one score per image plus a pixel anomaly map.

``fit(X)`` takes a folder, a list of image paths or an array (n, h, w[, c]) of images of
good parts (``deepad.io.images``); every image is resized to ``image_size`` x
``image_size``. ``decision_function(X)`` gives one score per image (higher = more
anomalous) and ``anomaly_maps(X)`` the per-pixel map (n, image_size, image_size) that
says where; ``explain(X)`` wraps both (``deepad.explain.ImageExplanation``), with each
map also available at its image's original size.

What the base does once for every image detector: reading and resizing (grey images stay
one channel unless a model needs three), a random calibration split of the training
images (as for table rows: images are exchangeable, so p-values of new good images are
uniform), scoring in chunks of ``batch_images`` so memory stays bounded, and bundles.
Images labelled 1 in ``y`` are kept out of training *and* calibration (a defect in a
memory bank would hide its kind).

Subclasses implement ``_fit_images(pixels)`` and ``_raw_maps(pixels)`` (the unblurred
anomaly map, a (n, 1, size, size) tensor) on float32 (n, channels, size, size) arrays in
[0, 1], and ``_export_state`` /
``_import_state`` for their learned state (``deepad.models.unit_base``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import numpy as np
import torch

from deepad.io.images import Images, as_images, detect_channels, iter_images
from deepad.models.unit_base import UnitDetector
from deepad.nn.filters import gaussian_blur

#: images scored per chunk
CHUNK_IMAGES = 32


class ImageDetector(UnitDetector):
    """Base class of the image detectors; not used directly."""

    modality: ClassVar[str] = "image"
    default_explain_method: ClassVar[str] = "anomaly_map"
    native_explain_methods: ClassVar[tuple[str, ...]] = ("anomaly_map",)
    #: the model needs three channels (a pretrained RGB backbone) whatever the images are
    needs_rgb: ClassVar[bool] = False
    unit: ClassVar[str] = "images"

    # ------------------------------------------------------------ contract
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        pattern: str | None = None,
        calibration_size: int | float | str = "auto",
    ) -> Any:
        """Learn what good images look like from ``X``.

        ``pattern`` (folders only) selects the files, e.g. ``"*.jpg"``; it is kept and
        used again when a folder is scored. ``calibration_size`` images ("auto": 20%, at
        most 2,000; a fraction; a count; 0 for none) are held out of training at random;
        their scores make the p-values. ``y`` (optional, 1 = defective) keeps labelled
        images out of both.
        """
        self._check_params()
        size = int(self.image_size)
        channels = 3 if self.needs_rgb else detect_channels(X, pattern)
        images = as_images(X, size, channels, pattern)
        fit_rows, calibration_rows = self._split_units(len(images), y, calibration_size)
        self.image_size_ = size
        self.channels_ = channels
        self.pattern_ = pattern
        self.feature_names_in_ = np.asarray(
            ["grey"] if channels == 1 else ["red", "green", "blue"], dtype=object
        )
        self.n_features_in_ = channels
        self.training_rows_ = len(images)
        self.training_fingerprint_ = _fingerprint(images)
        self._fit_images(images.pixels[fit_rows])
        scores, _ = self._score_chunked(images.pixels, keep_maps=False)
        self.decision_scores_ = scores
        self.calibration_rows_ = calibration_rows
        self._start_calibration(scores[calibration_rows], scores[fit_rows])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score per image, float64, higher = more anomalous.

        Folders and lists are read ``CHUNK_IMAGES`` at a time: memory stays bounded."""
        return self._score_source(X, keep_maps=False)[0]

    def anomaly_maps(self, X: Any) -> np.ndarray:
        """Per-pixel anomaly map of each image, (n, image_size, image_size) float32."""
        return self._score_source(X, keep_maps=True)[1]

    def explain(self, X: Any, *, top: int = 3, method: str = "auto") -> Any:
        """Where each image is anomalous: a ``deepad.explain.ImageExplanation`` holding the
        scores and anomaly maps (``top`` sets how many hot spots its readable form lists)."""
        from deepad.explain.images import ImageExplanation  # explain sits above models
        from deepad.explain.result import check_top

        check_top(top)
        if method not in ("auto", *self.native_explain_methods):
            raise ValueError(
                f"{type(self).__name__} explains images with method='anomaly_map'; got {method!r}"
            )
        scores, maps, names, sizes = self._score_source(X, keep_maps=True)
        return ImageExplanation(
            scores=scores,
            maps=maps,
            names=names,
            sizes=sizes,
            threshold=float(self.threshold_),
            top_k=top,
        )

    # --------------------------------------------------------------- hooks
    def _fit_images(self, pixels: np.ndarray) -> None:
        raise NotImplementedError

    def _raw_maps(self, pixels: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------- helpers
    def _check_params(self) -> None:
        """``image_size`` and ``blur_sigma`` (every image detector has both), then the rest."""
        super()._check_params()
        size = self.image_size
        is_int = isinstance(size, (int, np.integer)) and not isinstance(size, bool)
        if not is_int or not 32 <= size <= 1024:
            raise ValueError(f"image_size must be an int in [32, 1024], got {size!r}")
        stride = getattr(self, "_size_multiple", 1)
        if size % stride:
            raise ValueError(
                f"{type(self).__name__} needs image_size divisible by {stride}, got {size}"
            )
        sigma = self.blur_sigma
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 <= sigma <= 32:
            raise ValueError(f"blur_sigma must be in [0, 32] pixels, got {sigma!r}")

    def _images(self, X: Any) -> Images:
        self._check_fitted()
        return as_images(X, self.image_size_, self.channels_, self.pattern_)

    def _score_images(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, maps) of one chunk: the raw maps blurred (``blur_sigma``), score = max."""
        return blurred_maps_and_scores(self._raw_maps(pixels), float(self.blur_sigma))

    def _score_source(self, X: Any, keep_maps: bool) -> tuple[Any, ...]:
        """(scores, maps or None, names, original sizes) of the images of ``X``, read and
        scored one chunk at a time."""
        self._check_fitted()
        names: list[str] = []
        sizes: list[tuple[int, int]] = []

        def pixels() -> Iterator[np.ndarray]:  # reads a chunk only when it is scored
            for chunk in iter_images(
                X, self.image_size_, self.channels_, self.pattern_, CHUNK_IMAGES
            ):
                names.extend(chunk.names)
                sizes.extend(chunk.sizes)
                yield chunk.pixels

        scores, maps = self._score_all(pixels(), keep_maps)
        return scores, maps, names, sizes

    def _score_chunked(
        self, pixels: np.ndarray, keep_maps: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(scores, maps or None) of in-memory pixels, ``CHUNK_IMAGES`` at a time."""
        starts = range(0, len(pixels), CHUNK_IMAGES)
        return self._score_all((pixels[s : s + CHUNK_IMAGES] for s in starts), keep_maps)

    def _score_all(
        self, chunks: Iterable[np.ndarray], keep_maps: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        scores, maps = [], []
        for pixels in chunks:
            chunk_scores, chunk_maps = self._score_images(pixels)
            scores.append(chunk_scores)
            if keep_maps:
                maps.append(chunk_maps)
        return np.concatenate(scores), np.concatenate(maps) if keep_maps else None

    def _schema_state(self) -> dict[str, Any]:
        return {
            "modality": "image",
            "image_size": self.image_size_,
            "channels": self.channels_,
            "pattern": self.pattern_,
        }

    def _restore_schema(self, state: dict[str, Any]) -> None:
        self.image_size_ = int(state["image_size"])
        self.channels_ = int(state["channels"])
        self.pattern_ = state.get("pattern")


def blurred_maps_and_scores(raw: torch.Tensor, blur_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw (n, 1, s, s) maps -> (scores float64 (n,), maps float32 (n, s, s)): the maps
    Gaussian-blurred, each score the maximum of its map, so "map > threshold" is the
    region that would flag the image by itself."""
    maps = gaussian_blur(raw.float(), blur_sigma)[:, 0]
    return maps.flatten(1).max(dim=1).values.double().numpy(), maps.numpy()


def _fingerprint(images: Images) -> str:
    """A content hash of the resized training pixels, for bundle lineage."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images.pixels).tobytes())
    return "sha256:" + digest.hexdigest()
