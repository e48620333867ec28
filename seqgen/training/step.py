"""One optimisation step of a language model: mixed precision, loss scaling, clipping, AdamW.

The training loop and the benchmark both step through this class, so the speed the benchmark
reports is the speed training gets.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..hardware.device import autocast
from .distributed import World


class Stepper:
    """Owns the optimizer (and the loss scaler for fp16) of one model.

    With several processes (``world``) the model is wrapped in DistributedDataParallel, which
    averages the gradients of all ranks during ``backward``; ``module`` is the model itself.
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, precision: str, lr: float,
                 weight_decay: float = 0.01, clip: float = 1.0, world: World | None = None):
        self.module, self.device, self.precision, self.clip = model.to(device), device, precision, clip
        self.world = world or World(device=device)
        # The loss is the forward pass DistributedDataParallel sees (it syncs gradients from there).
        self.loss = self.world.wrap(LossOf(self.module))
        # The fused AdamW updates all parameters in one kernel (CPU and GPU alike).
        self.opt = torch.optim.AdamW(self.module.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.99),
                                     fused=device.type in ("cpu", "cuda"))
        # fp16 needs its loss scaled so that small gradients do not vanish; bf16 and fp32 do not.
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    @property
    def lr(self) -> float:
        return self.opt.param_groups[0]["lr"]

    def step(self, x: torch.Tensor, y: torch.Tensor, hidden: Any, lr: float, shares=None) -> tuple[float | None, Any]:
        """Train on one batch (B, T); return its loss and the state to carry on with (the model's
        own kind of state: None before the first batch; the model cuts its history off).

        A non-finite loss changes nothing and gives (None, None): the caller decides what to do.
        ``shares`` (a ``timing.TimeShares``) is told the seconds of the step's own forward and
        backward ("learn") and of the update around them ("update").
        """
        start = time.perf_counter()
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.module.train()
        with autocast(self.device, self.precision):
            loss, hidden = self.loss(x.to(self.device), y.to(self.device), hidden)
        self.opt.zero_grad(set_to_none=True)
        value = loss.item()
        if not self.world.all_finite(value):
            return None, None
        self.scaler.scale(loss).backward()
        learned = time.perf_counter()
        if self.clip:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        if shares is not None:
            shares.add("learn", learned - start)
            shares.add("update", time.perf_counter() - learned)
        # The next batch starts from this state without back-propagating into this one's graph.
        return value, self.module.detach_state(hidden)

    def state_dict(self) -> dict:
        return {"optimizer": self.opt.state_dict(), "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.opt.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


class LossOf(torch.nn.Module):
    """A model whose forward pass is its training loss, ``model.loss(x, y, state)``."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, y: torch.Tensor, hidden: Any = None):
        return self.model.loss(x, y, hidden)
