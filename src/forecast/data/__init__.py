"""Prices in (sources, validation), tensors out (features, chronological split, scaling, windows)."""
