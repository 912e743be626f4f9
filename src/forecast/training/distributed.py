"""One model trained by several processes (``trainer.strategy=ddp``): data-parallel with ``torch.distributed``.

``torchrun --nproc_per_node=N -m forecast trainer.strategy=ddp ...`` starts N processes (``srun`` across machines:
docs/cluster.md); each joins the process group from the environment torchrun sets (gloo on CPU, NCCL on CUDA,
one GPU per process). Every process loads the same panel (its rows: memory that grows with days, not windows)
and trains the same model from the same weights. Each epoch rank 0 draws the sample order and sends it to all;
every global batch of ``N x trainer.batch_size`` samples is cut into N shards, one per rank, each gathered from
the rows by that rank alone. Each rank scales its shard's mean loss by its share of the batch, and one all-reduce
sums the gradients: every rank then holds the gradient of the global batch's mean loss, clips it and steps alike.
So N processes at ``trainer.batch_size=B/N`` train the weights one process trains at ``B``, up to the order of
floating-point sums. The validation loss is summed over shards the same way. Rank 0 alone writes the run folder
and checkpoints; the other ranks run in a scratch folder that is removed when they end
(``lifecycle.job.rank_scratch``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch
from torch import nn

from forecast.errors import ConfigError, PeerLost

STRATEGIES = ("single", "ddp")


@dataclass(frozen=True)
class Ranks:
    """This process's place among the processes that train one model (rank 0 of 1: a single process)."""

    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @staticmethod
    def current() -> Ranks:
        """Return the ranks of the process group this process joined (rank 0 of 1 when it joined none)."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return Ranks(torch.distributed.get_rank(), torch.distributed.get_world_size())
        return Ranks()

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """Return this rank's contiguous share of a global batch's sample indices (all of them when alone)."""
        return idx.tensor_split(self.world)[self.rank] if self.active else idx

    def order(self, idx: torch.Tensor) -> torch.Tensor:
        """Return rank 0's epoch order on every rank (its own when alone)."""
        if self.active:
            size = torch.tensor([len(idx)], device=idx.device)
            torch.distributed.broadcast(size, 0)
            idx = idx if self.main else torch.empty(int(size), dtype=idx.dtype, device=idx.device)
            torch.distributed.broadcast(idx, 0)
        return idx

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """Return ``value`` summed over the ranks (as it is when alone)."""
        if self.active:
            value = value.clone()
            torch.distributed.all_reduce(value)
        return value

    def sum_gradients(self, model: nn.Module) -> None:
        """Sum every parameter's gradient over the ranks in one all-reduce (a rank with an empty shard adds zeros)."""
        if not self.active:
            return
        params = [p for p in model.parameters() if p.requires_grad]
        flat = torch.cat([torch.zeros_like(p).ravel() if p.grad is None else p.grad.ravel() for p in params])
        torch.distributed.all_reduce(flat)
        for p, g in zip(params, flat.split([p.numel() for p in params]), strict=True):
            p.grad = g.view_as(p).clone()

    def lost(self, exc: RuntimeError, saved: int) -> PeerLost:
        """Return the one-line error of a collective that failed because another process stopped."""
        detail = re.sub(r"^\[[^\]]*\]\s*", "", str(exc).strip().splitlines()[0]).split(". This is")[0][:120]
        kept = f"its checkpoint holds epoch {saved}" if saved else "no epoch was checkpointed"
        return PeerLost(
            f"a process of this trainer.strategy=ddp run stopped, so rank {self.rank} of {self.world} cannot go on "
            f"({detail}): the run failed; {kept}"
        )

    def same_weights(self, model: nn.Module) -> None:
        """Give every rank rank 0's weights (they agree already when seeded alike; this makes it certain)."""
        if self.active:
            for tensor in model.state_dict().values():
                torch.distributed.broadcast(tensor, 0)


def launched() -> int:
    """Return the number of processes a launcher (torchrun, or srun through torchrun) started for this run (0:
    none; the environment has no ``WORLD_SIZE``)."""
    return int(os.environ.get("WORLD_SIZE") or 0)


def join(strategy: str, device: torch.device) -> torch.device:
    """With ``trainer.strategy=ddp``, join the process group the launcher set up (once) and return this process's
    device (``cuda:<LOCAL_RANK>`` on GPUs); otherwise return ``device``. Raise :class:`ConfigError` when no launcher
    started the processes."""
    if strategy != "ddp":
        if launched() > 1:
            raise ConfigError(
                f"a launcher started {launched()} processes for this run but trainer.strategy={strategy}: add "
                "trainer.strategy=ddp to train one model in them"
            )
        return device
    if not launched():
        raise ConfigError(
            "trainer.strategy=ddp trains one model in processes that a launcher starts: run it with torchrun "
            "--nproc_per_node=N -m forecast trainer.strategy=ddp ... (WORLD_SIZE is not set)"
        )
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK") or 0))
        torch.cuda.set_device(device)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device
