"""Training losses of S2R-DepthNet (S2R_REFERENCE.md section 2.1).

Depth units for the structure loss: the reference feeds depth in [-1, 1] to
``exp(-beta * |grad D|)`` with beta = 0.001, so the weight stays in [0.996, 1] and the loss
reduces to a plain sparsity penalty on the structure map. The value 0.001 is sensible on
depth in **centimetres** (the unit of vKITTI's depth PNGs): a 10 m step between neighbouring
pixels weighs exp(-1), a 1 m step exp(-0.1), a smooth road ~1. So :func:`struct_weighted_loss`
takes depth in [-1, 1] plus the factor that turns it into the chosen unit
(``units_per_unit_depth = max_depth_m * 100 / 2`` for centimetres), and beta applies there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_target(target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of B x 1 x H x W ground truth (align_corners=True, as the reference)."""
    if tuple(target.shape[-2:]) == tuple(size):
        return target
    return F.interpolate(target, size=size, mode="bilinear", align_corners=True)


def resize_valid(valid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A validity mask at another scale: valid only where every blended source pixel was."""
    if tuple(valid.shape[-2:]) == tuple(size):
        return valid
    return resize_target(valid.float(), size) > 0.999


def log_metres(unit_depth: torch.Tensor, max_depth: float) -> torch.Tensor:
    """Depth in [-1, 1] units -> log metres, floored at 1e-3 of the range (0 m has no log)."""
    metres = (unit_depth.float() + 1.0) * (0.5 * max_depth)
    return metres.clamp(min=1e-3 * max_depth).log()


def depth_loss(predictions: list[torch.Tensor], target: torch.Tensor, valid: torch.Tensor,
               max_depth: float, log_weight: float = 0.0, grad_weight: float = 0.0
               ) -> torch.Tensor:
    """Sum over scales: masked L1 in [-1, 1] units, log-depth L1, log-depth gradients.

    The weights of the last two are ``log_weight`` and ``grad_weight``
    (:func:`log_gradient_loss`).

    Deliberate difference from the reference (an unmasked L1): pixels without ground truth
    (rotation corners, invalid depth) are left out. Trained unmasked, the network learns that
    the black corners of rotated images are 0 m away, and predicts the image border as near
    on real frames. The log term weighs errors relative to the depth (abs_rel's view), where
    the plain L1 is dominated by the far field. The gradient term asks for the right depth
    *edges* whatever the scale, and charges edges where the ground truth has none (shade,
    texture): it made real-frame predictions smoother and better (BENCHMARKS.md).
    """
    total = target.new_zeros(())
    for prediction in predictions:
        size = prediction.shape[-2:]
        t, v = resize_target(target, size), resize_valid(valid, size)
        count = v.sum().clamp(min=1)
        p = prediction.float()
        total = total + ((p - t).abs() * v).sum() / count
        if log_weight or grad_weight:
            log_ratio = log_metres(p, max_depth) - log_metres(t, max_depth)
            if log_weight:
                total = total + log_weight * (log_ratio.abs() * v).sum() / count
            if grad_weight:
                total = total + grad_weight * log_gradient_loss(log_ratio, v)
    return total


def log_gradient_loss(log_ratio: torch.Tensor, valid: torch.Tensor, scales: int = 4
                      ) -> torch.Tensor:
    """Multi-scale gradient matching of log depth (MegaDepth's scale-invariant gradient term).

    ``log_ratio`` is log(predicted / true depth). Its x and y differences between valid
    neighbours are zero exactly where the prediction has the true depth edges up to one
    scale factor, so the term rewards object boundaries without asking for metres. Taken on
    the map and on 2x, 4x and 8x subsamplings (every other pixel), so wide edges count too.
    """
    total = log_ratio.new_zeros(())
    for k in range(scales):
        step = 2 ** k
        r = log_ratio[..., ::step, ::step]
        m = valid[..., ::step, ::step]
        if r.shape[-1] < 2 or r.shape[-2] < 2:
            break
        mx = m[..., :, 1:] & m[..., :, :-1]
        my = m[..., 1:, :] & m[..., :-1, :]
        dx = (r[..., :, 1:] - r[..., :, :-1]).abs() * mx
        dy = (r[..., 1:, :] - r[..., :-1, :]).abs() * my
        pairs = (mx.sum() + my.sum()).clamp(min=1)
        total = total + (dx.sum() + dy.sum()) / pairs
    return total


def depth_gradient(depth: torch.Tensor) -> torch.Tensor:
    """``|dx D| + |dy D|`` with forward differences; the last row/column repeats (replicate)."""
    padded = F.pad(depth, (0, 1, 0, 1), mode="replicate")
    dx = padded[..., :-1, 1:] - padded[..., :-1, :-1]
    dy = padded[..., 1:, :-1] - padded[..., :-1, :-1]
    return dx.abs() + dy.abs()


def struct_weighted_loss(structure: torch.Tensor, depth: torch.Tensor, beta: float = 0.001,
                         units_per_unit_depth: float = 1.0) -> torch.Tensor:
    """``L_struct = mean(|S * exp(-beta * (|dx D| + |dy D|))|)``: structure on flat depth costs.

    ``depth`` is the normalised ground truth (B x C x H x W in [-1, 1]); it is multiplied by
    ``units_per_unit_depth`` before the gradient so beta applies in a physical unit (see the
    module docstring). The gradient is averaged over channels, as in the reference.
    """
    gradient = depth_gradient(depth * units_per_unit_depth).mean(dim=1, keepdim=True)
    return (structure * torch.exp(-beta * gradient)).abs().mean()


def centimetres_per_unit(max_depth_m: float) -> float:
    """Factor from [-1, 1] depth differences to centimetres: a span of 2 is ``max_depth`` m."""
    return max_depth_m * 100.0 / 2.0


def signed_structure_loss(channels: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                          max_depth: float, reach: int = 2, full_step: float = 0.5
                          ) -> torch.Tensor:
    """Mean squared error of two structure channels against signed log-depth steps.

    The targets are log(depth) differences across ``2 * reach`` pixels, along x and along y,
    divided by ``full_step``, clamped to [-1, 1] and mapped to the sigmoid's (0, 1): 0.5
    where depth is smooth, above where the right (lower) side is further, below where it is
    nearer. An edge map says where depth jumps; these say which side is the nearer one
    (figure/ground), which DP could not work out from edges indoors (BENCHMARKS.md,
    "What DP is missing indoors"). ``channels`` is B x 2 x H x W, ``target`` the
    depth in [-1, 1] units at that size. Squared, not absolute, error: the steps are a
    small share of the pixels, and an L1 fit would settle on the median, 0.5, everywhere.
    """
    log_depth = log_metres(target, max_depth)
    ok = valid.float()
    pad_x, pad_y = (reach, reach, 0, 0), (0, 0, reach, reach)
    dx = F.pad(log_depth[..., :, 2 * reach:] - log_depth[..., :, :-2 * reach], pad_x)
    dy = F.pad(log_depth[..., 2 * reach:, :] - log_depth[..., :-2 * reach, :], pad_y)
    ok_x = F.pad(ok[..., :, 2 * reach:] * ok[..., :, :-2 * reach], pad_x)
    ok_y = F.pad(ok[..., 2 * reach:, :] * ok[..., :-2 * reach, :], pad_y)
    steps = torch.cat([dx, dy], 1)
    mask = torch.cat([ok_x, ok_y], 1)
    wanted = 0.5 + 0.5 * (steps / full_step).clamp(-1.0, 1.0)
    error = (channels.float() - wanted) ** 2 * mask
    return error.sum() / mask.sum().clamp(min=1)
