"""s2r_depth_ros: S2R-DepthNet monocular depth for ROS 2, with training and evaluation tools.

Packages: ``model`` (the network and checkpoints), ``inference`` (numpy image -> depth),
``ros`` (the depth node), ``data`` (synthetic scenes and dataset loaders), ``training``
(the S2R stages), ``evaluation`` (metrics, bag evaluation and replay).
"""

__version__ = "0.1.0"
