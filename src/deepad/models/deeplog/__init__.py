"""DeepLog: LSTM next-event prediction over log keys."""

from deepad.models.deeplog.detector import DeepLog

__all__ = ["DeepLog"]
