"""Models shipped inside the package, trained by this project on synthetic data only."""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent

# Name -> file; the first is the default for the node, `predict` and the demo.
SHIPPED = {
    "outdoor": "s2r_lite_outdoor.pt",
    "indoor": "s2r_lite_indoor.pt",
}


def shipped_model(name: str = "outdoor") -> Path | None:
    """Path of a shipped model, or None when this build has no such file."""
    if name not in SHIPPED:
        raise ValueError(f"unknown shipped model {name!r}; choose from {sorted(SHIPPED)}")
    path = WEIGHTS_DIR / SHIPPED[name]
    return path if path.is_file() else None
