"""Vectorised ray casting of analytic geometry with procedural textures (numpy only).

World frame: X right, Y up, Z forward (metres). The camera has no roll, so the ray
direction's Y component depends on the image row only, and with zero yaw X depends on the
column only and Z on the row only: the per-axis slab terms are then (1, W) or (H, 1) arrays
and only the final min/max is full size. Rays are scaled so that the camera-frame z of a ray
is 1: the ray parameter ``t`` of a hit is directly the z-depth of that pixel.

Each primitive is only tested inside its screen-space bounding rectangle (its corners,
clipped against the near plane, projected), which keeps the cost near one full-image pass per
layer of overlapping objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

NEAR = 0.05  # metres; hits closer than this are ignored
F32 = np.float32

PATTERN_NOISE, PATTERN_STRIPES, PATTERN_CHECKER, PATTERN_BRICKS = range(4)
KIND_BOX, KIND_INSIDE_BOX, KIND_SPHERE, KIND_GROUND = range(4)


def _noise_tile(size: int = 256, seed: int = 20210401) -> np.ndarray:
    """A fixed, tileable multi-octave value-noise tile in [-1, 1] (same in every process)."""
    rng = np.random.default_rng(seed)
    freq = np.fft.fftfreq(size)
    radius2 = freq[:, None] ** 2 + freq[None, :] ** 2
    total = np.zeros((size, size))
    for sigma, weight in ((1.0, 0.25), (2.5, 0.35), (6.0, 0.4), (14.0, 0.5)):
        white = rng.standard_normal((size, size))
        # Gaussian smoothing in the Fourier domain keeps the tile seamless.
        blur = np.exp(-2.0 * (math.pi * sigma) ** 2 * radius2)
        octave = np.real(np.fft.ifft2(np.fft.fft2(white) * blur))
        total += weight * octave / octave.std()
    total /= np.abs(total).max()
    return total.astype(F32)


NOISE_TILE = _noise_tile()
NOISE_FLAT = NOISE_TILE.ravel()
NOISE_MASK = NOISE_TILE.shape[0] - 1
NOISE_BITS = int(NOISE_TILE.shape[0]).bit_length() - 1


def noise(a: np.ndarray, b: np.ndarray, scale: np.ndarray | float, offset: int = 0
          ) -> np.ndarray:
    """Look up the noise tile at texel coordinates (a, b) * scale (nearest texel, wraps)."""
    ia = (a * scale).astype(np.int32)
    ia += offset
    ia &= NOISE_MASK
    ia <<= NOISE_BITS
    ib = (b * scale).astype(np.int32)
    ib += 3 * offset
    ib &= NOISE_MASK
    return np.take(NOISE_FLAT, ia | ib)  # not in place: a and b may only broadcast


@dataclass
class Camera:
    """A pinhole camera without roll: position, pitch (down positive), yaw (right positive)."""

    position: tuple[float, float, float]
    pitch: float
    yaw: float
    fx: float
    fy: float
    cx: float
    cy: float
    height: int
    width: int

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World directions of the camera's right, down and forward axes."""
        sp, cp = math.sin(self.pitch), math.cos(self.pitch)
        sy, cy = math.sin(self.yaw), math.cos(self.yaw)
        right = np.array([cy, 0.0, -sy])
        down = np.array([-sp * sy, -cp, -sp * cy])
        forward = np.array([cp * sy, -sp, cp * cy])
        return right, down, forward


@dataclass
class Material:
    """Surface appearance: a base pattern between two colours, noise, an optional window grid."""

    colour: tuple[float, float, float]
    colour2: tuple[float, float, float] = (0.0, 0.0, 0.0)
    pattern: int = PATTERN_NOISE
    period: float = 1.0  # metres: stripe/checker period, brick length
    stripe_axis: int = 0  # 0: stripes vary along the face's horizontal axis, 1: vertical
    noise: float = 0.1  # relative amplitude of the colour noise
    noise_scale: float = 8.0  # noise texels per metre
    emissive: bool = False  # lights and windows: no shading
    windows: tuple[float, ...] | None = None  # (spacing, floor height, width frac, height frac,
    #                                           ground-floor height) of a facade window grid
    window_colour: tuple[float, float, float] = (0.15, 0.2, 0.25)


@dataclass
class Primitive:
    """A box (min/max corners), the inside of a box, a sphere, or the ground plane Y = 0."""

    kind: int
    lo: np.ndarray
    hi: np.ndarray
    material: int


