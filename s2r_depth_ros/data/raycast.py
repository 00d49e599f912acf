"""Vectorised ray casting of analytic geometry with procedural textures (numpy, cv2).

World frame: X right, Y up, Z forward (metres). Primitives: boxes, the inside of a box
(rooms), axis-aligned ellipsoids and cylinders cut by a box (wheels, trunks, car bodies,
canopies), each optionally turned about the vertical; the ground Y = c Z^2 (flat for c = 0).
Without camera roll the ray direction's Y component depends on the image row only, and with
zero yaw X depends on the column only and Z on the row only: the per-axis slab terms are then
(1, W) or (H, 1) arrays and only the final min/max is full size. Rays are scaled so that the
camera-frame z of a ray is 1: the ray parameter ``t`` of a hit is directly the z-depth of
that pixel.

Each primitive is only tested inside its screen-space bounding rectangle (its corners,
clipped against the near plane, projected), which keeps the cost near one full-image pass per
layer of overlapping objects. Sun shadows are traced per caster on the pixels its swept
volume covers, at half resolution; soft contact shadows darken the ground under objects.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

NEAR = 0.05  # metres; hits closer than this are ignored
F32 = np.float32

PATTERN_NOISE, PATTERN_STRIPES, PATTERN_CHECKER, PATTERN_BRICKS = range(4)
KIND_BOX, KIND_INSIDE_BOX, KIND_QUADRIC, KIND_GROUND = range(4)


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
    """A pinhole camera: position, pitch (down positive), yaw (right positive), roll."""

    position: tuple[float, float, float]
    pitch: float
    yaw: float
    fx: float
    fy: float
    cx: float
    cy: float
    height: int
    width: int
    roll: float = 0.0

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World directions of the camera's right, down and forward axes (before roll)."""
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
    """One piece of geometry, in its own frame: ``world = pivot + R(yaw) @ local``.

    ``lo``/``hi`` bound the primitive in its frame. A box is that box; the inside of a box is
    seen from within (rooms); a quadric is the axis-aligned ellipsoid (``centre``, ``radii``;
    an infinite radius makes a cylinder along that axis) cut by the box, so the cut faces are
    flat (wheels, trunks, rounded car bodies, canopies); the ground is the plane Y = 0.
    Invisible primitives only cast shadows (cheap stand-ins for detailed objects).
    """

    kind: int
    lo: np.ndarray
    hi: np.ndarray
    material: int
    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))
    radii: np.ndarray = field(default_factory=lambda: np.full(3, np.inf))
    yaw: float = 0.0
    pivot: np.ndarray = field(default_factory=lambda: np.zeros(3))
    visible: bool = True
    casts: bool = True
    label: str = ""  # what the primitive is part of ("car", "tree", ...), for tests and stats
    porosity: float = 0.0  # share of the sunlight let through in patches (leafy canopies)

    def inv_radii(self) -> np.ndarray:
        """1 / radius per axis, 0 along a cylinder's axis."""
        cached = self.__dict__.get("_inv_radii")
        if cached is None:
            r = self.radii
            cached = np.where(np.isfinite(r), 1.0 / np.maximum(np.where(np.isfinite(r), r, 1.0),
                                                               1e-9), 0.0)
            self.__dict__["_inv_radii"] = cached
        return cached

    def world_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The world-frame axis-aligned bounds of the primitive."""
        if self.yaw == 0.0:
            return self.pivot + self.lo, self.pivot + self.hi
        corners = np.where(_CORNER_PICK, self.hi[None], self.lo[None])
        world = self.pivot + corners @ _yaw_matrix(self.yaw).T
        return world.min(axis=0), world.max(axis=0)


def _yaw_matrix(yaw: float) -> np.ndarray:
    """Local -> world rotation about Y (positive yaw turns +Z towards +X, like the camera)."""
    s, c = math.sin(yaw), math.cos(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


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
    shadows: bool = True
    # callable(x, z, footprint) -> [r, g, b] arrays: the colour of the ground plane
    ground_shader: object = None
    # Soft dark ellipses on the ground (x, z, radius x, radius z, strength): the ambient
    # occlusion under cars, trees and furniture that every real photo shows.
    contact_shadows: list = field(default_factory=list)
    # The label given to primitives added from now on (see Primitive.label).
    label: str = ""
    # The ground is Y = ground_curve * Z^2 (0: flat): a road dipping or cresting ahead.
    ground_curve: float = 0.0

    def material(self, material: Material) -> int:
        """Register a material, return its index."""
        self.materials.append(material)
        return len(self.materials) - 1

    def _add(self, prim: Primitive, yaw: float = 0.0, pivot=None) -> Primitive:
        prim.yaw = float(yaw)
        prim.label = self.label
        if pivot is not None:
            # Geometry is given in world coordinates of the unrotated object; rotate about pivot.
            p = np.asarray(pivot, float)
            prim.pivot = p
            prim.lo, prim.hi, prim.centre = prim.lo - p, prim.hi - p, prim.centre - p
        self.primitives.append(prim)
        return prim

    def box(self, lo, hi, material: int, yaw: float = 0.0, pivot=None, visible: bool = True,
            casts: bool = True) -> Primitive:
        """Add a box from corner ``lo`` to corner ``hi`` (turned by ``yaw`` about ``pivot``)."""
        lo_arr, hi_arr = np.asarray(lo, float), np.asarray(hi, float)
        prim = Primitive(KIND_BOX, np.minimum(lo_arr, hi_arr), np.maximum(lo_arr, hi_arr),
                         material, visible=visible, casts=casts)
        return self._add(prim, yaw, pivot)

    def room(self, lo, hi, material: int) -> Primitive:
        """Add a box seen from inside (walls, floor, ceiling); it casts no shadow."""
        prim = Primitive(KIND_INSIDE_BOX, np.asarray(lo, float), np.asarray(hi, float),
                         material, casts=False)
        return self._add(prim)

    def ellipsoid(self, centre, radii, material: int, clip_lo=None, clip_hi=None,
                  yaw: float = 0.0, pivot=None, casts: bool = True) -> Primitive:
        """Add an axis-aligned ellipsoid, optionally cut by the box ``clip_lo``..``clip_hi``.

        A radius of ``inf`` makes an elliptic cylinder along that axis (the clip box then
        gives its length).
        """
        c, r = np.asarray(centre, float), np.asarray(radii, float)
        finite = np.where(np.isfinite(r), r, 1e4)
        lo, hi = c - finite, c + finite
        if clip_lo is not None:
            lo = np.maximum(lo, np.asarray(clip_lo, float))
        if clip_hi is not None:
            hi = np.minimum(hi, np.asarray(clip_hi, float))
        prim = Primitive(KIND_QUADRIC, lo, hi, material, centre=c, radii=r, casts=casts)
        return self._add(prim, yaw, pivot)

    def sphere(self, centre, radius: float, material: int, casts: bool = True) -> Primitive:
        """Add a sphere."""
        return self.ellipsoid(centre, (radius, radius, radius), material, casts=casts)

    def cylinder(self, axis: int, centre, radius: float, half_length: float, material: int,
                 yaw: float = 0.0, pivot=None, casts: bool = True) -> Primitive:
        """Add a round cylinder along world axis ``axis`` (0 X, 1 Y, 2 Z) with flat caps."""
        radii = np.full(3, float(radius))
        radii[axis] = np.inf
        c = np.asarray(centre, float)
        lo, hi = c - radius, c + radius
        lo[axis], hi[axis] = c[axis] - half_length, c[axis] + half_length
        return self.ellipsoid(c, radii, material, lo, hi, yaw=yaw, pivot=pivot, casts=casts)

    def ground(self, material: int) -> Primitive:
        """Add the infinite ground plane Y = 0."""
        prim = Primitive(KIND_GROUND, np.zeros(3), np.zeros(3), material, casts=False)
        return self._add(prim)


class Rays:
    """Per-pixel ray directions of a camera, kept in broadcastable (H,1)/(1,W) form if possible.

    Rays are scaled so that their camera-frame z is 1 (the ray parameter is the z-depth).
    """

    def __init__(self, camera: Camera) -> None:
        cam = camera
        xc = ((np.arange(cam.width, dtype=np.float64) - cam.cx) / cam.fx)[None, :]
        yc = ((np.arange(cam.height, dtype=np.float64) - cam.cy) / cam.fy)[:, None]
        if cam.roll != 0.0:
            # Roll turns the image about the optical axis: directions become full arrays.
            sr, cr = math.sin(cam.roll), math.cos(cam.roll)
            xc, yc = xc * cr - yc * sr, xc * sr + yc * cr
        sp, cp = math.sin(cam.pitch), math.cos(cam.pitch)
        sy, cy = math.sin(cam.yaw), math.cos(cam.yaw)
        along = cp - yc * sp  # forward component in the yaw-free frame
        dy = -yc * cp - sp
        if cam.yaw == 0.0:
            dx, dz = xc, along
        else:
            dx, dz = xc * cy + along * sy, -xc * sy + along * cy
        shape = (cam.height, cam.width)
        if cam.roll != 0.0:
            dx, dy, dz = (np.broadcast_to(d, shape) for d in (dx, dy, dz))
        self.dx, self.dy, self.dz = (np.ascontiguousarray(d, dtype=F32) for d in (dx, dy, dz))
        self.inv = [_inverse(d) for d in (self.dx, self.dy, self.dz)]
        self.norm2 = self.dx * self.dx + self.dy * self.dy + self.dz * self.dz  # (H, W)
        self.norm = np.sqrt(self.norm2)
        self.shape = shape


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
    """Pixel rectangles (r0, r1, c0, c1) covering N world boxes, and each box's nearest z.

    An invisible box gets an empty rectangle (r0 >= r1).

    Boxes that reach behind the camera are clipped against the near plane by cutting their
    12 edges, so their rectangle is still tight and correct.
    """
    count = len(lo)
    corners = np.where(_CORNER_PICK[None], hi[:, None, :], lo[:, None, :])  # (N, 8, 3)
    basis = np.stack(camera.axes(), axis=1)  # columns: right, down, forward
    cam = (corners - np.asarray(camera.position)) @ basis
    if camera.roll != 0.0:
        # Image coordinates of the rolled camera: rotate (x, y) by -roll.
        sr, cr = math.sin(camera.roll), math.cos(camera.roll)
        x, y = cam[..., 0].copy(), cam[..., 1].copy()
        cam[..., 0], cam[..., 1] = x * cr + y * sr, -x * sr + y * cr
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


FAR = 1.0e4  # z-buffer value of pixels that hit nothing (finite keeps later arithmetic clean)


def _local_rays(prim: Primitive, origin, d: tuple, inv: tuple | None):
    """Ray origin (3 scalars or arrays), directions and inverse directions, primitive frame."""
    o = [origin[a] - prim.pivot[a] for a in range(3)]
    if prim.yaw == 0.0:
        if inv is None:
            inv = tuple(_inverse(np.asarray(x, F32)) for x in d)
        return o, d, inv
    s, c = math.sin(prim.yaw), math.cos(prim.yaw)
    o = [c * o[0] - s * o[2], o[1], s * o[0] + c * o[2]]  # local = R^T world
    dl = (F32(c) * d[0] - F32(s) * d[2], d[1], F32(s) * d[0] + F32(c) * d[2])
    return o, dl, tuple(_inverse(np.asarray(x, F32)) for x in dl)


# Which surface of a primitive a pixel sees: one of the box's slab axes, or the curved part.
FACE_X, FACE_Y, FACE_Z, FACE_CURVED = range(4)


def _intersect(prim: Primitive, o, d, inv, want_face: bool = True):
    """Entry t, hit mask and face code (``FACE_*``; None unless ``want_face``) of rays.

    All in the primitive's frame.
    ``o`` holds 3 scalars or per-pixel arrays; ``d``/``inv`` 3 arrays that broadcast.
    """
    near_t = far_t = None
    per_axis = []
    inside = prim.kind == KIND_INSIDE_BOX
    for axis in range(3):
        ta = (prim.lo[axis] - o[axis]) * inv[axis]
        tb = (prim.hi[axis] - o[axis]) * inv[axis]
        lo_t, hi_t = np.minimum(ta, tb), np.maximum(ta, tb)
        per_axis.append(hi_t if inside else lo_t)
        near_t = lo_t if near_t is None else np.maximum(near_t, lo_t)
        far_t = hi_t if far_t is None else np.minimum(far_t, hi_t)
    if inside:
        t, hit = far_t, far_t > NEAR
    else:
        t, hit = near_t, (near_t <= far_t) & (near_t > NEAR)
    face = None
    if want_face:
        face = np.where(t == per_axis[0], np.int8(FACE_X),
                        np.where(t == per_axis[1], np.int8(FACE_Y), np.int8(FACE_Z)))
    if prim.kind != KIND_QUADRIC:
        return t, hit, face
    # Ellipsoid (or cylinder) in unit-sphere coordinates, then intersected with the box span.
    inv_r = prim.inv_radii()
    q = [(o[k] - prim.centre[k]) * inv_r[k] for k in range(3) if inv_r[k]]
    e = [d[k] * F32(inv_r[k]) for k in range(3) if inv_r[k]]
    a = sum(x * x for x in e)
    b = sum(x * y for x, y in zip(q, e))
    cc = sum(x * x for x in q) - 1.0
    disc = b * b - a * cc
    safe_a = np.maximum(a, F32(1e-12))
    root = np.sqrt(np.maximum(disc, 0))
    t0 = (-b - root) / safe_a
    t1 = (-b + root) / safe_a
    enter = np.maximum(t0, near_t)
    hit = (disc > 0) & (enter <= np.minimum(t1, far_t)) & (enter > NEAR) & (near_t <= far_t)
    if want_face:
        face = np.where(t0 >= near_t, np.int8(FACE_CURVED), face)
    return enter.astype(F32), hit, face


def cast(scene: Scene, camera: Camera, rays: Rays
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-buffer every visible primitive.

    Returns (z-depth, FAR where nothing is hit; primitive number + 1, 0 where nothing is
    hit; the face code of the surface seen, see ``FACE_*``).
    """
    height, width = rays.shape
    zbuf = np.full((height, width), FAR, F32)
    index = np.zeros((height, width), np.int32)
    faces = np.zeros((height, width), np.int8)
    origin = np.asarray(camera.position, float)
    prims = scene.primitives
    if not prims:
        return zbuf, index, faces
    bounds = [p.world_bounds() for p in prims]
    rects, nearest = screen_rects(camera, np.array([b[0] for b in bounds]),
                                  np.array([b[1] for b in bounds]))
    # Front to back, so that hidden primitives are skipped by the occlusion test below.
    for number in np.argsort(nearest, kind="stable"):
        prim = prims[number]
        if not prim.visible:
            continue
        if prim.kind == KIND_GROUND:
            t_row = _ground_hits(scene.ground_curve, origin, rays)
            hit = t_row < zbuf
            np.copyto(zbuf, t_row, where=hit)
            np.copyto(index, number + 1, where=hit)
            np.copyto(faces, np.int8(FACE_Y), where=hit)
            continue
        r0, r1, c0, c1 = rects[number]
        if r0 >= r1:
            continue
        rows, cols = slice(r0, r1), slice(c0, c1)
        zb = zbuf[rows, cols]
        if prim.kind != KIND_INSIDE_BOX and nearest[number] >= zb.max():
            continue  # everything in its rectangle is already nearer
        d = tuple(_window(x, rows, cols) for x in (rays.dx, rays.dy, rays.dz))
        inv = tuple(_window(x, rows, cols) for x in rays.inv)
        o, dl, invl = _local_rays(prim, origin, d, inv)
        t, hit, face = _intersect(prim, o, dl, invl)
        hit &= t < zb
        np.copyto(zb, t, where=hit)
        np.copyto(index[rows, cols], number + 1, where=hit)
        np.copyto(faces[rows, cols], face, where=hit)
    return zbuf, index, faces


