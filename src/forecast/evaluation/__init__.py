"""Forecasts in price units, the persistence baseline and error metrics."""
