"""Diagnostics of trained models: how far back in the window the gradient reaches."""
