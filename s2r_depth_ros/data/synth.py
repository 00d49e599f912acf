"""The project's procedural RGB-D renderer: driving streets and indoor rooms, randomised.

Every frame is ray-cast from analytic geometry (:mod:`.raycast`: boxes, ellipsoids and
cylinders cut by boxes, turned about the vertical), so RGB and metric depth come from the same
surfaces. The worlds copy the structure of real photos at real scale: streets with rows of
parked cars along both kerbs, traffic, buildings with shop fronts, balconies and cornices,
street trees, poles, signs, bins, fences, pedestrians and cyclists, intersections; rooms with
tables and chairs on legs, shelves with objects, kitchen counters, beds, sofas, monitors,
plants, people and doorways into further rooms. The sun casts shadows; a camera model adds
exposure (overexposed skies), vignetting, blur, noise and JPEG. Randomised per frame: layout,
materials, lighting, camera height, pitch, roll, yaw, principal point and field of view (the
returned intrinsics are those of the rendered image). A frame is a pure function of
(seed, index).
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
import os
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from .raycast import (
    KIND_BOX,
    KIND_GROUND,
    KIND_INSIDE_BOX,
    PATTERN_BRICKS,
    PATTERN_CHECKER,
    PATTERN_NOISE,
    PATTERN_STRIPES,
    Camera,
    Material,
    Rays,
    Scene,
    cast,
    noise,
    render_linear,
)
from .sample import RGBDSample

DOMAINS = ("outdoor", "indoor")
MAX_DEPTH = {"outdoor": 80.0, "indoor": 10.0}
# Horizontal field of view ranges (degrees) and camera heights (metres) per domain.
HFOV_RANGE = {"outdoor": (40.0, 100.0), "indoor": (50.0, 90.0)}


def frame_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of frame ``index`` of dataset ``seed``."""
    return np.random.default_rng([int(seed), int(index)])


def _hsv(rng: np.random.Generator, hue: tuple[float, float], sat: tuple[float, float],
         val: tuple[float, float]) -> tuple[float, float, float]:
    h = rng.uniform(*hue) % 1.0
    return colorsys.hsv_to_rgb(h, rng.uniform(*sat), rng.uniform(*val))


def _shade_of(colour, factor: float) -> tuple[float, float, float]:
    return tuple(float(np.clip(c * factor, 0, 1)) for c in colour)


def _random_surface(rng: np.random.Generator, colour, period_range=(0.3, 1.5),
                    patterns=(PATTERN_NOISE, PATTERN_STRIPES, PATTERN_CHECKER, PATTERN_BRICKS),
                    **extra) -> Material:
    """A material with a randomly chosen pattern between ``colour`` and a related colour."""
    pattern = int(rng.choice(patterns))
    second = _shade_of(colour, rng.uniform(0.55, 0.85)) if rng.random() < 0.7 else \
        _hsv(rng, (0, 1), (0.1, 0.6), (0.3, 0.9))
    if pattern == PATTERN_BRICKS:
        second = _shade_of((0.8, 0.78, 0.74), rng.uniform(0.6, 1.0))  # mortar
    return Material(colour=tuple(colour), colour2=second, pattern=pattern,
                    period=float(rng.uniform(*period_range)), stripe_axis=int(rng.integers(2)),
                    noise=float(rng.uniform(0.05, 0.3)),
                    noise_scale=float(rng.uniform(3.0, 20.0)), **extra)


def _small_roll(rng: np.random.Generator) -> float:
    """Camera roll in degrees: level in half the frames, else a degree or two."""
    return 0.0 if rng.random() < 0.5 else float(np.clip(rng.normal(0, 1.5), -4.0, 4.0))


def _camera(rng: np.random.Generator, height: int, width: int, position, pitch_deg, yaw_deg,
            hfov_deg, roll_deg: float = 0.0) -> Camera:
    """A pinhole camera with square pixels and a principal point near the image centre."""
    fx = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    cx = (width - 1) / 2.0 + float(np.clip(rng.normal(0, 0.015), -0.04, 0.04)) * width
    cy = (height - 1) / 2.0 + float(np.clip(rng.normal(0, 0.015), -0.04, 0.04)) * height
    return Camera(position=tuple(float(p) for p in position), pitch=math.radians(pitch_deg),
                  yaw=math.radians(yaw_deg), fx=fx, fy=fx, cx=cx, cy=cy, height=height,
                  width=width, roll=math.radians(roll_deg))


def _lighting(rng: np.random.Generator, scene: Scene, outdoor: bool) -> None:
    warm = rng.uniform(-0.08, 0.12)
    scene.sun_colour = (1.0, 1.0 - warm * 0.5, 1.0 - warm)
    if outdoor:
        # Sun high enough that the shadows stay on screen (real shadows are long at dusk too,
        # but then the light is mostly ambient).
        elevation = rng.uniform(0.3, 1.3)
        overcast = rng.random() < 0.2
        # Sunny days dominate driving data: strong sun against a weaker sky light, so that
        # cast shadows are as dark as in real photos.
        scene.sun_strength = float(rng.uniform(0.15, 0.3) if overcast else rng.uniform(0.75, 1.2))
        scene.ambient = float(rng.uniform(0.55, 0.8) if overcast else rng.uniform(0.22, 0.4))
        scene.cloudiness = float(rng.uniform(0.6, 1.0) if overcast else rng.uniform(0.0, 0.5))
        scene.sky_zenith = _hsv(rng, (0.55, 0.64), (0.15, 0.25) if overcast else (0.35, 0.7),
                                (0.6, 0.95))
        scene.sky_horizon = _hsv(rng, (0.5, 0.65), (0.02, 0.2), (0.75, 0.98))
        scene.fog_colour = scene.sky_horizon
        scene.fog_density = float(rng.uniform(0.001, 0.012))
    else:
        # A ceiling light or a window: light from high up, shadows under furniture.
        elevation = rng.uniform(0.8, 1.45)
        scene.sun_strength = float(rng.uniform(0.3, 0.7))
        scene.ambient = float(rng.uniform(0.3, 0.6))
        scene.cloudiness = 0.0
        scene.fog_colour = _shade_of(_hsv(rng, (0.05, 0.15), (0.05, 0.3), (0.2, 0.6)), 1.0)
        scene.fog_density = float(rng.uniform(0.0, 0.05))
    azimuth = rng.uniform(0, 2 * math.pi)
    scene.sun = (math.cos(elevation) * math.sin(azimuth), math.sin(elevation),
                 math.cos(elevation) * math.cos(azimuth))


# Gaussian sensor noise drawn once (a random window of it per frame is 10x cheaper than
# drawing per frame); 4M values cover 640x640 RGB frames.
_SENSOR_NOISE = np.random.default_rng(20240607).standard_normal(4 << 20, dtype=np.float32)


def _camera_effects(rng: np.random.Generator, image: np.ndarray, sky: np.ndarray,
                    outdoor: bool) -> np.ndarray:
    """A real camera's imaging: auto-exposure, bright skies, vignetting, blur, noise, JPEG."""
    height, width = sky.shape
    image = image.copy()
    if outdoor and sky.any():
        image[sky] *= np.float32(rng.uniform(1.0, 1.5))  # skies are often blown out
    # Auto-exposure, as every real camera meters: the scene (not the sky) lands at a mean
    # level drawn from real frames' range (../shared/real_rgbd: mean grey 95 outdoors, 117
    # indoors; without it rooms rendered at 64, benchmarks/image_gap.py), then a metering
    # error. Before, rooms were as dark as their lamps made them.
    scene = image[~sky] if (~sky).any() else image.reshape(-1, 3)
    level = max(float(scene.mean()), 1e-3)
    target = rng.uniform(0.22, 0.36) if outdoor else rng.uniform(0.45, 0.6)
    image *= np.float32(target / level * np.exp(rng.normal(0.0, 0.2)))
    # A camera's colour processing: more contrast and saturation than the scene radiance
    # (real frames: contrast 76 / 60 grey levels and saturation 68 / 83 outdoors / indoors,
    # against 55 / 44 and 37 / 78 rendered without it).
    grey = image.mean(axis=2, keepdims=True)
    saturation = rng.uniform(1.2, 2.0) if outdoor else rng.uniform(0.6, 0.9)
    image = grey + (image - grey) * np.float32(saturation)
    image = np.float32(target) + (image - np.float32(target)) * np.float32(rng.uniform(1.1, 1.5))
    if rng.random() < 0.6:
        yy = (np.arange(height, dtype=np.float32) - height / 2) / (0.5 * max(height, width))
        xx = (np.arange(width, dtype=np.float32) - width / 2) / (0.5 * max(height, width))
        r2 = yy[:, None] ** 2 + xx[None, :] ** 2
        image *= (1.0 - np.float32(rng.uniform(0.1, 0.45)) * r2)[..., None]
    if rng.random() < 0.4:
        sigma = rng.uniform(0.3, 1.2)
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    if rng.random() < 0.7:
        if image.size <= _SENSOR_NOISE.size:
            start = int(rng.integers(0, _SENSOR_NOISE.size - image.size + 1))
            grain = _SENSOR_NOISE[start:start + image.size].reshape(image.shape)
        else:
            grain = rng.standard_normal(image.shape, dtype=np.float32)
        image += grain * np.float32(rng.uniform(0.003, 0.025))
    rgb = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if rng.random() < 0.5:
        quality = int(rng.integers(40, 96))
        ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            rgb = np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    return rgb


# --------------------------------------------------------------------------- outdoor streets

