"""The reference joint image/depth transform (S2R_REFERENCE.md section 2.3) and style changes.

Every random decision comes from a :class:`numpy.random.Generator` the caller passes in, so
a sample's augmentation depends only on (seed, epoch, index) and a resumed run sees exactly
the same tensors as an uninterrupted one.

Deliberate difference from the reference: depth is resized and rotated with **nearest**
neighbour, not bicubic. Bicubic (and bilinear) interpolation invents depths between a
foreground edge and the background behind it, overshoots at discontinuities, and blends the
invalid value 0 into valid neighbours; nearest keeps every depth a value that was measured
and keeps the validity mask exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageEnhance

from ..inference.estimator import aspect_input_size


@dataclass(frozen=True)
class AugmentConfig:
    """Switches and ranges of the joint transform; the defaults are the reference's."""

    flip: bool = True
    rotate: bool = True
    color: bool = True
    flip_p: float = 0.5
    rotate_p: float = 0.5
    rotate_degrees: float = 5.0
    color_p: float = 0.5
    color_low: float = 0.8  # factors U(color_low, 1): only darkens or desaturates
    # Camera-aware training: a random window of the network's aspect covering this fraction
    # of the largest such window (None: the reference's squash of the whole image). The
    # window's position and size change the focal length and principal point the network
    # sees, which the canonical-camera targets account for.
    crop_scale: tuple[float, float] | None = None
    # Other cameras: the largest window whose aspect (width / height) is drawn log-uniformly
    # from this range (full height when narrower than the image), squashed to the network's
    # input as inference squashes every camera (None: the whole image). Camera-aware models
    # trained on one aspect got the metres of squashed 4:3 views 0.02-0.04 abs_rel worse than
    # the shipped model (BENCHMARKS.md, "Fine-tuning: ... other aspects").
    aspect_range: tuple[float, float] | None = None
    aspect_p: float = 1.0  # the share of training images given such a window
    # Input sizes: each batch runs the network at the input size times a scale drawn
    # log-uniformly from ``input_scale``, at an aspect drawn log-uniformly from
    # ``input_aspects`` (about the scaled pixel count; :func:`batch_input_size`), on the
    # largest window of that aspect, unsquashed. The model then sees objects at many sizes in
    # pixels and cameras at their own aspect, as the node runs them (input_aspect auto), and
    # the camera's focal length at the run size gives its metres (S2RConfig's
    # input_scale_range). The trainer draws the sizes; None: the input size.
    input_scale: tuple[float, float] | None = None
    input_aspects: tuple[float, float] | None = None
    # Stages 1 and 2: the probability that the network sees the image restyled by
    # random_style (stage 0's style randomisation), so the attention branch, which looks at
    # the raw image, cannot rely on the renderer's look. 0: the reference.
    style_p: float = 0.0
    # The probability of dappled light (:func:`dappled_light`): sharp-edged patches of shade
    # and sun that are not depth edges, as under real trees; the structure branch marks such
    # edges on real streets and synthetic scenes rarely have them. 0: the reference.
    dapple_p: float = 0.0
    # The probability of fine texture (:func:`fine_texture`) over parts of the image: real
    # frames carry 3-4x the synthetic scenes' pixel-scale gradient energy (foliage, gravel).
    texture_p: float = 0.0

    def __post_init__(self) -> None:
        for name in ("style_p", "dapple_p", "texture_p", "aspect_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.crop_scale is not None:
            low, high = self.crop_scale
            if not 0.0 < low <= high <= 1.0:
                raise ValueError(f"crop_scale must be 0 < low <= high <= 1, got {self.crop_scale}")
        for name in ("input_scale", "input_aspects"):
            if getattr(self, name) is not None:
                low, high = getattr(self, name)
                if not 0.0 < low <= high:
                    raise ValueError(f"{name} must be 0 < low <= high, got "
                                     f"{getattr(self, name)}")
        if self.input_aspects is not None and (self.aspect_range is not None
                                               or self.crop_scale is not None):
            raise ValueError("input_aspects (windows at each batch's aspect) replaces "
                             "aspect_range and crop_scale: give one of them")
        if self.aspect_range is not None:
            low, high = self.aspect_range
            if not 0.0 < low <= high:
                raise ValueError(f"aspect_range must be 0 < low <= high, got {self.aspect_range}")
            if self.crop_scale is not None:
                raise ValueError("give crop_scale (windows of the network's aspect) or "
                                 "aspect_range (windows of other aspects), not both")


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """H x W x 3 uint8 -> 3 x H x W float in [-1, 1] (ToTensor, then mean = std = 0.5)."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float() / 127.5 - 1.0


def depth_to_unit(depth_m: np.ndarray, max_depth: float) -> np.ndarray:
    """Metres -> [-1, 1]: clamp to [0, max_depth], divide by it, then x2 - 1 (0 m -> -1)."""
    return np.clip(depth_m, 0.0, max_depth) / max_depth * 2.0 - 1.0


def _resize_depth(depth: np.ndarray, height: int, width: int) -> np.ndarray:
    if depth.shape == (height, width):
        return depth
    image = Image.fromarray(np.ascontiguousarray(depth, dtype=np.float32))
    return np.asarray(image.resize((width, height), Image.Resampling.NEAREST), dtype=np.float32)


def _rotate_depth(depth: np.ndarray, angle: float) -> np.ndarray:
    image = Image.fromarray(np.ascontiguousarray(depth, dtype=np.float32))
    return np.asarray(image.rotate(angle, Image.Resampling.NEAREST, fillcolor=0.0),
                      dtype=np.float32)


def aspect_window(image_height: int, image_width: int, aspect: float,
                  scale: float, rng: np.random.Generator | None) -> tuple[int, int, int, int]:
    """(top, left, rows, cols) of a window of ``aspect`` (width / height) in the image.

    ``scale`` is the window's size relative to the largest such window; the position is
    uniform (centred without ``rng``).
    """
    cols = min(float(image_width), image_height * aspect) * scale
    rows = max(1, int(round(cols / aspect)))
    cols = max(1, int(round(cols)))
    rows, cols = min(rows, image_height), min(cols, image_width)
    if rng is None:
        return (image_height - rows) // 2, (image_width - cols) // 2, rows, cols
    return (int(rng.integers(0, image_height - rows + 1)),
            int(rng.integers(0, image_width - cols + 1)), rows, cols)


def batch_input_size(size: tuple[int, int], scale_range: tuple[float, float] | None,
                     aspect_range: tuple[float, float] | None,
                     rng: np.random.Generator) -> tuple[int, int]:
    """(height, width) for a batch: ``size`` scaled and given another aspect at random.

    The scale (of the sides) and the aspect (width / height) are drawn log-uniformly from
    their ranges (None: 1 and ``size``'s aspect); sides are multiples of 16 and at least 96,
    the network's needs (:func:`~s2r_depth_ros.inference.estimator.aspect_input_size`).
    """
    scale = float(np.exp(rng.uniform(*np.log(scale_range)))) if scale_range else 1.0
    aspect = (float(np.exp(rng.uniform(*np.log(aspect_range)))) if aspect_range
              else size[1] / size[0])
    return aspect_input_size((size[0] * scale, size[1] * scale), aspect)


def canonical_depth(depth_m: np.ndarray, focal: float, canonical_focal: float,
                    max_depth: float) -> np.ndarray:
    """Metric depth seen by a camera of ``focal`` -> depth for the canonical camera.

    An object that appears at a given size with focal f is at depth d; with the canonical
    focal it would appear at that size at d * canonical / f. Pixels at or beyond
    ``max_depth`` (sky, the far field) stay at the cap; 0 (invalid) stays 0.
    """
    far = depth_m >= max_depth * (1.0 - 1e-6)
    out = depth_m * np.float32(canonical_focal / focal)
    out[far] = max_depth
    return out


def joint_augment(rgb: np.ndarray, depth_m: np.ndarray, height: int, width: int,
                  max_depth: float, rng: np.random.Generator | None,
                  config: AugmentConfig = AugmentConfig(),
                  intrinsics: tuple[float, float, float, float] | None = None,
                  canonical_focal: float | None = None) -> dict[str, torch.Tensor]:
    """Resize, flip, rotate and colour-jitter an RGB-D pair the way the reference trains.

    ``rng=None`` gives the evaluation transform (resize, or a centred full-size window with
    ``config.crop_scale``, and normalise only; with ``aspect_range`` the whole image).
    Returns ``image`` 3xHxW and ``depth`` 1xHxW, both in [-1, 1], and ``valid`` 1xHxW bool
    (the depth was > 0 before mapping; rotation corners are invalid and their depth is -1).

    With ``canonical_focal`` the depth targets are for the canonical camera (see
    :func:`canonical_depth`), using ``intrinsics`` (fx, fy, cx, cy of ``rgb``) carried
    through the window and resize.
    """
    depth = np.nan_to_num(depth_m, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    image = Image.fromarray(rgb)
    src_h, src_w = rgb.shape[:2]
    window = None
    if config.input_aspects is not None and rng is not None:
        window = aspect_window(src_h, src_w, width / height, 1.0, rng)
    elif config.crop_scale is not None:
        low, high = config.crop_scale
        scale = float(rng.uniform(low, high)) if rng is not None else high
        window = aspect_window(src_h, src_w, width / height, scale, rng)
    elif (config.aspect_range is not None and rng is not None
          and rng.random() < config.aspect_p):
        low, high = np.log(config.aspect_range)
        window = aspect_window(src_h, src_w, float(np.exp(rng.uniform(low, high))), 1.0, rng)
    if window is not None:
        top, left, rows, cols = window
        image = image.crop((left, top, left + cols, top + rows))
        depth = depth[top:top + rows, left:left + cols]
        src_h, src_w = rows, cols
    if canonical_focal is not None:
        if intrinsics is None:
            raise ValueError("canonical-camera targets need the sample's intrinsics")
        fx, fy = intrinsics[0] * width / src_w, intrinsics[1] * height / src_h
        depth = canonical_depth(depth, float(np.sqrt(fx * fy)), canonical_focal, max_depth)
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    depth = _resize_depth(depth, height, width)
    if rng is not None:
        if config.flip and rng.random() < config.flip_p:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            depth = depth[:, ::-1]
        if config.rotate and rng.random() < config.rotate_p:
            # Uniform in [-d, d) in 0.01 degree steps, as the reference draws it.
            steps = int(round(config.rotate_degrees * 100))
            angle = float(rng.integers(-steps, steps)) / 100.0
            image = image.rotate(angle, Image.Resampling.BICUBIC)
            depth = _rotate_depth(depth, angle)
        if config.color and rng.random() < config.color_p:
            low = config.color_low
            for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
                image = enhancer(image).enhance(float(rng.uniform(low, 1.0)))
        if config.dapple_p and rng.random() < config.dapple_p:
            image = Image.fromarray(dappled_light(np.asarray(image), rng))
        if config.texture_p and rng.random() < config.texture_p:
            image = Image.fromarray(fine_texture(np.asarray(image), rng))
    valid = depth > 0
    unit = depth_to_unit(depth, max_depth).astype(np.float32)
    return {
        "image": image_to_tensor(np.asarray(image)),
        "depth": torch.from_numpy(np.ascontiguousarray(unit))[None],
        "valid": torch.from_numpy(np.ascontiguousarray(valid))[None],
    }


def dappled_light(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sharp-edged blobs of shade (and a few of sun) over random regions of an RGB image.

    Thresholded smooth noise gives irregular blobs with crisp edges, as leaf shadows and sun
    flecks have; a coarser mask confines them to parts of the image. Geometry is unchanged.
    """
    height, width = rgb.shape[:2]
    blobs_across = int(rng.integers(6, 40))
    field = _smooth_field(rng, height, width, blobs_across * height // width, blobs_across)
    inside = _regions(rng, height, width)
    shade = (field > rng.uniform(0.45, 0.65)) & inside
    sun = (field < rng.uniform(0.05, 0.15)) & inside
    gain = np.ones((height, width), np.float32)
    gain[shade] = rng.uniform(0.35, 0.75)
    gain[sun] = rng.uniform(1.2, 1.6)
    return np.clip(rgb * gain[:, :, None], 0, 255).astype(np.uint8)


def _smooth_field(rng: np.random.Generator, height: int, width: int, rows: int, cols: int,
                  resample: Image.Resampling = Image.Resampling.BICUBIC) -> np.ndarray:
    """Uniform noise on a rows x cols grid, interpolated to height x width (float32)."""
    grid = rng.random((max(2, rows), max(2, cols))).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((width, height), resample))


def _regions(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random share of the image in a few large, soft-edged regions (bool mask)."""
    return _smooth_field(rng, height, width, 2, 4, Image.Resampling.BILINEAR) > rng.uniform(
        0.3, 0.7)


def fine_texture(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative texture at 1-4 pixel scales over random regions of an RGB image.

    Real frames carry far more pixel-scale detail than the renderer's (foliage, gravel,
    worn paint), and the structure branch turns it into edges; training with it teaches the
    network that such detail is not depth. Geometry is unchanged.
    """
    height, width = rgb.shape[:2]
    detail = sum(weight * (_smooth_field(rng, height, width, height // cell, width // cell)
                           - 0.5)
                 for cell, weight in ((1, 1.0), (2, 0.8), (4, 0.6)))
    gain = 1.0 + rng.uniform(0.3, 0.8) * detail * _regions(rng, height, width)
    return np.clip(rgb * gain[:, :, None], 0, 255).astype(np.uint8)


def random_style(image: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A strong, geometry-preserving restyling of a 3xHxW [-1, 1] image (stage 0).

    Structure must survive what only changes appearance, so this draws, in order: a random
    colour mixing matrix (hue/saturation changes, channel swaps), a random monotone or
    inverted tone curve per channel, brightness/contrast, and multiplicative low-frequency
    plus additive high-frequency texture noise. Pixel positions never move.
    """
    x = (image + 1.0) * 0.5
    channels, height, width = x.shape
    mix = np.eye(3) * rng.uniform(0.3, 1.0) + rng.uniform(0.0, 0.7, (3, 3))
    mix = mix[rng.permutation(3)]
    mix /= mix.sum(axis=1, keepdims=True)
    x = torch.einsum("ij,jhw->ihw", torch.as_tensor(mix, dtype=x.dtype), x)
    for c in range(channels):
        gamma = float(np.exp(rng.uniform(-1.0, 1.0)))
        # Piecewise-linear random curve on top of the gamma: 4 knots, kept monotone.
        knots = np.sort(rng.uniform(0.0, 1.0, 3))
        curve = torch.as_tensor(np.concatenate([[0.0], knots, [1.0]]), dtype=x.dtype)
        y = x[c].clamp(0, 1) ** gamma * 4.0
        low = y.floor().clamp(max=3).long()
        frac = y - low
        x[c] = curve[low] * (1 - frac) + curve[low + 1] * frac
        if rng.random() < 0.2:
            x[c] = 1.0 - x[c]
    x = (x - x.mean()) * rng.uniform(0.5, 1.5) + x.mean() + rng.uniform(-0.2, 0.2)
    coarse = torch.as_tensor(rng.uniform(0.6, 1.4, (channels, 4, 8)), dtype=x.dtype)
    x = x * torch.nn.functional.interpolate(coarse[None], size=(height, width), mode="bicubic",
                                            align_corners=False)[0]
    x = x + torch.as_tensor(rng.normal(0.0, rng.uniform(0.0, 0.08), (channels, height, width)),
                            dtype=x.dtype)
    return (x.clamp(0.0, 1.0) * 2.0 - 1.0).contiguous()
