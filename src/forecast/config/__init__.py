"""Typed configuration: the schema Hydra composes into, and the checks it cannot express."""
