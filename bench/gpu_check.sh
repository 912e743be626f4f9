#!/usr/bin/env bash
# One short check of the CUDA path on a lent GPU machine (not CI): whether cuDNN runs the recurrent layers, then
# end-to-end CLI runs on the GPU (a 5-step forecast with conformal intervals, a quantile head, predict on a run
# folder, a 3-fold walk-forward backtest, a global model and predict on one of its tickers, the cost of
# checkpoints every epoch against every 5th, a whole-universe epoch, the ddp path on NCCL) and, with BENCH=1, the bench with device=cuda. Expects wheels in .whl/
# (git-ignored: carry it) for what the machine lacks (it has torch, pandas, matplotlib, scipy, markdown, tabulate,
# pyarrow). Writes into $OUT. Get the wheels with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl hydra-core==1.3.2 omegaconf==2.3.0 exchange-calendars==4.13.2 \
#       pyluach korean_lunar_calendar toolz tqdm pyyaml tzdata scikit-learn==1.9.1 joblib threadpoolctl
#   pip wheel --no-deps -w .whl antlr4-python3-runtime==4.9.3      # sdist only on PyPI; the wheel is pure Python
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="$PWD/src:/tmp/site" FORECAST_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 - <<'PY' | tee -a "$OUT/gpu.txt"
import torch
from torch.profiler import ProfilerActivity, profile
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(),
      "enabled", torch.backends.cudnn.enabled)
from forecast.models.recurrent import RecurrentForecaster
from forecast.models.registry import resolve_impl
dev = torch.device("cuda")
for cell in ("rnn", "lstm", "gru", "mingru", "minlstm", "slstm"):
    impl = resolve_impl(cell, "auto", dev)
    model = RecurrentForecaster(cell=cell, n_features=1, hidden_size=64, num_layers=2, horizon=1, impl=impl).to(dev)
    x, y = torch.randn(64, 60, 1, device=dev), torch.randn(64, 1, device=dev)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        torch.nn.functional.mse_loss(model(x), y).backward()
        torch.cuda.synchronize()
    names = {e.key for e in prof.key_averages()}
    rnn_kernels = sorted(n for n in names if "rnn" in n.lower() or "cudnn" in n.lower() or "lstm" in n.lower() or "gru" in n.lower())
    print(cell, "impl", impl, "cuDNN/RNN kernels:", len(rnn_kernels), "e.g.", rnn_kernels[:2])
PY
if [ "${BENCH:-0}" = 1 ]; then
  python3 bench/bench.py --device cuda --no-backtest --no-universe --no-sweep --out "$OUT/results-cuda.json" 2>&1 | tee "$OUT/bench.txt"
fi
{
  python3 -m forecast model=gru device=cuda horizon=5 trainer.max_epochs=3 hydra.run.dir=/tmp/gpu_run
  python3 -m forecast.predict /tmp/gpu_run
  python3 -m forecast model=lstm device=cuda horizon=3 model.loss=quantile trainer.max_epochs=3 hydra.run.dir=/tmp/gpu_q
  python3 -m forecast model=lstm device=cuda backtest=walk_forward backtest.folds=3 trainer.max_epochs=2 \
    hydra.run.dir=/tmp/gpu_bt
} 2>&1 | tee "$OUT/run.txt"
cmp /tmp/gpu_run/future.csv /tmp/gpu_run/predictions/*/future.csv && echo "predict reproduces future.csv" | tee -a "$OUT/run.txt"
cp /tmp/gpu_run/metrics.json "$OUT/run-metrics.json"
# The minimal cells' parallel scan on CUDA, and every cell's training time against window length.
python3 -m forecast model=mingru device=cuda trainer.max_epochs=2 hydra.run.dir=/tmp/gpu_mingru 2>&1 | tail -3 | tee -a "$OUT/run.txt"
python3 bench/windows.py --device cuda --out "$OUT/windows.json" 2>&1 | tee "$OUT/windows.txt"
cp /tmp/gpu_bt/metrics.json "$OUT/backtest-metrics.json"
# A global model on the GPU (lazy window gathering, ticker embedding, balanced sampling), predict for one of its
# tickers, and the cost of checkpoints: the same GRU run checkpointing every epoch, then by device (every 5th).
{
  python3 -m forecast device=cuda scope=global 'tickers=[AAPL,MSFT,IBM]' model.ticker_embedding=4 \
    trainer.sampling=tickers data.start=2005-01-01 trainer.max_epochs=3 hydra.run.dir=/tmp/gpu_global
  python3 -m forecast.predict /tmp/gpu_global ticker=MSFT
  for every in 1 0; do
    python3 -m forecast device=cuda model=gru trainer.max_epochs=20 trainer.patience=50 \
      trainer.checkpoint_every=$every hydra.run.dir=/tmp/gpu_ckpt$every > /dev/null
    python3 -c "import json; d = json.load(open('/tmp/gpu_ckpt$every/metrics.json')); t = d['timings']['training']
print('checkpoint_every=$every:', d['status'], d['kernel'], d['epochs_run'], 'epochs, training phase', round(t, 2),
      's, per epoch', round(t / d['epochs_run'], 4), 's, median pass', round(d['epoch_seconds_median'], 4))"
  done
} 2>&1 | grep -v "data for\|trading days" | tee "$OUT/round3.txt"
cp /tmp/gpu_global/metrics.json "$OUT/global-metrics.json"
# Round four: one epoch of the global model over the whole shipped universe (every training window of 504
# tickers), and the data-parallel path on NCCL in one process (torchrun, trainer.strategy=ddp).
{
  python3 -m forecast device=cuda universe=sp500_2021_04 scope=global trainer.max_epochs=1 trainer.batch_size=1024 \
    forecast.intervals=none plots=none hydra.run.dir=/tmp/gpu_universe
  python3 -c "import json; d = json.load(open('/tmp/gpu_universe/metrics.json'))
print('universe epoch:', d['status'], d['kernel'], d['n_windows'], 'median pass', round(d['epoch_seconds_median'], 1),
      's, peak memory', d['peak_memory_mb'], 'MB, phases', d['timings'])"
  python3 -m torch.distributed.run --standalone --nproc_per_node=1 -m forecast device=cuda trainer.strategy=ddp \
    trainer.max_epochs=2 hydra.run.dir=/tmp/gpu_ddp
  python3 -c "import json; d = json.load(open('/tmp/gpu_ddp/metrics.json')); print('nccl ddp:', d['status'], d['device'])"
} 2>&1 | grep -v "data for\|trading days" | tee "$OUT/round4.txt"
cp /tmp/gpu_universe/metrics.json "$OUT/universe-metrics.json"
