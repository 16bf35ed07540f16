"""LSTM autoencoder: reconstruct the window ending at each step; the error is the score."""

from deepad.models.lstm_autoencoder.detector import LSTMAutoEncoder

__all__ = ["LSTMAutoEncoder"]
