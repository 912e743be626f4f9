"""The training loop, its checkpoints (and resume policy), device selection and seeding."""
