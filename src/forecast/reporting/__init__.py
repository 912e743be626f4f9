"""What a run shows: plots, and (for sweeps) the summary, the report and its Hydra callback."""
