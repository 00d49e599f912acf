"""Offline training: augmentation, losses, all stages, resume after kill -9, DDP, failures."""

from __future__ import annotations

import csv
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import REAL_RGBD, REPO
from s2r_depth_ros import cli
from s2r_depth_ros.data.synth import SyntheticScenes
from s2r_depth_ros.geometry import Intrinsics
from s2r_depth_ros.inference import DepthEstimator, open_estimator
from s2r_depth_ros.model import load_checkpoint
from s2r_depth_ros.training import (
    AugmentConfig,
    TrainingDiverged,
    depth_loss,
    joint_augment,
    load_config,
    random_style,
    struct_weighted_loss,
    train,
)
from s2r_depth_ros.training.losses import centimetres_per_unit
from s2r_depth_ros.training.real_frames import RealFrameValidation

PYTHON = sys.executable


# ------------------------------------------------------------------ helpers
class Poisoned(torch.utils.data.Dataset):
    """Wraps a dataset; the given indices get a NaN in their depth."""

    def __init__(self, base, poisoned):
        self.base, self.poisoned = base, set(poisoned)

    def __len__(self):
        return len(self.base)

    def __getitem__(self, index):
        sample = self.base[index]
        if index in self.poisoned:
            sample.depth[5, 5] = np.nan
        return sample


def write_config(path: Path, **sections) -> Path:
    config = {
        "model": {"preset": "lite", "input_height": 96, "input_width": 128},
        "data": {"source": "synthetic", "domain": "outdoor", "length": 16, "val_length": 4},
        "train": {"batch_size": 2, "steps": 4, "threads": 1, "log_every": 1,
                  "checkpoint_every": 2, "preview_every": 0, "val_every": 0},
    }
    for key, value in sections.items():
        config.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(config))
    return path


