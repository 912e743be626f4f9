"""Scaling of features (fitted on the training span only) and the way back from scaled returns to prices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Standardizer:
    """Per-feature mean and standard deviation, frozen at fit time (training span only)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, rows: np.ndarray) -> Standardizer:
        """Return the statistics of ``rows`` (shape ``(n, features)``); a constant column gets std 1."""
        std = rows.std(axis=0)
        return cls(mean=rows.mean(axis=0), std=np.where(std > 0, std, 1.0))

    def transform(self, rows: np.ndarray) -> np.ndarray:
        """Return ``(rows - mean) / std``."""
        return (rows - self.mean) / self.std

    def inverse(self, scaled: np.ndarray, column: int = 0) -> np.ndarray:
        """Return ``scaled * std + mean`` for one feature ``column`` (default: log_return)."""
        return scaled * self.std[column] + self.mean[column]

    def to_dict(self) -> dict[str, list[float]]:
        """Return plain lists (stored in ``model.pt`` so a reload needs no pickle)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, stored: dict[str, list[float]]) -> Standardizer:
        """Return the statistics stored by :meth:`to_dict` (e.g. read back from ``model.pt``)."""
        return cls(mean=np.asarray(stored["mean"], dtype=np.float64), std=np.asarray(stored["std"], dtype=np.float64))


def returns_to_paths(last_price: np.ndarray, scaled_returns: np.ndarray, scaler: Standardizer) -> np.ndarray:
    """Return the price at every step: ``last_price * exp(cumulative sum of unscaled log returns)``.

    ``scaled_returns`` has shape ``(n, horizon)``; ``last_price`` shape ``(n,)``; the result ``(n, horizon)``.
    """
    log_returns = scaler.inverse(scaled_returns, column=0)
    return last_price[:, None] * np.exp(np.cumsum(log_returns, axis=1))
