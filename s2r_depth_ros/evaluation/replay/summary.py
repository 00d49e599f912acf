"""What a replay measured: replay.json, the printed summary, the HTML report.

Latency is each output's arrival minus the wall time at which the input with that stamp was
published (a stamp -> publish-time map), never "arrival minus stamp": with the bag's
recorded stamps the node's own latency (its clock minus the stamp) measures how old the
recording is, so that figure is left out of the node's diagnostics unless the stamps are
fresh (``--restamp``) or the node runs on the bag's clock (``--clock``). The node's frame
counters are reported from the end of the warm-up on.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ...ros.live import latency_summary
from ..report import render_replay_report
from .recorder import OUTPUT_TYPES, OutputRecorder

if TYPE_CHECKING:
    from .player import Replay

# Node diagnostics that count frames since the node started.
NODE_COUNTERS = ("frames_received", "frames_processed", "frames_dropped", "frames_bad")


def node_diagnostics(final: dict[str, str], at_warmup: dict[str, str],
                     stamps_fresh: bool) -> dict:
    """The node's last diagnostics, counters from the warm-up on, latency only if meaningful."""
    values: dict = {}
    for key, value in final.items():
        if key.startswith("latency_ms") and not stamps_fresh:
            continue
        if key in NODE_COUNTERS and key in at_warmup:
            try:
                value = int(value) - int(at_warmup[key])
            except ValueError:
                pass
        values[key] = value
    if final and not stamps_fresh:
        values["latency_ms"] = ("left out: the node measures its clock minus the recorded "
                                "stamps (use --restamp or --clock for its own figure)")
    return values


def summarise(replay: Replay, recorder: OutputRecorder | None, written: dict | None,
              read_error: str | None) -> dict:
    """The dict written to replay.json."""
    o = replay.options
    arrivals = {name: recorder.arrivals_of(name) for name in OUTPUT_TYPES}
    publish = {}
    for frame in replay.sent:
        publish.setdefault(frame.stamp_ns, frame.publish_ns)
    latency = {name: {s: (t - publish[s]) / 1e6 for s, t in arrivals[name].items()
                      if s in publish} for name in OUTPUT_TYPES}
    answered = latency["image"]
    first_log = replay.sent[0].log_time_ns if replay.sent else 0
    frames = []
    for frame in replay.sent:
        frames.append({
            "index": frame.index, "stamp_ns": frame.stamp_ns,
            "recorded_offset_s": round((frame.log_time_ns - first_log) / 1e9, 6),
            "publish_offset_s": round((frame.publish_ns - replay.start_ns) / 1e9, 6),
            "latency_ms": {name: round(latency[name][frame.stamp_ns], 3)
                           for name in OUTPUT_TYPES if frame.stamp_ns in latency[name]}})
    sent_stamps = [f.stamp_ns for f in replay.sent]
    dropped = [s for s in dict.fromkeys(sent_stamps) if s not in answered]
    publish_span = (replay.sent[-1].publish_ns - replay.sent[0].publish_ns) / 1e9 if len(
        replay.sent) > 1 else 0.0
    last_arrival = max((arrivals["image"][s] for s in answered), default=0)
    busy = (last_arrival - replay.sent[0].publish_ns) / 1e9 if answered else 0.0
    recorded_span = (replay.sent[-1].log_time_ns - first_log) / 1e9 if replay.sent else 0.0
    pacing_error = [((f.publish_ns - replay.start_ns) - (f.log_time_ns - first_log) / o.rate)
                    / 1e6 for f in replay.sent]
    summary = {
        "command": "replay",
        "bag": str(o.bag), "image_topic": o.image_topic,
        "camera_info_topic": replay.source.camera_info_topic,
        "mode": "max_speed" if o.max_speed else "rate",
        "rate": None if o.max_speed else o.rate,
        "clock": o.clock, "stamps": "restamped" if o.restamp else "original",
        "node": {"attached": o.attach, "domain_id": replay.domain,
                 "params": replay.node_params,
                 "exit_status": replay.node_status,
                 "outputs_per_frame": sorted(replay.expected_outputs),
                 "warmup_publishes": replay.warmup_publishes,
                 "diagnostics": node_diagnostics(
                     recorder.diagnostics if recorder else {}, replay.warmup_diagnostics,
                     stamps_fresh=o.clock or o.restamp)},
        "frames_in_bag": replay.source.image_count,
        "frames_sent": len(replay.sent), "camera_infos_sent": replay.camera_infos_sent,
        "frames_answered": len(answered), "frames_dropped": len(dropped),
        "dropped_stamps_ns": dropped, "duplicate_stamps": replay.duplicate_stamps,
        "recorded_span_s": round(recorded_span, 4),
        "replayed_span_s": round(publish_span, 4),
        "input_rate_hz": round((len(replay.sent) - 1) / publish_span, 2)
        if publish_span > 0 else None,
        "throughput_fps": round(len(answered) / busy, 2) if busy > 0 else None,
        "latency_ms": {f"{o.depth_namespace.rstrip('/')}/{name}":
                       latency_summary(list(values.values()))
                       for name, values in latency.items()},
        "pacing_error_ms": None if o.max_speed else latency_summary(
            [abs(e) for e in pacing_error]),
        "frames": frames,
        "read_error": read_error,
    }
    if o.clock:
        # Bag time runs at `rate` x wall time from the replay's start.
        summary["latency_bag_time_ms"] = latency_summary(
            [ms * o.rate for ms in answered.values()])
    if written is not None:
        summary["written_bag"] = {"path": str(o.write_bag), "storage": o.write_storage,
                                  "messages": written}
    return summary

