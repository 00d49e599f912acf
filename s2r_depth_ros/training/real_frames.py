"""Depth accuracy on real RGB-D frames while stage 2 trains: the curve synthetic loss hides.

Synthetic held-out loss keeps falling while accuracy on real frames can turn worse
(BENCHMARKS.md); this logs the real-frame metrics every ``every`` steps (and at the end)
to ``stage2/real_frames.csv``. It only measures: nothing is trained on
these frames. Choosing a checkpoint by them tunes the model to them, so keep a second set
of real frames for the final numbers.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..evaluation.metrics import protocol_for_domain
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

    def metrics(self, estimator: DepthEstimator) -> dict[str, float]:
        """Mean scaled and raw abs_rel / delta1 of ``estimator`` over the frames."""
        # The engine of ``s2r-depth eval``, so the numbers are the ones it would report.
        evaluation = Evaluation({"model": model_method(estimator)},
                                {self.group: self.protocol}, report_frames=0)
        for frame in self.frames:
            evaluation.add(frame)
        summary = evaluation.summaries()[self.group]["model"]
        return {"frames": summary.frames, "abs_rel": summary.scaled.abs_rel,
                "delta1": summary.scaled.delta1, "raw_abs_rel": summary.raw.abs_rel,
                "raw_delta1": summary.raw.delta1}

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
        row = {"step": run.step, **self.metrics(estimator)}
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
