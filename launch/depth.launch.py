"""Launch the S2R-DepthNet depth node (optionally with rviz).

Uses only launch / launch_ros APIs present in Humble, Jazzy and Kilted.
Example: ros2 launch s2r_depth_ros depth.launch.py image:=/camera/color/image_raw \
             camera_info:=/camera/color/camera_info rviz:=true \
             frame_id:=camera_color_optical_frame
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

PACKAGE = "s2r_depth_ros"
# Launch arguments that set a node parameter, but only when given: the params file's
# value stands otherwise.
PARAMETER_ARGUMENTS = ("model", "device")


def node_parameters(params_file: str, given: dict) -> list:
    """The node's parameters: the params file, then only the arguments given on the command
    line (an empty value is "not given"), and use_sim_time."""
    overrides = {name: given[name] for name in PARAMETER_ARGUMENTS if given.get(name)}
    overrides["use_sim_time"] = given.get("use_sim_time", "false").lower() == "true"
    return [params_file, overrides]


def topic_remappings(given: dict) -> list:
    """The same remappings for the node and rviz, so rviz shows what the node uses."""
    return [("image", given["image"]), ("camera_info", given["camera_info"]),
            ("sparse_depth", given["sparse_depth"]), ("sparse_points", given["sparse_points"])]


def rviz_arguments(config: str, given: dict) -> list:
    """rviz2's command line: the display configuration and the fixed frame, which must be
    the frame_id of the camera's images (the node copies it to every output), so no TF
    tree is needed to see the cloud."""
    return ["-d", config, "-f", given["frame_id"]]


def launch_nodes(context, *args, **kwargs) -> list:
    given = {name: LaunchConfiguration(name).perform(context) for name in (
        "params_file", "model", "device", "image", "camera_info", "sparse_depth", "sparse_points",
        "namespace", "use_sim_time", "rviz", "frame_id")}
    share = FindPackageShare(PACKAGE).perform(context)
    nodes = [Node(package=PACKAGE, executable="depth_node", name="depth_node",
                  namespace=given["namespace"], output="screen",
                  parameters=node_parameters(given["params_file"], given),
                  remappings=topic_remappings(given))]
    if given["rviz"].lower() == "true":
        # In the node's namespace, with its remappings: the configuration's relative topic
        # names then resolve to the node's inputs and outputs.
        nodes.append(Node(package="rviz2", executable="rviz2", name="rviz2",
                          namespace=given["namespace"],
                          arguments=rviz_arguments(f"{share}/config/depth.rviz", given),
                          parameters=[{"use_sim_time": given["use_sim_time"] == "true"}],
                          remappings=topic_remappings(given)))
    return nodes


def generate_launch_description():
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "params.yaml"]),
                              description="node parameters (YAML)"),
        DeclareLaunchArgument("model", default_value="",
                              description="checkpoint file, or shipped model 'outdoor'/'indoor'"
                              " (default: the params file's)"),
        DeclareLaunchArgument("device", default_value="",
                              description="auto, cpu or cuda (default: the params file's)"),
        DeclareLaunchArgument("image", default_value="image",
                              description="input image topic"),
        DeclareLaunchArgument("camera_info", default_value="camera_info",
                              description="input camera_info topic"),
        DeclareLaunchArgument("sparse_depth", default_value="sparse_depth",
                              description="sparse metric depth for scale_mode sparse/auto "
                              "(Image 32FC1 m or 16UC1 mm, registered to the image)"),
        DeclareLaunchArgument("sparse_points", default_value="sparse_points",
                              description="LiDAR points for scale_mode sparse/auto "
                              "(PointCloud2; TF or sparse_points_transform to the camera)"),
        DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="use /clock (bag playback with --clock)"),
        DeclareLaunchArgument("rviz", default_value="false", description="start rviz2"),
        DeclareLaunchArgument("frame_id", default_value="camera_optical_frame",
                              description="rviz's fixed frame: your camera images' frame_id"),
    ]
    return LaunchDescription(arguments + [OpaqueFunction(function=launch_nodes)])
