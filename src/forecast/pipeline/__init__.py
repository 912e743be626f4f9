"""The recipe of a run over a panel of one ticker or many: fit its units, forecast, score, describe and write."""
