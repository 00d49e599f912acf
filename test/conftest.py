"""Shared fixtures: paths to ../shared, small real models, per-run ROS isolation, test tiers.

Tiers (markers, registered in pytest.ini): ``ros`` for tests that start ROS 2 nodes or talk
DDS, ``slow`` for the long ones; both are applied here by module (ROS_MODULES, SLOW_MODULES)
or by test (SLOW_TESTS). ``make test`` runs everything (as CI does), ``make test-fast`` the
rest. With CI=true a missing ../shared fails the tests that need it instead of skipping them.
"""

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
# Whether this is a CI run (CI=true, as CI services and .ci/run set it).
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Modules whose tests start ROS 2 nodes or talk DDS (or need the ROS wheels).
ROS_MODULES = {"test_depth_node", "test_lifecycle_node", "test_node_overload", "test_replay",
               "test_demo", "test_allocator", "test_node_conventions", "test_node_scale"}
# Modules and single tests that take a long time (measured: tens of seconds each here).
SLOW_MODULES = {"test_training"}
SLOW_TESTS = {"test_official_weights_reproduce_reference_recipe",
              "test_colcon_build_installs_a_complete_ament_package"}


def pytest_configure(config):
    # Every DDS participant of this run stays on loopback; each test picks its own domain.
    use_loopback(random_domain_id())
    # ONNX exports made by the back-ends (and node processes) go to a throw-away cache.
    os.environ.setdefault("S2R_CACHE_DIR", tempfile.mkdtemp(prefix="s2r_test_cache_"))
    torch.set_num_threads(2)


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in ROS_MODULES:
            item.add_marker(pytest.mark.ros)
        if module in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


def require_shared(path: Path) -> Path:
    """``path`` under ../shared; missing, the test skips (locally) or fails (CI=true)."""
    if not path.exists():
        message = f"{path} not available"
        if IN_CI:
            pytest.fail(f"{message}: CI needs ../shared beside the clone", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def real_manifest() -> list[dict]:
    path = require_shared(REAL_RGBD / "manifest.json")
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
