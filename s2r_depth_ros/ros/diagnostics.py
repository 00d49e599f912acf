"""The node's counters and timings, and the /diagnostics status built from them."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from ..scale import ScaleResult

STATS_WINDOW = 200


@dataclass
class NodeStats:
    """Counters and recent timings reported on /diagnostics."""

    received: int = 0
    processed: int = 0
    out_of_order: int = 0
    bad: int = 0
    missing_upstream: int = 0  # lost before reaching the node (stamp gaps)
    skipped_no_camera_info: int = 0
    skipped_no_subscribers: int = 0
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    inference_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    outputs_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    processed_times: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    scale: ScaleResult | None = None  # the newest published frame's scale correction

    def rate_hz(self) -> float:
        """Processed frames per second over the recent window."""
        times = list(self.processed_times)
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])


def depth_status(node_name: str, hardware_id: str, stats: NodeStats, extra: dict,
                 recent_missing: int = 0, in_flight: int = 0) -> DiagnosticStatus:
    """The node's status, named '<node name>: depth' as diagnostic_updater names its tasks.

    WARN only for faults: frames that arrive and are never processed for a reason other
    than nobody listening (lazy outputs skip those on purpose), or frames lost on the way
    since the last report (``recent_missing``). Up to ``in_flight`` frames (the frame slot
    and the inference workers) may have arrived without an outcome yet: a report taken
    between a frame's arrival and its lazy skip is not a fault.
    """
    status = DiagnosticStatus(name=f"{node_name}: depth", hardware_id=hardware_id,
                              level=DiagnosticStatus.OK, message="ok")
    if stats.received and not stats.processed:
        if stats.received - stats.skipped_no_subscribers > in_flight:
            status.level, status.message = (DiagnosticStatus.WARN,
                                            "frames received, none processed")
        elif stats.skipped_no_subscribers:
            status.message = "idle: nobody subscribes to an output (lazy)"
    if recent_missing:
        status.level = DiagnosticStatus.WARN
        status.message = (f"{recent_missing} frames lost before reaching the node "
                          "(see README, Transport)")
    values = {
        "frames_received": stats.received,
        "frames_processed": stats.processed,
        "frames_missing_upstream": stats.missing_upstream,
        "frames_bad": stats.bad,
        "frames_skipped_no_camera_info": stats.skipped_no_camera_info,
        "frames_skipped_no_subscribers": stats.skipped_no_subscribers,
        "rate_hz": round(stats.rate_hz(), 2),
        **extra,
    }
    if stats.scale is not None:
        # The metric-scale correction in use: factor, source (none / ground / sparse), the
        # support of the estimate it rests on, its frame-to-frame jitter, and why the newest
        # frame had no estimate of its own (a held or no factor).
        values.update({"scale": round(stats.scale.scale, 4), "scale_source": stats.scale.source,
                       "scale_support": round(stats.scale.support, 3),
                       "scale_jitter": round(stats.scale.jitter, 4),
                       "scale_reason": stats.scale.reason})
    for name, series in (("latency_ms", stats.latency_ms), ("inference_ms", stats.inference_ms),
                         ("outputs_ms", stats.outputs_ms)):
        if series:
            arr = np.asarray(series)
            values[f"{name}_p50"] = round(float(np.percentile(arr, 50)), 2)
            values[f"{name}_p99"] = round(float(np.percentile(arr, 99)), 2)
    status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
    return status
