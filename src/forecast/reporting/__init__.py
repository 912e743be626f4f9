"""What a run writes: atomic files, plots, and (for sweeps) the summary."""
