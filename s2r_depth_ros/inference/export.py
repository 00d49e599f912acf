"""Export to ONNX (for ONNX Runtime, OpenVINO or TensorRT) and run an exported model."""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from ..model import S2RDepthNet
from .optimize import fold_model

# Part of every cached export's name: raise it when fold_model or the export changes the
# graph, so that caches written by an older version are not reused.
EXPORT_REVISION = 3


def export_onnx(model: S2RDepthNet, path: str | Path, opset: int = 17,
                depthwise_heads: bool = True) -> Path:
    """Write the folded network as ONNX for the model's input size (batch 1, fixed shape).

    Input ``image``: 1x3xHxW float32 in [-1, 1]; output ``depth``: 1x1xHxW tanh units
    (metres = (depth + 1) / 2 * max_depth, stored in the model's metadata).
    ``depthwise_heads``: see :func:`fold_model` (on for the CPU runtimes that read the export).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed at the end: a crash or a second process
    # exporting at the same time never leaves a half-written file under the final name.
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    cfg = model.config
    # A copy; its forward returns only the final depth.
    network = fold_model(model, depthwise_heads).cpu().float()
    example = torch.zeros(1, 3, cfg.input_height, cfg.input_width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (example,), str(partial), input_names=["image"],
                          output_names=["depth"], opset_version=opset, dynamo=False)
    import onnx

    try:
        exported = onnx.load(str(partial))
        for key, value in (("s2r_max_depth", str(cfg.max_depth)), ("s2r_config", cfg.name),
                           ("s2r_input_size", f"{cfg.input_height}x{cfg.input_width}")):
            exported.metadata_props.add(key=key, value=value)
        onnx.save(exported, str(partial))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


class OnnxRuntimeNetwork:
    """Callable like the torch network (tensor in, tanh depth out) but run by ONNX Runtime.

    ``spin_wait``: ONNX Runtime's idle intra-op threads spin for the next call. That is
    fastest for calls back to back, but it takes the CPU from other threads of the process
    (the node's publisher: BENCHMARKS.md), which turn it off.
    """

    def __init__(self, path: str | Path, threads: int | None = None,
                 spin_wait: bool = True) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning",
                                         "1" if spin_wait else "0")
        self.session = onnxruntime.InferenceSession(str(path), options,
                                                    providers=["CPUExecutionProvider"])

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(image.detach().cpu().float().numpy())
        return torch.from_numpy(self.session.run(["depth"], {"image": array})[0])


def openvino_precision_config(precision: str) -> dict[str, str]:
    """OpenVINO CPU settings for an inference precision: f32 (exact), bf16 or f16 (approximate).

    Left to itself the CPU plugin runs f32 models in bf16 where the CPU has bf16 units (AMX,
    AVX512-BF16: measured 2.0 m off the reference on a KITTI frame with this CPU's AMX). The
    exact path asks for f32 and the ACCURACY execution mode, which also rules out the
    plugin's other accuracy-for-speed trades; the approximate modes keep PERFORMANCE.
    """
    if precision == "f32":
        return {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}
    return {"INFERENCE_PRECISION_HINT": precision, "EXECUTION_MODE_HINT": "PERFORMANCE"}


class OpenVinoNetwork:
    """Callable like the torch network, run by OpenVINO's CPU plugin from the ONNX export.

    The ONNX file is read by the runtime directly (``Core.read_model``); the conversion tools
    (``convert_model``, ``ovc``), which carry OpenVINO's telemetry, are never used.
    Precision: see :func:`openvino_precision_config`. Each calling thread gets its own infer
    request, and ``streams`` requests can run at once (one per inference worker).
    """

    def __init__(self, path: str | Path, threads: int | None = None, streams: int = 1,
                 precision: str = "f32") -> None:
        import openvino

        threads = threads or torch.get_num_threads()
        core = openvino.Core()
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", {
            **openvino_precision_config(precision),
            "NUM_STREAMS": str(streams),
            "INFERENCE_NUM_THREADS": str(threads * streams),
        })
        self._requests = threading.local()

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self.compiled.create_infer_request()
        array = np.ascontiguousarray(image.detach().cpu().float().numpy())
        # The input is only read during the call; the output is copied out of the request.
        return torch.from_numpy(request.infer({0: array}, share_inputs=True)[0].copy())


def exported_onnx(model: S2RDepthNet, cache_dir: str | Path | None = None) -> Path:
    """The model's ONNX export, written once per configuration and weights into the cache."""
    cache = Path(cache_dir or os.environ.get("S2R_CACHE_DIR",
                                             Path.home() / ".cache" / "s2r_depth_ros"))
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    cfg = model.config
    path = cache / (f"{cfg.name}_{cfg.input_height}x{cfg.input_width}_r{EXPORT_REVISION}_"
                    f"{digest.hexdigest()[:16]}.onnx")
    if not path.is_file():
        export_onnx(model, path)
    return path
