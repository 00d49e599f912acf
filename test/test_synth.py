"""The procedural renderer: determinism, metric depth consistent with the geometry, CLI output."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from s2r_depth_ros.cli import main
from s2r_depth_ros.data import synth
from s2r_depth_ros.data.datasets import VKitti1Dataset
from s2r_depth_ros.data.raycast import KIND_GROUND, Camera, Material, Rays, Scene, cast, render
from s2r_depth_ros.data.sample import RGBDSample
from s2r_depth_ros.data.synth import SyntheticScenes, frame_rng, render_scene

H, W = 64, 192  # small frames keep the tests fast


def test_same_seed_and_index_give_the_same_frame():
    first = SyntheticScenes("outdoor", length=4, height=H, width=W, seed=7)
    second = SyntheticScenes("outdoor", length=4, height=H, width=W, seed=7)
    a, b = first[3], second[3]
    second[1]  # other frames rendered in between change nothing
    c = second[3]
    for x in (b, c):
        assert np.array_equal(a.rgb, x.rgb) and np.array_equal(a.depth, x.depth)
        assert (a.fx, a.fy, a.cx, a.cy) == (x.fx, x.fy, x.cx, x.cy)
    assert a.name == "synth_outdoor_s7_000003"
    other_seed = SyntheticScenes("outdoor", length=4, height=H, width=W, seed=8)[3]
    other_index = first[2]
    for x in (other_seed, other_index):
        assert not np.array_equal(a.depth, x.depth)
        assert not np.array_equal(a.rgb, x.rgb)
    direct = render_scene("outdoor", H, W, frame_rng(7, 3))
    assert np.array_equal(direct.rgb, a.rgb)


@pytest.mark.parametrize("domain,max_depth", [("outdoor", 80.0), ("indoor", 10.0)])
def test_depth_range_and_types(domain, max_depth):
    scenes = SyntheticScenes(domain, length=6, height=H, width=W, seed=1)
    assert len(scenes) == 6 and scenes.max_depth == max_depth
    for i in range(len(scenes)):
        sample = scenes[i]
        assert isinstance(sample, RGBDSample)
        assert sample.rgb.shape == (H, W, 3) and sample.rgb.dtype == np.uint8
        assert sample.depth.shape == (H, W) and sample.depth.dtype == np.float32
        assert np.isfinite(sample.depth).all()
        assert sample.depth.min() > 0.04 and sample.depth.max() <= max_depth
        assert sample.rgb.std() > 5  # not a flat image
        assert sample.fx == sample.fy and sample.cx == (W - 1) / 2 and sample.cy == (H - 1) / 2
        hfov = math.degrees(2 * math.atan(W / 2 / sample.fx))
        assert 54 < hfov < 96
    with pytest.raises(IndexError):
        scenes[6]


@pytest.mark.parametrize("yaw", [0.0, 0.05])
def test_raycast_depth_of_box_sphere_ground_is_exact(yaw):
    height, width = 63, 191  # odd sizes: a pixel sits exactly on the optical axis
    scene = Scene(max_depth=80.0)
    grey = scene.material(Material(colour=(0.5, 0.5, 0.5)))
    scene.ground(grey)
    scene.box((-10, 0, 30), (10, 5, 31), grey)  # a wall behind ...
    scene.box((-1, 0, 10), (1, 2, 12), grey)  # ... a box straight ahead
    scene.sphere((3, 1.5, 6), 0.5, grey)
    camera = Camera(position=(0.0, 1.5, 0.0), pitch=0.0, yaw=yaw, fx=100.0, fy=100.0,
                    cx=(width - 1) / 2, cy=(height - 1) / 2, height=height, width=width)
    rgb, depth, sky = render(scene, camera)
    row, col = height // 2, width // 2
    # The optical axis meets the box's front face z = 10; depth is z-depth along that axis.
    assert depth[row, col] == pytest.approx(10 / math.cos(yaw), rel=1e-5)
    if yaw == 0.0:
        # 20 pixels right: x = 0.2 z misses the box (x <= 1 at z = 10), hits the wall at 30.
        assert depth[row, col + 20] == pytest.approx(30.0, rel=1e-5)
        # The ray through the sphere's centre meets it at |c| - r, z-depth scaled by z/|c|.
        centre = np.array([3, 0, 6.0])
        u = col + round(100 * 3 / 6)
        expected = (np.linalg.norm(centre) - 0.5) * 6 / np.linalg.norm(centre)
        assert depth[row, u] == pytest.approx(expected, rel=1e-4)
    # Bottom row: the ground at camera height / tan(angle below the horizon).
    assert depth[-1, col] == pytest.approx(1.5 / (row / 100.0), rel=1e-5)
    assert sky[0, col] and depth[0, col] == 80.0 and not sky[-1].any()
    assert rgb.dtype == np.uint8 and rgb.shape == (height, width, 3)


def test_outdoor_frames_have_sky_at_max_depth_and_near_road():
    sky_fractions, near = [], []
    for i in range(4):
        sample, sky = synth.render_scene_with_sky("outdoor", H, W, frame_rng(2, i))
        assert np.all(sample.depth[sky] == 80.0)
        sky_fractions.append(sky.mean())
        near.append(sample.depth[-1].min())
        # Sky only in the upper part of the image: never in the bottom row.
        assert not sky[-1].any()
    assert max(sky_fractions) > 0.02
    assert max(near) < 15.0


def test_road_below_the_horizon_is_at_camera_height_over_tan_of_the_angle():
    checked = 0
    for i in range(6):
        scene, camera = synth._outdoor_scene(frame_rng(3, i), H, W)
        height = camera.position[1]
        assert 1.5 <= height <= 1.8
        _, index, _ = cast(scene, camera, Rays(camera))
        sample = render_scene("outdoor", H, W, frame_rng(3, i))
        col = W // 2
        for row in (H - 1, H - 8, H - 16):
            number = index[row, col] - 1
            if number < 0 or scene.primitives[number].kind != KIND_GROUND:
                continue  # a car or a pole is in the way
            # Angle below the horizon of this pixel's ray, and the ground point it meets.
            below = math.atan((row - camera.cy) / camera.fy) + camera.pitch
            ground_distance = height / math.tan(below)
            z_depth = ground_distance * math.cos(camera.pitch) + height * math.sin(camera.pitch)
            # (Yaw turns the centre-column ray about the vertical: its angle below the
            # horizon, and so this z-depth, do not change.)
            assert sample.depth[row, col] == pytest.approx(z_depth, rel=2e-3)
            checked += 1
    assert checked >= 6


def test_indoor_depth_is_bounded_by_the_room():
    for i in range(3):
        scene, camera = synth._indoor_scene(frame_rng(4, i), H, W)
        room = scene.primitives[0]
        diagonal = float(np.linalg.norm(room.hi - room.lo))
        sample = render_scene("indoor", H, W, frame_rng(4, i))
        assert sample.depth.max() <= min(diagonal, 10.0) + 1e-4
        assert 1.0 <= camera.position[1] <= 1.7


def test_bad_arguments():
    with pytest.raises(ValueError, match="domain"):
        SyntheticScenes("underwater")
    with pytest.raises(ValueError, match="too small"):
        render_scene("outdoor", 4, 4, np.random.default_rng(0))


def test_synth_cli_writes_vkitti_layout_read_back_within_1cm(tmp_path, capsys):
    out = tmp_path / "vk"
    assert main(["synth", "--domain", "outdoor", "--n", "3", "--out", str(out),
                 "--height", str(H), "--width", str(W), "--seed", "5", "--quiet"]) == 0
    for folder in ("vkitti_1.3.1_rgb", "vkitti_1.3.1_depthgt"):
        files = sorted((out / folder / "0005" / "synth-outdoor").iterdir())
        assert [f.name for f in files] == ["00000.png", "00001.png", "00002.png"]
    lines = (out / "train.txt").read_text().splitlines()
    assert lines[1] == "rgb/0005/synth-outdoor/00001.png depth/0005/synth-outdoor/00001.png"
    info = json.loads((out / "intrinsics.json").read_text())
    assert info["max_depth"] == 80.0 and len(info["frames"]) == 3
    loaded = VKitti1Dataset(out, "train.txt")
    rendered = SyntheticScenes("outdoor", length=3, height=H, width=W, seed=5)
    for i in range(3):
        a, b = loaded[i], rendered[i]
        assert np.array_equal(a.rgb, b.rgb)
        assert np.abs(a.depth - b.depth).max() <= 0.0051
        assert (a.fx, a.fy, a.cx, a.cy) == pytest.approx((b.fx, b.fy, b.cx, b.cy))
    assert main(["synth", "--n", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err


def test_synth_cli_indoor_sky_free(tmp_path):
    out = tmp_path / "rooms"
    assert main(["synth", "--domain", "indoor", "--n", "2", "--out", str(out), "--seed", "1",
                 "--height", "48", "--width", "64", "--quiet"]) == 0
    loaded = VKitti1Dataset(out, "train.txt")
    assert loaded.sky_depth == 10.0
    rendered = SyntheticScenes("indoor", length=2, height=48, width=64, seed=1)
    for i in range(2):
        assert np.abs(loaded[i].depth - rendered[i].depth).max() <= 0.0051
