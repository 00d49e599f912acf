"""Launch the S2R-DepthNet depth node (optionally with rviz).

Uses only launch / launch_ros APIs present in Humble, Jazzy and Kilted.
Example: ros2 launch s2r_depth_ros depth.launch.py image:=/camera/color/image_raw \
             camera_info:=/camera/color/camera_info rviz:=true
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

PACKAGE = "s2r_depth_ros"


def generate_launch_description():
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "params.yaml"]),
                              description="node parameters (YAML)"),
        DeclareLaunchArgument("model", default_value="outdoor",
                              description="checkpoint file, or shipped model 'outdoor'/'indoor'"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu or cuda"),
        DeclareLaunchArgument("image", default_value="image",
                              description="input image topic"),
        DeclareLaunchArgument("camera_info", default_value="camera_info",
                              description="input camera_info topic"),
        DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="use /clock (bag playback with --clock)"),
        DeclareLaunchArgument("rviz", default_value="false", description="start rviz2"),
    ]
    depth_node = Node(
        package=PACKAGE,
        executable="depth_node",
        name="depth_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        # Launch arguments override the parameters file.
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "model": LaunchConfiguration("model"),
                "device": LaunchConfiguration("device"),
                "use_sim_time": LaunchConfiguration("use_sim_time"),
            },
        ],
        remappings=[
            ("image", LaunchConfiguration("image")),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", PathJoinSubstitution([share, "config", "depth.rviz"])],
        parameters=[{"use_sim_time": LaunchConfiguration("use_sim_time")}],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription(arguments + [depth_node, rviz])
