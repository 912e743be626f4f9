"""What a run leaves on disk: its record (metrics.json), atomic writes, and the run-folder guard."""
