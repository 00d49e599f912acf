"""The network: official layout, presets, checkpoint formats and their failure modes."""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from conftest import SHARED, make_model, require_shared
from s2r_depth_ros.model import (
    CheckpointError,
    S2RConfig,
    S2RDepthNet,
    load_checkpoint,
    load_official,
    preset,
    save_checkpoint,
    save_official,
)
from s2r_depth_ros.model.checkpoint import OFFICIAL_PARTS

KEYS_FILE = SHARED / "reference" / "STATE_DICT_KEYS.txt"


def reference_keys() -> dict[tuple[str, str], list[int]]:
    """(official file stem, key) -> shape, parsed from the reference key list."""
    require_shared(KEYS_FILE)
    keys, section = {}, None
    for line in KEYS_FILE.read_text().splitlines():
        if line.startswith("## "):
            section = line.split()[1].split("_{")[0]
        elif line.strip() and not line.startswith("#"):
            key, shape, _ = line.split("\t")
            keys[(section, key)] = [int(s) for s in shape.strip("[]").split(",") if s.strip()]
    return keys


def test_paper_configuration_matches_official_keys_and_shapes():
    model = S2RDepthNet(preset("paper"))
    ours = {}
    for stem, attribute in OFFICIAL_PARTS.items():
        prefix = "" if stem == "struct_encoder" else "module."
        for key, value in getattr(model, attribute).state_dict().items():
            ours[(stem, prefix + key)] = list(value.shape)
    reference = reference_keys()
    assert len(reference) == 424
    assert ours == reference


def test_paper_parameter_count_and_single_shared_prelu():
    model = S2RDepthNet(preset("paper"))
    assert sum(p.numel() for p in model.parameters()) == 87_438_070
    prelus = {id(m) for m in model.depth_net.modules() if isinstance(m, torch.nn.PReLU)}
    assert len(prelus) == 1


def count_gflops(config: S2RConfig) -> float:
    model = S2RDepthNet(config).to("meta")
    x = torch.empty(1, 3, config.input_height, config.input_width, device="meta")
    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 1e9


def test_lite_costs_at_most_a_twentieth_of_paper():
    paper = count_gflops(preset("paper"))
    lite = count_gflops(preset("lite"))
    assert paper == pytest.approx(823.9, rel=1e-3)
    assert lite <= paper / 20


def test_lite_keeps_the_three_part_structure():
    model = make_model("lite", 96, 128)
    with torch.no_grad():
        out = model.forward_all(torch.rand(2, 3, 96, 128) * 2 - 1)
    assert out.structure.shape == out.attention.shape == (2, 1, 96, 128)
    assert 0 < out.structure.min() and out.structure.max() < 1
    assert [tuple(d.shape[-2:]) for d in out.depths] == [(12, 16), (24, 32), (48, 64), (96, 128)]
    assert all(d.abs().max() <= 1 for d in out.depths)


@pytest.mark.parametrize("domain", ["vkitti", "suncg"])
def test_official_four_file_round_trip_gives_identical_output(tmp_path, domain):
    torch.manual_seed(1)
    model = make_model("paper", 96, 128)
    paths = save_official(model, tmp_path, domain)
    raw = torch.load(paths["depthnet"], weights_only=True)
    assert all(k.startswith("module.") for k in raw)
    assert not any(k.startswith("module.") for k in torch.load(paths["struct_encoder"],
                                                                weights_only=True))
    # Official files from old PyTorch may lack BN step counters: they must still load.
    stripped = {k: v for k, v in raw.items() if not k.endswith("num_batches_tracked")}
    torch.save(stripped, paths["depthnet"])
    loaded = load_official(tmp_path, domain)
    assert loaded.config.max_depth == (80.0 if domain == "vkitti" else 8.0)
    x = torch.rand(1, 3, 96, 128) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_native_checkpoint_round_trip_keeps_configuration(tmp_path):
    model = make_model("lite", 96, 128, max_depth=20.0, aspect_range=(1.2, 2.5))
    path = save_checkpoint(model, tmp_path / "m.pt", provenance={"seed": 3})
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    assert loaded.config.aspect_range == (1.2, 2.5)
    # Written through a private temporary file, the model still gets the umask's mode.
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert loaded.config.provenance == {"seed": 3}
    x = torch.rand(1, 3, 96, 128) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_checkpoint_gives_clear_error(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(bad)


def test_garbage_and_missing_checkpoints_give_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 100)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(garbage)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")


