"""Forecasts in money: the long-short portfolio after costs, the paper's measures, daily-return statistics and
the deflated Sharpe ratio and PBO of a grid of portfolios."""
