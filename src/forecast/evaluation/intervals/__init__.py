"""Prediction intervals: split-conformal scales, adaptive (ACI) and PID control walked online, the
volatility forecasts they normalise by, their coverage and the exchangeability alarm."""
