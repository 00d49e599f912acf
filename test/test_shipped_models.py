"""The models shipped in the package: they load, match MODEL_CARD.md, and work on real frames."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import REAL_RGBD
from s2r_depth_ros.inference import open_estimator
from s2r_depth_ros.weights import SHIPPED, shipped_model

# What MODEL_CARD.md documents for each shipped model.
DOCUMENTED = {
    "outdoor": {"name": "lite", "input": (128, 416), "max_depth": 80.0, "domain": "outdoor",
                "dataset": "kitti_tiny_packnet"},
    "indoor": {"name": "lite_indoor", "input": (192, 256), "max_depth": 8.0, "domain": "indoor",
               "dataset": "slambook2_rgbd"},
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_loads_with_documented_configuration(name, real_manifest):
    path = shipped_model(name)
    assert path is not None, f"{SHIPPED[name]} is not in the package"
    assert path.stat().st_size < 20 * 1024 * 1024
    estimator = open_estimator(name, device="cpu")
    cfg, doc = estimator.config, DOCUMENTED[name]
    assert cfg.name == doc["name"]
    assert (cfg.input_height, cfg.input_width) == doc["input"]
    assert cfg.max_depth == doc["max_depth"]
    # Trained on the project's synthetic scenes of its domain, nothing else.
    assert f"SyntheticScenes(domain={doc['domain']}" in cfg.provenance["dataset"]

    entry = next(e for e in real_manifest if e["dataset"] == doc["dataset"])
    rgb = np.asarray(Image.open(REAL_RGBD / entry["rgb"]).convert("RGB"))
    depth = estimator.predict(rgb)
    assert depth.shape == rgb.shape[:2]
    assert np.isfinite(depth).all() and depth.min() > 0 and depth.max() <= cfg.max_depth
    # A trained model sees the scene's layout: its depth follows the measured depth.
    gt = np.asarray(Image.open(REAL_RGBD / entry["depth"])).astype(np.float32)
    valid = gt > 0
    correlation = np.corrcoef(np.log(depth[valid]), np.log(gt[valid]))[0, 1]
    assert correlation > 0.5, correlation


def test_default_model_is_the_shipped_outdoor_model():
    assert open_estimator(device="cpu").config.name == DOCUMENTED["outdoor"]["name"]
