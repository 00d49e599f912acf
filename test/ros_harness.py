"""Test helpers for real-DDS tests: pictures and messages in every encoding.

The node process and the peer come from :mod:`s2r_depth_ros.ros.live`, the same code the
demo and the replay tool use; this file only makes test inputs.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo, Image


def rgb_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured RGB test picture (deterministic)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                     (x + y) % 256], axis=2)
    noise = rng.integers(0, 40, size=(height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def image_msg(rgb: np.ndarray, encoding: str = "rgb8", stamp: int = 1,
              frame_id: str = "camera_optical") -> Image:
    """Encode an RGB array in any of the colour encodings the node accepts."""
    import cv2

    conversions = {"rgb8": None, "bgr8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGB2RGBA,
                   "bgra8": cv2.COLOR_RGB2BGRA, "mono8": cv2.COLOR_RGB2GRAY}
    code = conversions[encoding]
    pixels = rgb if code is None else cv2.cvtColor(rgb, code)
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                step=pixels.shape[1] * (pixels.shape[2] if pixels.ndim == 3 else 1),
                data=pixels.tobytes())
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    return msg


def camera_info_msg(width: int, height: int, fx: float = 500.0, fy: float = 510.0,
                    cx: float | None = None, cy: float | None = None,
                    frame_id: str = "camera_optical") -> CameraInfo:
    cx = (width - 1) / 2 if cx is None else cx
    cy = (height - 1) / 2 if cy is None else cy
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    info.header.frame_id = frame_id
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.d = [0.0] * 5
    return info


def set_parameters(peer, **values) -> list:
    """Set the node's parameters as `ros2 param set` does; one SetParametersResult each."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    client = peer.node.create_client(SetParameters, "/depth_node/set_parameters")
    request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()
                                                for name, value in values.items()])
    return peer.call(client, request, resend_after=5.0).results  # the same values again: safe


class LifecycleClient:
    """The lifecycle node's get_state and change_state services, as `ros2 lifecycle` uses them."""

    def __init__(self, peer) -> None:
        from lifecycle_msgs.srv import ChangeState, GetState

        self.peer = peer
        self.get = peer.node.create_client(GetState, "/depth_node/get_state")
        self.change = peer.node.create_client(ChangeState, "/depth_node/change_state")

    def state(self) -> str:
        """The current state's label (safe to resend)."""
        from lifecycle_msgs.srv import GetState

        return self.peer.call(self.get, GetState.Request(), resend_after=3.0).current_state.label

    def transition(self, transition_id: int) -> tuple[bool | None, str]:
        """Ask for a transition; return (success, the state afterwards).

        A transition is not safe to send twice, so it is sent once; if its answer is lost (see
        ``Peer.call``), success is None and the state tells what happened.
        """
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        try:
            success = self.peer.call(self.change, ChangeState.Request(
                transition=Transition(id=transition_id)), timeout=15.0).success
        except TimeoutError:
            success = None
        return success, self.state()
