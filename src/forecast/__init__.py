"""forecast: daily stock-price forecasting with recurrent networks, compared honestly."""

__version__ = "0.1.0"