class _Road:
    """Ground shader of the street.

    Asphalt with lane markings, a cross street with a zebra crossing, verges of grass or dirt.
    """

    def __init__(self, rng: np.random.Generator, left: float, right: float, lane: float,
                 crossing: tuple[float, float] | None) -> None:
        self.left, self.right, self.lane = left, right, lane
        self.crossing = crossing  # (z from, z to) of a cross street, or None
        grey = rng.uniform(0.2, 0.42)
        self.asphalt = np.array(_shade_of((grey, grey, grey * rng.uniform(0.95, 1.08)), 1.0),
                                np.float32)
        self.verge = np.array(_hsv(rng, (0.08, 0.3), (0.25, 0.6), (0.25, 0.55)), np.float32)
        self.paint = np.array((0.9, 0.9, 0.85) if rng.random() < 0.85 else (0.9, 0.75, 0.2),
                              np.float32)
        self.mark_width = rng.uniform(0.1, 0.18)
        self.dash, self.gap = rng.uniform(2.0, 4.0), rng.uniform(3.0, 9.0)
        self.solid_edges = rng.random() < 0.6
        self.offset = rng.uniform(0, 10)
        self.noise_scale = rng.uniform(6.0, 20.0)
        self.patches = rng.uniform(0.0, 0.12)  # repaired-asphalt patchiness
        self.bend = 0.0  # curvature of a curved street, see _bend
        lanes = int(round((right - left) / lane))
        self.dividers = np.array([left + lane * k for k in range(1, lanes)], np.float32)

    def __call__(self, x: np.ndarray, z: np.ndarray, footprint: np.ndarray) -> list[np.ndarray]:
        if self.bend:
            x = x - np.float32(self.bend) * z * z  # back to the straight street's frame
        on_road = (x > self.left) & (x < self.right)
        in_crossing = None
        if self.crossing is not None:
            in_crossing = (z > self.crossing[0]) & (z < self.crossing[1])
            on_road = on_road | in_crossing
        on_road = on_road.astype(np.float32)
        grain = 1.0 + 0.12 * (noise(x, z, self.noise_scale)
                              + 0.5 * noise(z, x, self.noise_scale * 2.7, 9))
        grain = grain * (1.0 + self.patches * noise(x, z, 0.3, 5))
        # Thin markings are blended by their pixel coverage so distant lines do not alias.
        coverage = np.minimum(self.mark_width / np.maximum(footprint, 1e-4), 1.0)
        half = np.maximum(self.mark_width, footprint) * 0.5
        period = self.dash + self.gap
        phase = (z + self.offset) / period
        dashed = (phase - np.floor(phase)) * period < self.dash
        paint = np.zeros(x.shape, bool)
        for divider in self.dividers:
            paint |= np.abs(x - divider) < half
        paint &= dashed
        if self.solid_edges:
            paint |= np.abs(x - self.left - 0.3) < half
            paint |= np.abs(x - self.right + 0.3) < half
        if in_crossing is not None:
            paint &= ~in_crossing
            # Zebra stripes just before the crossing street.
            z0 = self.crossing[0]
            zebra = (z > z0 - 4.0) & (z < z0 - 1.0) & (x > self.left) & (x < self.right)
            stripe = ((x - self.left) / 1.0) % 1.0 < 0.5
            paint |= zebra & stripe
        weight = paint * coverage * 0.9
        out = []
        for channel in range(3):
            base = (self.verge[channel] + (self.asphalt[channel] - self.verge[channel]) * on_road)
            out.append(base * grain * (1 - weight) + self.paint[channel] * weight)
        return out


def _car(scene: Scene, rng: np.random.Generator, x: float, z: float, yaw: float,
         materials: dict) -> None:
    """A car, van or truck centred on (x, z), its nose towards +Z turned by ``yaw``.

    Rounded body and cabin are ellipsoids cut flat by boxes; the windows are the cabin's
    glass under a painted roof; wheels are cylinders across the car (the dark band under the
    body seen from behind); a soft contact shadow darkens the ground beneath.
    """
    scene.label = "car"
    paint = int(rng.choice(materials["paints"]))
    kind = rng.choice(["car", "car", "car", "car", "suv", "van", "truck"])
    if kind == "car":
        width, length, top = rng.uniform(1.7, 1.85), rng.uniform(3.9, 4.8), rng.uniform(0.75, 0.9)
        cabin_h = rng.uniform(0.45, 0.55)
    elif kind == "suv":
        width, length, top = rng.uniform(1.8, 2.0), rng.uniform(4.3, 4.9), rng.uniform(0.95, 1.1)
        cabin_h = rng.uniform(0.55, 0.7)
    elif kind == "van":
        width, length, top = rng.uniform(1.9, 2.1), rng.uniform(4.8, 6.0), rng.uniform(1.9, 2.4)
        cabin_h = 0.0
    else:
        width, length, top = rng.uniform(2.3, 2.55), rng.uniform(7.0, 10.0), rng.uniform(2.8, 3.4)
        cabin_h = 0.0
    pivot = (x, 0.0, z)
    z0 = z - length / 2
    clearance = rng.uniform(0.15, 0.25) if kind != "truck" else 0.45
    wheel_r = rng.uniform(0.3, 0.35) if kind in ("car", "suv") else rng.uniform(0.38, 0.5)
    body_h = top - clearance
    if kind in ("car", "suv"):
        # An ellipsoid centred low and larger than the box that cuts it: flat flanks, rear
        # and underside with rounded edges, a bonnet and boot that slope down to the ends.
        scene.ellipsoid((x, clearance - body_h * 0.5, z), (width * 0.58, body_h * 2.0,
                                                            length * 0.62),
                        paint, (x - width / 2, clearance, z0), (x + width / 2, top, z0 + length),
                        yaw=yaw, pivot=pivot)
        cabin_len = length * rng.uniform(0.46, 0.56)
        cabin_z = z + length * rng.uniform(-0.1, 0.0)
        cabin_w = width * 0.88
        scene.ellipsoid((x, top - 0.15, cabin_z), (cabin_w * 0.58, cabin_h + 0.15, cabin_len * 0.6),
                        materials["glass"], (x - cabin_w / 2, top - 0.05, cabin_z - cabin_len / 2),
                        (x + cabin_w / 2, top + cabin_h, cabin_z + cabin_len / 2), yaw=yaw,
                        pivot=pivot, casts=False)  # windows pass light; the roof casts
        # The roof: the same shape a little larger, kept only above the windows.
        scene.ellipsoid((x, top - 0.15, cabin_z), (cabin_w * 0.59, cabin_h + 0.17,
                                                   cabin_len * 0.61),
                        paint, (x - cabin_w / 2 - 0.01, top + cabin_h * 0.72,
                                cabin_z - cabin_len / 2),
                        (x + cabin_w / 2 + 0.01, top + cabin_h + 0.05, cabin_z + cabin_len / 2),
                        yaw=yaw, pivot=pivot)
    else:
        # Boxy vans and trucks: a slightly rounded box, a windscreen band at the front/back.
        scene.ellipsoid((x, clearance + body_h * 0.2, z), (width * 0.75, body_h * 1.3,
                                                            length * 0.9),
                        paint, (x - width / 2, clearance, z0), (x + width / 2, top, z0 + length),
                        yaw=yaw, pivot=pivot)
        band = (top - rng.uniform(1.0, 1.3), top - rng.uniform(0.3, 0.5))
        end = z0 - 0.01 if rng.random() < 0.5 else z0 + length - 0.05
        scene.box((x - width / 2 + 0.1, band[0], end), (x + width / 2 - 0.1, band[1], end + 0.06),
                  materials["glass"], yaw=yaw, pivot=pivot, casts=False)
    # Rear lights (near cars only: beyond 35 m they are a pixel or two).
    near = math.hypot(x, z) < 35.0
    lamp_y = top - min(0.3, body_h * 0.3)
    for side in (-1, 1) if near else ():
        lx = x + side * (width / 2 - 0.2)
        scene.box((lx - 0.15, lamp_y - 0.08, z0 - 0.02), (lx + 0.15, lamp_y + 0.06, z0 + 0.3),
                  materials["rear_light"], yaw=yaw, pivot=pivot, casts=False)
    # Wheels: one cylinder per axle spanning the car.
    inset = 0.75 if kind != "truck" else 1.2
    for wz in (z0 + inset, z0 + length - inset):
        scene.cylinder(0, (x, wheel_r, wz), wheel_r, width / 2 + 0.01, materials["tyre"],
                       yaw=yaw, pivot=pivot, casts=False)  # in the body's shadow anyway
    # Contact shadow (rotated only approximately: fine for the small yaws of parked cars).
    c, s = math.cos(yaw), math.sin(yaw)
    rx = abs(c) * width / 2 + abs(s) * length / 2
    rz = abs(s) * width / 2 + abs(c) * length / 2
    scene.contact_shadows.append((x, z, rx + 0.25, rz + 0.35, 0.75))


def _tree(scene: Scene, rng: np.random.Generator, x: float, z: float, bark: int, leaves: list,
          big: bool = False) -> None:
    """A trunk cylinder carrying an irregular canopy of overlapping ellipsoids.

    The canopy lets sun flecks through its shadow; ``big`` trees (avenues, parks) reach
    5-7 m wide, as the street trees that shade real roads.
    """
    scene.label = "tree"
    trunk_r = rng.uniform(0.1, 0.28) if not big else rng.uniform(0.2, 0.4)
    height = rng.uniform(2.0, 4.5) if not big else rng.uniform(3.0, 5.5)
    crown = rng.uniform(1.5, 3.5) if not big else rng.uniform(2.8, 4.5)
    scene.cylinder(1, (x, (height + crown * 0.5) / 2, z), trunk_r, (height + crown * 0.5) / 2,
                   bark)
    leaf = int(rng.choice(leaves))
    centre_y = height + crown * 0.8
    porosity = float(rng.uniform(0.1, 0.45))
    parts = int(rng.integers(3, 7) if not big else rng.integers(5, 8))
    if math.hypot(x, z) > 35.0:
        parts = min(parts, 3)  # far away a few blobs look the same and cost less
    for _ in range(parts):
        offset = rng.normal(0, crown * 0.35, 3)
        radii = crown * rng.uniform(0.45, 0.8, 3) * np.array([1.0, 0.8, 1.0])
        part = scene.ellipsoid((x + offset[0], centre_y + offset[1] * 0.6, z + offset[2]),
                               radii, leaf)
        part.porosity = porosity
    scene.contact_shadows.append((x, z, trunk_r * 3 + 0.3, trunk_r * 3 + 0.3, 0.4))


def _bush(scene: Scene, rng: np.random.Generator, x: float, z: float, leaves: list) -> None:
    scene.label = "vegetation"
    leaf = int(rng.choice(leaves))
    for _ in range(int(rng.integers(1, 4))):
        r = rng.uniform(0.4, 1.0, 3)
        cx, cz = x + rng.normal(0, 0.5), z + rng.normal(0, 0.7)
        scene.ellipsoid((cx, r[1] * 0.3, cz), r, leaf, clip_lo=(-1e4, 0.0, -1e4))


def _person(scene: Scene, rng: np.random.Generator, x: float, z: float, clothes: list,
            skin: int, yaw: float = 0.0) -> None:
    """A standing pedestrian of real size (1.5-1.95 m)."""
    scene.label = "person"
    tall = rng.uniform(1.5, 1.95)
    legs = tall * 0.47
    pivot = (x, 0.0, z)
    trousers, top = int(rng.choice(clothes)), int(rng.choice(clothes))
    for side in (-1, 1):
        scene.cylinder(1, (x + side * 0.1, legs / 2, z + rng.normal(0, 0.05)), 0.075, legs / 2,
                       trousers, yaw=yaw, pivot=pivot)
    torso = tall * 0.33
    scene.ellipsoid((x, legs + torso * 0.5, z), (0.22, torso * 0.55, 0.14), top,
                    (x - 0.22, legs - 0.02, z - 0.14), (x + 0.22, legs + torso, z + 0.14),
                    yaw=yaw, pivot=pivot)
    # Arms hang at the sides, a neck joins the head (near people only: far away a few
    # pixels wide, they are not worth the primitives).
    arm_x = 0.22 + 0.05
    for side in (-1, 1) if math.hypot(x, z) < 25.0 else ():
        scene.cylinder(1, (x + side * arm_x, legs + torso * 0.45, z), 0.045, torso * 0.5, top,
                       yaw=yaw, pivot=pivot)
    head = tall * 0.065
    scene.cylinder(1, (x, legs + torso + head * 0.6, z), 0.055, head * 0.7, skin, casts=False)
    scene.ellipsoid((x, tall - head, z), (head * 0.85, head, head * 0.95), skin)
    scene.contact_shadows.append((x, z, 0.35, 0.35, 0.5))


