"""Loaders for public RGB-D datasets in their on-disk formats; each returns RGBDSample.

No augmentation happens here (training does that). Missing or unreadable files raise
``FileNotFoundError`` / ``ValueError`` naming the file. Depth is metres, 0 = unknown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..geometry import Intrinsics
from .sample import RGBDSample

# Virtual KITTI 1.3.1: one camera for all sequences, images 1242 x 375 (vKITTI web page).
VKITTI1_INTRINSICS = (725.0087, 725.0087, 620.5, 187.0)
VKITTI1_SIZE = (375, 1242)
VKITTI_SKY_CM = 65535  # depth value of the sky in vKITTI 1 and 2
OUTDOOR_MAX_DEPTH = 80.0
# NYU Depth v2 colour camera (toolbox camera_params.m), images 640 x 480.
NYU_INTRINSICS = (518.8579, 519.4696, 325.5824, 253.7362)
NYU_SIZE = (480, 640)
SUNCG_MAX_DEPTH = 8.0  # T2Net/S2R 8-bit SUNCG depth: 255 = 8 m


def read_rgb_file(path: Path) -> np.ndarray:
    """An image file as H x W x 3 uint8 RGB."""
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc


def read_depth_png(path: Path) -> np.ndarray:
    """A single-channel depth image with its stored integer values (8 or 16 bit)."""
    if not path.is_file():
        raise FileNotFoundError(f"depth image not found: {path}")
    raw = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_GRAYSCALE)
    if raw is None:
        raise ValueError(f"cannot read depth image {path}")
    if raw.ndim != 2:
        raise ValueError(f"depth image {path} must have one channel, got shape {raw.shape}")
    return raw


def scaled_intrinsics(intrinsics: Sequence[float], native_size: tuple[int, int],
                      shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """Intrinsics of a camera with ``native_size`` (H, W), for an image resized to ``shape``.

    The one scaling rule of the package (:meth:`Intrinsics.scaled`, image_proc's).
    """
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    camera = Intrinsics(fx, fy, cx, cy, native_size[1], native_size[0])
    resized = camera.scaled(shape[1], shape[0])
    return resized.fx, resized.fy, resized.cx, resized.cy


def _check_pair(rgb: np.ndarray, depth: np.ndarray, rgb_path: Path, depth_path: Path) -> None:
    if rgb.shape[:2] != depth.shape:
        raise ValueError(f"image {rgb_path} is {rgb.shape[1]}x{rgb.shape[0]} but depth "
                         f"{depth_path} is {depth.shape[1]}x{depth.shape[0]}")


def _list_lines(list_file: Path) -> list[str]:
    if not list_file.is_file():
        raise FileNotFoundError(f"list file not found: {list_file}")
    lines = [line.strip() for line in list_file.read_text().splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        raise ValueError(f"list file {list_file} has no entries")
    return lines


def _resolve_list(root: Path, list_file: str | Path) -> Path:
    path = Path(list_file)
    return path if path.is_absolute() or path.is_file() else root / path


class VKitti1Dataset(Dataset):
    """Virtual KITTI 1.3.1 through a reference list file (``rgb/<s>/<v>/<f>.png depth/...``).

    Paths beginning with ``rgb/`` or ``depth/`` are looked up under ``root`` first and
    otherwise in the folders of the official tarballs, ``vkitti_1.3.1_rgb/`` and
    ``vkitti_1.3.1_depthgt/``. Depth PNG is 16-bit centimetres; the sky (65535) becomes
    ``sky_depth`` (default 80 m, or ``max_depth`` of ``root/intrinsics.json``); nothing else is
    clamped. Intrinsics come from ``root/intrinsics.json`` when present (written by
    ``s2r-depth synth``), else the vKITTI camera scaled to the image.
    """

    FOLDERS = {"rgb": "vkitti_1.3.1_rgb", "depth": "vkitti_1.3.1_depthgt"}

    def __init__(self, root: str | Path, list_file: str | Path = "train.txt",
                 sky_depth: float | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"vKITTI root not found: {self.root}")
        list_path = _resolve_list(self.root, list_file)
        self.pairs = []
        for number, line in enumerate(_list_lines(list_path), start=1):
            fields = line.split()
            if len(fields) != 2:
                raise ValueError(f"{list_path}:{number}: expected 'rgb_path depth_path', "
                                 f"got {line!r}")
            self.pairs.append((fields[0], fields[1]))
        self.frame_intrinsics: dict[str, list[float]] = {}
        info_path = self.root / "intrinsics.json"
        info = {}
        if info_path.is_file():
            try:
                info = json.loads(info_path.read_text())
                self.frame_intrinsics = dict(info["frames"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"cannot read {info_path}: {exc}") from exc
        if sky_depth is None:
            sky_depth = info.get("max_depth", OUTDOOR_MAX_DEPTH)
        self.sky_depth = float(sky_depth)

    def __len__(self) -> int:
        return len(self.pairs)

    def resolve(self, relative: str) -> Path:
        """The file a list-file path names."""
        direct = self.root / relative
        head, _, rest = relative.partition("/")
        if direct.exists() or head not in self.FOLDERS:
            return direct
        return self.root / self.FOLDERS[head] / rest

    def __getitem__(self, index: int) -> RGBDSample:
        rgb_rel, depth_rel = self.pairs[index]
        rgb_path, depth_path = self.resolve(rgb_rel), self.resolve(depth_rel)
        rgb = read_rgb_file(rgb_path)
        raw = read_depth_png(depth_path)
        _check_pair(rgb, raw, rgb_path, depth_path)
        depth = raw.astype(np.float32) * np.float32(0.01)
        depth[raw == VKITTI_SKY_CM] = self.sky_depth
        key = rgb_rel.partition("/")[2].rsplit(".", 1)[0]
        if key in self.frame_intrinsics:
            fx, fy, cx, cy = (float(v) for v in self.frame_intrinsics[key])
        else:
            fx, fy, cx, cy = scaled_intrinsics(VKITTI1_INTRINSICS, VKITTI1_SIZE, rgb.shape)
        return RGBDSample(rgb, depth, fx, fy, cx, cy, name=rgb_rel)


class VKitti2Dataset(Dataset):
    """Virtual KITTI 2: ``<Scene>/<variation>/frames/rgb/Camera_<c>/rgb_<f>.jpg``.

    Depth is ``frames/depth/Camera_<c>/depth_<f>.png`` (16-bit centimetres, sky 65535 ->
    ``sky_depth``); intrinsics per frame and camera from ``<Scene>/<variation>/intrinsic.txt``.
    ``root`` may be the dataset root or any folder inside it holding such frames.
    """

    def __init__(self, root: str | Path, cameras: Sequence[int] = (0, 1),
                 sky_depth: float = OUTDOOR_MAX_DEPTH) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"vKITTI 2 root not found: {self.root}")
        pattern = re.compile(r"rgb_(\d+)\.jpg$")
        self.frames = []
        for path in sorted(self.root.rglob("rgb_*.jpg")):
            match = pattern.search(path.name)
            camera = path.parent.name
            if not match or not camera.startswith("Camera_") or path.parents[2].name != "frames":
                continue
            cam_id = int(camera.split("_", 1)[1])
            if cam_id in cameras:
                self.frames.append((path, int(match.group(1)), cam_id))
        if not self.frames:
            raise ValueError(f"no vKITTI 2 frames (frames/rgb/Camera_*/rgb_*.jpg) under "
                             f"{self.root}")
        self.sky_depth = float(sky_depth)
        self._intrinsics: dict[Path, dict[tuple[int, int], tuple[float, ...]]] = {}

    def __len__(self) -> int:
        return len(self.frames)

    def intrinsics_of(self, sequence: Path, frame: int, camera: int) -> tuple[float, ...]:
        """(fx, fy, cx, cy) of one frame from ``sequence/intrinsic.txt``."""
        if sequence not in self._intrinsics:
            path = sequence / "intrinsic.txt"
            if not path.is_file():
                raise FileNotFoundError(f"intrinsics file not found: {path}")
            table = {}
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                fields = line.split()
                if not fields or not fields[0].lstrip("-").isdigit():
                    continue  # the header line
                try:
                    values = [float(v) for v in fields]
                except ValueError as exc:
                    raise ValueError(f"{path}:{number}: bad line {line!r}") from exc
                if len(values) != 6:
                    raise ValueError(f"{path}:{number}: expected 'frame cameraID fx fy cx cy'")
                table[(int(values[0]), int(values[1]))] = tuple(values[2:])
            self._intrinsics[sequence] = table
        try:
            return self._intrinsics[sequence][(frame, camera)]
        except KeyError:
            raise ValueError(f"{sequence / 'intrinsic.txt'} has no entry for frame {frame} "
                             f"camera {camera}") from None

    def __getitem__(self, index: int) -> RGBDSample:
        rgb_path, frame, camera = self.frames[index]
        frames_dir = rgb_path.parents[2]
        depth_path = (frames_dir / "depth" / rgb_path.parent.name /
                      f"depth_{rgb_path.stem.split('_', 1)[1]}.png")
        rgb = read_rgb_file(rgb_path)
        raw = read_depth_png(depth_path)
        _check_pair(rgb, raw, rgb_path, depth_path)
        depth = raw.astype(np.float32) * np.float32(0.01)
        depth[raw == VKITTI_SKY_CM] = self.sky_depth
        fx, fy, cx, cy = self.intrinsics_of(frames_dir.parent, frame, camera)
        return RGBDSample(rgb, depth, fx, fy, cx, cy,
                          name=str(rgb_path.relative_to(self.root)))


class SuncgT2NetDataset(Dataset):
    """SUNCG renderings in the T2Net layout used by S2R: list lines ``rgb,depth``.

    Images are under ``root/trainA_SYN10/trainA_SYN10/``, depth under
    ``root/trainC_SYN10/trainC_SYN10/``: 8-bit, 255 = 8 m (so metres = raw / 255 * 8).
    The renderings' camera is not published with them; ``intrinsics`` (default: NYU's, which
    the SUNCG renderings imitate; an assumption) is scaled to each image.
    """

    def __init__(self, root: str | Path, list_file: str | Path,
                 intrinsics: Sequence[float] = NYU_INTRINSICS,
                 intrinsics_size: tuple[int, int] = NYU_SIZE) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"SUNCG root not found: {self.root}")
        list_path = _resolve_list(self.root, list_file)
        self.pairs = []
        for number, line in enumerate(_list_lines(list_path), start=1):
            fields = [f.strip() for f in line.split(",")]
            if len(fields) != 2 or not all(fields):
                raise ValueError(f"{list_path}:{number}: expected 'rgb,depth', got {line!r}")
            self.pairs.append((fields[0], fields[1]))
        self.intrinsics, self.intrinsics_size = tuple(intrinsics), intrinsics_size

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> RGBDSample:
        rgb_name, depth_name = self.pairs[index]
        rgb_path = self.root / "trainA_SYN10" / "trainA_SYN10" / rgb_name
        depth_path = self.root / "trainC_SYN10" / "trainC_SYN10" / depth_name
        rgb = read_rgb_file(rgb_path)
        raw = read_depth_png(depth_path)
        if raw.dtype != np.uint8:
            raise ValueError(f"SUNCG depth {depth_path} must be 8-bit, got {raw.dtype}")
        _check_pair(rgb, raw, rgb_path, depth_path)
        depth = raw.astype(np.float32) * np.float32(SUNCG_MAX_DEPTH / 255.0)
        fx, fy, cx, cy = scaled_intrinsics(self.intrinsics, self.intrinsics_size, rgb.shape)
        return RGBDSample(rgb, depth, fx, fy, cx, cy, name=rgb_name)


def read_calib_file(path: Path) -> dict[str, np.ndarray]:
    """A KITTI calibration file (``key: numbers`` lines; non-numeric values are skipped)."""
    if not path.is_file():
        raise FileNotFoundError(f"calibration file not found: {path}")
    values = {}
    for line in path.read_text().splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()], np.float64)
        except ValueError:
            continue  # e.g. calib_time
    return values


def _calib_matrix(calib: dict[str, np.ndarray], key: str, shape: tuple[int, int],
                  path: Path) -> np.ndarray:
    if key not in calib or calib[key].size != shape[0] * shape[1]:
        raise ValueError(f"{path}: missing or malformed {key} (need {shape[0] * shape[1]} "
                         f"numbers)")
    return calib[key].reshape(shape)


def velodyne_to_image(calib_dir: Path, camera: int = 2) -> np.ndarray:
    """The 3 x 4 matrix mapping homogeneous Velodyne points to rectified camera pixels.

    From the KITTI raw calibration definitions: P_rect_0c @ R_rect_00 @ [R | T]_velo->cam,
    with R_rect_00 extended to 4 x 4. The third output row is the point's depth in camera c.
    """
    cam_path = calib_dir / "calib_cam_to_cam.txt"
    velo_path = calib_dir / "calib_velo_to_cam.txt"
    cam, velo = read_calib_file(cam_path), read_calib_file(velo_path)
    velo_to_cam = np.eye(4)
    velo_to_cam[:3, :3] = _calib_matrix(velo, "R", (3, 3), velo_path)
    velo_to_cam[:3, 3] = _calib_matrix(velo, "T", (3, 1), velo_path)[:, 0]
    rectify = np.eye(4)
    rectify[:3, :3] = _calib_matrix(cam, "R_rect_00", (3, 3), cam_path)
    projection = _calib_matrix(cam, f"P_rect_{camera:02d}", (3, 4), cam_path)
    return projection @ rectify @ velo_to_cam


def read_velodyne(path: Path) -> np.ndarray:
    """A Velodyne scan: N x 4 float32 (x, y, z, reflectance)."""
    if not path.is_file():
        raise FileNotFoundError(f"velodyne scan not found: {path}")
    data = np.fromfile(path, dtype="<f4")
    if data.size % 4:
        raise ValueError(f"velodyne scan {path} has {data.size} floats, not a multiple of 4")
    return data.reshape(-1, 4)


def project_velodyne(points: np.ndarray, velo_to_image: np.ndarray, shape: tuple[int, int],
                     reference_rounding: bool = True) -> np.ndarray:
    """Sparse depth map (metres, 0 = no point) of Velodyne points in one camera.

    Points behind the camera or outside the image are dropped; where several points fall
    on one pixel the nearest is kept. ``reference_rounding`` places a point at
    ``round(u) - 1, round(v) - 1`` as the reference evaluation (from MATLAB's 1-based
    indexing) does; without it the pixel is ``round(u), round(v)``.
    """
    height, width = shape
    homogeneous = np.concatenate([points[:, :3].astype(np.float64),
                                  np.ones((len(points), 1))], axis=1)
    projected = homogeneous @ velo_to_image.T
    depth = projected[:, 2]
    front = depth > 0
    projected, depth = projected[front], depth[front]
    u = np.round(projected[:, 0] / depth)
    v = np.round(projected[:, 1] / depth)
    if reference_rounding:
        u, v = u - 1, v - 1
    inside = (u >= 0) & (v >= 0) & (u < width) & (v < height)
    u, v, depth = u[inside].astype(np.int64), v[inside].astype(np.int64), depth[inside]
    nearest = np.full(height * width, np.inf)
    np.minimum.at(nearest, v * width + u, depth)
    nearest[~np.isfinite(nearest)] = 0.0
    return nearest.reshape(height, width).astype(np.float32)


class KittiEigenDataset(Dataset):
    """KITTI raw frames of an Eigen-split list with ground truth from the raw Velodyne scan.

    List lines: ``left_image right_image calib_date_dir velodyne_bin`` (paths relative to
    ``root``). The GT is the scan projected into camera 2 (see :func:`project_velodyne`),
    sparse, in metres, at the image's own size; intrinsics are P_rect_02's.
    """

    def __init__(self, root: str | Path, list_file: str | Path,
                 reference_rounding: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"KITTI root not found: {self.root}")
        list_path = _resolve_list(self.root, list_file)
        self.entries = []
        for number, line in enumerate(_list_lines(list_path), start=1):
            fields = line.split()
            if len(fields) != 4:
                raise ValueError(f"{list_path}:{number}: expected 'left right calib_dir "
                                 f"velodyne', got {line!r}")
            self.entries.append(fields)
        self.reference_rounding = reference_rounding
        self._calib: dict[str, tuple] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> RGBDSample:
        left, _right, calib_dir, velodyne = self.entries[index]
        rgb = read_rgb_file(self.root / left)
        if calib_dir not in self._calib:
            cam_path = self.root / calib_dir / "calib_cam_to_cam.txt"
            projection = _calib_matrix(read_calib_file(cam_path), "P_rect_02", (3, 4), cam_path)
            self._calib[calib_dir] = (velodyne_to_image(self.root / calib_dir),
                                      (projection[0, 0], projection[1, 1], projection[0, 2],
                                       projection[1, 2]))
        matrix, (fx, fy, cx, cy) = self._calib[calib_dir]
        points = read_velodyne(self.root / velodyne)
        depth = project_velodyne(points, matrix, rgb.shape[:2], self.reference_rounding)
        return RGBDSample(rgb, depth, float(fx), float(fy), float(cx), float(cy), name=left)


class NyuCsvDataset(Dataset):
    """NYU Depth v2 through a CSV list (``image,depth`` per line, no header).

    Depth is a 16-bit PNG in millimetres. Paths are relative to ``root`` (default: the CSV's
    folder). Intrinsics: the NYU colour camera, scaled to the image size.
    """

    def __init__(self, csv_file: str | Path, root: str | Path | None = None) -> None:
        csv_path = Path(csv_file)
        self.root = Path(root) if root is not None else csv_path.parent
        self.pairs = []
        for number, line in enumerate(_list_lines(csv_path), start=1):
            fields = [f.strip() for f in line.split(",")]
            if len(fields) != 2 or not all(fields):
                raise ValueError(f"{csv_path}:{number}: expected 'image,depth', got {line!r}")
            self.pairs.append((fields[0], fields[1]))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> RGBDSample:
        rgb_rel, depth_rel = self.pairs[index]
        rgb_path, depth_path = self.root / rgb_rel, self.root / depth_rel
        rgb = read_rgb_file(rgb_path)
        raw = read_depth_png(depth_path)
        if raw.dtype != np.uint16:
            raise ValueError(f"NYU depth {depth_path} must be 16-bit millimetres, got {raw.dtype}")
        _check_pair(rgb, raw, rgb_path, depth_path)
        depth = raw.astype(np.float32) * np.float32(0.001)
        fx, fy, cx, cy = scaled_intrinsics(NYU_INTRINSICS, NYU_SIZE, rgb.shape)
        return RGBDSample(rgb, depth, fx, fy, cx, cy, name=rgb_rel)


class FolderDataset(Dataset):
    """Pairs of an RGB folder and a depth folder, matched by file stem.

    Depth files are PNG/TIFF (read unchanged) or ``.npy``; metres = raw * ``depth_scale``.
    ``intrinsics`` is (fx, fy, cx, cy) of the images as stored.
    """

    RGB_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp"}
    DEPTH_SUFFIXES = (".png", ".tif", ".tiff", ".pgm", ".npy")

    def __init__(self, rgb_dir: str | Path, depth_dir: str | Path, depth_scale: float,
                 intrinsics: Sequence[float]) -> None:
        self.rgb_dir, self.depth_dir = Path(rgb_dir), Path(depth_dir)
        for folder in (self.rgb_dir, self.depth_dir):
            if not folder.is_dir():
                raise FileNotFoundError(f"folder not found: {folder}")
        if not depth_scale > 0:
            raise ValueError(f"depth_scale must be > 0, got {depth_scale}")
        if len(intrinsics) != 4:
            raise ValueError("intrinsics must be (fx, fy, cx, cy)")
        self.depth_scale = float(depth_scale)
        self.intrinsics = tuple(float(v) for v in intrinsics)
        depth_by_stem = {p.stem: p for p in sorted(self.depth_dir.iterdir())
                         if p.suffix.lower() in self.DEPTH_SUFFIXES}
        self.pairs = []
        for rgb_path in sorted(self.rgb_dir.iterdir()):
            if rgb_path.suffix.lower() not in self.RGB_SUFFIXES:
                continue
            if rgb_path.stem not in depth_by_stem:
                raise FileNotFoundError(f"no depth file for {rgb_path.name} in {self.depth_dir}")
            self.pairs.append((rgb_path, depth_by_stem[rgb_path.stem]))
        if not self.pairs:
            raise ValueError(f"no images in {self.rgb_dir}")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> RGBDSample:
        rgb_path, depth_path = self.pairs[index]
        rgb = read_rgb_file(rgb_path)
        if depth_path.suffix.lower() == ".npy":
            try:
                raw = np.load(depth_path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read depth {depth_path}: {exc}") from exc
            if raw.ndim != 2:
                raise ValueError(f"depth {depth_path} must be 2-D, got shape {raw.shape}")
        else:
            raw = read_depth_png(depth_path)
        _check_pair(rgb, raw, rgb_path, depth_path)
        depth = raw.astype(np.float32) * np.float32(self.depth_scale)
        depth[~np.isfinite(depth)] = 0.0
        fx, fy, cx, cy = self.intrinsics
        return RGBDSample(rgb, depth, fx, fy, cx, cy, name=rgb_path.name)
