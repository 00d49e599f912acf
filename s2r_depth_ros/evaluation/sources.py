"""Evaluation frames from files: the real-RGB-D manifest, or an image folder plus depth folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..geometry import Intrinsics
from ..inference.cli import IMAGE_SUFFIXES, read_rgb
from .metrics import DOMAIN_PROTOCOLS
from .runner import Frame

DEPTH_SUFFIXES = (".png", ".pgm", ".tif", ".tiff", ".npy")


def read_depth(path: Path, scale: float, invalid: float | None = 0) -> np.ndarray:
    """Depth in metres: raw * ``scale``; pixels equal to ``invalid`` become NaN.

    PNG/PGM/TIFF are read unchanged (16-bit stays 16-bit); ``.npy`` holds one 2-D array.
    """
    if path.suffix.lower() == ".npy":
        try:
            raw = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read depth {path}: {exc}") from exc
    else:
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise ValueError(f"cannot read depth image {path}")
    if raw.ndim == 3:
        raw = raw[:, :, 0]
    if raw.ndim != 2:
        raise ValueError(f"depth {path} must be a single-channel image, got shape {raw.shape}")
    depth = raw.astype(np.float32) * np.float32(scale)
    bad = ~np.isfinite(depth)
    if invalid is not None:
        bad |= raw == invalid
    depth[bad] = np.nan
    return depth


@dataclass(frozen=True)
class FrameSource:
    """A frame that is read only when needed (keeps memory flat over long lists)."""

    name: str
    group: str
    load: Callable[[], Frame]


def manifest_sources(manifest: str | Path, limit: int | None = None) -> list[FrameSource]:
    """Frames of a manifest.json (see ../shared/real_rgbd), at most ``limit`` per group."""
    path = Path(manifest)
    try:
        entries = json.loads(path.read_text())["entries"]
    except FileNotFoundError:
        raise FileNotFoundError(f"manifest not found: {path}") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a manifest with an 'entries' list: {exc}") from exc
    root = path.parent
    sources: list[FrameSource] = []
    counts: dict[str, int] = {}
    for index, entry in enumerate(entries):
        try:
            group = DOMAIN_PROTOCOLS[entry["domain"]]
        except KeyError:
            raise ValueError(f"{path} entry {index}: unknown or missing domain "
                             f"{entry.get('domain')!r}") from None
        if limit is not None and counts.get(group, 0) >= limit:
            continue
        counts[group] = counts.get(group, 0) + 1
        name = f"{entry.get('dataset', 'frame')}/{Path(entry['rgb']).stem}"

        def load(entry=entry, name=name, group=group) -> Frame:
            rgb = read_rgb(root / entry["rgb"])
            camera = None
            if all(k in entry for k in ("fx", "fy", "cx", "cy")):
                camera = Intrinsics(float(entry["fx"]), float(entry["fy"]), float(entry["cx"]),
                                    float(entry["cy"]), rgb.shape[1], rgb.shape[0])
            gt = read_depth(root / entry["depth"], float(entry["depth_to_meters"]),
                            entry.get("invalid_depth", 0))
            return Frame(name=name, rgb=rgb, gt=gt, group=group, camera=camera)

        sources.append(FrameSource(name, group, load))
    return sources


def folder_sources(rgb_dir: str | Path, depth_dir: str | Path, depth_scale: float, group: str,
                   intrinsics: tuple[float, float, float, float] | None = None,
                   limit: int | None = None) -> tuple[list[FrameSource], list[str]]:
    """Images paired with same-stem depth files; also returns the image stems without depth."""
    rgb_dir, depth_dir = Path(rgb_dir), Path(depth_dir)
    for folder in (rgb_dir, depth_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"not a folder: {folder}")
    depth_by_stem: dict[str, Path] = {}
    for path in sorted(depth_dir.iterdir()):
        if path.suffix.lower() in DEPTH_SUFFIXES:
            depth_by_stem.setdefault(path.stem, path)
    images = sorted(p for p in rgb_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ValueError(f"no images in {rgb_dir}")
    sources, missing = [], []
    for image in images:
        depth = depth_by_stem.get(image.stem)
        if depth is None or depth == image:
            missing.append(image.stem)
            continue
        if limit is not None and len(sources) >= limit:
            break

        def load(image=image, depth=depth) -> Frame:
            rgb = read_rgb(image)
            camera = Intrinsics(*intrinsics, rgb.shape[1], rgb.shape[0]) if intrinsics else None
            return Frame(name=image.stem, rgb=rgb, gt=read_depth(depth, depth_scale),
                         group=group, camera=camera)

        sources.append(FrameSource(image.stem, group, load))
    if not sources:
        raise ValueError(f"no image in {rgb_dir} has a depth file with the same name in "
                         f"{depth_dir}")
    return sources, missing