class Payload:
    """Any class: unpickling it would mean running arbitrary code."""


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "x", "obj": Payload()}, path)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


def test_mismatched_checkpoints_name_the_problem(tmp_path):
    model = make_model("lite")
    payload = torch.load(save_checkpoint(model, tmp_path / "m.pt"), weights_only=True)
    payload["state_dict"]["depth_net.output1.model.1.weight"] = torch.zeros(1, 2, 3, 3)
    torch.save(payload, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_checkpoint(tmp_path / "shape.pt")

    del payload["state_dict"]["depth_net.output1.model.1.weight"]
    torch.save(payload, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="missing keys"):
        load_checkpoint(tmp_path / "missing.pt")

    torch.save(model.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="not an s2r_depth_ros checkpoint"):
        load_checkpoint(tmp_path / "bare.pt")

    # A lite model's files in the official layout do not fit the paper architecture.
    save_official(model, tmp_path / "official", "vkitti")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_official(tmp_path / "official", "vkitti")


def test_config_validation():
    with pytest.raises(ValueError, match="divisible by 16"):
        S2RConfig(input_height=100)
    with pytest.raises(ValueError, match="minimum"):
        S2RConfig(input_height=64)
    with pytest.raises(ValueError, match="max_depth"):
        S2RConfig(max_depth=0)
    with pytest.raises(ValueError, match="unknown model configuration keys"):
        S2RConfig.from_dict({"name": "x", "colour": 3})
    with pytest.raises(ValueError, match="unknown model preset"):
        preset("huge")
    for bad in (0, 2.0):
        with pytest.raises(ValueError, match="structure_channels"):
            S2RConfig(structure_channels=bad)
    with pytest.raises(ValueError, match="depth_skip_weight"):
        S2RConfig(depth_skip_weight=0)


def test_live_depth_skips_start_from_the_same_depth(tmp_path):
    """with_depth_skip_weight: DP's skips scaled by 1 instead of the paper's 0.1, with the
    layers reading them re-weighted, computes the old depth; the skips then carry 10x more
    per unit of weight, which is the point. Checkpoints without the key (every model saved
    before it) load with the paper's 0.1."""
    model = make_model("lite", 96, 128, seed=5).eval()
    live = model.with_depth_skip_weight(1.0).eval()
    assert live.config.depth_skip_weight == 1.0 and model.config.depth_skip_weight == 0.1
    assert live.depth_net.skip_scales == (1.0, 0.5, 0.1)
    x = torch.rand(2, 3, 96, 128) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(live(x), model(x), atol=1e-5)
        conv, channels = live.depth_net.skip_readers()[-1]  # deconv2 reading e1
        assert torch.allclose(conv.weight[:, channels],
                              model.depth_net.deconv2.model[1].weight[:, channels] * 0.1)
    loaded = load_checkpoint(save_checkpoint(live, tmp_path / "live.pt"))
    assert loaded.config.depth_skip_weight == 1.0
    old_dict = model.config.to_dict()
    del old_dict["depth_skip_weight"]
    assert S2RConfig.from_dict(old_dict).depth_skip_weight == 0.1


def test_a_wider_structure_map_starts_from_the_same_depth(tmp_path):
    """with_structure_channels: the decoder gives more channels and DP reads them, yet the
    widened model computes exactly the old depth until training moves the new weights; it
    saves and loads like any model, and never narrows."""
    model = make_model("lite", 96, 128, seed=5)
    wide = model.with_structure_channels(4, torch.Generator().manual_seed(0)).eval()
    assert wide.config.structure_channels == 4 and model.config.structure_channels == 1
    x = torch.rand(2, 3, 96, 128) * 2 - 1
    with torch.no_grad():
        outputs = wide.forward_all(x)
        assert outputs.structure.shape == (2, 4, 96, 128)
        assert outputs.structure[:, 1:].std() > 0  # the new channels carry something
        assert torch.equal(wide(x), model(x))
        # The depth network does read them once its weights for them are not zero.
        wide.depth_net.conv1[1].weight.data[:, 1:] += 0.1
        assert not torch.allclose(wide(x), model(x))
    loaded = load_checkpoint(save_checkpoint(wide, tmp_path / "wide.pt"))
    assert loaded.config.structure_channels == 4
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), wide(x))
    with pytest.raises(ValueError, match="cannot narrow"):
        wide.with_structure_channels(2)


