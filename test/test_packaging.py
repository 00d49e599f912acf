"""The package as ROS users get it: colcon build layout, launch file, params, rviz config."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from conftest import REPO
from s2r_depth_ros.ros.settings import NodeSettings

LAUNCH = REPO / "launch" / "depth.launch.py"


def launch_calls(name: str) -> list[ast.Call]:
    tree = ast.parse(LAUNCH.read_text())
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == name]


def keyword(call: ast.Call, name: str):
    return next(k.value for k in call.keywords if k.arg == name)


def test_params_yaml_matches_node_settings():
    params = yaml.safe_load((REPO / "config" / "params.yaml").read_text())["/**"][
        "ros__parameters"]
    # Lists unset by default are commented out there, with an example (an empty YAML list
    # is not a typed parameter everywhere).
    text = (REPO / "config" / "params.yaml").read_text()
    unset = {f.name for f in fields(NodeSettings) if f.default == ()}
    for name in unset:
        assert f"    # {name}: [" in text, name
    defaults = {f.name: f.default for f in fields(NodeSettings) if f.name not in unset}
    assert params == defaults
    NodeSettings(**params)  # and they validate


def launch_helpers() -> dict:
    """The launch file's plain functions and constants, executed without ``launch``.

    The launch packages are not installable here, so the file cannot run; its decisions
    (parameters, remappings, rviz's command line) are plain functions of the launch
    arguments, which this executes on their own, and :func:`launch_calls` checks how the
    Node actions use them.
    """
    tree = ast.parse(LAUNCH.read_text())
    plain = [n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name in (
        "node_parameters", "topic_remappings", "rviz_arguments")) or (
        isinstance(n, ast.Assign) and n.targets[0].id in ("PACKAGE", "PARAMETER_ARGUMENTS"))]
    namespace: dict = {}
    exec(compile(ast.Module(body=plain, type_ignores=[]), str(LAUNCH), "exec"), namespace)
    return namespace


def test_launch_file_declares_the_documented_arguments_and_names_a_real_node():
    compile(LAUNCH.read_text(), str(LAUNCH), "exec")
    declared = {ast.literal_eval(c.args[0]) for c in launch_calls("DeclareLaunchArgument")}
    assert declared == {"params_file", "model", "device", "image", "camera_info", "sparse_depth",
                        "sparse_points", "namespace", "use_sim_time", "rviz", "frame_id"}
    nodes = {ast.literal_eval(keyword(c, "executable")): c for c in launch_calls("Node")}
    setup = (REPO / "setup.py").read_text()
    assert "depth_node = s2r_depth_ros.ros.depth_node:main" in setup
    assert set(nodes) == {"depth_node", "rviz2"}
    # Only APIs that exist in Humble, Jazzy and Kilted.
    imports = {n.module for n in ast.walk(ast.parse(LAUNCH.read_text()))
               if isinstance(n, ast.ImportFrom)}
    assert imports <= {"launch", "launch.actions", "launch.conditions", "launch.substitutions",
                       "launch_ros.actions", "launch_ros.substitutions"}


def test_launch_arguments_override_the_params_file_only_when_given():
    helpers = launch_helpers()
    defaults = {"model": "", "device": "", "use_sim_time": "false"}
    # Not given: only the params file sets model and device (its model survives).
    params_file, overrides = helpers["node_parameters"]("/my/params.yaml", defaults)
    assert params_file == "/my/params.yaml" and overrides == {"use_sim_time": False}
    # Given: they come after the file, so they win.
    _, overrides = helpers["node_parameters"](
        "/my/params.yaml", {**defaults, "model": "indoor", "use_sim_time": "true"})
    assert overrides == {"model": "indoor", "use_sim_time": True}
    assert set(helpers["PARAMETER_ARGUMENTS"]) <= {f.name for f in fields(NodeSettings)}
    # The declared defaults are "not given".
    for call in launch_calls("DeclareLaunchArgument"):
        if ast.literal_eval(call.args[0]) in helpers["PARAMETER_ARGUMENTS"]:
            assert ast.literal_eval(keyword(call, "default_value")) == ""


def test_rviz_follows_the_nodes_namespace_remaps_and_frame():
    helpers = launch_helpers()
    given = {"image": "/cam/color/image_raw", "camera_info": "/cam/color/camera_info",
             "sparse_depth": "/lidar/depth", "sparse_points": "/lidar/points",
             "frame_id": "cam_color_optical_frame"}
    assert helpers["topic_remappings"](given) == [("image", "/cam/color/image_raw"),
                                                  ("camera_info", "/cam/color/camera_info"),
                                                  ("sparse_depth", "/lidar/depth"),
                                                  ("sparse_points", "/lidar/points")]
    # The fixed frame is the images' frame_id, which the node copies to every output.
    assert helpers["rviz_arguments"]("depth.rviz", given) == [
        "-d", "depth.rviz", "-f", "cam_color_optical_frame"]
    nodes = {ast.literal_eval(keyword(c, "executable")): c for c in launch_calls("Node")}
    for name in ("depth_node", "rviz2"):
        # Both get the same namespace expression and the same remappings function.
        assert ast.unparse(keyword(nodes[name], "namespace")) == 'given[\'namespace\']'
        assert ast.unparse(keyword(nodes[name], "remappings")) == "topic_remappings(given)"
    assert "rviz_arguments(" in ast.unparse(keyword(nodes["rviz2"], "arguments"))
    # The configuration's topics are relative, so they resolve in that namespace.
    config = yaml.safe_load((REPO / "config" / "depth.rviz").read_text())
    topics = [d["Topic"]["Value"] for d in config["Visualization Manager"]["Displays"]]
    assert topics and not any(t.startswith("/") for t in topics)


def test_rviz_config_subscribes_to_node_outputs_with_matching_qos():
    config = yaml.safe_load((REPO / "config" / "depth.rviz").read_text())
    displays = {d["Topic"]["Value"]: d for d in config["Visualization Manager"]["Displays"]}
    assert set(displays) == {"image", "depth/colorized", "depth/points"}
    for topic in ("depth/colorized", "depth/points"):
        # The node publishes reliable: a reliable display connects, a best-effort one would too.
        assert displays[topic]["Topic"]["Reliability Policy"] == "Reliable"
    assert displays["image"]["Topic"]["Reliability Policy"] == "Best Effort"
    assert NodeSettings().output_reliability == "reliable"


def test_colcon_build_installs_a_complete_ament_package(tmp_path):
    colcon = Path(sys.executable).with_name("colcon")
    if not colcon.exists():
        colcon = shutil.which("colcon")
    assert colcon, "colcon is part of the development requirements"
    source = tmp_path / "src" / "s2r_depth_ros"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    result = subprocess.run([str(colcon), "build", "--base-paths", "src"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    install = tmp_path / "install" / "s2r_depth_ros"
    share = install / "share" / "s2r_depth_ros"
    assert (install / "share/ament_index/resource_index/packages/s2r_depth_ros").is_file()
    for name in ("package.xml", "launch/depth.launch.py", "config/params.yaml",
                 "config/depth.rviz"):
        assert (share / name).is_file(), name
    for script in ("depth_node", "s2r-depth"):
        assert (install / "lib" / "s2r_depth_ros" / script).is_file(), script
    site = next((install / "lib").glob("python3*/site-packages"))
    assert (site / "s2r_depth_ros" / "ros" / "depth_node.py").is_file()
    assert (site / "s2r_depth_ros" / "ros" / "fastdds_localhost.xml").is_file()
    # Pure Python: nothing compiled, so no compiler or Python headers are needed to build.
    assert not [p.name for p in site.rglob("*") if p.suffix in (".so", ".pyd", ".c")]
