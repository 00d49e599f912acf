"""The one inference call: an RGB image in, metric depth at the image's own size out."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..geometry import Intrinsics
from ..model import S2RConfig, S2RDepthNet, load_checkpoint, load_official
from .export import OnnxRuntimeNetwork, OpenVinoNetwork, exported_onnx
from .optimize import fold_model
from .resize import RESIZERS, RESIZES

# Inference back-ends: eager PyTorch, the same graph through torch.compile, or exported to
# ONNX and run by ONNX Runtime or OpenVINO (CPU).
# "auto" picks eager on a GPU and the fastest installed CPU runtime otherwise.
BACKENDS = ("auto", "eager", "compile", "onnxruntime", "openvino")
EXPORTED_BACKENDS = {"onnxruntime": OnnxRuntimeNetwork, "openvino": OpenVinoNetwork}
# fp32 is the exact path; fp16 and bf16 are approximate modes (BENCHMARKS.md: their cost).
PRECISIONS = ("fp32", "fp16", "bf16")
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Smallest depth reported; the evaluation protocol clamps predictions to the same bound.
MIN_DEPTH = 1e-3


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' picks CUDA when it is usable, else the CPU; 'cuda' without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA GPU is available")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")
    return torch.device(device)


def resolve_backend(backend: str, device: torch.device) -> str:
    """Turn 'auto' into a concrete back-end.

    On a GPU: eager. On a CPU: OpenVINO, else ONNX Runtime, else eager, the first one
    installed (OpenVINO measured fastest here: BENCHMARKS.md).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if device.type != "cpu":
        return "eager"
    for runtime in ("openvino", "onnxruntime"):
        if importlib.util.find_spec(runtime) is not None:
            return runtime
    return "eager"


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Validate an RGB image array; mono images are expanded to three channels."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
        raise ValueError("image must be a uint8 numpy array")
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"image must be HxW or HxWx3, got shape {rgb.shape}")
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise ValueError(f"image too small: {rgb.shape[1]}x{rgb.shape[0]}")
    return rgb


