"""SemanticLog: next-event LSTM over sentence embeddings of the log templates."""

from deepad.models.semantic_log.detector import SemanticLog

__all__ = ["SemanticLog"]
