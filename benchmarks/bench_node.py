"""Node end to end against the model alone, measured side by side in one run.

Usage: python benchmarks/bench_node.py [--model FILE|outdoor] [--frames 60]
Without --model a randomly initialised lite network is used (same speed as trained weights).
Prints model-only frames/s; node throughput with a camera faster than the model (open loop,
30 Hz for --seconds: outputs per second, the node always takes the newest frame); node
latency with one frame in flight (closed loop: next frame once the previous cloud arrived);
and the per-frame cost of the node's own work (decode, point cloud, colourising, messages).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import median_ms
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from s2r_depth_ros.geometry import Intrinsics, depth_to_cloud_array
from s2r_depth_ros.inference import colorize_depth, open_estimator
from s2r_depth_ros.model import S2RDepthNet, preset, save_checkpoint
from s2r_depth_ros.ros.conversions import (
    bgr_to_msg,
    camera_info_for,
    cloud_to_msg,
    depth_to_msg,
    image_to_rgb,
    rgb_to_msg,
)
from s2r_depth_ros.ros.live import (
    NodeProcess,
    Peer,
    latency_summary,
    random_domain_id,
    set_stamp,
    stamp_ns,
    use_loopback,
)


def model_only_fps(estimator, rgb: np.ndarray, frames: int) -> float:
    estimator.predict(rgb)
    start = time.perf_counter()
    for _ in range(frames):
        estimator.predict(rgb)
    return frames / (time.perf_counter() - start)


def node_runs(model: str, rgb: np.ndarray, frames: int, threads: int, seconds: float,
              backend: str) -> dict:
    domain = random_domain_id()
    use_loopback(domain)
    height, width = rgb.shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        node = NodeProcess(domain, {"model": model, "device": "cpu", "threads": threads,
                                    "backend": backend},
                           log_path=Path(tmp) / "node.log")
        peer = Peer(domain)
        try:
            peer.listen(Image, "/depth/image")
            peer.listen(PointCloud2, "/depth/points")
            image_pub = peer.publisher(Image, "/image")
            info_pub = peer.publisher(CameraInfo, "/camera_info")
            msg = rgb_to_msg(rgb, frame_id="bench")
            info = camera_info_for(None, Intrinsics(500, 500, width / 2, height / 2, width,
                                                    height), msg.header)

            def send() -> int:
                stamp = time.time_ns()
                set_stamp(msg, stamp)
                info_pub.publish(info)
                image_pub.publish(msg)
                return stamp

            assert peer.publish_until(send, lambda: peer.count("/depth/points") > 0, 120), \
                node.log()
            time.sleep(0.5)
            # Open loop: a 30 Hz camera; count the clouds that come back per second.
            peer.clear()
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                send()
                time.sleep(1 / 30)
            time.sleep(1.0)
            arrivals = peer.arrival["/depth/points"]
            open_fps = (len(arrivals) - 1) / ((arrivals[-1] - arrivals[0]) / 1e9)
            open_latency = latency_summary(
                [(a - stamp_ns(m)) / 1e6 for m, a in zip(peer.received["/depth/points"],
                                                           arrivals)])
            time.sleep(0.5)
            peer.clear()
            latencies = []
            start = time.perf_counter()
            for _ in range(frames):
                stamp = send()
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    clouds = peer.received["/depth/points"]
                    if clouds and stamp_ns(clouds[-1]) == stamp:
                        latencies.append((peer.arrival["/depth/points"][-1] - stamp) / 1e6)
                        break
                    time.sleep(0.0005)
            elapsed = time.perf_counter() - start
        finally:
            peer.close()
            node.stop()
    return {"fps": len(latencies) / elapsed, "latency": latency_summary(latencies),
            "open_fps": open_fps, "open_latency": open_latency}


def node_work_breakdown(rgb: np.ndarray, depth: np.ndarray, repeats: int) -> dict[str, float]:
    height, width = rgb.shape[:2]
    header = Header(frame_id="bench")
    intrinsics = Intrinsics(500, 500, width / 2, height / 2, width, height)
    msg = rgb_to_msg(rgb, header)
    return {
        "decode image": median_ms(lambda: image_to_rgb(msg), repeats),
        "depth message": median_ms(lambda: depth_to_msg(depth, header), repeats),
        "cloud xyzrgb (array + message)": median_ms(
            lambda: cloud_to_msg(depth_to_cloud_array(depth, intrinsics, 1, rgb), header),
            repeats),
        "cloud xyz (array + message)": median_ms(
            lambda: cloud_to_msg(depth_to_cloud_array(depth, intrinsics), header), repeats),
        "colourise + message": median_ms(
            lambda: bgr_to_msg(colorize_depth(depth), header), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint or shipped name (default: random lite)")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    parser.add_argument("--backend", default="eager", help="eager, compile or onnxruntime")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            model = str(save_checkpoint(S2RDepthNet(preset("lite")).eval(), Path(tmp) / "l.pt"))
        estimator = open_estimator(model, device="cpu", threads=args.threads,
                                   backend=args.backend)
        rng = np.random.default_rng(0)
        rgb = rng.integers(0, 255, (args.height, args.width, 3), dtype=np.uint8)
        depth = estimator.predict(rgb)
        before = model_only_fps(estimator, rgb, args.frames)
        node = node_runs(model, rgb, args.frames, args.threads, args.seconds, args.backend)
        after = model_only_fps(estimator, rgb, args.frames)
        work = node_work_breakdown(rgb, depth, 20)
    model_fps = (before + after) / 2
    cfg = estimator.config
    print(f"backend {args.backend}, model {cfg.name} at {cfg.input_height}x{cfg.input_width}, "
          f"input "
          f"{args.width}x{args.height} rgb8 with points (xyzrgb), {args.threads} threads\n")
    print("| measure | value |\n|---|---|")
    print(f"| model only (predict incl. resize/upsample), frames/s | {model_fps:.1f} "
          f"(before {before:.1f}, after {after:.1f}) |")
    print(f"| node throughput, 30 Hz camera (open loop), clouds/s | {node['open_fps']:.1f} |")
    print(f"| node / model-only | {node['open_fps'] / model_fps:.2f} |")
    lat = node["open_latency"]
    print(f"| open loop latency stamp -> cloud arrival p50 / p99 ms | {lat.get('p50')} / "
          f"{lat.get('p99')} |")
    lat = node["latency"]
    print(f"| one frame in flight (closed loop): frames/s, latency p50 / p99 ms | "
          f"{node['fps']:.1f}, {lat.get('p50')} / {lat.get('p99')} |")
    print(f"| node overhead per frame, ms (closed-loop latency p50 - model-only) | "
          f"{lat.get('p50', 0) - 1000 / model_fps:.1f} |")
    for name, ms in work.items():
        print(f"| {name}, ms | {ms:.2f} |")


if __name__ == "__main__":
    main()