@dataclass
class Scene:
    """Primitives and materials plus lighting; built by the scene generators."""

    materials: list[Material] = field(default_factory=list)
    primitives: list[Primitive] = field(default_factory=list)
    sun: tuple[float, float, float] = (0.3, 0.8, -0.4)
    sun_colour: tuple[float, float, float] = (1.0, 0.97, 0.9)
    sun_strength: float = 0.7
    ambient: float = 0.35
    fog_density: float = 0.004
    fog_colour: tuple[float, float, float] = (0.75, 0.8, 0.85)
    sky_zenith: tuple[float, float, float] = (0.35, 0.55, 0.85)
    sky_horizon: tuple[float, float, float] = (0.8, 0.85, 0.9)
    cloudiness: float = 0.3
    max_depth: float = 80.0
    # callable(x, z, footprint) -> [r, g, b] arrays: the colour of the ground plane
    ground_shader: object = None

    def material(self, material: Material) -> int:
        """Register a material, return its index."""
        self.materials.append(material)
        return len(self.materials) - 1

    def box(self, lo, hi, material: int) -> None:
        """Add an axis-aligned box from corner ``lo`` to corner ``hi``."""
        lo_arr, hi_arr = np.asarray(lo, float), np.asarray(hi, float)
        self.primitives.append(Primitive(KIND_BOX, np.minimum(lo_arr, hi_arr),
                                         np.maximum(lo_arr, hi_arr), material))

    def room(self, lo, hi, material: int) -> None:
        """Add a box seen from inside (walls, floor, ceiling)."""
        self.primitives.append(Primitive(KIND_INSIDE_BOX, np.asarray(lo, float),
                                         np.asarray(hi, float), material))

    def sphere(self, centre, radius: float, material: int) -> None:
        """Add a sphere (stored as centre in ``lo`` and radius in ``hi[0]``)."""
        self.primitives.append(Primitive(KIND_SPHERE, np.asarray(centre, float),
                                         np.array([radius, 0.0, 0.0]), material))

    def ground(self, material: int) -> None:
        """Add the infinite ground plane Y = 0."""
        self.primitives.append(Primitive(KIND_GROUND, np.zeros(3), np.zeros(3), material))


class Rays:
    """Per-pixel ray directions of a camera, kept in broadcastable (H,1)/(1,W) form if possible."""

    def __init__(self, camera: Camera) -> None:
        cam = camera
        xc = ((np.arange(cam.width, dtype=np.float64) - cam.cx) / cam.fx)[None, :]
        yc = ((np.arange(cam.height, dtype=np.float64) - cam.cy) / cam.fy)[:, None]
        sp, cp = math.sin(cam.pitch), math.cos(cam.pitch)
        sy, cy = math.sin(cam.yaw), math.cos(cam.yaw)
        along = cp - yc * sp  # forward component in the yaw-free frame, (H, 1)
        self.dy = (-yc * cp - sp).astype(F32)
        if cam.yaw == 0.0:
            self.dx = xc.astype(F32)
            self.dz = along.astype(F32)
        else:
            self.dx = (xc * cy + along * sy).astype(F32)
            self.dz = (-xc * sy + along * cy).astype(F32)
        self.inv = [self._inverse(d) for d in (self.dx, self.dy, self.dz)]
        self.norm2 = self.dx * self.dx + self.dy * self.dy + self.dz * self.dz  # (H, W)
        self.norm = np.sqrt(self.norm2)
        self.shape = (cam.height, cam.width)

    @staticmethod
    def _inverse(d: np.ndarray) -> np.ndarray:
        safe = np.where(np.abs(d) < 1e-9, np.where(d < 0, -1e-9, 1e-9), d)
        return (1.0 / safe).astype(F32)


def _window(array: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """The part of a broadcastable (H,1)/(1,W)/(H,W) array that covers rows x cols."""
    return array[rows if array.shape[0] > 1 else slice(None),
                 cols if array.shape[1] > 1 else slice(None)]


_BOX_EDGES = np.array([(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7),
                       (0, 4), (1, 5), (2, 6), (3, 7)])
_CORNER_PICK = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], bool)


