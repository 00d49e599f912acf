"""`make demo` (the README's first command) end to end, on a short sequence."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2

HEIGHT, WIDTH, SEED = 384, 1280, 2021  # the demo's camera and scene stream


def model_cap_for_the_demo_camera() -> float:
    """The shipped outdoor model's farthest finite depth for the demo's default camera.

    A camera-aware model's cap (max_depth at the canonical focal length) scales with the
    camera's focal length as its metres do.
    """
    from s2r_depth_ros.data.synth import SyntheticScenes
    from s2r_depth_ros.geometry import Intrinsics
    from s2r_depth_ros.inference import open_estimator

    first = SyntheticScenes(domain="outdoor", length=1, height=HEIGHT, width=WIDTH,
                            seed=SEED)[0]
    camera = Intrinsics(first.fx, first.fy, first.cx, first.cy, WIDTH, HEIGHT)
    estimator = open_estimator("outdoor", device="cpu")
    return estimator.config.max_depth * estimator.metric_scale((HEIGHT, WIDTH), camera)


def test_demo_writes_depth_pictures_a_cloud_and_a_summary(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "s2r_depth_ros.cli", "demo", "--output",
                             str(out), "--frames", "6", "--rate", "2", "--device", "cpu",
                             "--height", str(HEIGHT), "--width", str(WIDTH), "--seed", str(SEED)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    summary = json.loads((out / "summary.json").read_text())
    # 2 Hz: well below what the node keeps up with on a loaded 2-core machine (no timing test).
    assert summary["frames_sent"] == 6 and summary["frames_answered"] >= 5, summary
    assert summary["node_exit_status"] == 0
    assert summary["latency_ms_depth"]["p50"] > 0
    pictures = sorted((out / "frames").glob("*.png"))
    assert len(pictures) == summary["frames_answered"]
    picture = cv2.imread(str(pictures[0]))
    assert picture is not None and picture.shape[0] > picture.shape[1] / 4
    ply = (out / "cloud.ply").read_bytes()
    assert ply.startswith(b"ply") and f"element vertex {summary['ply_points']}".encode() in ply
    assert summary["ply_points"] > 1000
    low, high = summary["depth_range_m"]
    assert 0 < low < high <= model_cap_for_the_demo_camera()
    assert "frames answered" in (out / "summary.md").read_text()
