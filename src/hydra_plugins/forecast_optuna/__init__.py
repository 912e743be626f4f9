"""forecast's Hydra sweeper on Optuna 4+ (ask/tell): ``hydra/sweeper=optuna``, or ``hparams_search=optuna``."""
