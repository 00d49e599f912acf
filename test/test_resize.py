"""The exact resize in row bands on several threads equals one Pillow call, bit for bit."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest
from PIL import Image

from conftest import make_model
from s2r_depth_ros.inference import DepthEstimator
from s2r_depth_ros.inference.resize import MIN_BAND_ROWS, Resizer, plan_bands, resize_like_pil

# (input height, width) -> (network height, width): cameras against the shipped and paper
# input sizes, shrinking one axis and growing the other, growing both, odd sizes.
CAMERA_SIZES = [
    ((375, 1242), (192, 640)), ((375, 1242), (128, 416)), ((480, 640), (128, 416)),
    ((480, 640), (192, 640)), ((480, 640), (256, 512)), ((720, 1280), (128, 416)),
    ((1080, 1920), (192, 640)), ((240, 320), (192, 640)), ((480, 640), (384, 512)),
]


def scene(height: int, width: int, seed: int) -> np.ndarray:
    """Gradients with noise and hard edges: every rounding difference would show."""
    rng = np.random.default_rng(seed)
    ramp = (np.linspace(0, 180, width)[None, :, None]
            + np.linspace(0, 60, height)[:, None, None] + rng.normal(0, 25, (height, width, 3)))
    ramp[height // 3: height // 2, width // 4: width // 2] = 255
    return np.clip(ramp, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("threads", [2, 3])
def test_banded_exact_resize_equals_one_pillow_call(threads):
    resizer = Resizer("exact", threads)
    for seed, (in_size, out_size) in enumerate(CAMERA_SIZES):
        rgb = scene(*in_size, seed)
        bands = resizer.bands(in_size, out_size)
        assert bands is not None and len(bands) == threads, (in_size, out_size)
        # Each band reads fewer rows than the image has, and the bands cover the output.
        assert all(b.window.stop - b.window.start < in_size[0] for b in bands)
        assert [b.rows.start for b in bands[1:]] == [b.rows.stop for b in bands[:-1]]
        np.testing.assert_array_equal(resizer(rgb, *out_size), resize_like_pil(rgb, *out_size))


def test_random_sizes_are_banded_only_when_exact():
    rng = np.random.default_rng(3)
    resizer, banded = Resizer("exact", 2), 0
    for seed in range(40):
        in_size = (int(rng.integers(150, 700)), int(rng.integers(150, 900)))
        out_size = (int(rng.integers(2, 32)) * 16 if seed % 2 else int(rng.integers(40, 500)),
                    int(rng.integers(64, 700)))
        rgb = scene(*in_size, seed)
        banded += resizer.bands(in_size, out_size) is not None
        np.testing.assert_array_equal(resizer(rgb, *out_size), resize_like_pil(rgb, *out_size),
                                      err_msg=f"{in_size} -> {out_size}")
    # Some size pairs are split, others (where a band's arithmetic would round) are not.
    assert 0 < banded < 40


def test_bands_are_refused_where_their_arithmetic_would_round():
    # 376 / 192 has no short binary expansion: the second band's row centres would round
    # differently from the whole image's, so it runs as one call.
    assert plan_bands((376, 1242), (192, 640), 2) is None
    assert plan_bands((375, 1242), (192, 640), 2) is not None
    # Many threads: bands keep at least MIN_BAND_ROWS output rows each.
    assert len(plan_bands((1080, 1920), (128, 416), 16)) == 128 // MIN_BAND_ROWS
    # Nothing to split: the height stays, or one thread.
    assert plan_bands((480, 640), (480, 320), 2) is None
    assert plan_bands((480, 640), (128, 416), 1) is None
    rgb = scene(376, 1242, 0)
    np.testing.assert_array_equal(Resizer("exact", 2)(rgb, 192, 640),
                                  resize_like_pil(rgb, 192, 640))


def test_the_two_pass_orders_differ_so_the_noise_probe_can_tell_them_apart():
    # plan_bands checks each band's pass order by resizing noise both ways; that works only
    # because horizontal-then-vertical and vertical-then-horizontal round differently.
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    image, size = Image.fromarray(noise), (416, 128)
    horizontal_first = image.resize((416, 480), Image.Resampling.BICUBIC).resize(
        size, Image.Resampling.BICUBIC)
    vertical_first = image.resize((640, 128), Image.Resampling.BICUBIC).resize(
        size, Image.Resampling.BICUBIC)
    differ = np.asarray(horizontal_first) != np.asarray(vertical_first)
    assert differ.mean() > 0.05
    pillow = np.asarray(image.resize(size, Image.Resampling.BICUBIC))
    assert (np.array_equal(pillow, np.asarray(horizontal_first))
            != np.array_equal(pillow, np.asarray(vertical_first)))


def test_small_images_and_one_thread_run_one_pillow_call():
    assert Resizer("exact", 2).bands((120, 160), (96, 128)) is None
    assert Resizer("exact", 1).bands((480, 640), (128, 416)) is None
    with pytest.raises(ValueError, match="unknown resize"):
        Resizer("nearest")
    with pytest.raises(ValueError, match="threads must be"):
        Resizer("exact", 0)


def test_estimator_preprocessing_is_the_same_on_one_or_two_threads():
    rgb = scene(375, 1242, 7)
    tensors = []
    for threads in (1, 2):
        estimator = DepthEstimator(make_model("lite", 128, 416), device="cpu", threads=threads)
        assert (estimator.resizer.bands((375, 1242), (128, 416)) is not None) == (threads == 2)
        tensors.append(estimator.preprocess(rgb))
    assert tensors[0].shape == (1, 3, 128, 416)
    np.testing.assert_array_equal(tensors[0].numpy(), tensors[1].numpy())


def test_the_band_threads_end_with_their_resizer():
    def resize_threads() -> int:
        return sum(t.name.startswith("s2r_resize") for t in threading.enumerate())

    before = resize_threads()
    resizer = Resizer("exact", 2)
    resizer(scene(480, 640, 1), 128, 416)
    assert resize_threads() == before + 1
    del resizer
    gc.collect()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and resize_threads() > before:
        time.sleep(0.05)
    assert resize_threads() == before
