"""Diagnostics of a model in training: how far back in the window the gradient reaches, and memory."""
