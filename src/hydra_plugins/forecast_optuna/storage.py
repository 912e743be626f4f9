"""The study's storage: in memory (one process), an RDB URL (``sqlite:///...``, one worker), or Optuna's journal
file (``journal:<path>``, the default for several workers on one study: no database to lock).

Shared storages carry heartbeats: while a worker runs a trial it stamps the trial every ``heartbeat_s`` seconds,
and before each round of asks every worker fails the running trials whose stamp is older than three intervals (a
worker killed mid-trial: SIGKILL, a pre-empted node) and queues them again with the same parameters
(``RetryHeartbeatStaleTrialCallback``), so a dead worker costs its trial's time and nothing more. Optuna gives RDB
storages heartbeats; the journal storage gets them here, through the same interface (``BaseHeartbeat``).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

JOURNAL = "journal:"
BEAT = "heartbeat"  # the trial's system attribute: the time of its worker's last stamp
GRACE = 3  # heartbeat intervals without a stamp before a running trial counts as dead


@functools.cache
def heartbeat_journal() -> type:
    """Return Optuna's journal file storage with heartbeats kept in the trials' system attributes (built on first
    use: Hydra imports every plugin module at start, and optuna takes a second to import)."""
    from optuna.storages import JournalStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages._heartbeat import BaseHeartbeat
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
        def __init__(self, path: str, heartbeat_s: int, max_retry: int) -> None:
            super().__init__(JournalFileBackend(path))
            self.heartbeat_s, self.retry = heartbeat_s, RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

        def record_heartbeat(self, trial_id: int) -> None:
            self.set_trial_system_attr(trial_id, BEAT, time.time())

        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            now, stale = time.time(), []
            for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
                started = trial.datetime_start.timestamp() if trial.datetime_start else now
                if now - max(trial.system_attrs.get(BEAT, started), started) > GRACE * self.heartbeat_s:
                    stale.append(trial._trial_id)  # max: a retry carries its failed trial's old stamp
            return stale

        def get_heartbeat_interval(self) -> int:
            return self.heartbeat_s

        def get_heartbeat_stale_trial_callback(self) -> Any:
            return self.retry

    return HeartbeatJournalStorage


def open_storage(url: str | None, heartbeat_s: int, max_retry: int) -> Any:
    """Return the storage ``create_study`` takes for ``hydra.sweeper.storage`` (None: in memory)."""
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    if url is None:
        return None
    if url.startswith(JOURNAL):
        path = Path(url.removeprefix(JOURNAL))
        path.parent.mkdir(parents=True, exist_ok=True)
        return heartbeat_journal()(str(path), heartbeat_s, max_retry)
    return RDBStorage(
        url,
        heartbeat_interval=heartbeat_s,
        grace_period=GRACE * heartbeat_s,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
    )


def open_study(conf: Any, sampler: Any) -> Any:
    """Return the study ``hydra.sweeper.*`` names, created or loaded from its storage; refuse, in one line, a storage
    file that is not an Optuna journal (Optuna says only "'utf-8' codec can't decode" or a JSON error)."""
    import optuna

    from forecast.errors import ConfigError

    try:
        return optuna.create_study(
            study_name=conf.study_name,
            storage=open_storage(conf.storage, conf.heartbeat_s, conf.max_retry),
            sampler=sampler,
            direction="maximize" if conf.direction == "maximize" else "minimize",
            load_if_exists=True,
        )
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        if not str(conf.storage or "").startswith(JOURNAL):
            raise
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:80]
        raise ConfigError(
            f"hydra.sweeper.storage={conf.storage}: that file is not an Optuna journal ({detail}): move it away, or "
            "name a new file to start a study there"
        ) from None


def tally(trials: list[Any]) -> tuple[int, int]:
    """Return (finished, running): complete trials plus failed ones that will not run again (not retried, not a
    surplus ask), and trials running now (some perhaps on a dead worker, until their heartbeat goes stale)."""
    from optuna.trial import TrialState

    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    finished = sum(
        t.state == TrialState.COMPLETE
        or (t.state == TrialState.FAIL and t.number not in retried and not t.user_attrs.get("surplus"))
        for t in trials
    )
    return finished, sum(t.state == TrialState.RUNNING for t in trials)