def screen_rects(camera: Camera, lo: np.ndarray, hi: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Pixel rectangles (r0, r1, c0, c1) covering N boxes, and each box's nearest z.

    An invisible box gets an empty rectangle (r0 >= r1).

    Boxes that reach behind the camera are clipped against the near plane by cutting their
    12 edges, so their rectangle is still tight and correct.
    """
    count = len(lo)
    corners = np.where(_CORNER_PICK[None], hi[:, None, :], lo[:, None, :])  # (N, 8, 3)
    basis = np.stack(camera.axes(), axis=1)  # columns: right, down, forward
    cam = (corners - np.asarray(camera.position)) @ basis
    z = cam[..., 2]
    in_front = z > NEAR
    rects = np.zeros((count, 4), np.int64)
    safe_z = np.where(in_front, z, 1.0)
    u = camera.fx * cam[..., 0] / safe_z + camera.cx
    v = camera.fy * cam[..., 1] / safe_z + camera.cy
    u_min = np.where(in_front, u, np.inf).min(axis=1)
    u_max = np.where(in_front, u, -np.inf).max(axis=1)
    v_min = np.where(in_front, v, np.inf).min(axis=1)
    v_max = np.where(in_front, v, -np.inf).max(axis=1)
    for k in np.flatnonzero(in_front.any(axis=1) & ~in_front.all(axis=1)):
        a, b = cam[k, _BOX_EDGES[:, 0]], cam[k, _BOX_EDGES[:, 1]]
        crossing = (a[:, 2] > NEAR) != (b[:, 2] > NEAR)
        a, b = a[crossing], b[crossing]
        cut = a + ((NEAR - a[:, 2]) / (b[:, 2] - a[:, 2]))[:, None] * (b - a)
        cu = camera.fx * cut[:, 0] / cut[:, 2] + camera.cx
        cv = camera.fy * cut[:, 1] / cut[:, 2] + camera.cy
        u_min[k], u_max[k] = min(u_min[k], cu.min()), max(u_max[k], cu.max())
        v_min[k], v_max[k] = min(v_min[k], cv.min()), max(v_max[k], cv.max())
    visible = in_front.any(axis=1)
    with np.errstate(invalid="ignore"):
        rects[:, 0] = np.clip(np.floor(np.where(visible, v_min, 0)) - 1, 0, camera.height)
        rects[:, 1] = np.clip(np.ceil(np.where(visible, v_max, -2)) + 2, 0, camera.height)
        rects[:, 2] = np.clip(np.floor(np.where(visible, u_min, 0)) - 1, 0, camera.width)
        rects[:, 3] = np.clip(np.ceil(np.where(visible, u_max, -2)) + 2, 0, camera.width)
    empty = (rects[:, 0] >= rects[:, 1]) | (rects[:, 2] >= rects[:, 3])
    rects[empty] = 0
    nearest = np.maximum(z.min(axis=1), NEAR)
    return rects, nearest


# Values of the per-pixel surface-axis buffer.
AXIS_X, AXIS_Y, AXIS_Z, AXIS_SPHERE = range(4)
FAR = 1.0e4  # z-buffer value of pixels that hit nothing (finite keeps later arithmetic clean)


def cast(scene: Scene, camera: Camera, rays: Rays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-buffer every primitive.

    Returns (z-depth, FAR where nothing is hit; primitive number + 1, 0 where nothing is
    hit; axis of the surface normal, see ``AXIS_*``).
    """
    height, width = rays.shape
    zbuf = np.full((height, width), FAR, F32)
    index = np.zeros((height, width), np.int32)
    axis_buf = np.zeros((height, width), np.int8)
    origin = np.asarray(camera.position, float)
    prims = scene.primitives
    if not prims:
        return zbuf, index, axis_buf
    lo = np.array([p.lo if p.kind != KIND_SPHERE else p.lo - p.hi[0] for p in prims])
    hi = np.array([p.hi if p.kind != KIND_SPHERE else p.lo + p.hi[0] for p in prims])
    rects, nearest = screen_rects(camera, lo, hi)
    # Front to back, so that hidden primitives are skipped by the occlusion test below.
    for number in np.argsort(nearest, kind="stable"):
        prim = prims[number]
        if prim.kind == KIND_GROUND:
            t_row = np.where(rays.dy < 0, (-origin[1]) * rays.inv[1], FAR).astype(F32)
            hit = t_row < zbuf
            np.copyto(zbuf, t_row, where=hit)
            np.copyto(index, number + 1, where=hit)
            np.copyto(axis_buf, AXIS_Y, where=hit)
            continue
        r0, r1, c0, c1 = rects[number]
        if r0 >= r1:
            continue
        rows, cols = slice(r0, r1), slice(c0, c1)
        zb = zbuf[rows, cols]
        if prim.kind != KIND_INSIDE_BOX and nearest[number] >= zb.max():
            continue  # everything in its rectangle is already nearer
        if prim.kind == KIND_SPHERE:
            t = _sphere_hits(prim, origin, rays, rows, cols)
            hit = t < zb
            axis = AXIS_SPHERE
        else:
            near_t, far_t, axis_t = _slabs(prim, origin, rays, rows, cols)
            if prim.kind == KIND_INSIDE_BOX:
                t = far_t
                hit = (far_t > NEAR) & (far_t < zb)
                axis = _axis_of(far_t, axis_t[1])
            else:
                t = near_t
                hit = (near_t <= far_t) & (near_t > NEAR) & (near_t < zb)
                axis = _axis_of(near_t, axis_t[0])
        np.copyto(zb, t, where=hit)
        np.copyto(index[rows, cols], number + 1, where=hit)
        np.copyto(axis_buf[rows, cols], axis, where=hit)
    return zbuf, index, axis_buf


def _axis_of(t: np.ndarray, per_axis: list[np.ndarray]) -> np.ndarray:
    """Which slab produced ``t`` (0, 1 or 2)."""
    is_x = t == per_axis[0]
    is_y = t == per_axis[1]
    return np.where(is_x, np.int8(AXIS_X), np.where(is_y, np.int8(AXIS_Y), np.int8(AXIS_Z)))


def _slabs(prim: Primitive, origin: np.ndarray, rays: Rays, rows: slice, cols: slice):
    near_t = far_t = None
    lows, highs = [], []
    for axis in range(3):
        inv = _window(rays.inv[axis], rows, cols)
        ta = F32(prim.lo[axis] - origin[axis]) * inv
        tb = F32(prim.hi[axis] - origin[axis]) * inv
        lo_t, hi_t = np.minimum(ta, tb), np.maximum(ta, tb)
        lows.append(lo_t)
        highs.append(hi_t)
        near_t = lo_t if near_t is None else np.maximum(near_t, lo_t)
        far_t = hi_t if far_t is None else np.minimum(far_t, hi_t)
    return near_t, far_t, (lows, highs)


def _sphere_hits(prim: Primitive, origin: np.ndarray, rays: Rays, rows: slice, cols: slice
                 ) -> np.ndarray:
    dx, dy, dz = (_window(d, rows, cols) for d in (rays.dx, rays.dy, rays.dz))
    oc = (origin - prim.lo).astype(F32)
    a = _window(rays.norm2, rows, cols)
    b = dx * oc[0] + dy * oc[1] + dz * oc[2]
    c = F32(oc @ oc - prim.hi[0] ** 2)
    disc = b * b - a * c
    t = (-b - np.sqrt(np.maximum(disc, 0))) / a
    return np.where((disc > 0) & (t > NEAR), t, F32(FAR)).astype(F32)


_BIG = 1.0e5  # a cell size that never repeats within a scene


def _material_table(materials: list[Material]) -> dict[str, np.ndarray]:
    """Per-material parameters of the unified cell pattern, with a dummy row 0 for the sky.

    Every pattern is a grid of cells (size cell_u x cell_v, odd rows shifted by ``shift``)
    with mortar lines (fractions mortar_u/mortar_v of a cell) and an optional checker parity:
    noise = one endless cell, stripes = mortar of half a cell, bricks = shifted cells with
    thin mortar, checker = parity.
    """
    rows = [dict(cell_u=_BIG, cell_v=_BIG, shift=0.0, mortar_u=0.0, mortar_v=0.0, parity=0.0,
                 tone=0.0, feature=_BIG, mean=0.0)]
    for m in materials:
        p = m.period
        if m.pattern == PATTERN_STRIPES:
            along_v = m.stripe_axis == 1
            row = dict(cell_u=_BIG if along_v else p, cell_v=p if along_v else _BIG, shift=0.0,
                       mortar_u=0.0 if along_v else 0.5, mortar_v=0.5 if along_v else 0.0,
                       parity=0.0, tone=0.0, feature=p * 0.5, mean=0.5)
        elif m.pattern == PATTERN_CHECKER:
            row = dict(cell_u=p, cell_v=p, shift=0.0, mortar_u=0.0, mortar_v=0.0, parity=1.0,
                       tone=0.0, feature=p, mean=0.5)
        elif m.pattern == PATTERN_BRICKS:
            row = dict(cell_u=p, cell_v=p * 0.35, shift=0.5, mortar_u=0.06, mortar_v=0.12,
                       parity=0.0, tone=0.18, feature=p * 0.35, mean=0.15)
        else:
            row = dict(rows[0])
        rows.append(row)
    table = {key: np.array([r[key] for r in rows], F32) for key in rows[0]}
    all_m = [Material(colour=(0, 0, 0), noise=0.0)] + list(materials)
    table["colour"] = np.array([m.colour for m in all_m], F32).T.copy()  # (3, M)
    table["colour2"] = np.array([m.colour2 for m in all_m], F32).T.copy()
    table["noise"] = np.array([m.noise for m in all_m], F32)
    table["noise_scale"] = np.array([m.noise_scale for m in all_m], F32)
    table["emissive"] = np.array([m.emissive for m in all_m], F32)
    windows = np.array([m.windows or (1, 1, 0, 0, 0) for m in all_m], F32).T.copy()
    table["windows"] = windows  # (5, M): spacing, floor height, width frac, height frac, ground
    table["window_colour"] = np.array([m.window_colour for m in all_m], F32).T.copy()
    table["has_windows"] = np.array([m.windows is not None for m in all_m])
    return table


def _frac(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


def _fade(feature: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Pattern contrast kept: 1 while a feature spans >= 4 pixels, 0 once it is <= 1 pixel."""
    return np.clip((feature / footprint - 1.0) * F32(1 / 3), 0.0, 1.0)


STRIP_ROWS = 32  # rows shaded at once: the temporaries of a strip stay in the CPU cache


class _RayStrip:
    """The rays of a band of image rows (same attributes as :class:`Rays`)."""

    def __init__(self, rays: Rays, rows: slice) -> None:
        every = slice(None)
        self.dx, self.dy, self.dz = (_window(d, rows, every) for d in (rays.dx, rays.dy, rays.dz))
        self.norm = rays.norm[rows]


def shade(scene: Scene, camera: Camera, rays: Rays, zbuf: np.ndarray, index: np.ndarray,
          axis: np.ndarray) -> np.ndarray:
    """Colour every pixel from the cast buffers: float32 H x W x 3 RGB in [0, 1].

    Everything runs as float arithmetic over strips of rows (cheap) instead of masked
    gathers (expensive); per-primitive and per-material values are looked up with ``np.take``.
    """
    prims = scene.primitives
    tables = {
        "lo": np.array([np.zeros(3)] + [p.lo for p in prims], F32).T,
        "hi": np.array([np.zeros(3)] + [p.hi for p in prims], F32).T,
        "material": _material_table(scene.materials),
        "prim_material": np.array([0] + [p.material + 1 for p in prims], np.int32),
        "ground": np.array([0] + [p.kind == KIND_GROUND for p in prims], bool),
    }
    tables["windows"] = _window_table(scene, tables["material"])
    image = np.empty(zbuf.shape + (3,), F32)
    for start in range(0, zbuf.shape[0], STRIP_ROWS):
        rows = slice(start, start + STRIP_ROWS)
        image[rows] = _shade_strip(scene, camera, _RayStrip(rays, rows), zbuf[rows],
                                   index[rows], axis[rows], tables)
    return image


def _shade_strip(scene: Scene, camera: Camera, rays: _RayStrip, zbuf: np.ndarray,
                 index: np.ndarray, axis: np.ndarray, tables: dict) -> np.ndarray:
    shape = zbuf.shape
    t = zbuf
    dx, dy, dz = rays.dx, rays.dy, rays.dz
    origin = camera.position
    px = F32(origin[0]) + t * dx
    py = F32(origin[1]) + t * dy
    pz = F32(origin[2]) + t * dz
    ex = (axis == AXIS_X).astype(F32)
    ey = (axis == AXIS_Y).astype(F32)
    ez = (axis == AXIS_Z).astype(F32)
    # The visible face of a box or plane always faces against the ray.
    nx, ny, nz = -np.sign(dx) * ex, -np.sign(dy) * ey, -np.sign(dz) * ez
    lo_table, hi_table = tables["lo"], tables["hi"]
    band = _rows_with(axis == AXIS_SPHERE)
    if band is not None:
        idx = index[band]
        es = (axis[band] == AXIS_SPHERE).astype(F32)
        inv_r = es / np.maximum(np.take(hi_table[0], idx), F32(1e-3))
        nx[band] += (px[band] - np.take(lo_table[0], idx)) * inv_r
        ny[band] += (py[band] - np.take(lo_table[1], idx)) * inv_r
        nz[band] += (pz[band] - np.take(lo_table[2], idx)) * inv_r
    s = ex * pz + (1 - ex) * px
    v = ey * pz + (1 - ey) * py
    cos_view = np.abs(nx * dx + ny * dy + nz * dz) / rays.norm
    footprint = t * F32(1 / camera.fx) / np.maximum(cos_view, F32(0.15))

    table = tables["material"]
    mat = np.take(tables["prim_material"], index)

    def per(key: str) -> np.ndarray:
        return np.take(table[key], mat)

    # Unified cell pattern (see _material_table).
    fu, fv = s / per("cell_u"), v / per("cell_v")
    row = np.floor(fv)
    shifted = fu + per("shift") * (row - 2 * np.floor(row * 0.5))
    column = np.floor(shifted)
    mortar = np.maximum(shifted - column < per("mortar_u"), fv - row < per("mortar_v"))
    parity_sum = row + column
    parity = (parity_sum - 2 * np.floor(parity_sum * 0.5)) * per("parity")
    raw = np.maximum(mortar.astype(F32), parity)
    fade = _fade(per("feature"), footprint)
    mean = per("mean")
    mix = mean + (raw - mean) * fade
    c1_scale = 1.0
    if table["tone"].any():  # bricks: each brick gets its own tone
        c1_scale = 1.0 + per("tone") * noise(row, column, 13.0) * fade
    amplitude, scale = per("noise"), per("noise_scale")
    wiggle = noise(s, v, scale) + 0.5 * noise(v, s, scale * 3.1, 17)
    grain = 1.0 + amplitude * wiggle * (0.2 + 0.8 * _fade(1.0 / scale, footprint))
    colour = []
    for channel in range(3):
        c1 = np.take(table["colour"][channel], mat) * c1_scale
        c2 = np.take(table["colour2"][channel], mat)
        colour.append((c1 + (c2 - c1) * mix) * grain)
    windows = tables["windows"]
    band = _rows_with(np.take(windows["has"], index)) if windows["has"].any() else None
    if band is not None:
        part = [c[band] for c in colour]
        _windows(windows, index[band], pz[band], py[band], ex[band], footprint[band],
                 wiggle[band], part)
        for channel in range(3):
            colour[channel][band] = part[channel]
    ground = tables["ground"]
    is_ground = np.take(ground, index) if ground.any() else None
    band = _rows_with(is_ground) if is_ground is not None else None
    if band is not None and scene.ground_shader is not None:
        road = scene.ground_shader(px[band], pz[band], footprint[band])
        g = is_ground[band].astype(F32)
        for channel in range(3):
            colour[channel][band] = colour[channel][band] * (1 - g) + road[channel] * g

    sun = np.asarray(scene.sun, F32)
    sun /= np.linalg.norm(sun)
    lambert = np.maximum(nx * sun[0] + ny * sun[1] + nz * sun[2], 0)
    emissive = per("emissive")
    light = (F32(scene.ambient) + F32(scene.sun_strength) * lambert) * (1 - emissive)
    fog = 1.0 - np.exp(-F32(scene.fog_density) * np.minimum(t, F32(scene.max_depth)))
    sky_mask = index == 0
    sky = sky_mask.astype(F32)
    fog *= 1 - sky
    keep = (1 - fog) * (1 - sky)
    image = np.empty(shape + (3,), F32)
    for channel in range(3):
        lit = colour[channel] * (light * F32(scene.sun_colour[channel]) + emissive)
        image[..., channel] = lit * keep + F32(scene.fog_colour[channel]) * fog
    band = _rows_with(sky_mask)
    if band is not None:
        sky_rgb = _sky_colours(scene, rays, band)
        for channel in range(3):
            image[band, :, channel] += sky_rgb[channel] * sky[band]
    return image


def _rows_with(mask: np.ndarray) -> slice | None:
    """The band of rows that holds every True pixel of ``mask`` (None if there is none)."""
    rows = np.flatnonzero(mask.any(axis=1))
    return slice(rows[0], rows[-1] + 1) if len(rows) else None


def _window_table(scene: Scene, table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-primitive window grids (row 0 and boxes without windows get empty grids).

    Windows sit on the faces that look along X (the street-facing facades); the columns are
    centred on the facade so no window is cut at a corner.
    """
    count = len(scene.primitives) + 1
    grid = {key: np.zeros(count, F32) for key in
            ("origin", "spacing", "columns", "floor", "ground", "half_w", "half_h", "top",
             "area")}
    grid["spacing"][:] = 1.0
    grid["floor"][:] = 1.0
    has = np.zeros(count, bool)
    for number, prim in enumerate(scene.primitives, start=1):
        material = scene.materials[prim.material]
        if material.windows is None or prim.kind != KIND_BOX:
            continue
        spacing, floor_h, width_frac, height_frac, ground_floor = material.windows
        length = prim.hi[2] - prim.lo[2]
        columns = max(math.floor(length / spacing), 1)
        has[number] = True
        grid["origin"][number] = prim.lo[2] + (length - columns * spacing) * 0.5
        grid["spacing"][number] = spacing
        grid["columns"][number] = columns
        grid["floor"][number] = floor_h
        grid["ground"][number] = prim.lo[1] + ground_floor
        grid["half_w"][number] = width_frac * 0.5
        grid["half_h"][number] = height_frac * 0.5
        grid["top"][number] = prim.hi[1] - 0.6 * floor_h
        grid["area"][number] = width_frac * height_frac * 0.6
    grid["has"] = has
    prim_material = np.array([0] + [p.material + 1 for p in scene.primitives])
    grid["colour"] = table["window_colour"][:, prim_material]
    return grid


def _windows(grid, index, pz, py, ex, footprint, wiggle, colour) -> None:
    """Overlay the window grids on the colours of the pixels of one band of rows."""
    def per(key: str) -> np.ndarray:
        return np.take(grid[key], index)

    spacing, ground = per("spacing"), per("ground")
    fu = (pz - per("origin")) / spacing
    fv = (py - ground) / per("floor")
    inside = ((np.abs(_frac(fu) - 0.5) < per("half_w")) & (np.abs(_frac(fv) - 0.5) < per("half_h"))
              & (fu >= 0) & (fu < per("columns")) & (py > ground) & (py < per("top")))
    half_w = per("half_w")
    fade = _fade(spacing * half_w * 2, footprint)
    weight = (inside * fade + (1 - fade) * per("area")) * ex
    shimmer = 1.0 + 0.5 * wiggle
    for channel in range(3):
        glass = np.take(grid["colour"][channel], index) * shimmer
        colour[channel] = colour[channel] * (1 - weight) + glass * weight


def _sky_colours(scene: Scene, rays: _RayStrip, band: slice) -> list[np.ndarray]:
    dx, dy, dz = (_window(d, band, slice(None)) for d in (rays.dx, rays.dy, rays.dz))
    elevation = np.clip(dy / rays.norm[band], 0.0, 1.0)
    blend = np.sqrt(elevation)
    if scene.cloudiness > 0:
        # Clouds live on a plane far above: project the ray onto it.
        lift = 1.0 / np.maximum(dy, F32(0.02))
        a, b = dx * lift, dz * lift
        cloud = noise(a, b, 3.0) + 0.5 * noise(b, a, 9.0)
        cover = np.clip((cloud + 0.6 - scene.cloudiness) * 2.0 + scene.cloudiness, 0, 1)
        cover = cover * F32(scene.cloudiness)
    else:
        cover = np.zeros_like(blend)
    out = []
    for channel in range(3):
        base = (F32(scene.sky_horizon[channel]) * (1 - blend)
                + F32(scene.sky_zenith[channel]) * blend)
        out.append(base * (1 - cover) + F32(0.93) * cover)
    return out


def render(scene: Scene, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast a scene: (uint8 RGB, float32 z-depth clamped to max_depth with sky = max, sky)."""
    rays = Rays(camera)
    zbuf, index, axis = cast(scene, camera, rays)
    image = shade(scene, camera, rays, zbuf, index, axis)
    sky = index == 0
    depth = np.minimum(zbuf, F32(scene.max_depth))
    depth[sky] = scene.max_depth
    rgb = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return rgb, depth, sky
