"""The training loop, device selection, seeding and peak-memory measurement."""
