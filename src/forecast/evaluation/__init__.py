"""What a run's forecasts are worth: the forecast table, baselines, error scores and their tests (honesty,
comparisons, backtests, pools), intervals (conformal, adaptive, PID, path bands) and money (portfolios)."""
