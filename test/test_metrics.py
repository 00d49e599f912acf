"""The S2R evaluation protocol, the no-learning baselines and `s2r-depth eval`."""

from __future__ import annotations

import csv
import json
import math
import re
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import REAL_RGBD
from s2r_depth_ros.cli import main
from s2r_depth_ros.evaluation import (
    INDOOR,
    OUTDOOR,
    DepthMetrics,
    ErrorByDistance,
    Protocol,
    baseline_depth,
    compute_metrics,
    crop_mask,
    evaluate_frame,
    ground_plane_depth,
    indoor_depth,
    protocol_for_domain,
    score_frame,
    summarize,
)
from s2r_depth_ros.evaluation.sources import read_depth
from s2r_depth_ros.geometry import Intrinsics

PLAIN = Protocol("plain", 1e-3, 80.0, crop="none", median_scaling=False)


def test_metrics_of_a_hand_computed_case():
    m = compute_metrics(np.array([2.0, 2.0, 2.0]), np.array([1.0, 2.0, 4.0]))
    assert m.abs_rel == pytest.approx((1 / 1 + 0 + 2 / 4) / 3)
    assert m.sq_rel == pytest.approx((1 / 1 + 0 + 4 / 4) / 3)
    assert m.rmse == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert m.rmse_log == pytest.approx(math.log(2) * math.sqrt(2 / 3))
    # Ratios are 2, 1, 2: only the middle pixel is within 1.25^3 = 1.95.
    assert (m.delta1, m.delta2, m.delta3) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    m = compute_metrics(np.array([1.2, 1.5, 1.9]), np.array([1.0, 1.0, 1.0]))
    assert (m.delta1, m.delta2, m.delta3) == pytest.approx((1 / 3, 2 / 3, 1.0))


def test_median_scaling_removes_a_global_scale_and_raw_metrics_keep_it():
    gt = np.random.default_rng(0).uniform(2, 26, (40, 60)).astype(np.float32)
    result = evaluate_frame(gt * 3.0, gt, Protocol("o", 1e-3, 80.0, crop="none"))
    assert result.scale == pytest.approx(1 / 3, rel=1e-5)
    assert result.scaled.abs_rel == pytest.approx(0.0, abs=1e-6)
    assert result.scaled.delta1 == 1.0
    # Unscaled, every pixel is 3x too far.
    assert result.raw.abs_rel == pytest.approx(2.0, rel=1e-5)
    assert result.valid_pixels == gt.size


def test_prediction_is_clamped_and_invalid_gt_is_masked():
    gt = np.array([[10.0, 10.0, 0.0, np.nan, 90.0, 1e-3]], np.float32)
    pred = np.array([[100.0, 10.0, 5.0, 5.0, 5.0, 5.0]], np.float32)
    result = evaluate_frame(pred, gt, PLAIN)
    assert result.valid_pixels == 2  # 0, NaN, >= max and <= min are not scored
    assert result.raw.abs_rel == pytest.approx((70 / 10 + 0) / 2)  # 100 clamped to 80
    assert result.scale == 1.0 and result.scaled == result.raw
    assert evaluate_frame(pred, np.zeros_like(gt), PLAIN) is None
    with pytest.raises(ValueError, match="shapes"):
        evaluate_frame(pred[:, :3], gt, PLAIN)


def test_crops_follow_the_fractions_of_the_reference():
    garg = crop_mask(375, 1242, "garg")
    rows, cols = np.nonzero(garg)
    assert (rows.min(), rows.max() + 1) == (int(0.40810811 * 375), int(0.99189189 * 375))
    assert (cols.min(), cols.max() + 1) == (int(0.03594771 * 1242), int(0.96405229 * 1242))
    eigen = crop_mask(375, 1242, "eigen")
    rows = np.nonzero(eigen.any(axis=1))[0]
    assert (rows.min(), rows.max() + 1) == (int(0.3324324 * 375), int(0.91351351 * 375))
    assert crop_mask(4, 5, "none").all()
    # An error outside the crop does not count.
    gt = np.full((375, 1242), 10.0, np.float32)
    pred = gt.copy()
    pred[:100] = 40.0
    garg_protocol = Protocol("g", 1e-3, 80.0, crop="garg", median_scaling=False)
    assert evaluate_frame(pred, gt, garg_protocol).raw.abs_rel == 0.0
    assert evaluate_frame(pred, gt, PLAIN).raw.abs_rel > 0.5
    with pytest.raises(ValueError, match="crop"):
        crop_mask(4, 4, "nyu")


