"""The managed variant: outputs only while active, driven through the lifecycle services."""

from __future__ import annotations

from lifecycle_msgs.msg import Transition
from ros_harness import LifecycleClient, camera_info_msg, image_msg, rgb_image, set_parameters
from sensor_msgs.msg import CameraInfo, Image

from s2r_depth_ros.ros.live import NodeProcess, Peer, random_domain_id, stamp_ns


def test_lifecycle_node_publishes_only_when_active(tmp_path, tiny_checkpoint):
    domain = random_domain_id()
    node = NodeProcess(domain, {"model": str(tiny_checkpoint), "device": "cpu", "threads": 1},
                       log_path=tmp_path / "node.log", module="s2r_depth_ros.ros.lifecycle_node")
    peer = Peer(domain)
    try:
        peer.listen(Image, "/depth/image")
        image_pub = peer.publisher(Image, "/image")
        info_pub = peer.publisher(CameraInfo, "/camera_info")
        lifecycle = LifecycleClient(peer)
        assert lifecycle.state() == "unconfigured"

        def request_frame(stamp: int, timeout: float) -> bool:
            msg = image_msg(rgb_image(120, 160), "rgb8", stamp=stamp)
            return peer.publish_until(
                lambda: (info_pub.publish(camera_info_msg(160, 120)), image_pub.publish(msg)),
                lambda: any(stamp_ns(m) == stamp for m in peer.received["/depth/image"]),
                timeout=timeout)

        def expect(transition: int, state: str) -> None:
            success, now = lifecycle.transition(transition)
            assert success is not False and now == state, node.log()

        expect(Transition.TRANSITION_CONFIGURE, "inactive")
        assert not request_frame(1_000, timeout=4.0)  # configured but inactive: silent
        [refused] = set_parameters(peer, threads=1)
        assert not refused.successful and "cleanup" in refused.reason

        expect(Transition.TRANSITION_ACTIVATE, "active")
        assert request_frame(2_000, timeout=60.0), node.log()

        expect(Transition.TRANSITION_DEACTIVATE, "inactive")
        peer.clear()
        assert not request_frame(3_000, timeout=4.0)

        expect(Transition.TRANSITION_CLEANUP, "unconfigured")
        [accepted] = set_parameters(peer, model="indoor")  # unconfigured: configure checks
        assert accepted.successful
    finally:
        peer.close()
        assert node.stop() == 0, node.log()


def test_lifecycle_configure_fails_cleanly_on_a_bad_model(tmp_path):
    domain = random_domain_id()
    node = NodeProcess(domain, {"model": str(tmp_path / "missing.pt")},
                       log_path=tmp_path / "node.log", module="s2r_depth_ros.ros.lifecycle_node")
    peer = Peer(domain)
    try:
        success, state = LifecycleClient(peer).transition(Transition.TRANSITION_CONFIGURE)
        assert success is not True and state == "unconfigured", node.log()
        assert node.alive()
        assert "no such file" in node.log()
    finally:
        peer.close()
        # Idle and unconfigured (no timer, no traffic), it still acts on Ctrl-C.
        assert node.stop() == 0, node.log()
