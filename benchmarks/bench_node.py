"""Node end to end against the model alone, measured side by side in one run.

Usage: python benchmarks/bench_node.py [--model FILE|outdoor] [--frames 60] [--workers N]
       [--precision auto|fp32|...] [--input-aspect auto|squash|camera]
Without --model a randomly initialised lite network is used (same speed as trained weights).
Prints model-only frames/s two ways (`predict` in a loop on all cores; and frames in parallel
on the node's worker layout); node throughput with a camera faster than the model (open loop,
--camera-hz for --seconds: outputs per second, the node always takes the newest frame); node
latency with one frame in flight (closed loop: next frame once the previous cloud arrived);
and the per-frame cost of the node's own work (decode, point cloud, colourising, messages).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from common import median_ms
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from s2r_depth_ros.geometry import Intrinsics
from s2r_depth_ros.inference import colorize_depth, open_estimator
from s2r_depth_ros.inference.estimator import (
    BACKENDS,
    INPUT_ASPECTS,
    PRECISIONS,
    resolve_backend,
)
from s2r_depth_ros.inference.resize import RESIZES
from s2r_depth_ros.model import S2RDepthNet, preset, save_checkpoint
from s2r_depth_ros.ros.conversions import (
    PointCloudBuilder,
    bgr_to_msg,
    camera_info_from_intrinsics,
    depth_to_msg,
    image_to_rgb,
    rgb_to_msg,
)
from s2r_depth_ros.ros.diagnostics import STATS_WINDOW
from s2r_depth_ros.ros.live import (
    NodeProcess,
    Peer,
    latency_summary,
    random_domain_id,
    set_stamp,
    stamp_ns,
    use_loopback,
)
from s2r_depth_ros.ros.settings import NodeSettings


def model_only_fps(estimator, rgb: np.ndarray, frames: int, workers: int = 1) -> float:
    """Frames/s of ``predict`` called back to back by ``workers`` threads."""
    estimator.predict(rgb)

    def loop() -> None:
        for _ in range(frames // workers):
            estimator.predict(rgb)

    threads = [threading.Thread(target=loop) for _ in range(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return frames // workers * workers / (time.perf_counter() - start)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def node_runs(model: str, rgb: np.ndarray, frames: int, workers: int, threads: int,
              seconds: float, backend: str, camera_hz: float, raw: bool, resize: str,
              precision: str, input_aspect: str) -> dict:
    domain = random_domain_id()
    use_loopback(domain)
    height, width = rgb.shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        node = NodeProcess(domain, {"model": model, "device": "cpu", "threads": threads,
                                    "inference_workers": workers, "backend": backend,
                                    "resize": resize, "precision": precision,
                                    "input_aspect": input_aspect},
                           log_path=Path(tmp) / "node.log")
        peer = Peer(domain)
        try:
            peer.listen(Image, "/depth/image", raw=raw)
            peer.listen(PointCloud2, "/depth/points", raw=raw)
            peer.listen(DiagnosticArray, "/diagnostics")
            image_pub = peer.publisher(Image, "/image")
            info_pub = peer.publisher(CameraInfo, "/camera_info")
            msg = rgb_to_msg(rgb, frame_id="bench")
            info = camera_info_from_intrinsics(
                Intrinsics(500, 500, width / 2, height / 2, width, height), msg.header)

            def send() -> int:
                stamp = time.time_ns()
                set_stamp(msg, stamp)
                info_pub.publish(info)
                image_pub.publish(msg)
                return stamp

            assert peer.publish_until(send, lambda: peer.count("/depth/points") > 0, 120), \
                node.log()
            time.sleep(0.5)
            # Open loop: a camera at camera_hz; count the clouds that come back per second.
            peer.clear()
            cpu_before = cpu_seconds(node.proc.pid), cpu_seconds(os.getpid())
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                send()
                time.sleep(1 / camera_hz)
            busy = [(cpu_seconds(pid) - before) / (time.perf_counter() - start)
                    for pid, before in zip((node.proc.pid, os.getpid()), cpu_before)]
            time.sleep(1.2)
            diagnostics = {kv.key: kv.value
                           for kv in peer.received["/diagnostics"][-1].status[0].values}
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
            time.sleep(1.2)  # the next /diagnostics covers the last 200 frames
            closed_diagnostics = {kv.key: kv.value for kv in
                                  peer.received["/diagnostics"][-1].status[0].values}
        finally:
            peer.close()
            node.stop()
    return {"fps": len(latencies) / elapsed, "latency": latency_summary(latencies),
            "open_fps": open_fps, "open_latency": open_latency, "cores_busy": busy,
            "diagnostics": diagnostics, "closed_diagnostics": closed_diagnostics}


def node_work_breakdown(rgb: np.ndarray, depth: np.ndarray, repeats: int) -> dict[str, float]:
    height, width = rgb.shape[:2]
    header = Header(frame_id="bench")
    intrinsics = Intrinsics(500, 500, width / 2, height / 2, width, height)
    msg = rgb_to_msg(rgb, header)
    builder = PointCloudBuilder()
    return {
        "decode image": median_ms(lambda: image_to_rgb(msg), repeats),
        "depth message": median_ms(lambda: depth_to_msg(depth, header), repeats),
        "cloud xyzrgb (array + message)": median_ms(
            lambda: builder.build(depth, intrinsics, header, 1, rgb), repeats),
        "cloud xyz (array + message)": median_ms(
            lambda: builder.build(depth, intrinsics, header), repeats),
        "colourise + message": median_ms(
            lambda: bgr_to_msg(colorize_depth(depth), header), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint or shipped name (default: random lite)")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--workers", type=int, default=0, help="node inference_workers "
                        "(0 = the node's default)")
    parser.add_argument("--threads", type=int, default=0, help="node threads per worker "
                        "(0 = the node's default)")
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    parser.add_argument("--backend", default="auto", choices=BACKENDS)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="as the node's parameter (default auto, the node's default)")
    parser.add_argument("--resize", default="exact", choices=RESIZES,
                        help="the node's and model-only's resize (fast: approximate)")
    parser.add_argument("--input-aspect", default="auto", choices=INPUT_ASPECTS,
                        help="the node's input_aspect (network size for the camera's aspect)")
    parser.add_argument("--camera-hz", type=float, default=30.0, help="open-loop camera rate")
    parser.add_argument("--raw-subscriber", action="store_true", help="receive the outputs "
                        "as serialised bytes (like a C++ consumer such as rviz) instead of "
                        "deserialising them in Python")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    backend = resolve_backend(args.backend, torch.device("cpu"))
    workers, threads = NodeSettings(inference_workers=args.workers, threads=args.threads
                                    ).parallelism("cpu", backend, cores)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            model = str(save_checkpoint(S2RDepthNet(preset("lite")).eval(), Path(tmp) / "l.pt"))
        rng = np.random.default_rng(0)
        rgb = rng.integers(0, 255, (args.height, args.width, 3), dtype=np.uint8)

        # torch's thread count is per process: each layout gets its own estimator, re-applied.
        def layout_fps(n_workers: int, n_threads: int) -> float:
            estimator = open_estimator(model, device="cpu", threads=n_threads,
                                       backend=args.backend, workers=n_workers,
                                       resize=args.resize, precision=args.precision,
                                       input_aspect=args.input_aspect)
            return model_only_fps(estimator, rgb, args.frames, n_workers)

        before = (layout_fps(1, cores), layout_fps(workers, threads))
        node = node_runs(model, rgb, args.frames, workers, threads, args.seconds, args.backend,
                         args.camera_hz, args.raw_subscriber, args.resize, args.precision,
                         args.input_aspect)
        after = (layout_fps(1, cores), layout_fps(workers, threads))
        estimator = open_estimator(model, device="cpu", threads=cores, backend=args.backend,
                                   precision=args.precision, input_aspect=args.input_aspect)
        work = node_work_breakdown(rgb, estimator.predict(rgb), 20)
    plain_fps, parallel_fps = ((b + a) / 2 for b, a in zip(before, after))
    net_h, net_w = estimator.network_size(rgb.shape[:2])
    print(f"backend {estimator.backend} {estimator.precision}, model {estimator.config.name} at "
          f"{net_h}x{net_w} (input_aspect {args.input_aspect}), "
          f"input {args.width}x{args.height} rgb8 with points (xyzrgb); node: {workers} "
          f"worker(s) x {threads} thread(s); {cores} cores; camera {args.camera_hz:g} Hz; "
          f"{'raw' if args.raw_subscriber else 'Python'} subscriber; resize {args.resize}\n")
    print("| measure | value |\n|---|---|")
    print(f"| model only, `predict` in a loop on {cores} threads, frames/s | {plain_fps:.1f} "
          f"(before {before[0]:.1f}, after {after[0]:.1f}) |")
    print(f"| model only, {workers} frames in parallel x {threads} thread(s), frames/s | "
          f"{parallel_fps:.1f} (before {before[1]:.1f}, after {after[1]:.1f}) |")
    print(f"| node throughput, {args.camera_hz:g} Hz camera (open loop), clouds/s | "
          f"{node['open_fps']:.1f} |")
    print(f"| node / model-only (loop; parallel) | {node['open_fps'] / plain_fps:.2f}; "
          f"{node['open_fps'] / parallel_fps:.2f} |")
    lat = node["open_latency"]
    print(f"| open loop latency stamp -> cloud arrival p50 / p99 ms | {lat.get('p50')} / "
          f"{lat.get('p99')} |")
    diag = node["diagnostics"]
    print(f"| open loop, node's /diagnostics: inference p50 ms; outputs (build + publish) p50 "
          f"ms; latency at publish p50 ms | {diag['inference_ms_p50']}; "
          f"{diag['outputs_ms_p50']}; {diag['latency_ms_p50']} |")
    print(f"| open loop, CPU cores busy: node; camera + subscriber (benchmark process) | "
          f"{node['cores_busy'][0]:.2f}; {node['cores_busy'][1]:.2f} of {cores} |")
    lat = node["latency"]
    print(f"| one frame in flight (closed loop): frames/s, latency p50 / p99 ms | "
          f"{node['fps']:.1f}, {lat.get('p50')} / {lat.get('p99')} |")
    print(f"| closed loop latency p50 - model-only frame time (loop), ms | "
          f"{lat.get('p50', 0) - 1000 / plain_fps:.1f} |")
    diag = node["closed_diagnostics"]
    # The node's statistics cover its last STATS_WINDOW frames: with fewer closed-loop frames
    # the window still holds open-loop (overloaded) ones, and the row says so.
    window = (f"last {STATS_WINDOW} frames, all closed-loop"
              if args.frames >= STATS_WINDOW else
              f"last {STATS_WINDOW} frames, {STATS_WINDOW - args.frames} of them open-loop; "
              f"--frames {STATS_WINDOW} for closed-loop only")
    print(f"| closed loop, node's /diagnostics ({window}): "
          f"inference p50 ms; outputs (build + publish) p50 / p99 ms | "
          f"{diag['inference_ms_p50']}; {diag['outputs_ms_p50']} / {diag['outputs_ms_p99']} |")
    for name, ms in work.items():
        print(f"| {name}, ms | {ms:.2f} |")


if __name__ == "__main__":
    main()
