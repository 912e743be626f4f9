"""Adam and AdamW through torch's functional ``torch.optim.adam.adam``, without ``torch.optim.Optimizer``; RMSprop
(Fischer & Krauss's optimiser) as torch's own ``torch.optim.RMSprop``.

Why: ``torch.optim.Optimizer`` imports ``torch._dynamo`` the first time one is built or stepped (its methods are
wrapped to keep ``torch.compile`` out), which costs about a second of a run's start on a 2-core machine. The
update itself is torch's own (``torch.optim.adam.adam``, the function ``torch.optim.Adam.step`` calls), with the
same defaults, except that it runs fused (``fused=True``: one kernel a step instead of a dozen; measured on 2 CPU
cores, 0.17-0.21 ms a step against 0.52-0.77 ms for the default ``foreach`` on the RNN's 12,673 parameters, and on
a GPU, where an epoch takes 0.1 s, launches are what costs); the state dict has ``torch.optim.Adam``'s layout,
so checkpoints load into either (a test steps both side by side and compares parameters and states exactly).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.optim.adam import adam

from forecast.config.schema import Optimizer, TrainerConfig

GROUP_DEFAULTS: dict[str, Any] = {  # torch.optim.Adam's param_group keys and defaults (torch 2.x)
    "betas": (0.9, 0.999),
    "eps": 1e-8,
    "amsgrad": False,
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
}


class FunctionalAdam:
    """``torch.optim.Adam(params, lr, weight_decay)``, or ``AdamW`` with ``decoupled=True``, for a training loop:
    ``zero_grad``, ``step``, ``state_dict`` and ``load_state_dict``."""

    def __init__(
        self, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0, decoupled: bool = False
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.group: dict[str, Any] = {
            "lr": lr,
            **GROUP_DEFAULTS,
            "fused": True if self.params and self.params[0].device.type in ("cpu", "cuda") else None,
            "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled,
        }
        self.state: dict[int, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        live = [(i, p) for i, p in enumerate(self.params) if p.grad is not None]
        for i, p in live:
            if i not in self.state:  # as torch.optim.Adam: a float32 step counter (on the device when fused)
                zeros = torch.zeros_like(p, memory_format=torch.preserve_format)
                step = torch.zeros((), device=p.device) if self.group["fused"] else torch.tensor(0.0)
                self.state[i] = {"step": step, "exp_avg": zeros, "exp_avg_sq": zeros.clone()}
        states = [self.state[i] for i, _ in live]
        g = self.group
        adam(
            [p for _, p in live],
            [p.grad for _, p in live],  # type: ignore[misc]
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [],
            [s["step"] for s in states],
            foreach=g["foreach"],
            capturable=g["capturable"],
            differentiable=g["differentiable"],
            fused=g["fused"],
            decoupled_weight_decay=g["decoupled_weight_decay"],
            amsgrad=g["amsgrad"],
            beta1=g["betas"][0],
            beta2=g["betas"][1],
            lr=g["lr"],
            weight_decay=g["weight_decay"],
            eps=g["eps"],
            maximize=g["maximize"],
        )

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Adam``'s layout: per-parameter state by index, one param group."""
        return {"state": dict(self.state), "param_groups": [{**self.group, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        (group,) = state_dict["param_groups"]
        if len(group["params"]) != len(self.params):
            raise ValueError(
                f"the optimizer state holds {len(group['params'])} parameters, the model {len(self.params)}"
            )
        self.group = {k: v for k, v in group.items() if k != "params"}
        self.state = {
            int(i): {
                k: v.to(self.params[int(i)].device) if k != "step" or self.group["fused"] else v.clone()
                for k, v in s.items()
            }
            for i, s in state_dict["state"].items()
        }


Stepper = FunctionalAdam | torch.optim.Optimizer  # what a training loop steps, saves and restores


def make_optimizer(model: nn.Module, settings: TrainerConfig) -> Stepper:
    """Return Adam or AdamW over the model's parameters, as ``settings.optimizer`` says (torch's update, without
    ``torch.optim.Optimizer``'s import of ``torch._dynamo``), or RMSprop with Keras's defaults (decay 0.9, epsilon
    1e-7), which Fischer & Krauss (2018) trained with; its first step imports ``torch._dynamo`` (about a second)."""
    if settings.optimizer == Optimizer.rmsprop:
        return torch.optim.RMSprop(
            model.parameters(), lr=settings.lr, alpha=0.9, eps=1e-7, weight_decay=settings.weight_decay
        )
    decoupled = settings.optimizer == Optimizer.adamw
    return FunctionalAdam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, decoupled=decoupled)
