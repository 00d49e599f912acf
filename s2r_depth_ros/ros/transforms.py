"""Transforms between frames for the node: TF when tf2_ros is installed, fixed poses otherwise.

Every ROS 2 distribution ships tf2_ros, but it is not on PyPI, so the node imports it only
when it is there. Without it (or before TF has the frames) a transform comes only from a
parameter: a fixed pose, as ``static_transform_publisher`` takes it.
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.time import Time

from ..geometry import rigid_transform

try:  # a ROS 2 install has it; the PyPI wheels do not
    import tf2_ros
except ImportError:  # pragma: no cover - depends on the install
    tf2_ros = None


class TransformLookup:
    """Transforms from TF, as 4x4 matrices.

    ``lookup(target, source, stamp_ns)`` takes ``source`` coordinates into ``target``'s;
    None when tf2_ros is missing or TF does not (yet) have the frames.
    """

    def __init__(self, node: Node) -> None:
        self.available = tf2_ros is not None
        if self.available:
            self._buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self._buffer, node, spin_thread=False)

    def lookup(self, target: str, source: str, stamp_ns: int = 0) -> np.ndarray | None:
        if not self.available or not target or not source:
            return None
        try:
            # Time 0: the newest transform (static mounts); a stamped one is tried first.
            for when in ((Time(nanoseconds=stamp_ns),) if stamp_ns else ()) + (Time(),):
                if self._buffer.can_transform(target, source, when):
                    stamped = self._buffer.lookup_transform(target, source, when)
                    t, q = stamped.transform.translation, stamped.transform.rotation
                    return rigid_transform((t.x, t.y, t.z), (q.x, q.y, q.z, q.w))
        except tf2_ros.TransformException:
            return None
        return None


def pose_parameter(values: tuple[float, ...]) -> np.ndarray | None:
    """A pose parameter, [x, y, z, qx, qy, qz, qw], as a 4x4 matrix; () gives None."""
    if not values:
        return None
    if len(values) != 7:
        raise ValueError(f"expected [x, y, z, qx, qy, qz, qw], got {len(values)} numbers")
    return rigid_transform(values[:3], values[3:])
