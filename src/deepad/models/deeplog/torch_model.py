"""DeepLog's network: an LSTM over the last ``window`` event tokens predicting the next one."""

from __future__ import annotations

import torch
from torch import nn


class NextEventLSTM(nn.Module):
    """Tokens (n, window) -> logits over the vocabulary for the next token (n, vocabulary)."""

    def __init__(self, vocabulary: int, embedding: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding)
        self.lstm = nn.LSTM(embedding, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.lstm(self.embedding(tokens.long()))
        return self.head(states[:, -1])
