"""The three training stages as modules that turn a batch into named losses.

Each task holds the whole S2RDepthNet (so one checkpoint describes everything) but
trains only its stage's parts; frozen parts stay in eval mode and outside autograd.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..model import S2RDepthNet
from ..model.depth_net import DepthNet
from .config import STRUCTURE_PARTS
from .losses import (
    centimetres_per_unit,
    depth_loss,
    signed_structure_loss,
    struct_weighted_loss,
)
from .style import AdaINDecoder, StyleEncoder


def init_normal(module: nn.Module, generator: torch.Generator, gain: float = 0.02) -> None:
    """The reference's ``init_weights('normal', 0.02)``: conv ~ N(0, g), BN weight ~ N(1, g)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * gain)
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(1.0 + torch.randn(m.weight.shape, generator=generator) * gain)
                m.bias.zero_()


def _freeze(module: nn.Module) -> None:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)


class StageTask(nn.Module):
    """Base: ``forward(batch, generator) -> {'loss': total, name: component, ...}``."""

    stage: int = -1
    loss_names: list[str] = []
    trainable_names: tuple[str, ...] = ()
    frozen_names: tuple[str, ...] = ()

    def __init__(self, model: S2RDepthNet) -> None:
        super().__init__()
        self.model = model
        for name in ("struct_encoder", "struct_decoder", "attention", "depth_net"):
            if name not in self.trainable_names:
                _freeze(getattr(model, name))

    def train(self, mode: bool = True) -> StageTask:
        super().train(mode)
        for name in ("struct_encoder", "struct_decoder", "attention", "depth_net"):
            if name not in self.trainable_names:
                getattr(self.model, name).eval()  # frozen BN keeps its running statistics
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """What the optimiser updates."""
        return [p for p in self.parameters() if p.requires_grad]

    def extra_state(self) -> dict[str, dict[str, torch.Tensor]]:
        """Training-only networks to checkpoint besides the model."""
        return {}

    def load_extra_state(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        """Inverse of :meth:`extra_state`."""

    @torch.no_grad()
    def validate(self, batch: dict[str, torch.Tensor]) -> float:
        """Held-out loss of one batch, with no randomness (eval mode)."""
        raise NotImplementedError

    @torch.no_grad()
    def preview_maps(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Named 1- or 3-channel maps of the first sample for the PNG preview."""
        raise NotImplementedError


class Stage0Structure(StageTask):
    """Structure encoder trained inside a MUNIT-like structure/style auto-encoder."""

    stage = 0
    loss_names = ["loss", "recon", "cross", "structure", "latent_structure", "latent_style"]
    trainable_names = ("struct_encoder",)

    def __init__(self, model: S2RDepthNet, settings: dict[str, Any]) -> None:
        super().__init__(model)
        self.style_encoder = StyleEncoder(int(settings["style_encoder_dim"]),
                                          int(settings["style_dim"]))
        self.decoder = AdaINDecoder(model.struct_encoder.out_channels, int(settings["style_dim"]),
                                    int(settings["decoder_res_blocks"]))
        self.crop = settings.get("crop")
        if self.crop is not None:
            if len(self.crop) != 2 or any(int(c) % 4 or int(c) < 16 for c in self.crop):
                raise ValueError(f"stage0.crop must be [height, width], multiples of 4, >= 16; "
                                 f"got {self.crop}")
            self.crop = (int(self.crop[0]), int(self.crop[1]))
        self.weights = {k: float(settings[k]) for k in (
            "recon_weight", "cross_weight", "structure_weight", "latent_structure_weight",
            "latent_style_weight")}

    def extra_state(self) -> dict[str, dict[str, torch.Tensor]]:
        return {"style_encoder": self.style_encoder.state_dict(),
                "decoder": self.decoder.state_dict()}

    def load_extra_state(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        self.style_encoder.load_state_dict(state["style_encoder"])
        self.decoder.load_state_dict(state["decoder"])

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator
                ) -> dict[str, torch.Tensor]:
        x, x_styled = batch["image"], batch["styled"]
        height, width = x.shape[-2:]
        if self.crop is not None and (self.crop[0] < height or self.crop[1] < width):
            # One random window per batch: the encoder is fully convolutional, and a crop keeps
            # the pixel scale of inference at a fraction of the cost.
            ch, cw = min(self.crop[0], height), min(self.crop[1], width)
            top = int(torch.randint(0, height - ch + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - cw + 1, (1,), generator=generator))
            x = x[..., top:top + ch, left:left + cw]
            x_styled = x_styled[..., top:top + ch, left:left + cw]
        encoder, w = self.model.struct_encoder, self.weights
        code, code_styled = encoder(x), encoder(x_styled)
        style, style_styled = self.style_encoder(x), self.style_encoder(x_styled)
        recon = (F.l1_loss(self.decoder(code, style), x)
                 + F.l1_loss(self.decoder(code_styled, style_styled), x_styled))
        # Structure of one rendering + style of the other must give the other image.
        cross = (F.l1_loss(self.decoder(code_styled, style), x)
                 + F.l1_loss(self.decoder(code, style_styled), x_styled))
        structure = F.l1_loss(code, code_styled)
        # Style randomisation: a style drawn from the prior must not change the structure.
        random_style = torch.randn(style.shape, generator=generator).to(style.device)
        fake = self.decoder(code, random_style)
        latent_structure = F.l1_loss(encoder(fake), code)
        latent_style = F.l1_loss(self.style_encoder(fake), random_style)
        loss = (w["recon_weight"] * recon + w["cross_weight"] * cross
                + w["structure_weight"] * structure
                + w["latent_structure_weight"] * latent_structure
                + w["latent_style_weight"] * latent_style)
        return {"loss": loss, "recon": recon, "cross": cross, "structure": structure,
                "latent_structure": latent_structure, "latent_style": latent_style}

    @torch.no_grad()
    def validate(self, batch: dict[str, torch.Tensor]) -> float:
        code = self.model.struct_encoder(batch["image"])
        return float(F.l1_loss(self.decoder(code, self.style_encoder(batch["image"])),
                               batch["image"]))

    @torch.no_grad()
    def preview_maps(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, x_styled = batch["image"][:1], batch["styled"][:1]
        code = self.model.struct_encoder(x)
        return {"image": x[0], "restyled": x_styled[0],
                "reconstruction": self.decoder(code, self.style_encoder(x))[0],
                "cross-style": self.decoder(self.model.struct_encoder(x_styled),
                                            self.style_encoder(x))[0],
                "code energy": code[0].abs().mean(0, keepdim=True)}


class DepthStage(StageTask):
    """A stage supervised by depth (stages 1 and 2).

    Its loss: the multi-scale L1 plus the configured log-depth and log-depth gradient terms
    (``log_weight``, ``grad_weight``).
    """

    def __init__(self, model: S2RDepthNet, settings: dict[str, Any]) -> None:
        super().__init__(model)
        self.log_weight = float(settings["log_weight"])
        self.grad_weight = float(settings["grad_weight"])

    def depth_loss(self, depths: list[torch.Tensor], batch: dict[str, torch.Tensor]
                   ) -> torch.Tensor:
        return depth_loss(depths, batch["depth"], batch["valid"], self.model.config.max_depth,
                          self.log_weight, self.grad_weight)


class Stage1StructureDecoder(DepthStage):
    """Structure decoder + a DepthNet on the structure map: L1 + lambda * L_struct."""

    stage = 1
    loss_names = ["loss", "depth_l1", "struct"]
    trainable_names = ("struct_decoder", "depth_net")

    def __init__(self, model: S2RDepthNet, settings: dict[str, Any],
                 generator: torch.Generator) -> None:
        super().__init__(model, settings)
        init_normal(model.depth_net, generator)
        self.struct_lambda = float(settings["struct_lambda"])
        self.struct_beta = float(settings["struct_beta"])
        self.units = (centimetres_per_unit(model.config.max_depth)
                      if settings["struct_depth_unit"] == "cm" else 1.0)

    def _predict(self, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        with torch.no_grad():
            code = self.model.struct_encoder(image)
        structure = self.model.struct_decoder(code)
        return structure, self.model.depth_net(structure)

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator
                ) -> dict[str, torch.Tensor]:
        structure, depths = self._predict(batch["image"])
        loss = self.depth_loss(depths, batch)
        struct_loss = struct_weighted_loss(structure, batch["depth"], self.struct_beta,
                                           self.units)
        return {"loss": loss + self.struct_lambda * struct_loss, "depth_l1": loss,
                "struct": struct_loss}

    @torch.no_grad()
    def validate(self, batch: dict[str, torch.Tensor]) -> float:
        return float(self.depth_loss(self._predict(batch["image"])[1][-1:], batch))

    @torch.no_grad()
    def preview_maps(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        structure, depths = self._predict(batch["image"][:1])
        return {"image": batch["image"][0], "structure": structure[0, :1],
                "predicted depth": depths[-1][0], "ground truth": batch["depth"][0]}


class Stage2Attention(DepthStage):
    """DSA + a DepthNet on attention x structure: L1 (+ log term).

    The reference starts the DepthNet afresh; ``fresh_depth_net: false`` keeps the loaded
    model's, to fine-tune a complete model (``model.init``) on new data.
    ``train_structure`` (decoder, all) trains that part of the structure branch too, by the
    depth loss: in the reference it is frozen here, so image augmentations of stage 2 never
    reach it. ``signed_structure_weight`` also asks the structure map's last two channels
    for the signed log-depth steps (:func:`signed_structure_loss`).
    """

    stage = 2
    loss_names = ["loss", "depth_l1"]
    trainable_names = ("attention", "depth_net")

    def __init__(self, model: S2RDepthNet, settings: dict[str, Any],
                 generator: torch.Generator) -> None:
        structure_parts = STRUCTURE_PARTS[settings["train_structure"]]
        self.trains_structure = bool(structure_parts)
        self.trainable_names = (*structure_parts, *self.trainable_names)
        super().__init__(model, settings)
        self.signed_weight = float(settings["signed_structure_weight"])
        if self.signed_weight:
            self.loss_names = [*self.loss_names, "signed"]
        if self.signed_weight and (not self.trains_structure
                                   or model.config.structure_channels < 3):
            raise ValueError("stage2.signed_structure_weight needs train_structure decoder or "
                             "all and a structure map of 3+ channels (model.structure_channels)")
        if settings["fresh_depth_net"]:
            # The reference re-creates the DepthNet here; a fresh one of the same shape does that.
            model.depth_net = DepthNet(model.config.depth_ngf, model.config.depth_center_blocks,
                                       model.config.structure_channels,
                                       model.config.depth_skip_weight)
            init_normal(model.depth_net, generator)
            model.depth_net.to(next(model.attention.parameters()).device)

    def _predict(self, image: torch.Tensor):
        with torch.set_grad_enabled(self.trains_structure and torch.is_grad_enabled()):
            structure = self.model.structure_map(image)
        attention = self.model.attention(image)
        return structure, attention, self.model.depth_net(structure * attention)

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator
                ) -> dict[str, torch.Tensor]:
        structure, _attention, depths = self._predict(batch["image"])
        loss = self.depth_loss(depths, batch)
        if not self.signed_weight:
            return {"loss": loss, "depth_l1": loss}
        signed = signed_structure_loss(structure[:, -2:], batch["depth"], batch["valid"],
                                       self.model.config.max_depth)
        return {"loss": loss + self.signed_weight * signed, "depth_l1": loss, "signed": signed}

    @torch.no_grad()
    def validate(self, batch: dict[str, torch.Tensor]) -> float:
        return float(self.depth_loss(self._predict(batch["image"])[2][-1:], batch))

    @torch.no_grad()
    def preview_maps(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        structure, attention, depths = self._predict(batch["image"][:1])
        return {"image": batch["image"][0], "structure": structure[0, :1],
                "attention": attention[0], "predicted depth": depths[-1][0],
                "ground truth": batch["depth"][0]}


def make_task(stage: int, model: S2RDepthNet, settings: dict[str, Any],
              generator: torch.Generator) -> StageTask:
    """The task object for a stage number."""
    if stage == 0:
        return Stage0Structure(model, settings)
    if stage == 1:
        return Stage1StructureDecoder(model, settings, generator)
    if stage == 2:
        return Stage2Attention(model, settings, generator)
    raise ValueError(f"unknown stage {stage}; choose 0, 1 or 2")
