"""The S2R-DepthNet evaluation protocol (reference ``test.py``): per-image metrics, then means.

Per image: clamp the prediction to [min, max], keep pixels with min < gt < max (NaN never
passes), apply the crop, optionally multiply the kept prediction by
median(gt) / median(prediction) (no re-clamp after scaling, as in the reference), then compute
abs_rel, sq_rel, rmse, rmse_log and delta < 1.25^k. Dataset numbers are plain means over images.
Both the median-scaled and the raw (unscaled) metrics are returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

CROPS = ("garg", "eigen", "none")

# Crop boxes as fractions of (height, width): (top, bottom, left, right). Garg: Garg et al.
# ECCV 2016, used by the reference on KITTI. Eigen: the KITTI crop of Eigen et al. NIPS 2014.
CROP_FRACTIONS = {
    "garg": (0.40810811, 0.99189189, 0.03594771, 0.96405229),
    "eigen": (0.3324324, 0.91351351, 0.0359477, 0.96405229),
}


@dataclass(frozen=True)
class Protocol:
    """How one kind of data is scored: depth range, crop, median scaling, a typical depth."""

    name: str
    min_depth: float
    max_depth: float
    crop: str = "none"
    median_scaling: bool = True
    # Depth the constant baseline predicts (metres): a plausible scene-average distance.
    typical_depth: float = 10.0

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise ValueError(f"unknown crop {self.crop!r}; choose from {list(CROPS)}")
        if not 0 <= self.min_depth < self.max_depth:
            raise ValueError(f"need 0 <= min_depth < max_depth, got {self.min_depth} and "
                             f"{self.max_depth}")

    def with_overrides(self, crop: str | None = None, min_depth: float | None = None,
                       max_depth: float | None = None) -> Protocol:
        """The same protocol with the given fields replaced (None keeps a field)."""
        changes = {k: v for k, v in (("crop", crop), ("min_depth", min_depth),
                                     ("max_depth", max_depth)) if v is not None}
        return replace(self, **changes) if changes else self

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


# KITTI as in the reference: Garg crop, 1e-3..80 m. Indoor: no crop, 1e-3..10 m (the reference
# caps NYU at 8 m, the model's range; 10 m keeps the far Kinect pixels of the real frames).
OUTDOOR = Protocol("outdoor", 1e-3, 80.0, crop="garg", typical_depth=15.0)
INDOOR = Protocol("indoor", 1e-3, 10.0, crop="none", typical_depth=2.5)
PROTOCOLS = {p.name: p for p in (OUTDOOR, INDOOR)}

# Manifest domain -> protocol name.
DOMAIN_PROTOCOLS = {"outdoor_driving": "outdoor", "outdoor": "outdoor", "driving": "outdoor",
                    "indoor": "indoor"}


def protocol_for_domain(domain: str) -> Protocol:
    """The protocol for a manifest ``domain`` value ('outdoor_driving', 'indoor', ...)."""
    try:
        return PROTOCOLS[DOMAIN_PROTOCOLS[domain]]
    except KeyError:
        raise ValueError(f"unknown domain {domain!r}; known: {sorted(DOMAIN_PROTOCOLS)}") from None


def protocol_for_depth(gt: np.ndarray) -> tuple[Protocol, str]:
    """The protocol that fits metric ground truth, and why.

    Indoor when 99 % of the valid depths lie within the indoor range, else outdoor.
    """
    depth = np.asarray(gt, np.float32)
    valid = depth[np.isfinite(depth) & (depth > 0)]
    if valid.size == 0:
        return OUTDOOR, "no valid ground truth in the first frame: outdoor by default"
    p99 = float(np.percentile(valid, 99))
    protocol = INDOOR if p99 <= INDOOR.max_depth else OUTDOOR
    return protocol, (f"99 % of the first frame's ground truth within {p99:.1f} m "
                      f"({'<=' if protocol is INDOOR else '>'} {INDOOR.max_depth:g} m)")


METRIC_NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "delta2", "delta3")
# Lower is better for the errors, higher for the delta accuracies.
HIGHER_IS_BETTER = {"delta1", "delta2", "delta3"}


@dataclass(frozen=True)
class DepthMetrics:
    """The seven standard monocular-depth metrics (depths in metres, deltas as fractions)."""

    abs_rel: float
    sq_rel: float
    rmse: float
    rmse_log: float
    delta1: float
    delta2: float
    delta3: float

    def to_dict(self) -> dict[str, float]:
        """Plain dict for JSON/CSV."""
        return asdict(self)

    @classmethod
    def mean(cls, items: Sequence[DepthMetrics]) -> DepthMetrics:
        """Mean over images, as the reference averages per-image metrics."""
        if not items:
            raise ValueError("no metrics to average")
        return cls(**{f.name: float(np.mean([getattr(m, f.name) for m in items]))
                      for f in fields(cls)})


def compute_metrics(pred: np.ndarray, gt: np.ndarray) -> DepthMetrics:
    """Metrics between matching 1-D arrays of valid, positive depths (float64 inside)."""
    pred = np.asarray(pred, np.float64).ravel()
    gt = np.asarray(gt, np.float64).ravel()
    if pred.shape != gt.shape or gt.size == 0:
        raise ValueError(f"need equal, non-empty inputs, got {pred.shape} and {gt.shape}")
    ratio = np.maximum(gt / pred, pred / gt)
    diff = gt - pred
    return DepthMetrics(
        abs_rel=float(np.mean(np.abs(diff) / gt)),
        sq_rel=float(np.mean(diff ** 2 / gt)),
        rmse=float(np.sqrt(np.mean(diff ** 2))),
        rmse_log=float(np.sqrt(np.mean((np.log(gt) - np.log(pred)) ** 2))),
        delta1=float(np.mean(ratio < 1.25)),
        delta2=float(np.mean(ratio < 1.25 ** 2)),
        delta3=float(np.mean(ratio < 1.25 ** 3)),
    )


def crop_mask(height: int, width: int, crop: str) -> np.ndarray:
    """Boolean H x W mask of the crop box (all True for 'none'); int truncation as reference."""
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}; choose from {list(CROPS)}")
    mask = np.zeros((height, width), bool)
    if crop == "none":
        mask[:] = True
        return mask
    top, bottom, left, right = CROP_FRACTIONS[crop]
    mask[int(top * height):int(bottom * height), int(left * width):int(right * width)] = True
    return mask


def valid_mask(gt: np.ndarray, protocol: Protocol) -> np.ndarray:
    """Pixels scored: min < gt < max inside the crop (NaN and 0 are never valid)."""
    gt = np.asarray(gt)
    with np.errstate(invalid="ignore"):
        mask = (gt > protocol.min_depth) & (gt < protocol.max_depth)
    return mask & crop_mask(gt.shape[0], gt.shape[1], protocol.crop)


@dataclass(frozen=True)
class FrameResult:
    """One image scored under a protocol."""

    scaled: DepthMetrics
    raw: DepthMetrics
    # median(gt) / median(prediction) over the valid pixels (1.0 without median scaling).
    scale: float
    valid_pixels: int


@dataclass(frozen=True)
class ScoredPixels:
    """The valid pixels of one image: GT and the median-scaled prediction, 1-D float32."""

    gt: np.ndarray
    pred: np.ndarray


def score_frame(pred: np.ndarray, gt: np.ndarray,
                protocol: Protocol) -> tuple[FrameResult, ScoredPixels] | None:
    """Score one H x W prediction against H x W ground truth; None without valid pixels."""
    pred = np.asarray(pred, np.float32)
    gt = np.asarray(gt, np.float32)
    if pred.shape != gt.shape or gt.ndim != 2:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} must be equal "
                         "2-D shapes")
    mask = valid_mask(gt, protocol)
    count = int(mask.sum())
    if count == 0:
        return None
    # NaN/inf predictions become the far limit rather than poisoning the means.
    clamped = np.clip(np.nan_to_num(pred, nan=protocol.max_depth, posinf=protocol.max_depth,
                                    neginf=protocol.min_depth),
                      protocol.min_depth, protocol.max_depth)
    gt_valid = gt[mask]
    pred_valid = clamped[mask]
    raw = compute_metrics(pred_valid, gt_valid)
    scale = 1.0
    if protocol.median_scaling:
        scale = float(np.median(gt_valid.astype(np.float64)) /
                      np.median(pred_valid.astype(np.float64)))
        pred_valid = (pred_valid * scale).astype(np.float32)
    scaled = compute_metrics(pred_valid, gt_valid) if protocol.median_scaling else raw
    return (FrameResult(scaled=scaled, raw=raw, scale=scale, valid_pixels=count),
            ScoredPixels(gt=gt_valid, pred=pred_valid))


def evaluate_frame(pred: np.ndarray, gt: np.ndarray, protocol: Protocol) -> FrameResult | None:
    """Metrics of one image (see :func:`score_frame`); None when no pixel is valid."""
    scored = score_frame(pred, gt, protocol)
    return None if scored is None else scored[0]


@dataclass(frozen=True)
class Summary:
    """Means over images of the scaled and raw metrics."""

    frames: int
    scaled: DepthMetrics
    raw: DepthMetrics
    median_scale: float

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return {"frames": self.frames, "scaled": self.scaled.to_dict(),
                "raw": self.raw.to_dict(), "median_scale": self.median_scale}


def summarize(results: Iterable[FrameResult]) -> Summary:
    """Average per-image results (the reference's dataset numbers)."""
    results = list(results)
    if not results:
        raise ValueError("no scored frames to summarise")
    return Summary(frames=len(results),
                   scaled=DepthMetrics.mean([r.scaled for r in results]),
                   raw=DepthMetrics.mean([r.raw for r in results]),
                   median_scale=float(np.median([r.scale for r in results])))


def clamp_flattery(summary: Summary, protocol: Protocol, model_max_depth: float
                   ) -> str | None:
    """Why a scaled score may flatter a longer-range model, or None when it does not.

    The S2R protocol clamps predictions to its range before median scaling. A model of a
    longer range that puts a scene several times too far (a street model in rooms) then has
    most of each frame at the clamp, and a flattened map scores far better after scaling
    than its own predictions would (0.24 against 0.66 for the street model on the real rooms).
    """
    if model_max_depth <= protocol.max_depth or summary.median_scale >= 0.5:
        return None
    return (f"the model puts these scenes {1 / summary.median_scale:.1f}x too far (median "
            f"scale {summary.median_scale:.2f}) and the protocol clamps its predictions to "
            f"{protocol.max_depth:g} m before median scaling, which flattens them and flatters "
            "the scaled score")


class ErrorByDistance:
    """Error per ground-truth distance bin, accumulated over images.

    Per bin: the mean absolute relative error, and the geometric mean of prediction / GT
    (below 1: the model puts that range too near, as a model that compresses far depth does).
    """

    def __init__(self, min_depth: float, max_depth: float, bins: int = 16) -> None:
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        self.edges = np.linspace(min_depth, max_depth, bins + 1)
        self.error_sum = np.zeros(bins)
        self.log_ratio_sum = np.zeros(bins)
        self.counts = np.zeros(bins, np.int64)

    def add(self, pixels: ScoredPixels) -> None:
        """Add one image's valid pixels."""
        gt = pixels.gt.astype(np.float64)
        index = np.clip(np.searchsorted(self.edges, gt, side="right") - 1, 0,
                        len(self.counts) - 1)
        rel = np.abs(gt - pixels.pred) / gt
        self.error_sum += np.bincount(index, weights=rel, minlength=len(self.counts))
        self.log_ratio_sum += np.bincount(index, weights=np.log(pixels.pred / gt),
                                          minlength=len(self.counts))
        self.counts += np.bincount(index, minlength=len(self.counts))

    def means(self) -> list[float | None]:
        """Mean abs_rel per bin; None for empty bins."""
        return [float(s / c) if c else None for s, c in zip(self.error_sum, self.counts)]

    def ratios(self) -> list[float | None]:
        """Geometric mean of prediction / GT per bin; None for empty bins."""
        return [float(np.exp(s / c)) if c else None
                for s, c in zip(self.log_ratio_sum, self.counts)]

    def to_dict(self) -> dict:
        """Plain dict for JSON: edges (m), abs_rel, pred_over_gt and pixels per bin."""
        return {"edges_m": [float(e) for e in self.edges], "abs_rel": self.means(),
                "pred_over_gt": self.ratios(), "pixels": [int(c) for c in self.counts]}
