"""Test tiers: markers select the fast suite, and CI fails where ../shared is missing."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def run_pytest(*args: str, env: dict[str, str] | None = None, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_fast_tier_leaves_out_ros_and_slow_tests():
    result = run_pytest("--collect-only", "-q", "-m", "not ros and not slow", "test")
    assert result.returncode == 0, result.stdout + result.stderr
    collected = result.stdout
    assert "test_inference_engine.py::" in collected
    for left_out in ("test_depth_node.py::", "test_training.py::",
                     "test_official_weights_reproduce_reference_recipe"):
        assert left_out not in collected
    ros = run_pytest("--collect-only", "-q", "-m", "ros", "test").stdout
    assert "test_depth_node.py::" in ros and "test_inference_engine.py::" not in ros


def test_missing_shared_data_skips_locally_and_fails_in_ci(tmp_path):
    (tmp_path / "test_needs_shared.py").write_text(
        "from conftest import require_shared, SHARED\n"
        "def test_it():\n"
        "    require_shared(SHARED / 'no_such_file')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "test"), str(REPO)]))
    env.pop("CI", None)
    local = run_pytest("-q", "-rs", str(tmp_path), env=env, cwd=tmp_path)
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout
    ci = run_pytest("-q", str(tmp_path), env=dict(env, CI="true"), cwd=tmp_path)
    assert ci.returncode == 1 and "CI needs ../shared" in ci.stdout, ci.stdout
