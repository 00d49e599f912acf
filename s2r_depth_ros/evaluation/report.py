"""A self-contained HTML report: tables, inline SVG plots and base64 PNG images."""

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
"""


def png_data_uri(bgr: np.ndarray) -> str:
    """Encode a BGR image as a data: URI."""
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def svg_line_chart(series: dict[str, list[float | None]], x_values: list[float], title: str,
                   x_label: str, y_label: str, width: int = 520, height: int = 260) -> str:
    """Inline SVG of one polyline per series (None values break the line)."""
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
    for x in (x_min, x_min + x_span / 2, x_max):
        parts.append(f'<text x="{sx(x):.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
                     f'{x:.3g}</text>')
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
    body = [f"<h1>{html.escape(title)}</h1>",
            "<p>Metrics follow the S2R-DepthNet protocol: prediction clamped to the depth range, "
            "valid pixels min &lt; gt &lt; max inside the crop, per-image median scaling, means "
            "over images. Raw columns are without median scaling.</p>"]
    info = {k: v for k, v in data.items() if k not in ("groups", "methods")}
    if info:
        items = "".join(f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>"
                        for k, v in info.items())
        body.append(f"<ul>{items}</ul>")
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
        per_frame = {m: [r.scaled.abs_rel for r in results]
                     for m, results in state.results.items()}
        frame_index = list(range(len(state.frames)))
        plots.append(svg_line_chart(per_frame, [float(i) for i in frame_index],
                                    "abs_rel per frame", "frame index", "abs_rel"))
        per_frame_d1 = {m: [r.scaled.delta1 for r in results]
                        for m, results in state.results.items()}
        plots.append(svg_line_chart(per_frame_d1, [float(i) for i in frame_index],
                                    "delta1 per frame", "frame index", "delta < 1.25"))
        body.append('<div class="plots">' + "".join(plots) + "</div>")
        for panel in state.thumbnails:
            figures = "".join(
                f'<figure><img src="{png_data_uri(image)}" alt="{html.escape(label)}">'
                f"<figcaption>{html.escape(label)}</figcaption></figure>"
                for label, image in panel.items() if isinstance(image, np.ndarray))
            body.append(f"<h3>{html.escape(panel['frame'])} ({html.escape(panel['method'])}, "
                        f"median-scaled)</h3><div class=\"panels\">{figures}</div>")
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