def write_outputs(replay: Replay, summary: dict, recorder: OutputRecorder | None) -> None:
    """replay.json and report.html in the output folder."""
    out = replay.options.output
    (out / "replay.json").write_text(json.dumps(summary, indent=2))
    thumbnails = recorder.thumbnails if recorder else {}
    pictures = [(replay.input_thumbnails[s], thumbnails.get(s))
                for s in replay.input_thumbnails]
    (out / "report.html").write_text(render_replay_report(summary, pictures))


def summary_text(summary: dict) -> str:
    """The one-screen summary printed after a replay."""
    mode = ("max speed (closed loop)" if summary["mode"] == "max_speed"
            else f"rate {summary['rate']:g}x")
    node = summary["node"]
    lines = [
        f"replay of {summary['bag']}: {summary['frames_sent']} of {summary['frames_in_bag']} "
        f"images on {summary['image_topic']}, {mode}, {summary['stamps']} stamps"
        + (", /clock from bag time" if summary["clock"] else ""),
        f"node: {'attached' if node['attached'] else 'started'} in domain {node['domain_id']}"
        + ("" if node["exit_status"] is None else f", exit status {node['exit_status']}")
        + f"; outputs per frame: {', '.join(node['outputs_per_frame'])}",
        f"answered {summary['frames_answered']}/{summary['frames_sent']}, dropped "
        f"{summary['frames_dropped']}; throughput {summary['throughput_fps']} frames/s, "
        f"input {summary['input_rate_hz']} Hz",
        f"recorded span {summary['recorded_span_s']} s, replayed span "
        f"{summary['replayed_span_s']} s",
        f"{'latency ms (publish -> arrival)':<34}{'n':>4}{'p50':>9}{'p95':>9}{'p99':>9}"
        f"{'max':>9}",
    ]
    for topic, stats in summary["latency_ms"].items():
        values = "".join(f"{stats.get(k, '-'):>9}" for k in ("p50", "p95", "p99", "max"))
        lines.append(f"  {topic:<32}{stats['count']:>4}{values}")
    if summary.get("latency_bag_time_ms"):
        bag = summary["latency_bag_time_ms"]
        lines.append(f"  depth in bag time: p50 {bag.get('p50')} ms, p99 {bag.get('p99')} ms")
    if summary.get("pacing_error_ms"):
        pacing = summary["pacing_error_ms"]
        lines.append(f"pacing error: p50 {pacing.get('p50')} ms, max {pacing.get('max')} ms")
    diag = node["diagnostics"]
    if diag:
        # Latency is there only when meaningful (see node_diagnostics).
        keys = ("frames_received", "frames_processed", "frames_dropped", "latency_ms_p50",
                "inference_ms_p50")
        lines.append("node diagnostics after warm-up: " + ", ".join(
            f"{k} {diag[k]}" for k in keys if k in diag))
        if diag.get("scale_source", "none") != "none" or diag.get("scale_reason"):
            # The node's metric-scale correction (scale_mode): factor, source, jitter.
            lines.append(f"node scale: {diag.get('scale')} from {diag.get('scale_source')}, "
                         f"support {diag.get('scale_support')}, jitter "
                         f"{diag.get('scale_jitter')}"
                         + (f" ({diag['scale_reason']})" if diag.get("scale_reason") else ""))
    if summary.get("written_bag"):
        written = summary["written_bag"]
        lines.append(f"bag written: {written['path']} ({sum(written['messages'].values())} "
                     "messages)")
    return "\n".join(lines)


