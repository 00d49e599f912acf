"""`make demo`: the real node on a camera stream the project renders itself.

Renders synthetic driving frames, starts ``depth_node`` in its own process, publishes the
frames with camera_info at a fixed rate over loopback DDS, records what comes back, and
writes colourised depth PNGs, one point cloud as PLY, and a latency/throughput summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from tqdm import tqdm

from ..errors import first_line
from ..geometry import Intrinsics
from .cli import DEMO_DESCRIPTION, add_demo_arguments
from .conversions import camera_info_from_intrinsics, rgb_to_msg
from .live import (
    BEST_EFFORT,
    NodeProcess,
    Peer,
    latency_summary,
    match_outputs,
    random_domain_id,
    set_stamp,
    use_loopback,
)

OUTPUT_TOPICS = {"/demo/depth/image": Image, "/demo/depth/colorized": Image,
                 "/demo/depth/points": PointCloud2}


def render_frames(count: int, height: int, width: int, seed: int):
    """The demo's camera stream: frames from the project's synthetic scene generator."""
    from ..data.synth import SyntheticScenes

    scenes = SyntheticScenes(domain="outdoor", length=count, height=height, width=width,
                             seed=seed)
    return [scenes[i] for i in tqdm(range(count), desc="render", unit="frame")]


def write_ply(path: Path, cloud: np.ndarray) -> int:
    """Binary little-endian PLY of the valid points of a (rows, cols, 4|8) cloud array."""
    points = cloud.reshape(-1, cloud.shape[-1])
    points = points[np.isfinite(points[:, 2])]
    has_rgb = cloud.shape[-1] == 8
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(points)}",
              "property float x", "property float y", "property float z"]
    if has_rgb:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
        vertex = np.dtype([("xyz", "<f4", 3), ("rgb", "u1", 3)])
        rows = np.empty(len(points), vertex)
        rows["rgb"] = points[:, 4:5].copy().view(np.uint8)[:, [2, 1, 0]]
    else:
        vertex = np.dtype([("xyz", "<f4", 3)])
        rows = np.empty(len(points), vertex)
    rows["xyz"] = points[:, :3]
    with open(path, "wb") as handle:
        handle.write(("\n".join(header + ["end_header"]) + "\n").encode())
        handle.write(rows.tobytes())
    return len(points)


def run_demo(output: Path, model: str, frames: int, rate_hz: float, height: int, width: int,
             seed: int, device: str) -> dict:
    """Run the whole demo; return the summary that is also written to summary.json."""
    output.mkdir(parents=True, exist_ok=True)
    samples = render_frames(frames, height, width, seed)
    domain = random_domain_id()
    use_loopback(domain)
    node = NodeProcess(domain, {"model": model, "device": device, "threads": 2},
                       remaps={"image": "/demo/camera/image",
                               "camera_info": "/demo/camera/camera_info",
                               "depth/image": "/demo/depth/image",
                               "depth/camera_info": "/demo/depth/camera_info",
                               "depth/points": "/demo/depth/points",
                               "depth/colorized": "/demo/depth/colorized"},
                       log_path=output / "node.log")
    peer = Peer(domain)
    try:
        for topic, msg_type in OUTPUT_TOPICS.items():
            peer.listen(msg_type, topic)
        image_pub = peer.publisher(Image, "/demo/camera/image", BEST_EFFORT)
        info_pub = peer.publisher(CameraInfo, "/demo/camera/camera_info")
        first = samples[0]
        intrinsics = Intrinsics(first.fx, first.fy, first.cx, first.cy, width, height)
        messages = [rgb_to_msg(s.rgb, frame_id="demo_camera_optical") for s in samples]
        info = camera_info_from_intrinsics(intrinsics, messages[0].header)

        def publish(msg: Image) -> int:
            stamp = time.time_ns()
            set_stamp(msg, stamp)
            info.header = msg.header
            info_pub.publish(info)
            image_pub.publish(msg)
            return stamp

        # Until every output has answered: the node publishes only to matched subscribers,
        # and on a loaded machine the colourised topic can match a frame after the depth one.
        started = peer.publish_until(lambda: publish(messages[0]),
                                     lambda: all(peer.count(t) > 0 for t in OUTPUT_TOPICS),
                                     timeout=120)
        if not started:
            raise RuntimeError(f"the node never answered; its log:\n{node.log()}")
        peer.clear()
        sent = []
        begin = time.monotonic()
        for i, msg in enumerate(tqdm(messages, desc="stream", unit="frame")):
            sent.append(publish(msg))
            time.sleep(max(0.0, begin + (i + 1) / rate_hz - time.monotonic()))
        time.sleep(3.0)
    finally:
        peer.close()
        status = node.stop()
    return write_outputs(output, peer, sent, samples, rate_hz, status)


def write_outputs(output: Path, peer: Peer, sent: list[int], samples, rate_hz: float,
                  node_status: int) -> dict:
    """Depth PNGs, one PLY, summary.json and summary.md."""
    from .conversions import image_to_depth

    depth_out = match_outputs(peer, "/demo/depth/image", sent)
    colour_out = match_outputs(peer, "/demo/depth/colorized", sent)
    cloud_out = match_outputs(peer, "/demo/depth/points", sent)
    frames_dir = output / "frames"
    frames_dir.mkdir(exist_ok=True)
    for index, stamp in enumerate(sent):
        if stamp in colour_out:
            msg = colour_out[stamp][0]
            bgr = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
            rgb = cv2.cvtColor(samples[index].rgb, cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(frames_dir / f"{index:04d}.png"), np.vstack([rgb, bgr]))
    ply_points = 0
    if cloud_out:
        msg = cloud_out[max(cloud_out)][0]
        cloud = np.frombuffer(bytes(msg.data), np.float32).reshape(
            msg.height, msg.width, msg.point_step // 4)
        ply_points = write_ply(output / "cloud.ply", cloud)
    finite = np.concatenate([d[np.isfinite(d)] for d in
                             (image_to_depth(m) for m, _ in depth_out.values())] or [[]])
    # Stamps are the send times, so stamp + latency is the arrival time.
    last_arrival_ns = max((stamp + lat * 1e6 for stamp, (_, lat) in depth_out.items()),
                          default=0)
    span_s = (last_arrival_ns - sent[0]) / 1e9 if depth_out else 0.0
    summary = {
        "frames_sent": len(sent),
        "frames_answered": len(depth_out),
        "rate_sent_hz": rate_hz,
        # Answered frames over the time from the first frame sent to the last answer.
        "throughput_fps": round(len(depth_out) / span_s, 2) if span_s > 0 else 0.0,
        "latency_ms_depth": latency_summary([lat for _, lat in depth_out.values()]),
        "latency_ms_points": latency_summary([lat for _, lat in cloud_out.values()]),
        "ply_points": ply_points,
        "depth_range_m": ([round(float(finite.min()), 2), round(float(finite.max()), 2)]
                          if finite.size else None),
        "node_exit_status": node_status,
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    lat = summary["latency_ms_depth"]
    (output / "summary.md").write_text(
        f"# s2r_depth_ros demo\n\n{summary['frames_answered']} of {summary['frames_sent']} "
        f"frames answered at {summary['throughput_fps']} frames/s (sent at {rate_hz} Hz).\n\n"
        f"Latency (stamp -> depth arrival): p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms."
        f"\n\nFiles: frames/*.png (input above colourised depth), cloud.ply "
        f"({ply_points} points), summary.json, node.log.\n")
    return summary


def run_parsed(args: argparse.Namespace) -> int:
    """Run the demo with parsed arguments (:func:`~.cli.add_demo_arguments`); exit status."""
    if args.frames < 1 or args.rate <= 0:
        print("demo: error: --frames must be >= 1 and --rate > 0", file=sys.stderr)
        return 2
    try:
        summary = run_demo(Path(args.output), args.model, args.frames, args.rate, args.height,
                           args.width, args.seed, args.device)
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"demo: error: {first_line(exc)}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    print(f"results in {args.output}/ (summary.md, frames/, cloud.ply)")
    return 0 if summary["frames_answered"] else 1


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (the same options as `s2r-depth demo`)."""
    parser = argparse.ArgumentParser(description=DEMO_DESCRIPTION)
    add_demo_arguments(parser)
    return run_parsed(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
