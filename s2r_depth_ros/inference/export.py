"""Export to ONNX (for ONNX Runtime, OpenVINO or TensorRT) and run an exported model."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..model import S2RDepthNet
from .optimize import fold_model


def export_onnx(model: S2RDepthNet, path: str | Path, opset: int = 17) -> Path:
    """Write the folded network as ONNX for the model's input size (batch 1, fixed shape).

    Input ``image``: 1x3xHxW float32 in [-1, 1]; output ``depth``: 1x1xHxW tanh units
    (metres = (depth + 1) / 2 * max_depth, stored in the model's metadata).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    network = fold_model(model).cpu().float()  # a copy; forward returns only the final depth
    example = torch.zeros(1, 3, cfg.input_height, cfg.input_width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (example,), str(path), input_names=["image"],
                          output_names=["depth"], opset_version=opset, dynamo=False)
    import onnx

    exported = onnx.load(str(path))
    for key, value in (("s2r_max_depth", str(cfg.max_depth)), ("s2r_config", cfg.name),
                       ("s2r_input_size", f"{cfg.input_height}x{cfg.input_width}")):
        exported.metadata_props.add(key=key, value=value)
    onnx.save(exported, str(path))
    return path


class OnnxRuntimeNetwork:
    """Callable like the torch network (tensor in, tanh depth out) but run by ONNX Runtime."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(path), options,
                                                    providers=["CPUExecutionProvider"])

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(image.detach().cpu().float().numpy())
        return torch.from_numpy(self.session.run(["depth"], {"image": array})[0])


def onnx_network_for(model: S2RDepthNet, cache_dir: str | Path | None = None,
                     threads: int | None = None) -> OnnxRuntimeNetwork:
    """Export ``model`` (once per configuration and weights) and open it in ONNX Runtime."""
    cache = Path(cache_dir or os.environ.get("S2R_CACHE_DIR",
                                             Path.home() / ".cache" / "s2r_depth_ros"))
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    cfg = model.config
    path = cache / f"{cfg.name}_{cfg.input_height}x{cfg.input_width}_{digest.hexdigest()[:16]}.onnx"
    if not path.is_file():
        export_onnx(model, path)
    return OnnxRuntimeNetwork(path, threads)
