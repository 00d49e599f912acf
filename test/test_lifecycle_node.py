"""The managed variant: outputs only while active, driven through the lifecycle services."""

from __future__ import annotations

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from ros_harness import camera_info_msg, image_msg, rgb_image, set_parameters
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
        change = peer.node.create_client(ChangeState, "/depth_node/change_state")
        get = peer.node.create_client(GetState, "/depth_node/get_state")
        assert peer.call(get, GetState.Request()).current_state.label == "unconfigured"

        def request_frame(stamp: int, timeout: float) -> bool:
            msg = image_msg(rgb_image(120, 160), "rgb8", stamp=stamp)
            return peer.publish_until(
                lambda: (info_pub.publish(camera_info_msg(160, 120)), image_pub.publish(msg)),
                lambda: any(stamp_ns(m) == stamp for m in peer.received["/depth/image"]),
                timeout=timeout)

        assert peer.call(change, ChangeState.Request(
            transition=Transition(id=Transition.TRANSITION_CONFIGURE))).success
        assert peer.call(get, GetState.Request()).current_state.label == "inactive"
        assert not request_frame(1_000, timeout=4.0)  # configured but inactive: silent
        [refused] = set_parameters(peer, threads=1)
        assert not refused.successful and "cleanup" in refused.reason

        assert peer.call(change, ChangeState.Request(
            transition=Transition(id=Transition.TRANSITION_ACTIVATE))).success
        assert request_frame(2_000, timeout=60.0), node.log()

        assert peer.call(change, ChangeState.Request(
            transition=Transition(id=Transition.TRANSITION_DEACTIVATE))).success
        peer.clear()
        assert not request_frame(3_000, timeout=4.0)

        assert peer.call(change, ChangeState.Request(
            transition=Transition(id=Transition.TRANSITION_CLEANUP))).success
        assert peer.call(get, GetState.Request()).current_state.label == "unconfigured"
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
        change = peer.node.create_client(ChangeState, "/depth_node/change_state")
        result = peer.call(change, ChangeState.Request(
            transition=Transition(id=Transition.TRANSITION_CONFIGURE)))
        assert not result.success
        assert node.alive()
        assert "checkpoint not found" in node.log()
    finally:
        peer.close()
        node.stop()
