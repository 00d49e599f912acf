"""`make demo` (the README's first command) end to end, on a short sequence."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2


def test_demo_writes_depth_pictures_a_cloud_and_a_summary(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "s2r_depth_ros.cli", "demo", "--output",
                             str(out), "--frames", "6", "--rate", "2", "--device", "cpu"],
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
    assert 0 < low < high <= 80.0
    assert "frames answered" in (out / "summary.md").read_text()
