"""LSTM forecaster: predict the next step from the window before it; the error is the score."""

from deepad.models.lstm_forecaster.detector import LSTMForecaster

__all__ = ["LSTMForecaster"]
