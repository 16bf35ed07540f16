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

Subclasses implement ``_fit_images(pixels)``, ``_score_images(pixels) -> (scores, maps)``
on float32 (n, channels, size, size) arrays in [0, 1], and ``_export_state`` /
``_import_state`` for their learned state (``deepad.models.unit_base``).
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import numpy as np

from deepad.io.images import Images, as_images, detect_channels, iter_images
from deepad.models.unit_base import UnitDetector

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
        size = self._image_size()
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
        scores, _ = self._score_chunked(images.pixels)
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

    def _score_images(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    # ------------------------------------------------------------- helpers
    def _image_size(self) -> int:
        size = self.image_size
        is_int = isinstance(size, (int, np.integer)) and not isinstance(size, bool)
        if not is_int or not 32 <= size <= 1024:
            raise ValueError(f"image_size must be an int in [32, 1024], got {size!r}")
        stride = getattr(self, "_size_multiple", 1)
        if size % stride:
            raise ValueError(
                f"{type(self).__name__} needs image_size divisible by {stride}, got {size}"
            )
        return int(size)

    def _images(self, X: Any) -> Images:
        self._check_fitted()
        return as_images(X, self.image_size_, self.channels_, self.pattern_)

    def _score_source(self, X: Any, keep_maps: bool) -> tuple[Any, ...]:
        """(scores, maps or None, names, original sizes) of the images of ``X``, read and
        scored one chunk at a time."""
        self._check_fitted()
        scores, maps, names, sizes = [], [], [], []
        for chunk in iter_images(X, self.image_size_, self.channels_, self.pattern_, CHUNK_IMAGES):
            chunk_scores, chunk_maps = self._score_images(chunk.pixels)
            scores.append(np.asarray(chunk_scores, dtype=np.float64))
            if keep_maps:
                maps.append(np.asarray(chunk_maps, dtype=np.float32))
            names += chunk.names
            sizes += chunk.sizes
        return (
            np.concatenate(scores),
            np.concatenate(maps) if keep_maps else None,
            names,
            sizes,
        )

    def _score_chunked(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, maps = [], []
        for start in range(0, len(pixels), CHUNK_IMAGES):
            chunk_scores, chunk_maps = self._score_images(pixels[start : start + CHUNK_IMAGES])
            scores.append(np.asarray(chunk_scores, dtype=np.float64))
            maps.append(np.asarray(chunk_maps, dtype=np.float32))
        return np.concatenate(scores), np.concatenate(maps)

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


def _fingerprint(images: Images) -> str:
    """A content hash of the resized training pixels, for bundle lineage."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images.pixels).tobytes())
    return "sha256:" + digest.hexdigest()
