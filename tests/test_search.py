"""Hyper-parameter search with Optuna (hparams_search=optuna): resumable, blind to the test span, reproducible."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from forecast.data.splits import split_bounds
from hydra_plugins.forecast_optuna.outputs import best_yaml
from hydra_plugins.forecast_optuna.sweeper import distribution
from tests.helpers import SNAPSHOT, forecast

TINY = ("trainer.max_epochs=2", "model.num_layers=1", "data.start=2011-01-01")


def test_sweep_grammar_maps_to_optuna_distributions() -> None:
    import optuna.distributions as d

    parser = OverridesParser.create()
    spaces = {
        "trainer.lr=tag(log, interval(0.0001, 0.01))": d.FloatDistribution(0.0001, 0.01, log=True),
        "model.dropout=interval(0.0, 0.5)": d.FloatDistribution(0.0, 0.5),
        "model.hidden_size=choice(16, 32)": d.CategoricalDistribution([16, 32]),
        "window=range(10, 30, 10)": d.IntDistribution(10, 20, step=10),
        "model.num_layers=int(interval(1, 3))": d.IntDistribution(1, 3),
        "model.dropout=tag(log, interval(1, 3))": d.FloatDistribution(1.0, 3.0, log=True),
    }
    for line, expected in spaces.items():
        assert distribution(parser.parse_override(line)) == expected


def test_the_best_trial_becomes_an_experiment_file() -> None:
    text = best_yaml({"trainer.lr": 0.002, "model.hidden_size": 32}, ["model=gru", "ticker=AAPL"], 0.912345, 4)
    assert text.splitlines()[:2] == [
        "# @package _global_",
        "# Best trial (4) of an Optuna search: validation loss 0.912345.",
    ]
    assert yaml.safe_load(text) == {
        "defaults": [{"override /model": "gru"}],
        "trainer": {"lr": 0.002},
        "model": {"hidden_size": 32},
        "ticker": "AAPL",
    }


def search(tmp_path: Path, name: str, *extra: str) -> Path:
    out = tmp_path / name
    space = (  # two parameters searched; the shared space's others pinned (a pinned value is a fixed override)
        "hydra.sweeper.params={trainer.lr:'tag(log, interval(0.001, 0.01))',model.hidden_size:'choice(4, 8)',"
        "model.num_layers:1,model.dropout:0.0,window:10,trainer.batch_size:64}"
    )
    done = forecast("-m", "hparams_search=optuna", space, *TINY, "hydra.sweeper.n_trials=2",
                    f"hydra.sweep.dir={out}", *extra, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.slow
def test_a_search_resumes_from_its_storage_and_its_best_yaml_reproduces_the_best_trial(tmp_path: Path) -> None:
    import optuna

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = search(tmp_path, "first", f"hydra.sweeper.storage={storage}")
    assert len(pd.read_csv(first / "optuna" / "trials.csv")) == 2
    second = search(tmp_path, "second", f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=3")
    trials = optuna.load_study(study_name="lstm_AAPL", storage=storage).trials
    assert len(trials) == 3 and [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert sorted(p.name for p in second.iterdir() if p.is_dir() and p.name[0].isdigit()) == ["0_AAPL_lstm_seed0"]
    for name in ("best.yaml", "trials.csv", "history.png", "importances.png"):
        assert (second / "optuna" / name).exists(), name
    best = min(trials, key=lambda t: t.value)
    conf = tmp_path / "conf" / "experiment"
    conf.mkdir(parents=True)
    shutil.copy(second / "optuna" / "best.yaml", conf / "best.yaml")
    again = forecast(f"--config-dir={tmp_path / 'conf'}", "experiment=best", *TINY, f"hydra.run.dir={tmp_path / 'r'}",
                     cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    record = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert record["best_val_loss"] == pytest.approx(best.value, rel=1e-9)


@pytest.mark.slow
def test_the_search_never_reads_the_test_span(tmp_path: Path) -> None:
    prices = pd.read_csv(SNAPSHOT / "AAPL.csv")
    used = prices[prices["date"] >= "2011-01-01"].reset_index(drop=True)
    b = split_bounds(len(used), (0.7, 0.15, 0.15), 10, 1)
    late = prices["date"] >= used["date"].iloc[b.n_train + b.n_val]  # the test span's first day on
    prices.loc[late, ["open", "high", "low", "close", "adj_close"]] *= 1.5
    prices.to_csv(tmp_path / "moved.csv", index=False)
    shutil.copy(SNAPSHOT / "AAPL.csv", tmp_path / "same.csv")
    values = []
    for name in ("same", "moved"):
        out = search(tmp_path, name, "data.source=csv", f"data.path={tmp_path / name}.csv")
        values.append(pd.read_csv(out / "optuna" / "trials.csv")["value"].tolist())
        test_mae = json.loads(next(out.glob("0_*/metrics.json")).read_text())["test"]["mae"]
        values[-1].append(test_mae)
    assert values[0][:2] == values[1][:2]  # the trials' objective: identical
    assert values[0][2] != values[1][2]  # while the test span did move


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_trials": 0}, "hydra.sweeper.n_trials must be at least 1 trial (got 0): e.g. hydra.sweeper.n_trials=30"),
        ({"n_trials": -3}, "hydra.sweeper.n_trials must be at least 1 trial (got -3): e.g. hydra.sweeper.n_trials=30"),
        ({"n_jobs": 0}, "hydra.sweeper.n_jobs must be a whole number from 1 to 64 trials at a time (got 0): e.g. "
         "hydra.sweeper.n_jobs=1"),
        ({"sampler": "bogus"}, "hydra.sweeper.sampler='bogus' is unknown: choose tpe|random"),
        ({"direction": "up"}, "hydra.sweeper.direction='up' is unknown: choose minimize|maximize"),
        ({"heartbeat_s": 0}, "hydra.sweeper.heartbeat_s must be a whole number of seconds from 1 to 3600 (got 0): "
         "e.g. hydra.sweeper.heartbeat_s=30"),
        ({"max_retry": -1}, "hydra.sweeper.max_retry must be from 0 to 100 retries of a dead worker's trial (got "
         "-1): e.g. hydra.sweeper.max_retry=3"),
        ({"storage": "journal:"}, "hydra.sweeper.storage=journal: names no file: e.g. "
         "hydra.sweeper.storage=journal:outputs/optuna.journal"),
    ],
)  # fmt: skip
def test_a_search_that_cannot_run_is_refused_before_its_study(changes: dict[str, object], message: str) -> None:
    from forecast.config.search import check
    from forecast.errors import ConfigError
    from hydra_plugins.forecast_optuna.config import OptunaSweeperConf

    with pytest.raises(ConfigError) as err:
        check(OptunaSweeperConf(**changes))  # type: ignore[arg-type]
    assert str(err.value) == message


@pytest.mark.filterwarnings("ignore:.*is experimental")
def test_a_storage_file_that_is_not_a_journal_is_named_in_one_line(tmp_path: Path) -> None:
    from forecast.errors import ConfigError
    from hydra_plugins.forecast_optuna.config import OptunaSweeperConf
    from hydra_plugins.forecast_optuna.storage import open_study

    garbage = tmp_path / "study.journal"
    garbage.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(ConfigError) as err:
        open_study(OptunaSweeperConf(storage=f"journal:{garbage}"), None)
    assert str(err.value).startswith(f"hydra.sweeper.storage=journal:{garbage}: that file is not an Optuna journal (")
    assert str(err.value).endswith("): move it away, or name a new file to start a study there")


def test_a_search_without_optuna_installed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from forecast.config.search import check
    from forecast.errors import ConfigError
    from hydra_plugins.forecast_optuna.config import OptunaSweeperConf

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else found(name, *a))
    with pytest.raises(ConfigError) as err:
        check(OptunaSweeperConf())
    assert str(err.value) == "hparams_search=optuna needs Optuna, an optional extra: pip install -e '.[search]'"


@pytest.mark.slow
def test_the_command_line_refuses_a_bogus_sampler_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    done = forecast("-m", "hparams_search=optuna", *TINY, "hydra.sweeper.sampler=bogus",
                    f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: hydra.sweeper.sampler='bogus' is unknown: choose tpe|random"]
    assert not (tmp_path / "s").exists()


def test_the_tuned_comparison_checks_its_options_before_any_search(capsys: pytest.CaptureFixture[str]) -> None:
    from forecast.tuned import main

    bad = {
        "cells=bogus": "cells=bogus names an unknown cell (bogus): choose from rnn,lstm,gru,mingru,minlstm,slstm",
        "trials=0": "trials=0 must be a whole number of trials, at least 1: e.g. trials=12",
        "seeds=a": "seeds=a must be whole numbers separated by commas: e.g. seeds=0,1,2",
    }
    for arg, message in bad.items():
        assert main([arg]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [f"error: {message}"]


@pytest.mark.slow
def test_a_search_survives_a_worker_killed_mid_trial(tmp_path: Path) -> None:
    """Two workers share a journal-file study of 4 trials; one is killed with SIGKILL while its trial runs. The
    other fails that trial once its heartbeat is stale, runs it again, and the study ends with exactly 4 complete
    trials and none running."""
    import os
    import signal
    import time

    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from tests.helpers import start_forecast

    journal = tmp_path / "study.journal"
    common = ("-m", "hparams_search=optuna", *TINY, "hydra.sweeper.n_trials=4", "hydra.sweeper.heartbeat_s=1",
              f"hydra.sweeper.storage=journal:{journal}")  # fmt: skip
    doomed = start_forecast(*common, f"hydra.sweep.dir={tmp_path / 'a'}", cwd=tmp_path)
    survivor = start_forecast(*common, f"hydra.sweep.dir={tmp_path / 'b'}", cwd=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline:  # the doomed worker's first trial is under way
        records = [json.loads(p.read_text() or "{}") for p in (tmp_path / "a").glob("*/metrics.json")]
        if any(r.get("status") == "running" for r in records):
            break
        time.sleep(0.05)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.communicate(timeout=60)
    _, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err[-2000:]
    trials = optuna.load_study(study_name="lstm_AAPL", storage=JournalStorage(JournalFileBackend(str(journal)))).trials
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 4 and "RUNNING" not in states
    dead = [t for t in trials if t.state.name == "FAIL" and not t.user_attrs.get("surplus")]
    assert len(dead) == 1  # the killed worker's trial ...
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == dead[0].number]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE" and retry[0].params == dead[0].params  # ... again