def child_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def read_log(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------ augmentation and losses
def test_style_p_restyles_the_image_of_depth_stages_only():
    """augment.style_p: the image a depth stage sees is restyled (depth and validity kept);
    0 leaves the reference's transform as it was; held-out samples are never restyled."""
    from s2r_depth_ros.training.dataset import AugmentedDataset
    base = SyntheticScenes("outdoor", length=2, height=60, width=80, seed=1)
    plain_cfg = AugmentConfig(flip=False, rotate=False, color=False)
    styled_cfg = AugmentConfig(flip=False, rotate=False, color=False, style_p=1.0)
    plain = AugmentedDataset(base, 48, 64, 80.0, 3, plain_cfg)[0]
    styled = AugmentedDataset(base, 48, 64, 80.0, 3, styled_cfg)[0]
    assert not torch.equal(plain["image"], styled["image"])
    assert torch.equal(plain["depth"], styled["depth"])
    assert torch.equal(plain["valid"], styled["valid"])
    held_out = AugmentedDataset(base, 48, 64, 80.0, 3, styled_cfg, randomize=False)[0]
    assert torch.equal(held_out["image"], plain["image"])
    with pytest.raises(ValueError, match="style_p"):
        AugmentConfig(style_p=1.5)


@pytest.mark.parametrize("option", ["dapple_p", "texture_p"])
def test_light_and_texture_patches_change_the_image_only_and_are_seeded(option):
    """augment.dapple_p (sharp-edged shade and sun) and texture_p (fine texture) change
    parts of the image, never the depth or its validity; the same generator gives the same
    patches; held-out samples get none."""
    from s2r_depth_ros.training.dataset import AugmentedDataset
    base = SyntheticScenes("outdoor", length=2, height=60, width=80, seed=1)
    plain_cfg = AugmentConfig(flip=False, rotate=False, color=False)
    dappled_cfg = AugmentConfig(flip=False, rotate=False, color=False, **{option: 1.0})
    plain = AugmentedDataset(base, 48, 64, 80.0, 3, plain_cfg)[0]
    dappled = AugmentedDataset(base, 48, 64, 80.0, 3, dappled_cfg)[0]
    assert torch.equal(dappled["image"], AugmentedDataset(base, 48, 64, 80.0, 3,
                                                          dappled_cfg)[0]["image"])
    changed = (dappled["image"] != plain["image"]).any(dim=0)
    assert 0.05 < changed.float().mean() < 0.95  # patches, not the whole image
    assert torch.equal(plain["depth"], dappled["depth"])
    assert torch.equal(plain["valid"], dappled["valid"])
    held_out = AugmentedDataset(base, 48, 64, 80.0, 3, dappled_cfg, randomize=False)[0]
    assert torch.equal(held_out["image"], plain["image"])
    with pytest.raises(ValueError, match=option):
        AugmentConfig(**{option: -0.1})


def test_joint_augment_is_seeded_and_moves_image_and_depth_together():
    sample = SyntheticScenes("outdoor", length=1, height=120, width=160, seed=5)[0]
    sample.depth[:2, :2] = 0.0  # a few invalid pixels
    plain = joint_augment(sample.rgb, sample.depth, 96, 128, 80.0, None)
    assert plain["image"].shape == (3, 96, 128) and plain["depth"].shape == (1, 96, 128)
    assert plain["image"].min() >= -1 and plain["image"].max() <= 1
    assert plain["depth"].min() >= -1 and plain["depth"].max() <= 1
    assert not plain["valid"][0, 0, 0] and plain["depth"][0, 0, 0] == -1.0  # 0 m is invalid
    assert torch.isclose(plain["depth"][0, 0, -1], torch.tensor(1.0))  # sky: 80 m -> +1

    def augmented(seed):
        return joint_augment(sample.rgb, sample.depth, 96, 128, 80.0,
                             np.random.default_rng(seed))
    a, b, c = augmented(3), augmented(3), augmented(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)

    flip = joint_augment(sample.rgb, sample.depth, 96, 128, 80.0, np.random.default_rng(0),
                         AugmentConfig(flip_p=1.0, rotate=False, color=False))
    assert torch.equal(flip["image"], plain["image"].flip(-1))
    assert torch.equal(flip["depth"], plain["depth"].flip(-1))

    rotated = joint_augment(sample.rgb, sample.depth, 96, 128, 80.0, np.random.default_rng(1),
                            AugmentConfig(rotate_p=1.0, flip=False, color=False))
    corners = [(0, 0), (0, -1), (-1, 0), (-1, -1)]
    if not torch.equal(rotated["depth"], plain["depth"]):  # angle 0.00 is possible but rare
        assert any(not rotated["valid"][0, y, x] and rotated["depth"][0, y, x] == -1
                   for y, x in corners)
    assert torch.equal(rotated["valid"], rotated["depth"] > -1)

    dark = joint_augment(sample.rgb, sample.depth, 96, 128, 80.0, np.random.default_rng(2),
                         AugmentConfig(color_p=1.0, flip=False, rotate=False))
    assert torch.equal(dark["depth"], plain["depth"])
    assert dark["image"].mean() < plain["image"].mean()  # factors U(0.8, 1) only darken


def test_random_style_changes_appearance_only():
    sample = SyntheticScenes("outdoor", length=1, height=96, width=128)[0]
    image = joint_augment(sample.rgb, sample.depth, 96, 128, 80.0, None)["image"]
    styled = random_style(image, np.random.default_rng(0))
    assert styled.shape == image.shape and styled.min() >= -1 and styled.max() <= 1
    assert (styled - image).abs().mean() > 0.1
    assert torch.equal(styled, random_style(image, np.random.default_rng(0)))


def test_losses_match_their_definitions():
    target = torch.linspace(-1, 1, 2 * 16 * 16).reshape(2, 1, 16, 16)
    exact = [torch.nn.functional.interpolate(target, size=(s, s), mode="bilinear",
                                             align_corners=True) for s in (2, 4, 8, 16)]
    valid = torch.ones_like(target, dtype=torch.bool)
    assert depth_loss(exact, target, valid, 80.0) == 0
    shifted = [e + 0.25 for e in exact]
    assert torch.isclose(depth_loss(shifted, target, valid, 80.0), torch.tensor(1.0))  # 4 x 0.25
    # Pixels without ground truth never count, however wrong the prediction is there.
    corner = valid.clone()
    corner[..., :8, :8] = False
    wild = [e.clone() for e in exact]
    wild[-1][..., :8, :8] = 5.0
    assert depth_loss(wild[-1:], target, corner, 80.0) == 0
    assert depth_loss(wild[-1:], target, valid, 80.0) > 0.5
    # The log term: a prediction twice the true depth costs log 2 per pixel.
    metres = torch.full((1, 1, 4, 4), 10.0)
    unit = metres / 80.0 * 2 - 1
    double = (metres * 2) / 80.0 * 2 - 1
    ones = torch.ones_like(unit, dtype=torch.bool)
    l1 = depth_loss([double], unit, ones, 80.0)
    assert torch.isclose(depth_loss([double], unit, ones, 80.0, log_weight=1.0) - l1,
                         torch.tensor(float(np.log(2.0))), atol=1e-5)

    structure = torch.full((1, 1, 2, 3), 0.5)
    flat = torch.zeros(1, 1, 2, 3)
    assert torch.isclose(struct_weighted_loss(structure, flat, 0.001, 4000.0), torch.tensor(0.5))
    # A step of 0.25 between columns 0 and 1: in cm at 80 m that is 0.25 * 4000 = 1000 cm.
    step = torch.tensor([[[[0.0, 0.25, 0.25], [0.0, 0.25, 0.25]]]])
    units = centimetres_per_unit(80.0)
    assert units == 4000.0
    weights = torch.tensor([[math.exp(-1.0), 1, 1], [math.exp(-1.0), 1, 1]])
    expected = (0.5 * weights).mean()
    assert torch.isclose(struct_weighted_loss(structure, step, 0.001, units), expected)
    # On raw [-1, 1] depth the reference's beta barely weights anything (the documented issue).
    raw = struct_weighted_loss(structure, step, 0.001, 1.0)
    assert raw > 0.4999


def test_gradient_term_sees_depth_edges_but_not_scale():
    """log_gradient_loss: zero for the true map times any factor, positive for a smooth ramp
    in place of a step (an object that does not stand out), and blind to invalid pixels."""
    from s2r_depth_ros.training.losses import log_gradient_loss
    metres = torch.full((1, 1, 16, 16), 20.0)
    metres[..., 4:12, 4:12] = 5.0  # a near box in front of a wall
    valid = torch.ones_like(metres, dtype=torch.bool)
    for factor in (0.5, 1.0, 3.0):
        assert log_gradient_loss((metres * factor).log() - metres.log(), valid) < 1e-6
    ramp = torch.linspace(5.0, 20.0, 16).view(1, 1, 1, 16).expand_as(metres)
    missed = log_gradient_loss(ramp.log() - metres.log(), valid)
    assert missed > 0.1
    # Through depth_loss, in its [-1, 1] units: a scaled prediction costs nothing extra.
    unit = metres / 40.0 - 1
    doubled = metres * 2 / 40.0 - 1
    plain = depth_loss([doubled], unit, valid, 80.0)
    assert torch.isclose(depth_loss([doubled], unit, valid, 80.0, grad_weight=5.0), plain)
    assert depth_loss([ramp / 40.0 - 1], unit, valid, 80.0, grad_weight=1.0) > \
        depth_loss([ramp / 40.0 - 1], unit, valid, 80.0) + 0.1
    # Pairs touching an invalid pixel do not count.
    hidden = valid.clone()
    hidden[..., :, 3:13] = False
    wild = metres.clone()
    wild[..., :, 3:13] = 1000.0
    assert log_gradient_loss(wild.log() - metres.log(), hidden) < 1e-6


def test_signed_structure_targets_say_which_side_of_a_step_is_nearer(tmp_path, tiny_checkpoint):
    """signed_structure_loss: its targets are 0.5 on smooth depth, above 0.5 where depth
    rises to the right (x channel) or downwards (y channel), below where it falls; a map
    equal to them costs nothing, the opposite sign costs, and invalid pixels do not count.
    Stage 2 refuses the term without a trained structure branch of 3+ channels."""
    from s2r_depth_ros.training.losses import signed_structure_loss

    metres = torch.full((1, 1, 16, 16), 4.0)
    metres[..., :, 8:] = 2.0  # a near wall on the right: depth falls left to right
    unit = metres / 4.0 - 1  # max_depth 8
    valid = torch.ones_like(metres, dtype=torch.bool)
    wanted_x = torch.full_like(metres, 0.5)
    wanted_x[..., :, 6:10] = 0.5 - 0.5 * min(math.log(2.0) / 0.5, 1.0)
    right = torch.cat([wanted_x, torch.full_like(metres, 0.5)], 1)
    assert signed_structure_loss(right, unit, valid, 8.0) < 1e-6
    wrong = torch.cat([1.0 - wanted_x, torch.full_like(metres, 0.5)], 1)
    assert signed_structure_loss(wrong, unit, valid, 8.0) > 0.05
    flat = torch.full_like(right, 0.5)
    assert 0.0 < signed_structure_loss(flat, unit, valid, 8.0) < \
        signed_structure_loss(wrong, unit, valid, 8.0)
    hidden = valid.clone()
    hidden[..., :, 5:11] = False
    assert signed_structure_loss(wrong, unit, hidden, 8.0) < 1e-6

    config = load_config(write_config(
        tmp_path / "c.yaml", model={"init": str(tiny_checkpoint)},
        data={"length": 8, "val_length": 0},
        train={"steps": 1, "checkpoint_every": 1, "precision": "fp32"},
        stage2={"signed_structure_weight": 10.0, "train_structure": "all",
                "fresh_depth_net": False}))
    with pytest.raises(ValueError, match="3\\+ channels"):
        train(config, [2], tmp_path / "one_channel", progress=False)
    config["model"]["structure_channels"] = 3
    train(config, [2], tmp_path / "three", progress=False)
    log = read_log(tmp_path / "three" / "stage2" / "log.csv")
    assert float(log[-1]["signed"]) > 0


@pytest.mark.parametrize("section", [{"stage2": {"grad_weight": -1.0}},
                                     {"stage2": {"signed_structure_weight": -1.0}},
                                     {"stage1": {"log_weight": "0.5"}},
                                     {"stage2": {"log_weight": None}}])
def test_loss_weights_must_be_non_negative_numbers(tmp_path, section):
    with pytest.raises(ValueError, match="must be a number >= 0"):
        load_config(write_config(tmp_path / "bad.yaml", **section))


def test_config_rejects_typos_and_applies_stage_overrides(tmp_path):
    with pytest.raises(ValueError, match="unknown training config key"):
        load_config(write_config(tmp_path / "bad.yaml", train={"step": 3}))
    config = load_config(write_config(tmp_path / "ok.yaml", stage2={"steps": 9, "lr": 0.01}))
    from s2r_depth_ros.training import stage_settings
    assert stage_settings(config, 2)["steps"] == 9 and stage_settings(config, 2)["lr"] == 0.01
    assert stage_settings(config, 1)["steps"] == 4
    shipped = sorted((REPO / "config").glob("train_*.yaml"))
    assert len(shipped) >= 10
    for path in shipped:
        assert load_config(path)["source"]["sha256"], path


# ------------------------------------------------------------------ training runs
def test_tiny_run_lowers_held_out_loss(tmp_path, tiny_checkpoint):
    config = load_config(write_config(
        tmp_path / "c.yaml", model={"init": str(tiny_checkpoint)},
        data={"length": 64, "val_length": 8},
        # fp32 (not "auto", which is bf16 on AMX CPUs): the halving below is fp32's; a
        # bf16 run is tested on its own.
        train={"steps": 60, "lr": 1e-3, "val_every": 30, "checkpoint_every": 60,
               "precision": "fp32"}))
    # Held-out frames are evaluated in eval mode, as inference runs: BatchNorm's running
    # statistics need a few tens of steps to catch up, so a shorter run proves little.
    train(config, [1], tmp_path / "run", progress=False)
    rows = [r for r in read_log(tmp_path / "run" / "stage1" / "log.csv") if r["held_out"]]
    assert [int(r["step"]) for r in rows] == [0, 30, 60]
    before, after = float(rows[0]["held_out"]), float(rows[-1]["held_out"])
    assert after < 0.5 * before, (before, after)


# A child that trains like `s2r-depth train --stage 0` and stops for good after step 3 (its
# last checkpoint is step 2), as a kill -9 would find a run.
PAUSED_CHILD = """
import sys, time
from s2r_depth_ros.training import load_config, train

def pause_after_step_3(run):
    if run.step == 3:
        print("paused after step 3", file=sys.stderr, flush=True)
        while True:  # only a signal ends this
            time.sleep(3600)

train(load_config(sys.argv[1]), [0], sys.argv[2], progress=False,
      step_callbacks=[pause_after_step_3])
"""


def test_kill_9_then_resume_equals_uninterrupted_run(tmp_path):
    # 6 samples / batch 2 = 3 steps per epoch; the learning rate halves at each epoch end.
    common = {"data": {"length": 6}, "train": {"steps": 5, "lr_step": 1},
              "stage0": {"crop": [64, 96]}}
    config_path = write_config(tmp_path / "c.yaml", **common)
    command = [PYTHON, "-m", "s2r_depth_ros.cli", "train", "--stage", "0", "--quiet"]
    child = subprocess.Popen([PYTHON, "-c", PAUSED_CHILD, str(config_path), str(tmp_path / "b")],
                             env=child_env(), stderr=subprocess.PIPE, text=True)
    try:
        assert "paused after step 3" in child.stderr.readline()
        os.kill(child.pid, signal.SIGKILL)  # after step 3; the last checkpoint is step 2
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not (tmp_path / "b" / "stage0" / "model.pt").exists()
    stale = torch.load(tmp_path / "b" / "stage0" / "train_state.pt", weights_only=True)
    assert stale["step"] == 2

    resumed = subprocess.run(command + ["--config", str(config_path), "--out",
                                        str(tmp_path / "b"), "--resume"],
                             env=child_env(), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    train(load_config(config_path), [0], tmp_path / "a", progress=False)

    a = torch.load(tmp_path / "a" / "stage0" / "train_state.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "stage0" / "train_state.pt", weights_only=True)
    assert a["step"] == b["step"] == 5 and a["epoch"] == b["epoch"] == 1
    assert a["scheduler"] == b["scheduler"] and a["scheduler"]["_last_lr"] == [5e-5]
    for part in ("model",):
        for key, value in a[part].items():
            assert torch.allclose(value.float(), b[part][key].float(), atol=1e-6), key
    for key, value in a["extra"]["decoder"].items():
        assert torch.allclose(value, b["extra"]["decoder"][key], atol=1e-6), key
    assert torch.equal(a["rng"][0]["loop"], b["rng"][0]["loop"])
    loss_a = [r["loss"] for r in read_log(tmp_path / "a" / "stage0" / "log.csv")]
    loss_b = [r["loss"] for r in read_log(tmp_path / "b" / "stage0" / "log.csv")]
    assert loss_a == loss_b and len(loss_a) == 6  # step-0 baseline + 5 steps, none duplicated


def test_two_process_gloo_ddp_via_torchrun(tmp_path, tiny_checkpoint):
    config_path = write_config(tmp_path / "c.yaml", model={"init": str(tiny_checkpoint)},
                               train={"steps": 3})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    torchrun = Path(PYTHON).with_name("torchrun")
    result = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port",
         str(port), "-m", "s2r_depth_ros.cli", "train", "--config", str(config_path),
         "--stage", "2", "--out", str(tmp_path / "run"), "--quiet"],
        env=child_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("stage 2: 3 steps") == 1  # only rank 0 reports
    state = torch.load(tmp_path / "run" / "stage2" / "train_state.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    # 16 samples / 2 ranks / batch 2 = 4 batches per rank and epoch: 3 steps stay in epoch 0.
    assert state["epoch"] == 0 and state["batch_in_epoch"] == 3
    model = load_checkpoint(tmp_path / "run" / "model.pt")
    assert model.config.provenance["stages"]["2"]["world_size"] == 2
    assert all(torch.isfinite(v).all() for v in model.state_dict().values()
               if v.is_floating_point())


def poison_weights_after_step(step: int):
    """A step callback that makes every weight NaN after ``step``: the next loss is NaN."""
    def callback(run) -> None:
        if run.step == step:
            with torch.no_grad():
                for parameter in run.model.parameters():
                    parameter.fill_(math.nan)
    return callback


def test_nan_loss_stops_cleanly_and_keeps_last_good_checkpoint(tmp_path, tiny_checkpoint,
                                                               capsys):
    config_path = write_config(tmp_path / "c.yaml", model={"init": str(tiny_checkpoint)},
                               train={"steps": 6})
    with pytest.raises(TrainingDiverged) as raised:  # the library raises a typed error
        train(load_config(config_path), [1], tmp_path / "run", progress=False,
              step_callbacks=[poison_weights_after_step(2)])
    message = str(raised.value)
    assert "loss is not finite" in message and "step 3" in message and "(step 2)" in message
    state = torch.load(tmp_path / "run" / "stage1" / "train_state.pt", weights_only=True)
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (tmp_path / "run" / "stage1" / "model.pt").exists()
    # A run that really diverges (an absurd learning rate) ends the CLI with one line.
    wild = write_config(tmp_path / "wild.yaml", model={"init": str(tiny_checkpoint)},
                        train={"steps": 6, "lr": 1.0e30})
    status = cli.main(["train", "--config", str(wild), "--stage", "1", "--out",
                       str(tmp_path / "wild"), "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and "loss is not finite" in lines[-1]


def test_broken_and_poisoned_samples_are_skipped_and_counted(tmp_path, tiny_checkpoint):
    config = load_config(write_config(
        tmp_path / "c.yaml", model={"init": str(tiny_checkpoint)}, data={"length": 8},
        train={"steps": 2, "batch_size": 4}, debug={"broken_indices": [1, 4]}))
    dataset = Poisoned(SyntheticScenes("outdoor", length=8, height=96, width=128), poisoned=[6])
    # 8 samples, batch 4, 2 steps: one epoch, every index drawn once, three of them bad.
    results = train(config, [1], tmp_path / "run", dataset=dataset,
                    val_dataset=SyntheticScenes("outdoor", 2, 96, 128, seed=9), progress=False)
    assert results[0].skipped_samples == 3 and results[0].steps == 2
    assert read_log(tmp_path / "run" / "stage1" / "log.csv")[-1]["skipped"] == "3"
    model = load_checkpoint(results[0].model_path)
    assert model.config.provenance["stages"]["1"]["skipped_samples"] == 3


def test_cli_trains_all_stages_into_a_model_predict_loads(tmp_path):
    config_path = write_config(tmp_path / "c.yaml", train={"steps": 2, "preview_every": 2})
    assert cli.main(["train", "--config", str(config_path), "--stage", "all", "--out",
                     str(tmp_path / "run"), "--quiet"]) == 0
    for stage in range(3):
        assert (tmp_path / "run" / f"stage{stage}" / "previews" / "step_0000002.png").is_file()
    estimator = open_estimator(tmp_path / "run" / "model.pt", threads=1)
    provenance = estimator.config.provenance
    assert set(provenance["stages"]) == {"0", "1", "2"}
    assert provenance["config_file"] == str(config_path.resolve()) and provenance["seed"] == 0
    assert provenance["dataset"].startswith("SyntheticScenes(domain=outdoor, length=16")
    depth = estimator.predict(SyntheticScenes("outdoor", length=1, height=60, width=80)[0].rgb)
    assert depth.shape == (60, 80) and np.isfinite(depth).all() and (depth > 0).all()
    # Resuming a finished run does nothing and succeeds.
    before = (tmp_path / "run" / "model.pt").stat().st_mtime_ns
    time.sleep(0.01)
    assert cli.main(["train", "--config", str(config_path), "--stage", "all", "--out",
                     str(tmp_path / "run"), "--resume", "--quiet"]) == 0
    assert (tmp_path / "run" / "model.pt").stat().st_mtime_ns == before


def test_camera_aware_bf16_run_snapshots_a_model_that_uses_intrinsics(tmp_path):
    """bf16 autocast, canonical targets and random windows train; a snapshot of the run in
    progress is a complete model that scales its depth by the camera's focal length."""
    config_path = write_config(
        tmp_path / "c.yaml", model={"canonical_focal": 60.0},
        augment={"crop_scale": [0.6, 1.0]},
        data={"height": 72, "width": 160, "cache_dir": str(tmp_path / "cache")},
        train={"steps": 2, "precision": "bf16", "checkpoint_every": 1})
    out = tmp_path / "run"
    assert cli.main(["train", "--config", str(config_path), "--stage", "0", "--out", str(out),
                     "--quiet"]) == 0
    # The rendered frames were kept in the configured cache, as the renderer wrote them.
    cached = sorted((tmp_path / "cache").glob("outdoor_72x160_s*/*.npz"))
    assert cached and len(cached) <= 16
    assert cli.main(["train", "--snapshot", str(tmp_path / "snap.pt"), "--out",
                     str(out)]) == 0
    estimator = open_estimator(tmp_path / "snap.pt", threads=1)
    assert estimator.config.canonical_focal == 60.0
    assert estimator.config.provenance["source"] == "training snapshot"
    rgb = SyntheticScenes("outdoor", length=1, height=60, width=80)[0].rgb
    cfg = estimator.config
    # A camera whose focal at the network's size is twice the canonical one: 2x the depth.
    long_lens = Intrinsics(120.0 * 80 / cfg.input_width, 120.0 * 60 / cfg.input_height,
                           40.0, 30.0, 80, 60)
    assert np.allclose(estimator.predict(rgb, intrinsics=long_lens),
                       2.0 * estimator.predict(rgb), rtol=1e-5)
    assert cli.main(["train", "--snapshot", str(tmp_path / "x.pt"), "--out",
                     str(tmp_path / "none")]) == 2
    with pytest.raises(ValueError, match="precision"):
        load_config(write_config(tmp_path / "bad.yaml", train={"precision": "fp8"}))


def test_canonical_targets_give_one_depth_for_two_focal_lengths():
    """A scene seen through two lenses maps to one canonical depth at the same image size.

    Cropping the centre half of an image doubles the focal length at the network's size;
    the true depth is the same, so the canonical target must halve: the network then sees
    objects at one apparent size with one target, whatever the lens.
    """
    from s2r_depth_ros.training.augment import aspect_window, canonical_depth

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (96, 256, 3), dtype=np.uint8)
    depth = np.full((96, 256), 20.0, np.float32)
    depth[:10] = 80.0  # sky stays at the cap
    depth[-5:, :5] = 0.0  # invalid stays invalid
    intrinsics = (200.0, 200.0, 127.5, 47.5)
    full = joint_augment(rgb, depth, 48, 128, 80.0, None,
                         AugmentConfig(crop_scale=(1.0, 1.0)), intrinsics, 50.0)
    half = joint_augment(rgb, depth, 48, 128, 80.0, None,
                         AugmentConfig(crop_scale=(0.5, 0.5)), intrinsics, 50.0)

    def metres(item):
        return ((item["depth"][0] + 1) / 2 * 80.0).numpy()

    # Full image: f at 128 wide = 100 px -> 20 m * 50 / 100 = 10 m; the centre half: 5 m.
    assert np.allclose(metres(full)[30:40, 20:100], 10.0, atol=1e-3)
    assert np.allclose(metres(half)[30:40, 20:100], 5.0, atol=1e-3)
    assert np.allclose(metres(full)[:3], 80.0, atol=1e-3)
    assert not full["valid"][0, -1, 0]
    assert aspect_window(96, 256, 128 / 48, 0.5, None) == (24, 64, 48, 128)
    assert canonical_depth(np.array([10.0, 80.0, 0.0], np.float32), 100.0, 50.0,
                           80.0).tolist() == [5.0, 80.0, 0.0]


def test_aspect_windows_are_squashed_with_the_canonical_depth_of_sqrt_fx_fy():
    """augment.aspect_range: a full-height window of another aspect, squashed to the network
    input as inference squashes a 4:3 camera; the canonical target uses sqrt(fx * fy) of the
    squashed window, the focal lengths inference uses for that camera."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (96, 256, 3), dtype=np.uint8)
    depth = np.full((96, 256), 20.0, np.float32)
    intrinsics = (200.0, 200.0, 127.5, 47.5)
    config = AugmentConfig(flip=False, rotate=False, color=False, aspect_range=(4 / 3, 4 / 3))
    item = joint_augment(rgb, depth, 48, 128, 80.0, np.random.default_rng(1), config,
                         intrinsics, 50.0)
    assert item["image"].shape == (3, 48, 128)
    # The 96x128 window at 48x128: fx 200, fy 100 -> 20 m * 50 / sqrt(200 * 100).
    metres = ((item["depth"][0] + 1) / 2 * 80.0).numpy()
    assert np.allclose(metres, 20.0 * 50.0 / np.sqrt(200.0 * 100.0), atol=1e-3)
    # Evaluation (no rng) sees the whole image: f 100 at 128 wide -> 10 m.
    whole = joint_augment(rgb, depth, 48, 128, 80.0, None, config, intrinsics, 50.0)
    assert np.allclose(((whole["depth"][0] + 1) / 2 * 80.0).numpy(), 10.0, atol=1e-3)
    # aspect_p 0: every training image whole, as without aspect_range.
    never = AugmentConfig(flip=False, rotate=False, color=False, aspect_range=(4 / 3, 4 / 3),
                          aspect_p=0.0)
    item = joint_augment(rgb, depth, 48, 128, 80.0, np.random.default_rng(1), never,
                         intrinsics, 50.0)
    assert np.allclose(((item["depth"][0] + 1) / 2 * 80.0).numpy(), 10.0, atol=1e-3)
    with pytest.raises(ValueError, match="not both"):
        AugmentConfig(crop_scale=(0.5, 1.0), aspect_range=(1.0, 2.0))
    with pytest.raises(ValueError, match="aspect_range"):
        AugmentConfig(aspect_range=(2.0, 1.0))


def test_each_batch_runs_at_its_own_size_on_an_unsquashed_window_of_its_aspect():
    """augment.input_scale / input_aspects: every batch of an epoch gets a size drawn from
    (seed, epoch, batch) alone; a sample at a 4:3 size is the largest 4:3 window, resized
    without squashing, and its canonical target uses the focal length at that size."""
    from s2r_depth_ros.training.dataset import epoch_input_sizes

    config = AugmentConfig(flip=False, rotate=False, color=False, input_scale=(0.8, 1.25),
                           input_aspects=(1.0, 3.4))
    sizes = epoch_input_sizes(7, 0, 40, (128, 416), config)
    assert sizes == epoch_input_sizes(7, 0, 40, (128, 416), config)
    assert sizes != epoch_input_sizes(7, 1, 40, (128, 416), config)
    assert len(set(sizes)) > 10
    for height, width in sizes:
        assert height % 16 == 0 and width % 16 == 0
        assert 0.8 ** 2 * 0.8 < height * width / (128 * 416) < 1.25 ** 2 * 1.2
        assert 0.9 < width / height < 3.7

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (96, 256, 3), dtype=np.uint8)
    depth = np.full((96, 256), 20.0, np.float32)
    intrinsics = (200.0, 200.0, 127.5, 47.5)
    item = joint_augment(rgb, depth, 48, 64, 80.0, np.random.default_rng(1), config,
                         intrinsics, 50.0)
    assert item["image"].shape == (3, 48, 64)
    # The 96x128 window at 48x64: fx = fy = 100 -> 20 m * 50 / 100.
    assert np.allclose(((item["depth"][0] + 1) / 2 * 80.0).numpy(), 10.0, atol=1e-3)
    with pytest.raises(ValueError, match="input_aspects"):
        AugmentConfig(input_aspects=(1.0, 2.0), aspect_range=(1.0, 2.0))
    with pytest.raises(ValueError, match="input_scale"):
        AugmentConfig(input_scale=(1.5, 0.5))


def test_training_at_many_sizes_resumes_exactly_and_is_recorded(tmp_path, tiny_checkpoint):
    """A run with random batch sizes stopped and resumed ends with the weights of one that
    ran straight through, and the model records the scales and aspects it saw (the
    estimator then keeps a camera's aspect and takes its focal length at the run size)."""
    def config(name: str, steps: int):
        return load_config(write_config(
            tmp_path / f"{name}.yaml",
            model={"init": str(tiny_checkpoint), "canonical_focal": 100.0},
            augment={"input_scale": [0.8, 1.25], "input_aspects": [1.0, 2.0]},
            data={"length": 8, "val_length": 0},
            train={"steps": steps, "checkpoint_every": 1, "precision": "fp32"}))

    train(config("straight", 3), [2], tmp_path / "straight", progress=False)
    train(config("part", 2), [2], tmp_path / "resumed", progress=False)
    train(config("rest", 3), [2], tmp_path / "resumed", resume=True, progress=False)
    straight = load_checkpoint(tmp_path / "straight" / "stage2" / "model.pt")
    resumed = load_checkpoint(tmp_path / "resumed" / "stage2" / "model.pt")
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert straight.config.input_scale_range == (0.8, 1.25)
    assert straight.config.aspect_range == (1.0, 2.0)


@pytest.mark.parametrize("fresh", [True, False])
def test_stage2_fine_tunes_the_loaded_depth_net_or_starts_a_fresh_one(tmp_path, tiny_checkpoint,
                                                                       fresh):
    """The reference starts stage 2's DepthNet afresh; fresh_depth_net false keeps the
    loaded model's (fine-tuning); canonical_focal carries the model into that space and
    max_depth to another range (outdoor weights fine-tuned indoors)."""
    config = load_config(write_config(
        tmp_path / "c.yaml", model={"init": str(tiny_checkpoint), "canonical_focal": 90.0,
                                    "max_depth": 12.0},
        data={"length": 8, "val_length": 0},
        train={"steps": 1, "lr": 1e-12, "checkpoint_every": 1, "precision": "fp32"},
        stage2={"fresh_depth_net": fresh}))
    train(config, [2], tmp_path / "run", progress=False)
    before = load_checkpoint(tiny_checkpoint)
    after = load_checkpoint(tmp_path / "run" / "stage2" / "model.pt")
    assert after.config.canonical_focal == 90.0
    assert before.config.max_depth != 12.0 and after.config.max_depth == 12.0
    # Weights only: BatchNorm's running statistics move with any forward pass in training.
    same = [torch.allclose(a, b, atol=1e-6) for a, b in zip(
        before.depth_net.parameters(), after.depth_net.parameters())]
    assert all(same) != fresh


def test_a_model_records_the_aspects_it_was_trained_on(tmp_path, tiny_checkpoint):
    """Windows of other aspects (augment.aspect_range) go into the model's aspect_range,
    joined with any it had (the estimator then keeps a camera's aspect for it); a run
    without them keeps the model's."""
    def fine_tune(init, name: str, **augment):
        config = load_config(write_config(
            tmp_path / f"{name}.yaml", model={"init": str(init)}, augment=augment,
            data={"length": 8, "val_length": 0},
            train={"steps": 1, "lr": 1e-12, "checkpoint_every": 1, "precision": "fp32"}))
        train(config, [2], tmp_path / name, progress=False)
        return tmp_path / name / "stage2" / "model.pt"

    assert load_checkpoint(tiny_checkpoint).config.aspect_range is None
    first = fine_tune(tiny_checkpoint, "first", aspect_range=[1.5, 2.5], aspect_p=0.5)
    assert load_checkpoint(first).config.aspect_range == (1.5, 2.5)
    second = fine_tune(first, "second", aspect_range=[1.2, 2.0])
    assert load_checkpoint(second).config.aspect_range == (1.2, 2.5)
    assert load_checkpoint(fine_tune(second, "whole")).config.aspect_range == (1.2, 2.5)
    never = fine_tune(tiny_checkpoint, "never", aspect_range=[1.5, 2.5], aspect_p=0.0)
    assert load_checkpoint(never).config.aspect_range is None


@pytest.mark.parametrize("parts", ["none", "decoder", "all"])
def test_stage2_trains_the_structure_branch_only_as_asked(tmp_path, tiny_checkpoint, parts):
    """stage2.train_structure: none keeps the structure branch as loaded (the reference),
    decoder trains its decoder as well, all its encoder too."""
    config = load_config(write_config(
        tmp_path / "c.yaml", model={"init": str(tiny_checkpoint)},
        data={"length": 8, "val_length": 0},
        train={"steps": 2, "lr": 1e-2, "checkpoint_every": 2, "precision": "fp32"},
        stage2={"fresh_depth_net": False, "train_structure": parts}))
    train(config, [2], tmp_path / "run", progress=False)
    before = load_checkpoint(tiny_checkpoint)
    after = load_checkpoint(tmp_path / "run" / "stage2" / "model.pt")

    def moved(name: str) -> bool:
        return not all(torch.equal(a, b) for a, b in zip(
            getattr(before, name).parameters(), getattr(after, name).parameters()))
    assert moved("struct_decoder") == (parts != "none")
    assert moved("struct_encoder") == (parts == "all")
    assert moved("attention") and moved("depth_net")
    with pytest.raises(ValueError, match="train_structure"):
        load_config(write_config(tmp_path / "bad.yaml", stage2={"train_structure": True}))


def test_real_frames_are_scored_during_stage2_and_a_resume_keeps_one_row_per_step(
        tmp_path, tiny_checkpoint):
    """real_frames: stage 2's model is scored on real RGB-D frames every ``every`` steps and
    at the end, with the numbers the evaluation protocol gives that model; a resumed run
    drops rows logged after its checkpoint instead of repeating them."""
    section = {"manifest": str(REAL_RGBD / "manifest.json"), "group": "outdoor", "every": 2,
               "limit": 2}
    config_path = write_config(
        tmp_path / "c.yaml", model={"init": str(tiny_checkpoint)},
        data={"length": 8, "val_length": 0},
        train={"steps": 3, "checkpoint_every": 3, "precision": "fp32"}, real_frames=section)
    run = tmp_path / "run"
    train(load_config(config_path), [2], run, progress=False)
    log = run / "stage2" / "real_frames.csv"
    rows = read_log(log)
    assert [(r["step"], r["frames"]) for r in rows] == [("2", "2"), ("3", "2")]
    validation = RealFrameValidation.from_config(load_config(config_path)["real_frames"])
    final = validation.metrics(DepthEstimator.from_checkpoint(run / "stage2" / "model.pt",
                                                              device="cpu"))
    for name in ("abs_rel", "delta1", "raw_abs_rel", "raw_delta1"):
        assert float(rows[-1][name]) == pytest.approx(final[name], rel=1e-4)
    assert 0 < final["abs_rel"] < 2 and 0 <= final["delta1"] <= 1
    # A row written after the last checkpoint by a run that then died.
    with log.open("a") as handle:
        handle.write("4,99,1,0,1,0\n")
    config = load_config(config_path, {"train": {"steps": 5}})
    train(config, [2], run, resume=True, progress=False)
    assert [(r["step"], r["frames"]) for r in read_log(log)] == [
        ("2", "2"), ("3", "2"), ("4", "2"), ("5", "2")]


def test_real_frames_say_when_the_clamp_flatters_a_longer_range_model(tmp_path, capsys):
    """The street model validated on rooms: the indoor protocol clamps its too-far rooms to
    10 m before median scaling, which flatters the curve; the trainer says so once."""
    from s2r_depth_ros.weights import shipped_model
    section = {"manifest": str(REAL_RGBD / "manifest.json"), "group": "indoor", "every": 1,
               "limit": 2}
    # Its range stretched to 200 m: a longer-range model that puts these rooms about 5x too
    # far whatever the shipped weights do on them at this test's small input (the street
    # models at 96x128 put them only 2-4x too far, where the clamp may barely flatten them).
    config = load_config(write_config(
        tmp_path / "c.yaml", model={"init": str(shipped_model("outdoor")), "max_depth": 200.0},
        data={"length": 4, "val_length": 0}, stage2={"fresh_depth_net": False},
        train={"steps": 2, "lr": 1e-7, "precision": "fp32"}, real_frames=section))
    train(config, [2], tmp_path / "run", progress=False)
    err = capsys.readouterr().err
    assert err.count("flatters the scaled score") == 1, err
    assert "real_frames (indoor) at step 1" in err
    assert len(read_log(tmp_path / "run" / "stage2" / "real_frames.csv")) == 2


def test_fine_tuning_widens_the_structure_map_of_an_init_model(tmp_path, tiny_checkpoint):
    """model.structure_channels on an init model: stage 2 starts from its exact depth with a
    wider structure map, trains it, and delivers a model predict loads (the preview shows the
    first structure channel, not three channels as an image)."""
    config = load_config(write_config(
        tmp_path / "c.yaml", model={"init": str(tiny_checkpoint), "structure_channels": 3},
        data={"length": 8, "val_length": 2}, stage2={"fresh_depth_net": False},
        train={"steps": 2, "precision": "fp32", "preview_every": 1, "val_every": 1}))
    train(config, [2], tmp_path / "run", progress=False)
    rows = read_log(tmp_path / "run" / "stage2" / "log.csv")
    narrow = load_config(write_config(
        tmp_path / "n.yaml", model={"init": str(tiny_checkpoint)},
        data={"length": 8, "val_length": 2}, stage2={"fresh_depth_net": False},
        train={"steps": 1, "precision": "fp32", "val_every": 1}))
    train(narrow, [2], tmp_path / "narrow", progress=False)
    # Held-out loss before the first step: the same model, so the same number.
    assert rows[0]["held_out"] == read_log(tmp_path / "narrow" / "stage2" / "log.csv")[0][
        "held_out"]
    model = load_checkpoint(tmp_path / "run" / "stage2" / "model.pt")
    assert model.config.structure_channels == 3
    assert list((tmp_path / "run" / "stage2" / "previews").glob("*.png"))
    estimator = DepthEstimator.from_checkpoint(tmp_path / "run" / "stage2" / "model.pt",
                                               device="cpu")
    depth = estimator.predict(SyntheticScenes("outdoor", length=1, height=60, width=80)[0].rgb)
    assert depth.shape == (60, 80) and np.isfinite(depth).all()


def test_fine_tuning_with_live_depth_skips_starts_from_the_init_model(tmp_path,
                                                                     tiny_checkpoint):
    """model.depth_skip_weight on an init model re-parametrises DP: the held-out loss before
    the first step is the init model's, and the delivered model keeps the new scale."""
    runs = {}
    for name, model in (("live", {"depth_skip_weight": 1.0}), ("paper", {})):
        config = load_config(write_config(
            tmp_path / f"{name}.yaml", model={"init": str(tiny_checkpoint), **model},
            data={"length": 8, "val_length": 2}, stage2={"fresh_depth_net": False},
            train={"steps": 1, "precision": "fp32", "val_every": 1}))
        train(config, [2], tmp_path / name, progress=False)
        runs[name] = float(read_log(tmp_path / name / "stage2" / "log.csv")[0]["held_out"])
    assert runs["live"] == pytest.approx(runs["paper"], rel=1e-4)
    model = load_checkpoint(tmp_path / "live" / "stage2" / "model.pt")
    assert model.config.depth_skip_weight == 1.0


def test_real_frames_settings_are_checked(tmp_path):
    for section, message in (({"group": "street"}, "group"), ({"every": 0}, "every"),
                             ({"manifest": "m.json", "rgb_dir": "a", "depth_dir": "b"},
                              "not both"), ({"rgb_dir": "a"}, "go together")):
        with pytest.raises(ValueError, match=message):
            load_config(write_config(tmp_path / "bad.yaml", real_frames=section))


@pytest.mark.parametrize("model", [{"max_depth": 0}, {"canonical_focal": "250"},
                                   {"structure_channels": 0}, {"structure_channels": 2.5},
                                   {"depth_skip_weight": 0}, {"depth_skip_weight": True}])
def test_model_overrides_must_be_positive_numbers(tmp_path, model):
    with pytest.raises(ValueError, match=next(iter(model))):
        load_config(write_config(tmp_path / "bad.yaml", model=model))


def test_channels_last_is_refused_where_onednn_corrupts_memory():
    """A strided 1x1 convolution with < 16 input channels (the lite DSA) crashes oneDNN's
    NHWC backward pass on CPUs; the trainer refuses it with the reason, the paper
    network passes."""
    from s2r_depth_ros.model import S2RDepthNet, preset
    from s2r_depth_ros.training import stage_settings
    from s2r_depth_ros.training.stages import make_task
    from s2r_depth_ros.training.trainer import check_channels_last
    config = load_config()
    lite = [make_task(stage, S2RDepthNet(preset("lite")), stage_settings(config, stage),
                      torch.Generator().manual_seed(0)) for stage in (1, 2)]
    check_channels_last(lite[0])  # stage 1 leaves the DSA frozen: no weight gradient there
    with pytest.raises(ValueError, match="oneDNN issue 6035"):
        check_channels_last(lite[1])
    check_channels_last(S2RDepthNet(preset("paper")))


def test_weight_average_follows_its_formula(tmp_path):
    """WeightAverage: each update moves the average by (1 - decay) towards the weights, with
    the decay ramped over the first updates; integer buffers are copied, not averaged."""
    from s2r_depth_ros.training.ema import WeightAverage
    live = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.BatchNorm1d(1))
    with torch.no_grad():
        live[0].weight.fill_(0.0)
    average = WeightAverage(live, decay=0.9)
    expected = 0.0
    for n, value in enumerate([1.0, 2.0, 3.0], start=1):
        with torch.no_grad():
            live[0].weight.fill_(value)
            live[1].num_batches_tracked.fill_(n)
        average.update(live)
        decay = min(0.9, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay) * value
    assert torch.allclose(average.model[0].weight, torch.full((1, 2), expected))
    assert int(average.model[1].num_batches_tracked) == 3
    assert not any(p.requires_grad for p in average.model.parameters())
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(live, decay=1.0)
    with pytest.raises(ValueError, match="ema_decay"):
        load_config(write_config(tmp_path / "bad.yaml", train={"ema_decay": 1.5}))


def test_ema_run_delivers_the_average_and_resumes_it_exactly(tmp_path, tiny_checkpoint):
    """train.ema_decay: stage 2's model.pt and a snapshot are the weight average (not the
    last step's weights), and a run stopped and resumed at a checkpoint ends with the same
    average as one that ran straight through."""
    config_path = write_config(
        tmp_path / "c.yaml", model={"init": str(tiny_checkpoint)},
        data={"length": 8, "val_length": 0},
        train={"steps": 4, "checkpoint_every": 2, "precision": "fp32", "ema_decay": 0.5})
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    train(load_config(config_path), [2], straight, progress=False)
    train(load_config(config_path, {"train": {"steps": 2}}), [2], stopped, progress=False)
    train(load_config(config_path), [2], stopped, resume=True, progress=False)

    state = torch.load(straight / "stage2" / "train_state.pt", weights_only=True)
    assert state["ema"]["updates"] == 4
    delivered = load_checkpoint(straight / "model.pt").state_dict()
    changed = [k for k, v in state["model"].items()
               if v.is_floating_point() and not torch.equal(v, state["ema"]["model"][k])]
    assert changed  # the live weights moved away from their average
    for name, value in state["ema"]["model"].items():
        assert torch.equal(delivered[name], value), name
    resumed = load_checkpoint(stopped / "model.pt").state_dict()
    for name, value in delivered.items():
        assert torch.allclose(resumed[name], value, atol=1e-6), name
    assert cli.main(["train", "--snapshot", str(tmp_path / "snap.pt"), "--out",
                     str(straight)]) == 0
    snap = load_checkpoint(tmp_path / "snap.pt")
    assert snap.config.provenance["weights"] == "average"
    for name, value in state["ema"]["model"].items():
        assert torch.equal(snap.state_dict()[name], value), name