def test_every_image_is_resized_to_the_model_input_and_metres_use_the_trained_size():
    """For a model trained on one aspect a 4:3 image goes to the model's input size like any
    other (the reference recipe, also for camera-aware models); the camera's focal lengths at
    the size the model was trained at give the metres, whatever input size it runs at."""
    import numpy as np

    from s2r_depth_ros.geometry import Intrinsics
    from s2r_depth_ros.inference import DepthEstimator, EstimatorOptions

    model = make_model(canonical_focal=100.0)
    estimator = DepthEstimator(model, EstimatorOptions(device="cpu", threads=1))
    assert estimator.input_size == (96, 128)
    rgb = np.zeros((480, 640, 3), np.uint8)
    assert tuple(estimator.preprocess(rgb).shape[-2:]) == (96, 128)
    camera = Intrinsics(500.0, 400.0, 320.0, 240.0, 640, 480)
    fx, fy = 500.0 * 128 / 640, 400.0 * 96 / 480
    assert estimator.metric_scale((480, 640), camera) == pytest.approx(np.sqrt(fx * fy) / 100)
    forced = DepthEstimator(model, EstimatorOptions(device="cpu", threads=1,
                                                    input_size=(112, 160)))
    assert forced.input_size == (112, 160)
    assert tuple(forced.preprocess(rgb).shape[-2:]) == (112, 160)
    assert forced.trained_size == (96, 128)
    assert forced.metric_scale((480, 640), camera) == pytest.approx(np.sqrt(fx * fy) / 100)


def test_a_model_trained_on_many_input_scales_takes_the_focal_length_at_the_run_size(tmp_path):
    """A model trained at many input sizes (input_scale_range) reads objects' size in
    pixels, so the camera's focal length counts at the size the network runs at: run 1.5x
    larger, the same camera's metres are 1.5x larger (a nearby object looks 1.5x larger
    to the network, which answers 1.5x nearer in canonical units)."""
    import numpy as np

    from s2r_depth_ros.geometry import Intrinsics
    from s2r_depth_ros.inference import DepthEstimator, EstimatorOptions

    model = make_model(canonical_focal=100.0, input_scale_range=(0.8, 1.25))
    camera = Intrinsics(500.0, 400.0, 320.0, 240.0, 640, 480)
    fx, fy = 500.0 * 128 / 640, 400.0 * 96 / 480
    trained = DepthEstimator(model, EstimatorOptions(device="cpu", threads=1))
    assert trained.metric_scale((480, 640), camera) == pytest.approx(np.sqrt(fx * fy) / 100)
    larger = DepthEstimator(model, EstimatorOptions(device="cpu", threads=1,
                                                    input_size=(144, 192)))
    assert larger.metric_scale((480, 640), camera) == pytest.approx(
        1.5 * np.sqrt(fx * fy) / 100)
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "scales.pt"))
    assert loaded.config.input_scale_range == (0.8, 1.25)
    with pytest.raises(ValueError, match="input_scale_range"):
        make_model(input_scale_range=(1.5, 1.0))