def _ground_hits(curve: float, origin: np.ndarray, rays: Rays) -> np.ndarray:
    """Ray parameter (z-depth) where each ray meets the ground Y = curve * Z^2 (FAR: never)."""
    if curve == 0.0:
        return np.where(rays.dy < 0, (-origin[1]) * rays.inv[1], FAR).astype(F32)
    # curve (oz + t dz)^2 - (oy + t dy) = 0, solved stably for its smallest positive root.
    dy, dz = rays.dy.astype(np.float64), rays.dz.astype(np.float64)
    a = curve * dz * dz
    b = 2.0 * curve * origin[2] * dz - dy
    c = curve * origin[2] ** 2 - origin[1]
    disc = b * b - 4.0 * a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    q = -0.5 * (b + np.where(b >= 0, root, -root))
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(np.abs(a) > 1e-12, q / a, np.inf)
        t2 = np.where(np.abs(q) > 1e-12, c / q, np.inf)
    t1 = np.where(t1 > NEAR, t1, np.inf)
    t2 = np.where(t2 > NEAR, t2, np.inf)
    t = np.where(disc >= 0, np.minimum(t1, t2), np.inf)
    return np.minimum(t, FAR).astype(F32)


def _prim_table(scene: Scene) -> dict[str, np.ndarray]:
    """Per-primitive geometry for per-pixel lookups (row 0: nothing hit)."""
    prims = scene.primitives
    def column(values) -> np.ndarray:
        return np.array([values[0] * 0] + values, F32)

    table = {
        "sin": column([math.sin(p.yaw) for p in prims]),
        "cos": column([math.cos(p.yaw) for p in prims]),
    }
    table["cos"][0] = 1.0
    for k, axis in enumerate("xyz"):
        table["pivot_" + axis] = column([p.pivot[k] for p in prims])
        table["centre_" + axis] = column([p.centre[k] for p in prims])
        table["inv_r2_" + axis] = column([p.inv_radii()[k] ** 2 for p in prims])
    return table


