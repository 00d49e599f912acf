"""Depth accuracy on real RGB-D frames while stage 2 trains: the curve synthetic loss hides.

Synthetic held-out loss keeps falling while accuracy on real frames can turn worse
(BENCHMARKS.md); this logs the real-frame metrics every ``every`` steps (and at the end)
to ``stage2/real_frames.csv``. It only measures: nothing is trained on
these frames. Choosing a checkpoint by them tunes the model to them, so keep a second set
of real frames for the final numbers.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..evaluation.metrics import Summary, clamp_flattery, protocol_for_domain
from ..evaluation.runner import Evaluation, Frame, model_method
from ..evaluation.sources import folder_sources, manifest_sources
from ..inference.estimator import DepthEstimator, EstimatorOptions

if TYPE_CHECKING:
    from .trainer import StageRun

COLUMNS = ("step", "frames", "abs_rel", "delta1", "raw_abs_rel", "raw_delta1")


class RealFrameValidation:
    """A step callback (see ``trainer.StepCallback``) scoring stage 2's model on real frames.

    ``frames`` are loaded once; ``group`` picks the S2R protocol (outdoor: Garg crop, 80 m;
    indoor: 10 m), as ``s2r-depth eval`` applies it.
    """

    def __init__(self, frames: list[Frame], group: str, every: int) -> None:
        if not frames:
            raise ValueError("real_frames: no frames to validate on")
        if every < 1:
            raise ValueError(f"real_frames.every must be >= 1, got {every}")
        self.frames, self.every = frames, int(every)
        self.group, self.protocol = group, protocol_for_domain(group)
        self._started = False
        self._warned = False  # the clamp note is said once per run

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> RealFrameValidation | None:
        """From the config's ``real_frames`` section; None when it names no frames."""
        group = section["group"]
        if section["manifest"]:
            sources = [s for s in manifest_sources(section["manifest"]) if s.group == group]
        elif section["rgb_dir"]:
            sources, _without_depth = folder_sources(
                section["rgb_dir"], section["depth_dir"], float(section["depth_scale"]), group)
        else:
            return None
        return cls([s.load() for s in sources[:section["limit"]]], group,
                   int(section["every"]))

    def summary(self, estimator: DepthEstimator) -> Summary:
        """``estimator`` scored over the frames by the engine of ``s2r-depth eval``."""
        evaluation = Evaluation({"model": model_method(estimator)},
                                {self.group: self.protocol}, report_frames=0)
        for frame in self.frames:
            evaluation.add(frame)
        return evaluation.summaries()[self.group]["model"]

    def metrics(self, estimator: DepthEstimator) -> dict[str, float]:
        """Mean scaled and raw abs_rel / delta1 of ``estimator`` over the frames."""
        return _row(self.summary(estimator))

    def __call__(self, run: StageRun) -> None:
        total = int(run.settings["steps"])
        if (run.stage != 2 or not run.runtime.is_main
                or (run.step % self.every and run.step < total)):
            return
        path = run.stage_dir / "real_frames.csv"
        if not self._started:
            self._keep_rows_before(path, run.step)
            self._started = True
        # fp32 eager on the training device; the estimator works on an eval-mode copy.
        device = "cpu" if run.runtime.device.type == "cpu" else str(run.runtime.device)
        estimator = DepthEstimator(run.delivered_model, EstimatorOptions(device=device))
        summary = self.summary(estimator)
        why = clamp_flattery(summary, self.protocol, estimator.config.max_depth)
        if why and not self._warned:
            print(f"s2r-depth train: note: real_frames ({self.group}) at step {run.step}: {why}; "
                  "its scaled numbers look better than the depth is", file=sys.stderr)
            self._warned = True
        row = {"step": run.step, **_row(summary)}
        new = not path.is_file()
        with path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(COLUMNS)
            writer.writerow([row["step"], row["frames"],
                             *(f"{row[c]:.6g}" for c in COLUMNS[2:])])

    @staticmethod
    def _keep_rows_before(path: Path, step: int) -> None:
        """A resumed run drops the rows logged after the checkpoint it resumes from."""
        if not path.is_file():
            return
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        kept = rows[:1] + [r for r in rows[1:] if r and int(r[0]) < step]
        with path.open("w", newline="") as handle:
            csv.writer(handle).writerows(kept)


def _row(summary: Summary) -> dict[str, float]:
    """The CSV's numbers (all columns but the step) of one scoring."""
    return {"frames": summary.frames, "abs_rel": summary.scaled.abs_rel,
            "delta1": summary.scaled.delta1, "raw_abs_rel": summary.raw.abs_rel,
            "raw_delta1": summary.raw.delta1}
