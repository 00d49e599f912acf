"""An exponential moving average of a model's weights: the weights a run delivers.

Fine-tuning on synthetic frames moves the weights in a noisy walk; scores on real frames rise for
a few hundred steps and then wander by more than recipes differ (BENCHMARKS.md). The average of
the recent weights is a smoother, usually better model than the last step's (Polyak averaging),
and costs one copy of the model and one lerp per step.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """``average = decay * average + (1 - decay) * weights`` after every optimiser step.

    The decay ramps up as ``(1 + n) / (10 + n)`` until it reaches ``decay`` (after about 1800
    updates for 0.995, 9000 for 0.999), so the average is never pinned to the starting
    weights: until then it spans roughly the last tenth of the run. Buffers are averaged too
    (batch-norm statistics); integer buffers are copied.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight average decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        live = model.state_dict()
        for name, average in self.model.state_dict().items():
            if average.is_floating_point():
                average.lerp_(live[name].detach().to(average.dtype), 1.0 - decay)
            else:
                average.copy_(live[name])

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "model": {k: v.detach().cpu() for k, v in
                                                   self.model.state_dict().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