def surface_normals(scene: Scene, points: tuple, rays: Rays, index: np.ndarray,
                    faces: np.ndarray) -> np.ndarray:
    """Unit world normals (3 x H x W, facing the camera) from the cast buffers.

    Flat faces: the slab axis, turned by the primitive's yaw, against the ray. Curved faces:
    the gradient of the ellipsoid at the hit point.
    """
    table = _prim_table(scene)
    dx, dy, dz = rays.dx, rays.dy, rays.dz
    fx = faces == FACE_X
    fz = faces == FACE_Z
    # Flat: local normal -sign(local ray) along the face's axis, then turned to the world
    # (only where turned primitives are seen).
    nx = -np.sign(dx) * fx
    ny = -np.sign(dy) * (faces == FACE_Y)
    nz = -np.sign(dz) * fz
    turned = table["sin"] != 0
    band = _rows_with(np.take(turned, index)) if turned.any() else None
    if band is not None:
        idx = index[band]
        sin, cos = np.take(table["sin"], idx), np.take(table["cos"], idx)
        bx, bz = _window(dx, band, slice(None)), _window(dz, band, slice(None))
        n0 = -np.sign(cos * bx - sin * bz) * fx[band]
        n2 = -np.sign(sin * bx + cos * bz) * fz[band]
        nx[band] = cos * n0 + sin * n2
        nz[band] = -sin * n0 + cos * n2
    normals = np.stack([nx, ny, nz]).astype(F32)  # flat normals: unit length already
    if scene.ground_curve:
        ground = np.isin(index, [n + 1 for n, p in enumerate(scene.primitives)
                                 if p.kind == KIND_GROUND])
        slope = F32(-2.0 * scene.ground_curve) * points[2]
        inv_len = 1.0 / np.sqrt(1.0 + slope * slope)
        np.copyto(normals[1], inv_len, where=ground)
        np.copyto(normals[2], slope * inv_len, where=ground)
    pick = np.flatnonzero(faces == FACE_CURVED)
    if len(pick):
        idx = np.take(index, pick)

        def per(key: str) -> np.ndarray:
            return np.take(table[key], idx)

        c, s = per("cos"), per("sin")
        wx = np.take(points[0], pick) - per("pivot_x")
        wy = np.take(points[1], pick) - per("pivot_y")
        wz = np.take(points[2], pick) - per("pivot_z")
        lx, lz = c * wx - s * wz, s * wx + c * wz
        gx = (lx - per("centre_x")) * per("inv_r2_x")
        gy = (wy - per("centre_y")) * per("inv_r2_y")
        gz = (lz - per("centre_z")) * per("inv_r2_z")
        curved = np.stack([c * gx + s * gz, gy, -s * gx + c * gz])
        _normalise(curved)
        flat = normals.reshape(3, -1)
        flat[:, pick] = curved
    return normals


