"""The project's procedural RGB-D renderer: driving streets and indoor rooms, randomised.

Every frame is ray-cast from analytic geometry (:mod:`.raycast`), so RGB and metric depth
come from the same surfaces. Randomised per frame: layout, textures (noise, stripes, checker,
bricks), colours, sun direction and strength, ambient light, fog, sky, camera height, pitch,
yaw and horizontal field of view. A frame is a pure function of (seed, index).
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
from torch.utils.data import Dataset

from .raycast import (
    PATTERN_BRICKS,
    PATTERN_CHECKER,
    PATTERN_NOISE,
    PATTERN_STRIPES,
    Camera,
    Material,
    Scene,
    noise,
    render,
)
from .sample import RGBDSample

DOMAINS = ("outdoor", "indoor")
MAX_DEPTH = {"outdoor": 80.0, "indoor": 10.0}


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


def _camera(rng: np.random.Generator, height: int, width: int, position, pitch_deg, yaw_deg,
            hfov_deg) -> Camera:
    fx = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    return Camera(position=tuple(float(p) for p in position), pitch=math.radians(pitch_deg),
                  yaw=math.radians(yaw_deg), fx=fx, fy=fx, cx=(width - 1) / 2.0,
                  cy=(height - 1) / 2.0, height=height, width=width)


def _lighting(rng: np.random.Generator, scene: Scene, outdoor: bool) -> None:
    elevation = rng.uniform(0.15, 1.3)
    azimuth = rng.uniform(0, 2 * math.pi)
    scene.sun = (math.cos(elevation) * math.sin(azimuth), math.sin(elevation),
                 math.cos(elevation) * math.cos(azimuth))
    warm = rng.uniform(-0.08, 0.12)
    scene.sun_colour = (1.0, 1.0 - warm * 0.5, 1.0 - warm)
    if outdoor:
        overcast = rng.random() < 0.3
        scene.sun_strength = float(rng.uniform(0.15, 0.35) if overcast else rng.uniform(0.5, 0.9))
        scene.ambient = float(rng.uniform(0.45, 0.7) if overcast else rng.uniform(0.25, 0.45))
        scene.cloudiness = float(rng.uniform(0.6, 1.0) if overcast else rng.uniform(0.0, 0.5))
        scene.sky_zenith = _hsv(rng, (0.55, 0.64), (0.15, 0.25) if overcast else (0.35, 0.7),
                                (0.6, 0.95))
        scene.sky_horizon = _hsv(rng, (0.5, 0.65), (0.02, 0.2), (0.75, 0.98))
        scene.fog_colour = scene.sky_horizon
        scene.fog_density = float(rng.uniform(0.002, 0.02))
    else:
        scene.sun_strength = float(rng.uniform(0.3, 0.7))
        scene.ambient = float(rng.uniform(0.3, 0.6))
        scene.cloudiness = 0.0
        scene.fog_colour = _shade_of(_hsv(rng, (0.05, 0.15), (0.05, 0.3), (0.2, 0.6)), 1.0)
        scene.fog_density = float(rng.uniform(0.0, 0.08))


# --------------------------------------------------------------------------- outdoor streets

class _Road:
    """Ground shader of the street: asphalt with lane markings, shoulders of grass or dirt."""

    def __init__(self, rng: np.random.Generator, left: float, right: float, lane: float) -> None:
        self.left, self.right, self.lane = left, right, lane
        grey = rng.uniform(0.22, 0.45)
        self.asphalt = np.array(_shade_of((grey, grey, grey * rng.uniform(0.95, 1.08)), 1.0),
                                np.float32)
        self.verge = np.array(_hsv(rng, (0.08, 0.3), (0.25, 0.6), (0.25, 0.55)), np.float32)
        self.paint = np.array((0.9, 0.9, 0.85) if rng.random() < 0.85 else (0.9, 0.75, 0.2),
                              np.float32)
        self.mark_width = rng.uniform(0.1, 0.18)
        self.dash, self.gap = rng.uniform(2.0, 4.0), rng.uniform(3.0, 9.0)
        self.solid_edges = rng.random() < 0.7
        self.offset = rng.uniform(0, 10)
        self.noise_scale = rng.uniform(6.0, 20.0)
        lanes = int(round((right - left) / lane))
        self.dividers = np.array([left + lane * k for k in range(1, lanes)], np.float32)

    def __call__(self, x: np.ndarray, z: np.ndarray, footprint: np.ndarray) -> list[np.ndarray]:
        on_road = ((x > self.left) & (x < self.right)).astype(np.float32)
        grain = 1.0 + 0.12 * (noise(x, z, self.noise_scale)
                              + 0.5 * noise(z, x, self.noise_scale * 2.7, 9))
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
        weight = paint * coverage * 0.9
        out = []
        for channel in range(3):
            base = (self.verge[channel] + (self.asphalt[channel] - self.verge[channel]) * on_road)
            out.append(base * grain * (1 - weight) + self.paint[channel] * weight)
        return out


def _car(scene: Scene, rng: np.random.Generator, x: float, z: float, materials) -> None:
    """A car or van whose footprint is centred on ``x`` and starts at ``z``."""
    paint, glass, tyre = materials
    van = rng.random() < 0.15
    width = rng.uniform(1.65, 1.95) if not van else rng.uniform(1.9, 2.3)
    length = rng.uniform(3.8, 4.9) if not van else rng.uniform(4.8, 7.0)
    clearance = 0.18
    body_top = rng.uniform(0.9, 1.1) if not van else rng.uniform(1.9, 2.6)
    scene.box((x - width / 2, clearance, z), (x + width / 2, body_top, z + length), paint)
    # One box per axle: the wheels seen from the side, the dark underbody seen from behind.
    wheel = 0.62
    for wz in (z + 0.75, z + length - 0.75 - wheel):
        scene.box((x - width / 2 - 0.02, 0.0, wz), (x + width / 2 + 0.02, wheel, wz + wheel),
                  tyre)
    if not van:
        cabin_w = width * rng.uniform(0.82, 0.92)
        cabin_len = length * rng.uniform(0.45, 0.58)
        start = z + length * rng.uniform(0.2, 0.32)
        scene.box((x - cabin_w / 2, body_top, start),
                  (x + cabin_w / 2, body_top + rng.uniform(0.42, 0.6), start + cabin_len), glass)
    else:
        # The van's windscreen band faces the camera.
        scene.box((x - width / 2 + 0.05, body_top - 0.9, z - 0.02),
                  (x + width / 2 - 0.05, body_top - 0.3, z + 0.05), glass)


def _tree(scene: Scene, rng: np.random.Generator, x: float, z: float, bark: int, leaves: int
          ) -> None:
    trunk = rng.uniform(0.2, 0.45)
    height = rng.uniform(1.8, 3.5)
    scene.box((x - trunk / 2, 0.0, z - trunk / 2), (x + trunk / 2, height, z + trunk / 2), bark)
    crown = rng.uniform(1.2, 2.6)
    for _ in range(int(rng.integers(2, 5))):
        offset = rng.normal(0, crown * 0.35, 3)
        radius = crown * rng.uniform(0.6, 1.0)
        scene.sphere((x + offset[0], height + crown * 0.7 + offset[1], z + offset[2]), radius,
                     leaves)


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


def _buildings(scene: Scene, rng: np.random.Generator, side: int, kerb: float, far: float,
               style: str) -> float:
    """Facades along one side of the street (side -1 left, +1 right); returns the front line."""
    front = kerb + rng.uniform(0.0, 2.0) if style == "city" else kerb + rng.uniform(3.0, 10.0)
    z = rng.uniform(-15.0, -2.0)
    materials = [scene.material(_facade_material(rng, style != "city")) for _ in range(4)]
    while z < far:
        length = rng.uniform(8.0, 30.0) if style == "city" else rng.uniform(8.0, 16.0)
        if rng.random() < (0.15 if style == "city" else 0.45):
            z += rng.uniform(3.0, 12.0)  # a gap between buildings
            continue
        setback = front + (rng.uniform(0.0, 2.5) if rng.random() < 0.4 else 0.0)
        depth = rng.uniform(8.0, 20.0)
        height = rng.uniform(7.0, 32.0) if style == "city" else rng.uniform(4.0, 9.0)
        near_x = side * setback
        far_x = side * (setback + depth)
        scene.box((min(near_x, far_x), 0.0, z), (max(near_x, far_x), height, z + length),
                  int(rng.choice(materials)))
        z += length
    return front


def _outdoor_scene(rng: np.random.Generator, height: int, width: int
                   ) -> tuple[Scene, Camera]:
    scene = Scene(max_depth=MAX_DEPTH["outdoor"])
    _lighting(rng, scene, outdoor=True)
    far = scene.max_depth * 1.1
    style = str(rng.choice(["city", "suburb", "rural"], p=[0.5, 0.3, 0.2]))
    lanes = int(rng.integers(2, 5))
    lane = rng.uniform(2.9, 3.7)
    ego = int(rng.integers(lanes))
    left = -(ego + 0.5) * lane + rng.normal(0, 0.3)
    right = left + lanes * lane
    road = _Road(rng, left, right, lane)
    scene.ground_shader = road
    scene.ground(scene.material(Material(colour=tuple(road.asphalt))))

    cam_height = rng.uniform(1.5, 1.8)
    camera = _camera(rng, height, width, (0.0, cam_height, 0.0), rng.uniform(-1.5, 4.0),
                     rng.normal(0, 2.5), rng.uniform(60.0, 95.0))

    bark = scene.material(Material(colour=_hsv(rng, (0.05, 0.1), (0.3, 0.6), (0.15, 0.35)),
                                   noise=0.3, noise_scale=20.0))
    leaves = scene.material(Material(
        colour=_hsv(rng, (0.15, 0.38), (0.35, 0.8), (0.15, 0.5)), noise=0.7,
        noise_scale=float(rng.uniform(6, 20))))
    metal = scene.material(Material(colour=_hsv(rng, (0, 1), (0.0, 0.15), (0.3, 0.7)),
                                    noise=0.05))
    has_sidewalk = style != "rural" or rng.random() < 0.3
    kerbs = [left, right]
    if has_sidewalk:
        curb = rng.uniform(0.1, 0.2)
        grey = rng.uniform(0.45, 0.75)
        paving = scene.material(_random_surface(
            rng, (grey, grey, grey * rng.uniform(0.9, 1.05)), (0.3, 0.9),
            patterns=(PATTERN_CHECKER, PATTERN_BRICKS, PATTERN_NOISE)))
        walk = rng.uniform(1.5, 4.0)
        scene.box((left - walk, 0.0, -5.0), (left, curb, far), paving)
        scene.box((right, 0.0, -5.0), (right + walk, curb, far), paving)
        kerbs = [left - walk, right + walk]

    fronts = []
    for side, kerb in ((-1, -kerbs[0]), (1, kerbs[1])):
        if style == "rural":
            fronts.append(kerb + rng.uniform(3.0, 15.0))
            continue
        fronts.append(_buildings(scene, rng, side, kerb, far, style))

    # Street furniture: lamp posts and signs at the kerb.
    for side, kerb in ((-1, kerbs[0]), (1, kerbs[1])):
        z = rng.uniform(2.0, 20.0)
        spacing = rng.uniform(15.0, 35.0)
        post_x = kerb - side * 0.5 if has_sidewalk else kerb + side * 0.8
        while z < far and rng.random() < 0.9:
            tall = rng.uniform(4.5, 8.0)
            scene.box((post_x - 0.08, 0.0, z - 0.08), (post_x + 0.08, tall, z + 0.08), metal)
            if rng.random() < 0.6:
                arm = rng.uniform(1.0, 2.5)
                scene.box((min(post_x, post_x - side * arm), tall - 0.15, z - 0.06),
                          (max(post_x, post_x - side * arm), tall, z + 0.06), metal)
            elif rng.random() < 0.7:
                sign = scene.material(Material(colour=_hsv(rng, (0, 1), (0.6, 1), (0.6, 1)),
                                               noise=0.05))
                size = rng.uniform(0.5, 0.9)
                scene.box((post_x - size / 2, tall - size - 1.5, z - 0.12),
                          (post_x + size / 2, tall - 1.5, z - 0.09), sign)
            z += spacing * rng.uniform(0.7, 1.3)

    # Vegetation: street trees, hedges, and in the country, groves on both sides.
    tree_count = {"city": 4, "suburb": 8, "rural": 14}[style]
    for _ in range(int(rng.integers(0, tree_count + 1))):
        side = -1 if rng.random() < 0.5 else 1
        kerb = -kerbs[0] if side < 0 else kerbs[1]
        front = fronts[0] if side < 0 else fronts[1]
        lateral = rng.uniform(kerb - (0.8 if has_sidewalk else -0.5),
                              max(front - 1.0, kerb + 0.5)) if style != "rural" else \
            rng.uniform(kerb + 1.0, kerb + 25.0)
        _tree(scene, rng, side * lateral, rng.uniform(4.0, far), bark, leaves)
    if style != "city" and rng.random() < 0.6:
        hedge = scene.material(Material(colour=_hsv(rng, (0.18, 0.35), (0.4, 0.8), (0.15, 0.4)),
                                        noise=0.5, noise_scale=float(rng.uniform(10, 30))))
        for side, front in ((-1, fronts[0]), (1, fronts[1])):
            if rng.random() < 0.6:
                x = front - rng.uniform(0.5, 2.0)
                scene.box((side * x, 0.0, rng.uniform(0, 20)),
                          (side * (x + rng.uniform(0.5, 1.2)), rng.uniform(0.8, 1.8),
                           rng.uniform(30, far)), hedge)

    # Traffic: cars in the lanes ahead, parked cars at the kerbs.
    tyre = scene.material(Material(colour=(0.06, 0.06, 0.07), noise=0.2))
    glass = scene.material(Material(colour=_hsv(rng, (0.5, 0.65), (0.1, 0.4), (0.08, 0.25)),
                                    noise=0.1))
    paints = [scene.material(Material(colour=_hsv(rng, (0, 1), (0.0, 0.9), (0.1, 0.95)),
                                      noise=0.04)) for _ in range(5)]
    for k in range(lanes):
        centre = left + (k + 0.5) * lane
        z = rng.uniform(6.0 if k != ego else 8.0, 30.0)
        while z < 75.0 and rng.random() < 0.65:
            _car(scene, rng, centre + rng.normal(0, 0.2), z,
                 (int(rng.choice(paints)), glass, tyre))
            z += rng.uniform(9.0, 30.0)
    for side_x in (left, right):
        if rng.random() < (0.6 if style != "rural" else 0.1):
            inward = 1.0 if side_x == left else -1.0
            z = rng.uniform(-3.0, 12.0)
            while z < 70.0:
                if rng.random() < 0.75:
                    _car(scene, rng, side_x + inward * rng.uniform(1.0, 1.2), z,
                         (int(rng.choice(paints)), glass, tyre))
                z += rng.uniform(5.5, 9.0)
    return scene, camera


# --------------------------------------------------------------------------- indoor rooms

def _furniture(scene: Scene, rng: np.random.Generator, room: tuple[float, float, float],
               camera_xz: tuple[float, float]) -> None:
    width, length, ceiling = room
    woods = [scene.material(_random_surface(
        rng, _hsv(rng, (0.05, 0.12), (0.3, 0.7), (0.25, 0.75)), (0.05, 0.3),
        patterns=(PATTERN_NOISE, PATTERN_STRIPES))) for _ in range(2)]
    fabrics = [scene.material(_random_surface(rng, _hsv(rng, (0, 1), (0.1, 0.8), (0.2, 0.9)),
                                              (0.05, 0.4))) for _ in range(3)]
    white = scene.material(Material(colour=_hsv(rng, (0, 1), (0.0, 0.1), (0.7, 0.95)),
                                    noise=0.05))

    def clear(x0, z0, x1, z1) -> bool:
        cx, cz = camera_xz
        return not (x0 - 0.4 < cx < x1 + 0.4 and z0 - 0.4 < cz < z1 + 0.4)

    def against_wall(depth: float, span: float) -> tuple[float, float, float, float]:
        wall = int(rng.integers(4))
        if wall < 2:  # walls at x = 0 / x = width
            z0 = rng.uniform(0, max(length - span, 0.01))
            x0 = 0.0 if wall == 0 else width - depth
            return x0, z0, x0 + depth, z0 + span
        x0 = rng.uniform(0, max(width - span, 0.01))
        z0 = 0.0 if wall == 2 else length - depth
        return x0, z0, x0 + span, z0 + depth

    for _ in range(int(rng.integers(5, 13))):
        kind = rng.choice(["table", "bed", "shelf", "cabinet", "sofa", "door", "window",
                           "picture", "rug", "lamp"])
        if kind == "table":
            tw, tl, th = rng.uniform(0.6, 1.6), rng.uniform(0.6, 2.0), rng.uniform(0.7, 0.78)
            x0, z0 = rng.uniform(0.2, max(width - tw - 0.2, 0.21)), \
                rng.uniform(0.2, max(length - tl - 0.2, 0.21))
            if not clear(x0, z0, x0 + tw, z0 + tl):
                continue
            wood = int(rng.choice(woods))
            scene.box((x0, th - 0.04, z0), (x0 + tw, th, z0 + tl), wood)
            for lx, lz in ((x0, z0), (x0 + tw - 0.06, z0), (x0, z0 + tl - 0.06),
                           (x0 + tw - 0.06, z0 + tl - 0.06)):
                scene.box((lx, 0, lz), (lx + 0.06, th - 0.04, lz + 0.06), wood)
        elif kind == "bed":
            x0, z0, x1, z1 = against_wall(rng.uniform(1.9, 2.1), rng.uniform(0.9, 1.8))
            if not clear(x0, z0, x1, z1):
                continue
            scene.box((x0, 0, z0), (x1, 0.3, z1), int(rng.choice(woods)))
            scene.box((x0 + 0.03, 0.3, z0 + 0.03), (x1 - 0.03, 0.55, z1 - 0.03),
                      int(rng.choice(fabrics)))
        elif kind in ("shelf", "cabinet"):
            tall = rng.uniform(1.5, 2.2) if kind == "shelf" else rng.uniform(0.6, 1.1)
            x0, z0, x1, z1 = against_wall(rng.uniform(0.3, 0.5), rng.uniform(0.6, 2.0))
            if not clear(x0, z0, x1, z1):
                continue
            stripes = scene.material(Material(
                colour=_hsv(rng, (0.05, 0.12), (0.3, 0.7), (0.3, 0.7)),
                colour2=_hsv(rng, (0, 1), (0.2, 0.8), (0.1, 0.6)), pattern=PATTERN_STRIPES,
                period=float(rng.uniform(0.25, 0.45)), stripe_axis=1, noise=0.2))
            scene.box((x0, 0, z0), (x1, tall, z1), stripes)
        elif kind == "sofa":
            x0, z0, x1, z1 = against_wall(rng.uniform(0.8, 1.0), rng.uniform(1.4, 2.4))
            if not clear(x0, z0, x1, z1):
                continue
            fabric = int(rng.choice(fabrics))
            scene.box((x0, 0, z0), (x1, 0.45, z1), fabric)
            # Backrest along the side touching the wall (the thin dimension is the depth).
            if x1 - x0 < z1 - z0:
                back_x = (x0, x0 + 0.2) if x0 == 0.0 else (x1 - 0.2, x1)
                scene.box((back_x[0], 0.45, z0), (back_x[1], 0.85, z1), fabric)
            else:
                back_z = (z0, z0 + 0.2) if z0 == 0.0 else (z1 - 0.2, z1)
                scene.box((x0, 0.45, back_z[0]), (x1, 0.85, back_z[1]), fabric)
        elif kind in ("door", "window", "picture"):
            span = {"door": rng.uniform(0.8, 1.0), "window": rng.uniform(0.8, 2.0),
                    "picture": rng.uniform(0.4, 1.2)}[kind]
            x0, z0, x1, z1 = against_wall(0.04, span)
            bottom = {"door": 0.0, "window": rng.uniform(0.7, 1.0),
                      "picture": rng.uniform(1.1, 1.5)}[kind]
            top = {"door": 2.05, "window": min(bottom + rng.uniform(0.9, 1.5), ceiling - 0.2),
                   "picture": bottom + span * rng.uniform(0.5, 1.0)}[kind]
            if kind == "window":
                material = scene.material(Material(colour=_hsv(rng, (0.5, 0.65), (0.05, 0.4),
                                                               (0.75, 1.0)),
                                                   noise=0.15, emissive=True))
            elif kind == "picture":
                material = scene.material(_random_surface(
                    rng, _hsv(rng, (0, 1), (0.2, 0.9), (0.2, 0.9)), (0.05, 0.3)))
            else:
                material = int(rng.choice(woods + [white]))
            scene.box((x0, bottom, z0), (x1, top, z1), material)
        elif kind == "rug":
            rw, rl = rng.uniform(1.0, 2.5), rng.uniform(1.0, 3.0)
            x0, z0 = rng.uniform(0, max(width - rw, 0.01)), rng.uniform(0, max(length - rl, 0.01))
            scene.box((x0, 0, z0), (x0 + rw, 0.015, z0 + rl), int(rng.choice(fabrics)))
        else:  # a ceiling lamp
            lamp = scene.material(Material(colour=(1.0, 0.97, 0.88), emissive=True, noise=0.0))
            x, z = rng.uniform(0.5, width - 0.5), rng.uniform(0.5, length - 0.5)
            size = rng.uniform(0.2, 0.5)
            scene.box((x - size, ceiling - 0.08, z - size), (x + size, ceiling, z + size), lamp)


def _indoor_scene(rng: np.random.Generator, height: int, width: int) -> tuple[Scene, Camera]:
    scene = Scene(max_depth=MAX_DEPTH["indoor"])
    _lighting(rng, scene, outdoor=False)
    room_w, room_l = rng.uniform(2.8, 6.0), rng.uniform(3.2, 7.5)
    ceiling = rng.uniform(2.4, 3.2)
    walls = scene.material(_random_surface(rng, _hsv(rng, (0, 1), (0.0, 0.35), (0.5, 0.95)),
                                           (0.1, 0.6)))
    # The room box reaches a little past the floor and ceiling slabs below, so the slabs'
    # surfaces are strictly nearer than the room's and win the depth test.
    scene.room((0.0, -0.05, 0.0), (room_w, ceiling + 0.05, room_l), walls)
    floor = scene.material(_random_surface(
        rng, _hsv(rng, (0.04, 0.14), (0.2, 0.7), (0.25, 0.8)), (0.3, 1.5),
        patterns=(PATTERN_BRICKS, PATTERN_CHECKER, PATTERN_NOISE, PATTERN_STRIPES)))
    # The floor and ceiling are slabs just inside the room so they can differ from the walls.
    scene.box((0.0, -0.1, 0.0), (room_w, 0.0, room_l), floor)
    ceiling_material = scene.material(Material(colour=_hsv(rng, (0, 1), (0.0, 0.08),
                                                           (0.75, 0.98)), noise=0.04))
    scene.box((0.0, ceiling, 0.0), (room_w, ceiling + 0.1, room_l), ceiling_material)
    cam_x = rng.uniform(0.4, room_w - 0.4)
    cam_z = rng.uniform(0.3, room_l * 0.6)
    _furniture(scene, rng, (room_w, room_l, ceiling), (cam_x, cam_z))
    # Look roughly towards the middle of the far part of the room.
    target = (room_w / 2 + rng.normal(0, room_w * 0.2), room_l * rng.uniform(0.6, 1.0))
    yaw = math.degrees(math.atan2(target[0] - cam_x, target[1] - cam_z)) + rng.normal(0, 15)
    camera = _camera(rng, height, width, (cam_x, rng.uniform(1.0, 1.7), cam_z),
                     rng.uniform(-5.0, 20.0), yaw, rng.uniform(55.0, 80.0))
    return scene, camera


# --------------------------------------------------------------------------- public API

def render_scene_with_sky(domain: str, height: int, width: int, rng: np.random.Generator
                          ) -> tuple[RGBDSample, np.ndarray]:
    """Like :func:`render_scene`, also returning the boolean sky mask (no geometry hit)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    if height < 8 or width < 8:
        raise ValueError(f"image size {height}x{width} is too small (minimum 8x8)")
    build = _outdoor_scene if domain == "outdoor" else _indoor_scene
    scene, camera = build(rng, int(height), int(width))
    rgb, depth, sky = render(scene, camera)
    sample = RGBDSample(rgb=rgb, depth=depth, fx=float(camera.fx), fy=float(camera.fy),
                        cx=float(camera.cx), cy=float(camera.cy))
    return sample, sky


def render_scene(domain: str, height: int, width: int, rng: np.random.Generator) -> RGBDSample:
    """Render one random frame of ``domain`` ('outdoor' or 'indoor') at height x width.

    Depth is z-depth in metres, clamped to the domain's maximum (80 m / 10 m); sky pixels
    hold the maximum. All randomness comes from ``rng``.
    """
    return render_scene_with_sky(domain, height, width, rng)[0]


class SyntheticScenes(Dataset):
    """A fixed-length dataset of rendered frames; item ``i`` is a pure function of (seed, i)."""

    def __init__(self, domain: str = "outdoor", length: int = 1000, height: int = 192,
                 width: int = 640, seed: int = 0) -> None:
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        if height < 8 or width < 8:
            raise ValueError(f"image size {height}x{width} is too small (minimum 8x8)")
        self.domain, self.length = domain, int(length)
        self.height, self.width, self.seed = int(height), int(width), int(seed)
        self.max_depth = MAX_DEPTH[domain]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> RGBDSample:
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} scenes")
        index = int(index) % self.length
        sample = render_scene(self.domain, self.height, self.width, frame_rng(self.seed, index))
        sample.name = f"synth_{self.domain}_s{self.seed}_{index:06d}"
        return sample
