"""ament_python build of s2r_depth_ros (colcon build, or pip for the command-line tools)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "s2r_depth_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["weights/*.pt", "ros/*.xml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="s2r_depth_ros maintainers",
    maintainer_email="maintainers@s2r-depth-ros.invalid",
    description="S2R-DepthNet monocular depth node, training and evaluation tools for ROS 2",
    license="MIT",
    entry_points={
        "console_scripts": [
            "s2r-depth = s2r_depth_ros.cli:main",
            "depth_node = s2r_depth_ros.ros.depth_node:main",
            "depth_lifecycle_node = s2r_depth_ros.ros.lifecycle_node:main",
        ],
    },
)