def _normalise(normals: np.ndarray) -> None:
    length = np.sqrt((normals * normals).sum(axis=0))
    normals /= np.maximum(length, F32(1e-6))


def sun_direction(scene: Scene) -> np.ndarray:
    """The unit vector towards the sun."""
    sun = np.asarray(scene.sun, float)
    return sun / np.linalg.norm(sun)


def hit_points(camera: Camera, rays: Rays, zbuf: np.ndarray) -> tuple:
    """World X, Y, Z of every pixel's surface point."""
    o = camera.position
    return (F32(o[0]) + zbuf * rays.dx, F32(o[1]) + zbuf * rays.dy,
            F32(o[2]) + zbuf * rays.dz)


def shadow_mask(scene: Scene, camera: Camera, points: tuple, index: np.ndarray,
                normals: np.ndarray) -> np.ndarray:
    """1 where a pixel's surface sees the sun, 0 where a casting primitive blocks it.

    Shadow rays of a directional sun are parallel, so each caster is tested only on the
    pixels whose surface point lies in the volume it can darken (its bounds swept away
    from the sun down to the ground), found inside that volume's screen rectangle.
    """
    height, width = index.shape
    lit = np.ones((height, width), F32)
    casters = [p for p in scene.primitives if p.casts and p.kind in (KIND_BOX, KIND_QUADRIC)]
    if not casters or not scene.shadows:
        return lit
    sun = sun_direction(scene)
    if sun[1] <= 0.02:
        return lit
    # The lowest ground a shadow can fall on (a road dipping away ahead).
    floor = min(0.0, scene.ground_curve * (1.2 * scene.max_depth) ** 2)
    lows, highs = [], []
    for prim in casters:
        lo, hi = prim.world_bounds()
        shift = -sun * (max(hi[1] - floor, 0.0) / sun[1])  # takes the top down to the floor
        lows.append(np.minimum(lo, lo + shift))
        highs.append(np.maximum(hi, hi + shift))
    lows, highs = np.array(lows), np.array(highs)
    rects, _ = screen_rects(camera, lows, highs)
    facing = (normals[0] * F32(sun[0]) + normals[1] * F32(sun[1])
              + normals[2] * F32(sun[2])) > 0
    receives = facing & (index > 0)
    # Start the shadow rays a little off the surface so it does not shadow itself.
    start = [points[a] + normals[a] * F32(2e-3) for a in range(3)]
    sun_d = tuple(np.full(1, F32(x)) for x in sun)
    for k, prim in enumerate(casters):
        r0, r1, c0, c1 = rects[k]
        if r0 >= r1:
            continue
        rows, cols = slice(r0, r1), slice(c0, c1)
        window = [p[rows, cols] for p in start]
        lo, hi = lows[k], highs[k]
        inside = receives[rows, cols] & (lit[rows, cols] > 0)
        for a in range(3):
            inside &= (window[a] >= F32(lo[a])) & (window[a] <= F32(hi[a]))
        pick = np.flatnonzero(inside)
        if not len(pick):
            continue
        point = [np.take(w, pick) for w in window]
        o, dl, invl = _local_rays(prim, point, sun_d, None)
        _, hit, _ = _intersect(prim, o, dl, invl, want_face=False)
        if prim.porosity > 0:
            # Sun flecks through the leaves: a blotchy pattern fixed in the world.
            gaps = noise(point[0] + point[1] * F32(0.6), point[2] - point[1] * F32(0.4), 2.2,
                         k % 64)
            hit &= gaps > F32((2.0 * prim.porosity - 1.0) * 0.6)
        lit_window = lit[rows, cols]
        flat = lit_window.reshape(-1) if lit_window.flags.c_contiguous else None
        if flat is not None:
            flat[pick[hit]] = 0.0
        else:
            rr, cc = np.unravel_index(pick[hit], lit_window.shape)
            lit_window[rr, cc] = 0.0
    return lit


