"""The recurrent forecaster and its cell registry."""
