"""Inference rewrites and back-ends give the same depth as the plain eager fp32 network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_model
from s2r_depth_ros.inference import DepthEstimator
from s2r_depth_ros.inference.optimize import fold_model


@pytest.mark.parametrize("name", ["paper", "lite"])
def test_folded_network_matches_eager_and_has_no_batchnorm(name):
    model = make_model(name, 96, 128, seed=5)
    folded = fold_model(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # original kept
    x = torch.rand(2, 3, 96, 128) * 2 - 1
    with torch.inference_mode():
        expected = model.forward_all(x)
        got = folded.forward_all(x.contiguous(memory_format=torch.channels_last))
    for a, b in zip([expected.structure, expected.attention, *expected.depths],
                    [got.structure, got.attention, *got.depths]):
        assert (a - b).abs().max() < 1e-5


def test_compiled_backend_matches_eager():
    model = make_model("lite", 96, 128, seed=6)
    rgb = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    eager = DepthEstimator(model, device="cpu").predict(rgb)
    compiled = DepthEstimator(model, device="cpu", backend="compile").predict(rgb)
    assert np.abs(eager - compiled).max() <= 1e-3


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend"):
        DepthEstimator(make_model("lite"), device="cpu", backend="tensorrt-on-cpu")
