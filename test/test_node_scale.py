"""Metric scale in the node, end to end over DDS: sparse depth scales depth and points, the
support rule refuses too few samples, and /diagnostics says which scale is in use."""

from __future__ import annotations

import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from ros_harness import camera_info_msg, image_msg, rgb_image
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from test_depth_node import Session, cloud_array, float_image

from s2r_depth_ros.ros.conversions import depth_to_msg
from s2r_depth_ros.ros.live import stamp_ns


def sparse_msg(depth: np.ndarray, count: int, stamp: int, seed: int = 0) -> Image:
    """``count`` pixels of ``depth`` as a 32FC1 sparse depth image (NaN elsewhere)."""
    rng = np.random.default_rng(seed)
    valid = np.flatnonzero(np.isfinite(depth))
    sparse = np.full(depth.shape, np.nan, np.float32)
    picked = rng.choice(valid, count, replace=False)
    sparse.flat[picked] = depth.flat[picked]
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    return depth_to_msg(sparse, header)


def diagnostics(session: Session) -> dict[str, str]:
    array = session.peer.received["/diagnostics"][-1]
    return {kv.key: kv.value for kv in array.status[0].values}


def test_sparse_depth_scales_depth_and_points_and_too_few_samples_are_refused(
        tmp_path, tiny_checkpoint):
    s = Session(tmp_path, tiny_checkpoint, scale_mode="sparse", border_margin=0,
                scale_hold_timeout=5.0, diagnostics_period=0.2)
    s.peer.listen(DiagnosticArray, "/diagnostics")
    sparse_pub = s.peer.publisher(Image, "/sparse_depth")
    info = camera_info_msg(160, 120)
    rgb = rgb_image(120, 160, seed=3)
    try:
        # No sparse depth yet: the network's metres, source none.
        first = image_msg(rgb, "rgb8", stamp=31_000_000_000, frame_id="cam")
        plain = s.request(first, info)
        assert plain is not None, s.node.log()
        plain = float_image(plain)
        finite = np.isfinite(plain)

        assert s.peer.publish_until(lambda: None, lambda: sparse_pub.get_subscription_count(),
                                    timeout=30), s.node.log()

        def frame_with(sparse: Image, image: Image, topic: str = "/depth/points"):
            def publish():
                # The sparse depth first: the node pairs a frame with the newest sample set
                # whose stamp is within sparse_max_age of the frame's.
                s.info_pub.publish(info)
                sparse_pub.publish(sparse)
                time.sleep(0.2)
                s.image_pub.publish(image)
            answered = lambda: any(stamp_ns(m) == stamp_ns(image)  # noqa: E731
                                   for m in list(s.peer.received[topic]))
            assert s.peer.publish_until(publish, answered, timeout=60), s.node.log()
            return s.matching("/depth/image", image)[0], s.matching("/depth/points", image)[0]

        # 2 % of the pixels measured at 3x the network's depth, at the frame's stamp.
        second = image_msg(rgb, "rgb8", stamp=32_000_000_000, frame_id="cam")
        depth, points = frame_with(sparse_msg(plain * 3.0, 384, 32_000_000_000), second)
        scaled = float_image(depth)
        assert np.allclose(scaled[finite], plain[finite] * 3.0, rtol=1e-3)
        cloud = cloud_array(points)
        assert np.allclose(cloud[:, :, 2][finite], scaled[finite], rtol=1e-5)
        assert s.peer.publish_until(lambda: None, lambda: s.peer.count("/diagnostics") > 0
                                    and diagnostics(s).get("scale_source") == "sparse", 10)
        values = diagnostics(s)
        assert float(values["scale"]) == pytest.approx(3.0, rel=1e-3)
        assert float(values["scale_support"]) == pytest.approx(1.0)

        # 10 samples (the support rule asks for 20): refused, the last factor is held.
        third = image_msg(rgb, "rgb8", stamp=32_100_000_000, frame_id="cam")
        depth, _ = frame_with(sparse_msg(plain * 6.0, 10, 32_100_000_000), third)
        assert np.allclose(float_image(depth)[finite], plain[finite] * 3.0, rtol=1e-3)
        assert s.peer.publish_until(lambda: None, lambda: "20" in diagnostics(s).get(
            "scale_reason", ""), 10), diagnostics(s)
    finally:
        assert s.close() == 0, s.node.log()

