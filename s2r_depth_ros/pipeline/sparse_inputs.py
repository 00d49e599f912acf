"""A stream's sparse metric inputs (a depth image, a LiDAR cloud) matched to its frames.

Sparse sets arrive on their own topics at their own rates; a frame uses the newest of each
whose stamp is within ``max_age`` of its own: the depth image if there is one, else the
cloud projected into the camera. Plain numpy; the node feeds it from its callbacks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..geometry import Intrinsics
from ..scale import sparse_from_points

# (target frame, source frame, stamp ns) -> 4x4 transform taking source into target, or None.
FindTransform = Callable[[str, str, int], "np.ndarray | None"]


class SparseInputs:
    """The newest sparse depth image and LiDAR cloud, paired with frames by stamp.

    ``camera_from_lidar``: a fixed LiDAR pose in the camera's frame; without it the cloud
    is placed with ``lookup`` (TF) at each frame.
    """

    def __init__(self, max_age: float, camera_from_lidar: np.ndarray | None = None,
                 lookup: FindTransform | None = None) -> None:
        self.max_age_ns = max_age * 1e9
        self.camera_from_lidar = camera_from_lidar
        self.lookup = lookup
        self._depth: tuple[int, np.ndarray] | None = None
        self._cloud: tuple[int, str, np.ndarray] | None = None

    def put_depth(self, stamp_ns: int, metres: np.ndarray) -> None:
        """A sparse depth image (metres, NaN where no sample), registered to the camera."""
        self._depth = (stamp_ns, metres)  # one assignment: callbacks and workers need no lock

    def put_points(self, stamp_ns: int, frame_id: str, points: np.ndarray) -> None:
        """A LiDAR cloud: (N, 3) x, y, z in metres in ``frame_id``."""
        self._cloud = (stamp_ns, frame_id, points)

    def for_frame(self, stamp_ns: int, frame_id: str, camera: Intrinsics | None
                  ) -> tuple[np.ndarray | None, str | None]:
        """(sparse map or None, why a cloud in time could not be used, or None)."""
        depth, cloud = self._depth, self._cloud
        if depth is not None and abs(depth[0] - stamp_ns) <= self.max_age_ns:
            return depth[1], None
        if cloud is None or abs(cloud[0] - stamp_ns) > self.max_age_ns:
            return None, None
        if camera is None:
            return None, "sparse points need camera_info to be projected"
        transform = self.camera_from_lidar
        if transform is None and self.lookup is not None:
            transform = self.lookup(frame_id, cloud[1], cloud[0])
        if transform is None:
            return None, (f"no transform from '{cloud[1]}' to '{frame_id}' for the sparse "
                          "points (TF, or the sparse_points_transform parameter)")
        return sparse_from_points(cloud[2], transform, camera), None
