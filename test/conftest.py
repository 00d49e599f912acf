"""Shared fixtures: paths to ../shared, small real models, per-run ROS isolation."""

from __future__ import annotations

import os

# Humble checks every message field on assignment, later distributions only with this set:
# the tests and the node processes they start run with the checks on, as on Humble.
os.environ.setdefault("ROS_PYTHON_CHECK_FIELDS", "1")

import json  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from s2r_depth_ros.model import S2RDepthNet, preset, save_checkpoint  # noqa: E402
from s2r_depth_ros.ros.live import random_domain_id, use_loopback  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_RGBD = SHARED / "real_rgbd"


def pytest_configure(config):
    # Every DDS participant of this run stays on loopback; each test picks its own domain.
    use_loopback(random_domain_id())
    # ONNX exports made by the back-ends (and node processes) go to a throw-away cache.
    os.environ.setdefault("S2R_CACHE_DIR", tempfile.mkdtemp(prefix="s2r_test_cache_"))
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def real_manifest() -> list[dict]:
    path = REAL_RGBD / "manifest.json"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return json.loads(path.read_text())["entries"]


def make_model(name: str = "lite", height: int = 96, width: int = 128, seed: int = 0,
               **overrides) -> S2RDepthNet:
    """A randomly initialised real model; BN statistics are randomised so outputs vary."""
    torch.manual_seed(seed)
    model = S2RDepthNet(replace(preset(name), input_height=height, input_width=width,
                                **overrides))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A small lite-configuration checkpoint (96x128 input), saved in the native format."""
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    return save_checkpoint(make_model(), path, provenance={"source": "test fixture"})