def test_dataset_numbers_are_means_over_images_not_pixels():
    gt_small = np.full((2, 2), 10.0, np.float32)
    gt_large = np.full((20, 20), 10.0, np.float32)
    small = evaluate_frame(gt_small * 2, gt_small, PLAIN)  # abs_rel 1
    large = evaluate_frame(gt_large, gt_large, PLAIN)  # abs_rel 0
    summary = summarize([small, large])
    assert summary.frames == 2
    assert summary.raw.abs_rel == pytest.approx(0.5)
    assert DepthMetrics.mean([small.raw, large.raw]).delta1 == pytest.approx(0.5)
    with pytest.raises(ValueError):
        summarize([])


def test_error_by_distance_bins_pixels_by_ground_truth():
    gt = np.array([[1.0, 3.0, 3.0]], np.float32)
    pred = np.array([[2.0, 3.0, 3.75]], np.float32)
    _, pixels = score_frame(pred, gt, Protocol("p", 0.0, 4.0, median_scaling=False))
    bins = ErrorByDistance(0.0, 4.0, bins=2)
    bins.add(pixels)
    assert bins.means() == pytest.approx([1.0, 0.125])
    # Geometric mean of prediction / GT: 2 in the near bin, sqrt(1 * 1.25) in the far one.
    assert bins.ratios() == pytest.approx([2.0, np.sqrt(1.25)])
    assert bins.to_dict()["pixels"] == [1, 2]
    assert bins.to_dict()["pred_over_gt"] == pytest.approx([2.0, np.sqrt(1.25)])
    assert ErrorByDistance(0.0, 4.0, bins=2).ratios() == [None, None]


def test_presets_and_domains():
    assert (OUTDOOR.crop, OUTDOOR.min_depth, OUTDOOR.max_depth) == ("garg", 1e-3, 80.0)
    assert (INDOOR.crop, INDOOR.max_depth) == ("none", 10.0)
    assert protocol_for_domain("outdoor_driving") is OUTDOOR
    assert protocol_for_domain("indoor") is INDOOR
    assert OUTDOOR.with_overrides(crop="eigen", max_depth=50.0).max_depth == 50.0
    with pytest.raises(ValueError, match="domain"):
        protocol_for_domain("underwater")
    with pytest.raises(ValueError, match="max_depth"):
        Protocol("bad", 5.0, 1.0)


def test_ground_plane_baseline_is_exact_on_a_flat_floor():
    camera = Intrinsics(700.0, 700.0, 600.0, 170.0, 1242, 375)
    depth = ground_plane_depth(375, 1242, camera.fy, camera.cy, camera_height=1.65)
    assert depth.shape == (375, 1242) and depth.dtype == np.float32
    assert np.isfinite(depth).all() and depth.min() > 0 and depth.max() == 80.0
    assert (depth[:171] == 80.0).all()  # at and above the horizon
    rows = np.arange(175, 375)
    assert np.allclose(depth[rows, 0], np.minimum(1.65 * 700.0 / (rows - 170.0), 80.0))
    assert (np.diff(depth[171:, 10]) <= 0).all()
    # A floor rendered independently: back-project each pixel ray onto the plane y = 1.65.
    v, u = np.mgrid[200:375, 0:1242].astype(np.float64)
    ray_y = (v - camera.cy) / camera.fy
    floor = np.zeros((375, 1242), np.float32)
    floor[200:] = 1.65 / ray_y
    result = evaluate_frame(baseline_depth("ground_plane", 375, 1242, camera, OUTDOOR), floor,
                            Protocol("o", 1e-3, 80.0, crop="none"))
    assert result.scaled.abs_rel < 1e-6 and result.scale == pytest.approx(1.0)
    indoor = indoor_depth(480, 640, 585.0, 240.0)
    assert indoor.max() == pytest.approx(4.0) and indoor[-1, 0] < 4.0
    assert (baseline_depth("constant", 3, 4, camera, INDOOR) == INDOOR.typical_depth).all()
    with pytest.raises(ValueError, match="baseline"):
        baseline_depth("oracle", 3, 4, camera, INDOOR)


