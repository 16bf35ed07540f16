"""EventCounts: the classic count-vector log baseline (PCA residual or Isolation Forest)."""

from deepad.models.event_counts.detector import EventCounts

__all__ = ["EventCounts"]