def _cyclist(scene: Scene, rng: np.random.Generator, x: float, z: float, materials: dict
             ) -> None:
    """A bicycle (two thin wheels, a frame) with its rider, riding along +Z."""
    scene.label = "cyclist"
    r = rng.uniform(0.33, 0.36)
    base = 1.05
    tyre = materials["tyre"]
    for wz in (z - base / 2, z + base / 2):
        scene.cylinder(0, (x, r, wz), r, 0.02, tyre)
    scene.box((x - 0.02, r, z - base / 2), (x + 0.02, r + 0.45, z + base / 2), materials["metal"])
    top = int(rng.choice(materials["clothes"]))
    scene.ellipsoid((x, 1.2, z - 0.1), (0.2, 0.33, 0.16), top, (x - 0.2, 0.85, z - 0.3),
                    (x + 0.2, 1.5, z + 0.1))
    for side in (-1, 1):
        scene.cylinder(1, (x + side * 0.11, 0.6, z - 0.05), 0.07, 0.3,
                       int(rng.choice(materials["clothes"])))
    scene.sphere((x, 1.62, z), 0.12, materials["skin"])
    scene.contact_shadows.append((x, z, 0.3, 0.9, 0.4))


def _facade_material(rng: np.random.Generator, low: bool) -> Material:
    palette = rng.integers(3)
    if palette == 0:  # brick reds and browns
        colour = _hsv(rng, (0.0, 0.08), (0.35, 0.7), (0.35, 0.7))
    elif palette == 1:  # concrete and render greys
        grey = rng.uniform(0.45, 0.85)
        colour = _shade_of((grey, grey * rng.uniform(0.95, 1.02), grey * rng.uniform(0.9, 1.05)),
                           1.0)
    else:  # painted pastels
        colour = _hsv(rng, (0, 1), (0.1, 0.45), (0.55, 0.9))
    floor_h = rng.uniform(2.8, 3.6)
    windows = (rng.uniform(2.0, 4.0), floor_h, rng.uniform(0.3, 0.7), rng.uniform(0.4, 0.7),
               rng.uniform(0.3, 1.0) * floor_h if not low else rng.uniform(0.6, 1.2))
    glass = _hsv(rng, (0.5, 0.65), (0.1, 0.5), (0.1, 0.45))
    return _random_surface(rng, colour, (0.25, 1.2), windows=windows, window_colour=glass)