def test_ground_truth_and_noisy_ground_truth_beat_both_baselines(real_manifest):
    entries = [e for e in real_manifest if e["domain"] == "outdoor_driving"][:1] + [
        e for e in real_manifest if e["domain"] == "indoor"][:1]
    rng = np.random.default_rng(1)
    for entry in entries:
        protocol = protocol_for_domain(entry["domain"])
        gt = read_depth(REAL_RGBD / entry["depth"], entry["depth_to_meters"])
        camera = Intrinsics(entry["fx"], entry["fy"], entry["cx"], entry["cy"], entry["width"],
                            entry["height"])
        noisy = gt * rng.uniform(0.95, 1.05, gt.shape).astype(np.float32)
        perfect = evaluate_frame(np.nan_to_num(gt, nan=1.0), gt, protocol)
        assert perfect.scaled.abs_rel == pytest.approx(0.0, abs=1e-6)
        assert perfect.scaled.delta1 == 1.0
        near = evaluate_frame(np.nan_to_num(noisy, nan=1.0), gt, protocol)
        for name in ("constant", "ground_plane"):
            baseline = evaluate_frame(baseline_depth(name, *gt.shape, camera, protocol), gt,
                                      protocol)
            assert near.scaled.abs_rel < baseline.scaled.abs_rel / 3, (entry["rgb"], name)
            assert near.scaled.delta1 > baseline.scaled.delta1


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def check_report(path):
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "http" not in text.replace(
        "http://www.w3.org/2000/svg", "")  # self-contained
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert images
    for svg in re.findall(r"<svg.*?</svg>", text, flags=re.S):
        ET.fromstring(svg)
    return text, images


