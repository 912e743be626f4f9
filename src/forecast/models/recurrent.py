"""One forecaster for every cell: a stacked recurrent layer and a linear head to ``horizon`` outputs."""

from __future__ import annotations

import torch
from torch import nn

from forecast.config.schema import ModelConfig
from forecast.errors import ConfigError
from forecast.models.registry import REGISTRY, recurrent_module, resolve_impl


class RecurrentForecaster(nn.Module):
    """``(batch, window, n_features) -> (batch, horizon)``: the head reads the last time step's top-layer state.

    With ``quantiles=Q > 0`` the head outputs ``(batch, horizon, Q)``, sorted along the last axis so that the
    quantiles never cross (trained with the pinball loss of ``training.losses``).

    ``impl`` is ``torch`` (stock ``nn.RNN/LSTM/GRU``) or ``fast`` (the CPU path of :mod:`forecast.models.fast`,
    RNN and GRU only); both have the same parameters, so state dicts load into either.

    With ``ticker_embedding=E > 0`` (a global model over ``n_tickers``) the inputs' last column is the ticker's
    index: it is replaced by a learned ``E``-vector of that ticker at every time step.

    ``io_dropout`` drops that share of the inputs and of the last state before the head in training (Fischer &
    Krauss's dropout on a one-layer model). ``options`` are the ``model.*`` settings only this cell takes (its
    registry entry names them: sLSTM's ``heads``).

    Recurrent dropout (on the state between time steps) is not offered: the
    fused kernels (torch's and :mod:`forecast.models.fast`) run the whole sequence in one call, with no hook
    between steps.
    """

    def __init__(
        self,
        *,
        cell: str,
        n_features: int,
        hidden_size: int,
        num_layers: int,
        horizon: int,
        dropout: float = 0.0,
        forget_bias: float | None = None,
        impl: str = "torch",
        quantiles: int = 0,
        n_tickers: int = 0,
        ticker_embedding: int = 0,
        io_dropout: float = 0.0,
        options: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        if cell not in REGISTRY:
            raise ConfigError(f"model.cell={cell!r} is unknown: choose one of {', '.join(REGISTRY)}")
        self.embed = nn.Embedding(n_tickers, ticker_embedding) if ticker_embedding else None
        self.rnn = recurrent_module(cell, impl)(
            input_size=n_features - 1 + ticker_embedding if ticker_embedding else n_features,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            **(options or {}),
        )
        self.horizon, self.quantiles = horizon, quantiles
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.drop = nn.Dropout(io_dropout) if io_dropout > 0 else nn.Identity()
        self.head = nn.Linear(hidden_size, horizon * max(1, quantiles))
        if forget_bias is not None and cell == "lstm":
            set_forget_bias(self.rnn, forget_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embed is not None:
            vectors = self.embed(x[:, -1, -1].long()).unsqueeze(1).expand(-1, x.shape[1], -1)
            x = torch.cat([x[..., :-1], vectors], dim=-1)
        y = self.head(self.drop(last_state(self.rnn, self.drop(x))))  # (batch, horizon * max(1, quantiles))
        if self.quantiles:
            return y.view(-1, self.horizon, self.quantiles).sort(dim=-1).values  # (batch, horizon, quantiles)
        return y


def last_state(rnn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Return the top layer's last state ``(batch, hidden)`` of a stack: through its own ``last`` where it has one
    (the minimal cells: the gradient then skips the other steps' zeros), else ``rnn(x)[0][:, -1]``."""
    last = getattr(rnn, "last", None)
    return last(x) if callable(last) else rnn(x)[0][:, -1]


def inference_rows(model: nn.Module, window: int) -> int:
    """Return the rows of one chunk of a pass without gradients (validation losses, forecasts): as many as keep its
    gate activations (float32, every layer) within :data:`INFERENCE_BYTES`, in multiples of 64 from 64 to 4,096;
    1,024 for other models.

    An LSTM of 2 x 128 at window 60 holds 240 KB of gates a row: 4,096 rows made 1 GB, 1,024 a quarter of it, which
    glibc's heap then keeps (``diagnostics.memory.hold_freed_memory``). The chunk's size is not its speed, as long as
    it is a multiple of 64: oneDNN's LSTM at 1 x 25, window 240 forecast 34,400 windows/s in chunks of 700 or 704
    rows and 18,500 in chunks of 699."""
    if not isinstance(model, RecurrentForecaster):
        return 1024
    per_row = window * REGISTRY[model.cell].gates * model.hidden_size * model.num_layers * 4
    return int(min(4096, max(64, INFERENCE_BYTES // max(per_row, 1) // 64 * 64)))


INFERENCE_BYTES = 64 * 2**20


def set_forget_bias(lstm: nn.Module, value: float) -> None:
    """Set every LSTM layer's forget-gate bias to ``value`` (in ``bias_ih``; ``bias_hh`` forget part to 0).

    PyTorch orders LSTM gate blocks (input, forget, cell, output), so the forget gate is rows ``H:2H``.
    """
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            if name.startswith("bias_"):
                h = param.shape[0] // 4
                param[h : 2 * h] = value if name.startswith("bias_ih") else 0.0


def count_parameters(model: nn.Module) -> int:
    """Return the exact number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_model(
    m: ModelConfig, n_features: int, horizon: int, device: torch.device, n_tickers: int = 0
) -> RecurrentForecaster:
    """Return the forecaster for ``m`` with ``n_features`` inputs on ``device``: a head of ``horizon`` steps (one
    for a recursive model), times its quantiles for a quantile head; a ticker embedding over ``n_tickers`` when
    ``m.ticker_embedding`` asks for one (the inputs then carry the ticker index as their last column)."""
    model = RecurrentForecaster(
        cell=m.cell,
        n_features=n_features,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        horizon=1 if m.strategy == "recursive" else horizon,
        dropout=m.dropout,
        forget_bias=m.forget_bias,
        impl=resolve_impl(m.cell, m.impl, device),
        quantiles=len(m.quantiles) if m.loss == "quantile" else 0,
        n_tickers=n_tickers,
        ticker_embedding=m.ticker_embedding if n_tickers else 0,
        io_dropout=m.io_dropout,
        options={name: getattr(m, name) for name in REGISTRY[m.cell].options},
    )
    return model.to(device)
