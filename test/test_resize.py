"""The exact resize (the project's C kernel, in row bands on threads) equals one Pillow call."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest
from PIL import Image

from conftest import make_model
from s2r_depth_ros.inference import DepthEstimator, pillow_resample
from s2r_depth_ros.inference.pillow_resample import (
    PRECISION_BITS,
    pillow_coefficients,
    plan_native,
)
from s2r_depth_ros.inference.resize import MIN_BAND_ROWS, Resizer, resize_like_pil

# (input height, width) -> (network height, width): cameras against the shipped and paper
# input sizes, shrinking one axis and growing the other, growing both, odd sizes, one axis
# unchanged (Pillow then runs one pass).
CAMERA_SIZES = [
    ((375, 1242), (192, 640)), ((375, 1242), (128, 416)), ((480, 640), (128, 416)),
    ((480, 640), (192, 640)), ((480, 640), (256, 512)), ((720, 1280), (128, 416)),
    ((1080, 1920), (192, 640)), ((240, 320), (192, 640)), ((480, 640), (384, 512)),
    ((376, 1242), (192, 640)), ((480, 640), (480, 416)), ((480, 640), (128, 640)),
]


def scene(height: int, width: int, seed: int) -> np.ndarray:
    """Gradients with noise and hard edges: every rounding difference would show."""
    rng = np.random.default_rng(seed)
    ramp = (np.linspace(0, 180, width)[None, :, None]
            + np.linspace(0, 60, height)[:, None, None] + rng.normal(0, 25, (height, width, 3)))
    ramp[height // 3: height // 2, width // 4: width // 2] = 255
    return np.clip(ramp, 0, 255).astype(np.uint8)


def test_the_kernel_is_built():
    # CI installs with a compiler: the fallback to Pillow must not hide a failed build.
    assert pillow_resample.available()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_exact_resize_equals_one_pillow_call(threads):
    resizer = Resizer("exact", threads)
    for seed, (in_size, out_size) in enumerate(CAMERA_SIZES):
        rgb = scene(*in_size, seed)
        plan = resizer.plan(in_size, out_size)
        assert plan is not None, (in_size, out_size)
        assert len(plan.bands) == min(threads, out_size[0] // MIN_BAND_ROWS)
        assert [b.rows.start for b in plan.bands[1:]] == [b.rows.stop for b in plan.bands[:-1]]
        np.testing.assert_array_equal(resizer(rgb, *out_size), resize_like_pil(rgb, *out_size),
                                      err_msg=f"{in_size} -> {out_size}")


def test_random_sizes_equal_pillow():
    rng = np.random.default_rng(3)
    planned, vertical_first = 0, 0
    for seed in range(120):
        in_size = (int(rng.integers(1, 700)), int(rng.integers(1, 900)))
        out_size = (int(rng.integers(1, 32)) * 16 if seed % 2 else int(rng.integers(1, 500)),
                    int(rng.integers(1, 700)))
        resizer, rgb = Resizer("exact", int(rng.integers(1, 4))), scene(*in_size, seed)
        plan = resizer.plan(in_size, out_size)
        planned += plan is not None
        vertical_first += plan is not None and plan.vertical_first
        np.testing.assert_array_equal(resizer(rgb, *out_size), resize_like_pil(rgb, *out_size),
                                      err_msg=f"{in_size} -> {out_size}")
    # A pair is refused only where a coefficient sits at a rounding step: rarely (1 of 400
    # in a longer run). Both of Pillow's pass orders occur and are matched.
    assert planned >= 110
    assert 10 <= vertical_first <= planned - 10


def test_non_contiguous_images_are_resized_too():
    rgb = scene(500, 1400, 4)[20:395, 100:1342]
    assert not rgb.flags.c_contiguous
    np.testing.assert_array_equal(Resizer("exact", 2)(rgb, 128, 416),
                                  resize_like_pil(rgb, 128, 416))


def test_coefficients_are_pillows_normalised_fixed_point_weights():
    c = pillow_coefficients(1242, 416)
    assert c is not None and c.ksize == 2 * 6 + 1  # support 2 x 2.99, rounded up, both sides
    sums = c.weights.sum(axis=1)
    # Each output's weights sum to one in fixed point, up to the rounding of each weight.
    assert np.all(np.abs(sums - (1 << PRECISION_BITS)) <= c.count)
    assert np.all(c.first[1:] >= c.first[:-1]) and np.all(c.first + c.count <= 1242)
    assert np.all(c.weights[np.arange(c.ksize)[None, :] >= c.count[:, None]] == 0)


def test_a_coefficient_at_a_rounding_step_falls_back_to_pillow(monkeypatch):
    # With a margin no coefficient can keep, no plan is made and Pillow resizes.
    monkeypatch.setattr(pillow_resample, "ROUNDING_MARGIN", 0.5)
    assert pillow_coefficients(1242, 416) is None
    resizer, rgb = Resizer("exact", 2), scene(375, 1242, 5)
    assert resizer.plan((375, 1242), (128, 416)) is None
    np.testing.assert_array_equal(resizer(rgb, 128, 416), resize_like_pil(rgb, 128, 416))


def test_without_the_kernel_pillow_resizes(monkeypatch):
    monkeypatch.setattr(pillow_resample, "_resample", None)
    resizer, rgb = Resizer("exact", 2), scene(480, 640, 6)
    assert resizer.plan((480, 640), (128, 416)) is None
    np.testing.assert_array_equal(resizer(rgb, 128, 416), resize_like_pil(rgb, 128, 416))


def test_the_kernel_refuses_tables_that_would_leave_its_buffers():
    kernel = pillow_resample._resample
    src, dst = np.zeros((10, 12), np.uint8), np.zeros((4, 12), np.uint8)
    first, count = np.zeros(4, np.int32), np.full(4, 2, np.int32)
    weights = np.zeros((4, 2), np.int32)
    kernel.resample_rows(src, 10, 12, dst, first, count, weights, 2)  # in bounds
    with pytest.raises(ValueError, match="leaves the input"):
        kernel.resample_rows(src, 10, 12, dst, first + 9, count, weights, 2)
    with pytest.raises(ValueError, match="leaves the input"):
        kernel.resample_rows(src, 10, 12, dst, first, count + 1, weights, 2)  # count > ksize
    with pytest.raises(ValueError, match="does not match"):
        kernel.resample_rows(src, 10, 12, dst[:3], first, count, weights, 2)
    with pytest.raises(ValueError, match="out \\* ksize"):
        kernel.resample_rows(src, 10, 12, dst, first, count, weights[:3], 2)
    with pytest.raises(ValueError, match="does not match"):
        kernel.resample_cols(src, 10, 5, np.zeros((10, 12), np.uint8), first, count, weights,
                             2)
    with pytest.raises(TypeError):  # read-only output
        kernel.resample_rows(src, 10, 12, bytes(48), first, count, weights, 2)


def test_the_two_pass_orders_differ_so_the_noise_probe_can_tell_them_apart():
    # plan_native finds Pillow's pass order by resizing noise both ways; that works only
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
    plan = plan_native((480, 640), (128, 416))
    assert plan.vertical_first == np.array_equal(pillow, np.asarray(vertical_first))


def test_small_images_and_one_thread_run_one_band():
    assert len(Resizer("exact", 2).plan((120, 160), (96, 128)).bands) == 1
    assert len(Resizer("exact", 1).plan((480, 640), (128, 416)).bands) == 1
    assert Resizer("exact", 2).plan((480, 640), (480, 640)) is None  # nothing to resize
    with pytest.raises(ValueError, match="unknown resize"):
        Resizer("nearest")
    with pytest.raises(ValueError, match="threads must be"):
        Resizer("exact", 0)


def test_estimator_preprocessing_is_the_same_on_one_or_two_threads():
    rgb = scene(375, 1242, 7)
    tensors = []
    for threads in (1, 2):
        estimator = DepthEstimator(make_model("lite", 128, 416), device="cpu", threads=threads)
        assert len(estimator.resizer.plan((375, 1242), (128, 416)).bands) == threads
        tensors.append(estimator.preprocess(rgb))
    assert tensors[0].shape == (1, 3, 128, 416)
    np.testing.assert_array_equal(tensors[0].numpy(), tensors[1].numpy())


def test_one_resizer_serves_several_threads_at_once():
    # Node workers share their estimator's resizer: its plans and band thread are shared.
    resizer, rgb = Resizer("exact", 2), scene(480, 640, 8)
    expected = resize_like_pil(rgb, 128, 416)
    mismatches = []

    def worker() -> None:
        for _ in range(20):
            if not np.array_equal(resizer(rgb, 128, 416), expected):
                mismatches.append(1)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not mismatches


def test_the_band_threads_end_with_their_resizer():
    # Only this resizer's thread counts: other tests' resizers may still be ending theirs.
    before = set(threading.enumerate())
    resizer = Resizer("exact", 2)
    resizer(scene(480, 640, 1), 128, 416)
    started = [t for t in set(threading.enumerate()) - before if t.name.startswith("s2r_resize")]
    assert len(started) == 1
    del resizer
    gc.collect()
    started[0].join(timeout=5)
    assert not started[0].is_alive()
