"""`s2r-depth predict` on real frames, against the reference recipe, and on bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import REAL_RGBD, make_model
from s2r_depth_ros.inference import DepthEstimator, EstimatorOptions, colorize_depth
from s2r_depth_ros.inference.colorize import colour_bar, depth_limits
from s2r_depth_ros.model import save_official
from s2r_depth_ros.model.depth_net import OutputHead

COLOUR_BAR_HEIGHT = 34


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s2r_depth_ros.cli", *args],
                          capture_output=True, text=True, timeout=300)


def real_frames(manifest, dataset: str, count: int) -> list:
    return [REAL_RGBD / e["rgb"] for e in manifest if e["dataset"] == dataset][:count]


def test_predict_on_real_frames_writes_depth_at_input_resolution(tmp_path, tiny_checkpoint,
                                                                 real_manifest):
    frames = real_frames(real_manifest, "kitti_tiny_packnet", 2) + real_frames(
        real_manifest, "7scenes_tsdf_fusion_python", 1)
    result = run_cli("predict", *map(str, frames), "--model", str(tiny_checkpoint),
                     "--output", str(tmp_path), "--device", "cpu", "--quiet")
    assert result.returncode == 0, result.stderr
    for frame in frames:
        depth = np.load(tmp_path / f"{frame.stem}.npy")
        width, height = Image.open(frame).size
        assert depth.shape == (height, width) and depth.dtype == np.float32
        assert np.isfinite(depth).all()
        assert depth.min() > 0 and depth.max() <= 80.0
        png = np.asarray(Image.open(tmp_path / f"{frame.stem}.png"))
        assert png.shape == (height + COLOUR_BAR_HEIGHT, width, 3)  # depth above its scale


def test_predict_fast_resize_is_an_option_close_to_the_exact_path(tmp_path, tiny_checkpoint,
                                                                  real_manifest):
    frame = real_frames(real_manifest, "kitti_tiny_packnet", 1)[0]
    depths = {}
    for resize in ("exact", "fast"):
        result = run_cli("predict", str(frame), "--model", str(tiny_checkpoint), "--output",
                         str(tmp_path / resize), "--device", "cpu", "--resize", resize,
                         "--quiet")
        assert result.returncode == 0, result.stderr
        depths[resize] = np.load(tmp_path / resize / f"{frame.stem}.npy")
    difference = np.abs(depths["fast"] - depths["exact"])
    assert 0 < difference.max() and difference.mean() < 0.01


def reference_recipe(model, rgb: np.ndarray, max_depth: float) -> np.ndarray:
    """The original test.py steps, written out independently of the estimator."""
    cfg = model.config
    resized = Image.fromarray(rgb).resize((cfg.input_width, cfg.input_height), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(resized).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    x = (x - 0.5) / 0.5
    with torch.no_grad():
        code = model.struct_encoder(x)
        structure = model.struct_decoder(code)
        attention = model.attention(x)
        out = model.depth_net(attention * structure)[-1]
    out = F.interpolate(out, size=rgb.shape[:2], mode="bilinear", align_corners=True)
    return ((out + 1) / 2 * max_depth)[0, 0].numpy()


def test_official_weights_reproduce_reference_recipe(tmp_path, real_manifest):
    model = make_model("paper", 192, 640, seed=4)
    # Random weights put every frame at about 40 m (tanh near 0), where no deviation could
    # show; larger output heads spread this frame's depth over 2..80 m, as a trained model.
    with torch.no_grad():
        for head in (m for m in model.depth_net.modules() if isinstance(m, OutputHead)):
            for parameter in head.parameters():
                parameter.mul_(30.0)
    save_official(model, tmp_path, "vkitti")
    frame = real_frames(real_manifest, "kitti_tiny_packnet", 1)[0]
    rgb = np.asarray(Image.open(frame).convert("RGB"))
    expected = np.clip(reference_recipe(model, rgb, 80.0), 1e-3, 80)
    assert expected.max() - expected.min() > 60
    # The reference's own round-off: the same recipe on another thread count (which it does
    # not fix), as sums split across threads round differently.
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads > 1 else 2)
    try:
        own = np.abs(np.clip(reference_recipe(model, rgb, 80.0), 1e-3, 80) - expected)
    finally:
        torch.set_num_threads(threads)
    # Eager and the default back-end (auto: OpenVINO here) within that round-off: of its
    # order at the worst pixel and on average (bf16 anywhere would be metres off).
    for backend in ("eager", "auto"):
        estimator = DepthEstimator.from_official(tmp_path, "vkitti", device="cpu",
                                                 backend=backend)
        ours = estimator.predict(rgb)
        assert ours.shape == expected.shape
        difference = np.abs(ours - expected)
        print(f"{estimator.backend}: max {difference.max():.2e} mean {difference.mean():.2e}; "
              f"reference's own: max {own.max():.2e} mean {own.mean():.2e}")
        assert difference.max() <= max(4 * own.max(), 1e-4), estimator.backend
        assert difference.mean() <= max(4 * own.mean(), 1e-6), estimator.backend

    result = run_cli("predict", str(frame), "--official-dir", str(tmp_path), "--domain",
                     "vkitti", "--output", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stderr
    # The CLI runs backend auto too, from the same cached export; its process may get another
    # thread count (OMP_NUM_THREADS), so it agrees within the same round-off.
    cli_depth = np.load(tmp_path / "out" / f"{frame.stem}.npy")
    assert np.abs(cli_depth - ours).max() <= max(4 * own.max(), 1e-4)


def test_predict_skips_unreadable_images_but_processes_the_rest(tmp_path, tiny_checkpoint,
                                                                real_manifest):
    folder = tmp_path / "in"
    folder.mkdir()
    good = real_frames(real_manifest, "slambook2_rgbd", 1)[0]
    (folder / "good.png").write_bytes(good.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = run_cli("predict", str(folder), "--model", str(tiny_checkpoint), "--output",
                     str(tmp_path / "out"), "--quiet")
    assert result.returncode == 1
    assert "broken.png" in result.stderr
    assert (tmp_path / "out" / "good.npy").is_file()
    assert not (tmp_path / "out" / "broken.npy").exists()


@pytest.mark.parametrize("args, message", [
    (["missing.png"], "input not found"),
    (["{img}", "--model", "{bad}"], "cannot read checkpoint"),
    (["{img}", "--model", "{none}"], "no such file and no shipped model of that name"),
    (["{img}", "--model", "{text}"], "is not a PyTorch checkpoint"),
    (["{img}", "--model", "outdor"], "did you mean 'outdoor'? shipped models: outdoor, indoor"),
    (["{img}", "--model", "{folder}"], "is a directory; give a checkpoint file"),
    (["{img}", "--near", "5", "--far", "2"], "--near (5.0) must be below --far (2.0)"),
    (["{img}", "--device", "tpu"], "unknown device"),
])
def test_predict_errors_are_one_line(tmp_path, tiny_checkpoint, real_manifest, args, message):
    img = real_frames(real_manifest, "slambook2_rgbd", 1)[0]
    bad = tmp_path / "bad.pt"
    bad.write_bytes(tiny_checkpoint.read_bytes()[:1000])
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    subs = {"img": img, "bad": bad, "none": tmp_path / "none.pt", "text": text,
            "folder": tmp_path}
    args = [a.format(**subs) for a in args]
    if "--model" not in args:
        args += ["--model", str(tiny_checkpoint)]
    result = run_cli("predict", *args, "--output", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_colorize_marks_invalid_pixels_black():
    depth = np.array([[1.0, np.nan], [10.0, 0.0]], np.float32)
    image = colorize_depth(depth, colormap="turbo")
    assert image.shape == (2, 2, 3) and image.dtype == np.uint8
    assert (image[0, 1] == 0).all() and (image[1, 1] == 0).all()
    assert not (image[0, 0] == image[1, 0]).all()
    with pytest.raises(ValueError, match="colormap"):
        colorize_depth(depth, colormap="rainbow-unicorn")


def test_convert_official_writes_a_native_checkpoint_with_the_same_outputs(tmp_path):
    model = make_model("paper", 96, 128, seed=8)
    save_official(model, tmp_path / "official", "suncg")
    out = tmp_path / "converted.pt"
    result = run_cli("convert-official", str(tmp_path / "official"), "--domain", "suncg",
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    from s2r_depth_ros.model import load_checkpoint

    converted = load_checkpoint(out)
    assert converted.config.max_depth == 8.0
    assert converted.config.provenance["source"] == "official"
    x = torch.rand(1, 3, 96, 128) * 2 - 1
    with torch.no_grad():
        assert torch.equal(converted(x), model(x))
    missing = run_cli("convert-official", str(tmp_path), "--domain", "vkitti", "-o",
                      str(tmp_path / "x.pt"))
    assert missing.returncode == 2 and "checkpoint not found" in missing.stderr


def test_colorize_limits_are_robust_to_an_outlier():
    """One near outlier (a border pixel at 1 cm) used to stretch min..max so that the whole
    picture was one colour (colours are spaced in 1/depth)."""
    rng = np.random.default_rng(3)
    depth = rng.uniform(2.0, 6.0, (120, 160)).astype(np.float32)
    depth[0, 0] = 0.01
    robust = colorize_depth(depth)
    assert len(np.unique(robust.reshape(-1, 3), axis=0)) > 100
    old = colorize_depth(depth, percentiles=None)  # the plain min..max of before
    assert len(np.unique(old[1:].reshape(-1, 3), axis=0)) < 10
    lo, hi = depth_limits(depth)
    assert 2.0 <= lo < 2.2 and 5.8 < hi <= 6.0
    # Fixed limits: a depth at or beyond them takes the end colours.
    fixed = colorize_depth(np.array([[1.0, 3.0, 50.0]], np.float32), 1.0, 10.0)
    ends = colorize_depth(np.array([[1.0, 10.0]], np.float32), 1.0, 10.0)
    assert (fixed[0, 0] == ends[0, 0]).all() and (fixed[0, 2] == ends[0, 1]).all()
    assert depth_limits(np.full((4, 4), np.nan, np.float32)) is None


def test_colour_bar_runs_from_the_near_to_the_far_colour():
    bar = colour_bar(1.0, 10.0, 200)
    assert bar.shape == (COLOUR_BAR_HEIGHT, 200, 3) and bar.dtype == np.uint8
    ends = colorize_depth(np.array([[1.0, 10.0]], np.float32), 1.0, 10.0)
    assert (bar[0, 0] == ends[0, 0]).all() and (bar[0, -1] == ends[0, 1]).all()
    # Labels in black below the strip.
    assert (bar[COLOUR_BAR_HEIGHT // 2 + 2:] < 100).any()


def test_predict_pictures_show_input_and_limits_and_mirror_folders(tmp_path, tiny_checkpoint,
                                                                   real_manifest):
    frame = real_frames(real_manifest, "slambook2_rgbd", 1)[0]
    inputs = tmp_path / "in"
    for sub in ("left", "right"):
        (inputs / sub).mkdir(parents=True)
        (inputs / sub / "1.png").write_bytes(frame.read_bytes())
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "1.png").write_bytes(frame.read_bytes())
    out = tmp_path / "out"
    result = run_cli("predict", str(inputs), str(loose / "1.png"), str(frame), "--model",
                     str(tiny_checkpoint), "--output", str(out), "--with-input", "--near", "0.5",
                     "--far", "8", "--device", "cpu", "--quiet")
    assert result.returncode == 0, result.stderr
    # Folders are mirrored; two loose files with one name are renamed, and the user is told.
    assert (out / "left" / "1.npy").is_file() and (out / "right" / "1.npy").is_file()
    assert (out / "1.npy").is_file() and (out / "1_1.npy").is_file()
    notes = [line for line in result.stderr.splitlines() if "note:" in line]
    assert len(notes) == 1 and "written as 1_1" in notes[0] and str(frame) in notes[0]
    rgb = np.asarray(Image.open(frame).convert("RGB"))
    height, width = rgb.shape[:2]
    png = np.asarray(Image.open(out / "left" / "1.png").convert("RGB"))
    assert png.shape == (2 * height + COLOUR_BAR_HEIGHT, width, 3)
    assert np.array_equal(png[:height], rgb)  # the input above its depth
    depth = np.load(out / "left" / "1.npy")
    expected = colorize_depth(depth, 0.5, 8.0)[:, :, ::-1]
    assert np.array_equal(png[height:2 * height], expected)
    assert np.array_equal(png[2 * height:], colour_bar(0.5, 8.0, width)[:, :, ::-1])
    result = run_cli("predict", str(frame), "--model", str(tiny_checkpoint), "--output",
                     str(tmp_path / "plain"), "--no-colorbar", "--device", "cpu", "--quiet")
    assert result.returncode == 0, result.stderr
    assert np.asarray(Image.open(tmp_path / "plain" / "1.png")).shape == (height, width, 3)


def test_predict_intrinsics_change_a_camera_aware_models_metres_as_the_focal_length_says(
        tmp_path, real_manifest):
    """--intrinsics FX FY CX CY (pixels of the input image): a camera-aware model's metres
    follow sqrt(fx * fy) at the network's input size over its canonical focal length; without
    them the camera is taken to be the canonical one."""
    from s2r_depth_ros.model import save_checkpoint

    model = make_model(canonical_focal=100.0)
    checkpoint = save_checkpoint(model, tmp_path / "aware.pt",
                                 provenance={"source": "test fixture"})
    frame = real_frames(real_manifest, "kitti_tiny_packnet", 1)[0]
    width, height = Image.open(frame).size
    # The canonical camera (100 px at the 96x128 input) in the input image's pixels, and the
    # same camera with a lens twice as long and one half as long in x only.
    canonical = (100.0 * width / 128, 100.0 * height / 96)
    cameras = {"canonical": canonical, "long": (2 * canonical[0], 2 * canonical[1]),
               "wide_x": (canonical[0] / 2, canonical[1])}
    depth = {}
    for name, (fx, fy) in [*cameras.items(), ("none", (None, None))]:
        camera = [] if fx is None else ["--intrinsics", str(fx), str(fy), str(width / 2),
                                        str(height / 2)]
        result = run_cli("predict", str(frame), "--model", str(checkpoint), "--device", "cpu",
                         "--output", str(tmp_path / name), "--quiet", *camera)
        assert result.returncode == 0, result.stderr
        # Even with --quiet, the guess is said once.
        assert ("metres assume its canonical camera (focal 100 px at the 96x128"
                in result.stderr) == (fx is None), result.stderr
        depth[name] = np.load(tmp_path / name / f"{frame.stem}.npy")
    np.testing.assert_allclose(depth["none"], depth["canonical"], rtol=1e-5)
    np.testing.assert_allclose(depth["long"], 2.0 * depth["canonical"], rtol=1e-5)
    np.testing.assert_allclose(depth["wide_x"], np.sqrt(0.5) * depth["canonical"], rtol=1e-5)


def test_predict_input_aspect_runs_the_network_at_the_images_aspect(tmp_path, real_manifest):
    """--input-aspect: for a model trained on aspects 1.3-3.4, auto runs a 4:3 frame at about
    the input's pixel count at 4:3 (144x192 for 96x288), squash at the input size; both give
    depth at the image's size."""
    from s2r_depth_ros.model import save_checkpoint

    model = make_model(height=96, width=288, aspect_range=(1.3, 3.4))
    checkpoint = save_checkpoint(model, tmp_path / "aspects.pt",
                                 provenance={"source": "test fixture"})
    frame = real_frames(real_manifest, "7scenes_tsdf_fusion_python", 1)[0]
    rgb = np.asarray(Image.open(frame).convert("RGB"))
    assert rgb.shape[:2] == (480, 640)
    depth = {}
    for aspect in ("auto", "squash"):
        result = run_cli("predict", str(frame), "--model", str(checkpoint), "--device", "cpu",
                         "--backend", "eager", "--input-aspect", aspect, "--output",
                         str(tmp_path / aspect), "--quiet")
        assert result.returncode == 0, result.stderr
        depth[aspect] = np.load(tmp_path / aspect / f"{frame.stem}.npy")
        assert depth[aspect].shape == (480, 640)
    for aspect, size in (("auto", (144, 192)), ("squash", (96, 288))):
        fixed = DepthEstimator(model, EstimatorOptions(device="cpu", input_size=size,
                                                       input_aspect="squash"))
        np.testing.assert_allclose(depth[aspect], fixed.predict(rgb), rtol=1e-4, atol=1e-4)
    result = run_cli("predict", str(frame), "--model", str(checkpoint), "--input-aspect",
                     "stretch", "--output", str(tmp_path / "bad"))
    assert result.returncode == 2 and "input-aspect" in result.stderr
