"""Dataset loaders against tiny fixtures written in each dataset's exact on-disk format."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from s2r_depth_ros.data.datasets import (
    FolderDataset,
    KittiEigenDataset,
    NyuCsvDataset,
    SuncgT2NetDataset,
    VKitti1Dataset,
    VKitti2Dataset,
    project_velodyne,
    velodyne_to_image,
)
from s2r_depth_ros.data.sample import RGBDSample


def write_rgb(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def write_depth(path, raw):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), raw)


def test_vkitti1_reads_reference_list_with_tarball_folders(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (375, 1242, 3), dtype=np.uint8)
    raw = np.full((375, 1242), 1234, np.uint16)
    raw[:10] = 65535  # sky
    raw[100, 200] = 9000  # 90 m: beyond the 80 m cap, kept as is
    raw[101, 200] = 0
    write_rgb(tmp_path / "vkitti_1.3.1_rgb/0001/clone/00000.png", rgb)
    write_depth(tmp_path / "vkitti_1.3.1_depthgt/0001/clone/00000.png", raw)
    (tmp_path / "train.txt").write_text(
        "rgb/0001/clone/00000.png depth/0001/clone/00000.png\n")
    dataset = VKitti1Dataset(tmp_path, "train.txt")
    assert len(dataset) == 1
    sample = dataset[0]
    assert isinstance(sample, RGBDSample)
    assert np.array_equal(sample.rgb, rgb)
    assert sample.depth.dtype == np.float32
    assert np.allclose(sample.depth[:10], 80.0)
    assert sample.depth[200, 5] == pytest.approx(12.34)
    assert sample.depth[100, 200] == pytest.approx(90.0)
    assert sample.depth[101, 200] == 0.0
    assert (sample.fx, sample.fy, sample.cx, sample.cy) == pytest.approx(
        (725.0087, 725.0087, 620.5, 187.0))


def test_vkitti1_missing_and_corrupt_files(tmp_path):
    (tmp_path / "list.txt").write_text("rgb/a/b/00000.png depth/a/b/00000.png\n")
    with pytest.raises(FileNotFoundError, match="00000.png"):
        VKitti1Dataset(tmp_path, "list.txt")[0]
    (tmp_path / "vkitti_1.3.1_rgb/a/b").mkdir(parents=True)
    (tmp_path / "vkitti_1.3.1_rgb/a/b/00000.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read image"):
        VKitti1Dataset(tmp_path, "list.txt")[0]
    (tmp_path / "bad.txt").write_text("only-one-column.png\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        VKitti1Dataset(tmp_path, "bad.txt")


def test_vkitti2_layout_and_intrinsics(tmp_path):
    sequence = tmp_path / "Scene01" / "clone"
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[:, :, 1] = 200
    for frame in (0, 1):
        for camera in (0, 1):
            frames = sequence / "frames"
            write_rgb(frames / f"rgb/Camera_{camera}/rgb_{frame:05d}.jpg", rgb)
            raw = np.full((20, 30), 500 + 100 * frame + camera, np.uint16)
            raw[0, 0] = 65535
            write_depth(frames / f"depth/Camera_{camera}/depth_{frame:05d}.png", raw)
    (sequence / "intrinsic.txt").write_text(
        "frame cameraID K[0,0] K[1,1] K[0,2] K[1,2]\n"
        "0 0 725.0087 725.0087 620.5 187\n0 1 725.0087 725.0087 620.5 187\n"
        "1 0 700.0 701.0 15.0 10.0\n1 1 725.0087 725.0087 620.5 187\n")
    dataset = VKitti2Dataset(tmp_path)
    assert len(dataset) == 4
    names = [dataset[i].name for i in range(4)]
    index = names.index("Scene01/clone/frames/rgb/Camera_0/rgb_00001.jpg")
    sample = dataset[index]
    assert sample.depth[5, 5] == pytest.approx(6.0)
    assert sample.depth[0, 0] == pytest.approx(80.0)
    assert (sample.fx, sample.fy, sample.cx, sample.cy) == (700.0, 701.0, 15.0, 10.0)
    assert abs(int(sample.rgb[5, 5, 1]) - 200) < 8  # JPEG
    assert len(VKitti2Dataset(tmp_path, cameras=(1,))) == 2
    (sequence / "intrinsic.txt").unlink()
    with pytest.raises(FileNotFoundError, match="intrinsic.txt"):
        VKitti2Dataset(tmp_path)[0]
    with pytest.raises(ValueError, match="no vKITTI 2 frames"):
        VKitti2Dataset(tmp_path / "Scene01" / "clone" / "frames" / "depth")


def test_suncg_t2net_layout(tmp_path):
    rgb = np.full((12, 16, 3), 90, np.uint8)
    raw = np.zeros((12, 16), np.uint8)
    raw[:, :8] = 255
    raw[:, 8:] = 51
    write_rgb(tmp_path / "trainA_SYN10/trainA_SYN10/room_0.png", rgb)
    write_depth(tmp_path / "trainC_SYN10/trainC_SYN10/room_0_d.png", raw)
    (tmp_path / "suncg.txt").write_text("room_0.png,room_0_d.png\n")
    sample = SuncgT2NetDataset(tmp_path, "suncg.txt")[0]
    assert sample.depth[0, 0] == pytest.approx(8.0)
    assert sample.depth[0, 10] == pytest.approx(1.6)
    assert sample.rgb.shape == (12, 16, 3)
    write_depth(tmp_path / "trainC_SYN10/trainC_SYN10/room_0_d.png", raw.astype(np.uint16))
    with pytest.raises(ValueError, match="8-bit"):
        SuncgT2NetDataset(tmp_path, "suncg.txt")[0]


def write_kitti_calib(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "calib_velo_to_cam.txt").write_text(
        "calib_time: 15-Mar-2012 11:37:16\n"
        "R: 0 -1 0 0 0 -1 1 0 0\n"
        "T: 0.1 -0.2 0.3\n"
        "delta_f: 0.000000e+00 0.000000e+00\n")
    (folder / "calib_cam_to_cam.txt").write_text(
        "calib_time: 09-Jan-2012 13:57:47\n"
        "corner_dist: 9.950000e-02\n"
        "R_rect_00: 1 0 0 0 1 0 0 0 1\n"
        "P_rect_00: 100 0 40 0 0 100 30 0 0 0 1 0\n"
        "S_rect_02: 80 60\n"
        "P_rect_02: 100 0 40 -5 0 100 30 0.5 0 0 1 0.005\n")


def test_kitti_eigen_projects_velodyne_into_camera_2(tmp_path):
    write_kitti_calib(tmp_path / "2011_09_26")
    left = "2011_09_26/drive_sync/image_02/data/0000000001.png"
    write_rgb(tmp_path / left, np.zeros((60, 80, 3), np.uint8))
    scan = tmp_path / "2011_09_26/drive_sync/velodyne_points/data/0000000001.bin"
    scan.parent.mkdir(parents=True)
    # Camera-2 coordinates of a Velodyne point p: R p + T; pixel = P_rect_02 [c; 1] / depth.
    # (10, 1, 0.5) -> u 30.76, v 23.24, depth 10.305; (10.4, 1.04, 0.52) lands on the same
    # pixel farther away (10.705); (20, -1, 0.2) -> u 45.16, v 28.05, depth 20.305;
    # (-5, 0, 0) is behind the camera; (3, -5, 0) projects to u = 192.7, outside the image.
    np.array([[10, 1, 0.5, 0.3], [10.4, 1.04, 0.52, 0.9], [20, -1, 0.2, 0.1],
              [-5, 0, 0, 0.5], [3, -5, 0, 0.5]], "<f4").tofile(scan)
    (tmp_path / "eigen_test.txt").write_text(
        f"{left} {left.replace('image_02', 'image_03')} 2011_09_26 "
        f"{scan.relative_to(tmp_path)}\n")
    sample = KittiEigenDataset(tmp_path, "eigen_test.txt")[0]
    assert sample.depth.shape == (60, 80)
    assert np.count_nonzero(sample.depth) == 2
    # The reference places a point at round(u) - 1, round(v) - 1 and keeps the nearest.
    assert sample.depth[22, 30] == pytest.approx(10.305, abs=1e-4)
    assert sample.depth[27, 44] == pytest.approx(20.305, abs=1e-4)
    assert (sample.fx, sample.fy, sample.cx, sample.cy) == (100.0, 100.0, 40.0, 30.0)
    plain = KittiEigenDataset(tmp_path, "eigen_test.txt", reference_rounding=False)[0]
    assert plain.depth[23, 31] == pytest.approx(10.305, abs=1e-4)
    assert plain.depth[28, 45] == pytest.approx(20.305, abs=1e-4)


def test_kitti_projection_errors(tmp_path):
    write_kitti_calib(tmp_path)
    matrix = velodyne_to_image(tmp_path)
    assert matrix.shape == (3, 4)
    empty = project_velodyne(np.zeros((0, 4), np.float32), matrix, (60, 80))
    assert empty.shape == (60, 80) and not empty.any()
    (tmp_path / "calib_velo_to_cam.txt").write_text("R: 1 0 0\nT: 0 0 0\n")
    with pytest.raises(ValueError, match="malformed R "):
        velodyne_to_image(tmp_path)
    (tmp_path / "list.txt").write_text("a.png b.png . scan.bin\n")
    write_rgb(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "scan.bin").write_bytes(b"\x00" * 10)
    write_kitti_calib(tmp_path)
    with pytest.raises(ValueError, match="multiple of 4"):
        KittiEigenDataset(tmp_path, "list.txt")[0]


def test_nyu_csv_without_header(tmp_path):
    for k in range(2):
        write_rgb(tmp_path / f"data/nyu2_test/{k:05d}_colors.png",
                  np.full((48, 64, 3), 10 * k, np.uint8))
        write_depth(tmp_path / f"data/nyu2_test/{k:05d}_depth.png",
                    np.full((48, 64), 1500 + k, np.uint16))
    csv = tmp_path / "nyu2_test.csv"
    csv.write_text("data/nyu2_test/00000_colors.png,data/nyu2_test/00000_depth.png\n"
                   "data/nyu2_test/00001_colors.png,data/nyu2_test/00001_depth.png\n")
    dataset = NyuCsvDataset(csv, tmp_path)
    assert len(dataset) == 2
    sample = dataset[1]
    assert sample.depth[0, 0] == pytest.approx(1.501)
    assert sample.rgb[0, 0, 0] == 10
    assert sample.fx == pytest.approx(51.88579)  # NYU camera scaled from 640 to 64 pixels
    assert len(NyuCsvDataset(csv)) == 2  # root defaults to the CSV's folder
    write_depth(tmp_path / "data/nyu2_test/00000_depth.png", np.ones((48, 64), np.uint8))
    with pytest.raises(ValueError, match="16-bit"):
        dataset[0]


def test_folder_dataset(tmp_path):
    rgb_dir, depth_dir = tmp_path / "rgb", tmp_path / "depth"
    write_rgb(rgb_dir / "a.png", np.full((8, 10, 3), 7, np.uint8))
    write_depth(depth_dir / "a.png", np.full((8, 10), 2500, np.uint16))
    write_rgb(rgb_dir / "b.jpg", np.full((8, 10, 3), 7, np.uint8))
    np.save(depth_dir / "b.npy", np.full((8, 10), 3.0, np.float32))
    dataset = FolderDataset(rgb_dir, depth_dir, 0.001, (5.0, 5.0, 4.5, 3.5))
    assert [dataset[i].name for i in range(2)] == ["a.png", "b.jpg"]
    assert dataset[0].depth[0, 0] == pytest.approx(2.5)
    assert dataset[1].depth[0, 0] == pytest.approx(0.003)
    assert (dataset[0].fx, dataset[0].cy) == (5.0, 3.5)
    write_depth(depth_dir / "a.png", np.full((9, 10), 1, np.uint16))
    with pytest.raises(ValueError, match="10x8"):
        dataset[0]
    write_rgb(rgb_dir / "c.png", np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="c.png"):
        FolderDataset(rgb_dir, depth_dir, 0.001, (5.0, 5.0, 4.5, 3.5))
