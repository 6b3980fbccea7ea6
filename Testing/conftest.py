"""Shared fixtures: small images with oblique directions and anisotropic spacing; the CLI run in-process."""

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib import cli


def rotation_matrix(rx_deg: float, ry_deg: float, rz_deg: float) -> np.ndarray:
    rx, ry, rz = np.deg2rad([rx_deg, ry_deg, rz_deg])
    x = np.array([[1, 0, 0], [0, np.cos(rx), -np.sin(rx)], [0, np.sin(rx), np.cos(rx)]])
    y = np.array([[np.cos(ry), 0, np.sin(ry)], [0, 1, 0], [-np.sin(ry), 0, np.cos(ry)]])
    z = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
    return z @ y @ x


# Chakrabarty 2021's internal test set: 361 scans, 337 on the diagonal (rows: truth, columns:
# prediction, classes in tumour_type.CLASSES order); the split over classes is made up.
# Chakrabarty 2021's internal test: 337 of 361 correct. The paper gives per-class ranges only
# (sensitivity 91-100%, PPV 85-100%, NPV 98-100%), not the matrix; this one is made up to meet
# them (every class inside every range), rows truth, columns prediction.
CHAKRABARTY_CONFUSION = np.array([
    [65, 2, 2, 0, 0, 0, 1],
    [2, 37, 0, 0, 0, 0, 1],
    [2, 1, 55, 2, 0, 0, 0],
    [0, 0, 2, 57, 1, 0, 0],
    [0, 0, 1, 2, 42, 0, 1],
    [0, 0, 0, 2, 1, 35, 0],
    [0, 1, 0, 0, 0, 0, 46],
])


def make_image(size=(20, 24, 12), spacing=(0.9, 1.1, 3.0), origin=(12.0, -30.0, 5.0),
               direction=None, seed=0, dtype=np.float32) -> sitk.Image:
    """A random volume (size in i, j, k order) with an oblique direction by default."""
    rng = np.random.default_rng(seed)
    array = rng.normal(100, 20, size=size[::-1]).astype(dtype)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is None:
        direction = rotation_matrix(8, -5, 12)
    image.SetDirection(tuple(np.asarray(direction, dtype=float).ravel()))
    return image


@pytest.fixture
def oblique_image() -> sitk.Image:
    return make_image()


def main_in_process(argv, capfd) -> tuple[int, str, str]:
    """`cli.main(argv)`: exit status, stdout and stderr (argparse's usage errors exit by SystemExit)."""
    capfd.readouterr()
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as stop:
        status = stop.code
    captured = capfd.readouterr()
    return status, captured.out, captured.err
