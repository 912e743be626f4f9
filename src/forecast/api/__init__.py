"""``forecast`` from Python: :func:`forecast.run` and :func:`forecast.load` (re-exported by the package)."""