def test_a_model_trained_on_other_aspects_runs_at_the_cameras_aspect():
    """input_aspect auto keeps the image's aspect (about the input's pixel count, sides
    multiples of 16) for a model with an aspect_range, held within that range; squash is
    the reference for every model, camera forces the image's aspect; exported networks are
    made per size; the depth comes back at the image's size with metres that do not depend
    on the network's size."""
    import numpy as np

    from s2r_depth_ros.geometry import Intrinsics
    from s2r_depth_ros.inference import DepthEstimator, EstimatorOptions
    from s2r_depth_ros.inference.estimator import aspect_input_size

    assert aspect_input_size((128, 416), 1242 / 375) == (128, 416)
    assert aspect_input_size((128, 416), 4 / 3) == (192, 256)
    assert aspect_input_size((128, 416), 16 / 9) == (176, 320)
    model = make_model(height=96, width=288, canonical_focal=100.0, aspect_range=(1.3, 3.4))
    auto = DepthEstimator(model, EstimatorOptions(device="cpu", threads=1,
                                                  backend="onnxruntime"))
    assert auto.network_size((480, 640)) == (144, 192)
    assert auto.network_size((300, 900)) == (96, 288)
    # Aspects outside the range are held at its ends: 3.4 for 3.56, 1.3 for square images.
    assert auto.network_size((360, 1280)) == aspect_input_size((96, 288), 3.4) == (96, 320)
    assert auto.network_size((480, 480)) == aspect_input_size((96, 288), 1.3) == (144, 192)
    camera = DepthEstimator(model, EstimatorOptions(device="cpu", threads=1,
                                                    input_aspect="camera"))
    assert camera.network_size((480, 480)) == (160, 160)
    squash = DepthEstimator(model, EstimatorOptions(device="cpu", threads=1,
                                                    input_aspect="squash"))
    assert squash.network_size((480, 640)) == (96, 288)
    one_aspect = DepthEstimator(make_model(height=96, width=288),
                                EstimatorOptions(device="cpu", threads=1))
    assert one_aspect.network_size((480, 640)) == (96, 288)

    rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)
    assert tuple(auto.preprocess(rgb).shape[-2:]) == (144, 192)
    lens = Intrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)
    depth = auto.predict(rgb, intrinsics=lens)
    assert depth.shape == (480, 640) and np.isfinite(depth).all()
    assert set(auto._exported) == {(96, 288), (144, 192)}
    assert auto.metric_scale((480, 640), lens) == squash.metric_scale((480, 640), lens)
    with pytest.raises(ValueError, match="input_aspect"):
        EstimatorOptions(input_aspect="stretch")
    with pytest.raises(ValueError, match="aspect_range"):
        make_model(aspect_range=(2.0, 1.0))


def test_a_camera_aware_models_metres_do_not_move_with_the_input_size():
    """The shipped street model run at other input sizes gives about the same metres on real
    KITTI frames, with the focal length taken where its checkpoint says: at the run size for
    a model trained on many input scales (``input_scale_range``), else at the trained size
    (taken at the run size, a 192x640 run of v3 was 1.5x further than the 128x416 one:
    BENCHMARKS.md, "Metres at other input sizes")."""
    import numpy as np

    from conftest import REAL_RGBD
    from s2r_depth_ros.evaluation.sources import manifest_sources
    from s2r_depth_ros.inference import open_estimator

    frames = [s.load() for s in manifest_sources(REAL_RGBD / "manifest.json")
              if s.group == "outdoor"][:3]
    runs = {size: open_estimator("outdoor", device="cpu", backend="eager", threads=2,
                                 input_size=size) for size in ((128, 416), (96, 320), (192, 640))}
    assert runs[(128, 416)].trained_size == (128, 416)
    at_run_size = runs[(128, 416)].focal_at_run_size
    # The metres must stay within 25 % across these sizes and, over the frames and sizes,
    # nearer than the other convention would keep them (it scales them by the size ratio).
    errors: dict[str, list[float]] = {"the estimator's": [], "the other": []}
    for frame in frames:
        camera = frame.camera_at_image()
        medians = {size: float(np.median(run.predict(frame.rgb, intrinsics=camera)))
                   for size, run in runs.items()}
        trained = medians[(128, 416)]
        for (height, width), median in medians.items():
            assert median == pytest.approx(trained, rel=0.25), (frame.name, medians)
            ratio = np.sqrt(height / 128 * width / 416)
            other = median / ratio if at_run_size else median * ratio
            errors["the estimator's"].append(abs(np.log(median / trained)))
            errors["the other"].append(abs(np.log(other / trained)))
    assert np.mean(errors["the estimator's"]) < np.mean(errors["the other"]), errors