def _building(scene: Scene, rng: np.random.Generator, side: int, front: float, z: float,
              length: float, height: float, material: int, extras: dict, city: bool) -> None:
    """One building: a box with a window grid, and facade depth in front of it.

    A recessed shop front with an awning, balconies, a cornice.
    """
    scene.label = "building"
    depth = rng.uniform(8.0, 20.0)
    near_x = side * front
    far_x = side * (front + depth)
    windows = scene.materials[material].windows
    floor_h = windows[1]
    shop = city and rng.random() < 0.5
    body_bottom = 0.0
    if shop:
        # The shop floor is set back behind its glass; the floors above overhang the street.
        shop_h = rng.uniform(3.0, 4.0)
        recess = rng.uniform(0.3, 1.0)
        glass_x = side * (front + recess)
        scene.box((min(glass_x, far_x), 0.0, z + 0.3), (max(glass_x, far_x), shop_h,
                                                       z + length - 0.3), extras["shop_glass"])
        for pier_z in (z, z + length - 0.3):
            scene.box((min(near_x, far_x), 0.0, pier_z), (max(near_x, far_x), shop_h,
                                                          pier_z + 0.3), material)
        if rng.random() < 0.6:
            awning = int(rng.choice(extras["awnings"]))
            reach = rng.uniform(1.0, 2.0)
            scene.box((min(near_x, near_x - side * reach), shop_h - 0.55, z + 0.5),
                      (max(near_x, near_x - side * reach), shop_h - 0.4, z + length - 0.5),
                      awning)
        body_bottom = shop_h
    scene.box((min(near_x, far_x), body_bottom, z), (max(near_x, far_x), height, z + length),
              material)
    # Cornice: a ledge along the top, casting a shadow line.
    if rng.random() < 0.6:
        ledge = rng.uniform(0.2, 0.5)
        scene.box((min(near_x, near_x - side * ledge), height - 0.4, z - 0.1),
                  (max(near_x, near_x - side * ledge), height, z + length + 0.1), material)
    # Balconies: slabs with a solid parapet on some window columns of the upper floors.
    if rng.random() < 0.45 and height > 2.5 * floor_h:
        spacing = windows[0]
        columns = max(int(length // spacing), 1)
        origin = z + (length - columns * spacing) * 0.5
        reach = rng.uniform(0.8, 1.4)
        rail = int(rng.choice([material, extras["metal"]]))
        pick = rng.random(columns) < 0.5
        # Runs of neighbouring balconies are one slab (as continuous balconies are; and far
        # away, fewer boxes).
        runs = []
        for col in np.flatnonzero(pick):
            if runs and runs[-1][1] == col:
                runs[-1][1] = col + 1
            else:
                runs.append([col, col + 1])
        if rng.random() < 0.3 or abs(z) > 45.0:
            runs = [[0, columns]]
        first = body_bottom + windows[4] if not shop else body_bottom
        floor = first + floor_h
        while floor < height - floor_h * 0.8:
            for c0, c1 in runs:
                bz0 = origin + c0 * spacing + spacing * 0.1
                bz1 = origin + c1 * spacing - spacing * 0.1
                scene.box((min(near_x, near_x - side * reach), floor - 0.15, bz0),
                          (max(near_x, near_x - side * reach), floor + 0.9, bz1), rail)
            floor += floor_h


def _buildings(scene: Scene, rng: np.random.Generator, side: int, kerb: float, far: float,
               style: str, crossing, extras: dict) -> float:
    """Facades along one side of the street (side -1 left, +1 right); returns the front line."""
    city = style == "city"
    front = kerb + rng.uniform(0.0, 1.5) if city else kerb + rng.uniform(3.0, 10.0)
    z = rng.uniform(-15.0, -2.0)
    materials = [scene.material(_facade_material(rng, not city)) for _ in range(4)]
    while z < far:
        length = rng.uniform(8.0, 28.0) if city else rng.uniform(8.0, 16.0)
        if crossing is not None and z < crossing[1] and z + length > crossing[0]:
            z = crossing[1] + rng.uniform(0.5, 3.0)  # the cross street's corner
            continue
        if rng.random() < (0.15 if city else 0.45):
            z += rng.uniform(3.0, 12.0)  # a gap between buildings
            continue
        setback = front + (rng.uniform(0.5, 4.0) if rng.random() < 0.3 else 0.0)
        height = rng.uniform(7.0, 30.0) if city else rng.uniform(4.0, 9.0)
        _building(scene, rng, side, setback, z, length, height, int(rng.choice(materials)),
                  extras, city)
        z += length
    return front


def _street_furniture(scene: Scene, rng: np.random.Generator, edges, kerbs,
                      has_sidewalk: bool, far: float, materials: dict) -> None:
    """Lamp posts, signs, bins and fences.

    At the road edges ``edges`` (left, right x) and the back of the pavements ``kerbs``.
    """
    scene.label = "street furniture"
    metal = materials["metal"]
    for side, edge, kerb in ((-1, edges[0], kerbs[0]), (1, edges[1], kerbs[1])):
        post_x = edge + side * (0.5 if has_sidewalk else 0.8)
        z = rng.uniform(2.0, 20.0)
        spacing = rng.uniform(12.0, 30.0)
        while z < far and rng.random() < 0.92:
            tall = rng.uniform(4.5, 8.0)
            radius = rng.uniform(0.06, 0.12)
            scene.cylinder(1, (post_x, tall / 2, z), radius, tall / 2, metal)
            if rng.random() < 0.6:
                arm = rng.uniform(1.0, 2.5)
                scene.box((min(post_x, post_x - side * arm), tall - 0.15, z - 0.06),
                          (max(post_x, post_x - side * arm), tall, z + 0.06), metal)
            z += spacing * rng.uniform(0.7, 1.3)
        # Signs on their own poles: round or square plates facing the traffic.
        for _ in range(int(rng.integers(0, 3))):
            sz = rng.uniform(3.0, 40.0)
            pole_h = rng.uniform(2.2, 2.8)
            scene.cylinder(1, (post_x, pole_h / 2, sz), 0.04, pole_h / 2, metal)
            plate = int(rng.choice(materials["signs"]))
            size = rng.uniform(0.3, 0.45)
            if rng.random() < 0.5:
                scene.cylinder(2, (post_x, pole_h, sz - 0.06), size, 0.02, plate)
            else:
                scene.box((post_x - size, pole_h - size, sz - 0.08),
                          (post_x + size, pole_h + size, sz - 0.05), plate)
        if has_sidewalk:
            # Bins and bollards.
            for _ in range(int(rng.integers(0, 4))):
                bz = rng.uniform(2.0, 50.0)
                if rng.random() < 0.5:
                    scene.cylinder(1, (post_x, 0.5, bz), 0.3, 0.5,
                                   int(rng.choice(materials["bins"])))
                else:
                    bw = rng.uniform(0.5, 1.2)
                    scene.box((post_x - 0.3, 0.0, bz), (post_x + 0.3, 1.1, bz + bw),
                              int(rng.choice(materials["bins"])))
                scene.contact_shadows.append((post_x, bz, 0.5, 0.6, 0.4))
        if rng.random() < 0.3:
            # A fence (pickets by texture) along the back of the pavement.
            fx = kerb - side * rng.uniform(0.1, 0.5)
            z0 = rng.uniform(0.0, 20.0)
            z1 = z0 + rng.uniform(10.0, 40.0)
            fence_h = rng.uniform(0.8, 1.8)
            scene.box((fx - 0.03, 0.0, z0), (fx + 0.03, fence_h, z1), materials["fence"])


SEGMENT = 8.0  # metres: long boxes are cut into pieces this long before a street is bent


def _bend(scene: Scene, road: _Road, k: float, rise: float = 0.0) -> None:
    """Curve a straight, flat street: (x, y, z) moves to (x + k z^2, y + rise z^2, z).

    Objects turn to follow the curve and stay upright. The curve's radius is 1 / 2k at the
    camera, which stands where it starts (z = 0); the ground becomes Y = rise Z^2 (a dip or
    a crest ahead).
    """
    road.bend = k
    scene.ground_curve = rise
    pieces = []
    for prim in scene.primitives:
        if prim.kind == KIND_BOX and prim.yaw == 0.0 and prim.hi[2] - prim.lo[2] > SEGMENT:
            # A long box (pavement, hedge, fence, long facade) becomes a chain of pieces.
            starts = np.arange(prim.lo[2], prim.hi[2], SEGMENT)
            for z0 in starts:
                piece = dataclasses.replace(prim, lo=prim.lo.copy(), hi=prim.hi.copy())
                piece.lo[2], piece.hi[2] = z0, min(z0 + SEGMENT, prim.hi[2])
                pieces.append(piece)
        else:
            pieces.append(prim)
    for prim in pieces:
        if prim.kind in (KIND_GROUND, KIND_INSIDE_BOX):
            continue
        lo, hi = prim.world_bounds()
        z_part = (lo[2] + hi[2]) / 2  # each part of an object rests on the ground under it
        if prim.yaw == 0.0 and not prim.pivot.any():
            ref = (prim.lo + prim.hi) / 2  # turn about the primitive's own centre
            ref[1] = 0.0
            prim.lo, prim.hi, prim.centre = prim.lo - ref, prim.hi - ref, prim.centre - ref
            prim.pivot = ref
        z = prim.pivot[2]
        prim.pivot = prim.pivot + np.array([k * z * z, rise * z_part * z_part, 0.0])
        prim.yaw += math.atan(2 * k * z)
        if rise and prim.kind == KIND_BOX and prim.lo[1] <= 0.01 + 1e-9:
            # Standing on a slope: reach down to the lower end of the footprint.
            half = (prim.hi[2] - prim.lo[2]) / 2
            prim.lo = prim.lo - np.array([0.0, abs(2 * rise * z) * half + 0.02, 0.0])
    scene.primitives = pieces
    scene.contact_shadows = [(x + k * z * z, z, rx, rz, strength)
                             for x, z, rx, rz, strength in scene.contact_shadows]


def _parked_yaw(rng: np.random.Generator) -> float:
    """Parked cars are mostly square to the kerb, some a little askew, some facing back."""
    yaw = 0.0 if rng.random() < 0.5 else math.radians(rng.normal(0, 2.5))
    return yaw + (math.pi if rng.random() < 0.3 else 0.0)


def _traffic_lights(scene: Scene, rng: np.random.Generator, edges, z: float,
                    materials: dict) -> None:
    """Signal posts at both kerbs before a crossing: a post, a dark housing, three lamps."""
    scene.label = "street furniture"
    lit = int(rng.integers(3))
    for side, edge in ((-1, edges[0]), (1, edges[1])):
        x = edge + side * 0.6
        tall = rng.uniform(2.6, 3.2)
        scene.cylinder(1, (x, tall / 2, z), 0.06, tall / 2, materials["metal"])
        scene.box((x - 0.18, tall, z - 0.2), (x + 0.18, tall + 0.95, z + 0.05),
                  materials["tyre"])
        for k, colour in enumerate(("red", "amber", "green")):
            lamp = materials["signal_on" if k == lit else "signal_off"][colour]
            scene.cylinder(2, (x, tall + 0.78 - k * 0.3, z - 0.21), 0.1, 0.01, lamp,
                           casts=False)


def _outdoor_camera(rng: np.random.Generator, height: int, width: int, x: float) -> Camera:
    """A street camera: mostly 1.5-1.8 m high (1.2-2.0), level +-5 deg, 40-100 deg wide."""
    cam_height = rng.uniform(1.5, 1.8) if rng.random() < 0.8 else rng.uniform(1.2, 2.0)
    return _camera(rng, height, width, (x, cam_height, 0.0), rng.uniform(-5.0, 5.0),
                   rng.normal(0, 3.0), rng.uniform(40.0, 100.0), roll_deg=_small_roll(rng))


def _outdoor_scene(rng: np.random.Generator, height: int, width: int
                   ) -> tuple[Scene, Camera]:
    scene = Scene(max_depth=MAX_DEPTH["outdoor"])
    _lighting(rng, scene, outdoor=True)
    far = scene.max_depth * 1.1
    style = str(rng.choice(["city", "suburb", "rural"], p=[0.5, 0.35, 0.15]))
    lanes = int(rng.integers(1, 5))
    lane = rng.uniform(2.9, 3.7)
    ego = int(rng.integers(lanes))
    left = -(ego + 0.5) * lane + rng.normal(0, 0.3)
    parking = style != "rural" and rng.random() < 0.85
    park_w = rng.uniform(2.0, 2.5)
    right = left + lanes * lane
    road_left, road_right = (left - park_w, right + park_w) if parking else (left, right)
    crossing = None
    if style != "rural" and rng.random() < 0.4:
        z_cross = rng.uniform(10.0, 45.0)
        crossing = (z_cross, z_cross + rng.uniform(7.0, 14.0))
    road = _Road(rng, road_left, road_right, lane, crossing)
    road.dividers = np.array([left + lane * k for k in range(0 if parking else 1,
                                                             lanes + (1 if parking else 0))],
                             np.float32)
    scene.ground_shader = road
    scene.label = "ground"
    scene.ground(scene.material(Material(colour=tuple(road.asphalt))))
    camera = _outdoor_camera(rng, height, width, 0.0)

    materials = _outdoor_materials(rng, scene)
    has_sidewalk = style != "rural" or rng.random() < 0.3
    kerbs = [road_left, road_right]
    if has_sidewalk:
        curb = rng.uniform(0.1, 0.18)
        grey = rng.uniform(0.45, 0.75)
        paving = scene.material(_random_surface(
            rng, (grey, grey, grey * rng.uniform(0.9, 1.05)), (0.3, 0.9),
            patterns=(PATTERN_CHECKER, PATTERN_BRICKS, PATTERN_NOISE)))
        walk = rng.uniform(1.8, 4.5)
        spans = [(-5.0, far)] if crossing is None else [(-5.0, crossing[0]), (crossing[1], far)]
        for z0, z1 in spans:
            scene.box((road_left - walk, 0.0, z0), (road_left, curb, z1), paving, casts=False)
            scene.box((road_right, 0.0, z0), (road_right + walk, curb, z1), paving, casts=False)
        kerbs = [road_left - walk, road_right + walk]

    extras = {"metal": materials["metal"], "awnings": materials["awnings"],
              "shop_glass": materials["shop_glass"]}
    fronts = []
    for side, kerb in ((-1, -kerbs[0]), (1, kerbs[1])):
        if style == "rural":
            fronts.append(kerb + rng.uniform(3.0, 15.0))
            continue
        fronts.append(_buildings(scene, rng, side, kerb, far, style, crossing, extras))

    _street_furniture(scene, rng, (road_left, road_right), kerbs, has_sidewalk, far, materials)
    if crossing is not None:
        _traffic_lights(scene, rng, (road_left, road_right), crossing[0] - 1.0, materials)

    # Vegetation: street trees along the pavement, hedges and bushes in front gardens, and in
    # the country, groves on both sides.
    tree_count = {"city": 6, "suburb": 10, "rural": 16}[style]
    for _ in range(int(rng.integers(1, tree_count + 1))):
        side = -1 if rng.random() < 0.5 else 1
        kerb = -kerbs[0] if side < 0 else kerbs[1]
        front = fronts[0] if side < 0 else fronts[1]
        if style == "rural":
            lateral = rng.uniform(kerb + 1.0, kerb + 25.0)
        elif rng.random() < 0.6:
            lateral = kerb - rng.uniform(0.6, 1.2) if has_sidewalk else kerb + 1.0
        else:
            lateral = rng.uniform(kerb, max(front - 1.0, kerb + 0.5))
        tz = rng.uniform(3.0, far)
        if crossing is not None and crossing[0] - 2 < tz < crossing[1] + 2:
            continue
        _tree(scene, rng, side * lateral, tz, materials["bark"], materials["leaves"])
    if style != "rural" and rng.random() < 0.4:
        # An avenue: big trees at regular spacing along the kerbs, canopies over the road.
        spacing = rng.uniform(8.0, 15.0)
        for side, edge in ((-1, road_left), (1, road_right)):
            if rng.random() < 0.2:
                continue
            tx = edge + side * (rng.uniform(0.6, 1.2) if has_sidewalk else 1.5)
            tz = rng.uniform(0.0, spacing)
            while tz < far:
                if crossing is None or not crossing[0] - 2 < tz < crossing[1] + 2:
                    _tree(scene, rng, tx + rng.normal(0, 0.15), tz, materials["bark"],
                          materials["leaves"], big=True)
                tz += spacing * rng.uniform(0.85, 1.15)
    scene.label = "vegetation"
    if style != "city":
        for side, front, kerb in ((-1, fronts[0], -kerbs[0]), (1, fronts[1], kerbs[1])):
            if rng.random() < 0.5:
                x = max(front - rng.uniform(0.5, 2.0), kerb + 0.3)
                scene.box((side * x, 0.0, rng.uniform(0, 20)),
                          (side * (x + rng.uniform(0.5, 1.2)), rng.uniform(0.8, 1.8),
                           rng.uniform(30, far)), int(rng.choice(materials["leaves"])))
            for _ in range(int(rng.integers(0, 4))):
                _bush(scene, rng, side * rng.uniform(kerb + 0.5, max(front, kerb + 1.0)),
                      rng.uniform(3.0, 50.0), materials["leaves"])

    # Parked cars in rows along both kerbs, traffic in the lanes, cars crossing.
    car_materials = materials
    if parking:
        for lane_x in (left - park_w / 2, right + park_w / 2):
            if rng.random() < 0.1:
                continue
            z = rng.uniform(-4.0, 6.0)
            while z < 75.0:
                if crossing is not None and crossing[0] - 6 < z < crossing[1] + 3:
                    z = crossing[1] + 3.0
                    continue
                if rng.random() < 0.82:
                    _car(scene, rng, lane_x + rng.normal(0, 0.12), z + 2.4,
                         _parked_yaw(rng), car_materials)
                z += rng.uniform(5.2, 7.5)
    for k in range(lanes):
        centre = left + (k + 0.5) * lane
        z = rng.uniform(5.0 if k != ego else 7.0, 30.0)
        while z < 75.0 and rng.random() < 0.6:
            oncoming = k < ego and rng.random() < 0.7
            _car(scene, rng, centre + rng.normal(0, 0.25), z + 2.4,
                 math.radians(rng.normal(0, 1.5)) + (math.pi if oncoming else 0.0),
                 car_materials)
            z += rng.uniform(9.0, 30.0)
    if crossing is not None and rng.random() < 0.7:
        for _ in range(int(rng.integers(1, 3))):
            _car(scene, rng, rng.uniform(road_left - 15, road_right + 15),
                 rng.uniform(crossing[0] + 2.0, crossing[1] - 2.0),
                 math.pi / 2 + math.radians(rng.normal(0, 3)), car_materials)
    # People on the pavements, cyclists at the road edge.
    if has_sidewalk:
        for _ in range(int(rng.integers(0, 7))):
            side = -1 if rng.random() < 0.5 else 1
            kerb = -kerbs[0] if side < 0 else kerbs[1]
            px = side * rng.uniform(kerb - 1.5, kerb - 0.3)
            _person(scene, rng, px, rng.uniform(3.0, 45.0), materials["clothes"],
                    materials["skin"], yaw=rng.uniform(0, 2 * math.pi))
    if rng.random() < 0.3:
        x = (left + 0.8) if rng.random() < 0.5 else (right - 0.8)
        _cyclist(scene, rng, x, rng.uniform(5.0, 35.0), materials)
    bend = rise = 0.0
    if crossing is None and rng.random() < 0.3:
        # A curved street: radius 60-400 m, bending left or right.
        radius = math.exp(rng.uniform(math.log(60.0), math.log(400.0)))
        bend = (1 if rng.random() < 0.5 else -1) / (2 * radius)
    if rng.random() < 0.25:
        # A dip or a crest ahead: up to +-5 m of height 80 m away.
        rise = rng.uniform(-0.0008, 0.0008)
    if bend or rise:
        _bend(scene, road, bend, rise)
    return scene, camera


def _outdoor_materials(rng: np.random.Generator, scene: Scene) -> dict:
    """The shared palette of one street."""
    def plain(colour, noise_amount=0.05, **extra) -> int:
        return scene.material(Material(colour=colour, noise=noise_amount, **extra))

    paints = []
    for _ in range(6):
        # Real car colours: mostly white, black, grey and silver, some saturated.
        pick = rng.random()
        if pick < 0.25:
            colour = _hsv(rng, (0, 1), (0.0, 0.05), (0.8, 0.95))
        elif pick < 0.45:
            colour = _hsv(rng, (0, 1), (0.0, 0.08), (0.05, 0.15))
        elif pick < 0.7:
            colour = _hsv(rng, (0.5, 0.7), (0.0, 0.1), (0.35, 0.7))
        else:
            colour = _hsv(rng, (0, 1), (0.5, 0.9), (0.25, 0.8))
        paints.append(plain(colour, 0.03))
    return {
        "paints": paints,
        "glass": plain(_hsv(rng, (0.5, 0.65), (0.1, 0.4), (0.05, 0.18)), 0.15),
        "tyre": plain((0.05, 0.05, 0.06), 0.2),
        "rear_light": plain((0.55, 0.05, 0.04), 0.05),
        "metal": plain(_hsv(rng, (0, 1), (0.0, 0.15), (0.25, 0.6))),
        "bark": scene.material(Material(colour=_hsv(rng, (0.05, 0.1), (0.3, 0.6), (0.12, 0.3)),
                                        noise=0.35, noise_scale=20.0)),
        "leaves": [scene.material(Material(
            colour=_hsv(rng, (0.15, 0.38), (0.35, 0.8), (0.12, 0.45)), noise=0.8,
            noise_scale=float(rng.uniform(6, 20)))) for _ in range(2)],
        "signs": [plain(_hsv(rng, (0, 1), (0.6, 1), (0.6, 1))) for _ in range(2)],
        "bins": [plain(_hsv(rng, (0, 1), (0.2, 0.8), (0.1, 0.5)), 0.1) for _ in range(2)],
        "fence": scene.material(Material(colour=_hsv(rng, (0, 1), (0.0, 0.3), (0.15, 0.6)),
                                         colour2=_hsv(rng, (0.2, 0.4), (0.2, 0.5), (0.1, 0.3)),
                                         pattern=PATTERN_STRIPES, period=float(
                                             rng.uniform(0.12, 0.3)), stripe_axis=0,
                                         noise=0.1)),
        "awnings": [scene.material(_random_surface(rng, _hsv(rng, (0, 1), (0.4, 0.9),
                                                             (0.3, 0.8)), (0.3, 0.8),
                                                   patterns=(PATTERN_STRIPES, PATTERN_NOISE)))
                    for _ in range(2)],
        "shop_glass": plain(_hsv(rng, (0.5, 0.65), (0.05, 0.3), (0.12, 0.35)), 0.3),
        "clothes": [plain(_hsv(rng, (0, 1), (0.0, 0.7), (0.05, 0.7)), 0.1) for _ in range(4)],
        "skin": plain(_hsv(rng, (0.03, 0.09), (0.3, 0.6), (0.3, 0.85)), 0.05),
        "signal_on": {name: scene.material(Material(colour=colour, emissive=True, noise=0.05))
                      for name, colour in (("red", (1.0, 0.15, 0.1)), ("amber", (1.0, 0.7, 0.1)),
                                           ("green", (0.2, 1.0, 0.6)))},
        "signal_off": {name: plain(colour, 0.05)
                       for name, colour in (("red", (0.2, 0.04, 0.03)),
                                            ("amber", (0.2, 0.14, 0.03)),
                                            ("green", (0.04, 0.2, 0.12)))},
    }

# --------------------------------------------------------------------------- indoor rooms

class _Room:
    """The furniture builder of one room: materials, free floor space, wall placement."""

    def __init__(self, scene: Scene, rng: np.random.Generator, width: float, length: float,
                 ceiling: float, camera_xz: tuple[float, float]) -> None:
        self.scene, self.rng = scene, rng
        self.width, self.length, self.ceiling = width, length, ceiling
        self.camera_xz = camera_xz
        self.taken: list[tuple[float, float, float, float]] = []
        self.woods = [scene.material(_random_surface(
            rng, _hsv(rng, (0.05, 0.12), (0.3, 0.7), (0.25, 0.75)), (0.05, 0.3),
            patterns=(PATTERN_NOISE, PATTERN_STRIPES))) for _ in range(2)]
        self.fabrics = [scene.material(_random_surface(
            rng, _hsv(rng, (0, 1), (0.1, 0.8), (0.2, 0.9)), (0.05, 0.4))) for _ in range(3)]
        self.white = scene.material(Material(colour=_hsv(rng, (0, 1), (0.0, 0.1), (0.7, 0.95)),
                                             noise=0.05))
        self.metal = scene.material(Material(colour=_hsv(rng, (0, 1), (0.0, 0.1), (0.1, 0.6)),
                                             noise=0.05))
        self.black = scene.material(Material(colour=(0.03, 0.03, 0.035), noise=0.05))
        self.screen = scene.material(Material(colour=_hsv(rng, (0.5, 0.7), (0.1, 0.5),
                                                          (0.1, 0.6)), noise=0.3,
                                              emissive=rng.random() < 0.5))
        self.objects = [scene.material(Material(colour=_hsv(rng, (0, 1), (0.1, 0.9),
                                                            (0.1, 0.95)), noise=0.1))
                        for _ in range(6)]
        self.leaves = scene.material(Material(colour=_hsv(rng, (0.2, 0.38), (0.4, 0.8),
                                                          (0.1, 0.4)), noise=0.7,
                                              noise_scale=30.0))

    def free(self, x0: float, z0: float, x1: float, z1: float, margin: float = 0.05) -> bool:
        """Whether a floor rectangle is inside the room, clear of the camera and of furniture."""
        if x0 < -1e-6 or z0 < -1e-6 or x1 > self.width + 1e-6 or z1 > self.length + 1e-6:
            return False
        cx, cz = self.camera_xz
        if x0 - 0.35 < cx < x1 + 0.35 and z0 - 0.35 < cz < z1 + 0.35:
            return False
        for a0, b0, a1, b1 in self.taken:
            if x0 < a1 + margin and a0 < x1 + margin and z0 < b1 + margin and b0 < z1 + margin:
                return False
        return True

    def place(self, depth: float, span: float, against_wall: bool, tries: int = 8):
        """A free floor rectangle (x0, z0, x1, z1) and the wall normal it faces, or None."""
        rng = self.rng
        for _ in range(tries):
            if against_wall:
                wall = int(rng.integers(4))
                if wall < 2:  # walls at x = 0 / x = width: the span runs along z
                    z0 = rng.uniform(0, max(self.length - span, 0.01))
                    x0 = 0.0 if wall == 0 else self.width - depth
                    rect = (x0, z0, x0 + depth, z0 + span)
                    facing = (1.0, 0.0) if wall == 0 else (-1.0, 0.0)
                else:
                    x0 = rng.uniform(0, max(self.width - span, 0.01))
                    z0 = 0.0 if wall == 2 else self.length - depth
                    rect = (x0, z0, x0 + span, z0 + depth)
                    facing = (0.0, 1.0) if wall == 2 else (0.0, -1.0)
            else:
                if rng.random() < 0.5:
                    depth, span = span, depth
                x0 = rng.uniform(0.3, max(self.width - depth - 0.3, 0.31))
                z0 = rng.uniform(0.3, max(self.length - span - 0.3, 0.31))
                rect = (x0, z0, x0 + depth, z0 + span)
                facing = (0.0, 0.0)
            if self.free(*rect):
                self.taken.append(rect)
                return rect, facing
        return None

    def legs(self, x0, z0, x1, z1, top: float, size: float, material: int) -> None:
        for lx, lz in ((x0, z0), (x1 - size, z0), (x0, z1 - size), (x1 - size, z1 - size)):
            self.scene.box((lx, 0.0, lz), (lx + size, top, lz + size), material)

    def contact(self, x0, z0, x1, z1, strength: float = 0.45) -> None:
        self.scene.contact_shadows.append(((x0 + x1) / 2, (z0 + z1) / 2,
                                           (x1 - x0) / 2 + 0.15, (z1 - z0) / 2 + 0.15,
                                           strength))

    def clutter(self, x0, z0, x1, z1, y: float, count: int) -> None:
        """Small objects standing on a surface at height ``y``: boxes, cups, bottles, books."""
        rng, scene = self.rng, self.scene
        owner, scene.label = scene.label, "object"
        for _ in range(count):
            w = rng.uniform(0.06, 0.35)
            d = rng.uniform(0.06, 0.3)
            if x1 - x0 < w + 0.02 or z1 - z0 < d + 0.02:
                continue
            ox, oz = rng.uniform(x0, x1 - w), rng.uniform(z0, z1 - d)
            material = int(rng.choice(self.objects))
            if rng.random() < 0.45:
                r = min(w, d) / 2
                h = rng.uniform(0.08, 0.32)
                scene.cylinder(1, (ox + r, y + h / 2, oz + r), r, h / 2, material)
            else:
                scene.box((ox, y, oz), (ox + w, y + rng.uniform(0.03, 0.3), oz + d), material)
        scene.label = owner

    # Furniture pieces -----------------------------------------------------------------

    def table(self) -> None:
        self.scene.label = "table"
        rng = self.rng
        tw, tl, th = rng.uniform(0.7, 1.6), rng.uniform(0.6, 1.0), rng.uniform(0.7, 0.78)
        desk = rng.random() < 0.5
        spot = self.place(tl, tw, against_wall=desk)
        if spot is None:
            return
        (x0, z0, x1, z1), facing = spot
        wood = int(rng.choice(self.woods))
        self.scene.box((x0, th - 0.035, z0), (x1, th, z1), wood)
        self.legs(x0 + 0.02, z0 + 0.02, x1 - 0.02, z1 - 0.02, th - 0.035, rng.uniform(0.04, 0.07),
                  wood if rng.random() < 0.6 else self.metal)
        self.contact(x0, z0, x1, z1, 0.3)
        if desk and rng.random() < 0.7:
            self.monitor(x0, z0, x1, z1, th, facing)
        self.clutter(x0 + 0.05, z0 + 0.05, x1 - 0.05, z1 - 0.05, th, int(rng.integers(0, 5)))
        for _ in range(int(rng.integers(1, 4))):
            self.chair_near(x0, z0, x1, z1)

    def monitor(self, x0, z0, x1, z1, top: float, facing) -> None:
        """A screen on a stand at the back of a desk, facing into the room."""
        self.scene.label = "monitor"
        rng, scene = self.rng, self.scene
        w, h = rng.uniform(0.45, 0.7), rng.uniform(0.3, 0.45)
        if facing[0] != 0:  # the desk stands against an x wall: the screen spans z
            back = x0 + 0.12 if facing[0] > 0 else x1 - 0.12
            cz = (z0 + z1) / 2
            scene.box((back - 0.02, top + 0.12, cz - w / 2), (back + 0.02, top + 0.12 + h,
                                                             cz + w / 2), self.black)
            face = back + 0.021 * facing[0]
            scene.box((min(face, face + 0.002 * facing[0]), top + 0.14, cz - w / 2 + 0.02),
                      (max(face, face + 0.002 * facing[0]), top + 0.1 + h, cz + w / 2 - 0.02),
                      self.screen, casts=False)
            scene.box((back - 0.03, top, cz - 0.03), (back + 0.03, top + 0.13, cz + 0.03),
                      self.black)
        else:
            back = z0 + 0.12 if facing[1] > 0 else z1 - 0.12
            cx = (x0 + x1) / 2
            scene.box((cx - w / 2, top + 0.12, back - 0.02), (cx + w / 2, top + 0.12 + h,
                                                             back + 0.02), self.black)
            face = back + 0.021 * facing[1]
            scene.box((cx - w / 2 + 0.02, top + 0.14, min(face, face + 0.002 * facing[1])),
                      (cx + w / 2 - 0.02, top + 0.1 + h, max(face, face + 0.002 * facing[1])),
                      self.screen, casts=False)
            scene.box((cx - 0.03, top, back - 0.03), (cx + 0.03, top + 0.13, back + 0.03),
                      self.black)

    def chair_near(self, x0, z0, x1, z1) -> None:
        rng = self.rng
        size = rng.uniform(0.4, 0.5)
        side = int(rng.integers(4))
        if side < 2:
            cx = x0 - size - 0.05 if side == 0 else x1 + 0.05
            cz = rng.uniform(z0, max(z1 - size, z0 + 0.01))
        else:
            cz = z0 - size - 0.05 if side == 2 else z1 + 0.05
            cx = rng.uniform(x0, max(x1 - size, x0 + 0.01))
        if not self.free(cx, cz, cx + size, cz + size, margin=0.0):
            return
        self.taken.append((cx, cz, cx + size, cz + size))
        # The back is on the side away from the table.
        back = {0: "x0", 1: "x1", 2: "z0", 3: "z1"}[side]
        self.chair(cx, cz, size, back)

    def chair(self, x0: float, z0: float, size: float, back: str) -> None:
        self.scene.label = "chair"
        rng, scene = self.rng, self.scene
        seat = rng.uniform(0.42, 0.48)
        material = int(rng.choice(self.woods + self.fabrics[:1] + [self.metal]))
        x1, z1 = x0 + size, z0 + size
        scene.box((x0, seat - 0.04, z0), (x1, seat, z1), material)
        self.legs(x0 + 0.01, z0 + 0.01, x1 - 0.01, z1 - 0.01, seat - 0.04, 0.035, material)
        top = seat + rng.uniform(0.35, 0.5)
        thick = 0.04
        if back == "x0":
            scene.box((x0, seat, z0), (x0 + thick, top, z1), material)
        elif back == "x1":
            scene.box((x1 - thick, seat, z0), (x1, top, z1), material)
        elif back == "z0":
            scene.box((x0, seat, z0), (x1, top, z0 + thick), material)
        else:
            scene.box((x0, seat, z1 - thick), (x1, top, z1), material)
        self.contact(x0, z0, x1, z1, 0.25)

    def shelf(self) -> None:
        """An open bookcase against a wall: sides, boards, back; books and objects inside."""
        self.scene.label = "shelf"
        rng, scene = self.rng, self.scene
        tall = rng.uniform(1.2, 2.1)
        depth, span = rng.uniform(0.28, 0.42), rng.uniform(0.6, 1.8)
        spot = self.place(depth, span, against_wall=True)
        if spot is None:
            return
        (x0, z0, x1, z1), facing = spot
        wood = int(rng.choice(self.woods + [self.white]))
        t = 0.025
        along_z = facing[0] != 0
        boards = int(rng.integers(3, 7))
        if along_z:
            back_x = (x0, x0 + t) if facing[0] > 0 else (x1 - t, x1)
            scene.box((back_x[0], 0, z0), (back_x[1], tall, z1), wood)
            scene.box((x0, 0, z0), (x1, tall, z0 + t), wood)
            scene.box((x0, 0, z1 - t), (x1, tall, z1), wood)
        else:
            back_z = (z0, z0 + t) if facing[1] > 0 else (z1 - t, z1)
            scene.box((x0, 0, back_z[0]), (x1, tall, back_z[1]), wood)
            scene.box((x0, 0, z0), (x0 + t, tall, z1), wood)
            scene.box((x1 - t, 0, z0), (x1, tall, z1), wood)
        books = scene.material(Material(
            colour=_hsv(rng, (0, 1), (0.3, 0.8), (0.2, 0.8)),
            colour2=_hsv(rng, (0, 1), (0.2, 0.8), (0.1, 0.6)), pattern=PATTERN_STRIPES,
            period=float(rng.uniform(0.04, 0.1)), stripe_axis=0, noise=0.3, noise_scale=25.0))
        gap = tall / boards
        for k in range(boards + 1):
            y = min(k * gap, tall - t)
            scene.box((x0, y, z0), (x1, y + t, z1), wood)
            if k == boards:
                break
            # A row of books (striped block) filling part of the board, and small objects.
            fill = rng.uniform(0.2, 0.9)
            book_h = min(gap - t - 0.02, rng.uniform(0.15, 0.3))
            if book_h <= 0.05:
                continue
            if along_z:
                bz0 = rng.uniform(z0 + t, z1 - t - (z1 - z0) * fill)
                scene.box((x0 + 0.03, y + t, bz0), (x1 - 0.02, y + t + book_h,
                                                    bz0 + (z1 - z0 - 2 * t) * fill), books)
            else:
                bx0 = rng.uniform(x0 + t, x1 - t - (x1 - x0) * fill)
                scene.box((bx0, y + t, z0 + 0.03), (bx0 + (x1 - x0 - 2 * t) * fill,
                                                    y + t + book_h, z1 - 0.02), books)
            if rng.random() < 0.4:
                self.clutter(x0 + t, z0 + t, x1 - t, z1 - t, y + t, 1)
        self.contact(x0, z0, x1, z1, 0.4)

    def kitchen(self) -> None:
        """Base cabinets with a worktop along a wall, wall cabinets above, things on top."""
        self.scene.label = "kitchen"
        rng, scene = self.rng, self.scene
        span = rng.uniform(1.5, min(3.5, max(self.width, self.length) - 0.2))
        spot = self.place(0.6, span, against_wall=True)
        if spot is None:
            return
        (x0, z0, x1, z1), facing = spot
        doors = scene.material(Material(
            colour=_hsv(rng, (0, 1), (0.0, 0.4), (0.3, 0.95)),
            colour2=_hsv(rng, (0, 1), (0.0, 0.2), (0.1, 0.4)), pattern=PATTERN_STRIPES,
            period=float(rng.uniform(0.4, 0.6)), stripe_axis=0, noise=0.05))
        top = int(rng.choice(self.woods + [self.white, self.metal]))
        scene.box((x0, 0.1, z0), (x1, 0.86, z1), doors)
        scene.box((x0, 0.0, z0), (x1, 0.1, z1), self.black)  # the recessed plinth
        over = 0.03
        lo = (x0 - over * (facing[0] < 0), 0.86, z0 - over * (facing[1] < 0))
        hi = (x1 + over * (facing[0] > 0), 0.9, z1 + over * (facing[1] > 0))
        scene.box(lo, hi, top)
        self.clutter(x0 + 0.05, z0 + 0.05, x1 - 0.05, z1 - 0.05, 0.9, int(rng.integers(1, 5)))
        if rng.random() < 0.7:
            # Wall cabinets, shallower, from 1.45 m up.
            depth = 0.35
            wx0 = x0 if facing[0] >= 0 else x1 - depth
            wz0 = z0 if facing[1] >= 0 else z1 - depth
            wx1 = x1 if facing[0] != 0 and facing[0] < 0 else (x0 + depth if facing[0] > 0
                                                               else x1)
            wz1 = z1 if facing[1] != 0 and facing[1] < 0 else (z0 + depth if facing[1] > 0
                                                               else z1)
            scene.box((wx0, 1.45, wz0), (wx1, min(2.2, self.ceiling - 0.1), wz1), doors)
        self.contact(x0, z0, x1, z1, 0.35)

    def bed(self) -> None:
        self.scene.label = "bed"
        rng, scene = self.rng, self.scene
        spot = self.place(rng.uniform(1.9, 2.1), rng.uniform(0.9, 1.8), against_wall=True)
        if spot is None:
            return
        (x0, z0, x1, z1), facing = spot
        frame = int(rng.choice(self.woods))
        scene.box((x0, 0.0, z0), (x1, 0.3, z1), frame)
        linen = int(rng.choice(self.fabrics + [self.white]))
        scene.ellipsoid(((x0 + x1) / 2, 0.3, (z0 + z1) / 2),
                        ((x1 - x0) * 0.6, 0.25, (z1 - z0) * 0.6), linen,
                        (x0 + 0.02, 0.3, z0 + 0.02), (x1 - 0.02, 0.55, z1 - 0.02))
        # Headboard and pillows at the wall end (the long axis meets the wall).
        if facing[0] != 0:
            hx = (x0, x0 + 0.06) if facing[0] > 0 else (x1 - 0.06, x1)
            scene.box((hx[0], 0.0, z0), (hx[1], rng.uniform(0.8, 1.2), z1), frame)
            px = x0 + 0.3 if facing[0] > 0 else x1 - 0.3
            for pz in np.linspace(z0 + 0.3, z1 - 0.3, 2 if z1 - z0 > 1.3 else 1):
                scene.ellipsoid((px, 0.6, pz), (0.2, 0.09, 0.3), self.white)
        else:
            hz = (z0, z0 + 0.06) if facing[1] > 0 else (z1 - 0.06, z1)
            scene.box((x0, 0.0, hz[0]), (x1, rng.uniform(0.8, 1.2), hz[1]), frame)
            pz = z0 + 0.3 if facing[1] > 0 else z1 - 0.3
            for px in np.linspace(x0 + 0.3, x1 - 0.3, 2 if x1 - x0 > 1.3 else 1):
                scene.ellipsoid((px, 0.6, pz), (0.3, 0.09, 0.2), self.white)
        self.contact(x0, z0, x1, z1, 0.5)

    def sofa(self) -> None:
        self.scene.label = "sofa"
        rng, scene = self.rng, self.scene
        spot = self.place(rng.uniform(0.85, 1.0), rng.uniform(1.5, 2.4), against_wall=True)
        if spot is None:
            return
        (x0, z0, x1, z1), facing = spot
        fabric = int(rng.choice(self.fabrics))
        scene.box((x0, 0.08, z0), (x1, 0.45, z1), fabric)
        self.legs(x0 + 0.05, z0 + 0.05, x1 - 0.05, z1 - 0.05, 0.08, 0.05, self.black)
        arm_h, back_h = 0.62, rng.uniform(0.8, 0.95)
        if facing[0] != 0:
            bx = (x0, x0 + 0.2) if facing[0] > 0 else (x1 - 0.2, x1)
            scene.box((bx[0], 0.45, z0), (bx[1], back_h, z1), fabric)
            scene.box((x0, 0.45, z0), (x1, arm_h, z0 + 0.2), fabric)
            scene.box((x0, 0.45, z1 - 0.2), (x1, arm_h, z1), fabric)
        else:
            bz = (z0, z0 + 0.2) if facing[1] > 0 else (z1 - 0.2, z1)
            scene.box((x0, 0.45, bz[0]), (x1, back_h, bz[1]), fabric)
            scene.box((x0, 0.45, z0), (x0 + 0.2, arm_h, z1), fabric)
            scene.box((x1 - 0.2, 0.45, z0), (x1, arm_h, z1), fabric)
        self.contact(x0, z0, x1, z1, 0.5)

    def cabinet(self) -> None:
        self.scene.label = "cabinet"
        rng, scene = self.rng, self.scene
        spot = self.place(rng.uniform(0.35, 0.55), rng.uniform(0.5, 1.4), against_wall=True)
        if spot is None:
            return
        (x0, z0, x1, z1), _ = spot
        tall = rng.uniform(0.5, 1.0) if rng.random() < 0.6 else rng.uniform(1.6, 2.1)
        scene.box((x0, 0.0, z0), (x1, tall, z1), int(rng.choice(self.woods + [self.white])))
        if tall < 1.2:
            self.clutter(x0 + 0.03, z0 + 0.03, x1 - 0.03, z1 - 0.03, tall, int(rng.integers(0, 4)))
        self.contact(x0, z0, x1, z1, 0.4)

    def boxes(self) -> None:
        self.scene.label = "boxes"
        rng, scene = self.rng, self.scene
        spot = self.place(rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.8), against_wall=False)
        if spot is None:
            return
        (x0, z0, x1, z1), _ = spot
        cardboard = scene.material(Material(colour=_hsv(rng, (0.07, 0.11), (0.35, 0.6),
                                                        (0.45, 0.75)), noise=0.1))
        y = 0.0
        for _ in range(int(rng.integers(1, 4))):
            h = rng.uniform(0.2, 0.5)
            shrink = rng.uniform(0.0, 0.08)
            scene.box((x0 + shrink, y, z0 + shrink), (x1 - shrink, y + h, z1 - shrink),
                      cardboard)
            y += h
        self.contact(x0, z0, x1, z1, 0.4)

    def plant(self) -> None:
        self.scene.label = "plant"
        rng, scene = self.rng, self.scene
        spot = self.place(0.5, 0.5, against_wall=rng.random() < 0.6)
        if spot is None:
            return
        (x0, z0, x1, z1), _ = spot
        cx, cz = (x0 + x1) / 2, (z0 + z1) / 2
        pot_h = rng.uniform(0.25, 0.45)
        scene.cylinder(1, (cx, pot_h / 2, cz), rng.uniform(0.14, 0.22), pot_h / 2,
                       int(rng.choice(self.objects)))
        size = rng.uniform(0.25, 0.6)
        for _ in range(int(rng.integers(2, 5))):
            o = rng.normal(0, size * 0.3, 3)
            scene.ellipsoid((cx + o[0], pot_h + size + o[1], cz + o[2]),
                            size * rng.uniform(0.5, 0.9, 3), self.leaves)
        self.contact(x0, z0, x1, z1, 0.35)

    def person(self) -> None:
        rng = self.rng
        spot = self.place(0.5, 0.5, against_wall=False)
        if spot is None:
            return
        (x0, z0, x1, z1), _ = spot
        _person(self.scene, rng, (x0 + x1) / 2, (z0 + z1) / 2, self.fabrics + self.objects[:2],
                self.objects[2], yaw=rng.uniform(0, 2 * math.pi))

    def floor_lamp(self) -> None:
        self.scene.label = "lamp"
        rng, scene = self.rng, self.scene
        spot = self.place(0.4, 0.4, against_wall=rng.random() < 0.7)
        if spot is None:
            return
        (x0, z0, x1, z1), _ = spot
        cx, cz = (x0 + x1) / 2, (z0 + z1) / 2
        tall = rng.uniform(1.3, 1.8)
        scene.cylinder(1, (cx, 0.015, cz), 0.15, 0.015, self.metal)
        scene.cylinder(1, (cx, tall / 2, cz), 0.015, tall / 2, self.metal)
        shade = scene.material(Material(colour=(1.0, 0.92, 0.75), emissive=True, noise=0.05))
        scene.cylinder(1, (cx, tall + 0.1, cz), rng.uniform(0.15, 0.25), 0.12, shade, casts=False)

    def on_wall(self, kind: str) -> None:
        """Doors, windows, pictures, radiators: thin boxes on a wall."""
        self.scene.label = "wall fixture"
        rng, scene = self.rng, self.scene
        span = {"door": rng.uniform(0.8, 1.0), "window": rng.uniform(0.8, 2.0),
                "picture": rng.uniform(0.3, 1.2), "radiator": rng.uniform(0.6, 1.4)}[kind]
        wall = int(rng.integers(4))
        long = self.length if wall < 2 else self.width
        a0 = rng.uniform(0.1, max(long - span - 0.1, 0.11))
        bottom = {"door": 0.0, "window": rng.uniform(0.7, 1.0),
                  "picture": rng.uniform(1.1, 1.5), "radiator": 0.15}[kind]
        top = {"door": 2.05, "window": min(bottom + rng.uniform(0.9, 1.5), self.ceiling - 0.2),
               "picture": bottom + span * rng.uniform(0.5, 1.0), "radiator": 0.75}[kind]
        depth = {"door": 0.04, "window": 0.02, "picture": 0.03, "radiator": 0.1}[kind]
        if kind == "window":
            material = scene.material(Material(colour=_hsv(rng, (0.5, 0.65), (0.05, 0.4),
                                                           (0.85, 1.0)),
                                               noise=0.15, emissive=True))
        elif kind == "picture":
            material = scene.material(_random_surface(
                rng, _hsv(rng, (0, 1), (0.2, 0.9), (0.2, 0.9)), (0.05, 0.3)))
        elif kind == "radiator":
            material = scene.material(Material(colour=(0.9, 0.9, 0.88), colour2=(0.6, 0.6, 0.6),
                                               pattern=PATTERN_STRIPES, period=0.08,
                                               stripe_axis=0, noise=0.03))
        else:
            material = int(rng.choice(self.woods + [self.white]))
        if wall == 0:
            lo, hi = (0.0, bottom, a0), (depth, top, a0 + span)
        elif wall == 1:
            lo, hi = (self.width - depth, bottom, a0), (self.width, top, a0 + span)
        elif wall == 2:
            lo, hi = (a0, bottom, 0.0), (a0 + span, top, depth)
        else:
            lo, hi = (a0, bottom, self.length - depth), (a0 + span, top, self.length)
        scene.box(lo, hi, material, casts=kind == "radiator")

    def rug(self) -> None:
        self.scene.label = "rug"
        rng = self.rng
        rw, rl = rng.uniform(1.0, 2.5), rng.uniform(1.0, 3.0)
        x0 = rng.uniform(0, max(self.width - rw, 0.01))
        z0 = rng.uniform(0, max(self.length - rl, 0.01))
        self.scene.box((x0, 0, z0), (x0 + rw, 0.012, z0 + rl), int(rng.choice(self.fabrics)),
                       casts=False)

    def ceiling_lamp(self) -> None:
        self.scene.label = "lamp"
        rng = self.rng
        lamp = self.scene.material(Material(colour=(1.0, 0.97, 0.88), emissive=True, noise=0.0))
        x, z = rng.uniform(0.5, self.width - 0.5), rng.uniform(0.5, self.length - 0.5)
        size = rng.uniform(0.15, 0.4)
        if rng.random() < 0.5:
            self.scene.box((x - size, self.ceiling - 0.06, z - size),
                           (x + size, self.ceiling, z + size), lamp, casts=False)
        else:
            drop = rng.uniform(0.3, 0.8)
            self.scene.cylinder(1, (x, self.ceiling - drop / 2, z), 0.01, drop / 2, self.black,
                                casts=False)
            self.scene.ellipsoid((x, self.ceiling - drop, z), (size * 0.7, size * 0.4, size * 0.7),
                                 lamp, casts=False)


def _indoor_scene(rng: np.random.Generator, height: int, width: int) -> tuple[Scene, Camera]:
    scene = Scene(max_depth=MAX_DEPTH["indoor"])
    _lighting(rng, scene, outdoor=False)
    room_w, room_l = rng.uniform(2.5, 6.0), rng.uniform(2.8, 7.0)
    ceiling = rng.uniform(2.4, 3.0)
    walls = scene.material(_random_surface(rng, _hsv(rng, (0, 1), (0.0, 0.35), (0.5, 0.95)),
                                           (0.1, 0.6),
                                           patterns=(PATTERN_NOISE, PATTERN_NOISE,
                                                     PATTERN_STRIPES, PATTERN_BRICKS)))
    # A doorway in the far wall (z = room_l) opens into a further room: the room box reaches
    # past that wall, which is built from boxes around the opening.
    beyond = rng.uniform(2.0, 5.0) if rng.random() < 0.5 else 0.0
    # The room box reaches a little past the floor and ceiling slabs below, so the slabs'
    # surfaces are strictly nearer than the room's and win the depth test.
    scene.label = "room"
    scene.room((0.0, -0.05, 0.0), (room_w, ceiling + 0.05, room_l + beyond), walls)
    floor = scene.material(_random_surface(
        rng, _hsv(rng, (0.04, 0.14), (0.1, 0.7), (0.2, 0.85)), (0.2, 1.2),
        patterns=(PATTERN_BRICKS, PATTERN_CHECKER, PATTERN_NOISE, PATTERN_STRIPES)))
    scene.box((0.0, -0.1, 0.0), (room_w, 0.0, room_l + beyond), floor, casts=False)
    ceiling_material = scene.material(Material(colour=_hsv(rng, (0, 1), (0.0, 0.08),
                                                           (0.75, 0.98)), noise=0.04))
    scene.box((0.0, ceiling, 0.0), (room_w, ceiling + 0.1, room_l + beyond), ceiling_material,
              casts=False)
    if beyond:
        divider = scene.material(_random_surface(
            rng, _hsv(rng, (0, 1), (0.0, 0.3), (0.5, 0.95)), (0.1, 0.6),
            patterns=(PATTERN_NOISE,)))
        door_w = rng.uniform(0.8, min(1.6, room_w - 0.4))
        door_x = rng.uniform(0.1, room_w - door_w - 0.1)
        door_top = min(rng.uniform(2.0, 2.2), ceiling - 0.1)
        t = 0.12
        scene.box((0.0, 0.0, room_l), (door_x, ceiling, room_l + t), divider, casts=False)
        scene.box((door_x + door_w, 0.0, room_l), (room_w, ceiling, room_l + t), divider,
                  casts=False)
        scene.box((door_x, door_top, room_l), (door_x + door_w, ceiling, room_l + t), divider,
                  casts=False)
    cam_x = rng.uniform(0.35, room_w - 0.35)
    cam_z = rng.uniform(0.3, room_l * 0.7)
    builder = _Room(scene, rng, room_w, room_l, ceiling, (cam_x, cam_z))
    kitchen = rng.random() < 0.3
    if kitchen:
        builder.kitchen()
    pieces = ["table", "table", "shelf", "shelf", "cabinet", "boxes", "plant", "person",
              "floor_lamp", "sofa", "bed", "chair", "rug", "door", "window", "picture",
              "picture", "radiator", "ceiling_lamp"]
    people = 0
    for _ in range(int(rng.integers(8, 18))):
        kind = str(rng.choice(pieces))
        scene.label = kind
        if kind == "person":
            # At most one person, in about a quarter of the rooms.
            people += 1
            if people > 1 or rng.random() < 0.5:
                continue
        if kind in ("door", "window", "picture", "radiator"):
            builder.on_wall(kind)
        elif kind == "chair":
            spot = builder.place(0.45, 0.45, against_wall=False)
            if spot is not None:
                (x0, z0, _, _), _ = spot
                builder.chair(x0, z0, 0.45, str(rng.choice(["x0", "x1", "z0", "z1"])))
        else:
            getattr(builder, kind)()
    # Bare walls, floor and ceiling say nothing of a room's size, yet with one random aim
    # they filled over 70 % of a third of the views (real rooms show their furniture): a few
    # aims are tried on a thumbnail, the first that shows enough of the room's contents wins,
    # else the one that shows the most.
    room_ids = [i + 1 for i, p in enumerate(scene.primitives) if p.label == "room"]
    best = None
    for _ in range(AIM_TRIES):
        camera = _room_camera(rng, builder, height, width, beyond)
        thumbnail = _thumbnail(camera)
        seen = cast(scene, thumbnail, Rays(thumbnail))[1]  # geometry only, no shading
        bare = float(np.isin(seen, room_ids).mean())
        if best is None or bare < best[0]:
            best = (bare, camera)
        if bare <= MAX_BARE_SHARE:
            break
    return scene, best[1]


# The indoor aim's search: tries, and the share of a view that bare room surfaces may fill.
AIM_TRIES = 4
MAX_BARE_SHARE = 0.5


def _room_camera(rng: np.random.Generator, room: _Room, height: int, width: int,
                 beyond: float) -> Camera:
    """A camera at the room's camera spot and a hand-held or robot height.

    Aimed at a piece of furniture (close views), the doorway or across the room.
    """
    cam_x, cam_z = room.camera_xz
    if room.taken and rng.random() < 0.6:
        x0, z0, x1, z1 = room.taken[int(rng.integers(len(room.taken)))]
        target = ((x0 + x1) / 2, (z0 + z1) / 2)
    else:
        target = (room.width / 2 + rng.normal(0, room.width * 0.2),
                  (room.length + beyond) * rng.uniform(0.6, 1.0))
    yaw = math.degrees(math.atan2(target[0] - cam_x, target[1] - cam_z)) + rng.normal(0, 10)
    cam_height = rng.uniform(0.8, 1.8)
    return _camera(rng, height, width, (cam_x, cam_height, cam_z), rng.uniform(0.0, 30.0),
                   yaw, rng.uniform(*HFOV_RANGE["indoor"]), roll_deg=_small_roll(rng))


def _thumbnail(camera: Camera, width: int = 40) -> Camera:
    """The same view at ``width`` pixels across (for cheap looks at what a view shows)."""
    s = width / camera.width
    return dataclasses.replace(camera, width=width, height=max(int(round(camera.height * s)), 1),
                               fx=camera.fx * s, fy=camera.fy * s,
                               cx=(camera.cx + 0.5) * s - 0.5, cy=(camera.cy + 0.5) * s - 0.5)


# --------------------------------------------------------------------------- public API

@dataclasses.dataclass
class LabelMap:
    """What each pixel of a rendering shows: ``names[ids[v, u]]`` ("sky", "car", "ground", ...)."""

    ids: np.ndarray  # H x W int32 indices into names; 0 is the sky
    names: list[str]

    def mask(self, name: str) -> np.ndarray:
        """Pixels showing ``name`` (all False when the scene has none)."""
        return np.isin(self.ids, [i for i, n in enumerate(self.names) if n == name])


def render_scene_with_labels(domain: str, height: int, width: int, rng: np.random.Generator
                             ) -> tuple[RGBDSample, LabelMap]:
    """Like :func:`render_scene`, also returning what each pixel shows (for statistics)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    if height < 8 or width < 8:
        raise ValueError(f"image size {height}x{width} is too small (minimum 8x8)")
    build = _outdoor_scene if domain == "outdoor" else _indoor_scene
    scene, camera = build(rng, int(height), int(width))
    image, depth, hit = render_linear(scene, camera)
    rgb = _camera_effects(rng, image, hit == 0, domain == "outdoor")
    sample = RGBDSample(rgb=rgb, depth=depth, fx=float(camera.fx), fy=float(camera.fy),
                        cx=float(camera.cx), cy=float(camera.cy))
    return sample, LabelMap(hit, ["sky", *(p.label or "unlabelled" for p in scene.primitives)])


def render_scene_with_sky(domain: str, height: int, width: int, rng: np.random.Generator
                          ) -> tuple[RGBDSample, np.ndarray]:
    """Like :func:`render_scene`, also returning the boolean sky mask (no geometry hit)."""
    sample, labels = render_scene_with_labels(domain, height, width, rng)
    return sample, labels.ids == 0


def render_scene(domain: str, height: int, width: int, rng: np.random.Generator) -> RGBDSample:
    """Render one random frame of ``domain`` ('outdoor' or 'indoor') at height x width.

    Depth is z-depth in metres, clamped to the domain's maximum (80 m / 10 m); sky pixels
    hold the maximum. fx, fy, cx, cy are the pixel intrinsics of this image (the field of
    view and principal point vary per frame). All randomness comes from ``rng``.
    """
    return render_scene_with_sky(domain, height, width, rng)[0]


# Bump a domain's number when a change to the renderer changes its frames: cached frames of
# older versions are then not read (they live in a differently named folder).
RENDER_VERSIONS = {"outdoor": 9, "indoor": 10}


class SyntheticScenes(Dataset):
    """A fixed-length dataset of rendered frames; item ``i`` is a pure function of (seed, i).

    With ``cache_dir``, each frame is written there the first time it is rendered and read
    back afterwards (exact: uint8 RGB and float32 depth in an uncompressed .npz, about
    7 bytes per pixel), so that later epochs cost a file read instead of a render; several
    processes may fill one cache at once. :meth:`fill` renders a range ahead of training.
    """

    def __init__(self, domain: str = "outdoor", length: int = 1000, height: int = 192,
                 width: int = 640, seed: int = 0, cache_dir: str | os.PathLike | None = None
                 ) -> None:
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        if height < 8 or width < 8:
            raise ValueError(f"image size {height}x{width} is too small (minimum 8x8)")
        self.domain, self.length = domain, int(length)
        self.height, self.width, self.seed = int(height), int(width), int(seed)
        self.max_depth = MAX_DEPTH[domain]
        self.cache = None
        if cache_dir is not None:
            self.cache = (Path(cache_dir) / f"{domain}_{self.height}x{self.width}_s{self.seed}"
                          f"_v{RENDER_VERSIONS[domain]}")
            self.cache.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> RGBDSample:
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} scenes")
        index = int(index) % self.length
        name = f"synth_{self.domain}_s{self.seed}_{index:06d}"
        path = self.cache / f"{index:07d}.npz" if self.cache is not None else None
        if path is not None and path.exists():
            try:
                with np.load(path, allow_pickle=False) as data:
                    fx, fy, cx, cy = (float(v) for v in data["intrinsics"])
                    return RGBDSample(rgb=data["rgb"], depth=data["depth"], fx=fx, fy=fy,
                                      cx=cx, cy=cy, name=name)
            except (OSError, ValueError, KeyError):
                pass  # a damaged file: render the frame again and overwrite it
        sample = render_scene(self.domain, self.height, self.width, frame_rng(self.seed, index))
        sample.name = name
        if path is not None:
            # Write to a private temporary name, then rename: readers never see half a file.
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, rgb=sample.rgb, depth=sample.depth,
                     intrinsics=np.array([sample.fx, sample.fy, sample.cx, sample.cy]))
            os.replace(tmp, path)
        return sample

    def fill(self, start: int = 0, stop: int | None = None) -> int:
        """Render the frames start..stop-1 missing from the cache; returns how many."""
        if self.cache is None:
            raise ValueError("fill() needs a cache_dir")
        stop = self.length if stop is None else min(int(stop), self.length)
        missing = [i for i in range(int(start), stop)
                   if not (self.cache / f"{i:07d}.npz").exists()]
        for index in missing:
            self[index]
        return len(missing)
