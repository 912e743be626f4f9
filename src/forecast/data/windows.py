"""Training samples gathered per batch from scaled feature rows: memory that grows with days, not with windows.

A series of ``n`` days keeps its ``n - 1`` scaled feature rows once. A sample is the row index of its first input
day; a batch of samples is gathered from the rows by index when the trainer asks for it. Several series (the
tickers of a global model) are one row block each, concatenated; a sample never crosses into the next block.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch


class Samples(Protocol):
    """What the training loop reads: a length, batches by sample index, chunks in order, a device, and the
    sampling weights (None: every sample once an epoch, in random order)."""

    @property
    def weights(self) -> torch.Tensor | None: ...

    @property
    def device(self) -> torch.device: ...

    def __len__(self) -> int: ...

    def take(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def chunks(self, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...

    def to(self, device: torch.device) -> Samples: ...

    def select(self, idx: torch.Tensor) -> Samples: ...


@dataclass(frozen=True)
class Windows:
    """Samples as offsets into ``rows``: inputs ``rows[s .. s+window-1]``, targets ``rows[s+window ..
    s+window+steps-1, 0]`` (the scaled log returns of the days after the window), or the same rows of ``labels``
    when the target is not a feature (``data.target=above_median``: :mod:`forecast.data.labels`)."""

    rows: torch.Tensor  # (R, F) float32 scaled feature rows, series concatenated
    start: torch.Tensor  # (S,) int64 row of each sample's first input day
    window: int
    steps: int  # target steps gathered per sample
    weights: torch.Tensor | None = None  # (S,) sampling weights of the training loop; None = uniform
    labels: torch.Tensor | None = None  # (R,) float32 target of each row, when it is not the row's first feature

    @property
    def device(self) -> torch.device:
        return self.rows.device

    def __len__(self) -> int:
        return len(self.start)

    def take(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(inputs (B, window, F), targets (B, steps))`` of the samples ``idx``."""
        first = self.start[idx].unsqueeze(1)
        span = torch.arange(self.window + self.steps, device=first.device)
        rows = self.rows[first + span]  # (B, window + steps, F): one gather for inputs and targets
        if self.labels is not None:
            return rows[:, : self.window], self.labels[first + span[self.window :]]
        return rows[:, : self.window], rows[:, self.window :, 0]

    def chunks(self, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``take`` of consecutive samples, ``size`` at a time, in order."""
        for idx in torch.arange(len(self), device=self.device).split(size):
            yield self.take(idx)

    def to(self, device: torch.device) -> Windows:
        weights = None if self.weights is None else self.weights.to(device)
        labels = None if self.labels is None else self.labels.to(device)
        return Windows(self.rows.to(device), self.start.to(device), self.window, self.steps, weights, labels)

    def subset(self, mask: torch.Tensor) -> Windows:
        """Return the samples where ``mask`` (``(S,)`` bool) is true."""
        return Windows(self.rows, self.start[mask], self.window, self.steps, labels=self.labels)

    def select(self, idx: torch.Tensor) -> Windows:
        """Return the samples ``idx`` (sampling weights dropped)."""
        return Windows(self.rows, self.start[idx], self.window, self.steps, labels=self.labels)

    def materialise(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return every sample at once (window-times the memory of the rows: for one series' evaluation)."""
        return self.take(torch.arange(len(self), device=self.device))

    @staticmethod
    def concat(parts: list[Windows]) -> Windows:
        """Return the samples of every part over one row block (each part's rows appended, its starts shifted)."""
        offsets = torch.tensor([0] + [len(p.rows) for p in parts[:-1]]).cumsum(0)
        return Windows(
            torch.cat([p.rows for p in parts]),
            torch.cat([p.start + int(o) for p, o in zip(parts, offsets, strict=True)]),
            parts[0].window,
            parts[0].steps,
            labels=None if parts[0].labels is None else torch.cat([p.labels for p in parts]),  # type: ignore[misc]
        )


@dataclass(frozen=True)
class Pairs:
    """Samples held as materialised ``(inputs, targets)`` tensors (what tests and small callers pass)."""

    x: torch.Tensor
    y: torch.Tensor
    weights: torch.Tensor | None = None

    @property
    def device(self) -> torch.device:
        return self.x.device

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[idx], self.y[idx]

    def chunks(self, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        yield from zip(self.x.split(size), self.y.split(size), strict=True)

    def to(self, device: torch.device) -> Pairs:
        return Pairs(self.x.to(device), self.y.to(device))

    def select(self, idx: torch.Tensor) -> Pairs:
        return Pairs(self.x[idx], self.y[idx])


def as_samples(data: Samples | tuple[torch.Tensor, torch.Tensor]) -> Samples:
    """Return ``data`` as :class:`Samples` (a tuple of tensors becomes :class:`Pairs`)."""
    return Pairs(*data) if isinstance(data, tuple) else data
