"""PNG previews of what a stage learns: image, structure, attention, depth, ground truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..inference.colorize import colorize_depth

LABEL_HEIGHT = 16


def map_to_bgr(name: str, tensor: torch.Tensor, size: tuple[int, int],
               max_depth: float) -> np.ndarray:
    """One C x h x w map -> H x W x 3 BGR: images as is, depth coloured, others viridis."""
    tensor = tensor.detach().float().cpu()
    if tuple(tensor.shape[-2:]) != size:
        tensor = F.interpolate(tensor[None], size=size, mode="bilinear", align_corners=True)[0]
    if tensor.shape[0] == 3:
        rgb = ((tensor.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    values = tensor[0].numpy()
    if "depth" in name or "truth" in name:
        metres = (values + 1.0) * 0.5 * max_depth
        return colorize_depth(metres, 0.5, max_depth)
    lo, hi = float(values.min()), float(values.max())
    grey = ((values - lo) / max(hi - lo, 1e-8) * 255).astype(np.uint8)
    return cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS)


def write_preview(maps: dict[str, torch.Tensor], path: str | Path, max_depth: float) -> Path:
    """Tile the maps left to right, each under its name, and write a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = tuple(next(iter(maps.values())).shape[-2:])
    tiles = []
    for name, tensor in maps.items():
        tile = map_to_bgr(name, tensor, size, max_depth)
        label = np.zeros((LABEL_HEIGHT, tile.shape[1], 3), np.uint8)
        cv2.putText(label, name, (3, LABEL_HEIGHT - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(np.vstack([label, tile]))
    if not cv2.imwrite(str(path), np.hstack(tiles)):
        raise OSError(f"cannot write preview {path}")
    return path
