"""Model bundles on disk: ``manifest.json`` + ``weights.safetensors``, never pickle."""

from deepad.bundle.store import FORMAT_VERSION, BundleError, load, read_manifest, save_bundle

__all__ = ["FORMAT_VERSION", "BundleError", "load", "read_manifest", "save_bundle"]
