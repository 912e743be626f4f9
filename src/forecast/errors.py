"""Errors a user can fix. The entry point prints their message as one line and exits non-zero."""


class ForecastError(Exception):
    """A failure with a one-line message that names the problem and the fix."""


class ConfigError(ForecastError):
    """A config value out of range or an impossible combination."""


class DataError(ForecastError):
    """Price data missing, unreadable, too short or invalid."""


class TrainingDiverged(ForecastError):
    """The loss became NaN or infinite during training."""


class FolderTaken(ConfigError):
    """The run folder holds another run's results (completed, or running in a live process)."""
