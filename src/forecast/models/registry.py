"""Cell registry: a new recurrent cell is one entry here plus one ``conf/model/<name>.yaml``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

CELLS: dict[str, Callable[..., nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATES: dict[str, int] = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per layer (for FLOP counts)
IMPLS = ("auto", "torch", "fast")