SHADOW_STEP = 2  # shadows are traced on every 2nd row and column, then interpolated


def shadow_mask_coarse(scene: Scene, camera: Camera, points: tuple, index: np.ndarray,
                       normals: np.ndarray) -> np.ndarray:
    """:func:`shadow_mask` traced at 1/SHADOW_STEP resolution and interpolated.

    Sun shadows are smooth at that scale (their soft edges look like a real penumbra) and
    this is 4x cheaper than tracing every pixel.
    """
    k = SHADOW_STEP
    height, width = index.shape
    if k == 1 or height < 4 * k or width < 4 * k:
        return shadow_mask(scene, camera, points, index, normals)
    coarse_cam = dataclasses.replace(camera, fx=camera.fx / k, fy=camera.fy / k,
                                     cx=camera.cx / k, cy=camera.cy / k,
                                     height=-(-height // k), width=-(-width // k))
    lit = shadow_mask(scene, coarse_cam, tuple(p[::k, ::k] for p in points),
                      index[::k, ::k], normals[:, ::k, ::k])
    return cv2.resize(lit, (width, height), interpolation=cv2.INTER_LINEAR)


def contact_occlusion(scene: Scene, camera: Camera, points: tuple) -> np.ndarray:
    """Light factor in (0, 1]: darker on the ground under the scene's contact ellipses."""
    ao = np.ones(points[0].shape, F32)
    if not scene.contact_shadows:
        return ao
    blobs = np.array(scene.contact_shadows, float)  # x, z, rx, rz, strength
    ground_y = scene.ground_curve * blobs[:, 1] ** 2
    lo = np.stack([blobs[:, 0] - blobs[:, 2], ground_y - 0.3, blobs[:, 1] - blobs[:, 3]], 1)
    hi = np.stack([blobs[:, 0] + blobs[:, 2], ground_y + 0.3, blobs[:, 1] + blobs[:, 3]], 1)
    rects, _ = screen_rects(camera, lo, hi)
    for k, (x, z, rx, rz, strength) in enumerate(blobs):
        r0, r1, c0, c1 = rects[k]
        if r0 >= r1:
            continue
        rows, cols = slice(r0, r1), slice(c0, c1)
        px, py, pz = (p[rows, cols] for p in points)
        r2 = ((px - F32(x)) * F32(1 / rx)) ** 2 + ((pz - F32(z)) * F32(1 / rz)) ** 2
        on_ground = py - F32(scene.ground_curve) * pz * pz < 0.05
        weight = np.clip(1.0 - r2, 0.0, 1.0) * on_ground
        ao[rows, cols] *= 1.0 - F32(strength) * weight * weight
    return ao


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
          normals: np.ndarray, lit: np.ndarray | None = None, ao: np.ndarray | None = None
          ) -> np.ndarray:
    """Colour every pixel from the cast buffers: float32 H x W x 3 linear RGB.

    Sky and lamps may exceed 1: the camera model of the scene generators sets the exposure.

    ``lit`` (1 sunlit, 0 in shadow) scales the direct sun, ``ao`` all light. Everything runs
    as float arithmetic over strips of rows (cheap) instead of masked gathers (expensive);
    per-primitive and per-material values are looked up with ``np.take``.
    """
    prims = scene.primitives
    tables = {
        "material": _material_table(scene.materials),
        "prim_material": np.array([0] + [p.material + 1 for p in prims], np.int32),
        "ground": np.array([0] + [p.kind == KIND_GROUND for p in prims], bool),
    }
    tables["windows"] = _window_table(scene, tables["material"])
    if lit is None:
        lit = np.ones(zbuf.shape, F32)
    if ao is None:
        ao = np.ones(zbuf.shape, F32)
    image = np.empty(zbuf.shape + (3,), F32)
    for start in range(0, zbuf.shape[0], STRIP_ROWS):
        rows = slice(start, start + STRIP_ROWS)
        image[rows] = _shade_strip(scene, camera, _RayStrip(rays, rows), zbuf[rows],
                                   index[rows], normals[:, rows], lit[rows], ao[rows], tables)
    return image


def _shade_strip(scene: Scene, camera: Camera, rays: _RayStrip, zbuf: np.ndarray,
                 index: np.ndarray, normals: np.ndarray, lit: np.ndarray, ao: np.ndarray,
                 tables: dict) -> np.ndarray:
    shape = zbuf.shape
    t = zbuf
    dx, dy, dz = rays.dx, rays.dy, rays.dz
    origin = camera.position
    px = F32(origin[0]) + t * dx
    py = F32(origin[1]) + t * dy
    pz = F32(origin[2]) + t * dz
    nx, ny, nz = normals[0], normals[1], normals[2]
    # Texture coordinates on the plane across the dominant normal axis.
    ax, ay, az = np.abs(nx), np.abs(ny), np.abs(nz)
    x_major = (ax >= ay) & (ax >= az)
    ex = x_major.astype(F32)
    ey = (~x_major & (ay >= az)).astype(F32)
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

    sun = sun_direction(scene).astype(F32)
    lambert = np.maximum(nx * sun[0] + ny * sun[1] + nz * sun[2], 0) * lit
    emissive = per("emissive")
    # Sky light reaches upward faces more than downward ones (dark undersides).
    sky_light = F32(scene.ambient) * (F32(0.75) + F32(0.25) * ny)
    light = (sky_light + F32(scene.sun_strength) * lambert) * ao * (1 - emissive)
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
        # (World coordinates: a turned facade's grid follows it only approximately.)
        grid["origin"][number] = prim.pivot[2] + prim.lo[2] + (length - columns * spacing) * 0.5
        grid["spacing"][number] = spacing
        grid["columns"][number] = columns
        grid["floor"][number] = floor_h
        grid["ground"][number] = prim.pivot[1] + prim.lo[1] + ground_floor
        grid["half_w"][number] = width_frac * 0.5
        grid["half_h"][number] = height_frac * 0.5
        grid["top"][number] = prim.pivot[1] + prim.hi[1] - 0.6 * floor_h
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


def render_linear(scene: Scene, camera: Camera
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast and shade a scene: (float linear RGB, z-depth clamped, sky = max; hit map).

    The hit map holds, per pixel, the number + 1 of the primitive seen (0: sky), so
    ``scene.primitives[hit - 1].label`` says what it is.
    """
    rays = Rays(camera)
    zbuf, index, faces = cast(scene, camera, rays)
    points = hit_points(camera, rays, zbuf)
    normals = surface_normals(scene, points, rays, index, faces)
    lit = shadow_mask_coarse(scene, camera, points, index, normals)
    ao = contact_occlusion(scene, camera, points)
    image = shade(scene, camera, rays, zbuf, index, normals, lit, ao)
    depth = np.minimum(zbuf, F32(scene.max_depth))
    depth[index == 0] = scene.max_depth
    return image, depth, index


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Linear [0, 1] float RGB -> uint8 (values above 1 clip, as an overexposed camera)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def render(scene: Scene, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast a scene: (uint8 RGB, float32 z-depth clamped to max_depth with sky = max, sky)."""
    image, depth, hit = render_linear(scene, camera)
    return to_uint8(image), depth, hit == 0