class DepthEstimator:
    """Runs an S2R-DepthNet on numpy images: pre-processing, device, precision, post-processing."""

    def __init__(self, model: S2RDepthNet, device: str = "auto", precision: str = "fp32",
                 threads: int | None = None, input_size: tuple[int, int] | None = None,
                 backend: str = "eager", workers: int = 1, resize: str = "exact",
                 spin_wait: bool = True) -> None:
        """Prepare ``model`` for inference.

        ``precision``: fp32 (exact) or the approximate fp16 / bf16: on a GPU the network in
        that type; on a CPU bf16 (eager: autocast) or either with OpenVINO.
        ``threads``: intra-op CPU threads per call; ``workers``: how many threads will call
        :meth:`predict` at once (OpenVINO prepares one stream each; the others need nothing).
        ``resize``: exact (bit for bit Pillow's, as the reference) or fast (approximate; see
        :mod:`.resize`).
        ``spin_wait``: let ONNX Runtime's idle threads spin between calls (see
        :class:`OnnxRuntimeNetwork`); callers that share the CPU with other busy threads turn
        it off.
        """
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose from "
                             f"{', '.join(PRECISIONS)}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be >= 1, got {threads}")
            torch.set_num_threads(threads)
        if resize not in RESIZES:
            raise ValueError(f"unknown resize {resize!r}; choose from {', '.join(RESIZES)}")
        self._resize = resize
        self.device = resolve_device(device)
        on_cpu = self.device.type == "cpu"
        if input_size is not None:
            model.config = model.config.with_input(*input_size)
        requested, backend = backend, resolve_backend(backend, self.device)
        if backend in EXPORTED_BACKENDS and not on_cpu:
            raise ValueError(f"backend {backend} runs on the CPU; use device cpu")
        if precision != "fp32" and on_cpu and not (
                backend == "openvino" or (precision == "bf16" and backend != "onnxruntime")):
            raise ValueError(f"precision {precision} on a CPU needs backend openvino"
                             + (" or eager (bf16)" if precision == "bf16" else ""))
        self.precision = precision
        # The original stays on the CPU (configuration, export); what runs is ``network``.
        self.model = model.eval().cpu()
        # Why 'auto' could not use the runtime it picked (then it runs eager PyTorch).
        self.fallback_reason: str | None = None
        if backend in EXPORTED_BACKENDS:
            try:
                path = exported_onnx(self.model)
                self.network = (OpenVinoNetwork(path, threads, streams=workers,
                                                precision=precision.replace("fp", "f"))
                                if backend == "openvino"
                                else OnnxRuntimeNetwork(path, threads, spin_wait))
            except Exception as exc:  # 'auto' must still give a working estimator
                if requested != "auto" or precision == "fp16":
                    raise
                self.fallback_reason = f"{backend} unavailable: {type(exc).__name__}: {exc}"
                warnings.warn(f"{self.fallback_reason}; using eager PyTorch", stacklevel=2)
                backend = "eager"
        # CPU eager bf16 runs under autocast (weights stay fp32); a GPU casts the network.
        self._cpu_autocast = on_cpu and precision == "bf16" and backend in ("eager", "compile")
        if backend not in EXPORTED_BACKENDS:
            # Exact rewrites (folded BatchNorm, fused convs; depthwise heads on a CPU, where
            # they were measured faster); NHWC on the CPU.
            network = fold_model(self.model, depthwise_heads=on_cpu).to(self.device)
            network = (network.to(memory_format=torch.channels_last) if on_cpu
                       else network.to(TORCH_DTYPES[precision]))
            self.network = (torch.compile(network, dynamic=False) if backend == "compile"
                            else network)
        self.backend = backend

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs) -> DepthEstimator:
        """Load a native checkpoint (see :mod:`s2r_depth_ros.model.checkpoint`)."""
        return cls(load_checkpoint(path), **kwargs)

    @classmethod
    def from_official(cls, directory: str | Path, domain: str, **kwargs) -> DepthEstimator:
        """Load the four files of the official release."""
        return cls(load_official(directory, domain), **kwargs)

    @property
    def resize(self) -> str:
        """How images are resized to the network's input: exact or fast (approximate)."""
        return self._resize

    @property
    def config(self) -> S2RConfig:
        """The model's configuration (input size, max depth, provenance)."""
        return self.model.config

    def preprocess(self, rgb: np.ndarray) -> torch.Tensor:
        """uint8 RGB HxWx3 -> 1x3xhxw tensor in [-1, 1] at the network's input size."""
        cfg = self.config
        resized = RESIZERS[self._resize](check_rgb(rgb), cfg.input_height, cfg.input_width)
        # Normalised in numpy, on the calling thread: the same float32 arithmetic as
        # x.float() / 127.5 - 1, without waking the intra-op thread pool for a small array
        # (after an idle spell that wake-up alone cost 5-8 ms here). The HxWx3 array seen as
        # 1x3xhxw is already channels_last.
        normalised = np.divide(resized, 127.5, dtype=np.float32)
        normalised -= np.float32(1.0)
        x = torch.from_numpy(normalised).unsqueeze(0).permute(0, 3, 1, 2)
        if self.device.type == "cpu":
            return x
        return x.to(self.device).contiguous().to(TORCH_DTYPES[self.precision])

    def metric_scale(self, image_size: tuple[int, int], intrinsics: Intrinsics | None) -> float:
        """Factor from the network's depth to metres for a camera (1 for non-canonical models).

        A camera-aware model predicts depth as seen by a camera of focal length
        ``canonical_focal`` at the network's input size; a camera whose focal at that size is f
        sees the same scene at f / canonical_focal times that depth. ``image_size`` is the
        (height, width) of the image the intrinsics describe. Without intrinsics the camera is
        taken to be the canonical one.
        """
        canonical = self.config.canonical_focal
        if canonical is None or intrinsics is None:
            return 1.0
        height, width = image_size
        cfg = self.config
        fx = intrinsics.fx * cfg.input_width / width
        fy = intrinsics.fy * cfg.input_height / height
        return float(np.sqrt(fx * fy)) / canonical

    @torch.inference_mode()
    def predict(self, rgb: np.ndarray, output_size: tuple[int, int] | None = None,
                intrinsics: Intrinsics | None = None) -> np.ndarray:
        """Depth in metres, float32, at ``output_size`` (height, width; default: the image's).

        ``intrinsics`` (pixels of ``rgb``) let a camera-aware model give metres for this
        camera (:meth:`metric_scale`); models without a canonical focal ignore them.
        """
        rgb = check_rgb(rgb)
        height, width = output_size or rgb.shape[:2]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._cpu_autocast):
            tanh_depth = self.network(self.preprocess(rgb)).float()
        # Metres before upsampling: the map is affine, so it commutes with bilinear
        # resampling, and it costs one pass over the small network output instead of two
        # temporaries at the image's size (1.9 -> 0.4 ms for a 375x1242 frame).
        depth = F.interpolate(self.model.to_metres(tanh_depth), size=(height, width),
                              mode="bilinear", align_corners=True)[0, 0]
        depth = depth.clamp_(MIN_DEPTH, self.config.max_depth)
        scale = self.metric_scale(rgb.shape[:2], intrinsics)
        if scale != 1.0:
            depth *= scale
        return depth.cpu().numpy()
