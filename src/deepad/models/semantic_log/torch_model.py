"""SemanticLog's network: frozen template vectors, a learned projection, an LSTM, logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SemanticNextEventLSTM(nn.Module):
    """Tokens (n, window) -> logits over the known tokens for the next one (n, vocabulary).

    ``table`` holds one frozen sentence vector per token (saved with the weights): the
    known tokens, then ``extra`` events that have a template but never occurred in
    training, so the model reads them by meaning instead of as "unknown".
    """

    def __init__(
        self, vocabulary: int, embedding: int, hidden: int, layers: int, width: int, extra: int
    ) -> None:
        super().__init__()
        self.register_buffer("table", torch.zeros(vocabulary + extra, width))
        self.project = nn.Linear(width, embedding)
        self.lstm = nn.LSTM(embedding, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.lstm(self.project(F.embedding(tokens.long(), self.table)))
        return self.head(states[:, -1])
