"""The network input size for an image: the reference's fixed size, or the camera's aspect.

The official S2R-DepthNet recipe resizes every image to one size (192x640 outdoors), which
squashes a 4:3 camera to 3.25:1. Camera-aware models (``canonical_focal`` set) learn depth
from how large things look, which a squash distorts differently along the two axes, so they
run at the camera's own aspect with about the pixel count of their configured input: the
network is fully convolutional, and only the sides must stay multiples of 16.
"""

from __future__ import annotations

import math

from ..model import S2RConfig

MULTIPLE = 16  # the U-Net halves the resolution four times
MIN_SIDE = 96  # S2RConfig's minimum (the widest dilated pad at 1/16 scale)


def _round_side(value: float) -> int:
    return max(MIN_SIDE, int(round(value / MULTIPLE)) * MULTIPLE)


def network_input_size(image_height: int, image_width: int, config: S2RConfig
                       ) -> tuple[int, int]:
    """(height, width) the network sees for an ``image_height`` x ``image_width`` image."""
    if config.canonical_focal is None:
        return config.input_height, config.input_width
    aspect = image_width / image_height
    budget = config.input_height * config.input_width
    height = _round_side(math.sqrt(budget / aspect))
    return height, _round_side(height * aspect)
