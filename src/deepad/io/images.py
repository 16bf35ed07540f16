"""Read images for the image detectors: a folder, a list of files, or an array.

Every image comes out as float32 pixels in [0, 1], resized to the square size the
detector works at, with 1 (grey) or 3 (RGB) channels, plus its name and original size
(so anomaly maps can be drawn back over the image as it was).

- a folder: the image files directly in it (``.png .jpg .jpeg .bmp .tif .tiff .webp``),
  sorted by name, or those matching ``pattern`` (e.g. ``"*.jpg"`` when masks lie beside
  the images, as in the magnetic-tile set);
- a path to one image file, or a list / tuple of image paths;
- an array ``(n, h, w)`` or ``(n, h, w, c)`` with c in {1, 3, 4}: uint8 (0-255) or
  floats in [0, 1]; a 4th (alpha) channel is dropped.

Unreadable files, empty folders and arrays of the wrong shape or range are refused with
a ``ValueError`` naming the file or the problem.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: images larger than this many pixels are refused before decoding (decompression bombs)
MAX_PIXELS = 64_000_000


@dataclass
class Images:
    """Images ready for a model: ``pixels`` (n, channels, size, size) float32 in [0, 1]."""

    pixels: np.ndarray
    names: list[str]
    #: (height, width) of each image as read, before resizing
    sizes: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.names)


def image_paths(source: str | Path, pattern: str | None = None) -> list[Path]:
    """The image files of a folder (sorted), or the one file ``source`` names."""
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such image file or folder: {path}")
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and (pattern is None or fnmatch.fnmatch(p.name, pattern))
    )
    if not files:
        what = f"matching {pattern!r}" if pattern else f"({', '.join(IMAGE_SUFFIXES)})"
        raise ValueError(f"no image files {what} in folder {path}")
    return files


def read_image(path: str | Path) -> np.ndarray:
    """One image file as uint8 (h, w, c) with c = 1 (grey) or 3 (colour)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(
                    f"{path} is {image.width}x{image.height} pixels, more than the "
                    f"{MAX_PIXELS:,} deepad reads"
                )
            grey = image.mode in ("1", "L", "LA", "I", "I;16", "F")
            converted = image.convert("L" if grey else "RGB")
            array = np.asarray(converted, dtype=np.uint8)
    except Image.DecompressionBombError as exc:  # a header claiming a vast image
        raise ValueError(
            f"{path} claims more pixels than the {MAX_PIXELS:,} deepad reads: {exc}"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc
    return array[:, :, None] if array.ndim == 2 else array


def _array_images(array: np.ndarray) -> list[np.ndarray]:
    """An (n, h, w[, c]) array as a list of float32 (h, w, c) images in [0, 1]."""
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(
            "an image array must have shape (n, h, w) or (n, h, w, c) with c in {1, 3, 4}; "
            f"got {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0 or array.shape[2] == 0:
        raise ValueError(f"the image array is empty: shape {array.shape}")
    if array.shape[-1] == 4:
        array = array[..., :3]
    if array.dtype == np.uint8:
        return list(array.astype(np.float32) / 255.0)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"image arrays must be uint8 or float, got dtype {array.dtype}")
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise ValueError("the image array holds NaN or infinite pixels")
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"float image arrays must hold pixels in [0, 1], got values in [{low:g}, {high:g}]; "
            "pass uint8 for 0-255 pixels"
        )
    return list(values)


def _resize(image: np.ndarray, size: int, channels: int) -> np.ndarray:
    """(h, w, c) float image -> (channels, size, size), antialiased bilinear."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    if tensor.shape[1] != channels:
        if channels == 1:  # ITU-R 601 luma, as PIL's convert("L")
            weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            tensor = (tensor * weights).sum(1, keepdim=True)
        else:
            tensor = tensor.expand(-1, 3, -1, -1)
    if tensor.shape[-2:] != (size, size):
        tensor = F.interpolate(
            tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
    return np.ascontiguousarray(tensor[0].clamp(0.0, 1.0).numpy())


def _sources(X: Any, pattern: str | None) -> tuple[list[Any], list[str]]:
    """The images of ``X`` (paths to read or in-memory arrays) and their names."""
    if isinstance(X, (str, Path)):
        paths = image_paths(X, pattern)
        return list(paths), [str(p) for p in paths]
    if isinstance(X, np.ndarray):
        images = _array_images(X)
        return images, [str(i) for i in range(len(images))]
    if isinstance(X, Sequence) and X and all(isinstance(p, (str, Path)) for p in X):
        for p in X:
            if not Path(p).is_file():
                raise FileNotFoundError(f"no such image file: {p}")
        return list(X), [str(p) for p in X]
    if isinstance(X, Sequence) and not X:
        raise ValueError("no images given (an empty list)")
    raise ValueError(
        "images must be a folder, an image file, a list of image paths, or an array "
        f"(n, h, w[, c]); got {type(X).__name__}"
    )


def detect_channels(X: Any, pattern: str | None = None) -> int:
    """1 when every image of ``X`` is grey (or colour with R = G = B), else 3."""
    for item in _sources(X, pattern)[0]:
        image = read_image(item) if isinstance(item, (str, Path)) else item
        if image.shape[-1] == 3 and not (
            np.array_equal(image[..., 0], image[..., 1])
            and np.array_equal(image[..., 1], image[..., 2])
        ):
            return 3
    return 1


def as_images(X: Any, size: int, channels: int, pattern: str | None = None) -> Images:
    """Read and resize the images of ``X`` to (n, channels, size, size) float32."""
    items, names = _sources(X, pattern)
    return _read(items, names, size, channels)


def iter_images(
    X: Any, size: int, channels: int, pattern: str | None = None, chunk: int = 32
) -> Iterator[Images]:
    """``as_images`` in chunks of ``chunk`` images, so a large folder never sits in memory."""
    items, names = _sources(X, pattern)
    for start in range(0, len(items), chunk):
        stop = start + chunk
        yield _read(items[start:stop], names[start:stop], size, channels)


def _read(items: list[Any], names: list[str], size: int, channels: int) -> Images:
    pixels = np.empty((len(items), channels, size, size), dtype=np.float32)
    sizes: list[tuple[int, int]] = []
    for i, item in enumerate(items):
        if isinstance(item, (str, Path)):
            image = read_image(item).astype(np.float32) / 255.0
        else:
            image = item
        sizes.append((int(image.shape[0]), int(image.shape[1])))
        pixels[i] = _resize(image, size, channels)
    return Images(pixels, names, sizes)


def read_mask(path: str | Path, size: int) -> np.ndarray:
    """A defect mask file as a (size, size) bool array (nonzero = defect), nearest-resized."""
    from PIL import Image

    image = read_image(path)
    grey = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image.max(axis=-1))
    return np.asarray(grey.resize((size, size), Image.NEAREST)) > 127
