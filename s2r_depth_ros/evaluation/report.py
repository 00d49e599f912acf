"""The one report module: self-contained HTML pages with tables, inline SVG plots and PNGs.

``eval``/``eval-bag`` (:func:`render_report`) and ``replay`` (:func:`render_replay_report`)
share the page, the run-metadata table, the plots, the thumbnails and the colour bar.
"""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .metrics import METRIC_NAMES

if TYPE_CHECKING:
    from .runner import Evaluation

# Line colours of the plots, one per method, in method order.
PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.panels { display: flex; gap: 4px; flex-wrap: wrap; margin-bottom: 0.8em; }
.panels figure { margin: 0; font-size: 0.8em; }
.plots { display: flex; gap: 16px; flex-wrap: wrap; }
table.info td.info { text-align: left; }
table.info table.info { margin: 0; }
"""


THUMB_WIDTH = 320


def thumbnail(image: np.ndarray, sparse: bool = False) -> np.ndarray:
    """A BGR image at THUMB_WIDTH; sparse maps are dilated first so points stay visible."""
    height, width = image.shape[:2]
    factor = THUMB_WIDTH / width
    if sparse and factor < 1:
        size = max(int(round(1 / factor)), 1) + 1
        image = cv2.dilate(image, np.ones((size, size), np.uint8))
    size = (THUMB_WIDTH, max(int(round(height * factor)), 1))
    return cv2.resize(np.ascontiguousarray(image), size,
                      interpolation=cv2.INTER_NEAREST if sparse else cv2.INTER_AREA)


def page(title: str, body: list[str]) -> str:
    """A complete HTML page around ``body`` (HTML fragments)."""
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>\n" + "\n".join(body) + "</body></html>\n")


def _cell(value) -> str:
    if isinstance(value, dict):
        return info_table(value) if value else "-"
    if isinstance(value, (list, tuple)):
        return html.escape(", ".join(str(v) for v in value)) if value else "-"
    return "-" if value is None else html.escape(str(value))


def info_table(info: dict) -> str:
    """Run metadata as a two-column table; nested dicts become nested tables."""
    rows = "".join(f"<tr><th>{html.escape(str(key))}</th><td class=\"info\">{_cell(value)}"
                   "</td></tr>" for key, value in info.items())
    return f'<table class="info">{rows}</table>'


def figure(image: np.ndarray, caption: str) -> str:
    """One captioned picture (BGR) for a ``panels`` row."""
    return (f'<figure><img src="{png_data_uri(image)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def png_data_uri(bgr: np.ndarray) -> str:
    """Encode a BGR image as a data: URI."""
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def svg_line_chart(series: dict[str, list[float | None]], x_values: list[float], title: str,
                   x_label: str, y_label: str, width: int = 520, height: int = 260,
                   integer_x: bool = False) -> str:
    """Inline SVG of one polyline per series (None values break the line).

    ``integer_x``: the x axis counts something (frames), so its ticks are whole numbers.
    """
    left, right, top, bottom = 55, 110, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    finite = [v for values in series.values() for v in values if v is not None]
    y_max = max(finite) * 1.05 if finite and max(finite) > 0 else 1.0
    x_min, x_max = (min(x_values), max(x_values)) if x_values else (0.0, 1.0)
    x_span = (x_max - x_min) or 1.0

    def sx(x: float) -> float:
        return left + (x - x_min) / x_span * plot_w

    def sy(y: float) -> float:
        return top + plot_h - y / y_max * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-size="11">',
             f'<text x="{width / 2}" y="16" text-anchor="middle" font-weight="bold">'
             f'{html.escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
             'stroke="#888"/>']
    for i in range(5):
        y = y_max * i / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}"'
                     ' stroke="#eee"/>')
        parts.append(f'<text x="{left - 4}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3g}'
                     '</text>')
    ticks = [x_min, x_min + x_span / 2, x_max]
    if integer_x:
        ticks = sorted({float(round(x)) for x in ticks})
    for x in ticks:
        label = f"{int(x)}" if integer_x else f"{x:.3g}"
        parts.append(f'<text x="{sx(x):.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
                     f'{label}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">'
                 f'{html.escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{top + plot_h / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + plot_h / 2})">{html.escape(y_label)}</text>')
    for index, (name, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        segment: list[str] = []
        segments = []
        for x, y in zip(x_values, values):
            if y is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{sx(x):.1f},{sy(y):.1f}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
            else:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" '
                             f'points="{" ".join(points)}"/>')
        legend_y = top + 12 + 16 * index
        parts.append(f'<line x1="{left + plot_w + 8}" x2="{left + plot_w + 26}" y1="{legend_y}"'
                     f' y2="{legend_y}" stroke="{colour}" stroke-width="3"/>')
        parts.append(f'<text x="{left + plot_w + 30}" y="{legend_y + 4}">{html.escape(name)}'
                     '</text>')
    parts.append("</svg>")
    return "".join(parts)


def _metrics_table(methods: dict[str, dict]) -> str:
    head = "".join(f"<th>{n}</th>" for n in METRIC_NAMES)
    rows = [f"<tr><th>method</th><th>frames</th>{head}<th>raw abs_rel</th><th>raw rmse</th>"
            "<th>median scale</th></tr>"]
    for method, summary in methods.items():
        cells = "".join(f"<td>{summary['scaled'][n]:.4f}</td>" for n in METRIC_NAMES)
        rows.append(f"<tr><td>{html.escape(method)}</td><td>{summary['frames']}</td>{cells}"
                    f"<td>{summary['raw']['abs_rel']:.4f}</td><td>{summary['raw']['rmse']:.3f}"
                    f"</td><td>{summary['median_scale']:.3g}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def render_report(evaluation: Evaluation, data: dict, title: str) -> str:
    """The whole report as one HTML string."""
    body = ["<p>Metrics follow the S2R-DepthNet protocol: prediction clamped to the depth range, "
            "valid pixels min &lt; gt &lt; max inside the crop, per-image median scaling, means "
            "over images. Raw columns are without median scaling. Depth colours: near red, far "
            "blue (turbo, even in 1/depth), black where there is no depth; the bar in each row "
            "gives its limits in metres. The error map runs from blue (0) to red (abs_rel "
            "0.5 or more).</p>"]
    info = {k: v for k, v in data.items() if k not in ("groups", "methods")}
    if info:
        body.append("<h2>Run</h2>" + info_table(info))
    for group, group_data in data["groups"].items():
        state = evaluation.groups[group]
        protocol = group_data["protocol"]
        body.append(f"<h2>{html.escape(group)}: {group_data['frames_scored']} frames</h2>")
        body.append(f"<p>crop {protocol['crop']}, depth {protocol['min_depth']:g}.."
                    f"{protocol['max_depth']:g} m, median scaling "
                    f"{'on' if protocol['median_scaling'] else 'off'}; frames without valid "
                    f"GT: {len(group_data['frames_without_valid_gt'])}</p>")
        if not group_data["methods"]:
            continue
        body.append(_metrics_table(group_data["methods"]))
        plots = []
        distance = {m: d.means() for m, d in state.by_distance.items()}
        if distance:
            edges = next(iter(state.by_distance.values())).edges
            centres = [float(c) for c in (edges[:-1] + edges[1:]) / 2]
            plots.append(svg_line_chart(distance, centres, "abs_rel against GT distance",
                                        "ground-truth depth (m)", "mean abs_rel"))
            # Below 1 where the model puts a range too near (far depth compressed).
            ratio = {m: d.ratios() for m, d in state.by_distance.items()}
            plots.append(svg_line_chart(ratio, centres, "scaled prediction / GT against GT "
                                        "distance", "ground-truth depth (m)",
                                        "geometric mean ratio"))
        per_frame = {m: [r.scaled.abs_rel for r in results]
                     for m, results in state.results.items()}
        frame_index = list(range(len(state.frames)))
        plots.append(svg_line_chart(per_frame, [float(i) for i in frame_index],
                                    "abs_rel per frame", "frame index", "abs_rel",
                                    integer_x=True))
        per_frame_d1 = {m: [r.scaled.delta1 for r in results]
                        for m, results in state.results.items()}
        plots.append(svg_line_chart(per_frame_d1, [float(i) for i in frame_index],
                                    "delta1 per frame", "frame index", "delta < 1.25",
                                    integer_x=True))
        body.append('<div class="plots">' + "".join(plots) + "</div>")
        for panel in state.thumbnails:
            figures = "".join(figure(image, label) for label, image in panel.items()
                              if isinstance(image, np.ndarray))
            body.append(f"<h3>{html.escape(panel['frame'])} ({html.escape(panel['method'])}, "
                        f"median-scaled)</h3><div class=\"panels\">{figures}</div>")
    return page(title, body)


def render_replay_report(summary: dict, pictures: list[tuple[np.ndarray, np.ndarray | None]]
                         ) -> str:
    """The replay's page: run metadata, latency table, per-frame plots, a few frames."""
    skip = {"frames", "latency_ms", "dropped_stamps_ns", "pacing_error_ms",
            "latency_bag_time_ms"}
    info = {k: v for k, v in summary.items() if k not in skip}
    rows = ["<tr><th>output</th><th>frames</th><th>mean</th><th>p50</th><th>p95</th>"
            "<th>p99</th><th>max</th></tr>"]
    for topic, stats in summary["latency_ms"].items():
        cells = "".join(f"<td>{stats.get(k, '-')}</td>" for k in ("count", "mean", "p50", "p95",
                                                                 "p99", "max"))
        rows.append(f"<tr><td>{html.escape(topic)}</td>{cells}</tr>")
    frames = summary["frames"]
    index = [float(f["index"]) for f in frames]
    names = sorted({n for f in frames for n in f["latency_ms"]})
    latency_plot = svg_line_chart({n: [f["latency_ms"].get(n) for f in frames] for n in names},
                                  index, "latency per frame (publish -> arrival)",
                                  "frame index", "ms", integer_x=True)
    pacing_plot = svg_line_chart(
        {"recorded / rate" if summary["rate"] else "recorded": [
            f["recorded_offset_s"] / (summary["rate"] or 1.0) for f in frames],
         "published": [f["publish_offset_s"] for f in frames]},
        index, "send time of each frame", "frame index", "s from start", integer_x=True)
    figures = []
    for rgb_bgr, depth_bgr in pictures:
        figures.append(figure(rgb_bgr, "input"))
        if depth_bgr is not None:
            figures.append(figure(depth_bgr, "node's colourised depth"))
    body = [f"<p>{summary['frames_answered']} of {summary['frames_sent']} frames answered, "
            f"{summary['frames_dropped']} dropped. Latency is the arrival of each output "
            "minus the wall time its input was published (stamps map to publish times).</p>",
            "<h2>Run</h2>", info_table(info),
            "<h2>Latency (ms)</h2>", "<table>" + "".join(rows) + "</table>",
            '<div class="plots">' + latency_plot + pacing_plot + "</div>",
            "<h2>Frames</h2>", '<div class="panels">' + "".join(figures) + "</div>"]
    return page("s2r-depth replay", body)