def test_eval_on_real_manifest_with_model_and_baselines(tmp_path, tiny_checkpoint,
                                                        real_manifest, capsys):
    out = tmp_path / "eval"
    code = main(["eval", "--model", str(tiny_checkpoint), "--device", "cpu", "--threads", "1",
                 "--limit", "2", "--report-frames", "1", "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "outdoor" in printed and "ground_plane" in printed
    data = json.loads((out / "metrics.json").read_text())
    assert data["methods"] == ["model", "constant", "ground_plane"]
    assert set(data["groups"]) == {"outdoor", "indoor"}
    assert data["groups"]["outdoor"]["protocol"]["crop"] == "garg"
    rows = read_csv(out / "frames.csv")
    assert len(rows) == 2 * 2 * 3
    for group, summary in data["groups"].items():
        assert summary["frames_scored"] == 2
        for method, numbers in summary["methods"].items():
            mine = [float(r["abs_rel"]) for r in rows if r["group"] == group
                    and r["method"] == method]
            assert numbers["scaled"]["abs_rel"] == pytest.approx(np.mean(mine), rel=1e-5)
    # One CSV row recomputed from the files, independently of the command.
    entry = next(e for e in real_manifest if e["domain"] == "indoor")
    gt = cv2.imread(str(REAL_RGBD / entry["depth"]), cv2.IMREAD_UNCHANGED) * entry[
        "depth_to_meters"]
    gt[gt == 0] = np.nan
    camera = Intrinsics(entry["fx"], entry["fy"], entry["cx"], entry["cy"], entry["width"],
                        entry["height"])
    expected = evaluate_frame(baseline_depth("ground_plane", *gt.shape, camera, INDOOR), gt,
                              INDOOR)
    row = next(r for r in rows if r["group"] == "indoor" and r["method"] == "ground_plane")
    assert float(row["abs_rel"]) == pytest.approx(expected.scaled.abs_rel, rel=1e-4)
    assert float(row["raw_rmse"]) == pytest.approx(expected.raw.rmse, rel=1e-4)
    _, images = check_report(out / "report.html")
    assert len(images) == 2 * 5  # one frame per group: RGB, prediction, GT, error, colour bar


def kitchen_folders(tmp_path, real_manifest, images: int, with_depth: int):
    """The first ``images`` 7-Scenes frames as an image folder, the first ``with_depth`` of
    them with their depth in a same-stem depth folder (f0.png, f1.png, ...)."""
    rgb_dir, depth_dir = tmp_path / "rgb", tmp_path / "depth"
    rgb_dir.mkdir()
    depth_dir.mkdir()
    entries = [e for e in real_manifest if e["dataset"] == "7scenes_tsdf_fusion_python"]
    for i, entry in enumerate(entries[:images]):
        Image.open(REAL_RGBD / entry["rgb"]).save(rgb_dir / f"f{i}.png")
        if i < with_depth:
            raw = cv2.imread(str(REAL_RGBD / entry["depth"]), cv2.IMREAD_UNCHANGED)
            cv2.imwrite(str(depth_dir / f"f{i}.png"), raw)
    return rgb_dir, depth_dir


def test_eval_on_image_and_depth_folders(tmp_path, real_manifest, capsys):
    rgb_dir, depth_dir = kitchen_folders(tmp_path, real_manifest, images=3, with_depth=2)
    out = tmp_path / "out"
    code = main(["eval", "--no-model", "--rgb-dir", str(rgb_dir), "--depth-dir", str(depth_dir),
                 "--protocol", "indoor", "--intrinsics", "585", "585", "320", "240",
                 "--output", str(out), "--quiet"])
    assert code == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["source"]["images_without_depth"] == ["f2"]
    assert data["groups"]["indoor"]["frames_scored"] == 2
    check_report(out / "report.html")
    assert main(["eval", "--no-model", "--rgb-dir", str(rgb_dir), "--output", str(out)]) == 2
    assert "--depth-dir" in capsys.readouterr().err
    assert main(["eval", "--no-model", "--manifest", str(tmp_path / "none.json"),
                 "--output", str(out)]) == 2
    assert "manifest not found" in capsys.readouterr().err


def test_eval_points_out_a_model_whose_too_far_scenes_the_clamp_flattens(tmp_path,
                                                                         real_manifest, capsys):
    """The street model puts rooms about 5x too far; the indoor protocol clamps its predictions
    to 10 m before median scaling, which flatters it. eval says so, and --max-depth scores
    the predictions as they are."""
    rgb_dir, depth_dir = kitchen_folders(tmp_path, real_manifest, images=2, with_depth=2)
    scores = {}
    for cap in ("10", "100"):
        out = tmp_path / f"out{cap}"
        assert main(["eval", "--model", "outdoor", "--no-baselines", "--device", "cpu",
                     "--threads", "2", "--rgb-dir", str(rgb_dir), "--depth-dir", str(depth_dir),
                     "--protocol", "indoor", "--max-depth", cap, "--intrinsics", "585", "585",
                     "320", "240", "--output", str(out), "--quiet"]) == 0
        err = capsys.readouterr().err
        assert ("flatters the scaled score" in err) == (cap == "10"), err
        data = json.loads((out / "metrics.json").read_text())
        scores[cap] = data["groups"]["indoor"]["methods"]["model"]["scaled"]["abs_rel"]
    assert scores["10"] < scores["100"]


def test_frame_plots_have_whole_number_ticks():
    from s2r_depth_ros.evaluation.report import svg_line_chart

    svg = svg_line_chart({"model": [0.1, 0.2]}, [0.0, 1.0], "abs_rel per frame", "frame index",
                         "abs_rel", integer_x=True)
    ticks = re.findall(r'text-anchor="middle">([^<]+)</text>', svg)
    assert "0.5" not in ticks and {"0", "1"} <= set(ticks)
    svg = svg_line_chart({"m": [1.0] * 10}, [float(i) for i in range(10)], "t", "frame", "y",
                         integer_x=True)
    ticks = re.findall(r'text-anchor="middle">([^<]+)</text>', svg)
    assert "4.5" not in ticks and {"0", "4", "9"} <= set(ticks), ticks
